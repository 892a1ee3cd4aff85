//! The change index: turns directory scans of mail folders and vdir
//! collections into stable numeric ids and a change log, so that a Sync with
//! nothing new costs a stat of the directories and no per-item work.
//! Design and trade-offs: docs/sync-index.md.

mod cache;
mod error;
mod tables;
mod types;

use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use redb::{Database, Durability, ReadableDatabase, ReadableTable};

use self::cache::{Arrivals, Cache, Diff, ItemMap};
use self::tables::{
    BY_KEY, BY_TIME, CHANGES, COLLS, IDENTS, ITEMS, META, Meta, NAMES, USERS, Writer,
    clear_identity, read_item, read_meta,
};
use crate::store::DirStamp;

pub use self::error::{IndexError, RefreshError};
pub use self::types::{
    Change, ChangePage, Collection, CollectionId, IndexOptions, Item, ItemCursor, ItemQuery,
    LocalChange, Noted, Preview, Refreshed, ScanEntry, Uid, Unrecorded,
};

/// Collections are locked in stripes: enough to let users sync in parallel,
/// few enough to need no bookkeeping.
const LOCK_STRIPES: usize = 16;
/// Changes per write transaction during a big scan, to bound redb's dirty
/// pages in memory; a crash in between repeats the scan from where the last
/// durable commit left it.
const CHUNK: usize = 4096;
/// Longest user or collection name accepted.
const NAME_MAX: usize = 1024;
const NEXT_USER: &str = "next_user";

/// The change index over one redb database; `Send + Sync`, one per process.
pub struct ChangeIndex {
    db: Arc<Database>,
    cache: Mutex<Cache>,
    stripes: [Mutex<()>; LOCK_STRIPES],
    racy_ns: u64,
}

