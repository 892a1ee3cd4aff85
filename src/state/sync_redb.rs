//! The redb implementation of [`SyncStates`]: one small record per (device, collection), the
//! held-uid bitmap beside it (rewritten only when it changes), and one hierarchy record and one
//! cached request per device. Tables are prefixed `sync_`.

use super::StateError;
use super::sync::{Batch, CollectionState, DeviceRef, HierarchyState, SyncStateError, SyncStates};
use super::uidset::UidSet;
use redb::{Database, ReadableDatabase, TableDefinition};
use std::sync::Arc;

const HIERARCHY: TableDefinition<&str, &[u8]> = TableDefinition::new("sync_hierarchy");
const COLLECTIONS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("sync_collections");
const HELD: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("sync_held");
const REQUESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("sync_requests");

pub struct RedbSyncStates {
    db: Arc<Database>,
}

/// The table key of a device: user and DeviceId cannot contain NUL (the query parser refuses
/// it and configured addresses are validated), so the pair is unambiguous.
fn device_key(dev: DeviceRef<'_>) -> String {
    format!("{}\0{}", dev.user, dev.device)
}

impl RedbSyncStates {
    pub fn open(db: Arc<Database>) -> Result<RedbSyncStates, SyncStateError> {
        let txn = db.begin_write().map_err(StateError::from)?;
        txn.open_table(HIERARCHY).map_err(StateError::from)?;
        txn.open_table(COLLECTIONS).map_err(StateError::from)?;
        txn.open_table(HELD).map_err(StateError::from)?;
        txn.open_table(REQUESTS).map_err(StateError::from)?;
        txn.commit().map_err(StateError::from)?;
        Ok(RedbSyncStates { db })
    }

    fn read<T>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
        decode: impl FnOnce(&[u8]) -> Result<T, SyncStateError>,
    ) -> Result<Option<T>, SyncStateError> {
        let txn = self.db.begin_read().map_err(StateError::from)?;
        let t = txn.open_table(table).map_err(StateError::from)?;
        let row = t.get(key).map_err(StateError::from)?;
        row.map(|v| decode(v.value())).transpose()
    }

    fn read_coll<T>(
        &self,
        table: TableDefinition<(&str, u32), &[u8]>,
        dev: DeviceRef<'_>,
        coll: u32,
        decode: impl FnOnce(&[u8]) -> Result<T, SyncStateError>,
    ) -> Result<Option<T>, SyncStateError> {
        let key = device_key(dev);
        let txn = self.db.begin_read().map_err(StateError::from)?;
        let t = txn.open_table(table).map_err(StateError::from)?;
        let row = t.get((key.as_str(), coll)).map_err(StateError::from)?;
        row.map(|v| decode(v.value())).transpose()
    }
}

impl SyncStates for RedbSyncStates {
    fn hierarchy(&self, dev: DeviceRef<'_>) -> Result<Option<HierarchyState>, SyncStateError> {
        self.read(HIERARCHY, &device_key(dev), |b| {
            Ok(HierarchyState::decode(b)?)
        })
    }

    fn put_hierarchy(
        &self,
        dev: DeviceRef<'_>,
        state: &HierarchyState,
    ) -> Result<(), SyncStateError> {
        let txn = self.db.begin_write().map_err(StateError::from)?;
        txn.open_table(HIERARCHY)
            .map_err(StateError::from)?
            .insert(device_key(dev).as_str(), state.encode().as_slice())
            .map_err(StateError::from)?;
        txn.commit().map_err(StateError::from)?;
        Ok(())
    }

    fn collection(
        &self,
        dev: DeviceRef<'_>,
        coll: u32,
    ) -> Result<Option<CollectionState>, SyncStateError> {
        self.read_coll(COLLECTIONS, dev, coll, |b| Ok(CollectionState::decode(b)?))
    }

    fn held(&self, dev: DeviceRef<'_>, coll: u32) -> Result<UidSet, SyncStateError> {
        Ok(self
            .read_coll(HELD, dev, coll, |b| Ok(UidSet::decode(b)?))?
            .unwrap_or_default())
    }

