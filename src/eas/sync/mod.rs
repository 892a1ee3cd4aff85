//! Sync (MS-ASCMD 2.2.1.21): typed request and response, the per-collection engine, and the
//! handler that ties them to the device's state: empty and partial requests reuse the cached
//! last request (12.1+), all collection states commit in one transaction before the response
//! leaves, and a request with nothing to say in any collection gets an empty 200 (12.1+).

mod apply;
mod collect;
pub use collect::echoed;
pub mod engine;
pub mod request;
pub mod response;

pub use request::{ClientCommand, CollectionRequest, SyncRequest};
pub use response::{ClientResponse, CollectionResponse, ServerCommand, SyncResponse, SyncStatus};

use super::{Reply, Request};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::Account;
use crate::eas::limits::DeviceLimits;
use crate::push::hold::{self, Held, Waited};
use crate::push::hub::Watch;
use crate::state::sync::{Batch, DeviceRef};
use crate::wbxml;
use crate::wbxml::tags::airsync;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Items per collection when the client names no WindowSize, and the most it may ask for.
pub const DEFAULT_WINDOW: u32 = 100;
pub const MAX_WINDOW: u32 = 512;

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match &req.tree {
        None => Ok(SyncRequest::default()),
        Some(t) => SyncRequest::parse(t),
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => {
            log::info!("{} [{}] Sync: {e}", req.query.device_id, req.user);
            return Reply::Wbxml(SyncResponse::failed(SyncStatus::ProtocolError).encode());
        }
    };
    let hold = match hold_secs(&app, &req, &parsed).await {
        Ok(h) => h,
        Err(reply) => return reply,
    };
    let Some(hold) = hold else {
        return run_locked(&app, &req, parsed).await;
    };
    // Sync with Wait/HeartbeatInterval (12.1+): answer at once if there is something to say,
    // otherwise hold like a Ping and run again when a collection of this user changes.
    let sub = app
        .hub
        .subscribe(&req.user, &req.query.device_id, Watch::Everything, None);
    let _held = Held::new(&app);
    let deadline = Instant::now() + Duration::from_secs(hold.into());
    loop {
        let reply = run_locked(&app, &req, parsed.clone()).await;
        if !matches!(reply, Reply::Empty) {
            return reply;
        }
        match hold::wait(&sub, deadline).await {
            Waited::Changed(_) | Waited::Checked => {}
            Waited::Superseded | Waited::Expired => return Reply::Empty,
        }
    }
}

async fn run_locked(app: &Arc<App>, req: &Arc<Request>, parsed: SyncRequest) -> Reply {
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let (a, r) = (app.clone(), req.clone());
    crate::work::unblock(move || run(&a, &r, parsed)).await
}

/// How long to hold the request, in seconds: from Wait (minutes) or HeartbeatInterval (seconds), of
/// this request or, for an empty one, of the cached request. Out of the configured bounds: Status
/// 14 with the Limit the client should use, in the unit it asked in.
async fn hold_secs(
    app: &Arc<App>,
    req: &Arc<Request>,
    parsed: &SyncRequest,
) -> Result<Option<u32>, Reply> {
    let (mut wait, mut heartbeat) = (parsed.wait, parsed.heartbeat_interval);
    if wait.is_none() && heartbeat.is_none() && (parsed.collections.is_empty() || parsed.partial) {
        let (a, r) = (app.clone(), req.clone());
        let cached = crate::work::unblock(move || {
            let dev = DeviceRef {
                user: &r.user,
                device: &r.query.device_id,
            };
            a.sync_states
                .last_request(dev)
                .ok()
                .flatten()
                .and_then(|b| wbxml::decode(&b).ok())
                .and_then(|t| SyncRequest::parse(&t).ok())
        })
        .await;
        if let Some(c) = cached {
            (wait, heartbeat) = (c.wait, c.heartbeat_interval);
        }
    }
    let push = &app.config.push;
    let (min, max) = (
        *push.min_heartbeat_secs.get_ref(),
        *push.max_heartbeat_secs.get_ref(),
    );
    let limit = |value: u32, unit: u32| {
        let mut el = SyncResponse::failed(SyncStatus::InvalidWaitOrHeartbeat).encode();
        let bound = if value.saturating_mul(unit) < min {
            min.div_ceil(unit)
        } else {
            max / unit
        };
        el.push_text(airsync::LIMIT, bound.to_string());
        Reply::Wbxml(el)
    };
    match (heartbeat, wait) {
        (Some(h), _) if h < min || h > max => Err(limit(h, 1)),
        (Some(h), _) => Ok(Some(h)),
        (None, Some(w)) if w.saturating_mul(60) < min || w.saturating_mul(60) > max => {
            Err(limit(w, 60))
        }
        (None, Some(w)) => Ok(Some(w * 60)),
        (None, None) => Ok(None),
    }
}

