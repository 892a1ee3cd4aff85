//! FolderSync (MS-ASCMD 2.2.1.5): the folder hierarchy, first whole (SyncKey 0), then as
//! Add/Update/Delete against what the device was last given. A repeated previous key replays
//! the diff from the previous snapshot; any other key gets Status 9 so the client starts over.

use super::fields::{self, ParseError, status_element, status_enum};
use super::ids::{CollectionId, SyncKey};
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::app::App;
use crate::collections::{Account, Folder};
use crate::state::sync::{DeviceRef, FolderRecord, HierarchySnapshot, HierarchyState, KeyNo};
use crate::wbxml::Element;
use crate::wbxml::tags::folderhierarchy as fh;

status_enum!(
    /// FolderSync Status (MS-ASCMD 2.2.3.177.5).
    FolderSyncStatus {
        Success = 1,
        ServerError = 6,
        InvalidSyncKey = 9,
        BadRequest = 10,
        UnknownError = 11,
        CodeUnknown = 12,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSyncRequest {
    pub sync_key: SyncKey,
}

/// One folder of a FolderSync Add or Update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderEntry {
    pub server_id: CollectionId,
    /// "0" at the top level.
    pub parent_id: CollectionId,
    pub display_name: String,
    pub kind: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FolderChange {
    Add(FolderEntry),
    Update(FolderEntry),
    Delete(CollectionId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSyncResponse {
    pub status: FolderSyncStatus,
    pub sync_key: Option<SyncKey>,
    pub changes: Vec<FolderChange>,
}

impl FolderSyncRequest {
    pub fn parse(el: &Element) -> Result<FolderSyncRequest, ParseError> {
        let el = fields::root(el, fh::FOLDER_SYNC)?;
        Ok(FolderSyncRequest {
            sync_key: fields::id(el, fh::SYNC_KEY, SyncKey::parse)?,
        })
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_SYNC).with_text(fh::SYNC_KEY, self.sync_key.to_string())
    }
}

impl FolderEntry {
    fn encode(&self, tag: crate::wbxml::Tag) -> Element {
        Element::new(tag)
            .with_text(fh::SERVER_ID, self.server_id.as_str())
            .with_text(fh::PARENT_ID, self.parent_id.as_str())
            .with_text(fh::DISPLAY_NAME, self.display_name.as_str())
            .with_text(fh::TYPE, self.kind.to_string())
    }

    fn parse(el: &Element) -> Result<FolderEntry, ParseError> {
        Ok(FolderEntry {
            server_id: fields::id(el, fh::SERVER_ID, CollectionId::parse)?,
            parent_id: fields::id(el, fh::PARENT_ID, CollectionId::parse)?,
            display_name: fields::text(el, fh::DISPLAY_NAME)?.to_string(),
            kind: fields::value(el, fh::TYPE)?,
        })
    }

    fn from_record(r: &FolderRecord) -> FolderEntry {
        FolderEntry {
            server_id: CollectionId::from_number(r.id),
            parent_id: CollectionId::from_number(r.parent),
            display_name: r.name.clone(),
            kind: r.kind,
        }
    }
}

impl FolderSyncResponse {
    pub fn failed(status: FolderSyncStatus) -> FolderSyncResponse {
        FolderSyncResponse {
            status,
            sync_key: None,
            changes: Vec::new(),
        }
    }

    pub fn encode(&self) -> Element {
        let mut root = Element::new(fh::FOLDER_SYNC).with(status_element(fh::STATUS, self.status));
        if let Some(k) = self.sync_key {
            root.push_text(fh::SYNC_KEY, k.to_string());
        }
        if self.status == FolderSyncStatus::Success {
            let mut changes =
                Element::new(fh::CHANGES).with_text(fh::COUNT, self.changes.len().to_string());
            for c in &self.changes {
                changes.push(match c {
                    FolderChange::Add(e) => e.encode(fh::ADD),
                    FolderChange::Update(e) => e.encode(fh::UPDATE),
                    FolderChange::Delete(id) => {
                        Element::new(fh::DELETE).with_text(fh::SERVER_ID, id.as_str())
                    }
                });
            }
            root.push(changes);
        }
        root
    }

    pub fn parse(el: &Element) -> Result<FolderSyncResponse, ParseError> {
        let el = fields::root(el, fh::FOLDER_SYNC)?;
        let mut changes = Vec::new();
        if let Some(c) = el.first(fh::CHANGES) {
            for e in c.elements() {
                changes.push(match e.tag {
                    t if t == fh::ADD => FolderChange::Add(FolderEntry::parse(e)?),
                    t if t == fh::UPDATE => FolderChange::Update(FolderEntry::parse(e)?),
                    t if t == fh::DELETE => {
                        FolderChange::Delete(fields::id(e, fh::SERVER_ID, CollectionId::parse)?)
                    }
                    _ => continue,
                });
            }
        }
        Ok(FolderSyncResponse {
            status: fields::status(el, fh::STATUS)?,
            sync_key: fields::opt_id(el, fh::SYNC_KEY, SyncKey::parse_any)?,
            changes,
        })
    }
}

/// What a key a client sent is to this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SentKey {
    /// `0`: start afresh.
    Initial,
    /// Of easd's shape: a state here when the numbers match a stored one.
    Issued(KeyNo),
    /// Of a shape easd never issues: the command's "invalid sync key" status, never a fresh start.
    Foreign,
}

pub(crate) fn sent_key(k: SyncKey) -> SentKey {
    match k {
        SyncKey::Initial => SentKey::Initial,
        SyncKey::Issued { epoch, counter } => SentKey::Issued(KeyNo { epoch, counter }),
        SyncKey::Foreign(_) => SentKey::Foreign,
    }
}

pub(crate) fn sync_key(k: KeyNo) -> SyncKey {
    SyncKey::Issued {
        epoch: k.epoch,
        counter: k.counter,
    }
}

/// A random epoch for a freshly primed state.
pub(crate) fn new_epoch() -> u32 {
    let rng = ring::rand::SystemRandom::new();
    ring::rand::generate::<[u8; 4]>(&rng)
        .map(|b| u32::from_le_bytes(b.expose()))
        .unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.subsec_nanos())
        })
}