impl ChangeIndex {
    pub fn open(db: Arc<Database>, options: IndexOptions) -> Result<ChangeIndex, IndexError> {
        let txn = db.begin_write()?;
        tables::create_all(&txn)?;
        txn.commit()?;
        Ok(ChangeIndex {
            db,
            cache: Mutex::new(Cache::new(options.cache_entries)),
            stripes: std::array::from_fn(|_| Mutex::new(())),
            racy_ns: u64::try_from(options.racy_window.as_nanos()).unwrap_or(u64::MAX),
        })
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serialises scans and local changes of one collection.
    fn lock(&self, coll: Collection) -> MutexGuard<'_, ()> {
        let stripe = (coll.key() % LOCK_STRIPES as u64) as usize;
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn meta(&self, coll: Collection) -> Result<Meta, IndexError> {
        if let Some(meta) = self.cache().meta(coll.key()) {
            return Ok(meta.clone());
        }
        let txn = self.db.begin_read()?;
        let meta =
            read_meta(&txn.open_table(COLLS)?, coll.key())?.ok_or(IndexError::UnknownCollection)?;
        self.cache().set_meta(coll.key(), meta.clone());
        Ok(meta)
    }

    /// The collection `name` of `user`, created with a fresh id on first use.
    pub fn collection(&self, user: &str, name: &str) -> Result<Collection, IndexError> {
        if let Some(found) = self.find_collection(user, name)? {
            return Ok(found);
        }
        check_name(user)?;
        check_name(name)?;
        let txn = self.db.begin_write()?;
        let coll = {
            let mut users = txn.open_table(USERS)?;
            let mut names = txn.open_table(NAMES)?;
            let existing = users.get(user)?.map(|g| g.value());
            let (user_no, next_id) = match existing {
                Some(found) => found,
                None => {
                    let mut meta = txn.open_table(META)?;
                    let next = meta.get(NEXT_USER)?.map_or(0, |g| g.value());
                    let user_no = u32::try_from(next).map_err(|_| IndexError::Exhausted)?;
                    meta.insert(NEXT_USER, next + 1)?;
                    (user_no, 1)
                }
            };
            if let Some(id) = names.get((user_no, name))?.map(|g| g.value()) {
                Collection {
                    user_no,
                    id: CollectionId(id),
                }
            } else {
                let after = next_id.checked_add(1).ok_or(IndexError::Exhausted)?;
                users.insert(user, (user_no, after))?;
                names.insert((user_no, name), next_id)?;
                let coll = Collection {
                    user_no,
                    id: CollectionId(next_id),
                };
                Writer::open(&txn)?.save_meta(coll.key(), &Meta::new(name))?;
                coll
            }
        };
        txn.commit()?;
        Ok(coll)
    }

    pub fn find_collection(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Option<Collection>, IndexError> {
        let txn = self.db.begin_read()?;
        let Some((user_no, _)) = txn.open_table(USERS)?.get(user)?.map(|g| g.value()) else {
            return Ok(None);
        };
        let id = txn
            .open_table(NAMES)?
            .get((user_no, name))?
            .map(|g| g.value());
        Ok(id.map(|id| Collection {
            user_no,
            id: CollectionId(id),
        }))
    }

    /// Resolves an id a device sent.
    pub fn collection_by_id(
        &self,
        user: &str,
        id: CollectionId,
    ) -> Result<Option<Collection>, IndexError> {
        let txn = self.db.begin_read()?;
        let Some((user_no, _)) = txn.open_table(USERS)?.get(user)?.map(|g| g.value()) else {
            return Ok(None);
        };
        let coll = Collection { user_no, id };
        Ok(txn
            .open_table(COLLS)?
            .get(coll.key())?
            .is_some()
            .then_some(coll))
    }

    /// Every collection of `user` with its name, by id.
    pub fn collections(&self, user: &str) -> Result<Vec<(Collection, String)>, IndexError> {
        let txn = self.db.begin_read()?;
        let Some((user_no, _)) = txn.open_table(USERS)?.get(user)?.map(|g| g.value()) else {
            return Ok(Vec::new());
        };
        let first = Collection {
            user_no,
            id: CollectionId(0),
        };
        let last = Collection {
            user_no,
            id: CollectionId(u32::MAX),
        };
        let mut out = Vec::new();
        for row in txn.open_table(COLLS)?.range(first.key()..=last.key())? {
            let (k, v) = row?;
            let id = CollectionId(u32::try_from(k.value() & u64::from(u32::MAX)).unwrap_or(0));
            out.push((Collection { user_no, id }, v.value().0.to_string()));
        }
        Ok(out)
    }

    /// Gives a collection a new name (a renamed folder) keeping its id and items.
    pub fn rename_collection(&self, coll: Collection, new_name: &str) -> Result<(), IndexError> {
        check_name(new_name)?;
        let _guard = self.lock(coll);
        let mut meta = self.meta(coll)?;
        if meta.name == new_name {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        {
            let mut names = txn.open_table(NAMES)?;
            if names.get((coll.user_no, new_name))?.is_some() {
                return Err(IndexError::CollectionExists(new_name.to_string()));
            }
            names.remove((coll.user_no, meta.name.as_str()))?;
            names.insert((coll.user_no, new_name), coll.id.0)?;
            meta.name = new_name.to_string();
            Writer::open(&txn)?.save_meta(coll.key(), &meta)?;
        }
        self.commit(coll, txn, meta)
    }

    /// Forgets a collection and its items; its id is never handed out again.
    pub fn remove_collection(&self, coll: Collection) -> Result<(), IndexError> {
        let _guard = self.lock(coll);
        let meta = self.meta(coll)?;
        let txn = self.db.begin_write()?;
        {
            txn.open_table(NAMES)?
                .remove((coll.user_no, meta.name.as_str()))?;
            Writer::open(&txn)?.clear(coll.key())?;
            clear_identity(&txn, coll.key())?;
        }
        self.cache().forget(coll.key());
        txn.commit()?;
        Ok(())
    }

    /// The identity last recorded for the collection's directory.
    pub fn identity(&self, coll: Collection) -> Result<Option<u64>, IndexError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(IDENTS)?.get(coll.key())?.map(|g| g.value()))
    }

    /// Records the identity of the collection's directory (written only when it changed).
    pub fn set_identity(&self, coll: Collection, identity: u64) -> Result<(), IndexError> {
        if self.identity(coll)? == Some(identity) {
            return Ok(());
        }
        let txn = self.db.begin_write()?;
        txn.open_table(IDENTS)?.insert(coll.key(), identity)?;
        txn.commit()?;
        Ok(())
    }

    /// Commits and caches the new record; forgets the cached state on failure.
    fn commit(
        &self,
        coll: Collection,
        txn: redb::WriteTransaction,
        meta: Meta,
    ) -> Result<(), IndexError> {
        match txn.commit() {
            Ok(()) => {
                self.cache().set_meta(coll.key(), meta);
                Ok(())
            }
            Err(e) => {
                self.cache().forget(coll.key());
                Err(e.into())
            }
        }
    }

    /// Brings the index up to date with the collection's directory. `stamp`
    /// must be taken before `list` runs; `list` is only called when the stamp
    /// differs from the last scan's or that scan was racy.
    pub fn refresh<E>(
        &self,
        coll: Collection,
        stamp: DirStamp,
        list: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
    ) -> Result<Refreshed, RefreshError<E>> {
        self.refresh_in_parts(coll, stamp, None, list, || Ok(Vec::new()))
    }

    /// [`refresh`](Self::refresh) of a collection listed in two parts: `arrivals`, where new
    /// items land (Maildir's new/), and the settled `rest` (cur/), whose own stamp `settled` is
    /// taken with `stamp`. While `settled` stays what the last refresh saw, only the arrivals
    /// are listed: a delivery into a 50,000-message INBOX costs a listing of new/, not of
    /// both.
    pub fn refresh_arrivals<E>(
        &self,
        coll: Collection,
        stamp: DirStamp,
        settled: DirStamp,
        arrivals: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
        rest: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
    ) -> Result<Refreshed, RefreshError<E>> {
        self.refresh_in_parts(coll, stamp, Some(settled), arrivals, rest)
    }

    fn refresh_in_parts<E>(
        &self,
        coll: Collection,
        stamp: DirStamp,
        settled: Option<DirStamp>,
        first: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
        rest: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
    ) -> Result<Refreshed, RefreshError<E>> {
        let _guard = self.lock(coll);
        let mut meta = self.meta(coll).map_err(RefreshError::Index)?;
        if meta.stamp == Some(stamp) && !meta.racy {
            return Ok(Refreshed {
                modseq: meta.modseq,
                ..Refreshed::default()
            });
        }
        let scan_started = now_ns();
        let mut entries = storable(first().map_err(RefreshError::Scan)?);
        let taken = self.cache().take_map(coll.key());
        let mut map = match taken {
            Some(map) => map,
            None => self.load_map(coll).map_err(RefreshError::Index)?,
        };
        let only_arrivals = settled.is_some() && map.arrivals() == settled;
        // A settled part changed within the filesystem's timestamp granularity of the scan could
        // change again without its stamp moving: then the next refresh lists it too.
        let arrived = settled
            .filter(|s| scan_started >= s.newest_ns().saturating_add(self.racy_ns))
            .map(|settled| Arrivals {
                settled,
                keys: entries.iter().map(|e| e.key.as_str().into()).collect(),
            });
        if !only_arrivals {
            match rest() {
                Ok(more) => entries.extend(storable(more)),
                Err(e) => {
                    self.cache().put_map(coll.key(), map);
                    return Err(RefreshError::Scan(e));
                }
            }
        }
        let racy = scan_started < stamp.newest_ns().saturating_add(self.racy_ns);
        let diff = if only_arrivals {
            map.diff_arrivals(entries)
        } else {
            map.diff(entries)
        };
        let outcome = Refreshed {
            modseq: 0,
            scanned: true,
            added: diff.adds.len(),
            changed: diff.changes.len(),
            removed: diff.removes.len(),
        };
        meta.stamp = Some(stamp);
        meta.racy = racy;
        match self.apply(coll, &mut meta, diff, &mut map) {
            Ok(()) => {
                map.set_arrivals(arrived);
                let modseq = meta.modseq;
                let mut cache = self.cache();
                cache.set_meta(coll.key(), meta);
                cache.put_map(coll.key(), map);
                Ok(Refreshed { modseq, ..outcome })
            }
            Err(e) => {
                self.cache().forget(coll.key());
                Err(RefreshError::Index(e))
            }
        }
    }

    /// What [`refresh`](Self::refresh) would find, without recording anything: the modseq as
    /// recorded and the listing's differences from the index (none when the stamp shows the
    /// directory unchanged). It takes neither the collection's lock nor a write transaction, so
    /// a held Ping can look at its folder while Syncs are committing. The modseq and the
    /// item map it compares with come from one consistent state; `stamp` must be taken before
    /// `list` runs.
    pub fn preview<E>(
        &self,
        coll: Collection,
        stamp: DirStamp,
        list: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
    ) -> Result<Preview, RefreshError<E>> {
        self.preview_in_parts(coll, stamp, None, list, || Ok(Vec::new()))
    }

    /// [`preview`](Self::preview) of a collection listed in two parts, `arrivals` (where new
    /// items land) before `rest`; `stamps` gives the whole collection's stamp and the rest's own
    /// (`settled`, see [`refresh_arrivals`](Self::refresh_arrivals)). An arrival the index does
    /// not know, with a time at or after `since`, is the whole answer (a Preview holding that one
    /// addition): whoever asks needs only to know whether there is something new for a device,
    /// and one such item says so. The arrivals are looked at before the stamps are taken, since
    /// such an item answers whatever they say (in a burst of deliveries the two stats were a third
    /// of a held Ping's check); otherwise the preview goes on as [`preview`](Self::preview) does,
    /// listing the arrivals again after the stamps, and the rest too unless the last refresh left
    /// it known by `settled`.
    pub fn preview_arrivals_first<E>(
        &self,
        coll: Collection,
        since: u64,
        stamps: impl FnOnce() -> Result<(DirStamp, DirStamp), E>,
        arrivals: impl Fn() -> Result<Vec<ScanEntry>, E>,
        rest: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
    ) -> Result<Preview, RefreshError<E>> {
        let early = storable(arrivals().map_err(RefreshError::Scan)?);
        if let Some(found) = self
            .unknown_arrival(coll, &early, since)
            .map_err(RefreshError::Index)?
        {
            return Ok(found);
        }
        let (stamp, settled) = stamps().map_err(RefreshError::Scan)?;
        self.preview_in_parts(coll, stamp, Some((settled, since)), arrivals, rest)
    }

    /// The first of `entries` with a time at or after `since` that the index does not hold, as a
    /// Preview holding that one addition, from the cached item map or else by key lookups.
    fn unknown_arrival(
        &self,
        coll: Collection,
        entries: &[ScanEntry],
        since: u64,
    ) -> Result<Option<Preview>, IndexError> {
        let cached = self
            .cache()
            .record(coll.key())
            .map(|(meta, map)| (meta.modseq, map.unknown_since(entries, since)));
        let found = match cached {
            Some((modseq, time)) => time.map(|time| (modseq, time)),
            None => self.unknown_since(coll, entries, since)?,
        };
        Ok(found.map(|(modseq, time)| Preview {
            modseq,
            unrecorded: vec![Unrecorded::Added { time }],
        }))
    }

    fn preview_in_parts<E>(
        &self,
        coll: Collection,
        stamp: DirStamp,
        parts: Option<(DirStamp, u64)>,
        first: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
        rest: impl FnOnce() -> Result<Vec<ScanEntry>, E>,
    ) -> Result<Preview, RefreshError<E>> {
        let meta = self.meta(coll).map_err(RefreshError::Index)?;
        if meta.stamp == Some(stamp) && !meta.racy {
            return Ok(Preview {
                modseq: meta.modseq,
                unrecorded: Vec::new(),
            });
        }
        let mut entries = storable(first().map_err(RefreshError::Scan)?);
        if let Some((settled, since)) = parts {
            // One may have arrived since the first look.
            if let Some(arrival) = self
                .unknown_arrival(coll, &entries, since)
                .map_err(RefreshError::Index)?
            {
                return Ok(arrival);
            }
            let settled = self.cache().record(coll.key()).and_then(|(meta, map)| {
                (map.arrivals() == Some(settled)).then(|| Preview {
                    modseq: meta.modseq,
                    unrecorded: map.compare_arrivals(&entries),
                })
            });
            if let Some(preview) = settled {
                return Ok(preview);
            }
        }
        entries.extend(storable(rest().map_err(RefreshError::Scan)?));
        let compare = |modseq, map: &ItemMap| Preview {
            modseq,
            unrecorded: map.compare(&entries),
        };
        if let Some((meta, map)) = self.cache().record(coll.key()) {
            return Ok(compare(meta.modseq, map));
        }
        let (modseq, map) = self.recorded(coll).map_err(RefreshError::Index)?;
        Ok(compare(modseq, &map))
    }

    /// The first of `entries` with a time at or after `since` whose key the index does not
    /// hold, with the collection's modseq, both from one read transaction.
    fn unknown_since(
        &self,
        coll: Collection,
        entries: &[ScanEntry],
        since: u64,
    ) -> Result<Option<(u64, u64)>, IndexError> {
        let txn = self.db.begin_read()?;
        let meta =
            read_meta(&txn.open_table(COLLS)?, coll.key())?.ok_or(IndexError::UnknownCollection)?;
        let by_key = txn.open_table(BY_KEY)?;
        for e in entries.iter().filter(|e| e.time >= since) {
            if by_key.get((coll.key(), e.key.as_str()))?.is_none() {
                return Ok(Some((meta.modseq, e.time)));
            }
        }
        Ok(None)
    }

    /// The modseq and item map of `coll`, from one read transaction.
    fn recorded(&self, coll: Collection) -> Result<(u64, ItemMap), IndexError> {
        let txn = self.db.begin_read()?;
        let meta =
            read_meta(&txn.open_table(COLLS)?, coll.key())?.ok_or(IndexError::UnknownCollection)?;
        Ok((meta.modseq, map_in(&txn, coll)?))
    }

    fn load_map(&self, coll: Collection) -> Result<ItemMap, IndexError> {
        map_in(&self.db.begin_read()?, coll)
    }

    /// Writes a scan's changes in chunks, oldest additions first so that
    /// modseq order roughly follows arrival order; the stamp goes with the
    /// last chunk, the only one that waits for the disk (a first scan of a
    /// 50,000-message folder waited for thirteen). A scan that changed nothing
    /// only updates the stamp, which needs no fsync: losing it merely repeats
    /// the scan.
    fn apply(
        &self,
        coll: Collection,
        meta: &mut Meta,
        mut diff: Diff,
        map: &mut ItemMap,
    ) -> Result<(), IndexError> {
        let c = coll.key();
        if diff.is_empty() {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::None)?;
            Writer::open(&txn)?.save_meta(c, meta)?;
            return Ok(txn.commit()?);
        }
        diff.adds
            .sort_unstable_by(|a, b| (a.time, &a.key).cmp(&(b.time, &b.key)));
        let mut removes = diff.removes.into_iter().peekable();
        let mut changes = diff.changes.into_iter().peekable();
        let mut adds = diff.adds.into_iter().peekable();
        loop {
            let mut txn = self.db.begin_write()?;
            // redb's commits are durable in order: the last chunk's makes the earlier ones
            // durable with it, and a crash before it loses chunks that carry no stamp, so
            // the next scan finds their messages again.
            txn.set_durability(Durability::None)?;
            {
                let mut w = Writer::open(&txn)?;
                let mut removed = Vec::new();
                for _ in 0..CHUNK {
                    if let Some(uid) = removes.next() {
                        w.remove(c, meta, uid)?;
                        removed.push(uid);
                    } else if let Some((uid, e)) = changes.next() {
                        w.change(c, meta, uid, &e.version, e.time)?;
                        map.insert(&e.key, uid, &e.version);
                    } else if let Some(e) = adds.next() {
                        let uid = w.add(c, meta, &e.key, &e.version, e.time)?;
                        map.insert(&e.key, uid, &e.version);
                    } else {
                        break;
                    }
                }
                map.remove_uids(&removed);
                let done =
                    removes.peek().is_none() && changes.peek().is_none() && adds.peek().is_none();
                let mut saved = meta.clone();
                if !done {
                    saved.stamp = None;
                }
                w.save_meta(c, &saved)?;
                if done {
                    drop(w);
                    txn.set_durability(Durability::Immediate)?;
                    return Ok(txn.commit()?);
                }
            }
            txn.commit()?;
        }
    }

