//! The change index's redb tables and the record-level edits on them. Every
//! edit of an item keeps the five tables consistent inside one transaction.

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};

use super::IndexError;
use crate::state::StateError;
use crate::store::DirStamp;

/// Global counters (the next user number).
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("idx_meta");
/// user → (user number, next collection id of that user).
pub(super) const USERS: TableDefinition<&str, (u32, u32)> = TableDefinition::new("idx_users");
/// (user number, collection name) → collection id.
pub(super) const NAMES: TableDefinition<(u32, &str), u32> = TableDefinition::new("idx_names");
/// collection → its record, see [`Meta`].
pub(super) const COLLS: TableDefinition<u64, CollValue> = TableDefinition::new("idx_colls");
/// (collection, uid) → (created, modseq, live data or `None` for a tombstone).
pub(super) const ITEMS: TableDefinition<(u64, u32), ItemValue> = TableDefinition::new("idx_items");
/// (collection, key) → uid, live items only.
pub(super) const BY_KEY: TableDefinition<(u64, &str), u32> = TableDefinition::new("idx_by_key");
/// (collection, modseq) → uid: the latest change of each item, tombstones included.
pub(super) const CHANGES: TableDefinition<(u64, u64), u32> = TableDefinition::new("idx_changes");
/// (collection, time, uid), live items only, for time filters and newest-first order.
pub(super) const BY_TIME: TableDefinition<(u64, u64, u32), ()> =
    TableDefinition::new("idx_by_time");

/// (name, modseq, floor, next uid, live count, stamp, racy).
type CollValue = CollTuple<'static>;
type CollTuple<'a> = (&'a str, u64, u64, u32, u64, Option<(u64, u64)>, bool);
/// (created, modseq, Some((key, version, time)) while live).
type ItemValue = (u64, u64, Option<(&'static str, &'static str, u64)>);

/// The record of one collection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Meta {
    pub name: String,
    /// The latest change recorded.
    pub modseq: u64,
    /// Tombstones up to here were pruned; older cursors cannot be served.
    pub floor: u64,
    pub next_uid: u32,
    pub count: u64,
    /// The directory stamp of the last scan.
    pub stamp: Option<DirStamp>,
    /// The last scan ran so soon after the stamp's mtimes that a change in
    /// the same timestamp tick could have been missed.
    pub racy: bool,
}

impl Meta {
    pub fn new(name: &str) -> Meta {
        Meta {
            name: name.to_string(),
            modseq: 0,
            floor: 0,
            next_uid: 1,
            count: 0,
            stamp: None,
            racy: false,
        }
    }

    fn from_value(v: CollTuple<'_>) -> Meta {
        let (name, modseq, floor, next_uid, count, stamp, racy) = v;
        Meta {
            name: name.to_string(),
            modseq,
            floor,
            next_uid,
            count,
            stamp: stamp.map(|(n, d)| DirStamp::from_parts(n, d)),
            racy,
        }
    }
}

/// An item as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Stored {
    pub created: u64,
    pub modseq: u64,
    pub live: Option<Live>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Live {
    pub key: String,
    pub version: String,
    pub time: u64,
}

pub(super) fn read_meta(
    table: &impl ReadableTable<u64, CollValue>,
    coll: u64,
) -> Result<Option<Meta>, StateError> {
    Ok(table.get(coll)?.map(|g| Meta::from_value(g.value())))
}

pub(super) fn read_item(
    table: &impl ReadableTable<(u64, u32), ItemValue>,
    coll: u64,
    uid: u32,
) -> Result<Option<Stored>, StateError> {
    Ok(table.get((coll, uid))?.map(|g| {
        let (created, modseq, live) = g.value();
        Stored {
            created,
            modseq,
            live: live.map(|(key, version, time)| Live {
                key: key.to_string(),
                version: version.to_string(),
                time,
            }),
        }
    }))
}

/// Creates every table so that read transactions never meet a missing one.
pub(super) fn create_all(txn: &WriteTransaction) -> Result<(), StateError> {
    txn.open_table(META)?;
    txn.open_table(USERS)?;
    txn.open_table(NAMES)?;
    txn.open_table(COLLS)?;
    txn.open_table(ITEMS)?;
    txn.open_table(BY_KEY)?;
    txn.open_table(CHANGES)?;
    txn.open_table(BY_TIME)?;
    Ok(())
}

/// The item tables of one write transaction.
pub(super) struct Writer<'t> {
    pub colls: Table<'t, u64, CollValue>,
    pub items: Table<'t, (u64, u32), ItemValue>,
    pub by_key: Table<'t, (u64, &'static str), u32>,
    changes: Table<'t, (u64, u64), u32>,
    by_time: Table<'t, (u64, u64, u32), ()>,
}

