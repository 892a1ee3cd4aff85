//! What easd remembers about each device's view of the data: the folder hierarchy it was given
//! and, per collection, the sync keys, the index position it reflects, the items it holds and the
//! outcome of its latest request (for the SmartSync replay). The commands see only the
//! [`SyncStates`] trait; redb is the embedded implementation (`sync_redb`). Design:
//! docs/sync.md.

use super::StateError;
use super::codec::{CodecError, Reader, Writer};
use super::uidset::UidSet;
use std::fmt;

/// A state read or write that failed.
#[derive(Debug)]
pub enum SyncStateError {
    Db(StateError),
    Corrupt(CodecError),
}

impl fmt::Display for SyncStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncStateError::Db(e) => e.fmt(f),
            SyncStateError::Corrupt(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SyncStateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SyncStateError::Db(e) => Some(e),
            SyncStateError::Corrupt(e) => Some(e),
        }
    }
}

impl<E: Into<StateError>> From<E> for SyncStateError {
    fn from(e: E) -> Self {
        SyncStateError::Db(e.into())
    }
}

impl From<CodecError> for SyncStateError {
    fn from(e: CodecError) -> Self {
        SyncStateError::Corrupt(e)
    }
}

/// The device a state belongs to: (user, DeviceId).
#[derive(Clone, Copy, Debug)]
pub struct DeviceRef<'a> {
    pub user: &'a str,
    pub device: &'a str,
}

/// A sync key as stored: a random epoch chosen at priming and a counter. The wire form lives in
/// `eas::ids::SyncKey`; the state layer stores only numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyNo {
    pub epoch: u32,
    pub counter: u32,
}

/// One folder as a device was told about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderRecord {
    pub id: u32,
    /// 0 for a top-level folder.
    pub parent: u32,
    pub name: String,
    pub kind: u8,
}

/// A hierarchy snapshot under one key.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HierarchySnapshot {
    pub key: KeyNo,
    pub folders: Vec<FolderRecord>,
}

/// The folder hierarchy a device holds, and the one before it for a repeated FolderSync.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HierarchyState {
    pub current: HierarchySnapshot,
    pub previous: Option<HierarchySnapshot>,
}

/// Where the initial download of existing items stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backfill {
    Done,
    /// Items older than `min_time` are not wanted; `after` is the last (time, uid) sent,
    /// newest first.
    Pending {
        min_time: u64,
        after: Option<(u64, u32)>,
    },
}

/// The collection state under one sync key (the items held are stored apart, see
/// [`CollectionState`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub key: KeyNo,
    /// Index changes up to here are reflected.
    pub modseq: u64,
    pub backfill: Backfill,
}

/// What the client's commands in the latest request led to, replayed when the request comes
/// again with the same key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientResult {
    Added {
        client_id: String,
        uid: Option<u32>,
        status: u16,
    },
    /// `instance_id`: the occurrence a 16.x Change or Delete named, echoed in its answer.
    Changed {
        server_id: String,
        instance_id: Option<String>,
        status: u16,
    },
    Deleted {
        server_id: String,
        instance_id: Option<String>,
        status: u16,
    },
}

/// The latest request's effect relative to `previous`: the uids the server sent as Adds and as
/// Deletes (so the device's holdings under the previous key can be rebuilt) and the client
/// results.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Outcome {
    pub sent_added: Vec<u32>,
    pub sent_removed: Vec<u32>,
    pub client: Vec<ClientResult>,
}

/// One device's state of one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionState {
    pub current: Snapshot,
    pub previous: Option<Snapshot>,
    pub last: Outcome,
    /// Changes the device made itself: (uid, modseq of the change). A server change of that uid
    /// at or below the modseq is the device's own and is not sent back.
    pub echo: Vec<(u32, u64)>,
    /// The request's Options element (encoded WBXML), reused when a later request omits them.
    pub options: Vec<u8>,
    /// FilterType in force (0 = all).
    pub filter: u8,
}