    /// Records a change easd itself just made on disk, so devices see it
    /// without a rescan. Idempotent: an upsert of the current version or the
    /// removal of an unknown key changes nothing.
    pub fn note_local_change(
        &self,
        coll: Collection,
        change: LocalChange<'_>,
    ) -> Result<Noted, IndexError> {
        let _guard = self.lock(coll);
        let mut meta = self.meta(coll)?;
        let c = coll.key();
        let txn = self.db.begin_write()?;
        let noted = {
            let mut w = Writer::open(&txn)?;
            let key = match change {
                LocalChange::Upsert { key, .. } | LocalChange::Remove { key } => key,
            };
            let uid = w.by_key.get((c, key))?.map(|g| g.value());
            let uid = match (change, uid) {
                (LocalChange::Upsert { key, version, time }, None) => {
                    check_key(key)?;
                    let uid = w.add(c, &mut meta, key, version, time)?;
                    self.cache().with_map(c, |m| m.insert(key, uid, version));
                    Some(Uid(uid))
                }
                (LocalChange::Upsert { key, version, time }, Some(uid)) => {
                    let stored = read_item(&w.items, c, uid)?;
                    let same = stored
                        .as_ref()
                        .and_then(|s| s.live.as_ref())
                        .is_some_and(|live| live.version == version && live.time == time);
                    if same {
                        let modseq = stored.map_or(meta.modseq, |s| s.modseq);
                        return Ok(Noted {
                            uid: Some(Uid(uid)),
                            modseq,
                        });
                    }
                    w.change(c, &mut meta, uid, version, time)?;
                    self.cache().with_map(c, |m| m.insert(key, uid, version));
                    Some(Uid(uid))
                }
                (LocalChange::Remove { .. }, None) => {
                    return Ok(Noted {
                        uid: None,
                        modseq: meta.modseq,
                    });
                }
                (LocalChange::Remove { key }, Some(uid)) => {
                    w.remove(c, &mut meta, uid)?;
                    self.cache().with_map(c, |m| m.remove(key));
                    Some(Uid(uid))
                }
            };
            w.save_meta(c, &meta)?;
            uid
        };
        let modseq = meta.modseq;
        self.commit(coll, txn, meta)?;
        Ok(Noted { uid: noted, modseq })
    }

