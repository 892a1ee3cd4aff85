//! Holding a request open until something changes: the wait shared by Ping and Sync-with-Wait, the
//! counter of held requests, and the check "does this device have something to fetch in these
//! collections", which runs the Sync engine dry so Ping and Sync can never disagree.

use super::hub::{Subscription, Wake};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::Account;
use crate::eas::ids::CollectionId;
use crate::eas::limits::DeviceLimits;
use crate::eas::sync::{CollectionRequest, engine};
use crate::state::sync::DeviceRef;
use smol::Timer;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Counts a held request in `Stats::held_pings` for as long as it lives.
pub struct Held<'a>(&'a App);

impl<'a> Held<'a> {
    pub fn new(app: &'a App) -> Held<'a> {
        app.stats.held_pings.fetch_add(1, Ordering::Relaxed);
        Held(app)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.stats.held_pings.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// Something may have changed in this collection (`None`: anywhere): check again.
    Changed(Option<u32>),
    /// The same device sent another request.
    Superseded,
    /// The heartbeat ran out.
    Expired,
}

/// Waits for the next wake-up or the deadline; costs no timer wheel entries beyond the one.
pub async fn wait(sub: &Subscription, deadline: Instant) -> Waited {
    smol::future::or(
        async {
            match sub.next().await {
                Wake::Changed(c) => Waited::Changed(c),
                Wake::Superseded => Waited::Superseded,
            }
        },
        async {
            Timer::at(deadline).await;
            Waited::Expired
        },
    )
    .await
}

/// The collections among `ids` in which the device has something to fetch: the Sync engine, run
/// without committing, would send a command or MoreAvailable. Collections the device never synced,
/// or that no longer exist, are not reported. Blocking: call through `smol::unblock`.
pub fn pending(
    app: &App,
    dev: DeviceRef<'_>,
    version: ProtocolVersion,
    ids: &[u32],
) -> Result<Vec<u32>, String> {
    let account = Account::open(app, dev.user).map_err(|e| e.to_string())?;
    let limits = DeviceLimits::load(app, dev.user, dev.device).map_err(|e| e.to_string())?;
    let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
    let ctx = engine::Context {
        app,
        account: &account,
        folders: &folders,
        dev,
        version,
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        limits: &limits,
    };
    let mut changed = Vec::new();
    for &id in ids {
        if !folders.iter().any(|f| f.id == id) {
            continue;
        }
        let has_state = app
            .sync_states
            .collection(dev, id)
            .map_err(|e| e.to_string())?
            .is_some();
        if !has_state {
            continue;
        }
        let mut req = CollectionRequest::new(
            CollectionId::from_number(id),
            crate::eas::ids::SyncKey::Initial,
        );
        // No key: "the device is at the key the server last issued", exactly what a Ping means.
        req.sync_key = None;
        req.get_changes = Some(true);
        let prepared = engine::run(&ctx, &req, 1);
        if prepared
            .response
            .is_some_and(|r| !r.commands.is_empty() || r.more_available)
        {
            changed.push(id);
        }
    }
    Ok(changed)
}