/// The state store's interface. Writes of one request go in one call so they commit together
/// and before the response leaves.
pub trait SyncStates: Send + Sync {
    fn hierarchy(&self, dev: DeviceRef<'_>) -> Result<Option<HierarchyState>, SyncStateError>;
    fn put_hierarchy(
        &self,
        dev: DeviceRef<'_>,
        state: &HierarchyState,
    ) -> Result<(), SyncStateError>;
    fn collection(
        &self,
        dev: DeviceRef<'_>,
        coll: u32,
    ) -> Result<Option<CollectionState>, SyncStateError>;
    /// The items the device holds in `coll` under the current key.
    fn held(&self, dev: DeviceRef<'_>, coll: u32) -> Result<UidSet, SyncStateError>;
    /// Stores new collection states (with their held sets when they changed) and, when given,
    /// the cached Sync request, all in one durable transaction.
    fn commit(&self, dev: DeviceRef<'_>, batch: &Batch<'_>) -> Result<(), SyncStateError>;
    /// Forgets a collection's state for a device (the folder is gone).
    fn forget(&self, dev: DeviceRef<'_>, coll: u32) -> Result<(), SyncStateError>;
    /// Forgets a collection's state for every device of `user` (the folder was deleted).
    fn forget_collection(&self, user: &str, coll: u32) -> Result<(), SyncStateError>;
    /// Forgets everything about one device, so it syncs from scratch (the device was removed).
    fn forget_device(&self, dev: DeviceRef<'_>) -> Result<(), SyncStateError>;
    /// The cached last Sync request (encoded WBXML) for empty and partial requests.
    fn last_request(&self, dev: DeviceRef<'_>) -> Result<Option<Vec<u8>>, SyncStateError>;
}

/// The writes of one Sync request.
#[derive(Default)]
pub struct Batch<'a> {
    pub collections: Vec<(u32, &'a CollectionState, Option<&'a UidSet>)>,
    pub request: Option<&'a [u8]>,
}

const LAYOUT: u8 = 1;

fn put_key(w: &mut Writer, k: KeyNo) {
    w.u32(k.epoch).u32(k.counter);
}

fn get_key(r: &mut Reader<'_>) -> Result<KeyNo, CodecError> {
    Ok(KeyNo {
        epoch: r.u32()?,
        counter: r.u32()?,
    })
}

impl HierarchyState {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(LAYOUT);
        put_hierarchy(&mut w, &self.current);
        w.bool(self.previous.is_some());
        if let Some(p) = &self.previous {
            put_hierarchy(&mut w, p);
        }
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<HierarchyState, CodecError> {
        let mut r = Reader::new(buf, LAYOUT)?;
        let current = get_hierarchy(&mut r)?;
        let previous = if r.bool()? {
            Some(get_hierarchy(&mut r)?)
        } else {
            None
        };
        r.end()?;
        Ok(HierarchyState { current, previous })
    }
}

fn put_hierarchy(w: &mut Writer, h: &HierarchySnapshot) {
    put_key(w, h.key);
    w.u64(h.folders.len() as u64);
    for f in &h.folders {
        w.u32(f.id)
            .u32(f.parent)
            .str(&f.name)
            .u32(u32::from(f.kind));
    }
}

fn get_hierarchy(r: &mut Reader<'_>) -> Result<HierarchySnapshot, CodecError> {
    let key = get_key(r)?;
    let n = r.count()?;
    let mut folders = Vec::with_capacity(n);
    for _ in 0..n {
        folders.push(FolderRecord {
            id: r.u32()?,
            parent: r.u32()?,
            name: r.str()?.to_string(),
            kind: u8::try_from(r.u32()?).map_err(|_| CodecError("folder type"))?,
        });
    }
    Ok(HierarchySnapshot { key, folders })
}

fn put_snapshot(w: &mut Writer, s: &Snapshot) {
    put_key(w, s.key);
    w.u64(s.modseq);
    match s.backfill {
        Backfill::Done => {
            w.u32(0);
        }
        Backfill::Pending { min_time, after } => {
            w.u32(1).u64(min_time).bool(after.is_some());
            if let Some((t, u)) = after {
                w.u64(t).u32(u);
            }
        }
    }
}

fn get_snapshot(r: &mut Reader<'_>) -> Result<Snapshot, CodecError> {
    let key = get_key(r)?;
    let modseq = r.u64()?;
    let backfill = match r.u32()? {
        0 => Backfill::Done,
        1 => {
            let min_time = r.u64()?;
            let after = if r.bool()? {
                Some((r.u64()?, r.u32()?))
            } else {
                None
            };
            Backfill::Pending { min_time, after }
        }
        _ => return Err(CodecError("backfill kind")),
    };
    Ok(Snapshot {
        key,
        modseq,
        backfill,
    })
}

fn put_uids(w: &mut Writer, uids: &[u32]) {
    w.u64(uids.len() as u64);
    for &u in uids {
        w.u32(u);
    }
}

fn get_uids(r: &mut Reader<'_>) -> Result<Vec<u32>, CodecError> {
    let n = r.count()?;
    (0..n).map(|_| r.u32()).collect()
}

impl CollectionState {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(LAYOUT);
        put_snapshot(&mut w, &self.current);
        w.bool(self.previous.is_some());
        if let Some(p) = &self.previous {
            put_snapshot(&mut w, p);
        }
        put_uids(&mut w, &self.last.sent_added);
        put_uids(&mut w, &self.last.sent_removed);
        w.u64(self.last.client.len() as u64);
        for c in &self.last.client {
            match c {
                ClientResult::Added {
                    client_id,
                    uid,
                    status,
                } => {
                    w.u32(0).str(client_id).u32(uid.map_or(0, |u| u + 1));
                    w.u32(u32::from(*status));
                }
                // Kinds 3 and 4 carry an occurrence; states written before them still read.
                ClientResult::Changed {
                    server_id,
                    instance_id,
                    status,
                }
                | ClientResult::Deleted {
                    server_id,
                    instance_id,
                    status,
                } => {
                    let deleted = matches!(c, ClientResult::Deleted { .. });
                    match instance_id {
                        None => w.u32(if deleted { 2 } else { 1 }).str(server_id),
                        Some(i) => w.u32(if deleted { 4 } else { 3 }).str(server_id).str(i),
                    };
                    w.u32(u32::from(*status));
                }
            }
        }
        w.u64(self.echo.len() as u64);
        for &(uid, modseq) in &self.echo {
            w.u32(uid).u64(modseq);
        }
        w.bytes(&self.options).u32(u32::from(self.filter));
        w.finish()
    }

    pub fn decode(buf: &[u8]) -> Result<CollectionState, CodecError> {
        let mut r = Reader::new(buf, LAYOUT)?;
        let current = get_snapshot(&mut r)?;
        let previous = if r.bool()? {
            Some(get_snapshot(&mut r)?)
        } else {
            None
        };
        let sent_added = get_uids(&mut r)?;
        let sent_removed = get_uids(&mut r)?;
        let n = r.count()?;
        let mut client = Vec::with_capacity(n);
        let status = |r: &mut Reader<'_>| {
            u16::try_from(r.u32()?).map_err(|_| CodecError("status out of range"))
        };
        for _ in 0..n {
            client.push(match r.u32()? {
                0 => ClientResult::Added {
                    client_id: r.str()?.to_string(),
                    uid: r.u32()?.checked_sub(1),
                    status: status(&mut r)?,
                },
                1 => ClientResult::Changed {
                    server_id: r.str()?.to_string(),
                    instance_id: None,
                    status: status(&mut r)?,
                },
                2 => ClientResult::Deleted {
                    server_id: r.str()?.to_string(),
                    instance_id: None,
                    status: status(&mut r)?,
                },
                3 => ClientResult::Changed {
                    server_id: r.str()?.to_string(),
                    instance_id: Some(r.str()?.to_string()),
                    status: status(&mut r)?,
                },
                4 => ClientResult::Deleted {
                    server_id: r.str()?.to_string(),
                    instance_id: Some(r.str()?.to_string()),
                    status: status(&mut r)?,
                },
                _ => return Err(CodecError("client result kind")),
            });
        }
        let n = r.count()?;
        let mut echo = Vec::with_capacity(n);
        for _ in 0..n {
            echo.push((r.u32()?, r.u64()?));
        }
        let options = r.bytes()?.to_vec();
        let filter = u8::try_from(r.u32()?).map_err(|_| CodecError("filter type"))?;
        r.end()?;
        Ok(CollectionState {
            current,
            previous,
            last: Outcome {
                sent_added,
                sent_removed,
                client,
            },
            echo,
            options,
            filter,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CollectionState {
        CollectionState {
            current: Snapshot {
                key: KeyNo {
                    epoch: 0xabcd,
                    counter: 4,
                },
                modseq: 99,
                backfill: Backfill::Pending {
                    min_time: 1_700_000_000,
                    after: Some((1_700_000_500, 42)),
                },
            },
            previous: Some(Snapshot {
                key: KeyNo {
                    epoch: 0xabcd,
                    counter: 3,
                },
                modseq: 90,
                backfill: Backfill::Done,
            }),
            last: Outcome {
                sent_added: vec![1, 2, 3],
                sent_removed: vec![7],
                client: vec![
                    ClientResult::Added {
                        client_id: "c1".into(),
                        uid: Some(0),
                        status: 1,
                    },
                    ClientResult::Added {
                        client_id: "c2".into(),
                        uid: None,
                        status: 6,
                    },
                    ClientResult::Changed {
                        server_id: "3:4".into(),
                        instance_id: None,
                        status: 7,
                    },
                    ClientResult::Deleted {
                        server_id: "3:5".into(),
                        instance_id: None,
                        status: 8,
                    },
                    ClientResult::Changed {
                        server_id: "3:6".into(),
                        instance_id: Some("20300311T080000Z".into()),
                        status: 8,
                    },
                    ClientResult::Deleted {
                        server_id: "3:6".into(),
                        instance_id: Some("20300318T080000Z".into()),
                        status: 1,
                    },
                ],
            },
            echo: vec![(5, 98)],
            options: vec![1, 2, 3],
            filter: 3,
        }
    }

    #[test]
    fn collection_state_round_trip() {
        let s = sample();
        let bytes = s.encode();
        assert_eq!(CollectionState::decode(&bytes).unwrap(), s);
        for cut in 0..bytes.len() {
            assert!(CollectionState::decode(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn hierarchy_round_trip() {
        let h = HierarchyState {
            current: HierarchySnapshot {
                key: KeyNo {
                    epoch: 1,
                    counter: 2,
                },
                folders: vec![FolderRecord {
                    id: 1,
                    parent: 0,
                    name: "Inbox".into(),
                    kind: 2,
                }],
            },
            previous: Some(HierarchySnapshot::default()),
        };
        assert_eq!(HierarchyState::decode(&h.encode()).unwrap(), h);
    }
}