    /// Moves a live item to a new key, keeping its uid: a message easd rewrote under a new file
    /// name (an edited draft). Recorded as one change, which every device sees. An item a scan
    /// already indexed under `new_key` (it raced the rewrite) is removed. Returns the modseq.
    pub fn rekey(
        &self,
        coll: Collection,
        uid: Uid,
        new_key: &str,
        version: &str,
        time: u64,
    ) -> Result<u64, IndexError> {
        check_key(new_key)?;
        let _guard = self.lock(coll);
        let mut meta = self.meta(coll)?;
        let c = coll.key();
        let txn = self.db.begin_write()?;
        {
            let mut w = Writer::open(&txn)?;
            let raced = w.by_key.get((c, new_key))?.map(|g| g.value());
            if let Some(other) = raced.filter(|&o| o != uid.0) {
                w.remove(c, &mut meta, other)?;
                self.cache().with_map(c, |m| m.remove(new_key));
            }
            let old_key = w.rekey(c, &mut meta, uid.0, new_key, version, time)?;
            self.cache().with_map(c, |m| {
                m.remove(&old_key);
                m.insert(new_key, uid.0, version);
            });
            w.save_meta(c, &meta)?;
        }
        let modseq = meta.modseq;
        self.commit(coll, txn, meta)?;
        Ok(modseq)
    }