/// Fills an empty or partial request from the cached one.
fn complete(app: &App, dev: DeviceRef<'_>, mut request: SyncRequest) -> Option<SyncRequest> {
    if !request.collections.is_empty() && !request.partial {
        return Some(request);
    }
    let cached = app
        .sync_states
        .last_request(dev)
        .ok()
        .flatten()
        .and_then(|b| wbxml::decode(&b).ok())
        .and_then(|t| SyncRequest::parse(&t).ok());
    let Some(cached) = cached else {
        return (!request.collections.is_empty()).then_some(request);
    };
    for c in cached.collections {
        if !request
            .collections
            .iter()
            .any(|r| r.collection_id == c.collection_id)
        {
            request.collections.push(c);
        }
    }
    request.wait = request.wait.or(cached.wait);
    request.heartbeat_interval = request.heartbeat_interval.or(cached.heartbeat_interval);
    request.window_size = request.window_size.or(cached.window_size);
    Some(request)
}

fn run(app: &App, req: &Request, parsed: SyncRequest) -> Reply {
    let dev = DeviceRef {
        user: &req.user,
        device: &req.query.device_id,
    };
    let Some(request) = complete(app, dev, parsed) else {
        return Reply::Wbxml(SyncResponse::failed(SyncStatus::RequestIncomplete).encode());
    };
    let server_error = |e: &dyn std::fmt::Display| {
        log::error!("{} [{}] Sync: {e}", dev.device, dev.user);
        Reply::Wbxml(SyncResponse::failed(SyncStatus::ServerError).encode())
    };
    let account = match Account::open(app, dev.user) {
        Ok(a) => a,
        Err(e) => return server_error(&e),
    };
    let limits = match DeviceLimits::load(app, dev.user, dev.device) {
        Ok(l) => l,
        Err(e) => return server_error(&e),
    };
    let folders = match account.folders() {
        Ok(f) => limits.visible(f),
        Err(e) => return server_error(&e),
    };
    let ctx = engine::Context {
        app,
        account: &account,
        folders: &folders,
        dev,
        version: req.version,
        now: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        limits: &limits,
    };
    let mut left = request
        .window_size
        .unwrap_or(MAX_WINDOW * 4)
        .clamp(1, MAX_WINDOW * 4) as usize;
    let mut prepared = Vec::with_capacity(request.collections.len());
    for c in &request.collections {
        let window =
            (c.window_size.unwrap_or(DEFAULT_WINDOW).clamp(1, MAX_WINDOW) as usize).min(left);
        let p = engine::run(&ctx, c, window);
        if let Some(r) = &p.response {
            left = left.saturating_sub(r.commands.len()).max(1);
        }
        prepared.push(p);
    }
    let cache = wbxml::encode(&request.to_cache().encode());
    let cached_same = app
        .sync_states
        .last_request(dev)
        .ok()
        .flatten()
        .is_some_and(|c| c == cache);
    let batch = Batch {
        collections: prepared
            .iter()
            .filter_map(|p| p.write.as_ref())
            .map(|w| (w.coll, &w.state, w.held.as_ref()))
            .collect(),
        request: (!cached_same).then_some(cache.as_slice()),
    };
    if let Err(e) = app.sync_states.commit(dev, &batch) {
        return server_error(&e);
    }
    let mut changed: Vec<u32> = prepared
        .iter()
        .flat_map(|p| p.changed.iter().copied())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    for id in changed {
        app.hub.notify(dev.user, Some(id));
    }
    let collections: Vec<CollectionResponse> =
        prepared.into_iter().filter_map(|p| p.response).collect();
    if collections.is_empty() && req.version >= ProtocolVersion::V12_1 {
        return Reply::Empty;
    }
    Reply::Wbxml(
        SyncResponse {
            status: None,
            collections,
        }
        .encode(),
    )
}
