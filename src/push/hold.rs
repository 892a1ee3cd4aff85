//! Holding a request open until something changes: the wait shared by Ping and Sync-with-Wait, the
//! counter of held requests, and the check "does this device have something to fetch in these
//! collections", which runs the Sync engine dry so Ping and Sync can never disagree.

use super::hub::{Subscription, Wake};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::{Account, Folder, ItemBackend};
use crate::eas::ids::CollectionId;
use crate::eas::limits::DeviceLimits;
use crate::eas::sync::echoed;
use crate::eas::sync::{CollectionRequest, engine};
use crate::state::index::{Change, Uid, Unrecorded};
use crate::state::sync::{CollectionState, DeviceRef};
use crate::state::uidset::UidSet;
use smol::Timer;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Recorded changes the quick test reads before it leaves the answer to a dry run.
const RECORDED_PAGE: usize = 256;

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
    /// The subscription's precheck has an answer to take.
    Checked,
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
                Wake::Checked => Waited::Checked,
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

/// What a held Ping's quick test reuses from one wake-up to the next, read once when the Ping
/// arrives: the watched folders the device sees, its limits, and where it stands in each
/// (listing a user's folders, reading the device's options and decoding its collection states
/// cost more than the rest of the test). Only the device's own requests move its position, and
/// any of them ends the held Ping first; a state removed meanwhile (the device reset, the folder
/// deleted) costs at most one needless wake-up, whose Sync then tells the device. The dry run
/// reads everything afresh, so a folder renamed or removed meanwhile, or limits changed, are
/// judged on what holds now.
pub struct Watched {
    folders: Vec<Folder>,
    /// Beside `folders`: the device's position in each (`None`: it never synced the folder).
    positions: Vec<Option<Position>>,
    limits: DeviceLimits,
}

/// The part of a device's collection state the quick test reads.
struct Position {
    modseq: u64,
    /// The FilterType of a next Sync that would only follow the change log
    /// ([`engine::log_filter`]); `None` when only a dry run can tell.
    filter: Option<u8>,
    echo: Vec<(u32, u64)>,
}

impl Position {
    fn of(state: CollectionState) -> Position {
        Position {
            modseq: state.current.modseq,
            // Options that cannot be read leave the answer to the dry run, which reports them.
            filter: engine::log_filter(&state).ok().flatten(),
            echo: state.echo,
        }
    }
}

impl Watched {
    /// The folders among `folders` (all of the account's) that are in `ids` and that the device
    /// sees, its position in each, and its limits.
    pub fn new(
        app: &App,
        dev: DeviceRef<'_>,
        folders: Vec<Folder>,
        ids: &[u32],
    ) -> Result<Watched, String> {
        let (mut folders, limits) = seen(app, dev, folders)?;
        folders.retain(|f| ids.contains(&f.id));
        let positions = folders
            .iter()
            .map(|f| {
                let state = app.sync_states.collection(dev, f.id);
                state
                    .map(|s| s.map(Position::of))
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        Ok(Watched {
            folders,
            positions,
            limits,
        })
    }
}

/// The device's limits and the folders among `folders` that it sees.
fn seen(
    app: &App,
    dev: DeviceRef<'_>,
    folders: Vec<Folder>,
) -> Result<(Vec<Folder>, DeviceLimits), String> {
    let limits = DeviceLimits::load(app, dev.user, dev.device).map_err(|e| e.to_string())?;
    Ok((limits.visible(folders), limits))
}

/// The engine's context over `folders` with `limits`.
fn context<'a>(
    app: &'a App,
    account: &'a Account<'a>,
    (folders, limits): (&'a [Folder], &'a DeviceLimits),
    dev: DeviceRef<'a>,
    version: ProtocolVersion,
    now: u64,
) -> engine::Context<'a> {
    engine::Context {
        app,
        account,
        folders,
        dev,
        version,
        now,
        limits,
    }
}