/// The hierarchy as records, the form a device's state keeps.
pub fn records(folders: &[Folder]) -> Vec<FolderRecord> {
    folders
        .iter()
        .map(|f| FolderRecord {
            id: f.id,
            parent: f.parent,
            name: f.name.clone(),
            kind: f.kind.code(),
        })
        .collect()
}

/// The changes that turn `old` into `new`: adds in `new`'s order (parents first), then updates,
/// then deletes.
pub fn diff(old: &[FolderRecord], new: &[FolderRecord]) -> Vec<FolderChange> {
    let mut out = Vec::new();
    for n in new {
        match old.iter().find(|o| o.id == n.id) {
            None => out.push(FolderChange::Add(FolderEntry::from_record(n))),
            Some(o) if o != n => out.push(FolderChange::Update(FolderEntry::from_record(n))),
            Some(_) => {}
        }
    }
    for o in old {
        if !new.iter().any(|n| n.id == o.id) {
            out.push(FolderChange::Delete(CollectionId::from_number(o.id)));
        }
    }
    out
}

/// Runs a FolderSync against the stored hierarchy state.
pub fn run(
    app: &App,
    dev: DeviceRef<'_>,
    req: &FolderSyncRequest,
) -> Result<FolderSyncResponse, String> {
    let account = Account::open(app, dev.user).map_err(|e| e.to_string())?;
    let folders = account.folders().map_err(|e| e.to_string())?;
    account.reconcile(&folders).map_err(|e| e.to_string())?;
    // A phone that lists its folders is about to use them: index any not indexed yet.
    app.search.sweep(dev.user);
    let limits = DeviceLimits::load(app, dev.user, dev.device).map_err(|e| e.to_string())?;
    let now = records(&limits.visible(folders));
    let stored = app.sync_states.hierarchy(dev).map_err(|e| e.to_string())?;
    let (base, next_key, previous) = match (sent_key(req.sync_key), &stored) {
        (SentKey::Initial, _) => (
            Vec::new(),
            KeyNo {
                epoch: new_epoch(),
                counter: 1,
            },
            None,
        ),
        (SentKey::Issued(k), Some(s)) if k == s.current.key => (
            s.current.folders.clone(),
            bump(s.current.key),
            Some(s.current.clone()),
        ),
        (SentKey::Issued(k), Some(s)) if s.previous.as_ref().is_some_and(|p| p.key == k) => (
            s.previous.clone().map(|p| p.folders).unwrap_or_default(),
            bump(s.current.key),
            s.previous.clone(),
        ),
        _ => return Ok(FolderSyncResponse::failed(FolderSyncStatus::InvalidSyncKey)),
    };
    let changes = diff(&base, &now);
    let unchanged = changes.is_empty()
        && stored
            .as_ref()
            .is_some_and(|s| sent_key(req.sync_key) == SentKey::Issued(s.current.key));
    if unchanged {
        return Ok(FolderSyncResponse {
            status: FolderSyncStatus::Success,
            sync_key: Some(req.sync_key),
            changes,
        });
    }
    let state = HierarchyState {
        current: HierarchySnapshot {
            key: next_key,
            folders: now,
        },
        previous,
    };
    app.sync_states
        .put_hierarchy(dev, &state)
        .map_err(|e| e.to_string())?;
    Ok(FolderSyncResponse {
        status: FolderSyncStatus::Success,
        sync_key: Some(sync_key(next_key)),
        changes,
    })
}

