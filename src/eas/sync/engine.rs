//! One collection of one Sync request: pick the base state from the client's key (current, or
//! previous for the SmartSync replay), apply the client's commands, collect server changes from
//! the change index (then the initial download, newest first) up to the window, and build the
//! next state. Nothing here knows about files or redb: items come from an `ItemBackend`, state
//! from `SyncStates`. The design is in docs/sync.md.

use super::apply::{Applier, code};
use super::collect::{CollectError, Collected, Collector};
use super::request::{CollectionRequest, supported_element};
use super::response::{ClientResponse, CollectionResponse, SyncStatus};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::{Account, BackendError, Folder, ItemBackend};
use crate::eas::fields::ParseError;
use crate::eas::foldersync::{SentKey, bump, new_epoch, sent_key, sync_key};
use crate::eas::ids::{ClientId, ServerId, SyncKey};
use crate::eas::limits::DeviceLimits;
use crate::eas::options::{self, ItemOptions};
use crate::state::index::IndexError;
use crate::state::sync::{
    Backfill, ClientResult, CollectionState, DeviceRef, KeyNo, Outcome, Snapshot, SyncStateError,
};
use crate::state::uidset::UidSet;
use crate::wbxml::{self, Tag, tags::airsync};
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
    pub limits: &'a DeviceLimits,
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
    /// Collections easd changed on disk for the device, to wake other devices once committed.
    pub changed: Vec<u32>,
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
        changed: Vec::new(),
    }
}

