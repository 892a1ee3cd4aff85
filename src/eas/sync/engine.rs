//! One collection of one Sync request: pick the base state from the client's key (current, or
//! previous for the SmartSync replay), apply the client's commands, collect server changes from
//! the change index (then the initial download, newest first) up to the window, and build the
//! next state. Nothing here knows about files or redb: items come from an `ItemBackend`, state
//! from `SyncStates`. The design is in docs/sync.md.

use super::request::{ClientCommand, CollectionRequest};
use super::response::{ClientResponse, CollectionResponse, ServerCommand, SyncStatus};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::{Account, BackendError, Folder, ItemBackend};
use crate::eas::fields::ParseError;
use crate::eas::foldersync::{key_no, new_epoch, sync_key};
use crate::eas::ids::{ClientId, ServerId, SyncKey};
use crate::eas::options::{self, ItemOptions};
use crate::state::index::{Change, IndexError, Item, ItemCursor, ItemQuery, Uid};
use crate::state::sync::{
    Backfill, ClientResult, CollectionState, DeviceRef, KeyNo, Outcome, Snapshot, SyncStateError,
};
use crate::state::uidset::UidSet;
use crate::wbxml::{self, tags::airsync};
use std::fmt;

/// What one request shares across its collections.
pub struct Context<'a> {
    pub app: &'a App,
    pub account: &'a Account<'a>,
    pub folders: &'a [Folder],
    pub dev: DeviceRef<'a>,
    pub version: ProtocolVersion,
    /// Unix seconds, for FilterType.
    pub now: u64,
}

/// A new state to commit with the response.
pub struct Write {
    pub coll: u32,
    pub state: CollectionState,
    /// The held set, when it changed.
    pub held: Option<UidSet>,
}

/// One collection's answer: `None` when it has nothing to say (12.1+ then leaves it out).
pub struct Prepared {
    pub response: Option<CollectionResponse>,
    pub write: Option<Write>,
}

#[derive(Debug)]
pub enum EngineError {
    Backend(BackendError),
    State(SyncStateError),
    Index(IndexError),
    StoredOptions(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Backend(e) => e.fmt(f),
            EngineError::State(e) => e.fmt(f),
            EngineError::Index(e) => write!(f, "change index: {e}"),
            EngineError::StoredOptions(e) => write!(f, "stored options: {e}"),
        }
    }
}

impl std::error::Error for EngineError {}

impl From<BackendError> for EngineError {
    fn from(e: BackendError) -> Self {
        EngineError::Backend(e)
    }
}

impl From<SyncStateError> for EngineError {
    fn from(e: SyncStateError) -> Self {
        EngineError::State(e)
    }
}

impl From<IndexError> for EngineError {
    fn from(e: IndexError) -> Self {
        EngineError::Index(e)
    }
}

fn only(response: CollectionResponse) -> Prepared {
    Prepared {
        response: Some(response),
        write: None,
    }
}

fn status_of(e: &BackendError) -> SyncStatus {
    match e {
        BackendError::NotFound => SyncStatus::ObjectNotFound,
        BackendError::Unsupported | BackendError::Invalid(_) => SyncStatus::ConversionError,
        BackendError::Store(_) | BackendError::Index(_) => SyncStatus::ServerError,
    }
}

fn code(s: SyncStatus) -> u16 {
    s as u16
}

fn from_code(c: u16) -> SyncStatus {
    <SyncStatus as crate::eas::fields::StatusCode>::from_code(c).unwrap_or(SyncStatus::ServerError)
}

/// Whether the device's own change already covers the index's latest change of `uid`.
fn echoed(echo: &[(u32, u64)], uid: u32, modseq: u64) -> bool {
    echo.iter().any(|&(u, m)| u == uid && modseq <= m)
}

fn bump(k: KeyNo) -> KeyNo {
    KeyNo {
        epoch: k.epoch,
        counter: k.counter.checked_add(1).unwrap_or(1),
    }
}

/// The index entry a client's ServerId names, if it is in this folder and still there.
fn lookup(ctx: &Context<'_>, folder: &Folder, id: &ServerId) -> Result<Option<Item>, IndexError> {
    match id.numbers() {
        Some((c, u)) if c == folder.id => ctx.app.index.item(folder.coll, Uid(u)),
        _ => Ok(None),
    }
}

/// Runs one collection; failures become a per-collection Status 5 rather than failing the
/// request.
pub fn run(ctx: &Context<'_>, req: &CollectionRequest, window: usize) -> Prepared {
    match run_collection(ctx, req, window) {
        Ok(p) => p,
        Err(e) => {
            log::error!(
                "{} [{}] Sync collection {}: {e}",
                ctx.dev.device,
                ctx.dev.user,
                req.collection_id
            );
            only(CollectionResponse::status(
                req.collection_id.clone(),
                SyncStatus::ServerError,
            ))
        }
    }
}