/// The key after `k`.
pub(crate) fn bump(k: KeyNo) -> KeyNo {
    KeyNo {
        epoch: k.epoch,
        counter: k.counter.checked_add(1).unwrap_or(1),
    }
}

pub async fn handle(app: std::sync::Arc<App>, req: std::sync::Arc<Request>) -> Reply {
    let Some(parsed) = req.tree.as_ref().map(FolderSyncRequest::parse) else {
        return Reply::Wbxml(FolderSyncResponse::failed(FolderSyncStatus::BadRequest).encode());
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(ParseError::BadId(_, _)) => {
            return Reply::Wbxml(
                FolderSyncResponse::failed(FolderSyncStatus::InvalidSyncKey).encode(),
            );
        }
        Err(e) => {
            log::info!("{} [{}] FolderSync: {e}", req.query.device_id, req.user);
            return Reply::Wbxml(FolderSyncResponse::failed(FolderSyncStatus::BadRequest).encode());
        }
    };
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let r = req.clone();
    let a = app.clone();
    let out = crate::work::unblock(move || {
        let dev = DeviceRef {
            user: &r.user,
            device: &r.query.device_id,
        };
        run(&a, dev, &parsed)
    })
    .await;
    match out {
        Ok(resp) => Reply::Wbxml(resp.encode()),
        Err(e) => {
            log::error!("{} [{}] FolderSync: {e}", req.query.device_id, req.user);
            Reply::Wbxml(FolderSyncResponse::failed(FolderSyncStatus::ServerError).encode())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::fields::StatusCode;
    use crate::eas::ids::IdError;

    fn rec(id: u32, parent: u32, name: &str, kind: u8) -> FolderRecord {
        FolderRecord {
            id,
            parent,
            name: name.into(),
            kind,
        }
    }

    #[test]
    fn diff_finds_adds_updates_deletes() {
        let old = [
            rec(1, 0, "Inbox", 2),
            rec(2, 0, "A", 12),
            rec(3, 0, "B", 12),
        ];
        let new = [
            rec(1, 0, "Inbox", 2),
            rec(2, 0, "A2", 12),
            rec(4, 2, "C", 12),
        ];
        let d = diff(&old, &new);
        assert_eq!(d.len(), 3);
        assert!(matches!(&d[0], FolderChange::Update(e) if e.display_name == "A2"));
        assert!(matches!(&d[1], FolderChange::Add(e) if e.parent_id.as_str() == "2"));
        assert!(matches!(&d[2], FolderChange::Delete(id) if id.as_str() == "3"));
    }

    #[test]
    fn messages_round_trip() {
        let req = FolderSyncRequest {
            sync_key: SyncKey::first(5),
        };
        assert_eq!(FolderSyncRequest::parse(&req.encode()), Ok(req));
        let resp = FolderSyncResponse {
            status: FolderSyncStatus::Success,
            sync_key: Some(SyncKey::first(9)),
            changes: diff(&[rec(3, 0, "B", 12)], &[rec(1, 0, "Inbox", 2)]),
        };
        assert_eq!(FolderSyncResponse::parse(&resp.encode()), Ok(resp));
        let bad = FolderSyncResponse::failed(FolderSyncStatus::InvalidSyncKey);
        assert_eq!(FolderSyncResponse::parse(&bad.encode()), Ok(bad));
        assert_eq!(
            FolderSyncStatus::from_code(9),
            Some(FolderSyncStatus::InvalidSyncKey)
        );
    }

    #[test]
    fn other_servers_keys_go_back_verbatim_and_are_refused_here() {
        for key in [
            "{8c5b1e2a-4f3d-4c1b-9a7e-0d2f6b8e1c3a}12",
            "3",
            "{A1B2C3D4-E5F6-4789-ABCD-EF0123456789}",
        ] {
            let answer = Element::new(fh::FOLDER_SYNC)
                .with_text(fh::STATUS, "1")
                .with_text(fh::SYNC_KEY, key);
            let parsed = FolderSyncResponse::parse(&answer).unwrap();
            let k = parsed.sync_key.unwrap();
            let again = parsed.encode();
            assert_eq!(again.first(fh::SYNC_KEY).unwrap().text_content(), Some(key));
            let next = FolderSyncRequest { sync_key: k }.encode();
            assert_eq!(next.first(fh::SYNC_KEY).unwrap().text_content(), Some(key));
            assert_eq!(sent_key(k), SentKey::Foreign);
            assert!(matches!(
                FolderSyncRequest::parse(&next),
                Err(ParseError::BadId(t, IdError::BadSyncKey)) if t == fh::SYNC_KEY
            ));
        }
    }
}