fn from_code(c: u16) -> SyncStatus {
    <SyncStatus as crate::eas::fields::StatusCode>::from_code(c).unwrap_or(SyncStatus::ServerError)
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

/// The options a collection is synced with.
struct Resolved {
    options: ItemOptions,
    /// What is stored with the state: the Options element, plus the Supported list.
    bytes: Vec<u8>,
    supported: Option<Vec<Tag>>,
}

/// The options in force: the request's, else the ones stored with the state; and the client's
/// Supported list (sent with SyncKey 0 only), kept with the stored options so later Changes
/// are read with it.
fn resolve_options(
    req: &CollectionRequest,
    stored: Option<&CollectionState>,
) -> Result<Resolved, EngineError> {
    let stored_el = match stored {
        Some(s) => stored_element(&s.options)?,
        None => None,
    };
    let supported = req.supported.clone().or_else(|| {
        stored_el
            .as_ref()
            .and_then(|el| el.first(airsync::SUPPORTED))
            .map(|s| s.elements().map(|e| e.tag).collect())
    });
    let options = match (&req.options, &stored_el) {
        (Some(o), _) => Some(o.clone()),
        (None, Some(el)) => Some(parse_stored(el)?),
        (None, None) => None,
    };
    if options.is_none() && supported.is_none() {
        return Ok(Resolved {
            options: ItemOptions::default(),
            bytes: Vec::new(),
            supported: None,
        });
    }
    let options = options.unwrap_or_default();
    let mut el = options.encode(airsync::OPTIONS);
    if let Some(tags) = &supported {
        el.push(supported_element(tags));
    }
    Ok(Resolved {
        bytes: wbxml::encode(&el),
        options,
        supported,
    })
}

/// The oldest item time FilterType `filter` lets the device see in `folder`.
pub fn window_start(ctx: &Context<'_>, folder: &Folder, filter: u8) -> u64 {
    let max_days = ctx.limits.max_days(ctx.app.config.limits.max_mail_age_days);
    options::class_min_time(
        folder.kind.class(),
        filter,
        max_days,
        ctx.limits.calendar_days(),
        ctx.now,
    )
}

/// What a held Ping's quick check may assume of a collection the device holds at `state`: the
/// FilterType its next Sync would use, when that Sync would only follow the change log (the
/// oldest item it would send is then [`window_start`]). `None` when it would do more (an initial
/// download still going, a FilterType changed since): only a dry run of the engine can tell then.
/// A quarantined device, which gets nothing, is the caller's to rule out.
pub fn log_filter(state: &CollectionState) -> Result<Option<u8>, EngineError> {
    if state.current.backfill != Backfill::Done {
        return Ok(None);
    }
    let filter = stored_filter(&state.options)?;
    Ok((filter == state.filter).then_some(filter))
}

/// The FilterType (0: none) that [`resolve_options`] gives a request without Options from the
/// stored ones, without re-encoding them: a held Ping asks this at every wake-up.
fn stored_filter(stored: &[u8]) -> Result<u8, EngineError> {
    Ok(match stored_element(stored)? {
        Some(el) => parse_stored(&el)?.filter_type.unwrap_or(0),
        None => 0,
    })
}

/// The Options element a collection's state keeps (none stored: empty bytes).
fn stored_element(stored: &[u8]) -> Result<Option<wbxml::Element>, EngineError> {
    if stored.is_empty() {
        return Ok(None);
    }
    wbxml::decode(stored)
        .map(Some)
        .map_err(|e| EngineError::StoredOptions(e.to_string()))
}

fn parse_stored(el: &wbxml::Element) -> Result<ItemOptions, EngineError> {
    ItemOptions::parse(el).map_err(|e| EngineError::StoredOptions(e.to_string()))
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
    let sent = sent_key(key);
    if sent == SentKey::Foreign {
        return Ok(invalid_key());
    }
    let Resolved {
        options,
        bytes: options_bytes,
        supported,
    } = resolve_options(req, stored.as_ref())?;
    let backend = ctx.account.items(ctx.version).with_supported(supported);
    let email_opts = match options.email(ctx.version) {
        Ok(o) => ctx.limits.email_options(o),
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
    let min_time = window_start(ctx, folder, filter);
    let class =
        (ctx.version < ProtocolVersion::V12_1).then(|| folder.kind.class().name().to_string());

    let SentKey::Issued(k) = sent else {
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
            changed: Vec::new(),
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
    // A quarantined device sends its changes but gets none (the guide's ABQ chapter).
    let get_changes = req.get_changes.unwrap_or(true) && !ctx.limits.quarantined();
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
            changed: Vec::new(),
        });
    }

    let mut held = states.held(ctx.dev, folder.id)?;
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
    let applier = Applier {
        ctx,
        folder,
        backend: &backend,
        opts: &email_opts,
        base_modseq: base.modseq,
        server_wins: options.server_wins(),
        deletes_as_moves: req.deletes_as_moves.unwrap_or(true),
        prior: &prior,
    };
    let applied = applier.run(req, &mut held, &mut echo)?;
    let collected = if get_changes {
        let collector = Collector {
            ctx,
            folder,
            backend: &backend,
            opts: &email_opts,
            window,
            min_time,
            echo: &echo,
            modseq_now,
        };
        match collector.run(base.modseq, base.backfill, &mut held) {
            Ok(c) => c,
            Err(CollectError::OutOfRange) => return Ok(invalid_key()),
            Err(CollectError::Engine(e)) => return Err(e),
        }
    } else {
        Collected::nothing(base.modseq, base.backfill)
    };
    let held_dirty = replay || applied.held_dirty || collected.held_dirty;

    let reportable = |r: &&ClientResult| match r {
        ClientResult::Added { .. } => true,
        ClientResult::Changed { status, .. } | ClientResult::Deleted { status, .. } => {
            *status != code(SyncStatus::Success)
        }
    };
    let say = !collected.commands.is_empty()
        || !applied.fetched.is_empty()
        || !req.commands.is_empty()
        || applied.results.iter().any(|r| reportable(&r))
        || collected.more
        || ctx.version < ProtocolVersion::V12_1;
    if !say {
        // Nothing for the device, but the index moved (e.g. past the device's own changes):
        // remember that under the same key.
        let moved = collected.cursor != state.current.modseq
            || collected.backfill != state.current.backfill;
        let write = (moved || options_changed).then(|| {
            state.current.modseq = collected.cursor;
            state.current.backfill = collected.backfill;
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
            changed: applied.changed,
        });
    }

    let new_key = bump(state.current.key);
    let mut responses: Vec<ClientResponse> = applied
        .results
        .iter()
        .filter(reportable)
        .filter_map(|r| client_response(folder.id, r))
        .collect();
    responses.extend(applied.fetched);
    echo.retain(|&(_, m)| m > base.modseq);
    let new_state = CollectionState {
        current: Snapshot {
            key: new_key,
            modseq: collected.cursor,
            backfill: collected.backfill,
        },
        previous: Some(base),
        last: Outcome {
            sent_added: collected.sent_added,
            sent_removed: collected.sent_removed,
            client: applied.results,
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
            commands: collected.commands,
            responses,
            more_available: collected.more,
        }),
        write: Some(Write {
            coll: folder.id,
            state: new_state,
            held: held_dirty.then_some(held),
        }),
        changed: applied.changed,
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
        ClientResult::Changed {
            server_id,
            instance_id,
            status,
        } => ClientResponse::Change {
            server_id: ServerId::parse(server_id).ok()?,
            instance_id: instance_id.clone(),
            status: from_code(*status),
        },
        ClientResult::Deleted {
            server_id,
            instance_id,
            status,
        } => ClientResponse::Delete {
            server_id: ServerId::parse(server_id).ok()?,
            instance_id: instance_id.clone(),
            status: from_code(*status),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::ids::CollectionId;

    fn state_with(options: Vec<u8>) -> CollectionState {
        CollectionState {
            current: Snapshot {
                key: Default::default(),
                modseq: 0,
                backfill: Backfill::Done,
            },
            previous: None,
            last: Default::default(),
            echo: Vec::new(),
            options,
            filter: 0,
        }
    }

    #[test]
    fn stored_filter_agrees_with_resolve_options() {
        let bare = CollectionRequest::new(CollectionId::from_number(5), SyncKey::Initial);
        let with = |f: Option<u8>| {
            let o = ItemOptions {
                filter_type: f,
                ..ItemOptions::default()
            };
            wbxml::encode(&o.encode(airsync::OPTIONS))
        };
        for stored in [Vec::new(), with(None), with(Some(3)), with(Some(0))] {
            let resolved = resolve_options(&bare, Some(&state_with(stored.clone())))
                .unwrap()
                .options
                .filter_type
                .unwrap_or(0);
            assert_eq!(stored_filter(&stored).unwrap(), resolved);
        }
        assert!(stored_filter(b"junk").is_err());
    }
}