impl<'t> Writer<'t> {
    pub fn open(txn: &'t WriteTransaction) -> Result<Writer<'t>, StateError> {
        Ok(Writer {
            colls: txn.open_table(COLLS)?,
            items: txn.open_table(ITEMS)?,
            by_key: txn.open_table(BY_KEY)?,
            changes: txn.open_table(CHANGES)?,
            by_time: txn.open_table(BY_TIME)?,
        })
    }

    pub fn save_meta(&mut self, coll: u64, meta: &Meta) -> Result<(), StateError> {
        let stamp = meta.stamp.map(|s| (s.newest_ns(), s.digest()));
        self.colls.insert(
            coll,
            (
                meta.name.as_str(),
                meta.modseq,
                meta.floor,
                meta.next_uid,
                meta.count,
                stamp,
                meta.racy,
            ),
        )?;
        Ok(())
    }

    fn bump(meta: &mut Meta) -> Result<u64, IndexError> {
        meta.modseq = meta.modseq.checked_add(1).ok_or(IndexError::Exhausted)?;
        Ok(meta.modseq)
    }

    /// Records a new item; returns its uid.
    pub fn add(
        &mut self,
        coll: u64,
        meta: &mut Meta,
        key: &str,
        version: &str,
        time: u64,
    ) -> Result<u32, IndexError> {
        let uid = meta.next_uid;
        meta.next_uid = uid.checked_add(1).ok_or(IndexError::Exhausted)?;
        let modseq = Self::bump(meta)?;
        self.items
            .insert((coll, uid), (modseq, modseq, Some((key, version, time))))?;
        self.by_key.insert((coll, key), uid)?;
        self.changes.insert((coll, modseq), uid)?;
        self.by_time.insert((coll, time, uid), ())?;
        meta.count += 1;
        Ok(uid)
    }

    /// Records a new version (and time) of a live item.
    pub fn change(
        &mut self,
        coll: u64,
        meta: &mut Meta,
        uid: u32,
        version: &str,
        time: u64,
    ) -> Result<(), IndexError> {
        let Some(Stored {
            created,
            modseq: old,
            live: Some(live),
        }) = read_item(&self.items, coll, uid)?
        else {
            return Err(IndexError::Corrupt("changed item is not live"));
        };
        let modseq = Self::bump(meta)?;
        self.changes.remove((coll, old))?;
        self.changes.insert((coll, modseq), uid)?;
        if live.time != time {
            self.by_time.remove((coll, live.time, uid))?;
            self.by_time.insert((coll, time, uid), ())?;
        }
        self.items.insert(
            (coll, uid),
            (created, modseq, Some((live.key.as_str(), version, time))),
        )?;
        Ok(())
    }

    /// Turns a live item into a tombstone.
    pub fn remove(&mut self, coll: u64, meta: &mut Meta, uid: u32) -> Result<(), IndexError> {
        let Some(Stored {
            created,
            modseq: old,
            live: Some(live),
        }) = read_item(&self.items, coll, uid)?
        else {
            return Err(IndexError::Corrupt("removed item is not live"));
        };
        let modseq = Self::bump(meta)?;
        self.changes.remove((coll, old))?;
        self.changes.insert((coll, modseq), uid)?;
        self.by_key.remove((coll, live.key.as_str()))?;
        self.by_time.remove((coll, live.time, uid))?;
        self.items.insert((coll, uid), (created, modseq, None))?;
        meta.count = meta.count.saturating_sub(1);
        Ok(())
    }

    /// Forgets tombstones whose removal is at or below `up_to`.
    pub fn prune(&mut self, coll: u64, up_to: u64) -> Result<usize, IndexError> {
        let mut doomed = Vec::new();
        for row in self.changes.range((coll, 0)..=(coll, up_to))? {
            let (k, uid) = row?;
            let uid = uid.value();
            if read_item(&self.items, coll, uid)?.is_some_and(|s| s.live.is_none()) {
                doomed.push((k.value().1, uid));
            }
        }
        for (modseq, uid) in &doomed {
            self.changes.remove((coll, *modseq))?;
            self.items.remove((coll, *uid))?;
        }
        Ok(doomed.len())
    }

    /// Deletes every row of a collection.
    pub fn clear(&mut self, coll: u64) -> Result<(), StateError> {
        self.items
            .retain_in((coll, 0)..=(coll, u32::MAX), |_, _| false)?;
        self.changes
            .retain_in((coll, 0)..=(coll, u64::MAX), |_, _| false)?;
        self.by_time
            .retain_in((coll, 0, 0)..=(coll, u64::MAX, u32::MAX), |_, _| false)?;
        let mut keys = Vec::new();
        for row in self.by_key.range((coll, "")..)? {
            let (k, _) = row?;
            let (c, key) = k.value();
            if c != coll {
                break;
            }
            keys.push(key.to_string());
        }
        for key in &keys {
            self.by_key.remove((coll, key.as_str()))?;
        }
        self.colls.remove(coll)?;
        Ok(())
    }
}