    /// The latest modseq of the collection.
    pub fn modseq(&self, coll: Collection) -> Result<u64, IndexError> {
        Ok(self.meta(coll)?.modseq)
    }

    /// The number of live items.
    pub fn count(&self, coll: Collection) -> Result<u64, IndexError> {
        Ok(self.meta(coll)?.count)
    }

    pub fn item(&self, coll: Collection, uid: Uid) -> Result<Option<Item>, IndexError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ITEMS)?;
        Ok(read_item(&table, coll.key(), uid.0)?.and_then(|s| live_item(uid, s)))
    }

    pub fn uid_of(&self, coll: Collection, key: &str) -> Result<Option<Uid>, IndexError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BY_KEY)?;
        Ok(table.get((coll.key(), key))?.map(|g| Uid(g.value())))
    }

    /// Live items in time order, filtered and paged.
    pub fn items(&self, coll: Collection, query: &ItemQuery) -> Result<Vec<Item>, IndexError> {
        let c = coll.key();
        let txn = self.db.begin_read()?;
        let by_time = txn.open_table(BY_TIME)?;
        let items = txn.open_table(ITEMS)?;
        let mut low = Bound::Included((c, query.min_time, 0));
        let mut high = Bound::Included((c, u64::MAX, u32::MAX));
        if let Some(after) = query.after {
            let at = (c, after.time, after.uid.0);
            if query.newest_first {
                if after.time < query.min_time {
                    return Ok(Vec::new());
                }
                high = Bound::Excluded(at);
            } else if after.time >= query.min_time {
                low = Bound::Excluded(at);
            }
        }
        let range = by_time.range::<(u64, u64, u32)>((low, high))?;
        let rows: Box<dyn Iterator<Item = _>> = if query.newest_first {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out = Vec::new();
        for row in rows.take(query.limit) {
            let (k, _) = row?;
            let (_, _, uid) = k.value();
            let stored =
                read_item(&items, c, uid)?.ok_or(IndexError::Corrupt("time row without item"))?;
            out.push(
                live_item(Uid(uid), stored).ok_or(IndexError::Corrupt("time row of tombstone"))?,
            );
        }
        Ok(out)
    }

    /// Changes after the cursor `since` (a modseq the device was given),
    /// oldest first, at most `limit`. Items added and removed after `since`
    /// are skipped.
    pub fn changes_since(
        &self,
        coll: Collection,
        since: u64,
        limit: usize,
    ) -> Result<ChangePage, IndexError> {
        let c = coll.key();
        let txn = self.db.begin_read()?;
        let meta = read_meta(&txn.open_table(COLLS)?, c)?.ok_or(IndexError::UnknownCollection)?;
        if since < meta.floor || since > meta.modseq {
            return Err(IndexError::CursorOutOfRange {
                since,
                floor: meta.floor,
                current: meta.modseq,
            });
        }
        let items = txn.open_table(ITEMS)?;
        let mut page = ChangePage {
            changes: Vec::new(),
            next: since,
            more: false,
        };
        for row in txn
            .open_table(CHANGES)?
            .range((c, since.saturating_add(1))..=(c, u64::MAX))?
        {
            let (k, uid) = row?;
            if page.changes.len() >= limit {
                page.more = true;
                break;
            }
            let (_, modseq) = k.value();
            let uid = Uid(uid.value());
            let stored =
                read_item(&items, c, uid.0)?.ok_or(IndexError::Corrupt("change without item"))?;
            let fresh = stored.created > since;
            let change = match live_item(uid, stored) {
                Some(item) if fresh => Some(Change::Added(item)),
                Some(item) => Some(Change::Changed(item)),
                None if fresh => None,
                None => Some(Change::Removed { uid, modseq }),
            };
            page.changes.extend(change);
            page.next = modseq;
        }
        Ok(page)
    }

    /// Forgets tombstones up to `up_to` (a modseq every device has synced
    /// past); cursors below it then get [`IndexError::CursorOutOfRange`].
    pub fn prune(&self, coll: Collection, up_to: u64) -> Result<usize, IndexError> {
        let _guard = self.lock(coll);
        let mut meta = self.meta(coll)?;
        let up_to = up_to.min(meta.modseq);
        if up_to <= meta.floor {
            return Ok(0);
        }
        let txn = self.db.begin_write()?;
        let pruned = {
            let mut w = Writer::open(&txn)?;
            let pruned = w.prune(coll.key(), up_to)?;
            meta.floor = up_to;
            w.save_meta(coll.key(), &meta)?;
            pruned
        };
        self.commit(coll, txn, meta)?;
        Ok(pruned)
    }
}

