//! The fallback for changes nobody announced (no Postfix/Dovecot/Radicale hook, a file copied in by
//! hand): one task for the whole server re-checks the directory stamps of the collections that held
//! requests watch, every `push.fallback_scan_secs`, and wakes their watchers when the index moved.
//! Unwatched collections cost nothing; a watched one costs two stats per period.

use crate::app::App;
use crate::collections::{Account, ItemBackend};
use crate::push::datagram::Notification;
use crate::push::hub::Watch;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// The modseq the watcher last saw per (user, collection id).
type Seen = HashMap<(String, u32), u64>;

pub async fn run(app: Arc<App>) {
    let period = Duration::from_secs(app.config.push.fallback_scan_secs.max(1).into());
    let mut seen = Seen::new();
    loop {
        smol::Timer::after(period).await;
        let watched = app.hub.watched();
        if watched.is_empty() {
            seen.clear();
            continue;
        }
        let (a, prev) = (app.clone(), std::mem::take(&mut seen));
        let (changed, next) = crate::work::unblock(move || check(&a, watched, prev)).await;
        seen = next;
        for (user, coll) in changed {
            app.hub.notify(&user, Some(coll));
        }
    }
}

/// Refreshes the watched collections; returns those whose modseq differs from the last check (or that
/// are checked for the first time, since a change may predate the first look), and the new record.
fn check(app: &App, watched: Vec<(String, Watch)>, prev: Seen) -> (Vec<(String, u32)>, Seen) {
    let mut per_user: HashMap<String, Option<BTreeSet<u32>>> = HashMap::new();
    for (user, watch) in watched {
        let entry = per_user
            .entry(user)
            .or_insert_with(|| Some(BTreeSet::new()));
        match (watch, entry.as_mut()) {
            (Watch::Everything, _) => *entry = None,
            (Watch::Collections(ids), Some(set)) => set.extend(ids),
            (Watch::Collections(_), None) => {}
        }
    }
    let mut changed = Vec::new();
    let mut next = HashMap::new();
    for (user, ids) in per_user {
        let account = match Account::open(app, &user) {
            Ok(a) => a,
            Err(e) => {
                log::warn!("push watcher: {user}: {e}");
                continue;
            }
        };
        let folders = match account.folders() {
            Ok(f) => f,
            Err(e) => {
                log::warn!("push watcher: {user}: {e}");
                continue;
            }
        };
        let backend = account.items(crate::ProtocolVersion::V16_1);
        for folder in folders
            .iter()
            .filter(|f| ids.as_ref().is_none_or(|s| s.contains(&f.id)))
        {
            match backend.refresh(folder) {
                Ok(modseq) => {
                    let key = (user.clone(), folder.id);
                    if prev.get(&key) != Some(&modseq) {
                        changed.push(key.clone());
                    }
                    next.insert(key, modseq);
                }
                Err(e) => log::debug!("push watcher: {user} folder {}: {e}", folder.id),
            }
        }
    }
    (changed, next)
}

/// What the UDP listener does with a valid datagram: wake the watchers of the folder it names, for a
/// configured user (others are ignored with a debug line).
pub fn on_notification(app: Arc<App>) -> impl Fn(Notification) + Send + 'static {
    move |note| {
        let Some(user) = app.config.user(&note.email) else {
            log::debug!("push: notification for unknown user {}", note.email);
            return;
        };
        let user = user.email.get_ref().as_str();
        match super::resolve::collections(&app, user, &note.scope) {
            None => {
                app.hub.notify(user, None);
            }
            Some(ids) if ids.is_empty() => {
                log::debug!(
                    "push: notification for {user}: no such folder {:?}",
                    note.scope
                )
            }
            Some(ids) => {
                for id in ids {
                    app.hub.notify(user, Some(id));
                }
            }
        }
    }
}