/// The options in force: the request's, else the ones stored with the state.
fn resolve_options(
    req: &CollectionRequest,
    stored: Option<&CollectionState>,
) -> Result<(ItemOptions, Vec<u8>), EngineError> {
    if let Some(o) = &req.options {
        return Ok((o.clone(), wbxml::encode(&o.encode(airsync::OPTIONS))));
    }
    match stored.filter(|s| !s.options.is_empty()) {
        Some(s) => {
            let el =
                wbxml::decode(&s.options).map_err(|e| EngineError::StoredOptions(e.to_string()))?;
            let o =
                ItemOptions::parse(&el).map_err(|e| EngineError::StoredOptions(e.to_string()))?;
            Ok((o, s.options.clone()))
        }
        None => Ok((ItemOptions::default(), Vec::new())),
    }
}

fn run_collection(
    ctx: &Context<'_>,
    req: &CollectionRequest,
    window: usize,
) -> Result<Prepared, EngineError> {
    let id = &req.collection_id;
    let Some(folder) = id
        .number()
        .and_then(|n| ctx.folders.iter().find(|f| f.id == n))
    else {
        return Ok(only(CollectionResponse::status(
            id.clone(),
            SyncStatus::HierarchyChanged,
        )));
    };
    let states = &ctx.app.sync_states;
    let backend = ctx.account.backend();
    let stored = states.collection(ctx.dev, folder.id)?;
    let invalid_key = || {
        let mut r = CollectionResponse::status(id.clone(), SyncStatus::InvalidSyncKey);
        r.sync_key = Some(SyncKey::Initial);
        only(r)
    };
    let key = match (req.sync_key, &stored) {
        (Some(k), _) => k,
        (None, Some(s)) => sync_key(s.current.key),
        (None, None) => return Ok(invalid_key()),
    };
    let (options, options_bytes) = resolve_options(req, stored.as_ref())?;
    let email_opts = match options.email(ctx.version) {
        Ok(o) => o,
        Err(
            ParseError::BadValue(_)
            | ParseError::Missing(_)
            | ParseError::BadId(..)
            | ParseError::WrongRoot { .. },
        ) => {
            return Ok(only(CollectionResponse::status(
                id.clone(),
                SyncStatus::ProtocolError,
            )));
        }
    };
    let filter = options.filter_type.unwrap_or(0);
    let min_time = options::min_time(filter, ctx.app.config.limits.max_mail_age_days, ctx.now);
    let class =
        (ctx.version < ProtocolVersion::V12_1).then(|| folder.kind.class().name().to_string());

    let Some(k) = key_no(key) else {
        let modseq = backend.refresh(folder)?;
        let first = KeyNo {
            epoch: new_epoch(),
            counter: 1,
        };
        let state = CollectionState {
            current: Snapshot {
                key: first,
                modseq,
                backfill: Backfill::Pending {
                    min_time,
                    after: None,
                },
            },
            previous: None,
            last: Outcome::default(),
            echo: Vec::new(),
            options: options_bytes,
            filter,
        };
        let mut r = CollectionResponse::status(id.clone(), SyncStatus::Success);
        r.class = class;
        r.sync_key = Some(sync_key(first));
        return Ok(Prepared {
            response: Some(r),
            write: Some(Write {
                coll: folder.id,
                state,
                held: Some(UidSet::new()),
            }),
        });
    };
    let Some(mut state) = stored else {
        return Ok(invalid_key());
    };
    let replay = state.current.key != k;
    let (mut base, prior) = if !replay {
        (state.current.clone(), Vec::new())
    } else {
        match &state.previous {
            Some(p) if p.key == k => (p.clone(), state.last.client.clone()),
            _ => return Ok(invalid_key()),
        }
    };
    let options_changed = state.options != options_bytes;
    let modseq_now = backend.refresh(folder)?;
    let get_changes = req.get_changes.unwrap_or(true);
    let idle = !replay
        && req.commands.is_empty()
        && filter == state.filter
        && (!get_changes || (base.backfill == Backfill::Done && modseq_now == base.modseq));
    if idle && ctx.version >= ProtocolVersion::V12_1 {
        let write = options_changed.then(|| {
            state.options = options_bytes.clone();
            Write {
                coll: folder.id,
                state: state.clone(),
                held: None,
            }
        });
        return Ok(Prepared {
            response: None,
            write,
        });
    }

    let mut held = states.held(ctx.dev, folder.id)?;
    let mut held_dirty = replay;
    if replay {
        for &u in &state.last.sent_added {
            held.remove(u);
        }
        for &u in &state.last.sent_removed {
            held.insert(u);
        }
    }
    if filter != state.filter {
        base.backfill = Backfill::Pending {
            min_time,
            after: None,
        };
    }

    let mut echo = state.echo.clone();
    let mut results: Vec<ClientResult> = prior.clone();
    let mut fetched: Vec<ClientResponse> = Vec::new();
    for cmd in &req.commands {
        match cmd {
            ClientCommand::Add { client_id, data } => {
                let seen = prior.iter().any(|r| {
                    matches!(r, ClientResult::Added { client_id: c, .. } if c == client_id.as_str())
                });
                if seen {
                    continue;
                }
                results.push(match backend.add(folder, data) {
                    Ok(created) => {
                        held.insert(created.uid.0);
                        held_dirty = true;
                        echo.push((created.uid.0, created.modseq));
                        ClientResult::Added {
                            client_id: client_id.to_string(),
                            uid: Some(created.uid.0),
                            status: code(SyncStatus::Success),
                        }
                    }
                    Err(e) => {
                        log::info!("{} Add {client_id}: {e}", ctx.dev.device);
                        ClientResult::Added {
                            client_id: client_id.to_string(),
                            uid: None,
                            status: code(status_of(&e)),
                        }
                    }
                });
            }
            ClientCommand::Change { server_id, data } => {
                let seen = prior.iter().any(|r| {
                    matches!(r, ClientResult::Changed { server_id: s, .. } if s == server_id.as_str())
                });
                if seen {
                    continue;
                }
                let status = match lookup(ctx, folder, server_id)? {
                    None => SyncStatus::ObjectNotFound,
                    Some(item) => {
                        let moved_on =
                            item.modseq > base.modseq && !echoed(&echo, item.uid.0, item.modseq);
                        if moved_on && options.server_wins() {
                            SyncStatus::Conflict
                        } else {
                            match backend.change(folder, &item, data) {
                                Ok(m) => {
                                    echo.push((item.uid.0, m));
                                    SyncStatus::Success
                                }
                                Err(e) => status_of(&e),
                            }
                        }
                    }
                };
                results.push(ClientResult::Changed {
                    server_id: server_id.to_string(),
                    status: code(status),
                });
            }
            ClientCommand::Delete { server_id } => {
                let seen = prior.iter().any(|r| {
                    matches!(r, ClientResult::Deleted { server_id: s, .. } if s == server_id.as_str())
                });
                if seen {
                    continue;
                }
                let status = match lookup(ctx, folder, server_id)? {
                    None => SyncStatus::ObjectNotFound,
                    Some(item) => {
                        held_dirty |= held.remove(item.uid.0);
                        match backend.delete(folder, &item, req.deletes_as_moves.unwrap_or(true)) {
                            Ok(()) => SyncStatus::Success,
                            Err(e) => status_of(&e),
                        }
                    }
                };
                results.push(ClientResult::Deleted {
                    server_id: server_id.to_string(),
                    status: code(status),
                });
            }
            ClientCommand::Fetch { server_id } => {
                let (status, data) = match lookup(ctx, folder, server_id)? {
                    None => (SyncStatus::ObjectNotFound, None),
                    Some(item) => {
                        match backend.render(folder, &item, server_id.as_str(), &email_opts) {
                            Ok(d) => (SyncStatus::Success, Some(d)),
                            Err(e) => (status_of(&e), None),
                        }
                    }
                };
                fetched.push(ClientResponse::Fetch {
                    server_id: server_id.clone(),
                    status,
                    data,
                });
            }
        }
    }

    let mut commands: Vec<ServerCommand> = Vec::new();
    let mut sent_added = Vec::new();
    let mut sent_removed = Vec::new();
    let mut cursor = base.modseq;
    let mut backfill = base.backfill;
    let mut more = false;
    if get_changes {
        'log: loop {
            let page = match ctx
                .app
                .index
                .changes_since(folder.coll, cursor, window + 32)
            {
                Ok(p) => p,
                Err(IndexError::CursorOutOfRange { .. }) => return Ok(invalid_key()),
                Err(e) => return Err(e.into()),
            };
            for change in page.changes {
                if commands.len() >= window {
                    more = true;
                    break 'log;
                }
                match change {
                    Change::Added(item) | Change::Changed(item) => {
                        let uid = item.uid.0;
                        if !echoed(&echo, uid, item.modseq) {
                            let sid = ServerId::item(folder.id, uid);
                            if held.contains(uid) {
                                let data = backend.render_change(
                                    folder,
                                    &item,
                                    sid.as_str(),
                                    &email_opts,
                                )?;
                                commands.push(ServerCommand::Change {
                                    server_id: sid,
                                    data,
                                });
                            } else if item.time >= min_time {
                                match backend.render(folder, &item, sid.as_str(), &email_opts) {
                                    Ok(data) => {
                                        held.insert(uid);
                                        held_dirty = true;
                                        sent_added.push(uid);
                                        commands.push(ServerCommand::Add {
                                            server_id: sid,
                                            data,
                                        });
                                    }
                                    Err(BackendError::NotFound) => {}
                                    Err(e) => return Err(e.into()),
                                }
                            }
                        }
                        cursor = item.modseq;
                    }
                    Change::Removed { uid, modseq } => {
                        if held.remove(uid.0) {
                            held_dirty = true;
                            sent_removed.push(uid.0);
                            commands.push(ServerCommand::Delete {
                                server_id: ServerId::item(folder.id, uid.0),
                            });
                        }
                        cursor = modseq;
                    }
                }
            }
            if !page.more {
                cursor = cursor.max(page.next).max(modseq_now);
                break;
            }
        }
        if let (
            false,
            Backfill::Pending {
                min_time: oldest,
                after,
            },
        ) = (more, backfill)
        {
            let mut after = after;
            loop {
                let left = window.saturating_sub(commands.len());
                if left == 0 {
                    more = true;
                    break;
                }
                let query = ItemQuery {
                    min_time: oldest,
                    newest_first: true,
                    after: after.map(|(t, u)| ItemCursor::new(t, Uid(u))),
                    limit: left,
                };
                let items = ctx.app.index.items(folder.coll, &query)?;
                let exhausted = items.len() < left;
                for item in items {
                    let uid = item.uid.0;
                    after = Some((item.time, uid));
                    if held.contains(uid) {
                        continue;
                    }
                    let sid = ServerId::item(folder.id, uid);
                    match backend.render(folder, &item, sid.as_str(), &email_opts) {
                        Ok(data) => {
                            held.insert(uid);
                            held_dirty = true;
                            sent_added.push(uid);
                            commands.push(ServerCommand::Add {
                                server_id: sid,
                                data,
                            });
                        }
                        Err(BackendError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if exhausted {
                    backfill = Backfill::Done;
                    break;
                }
                backfill = Backfill::Pending {
                    min_time: oldest,
                    after,
                };
            }
        }
    }

    let reportable = |r: &&ClientResult| match r {
        ClientResult::Added { .. } => true,
        ClientResult::Changed { status, .. } | ClientResult::Deleted { status, .. } => {
            *status != code(SyncStatus::Success)
        }
    };
    let say = !commands.is_empty()
        || !fetched.is_empty()
        || !req.commands.is_empty()
        || results.iter().any(|r| reportable(&r))
        || more
        || ctx.version < ProtocolVersion::V12_1;
    if !say {
        // Nothing for the device, but the index moved (e.g. past the device's own changes):
        // remember that under the same key.
        let moved = cursor != state.current.modseq || backfill != state.current.backfill;
        let write = (moved || options_changed).then(|| {
            state.current.modseq = cursor;
            state.current.backfill = backfill;
            state.options = options_bytes.clone();
            Write {
                coll: folder.id,
                state: state.clone(),
                held: None,
            }
        });
        return Ok(Prepared {
            response: None,
            write,
        });
    }

    let new_key = bump(state.current.key);
    let mut responses: Vec<ClientResponse> = results
        .iter()
        .filter(reportable)
        .filter_map(|r| client_response(folder.id, r))
        .collect();
    responses.extend(fetched);
    echo.retain(|&(_, m)| m > base.modseq);
    let new_state = CollectionState {
        current: Snapshot {
            key: new_key,
            modseq: cursor,
            backfill,
        },
        previous: Some(base),
        last: Outcome {
            sent_added,
            sent_removed,
            client: results,
        },
        echo,
        options: options_bytes,
        filter,
    };
    Ok(Prepared {
        response: Some(CollectionResponse {
            class,
            sync_key: Some(sync_key(new_key)),
            collection_id: id.clone(),
            status: SyncStatus::Success,
            commands,
            responses,
            more_available: more,
        }),
        write: Some(Write {
            coll: folder.id,
            state: new_state,
            held: held_dirty.then_some(held),
        }),
    })
}

/// The wire form of a stored client result.
fn client_response(coll: u32, r: &ClientResult) -> Option<ClientResponse> {
    Some(match r {
        ClientResult::Added {
            client_id,
            uid,
            status,
        } => ClientResponse::Add {
            client_id: ClientId::parse(client_id).ok()?,
            server_id: uid.map(|u| ServerId::item(coll, u)),
            status: from_code(*status),
        },
        ClientResult::Changed { server_id, status } => ClientResponse::Change {
            server_id: ServerId::parse(server_id).ok()?,
            status: from_code(*status),
        },
        ClientResult::Deleted { server_id, status } => ClientResponse::Delete {
            server_id: ServerId::parse(server_id).ok()?,
            status: from_code(*status),
        },
    })
}