fn live_item(uid: Uid, stored: tables::Stored) -> Option<Item> {
    let live = stored.live?;
    Some(Item {
        uid,
        key: live.key,
        version: live.version,
        time: live.time,
        created: stored.created,
        modseq: stored.modseq,
    })
}

fn check_name(name: &str) -> Result<(), IndexError> {
    if name.is_empty() || name.len() > NAME_MAX {
        Err(IndexError::InvalidName(name.to_string()))
    } else {
        Ok(())
    }
}

/// The item map of `coll` as `txn` sees it.
fn map_in(txn: &redb::ReadTransaction, coll: Collection) -> Result<ItemMap, IndexError> {
    let table = txn.open_table(ITEMS)?;
    let mut map = ItemMap::default();
    for row in table.range((coll.key(), 0)..=(coll.key(), u32::MAX))? {
        let (k, v) = row?;
        if let (_, _, Some((key, version, _))) = v.value() {
            map.insert(key, k.value().1, version);
        }
    }
    Ok(map)
}

fn check_key(key: &str) -> Result<(), IndexError> {
    check_name(key)
}

/// The entries of a listing whose keys the index can hold; others are left out of every
/// comparison, as if not listed.
fn storable(mut entries: Vec<ScanEntry>) -> Vec<ScanEntry> {
    entries.retain(|e| check_key(&e.key).is_ok());
    entries
}

fn now_ns() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