/// The collections among `ids` in which the device has something to fetch: the Sync engine, run
/// without committing, would send a command or MoreAvailable. Collections the device never synced,
/// or that no longer exist, are not reported. Each is first given the cheap test ([`quick`]) with
/// what `watched` kept; only when that cannot tell does the engine run. Blocking: call through
/// `work::unblock` or the push lane.
pub fn pending(
    app: &App,
    dev: DeviceRef<'_>,
    version: ProtocolVersion,
    ids: &[u32],
    watched: &Watched,
) -> Result<Vec<u32>, String> {
    let account = Account::open(app, dev.user).map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let backend = account.items(version);
    let kept = (watched.folders.as_slice(), &watched.limits);
    // The device's folders and limits as they are now, read for the first dry run.
    let mut fresh: Option<(Vec<Folder>, DeviceLimits)> = None;
    let mut changed = Vec::new();
    for &id in ids {
        let at = watched.folders.iter().position(|f| f.id == id);
        let answer = match at.map(|i| (&watched.folders[i], &watched.positions[i])) {
            Some((_, None)) => continue,
            Some((folder, Some(position))) => quick(
                &context(app, &account, kept, dev, version, now),
                &backend,
                folder,
                position,
            ),
            None => None,
        };
        let has = match answer {
            Some(answer) => answer,
            None => {
                let (folders, limits) = match &fresh {
                    Some(f) => f,
                    None => {
                        let folders = account.folders().map_err(|e| e.to_string())?;
                        fresh.insert(seen(app, dev, folders)?)
                    }
                };
                let now_seen = (folders.as_slice(), limits);
                folders.iter().any(|f| f.id == id)
                    && dry_run(&context(app, &account, now_seen, dev, version, now), id)
            }
        };
        if has {
            changed.push(id);
        }
    }
    Ok(changed)
}

/// The cheap test, which reads but never writes and so never waits behind a committing Sync:
/// the folder's listing against the index (two stats when its directories did not move; new/
/// alone when a message there that the index does not know falls in the window), then
/// the changes recorded past the device's position (read, one page at most), each judged as the
/// device's next Sync would judge it, its own echoes left out. `Some(true)` when a change is one
/// that Sync would send (new within its FilterType, or an item it holds changed or gone),
/// `Some(false)` when none is, `None` when only a dry run can tell (the Sync would do more than
/// follow the change log; a longer log; an error). Without the second part, any refresh by
/// someone else (another device, the search indexer, the fallback watcher) before the wake-up
/// sent the check to the dry run, which waits on the folder's lock behind committing Syncs.
/// Like the engine, it cannot know before rendering that a new file is not a message at all:
/// such a file wakes the device once, and its Sync then moves past it.
fn quick(
    ctx: &engine::Context<'_>,
    backend: &dyn ItemBackend,
    folder: &Folder,
    position: &Position,
) -> Option<bool> {
    if ctx.limits.quarantined() {
        return None;
    }
    let min_time = engine::window_start(ctx, folder, position.filter?);
    let preview = backend.preview(folder, min_time).ok()?;
    let mut held: Option<UidSet> = None;
    let mut holds = |uid: Uid| -> Option<bool> {
        if held.is_none() {
            held = Some(ctx.app.sync_states.held(ctx.dev, folder.id).ok()?);
        }
        Some(held.as_ref().is_some_and(|h| h.contains(uid.0)))
    };
    for change in &preview.unrecorded {
        let sends = match *change {
            Unrecorded::Added { time } => time >= min_time,
            Unrecorded::Changed { uid, time } => holds(uid)? || time >= min_time,
            Unrecorded::Removed { uid } => holds(uid)?,
        };
        if sends {
            return Some(true);
        }
    }
    if preview.modseq == position.modseq {
        return Some(false);
    }
    let page = ctx
        .app
        .index
        .changes_since(folder.coll, position.modseq, RECORDED_PAGE)
        .ok()?;
    if page.more {
        return None;
    }
    for change in page.changes {
        let sends = match change {
            Change::Added(item) | Change::Changed(item) => {
                !echoed(&position.echo, item.uid.0, item.modseq)
                    && (holds(item.uid)? || item.time >= min_time)
            }
            Change::Removed { uid, .. } => holds(uid)?,
        };
        if sends {
            return Some(true);
        }
    }
    Some(false)
}

/// The Sync engine run for collection `id` without committing: would it send the device a
/// command or MoreAvailable?
fn dry_run(ctx: &engine::Context<'_>, id: u32) -> bool {
    let mut req = CollectionRequest::new(
        CollectionId::from_number(id),
        crate::eas::ids::SyncKey::Initial,
    );
    // No key: "the device is at the key the server last issued", exactly what a Ping means.
    req.sync_key = None;
    req.get_changes = Some(true);
    engine::run(ctx, &req, 1)
        .response
        .is_some_and(|r| !r.commands.is_empty() || r.more_available)
}