    fn commit(&self, dev: DeviceRef<'_>, batch: &Batch<'_>) -> Result<(), SyncStateError> {
        if batch.collections.is_empty() && batch.request.is_none() {
            return Ok(());
        }
        let key = device_key(dev);
        let txn = self.db.begin_write().map_err(StateError::from)?;
        {
            let mut colls = txn.open_table(COLLECTIONS).map_err(StateError::from)?;
            let mut held = txn.open_table(HELD).map_err(StateError::from)?;
            for (coll, state, set) in &batch.collections {
                colls
                    .insert((key.as_str(), *coll), state.encode().as_slice())
                    .map_err(StateError::from)?;
                if let Some(set) = set {
                    held.insert((key.as_str(), *coll), set.encode().as_slice())
                        .map_err(StateError::from)?;
                }
            }
            if let Some(req) = batch.request {
                txn.open_table(REQUESTS)
                    .map_err(StateError::from)?
                    .insert(key.as_str(), req)
                    .map_err(StateError::from)?;
            }
        }
        txn.commit().map_err(StateError::from)?;
        Ok(())
    }

    fn forget(&self, dev: DeviceRef<'_>, coll: u32) -> Result<(), SyncStateError> {
        let key = device_key(dev);
        let txn = self.db.begin_write().map_err(StateError::from)?;
        {
            txn.open_table(COLLECTIONS)
                .map_err(StateError::from)?
                .remove((key.as_str(), coll))
                .map_err(StateError::from)?;
            txn.open_table(HELD)
                .map_err(StateError::from)?
                .remove((key.as_str(), coll))
                .map_err(StateError::from)?;
        }
        txn.commit().map_err(StateError::from)?;
        Ok(())
    }

    fn last_request(&self, dev: DeviceRef<'_>) -> Result<Option<Vec<u8>>, SyncStateError> {
        self.read(REQUESTS, &device_key(dev), |b| Ok(b.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::sync::{Backfill, KeyNo, Outcome, Snapshot};

    fn state(counter: u32) -> CollectionState {
        CollectionState {
            current: Snapshot {
                key: KeyNo { epoch: 7, counter },
                modseq: u64::from(counter) * 10,
                backfill: Backfill::Done,
            },
            previous: None,
            last: Outcome::default(),
            echo: Vec::new(),
            options: Vec::new(),
            filter: 0,
        }
    }

    #[test]
    fn states_survive_reopen_and_devices_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let a = DeviceRef {
            user: "alice@example.com",
            device: "phone",
        };
        let b = DeviceRef {
            user: "alice@example.com",
            device: "tablet",
        };
        {
            let db = Arc::new(crate::state::open_db(&path, 1 << 20).unwrap());
            let s = RedbSyncStates::open(db).unwrap();
            let mut held = UidSet::new();
            held.insert(3);
            let st = state(2);
            s.commit(
                a,
                &Batch {
                    collections: vec![(5, &st, Some(&held))],
                    request: Some(b"req"),
                },
            )
            .unwrap();
            assert!(s.collection(b, 5).unwrap().is_none());
            assert!(s.held(b, 5).unwrap().is_empty());
        }
        let db = Arc::new(crate::state::open_db(&path, 1 << 20).unwrap());
        let s = RedbSyncStates::open(db).unwrap();
        assert_eq!(s.collection(a, 5).unwrap(), Some(state(2)));
        assert!(s.held(a, 5).unwrap().contains(3));
        assert_eq!(s.last_request(a).unwrap().as_deref(), Some(&b"req"[..]));
        let st = state(3);
        s.commit(
            a,
            &Batch {
                collections: vec![(5, &st, None)],
                request: None,
            },
        )
        .unwrap();
        assert!(
            s.held(a, 5).unwrap().contains(3),
            "held kept when not given"
        );
        s.forget(a, 5).unwrap();
        assert!(s.collection(a, 5).unwrap().is_none());
        assert!(s.hierarchy(a).unwrap().is_none());
    }
}
