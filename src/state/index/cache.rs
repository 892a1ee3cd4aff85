//! The memory side of the change index: collection records for the O(1)
//! no-change check, and item maps (key → uid, version) of recently scanned
//! collections so that a rescan is a diff in memory rather than a read of
//! every record. Bounded by a total number of cached items.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use super::tables::Meta;
use super::{ScanEntry, Uid, Unrecorded};
use crate::store::DirStamp;

/// A version string in eight bytes: short ones (Maildir flags) exactly,
/// longer ones (vdir etags) as a 63-bit hash. Only ever compared in memory,
/// so the hash need not be stable across releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct VersionTag(u64);

impl VersionTag {
    fn of(version: &str) -> VersionTag {
        let bytes = version.as_bytes();
        if let Ok(len) = u8::try_from(bytes.len())
            && len < 8
        {
            let mut buf = [0u8; 8];
            buf.iter_mut().zip(bytes).for_each(|(d, s)| *d = *s);
            buf[7] = len;
            return VersionTag(u64::from_le_bytes(buf));
        }
        let mut hasher = DefaultHasher::new();
        version.hash(&mut hasher);
        VersionTag(hasher.finish() | 1 << 63)
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    uid: u32,
    /// The scan that last saw this key; older means removed.
    seen: u32,
    version: VersionTag,
}

/// What a scan found different from the map.
#[derive(Debug, Default)]
pub(super) struct Diff {
    pub adds: Vec<ScanEntry>,
    pub changes: Vec<(u32, ScanEntry)>,
    pub removes: Vec<u32>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.changes.is_empty() && self.removes.is_empty()
    }
}

/// The live items of one collection.
#[derive(Debug, Default)]
pub(super) struct ItemMap {
    slots: HashMap<Box<str>, Slot>,
    epoch: u32,
    /// What the last refresh learnt of a collection listed in two parts (see [`Arrivals`]);
    /// dropped by any change recorded outside a refresh.
    arrivals: Option<Arrivals>,
}

/// For a collection listed as arrivals (Maildir's new/) and the settled rest (cur/): the rest's
/// stamp when the last refresh read it, not racy, and the keys it found among the arrivals.
/// While the rest's stamp stays the same, its items are those the map holds outside `keys`, so
/// a refresh need only list the arrivals: the items of `keys` no longer there are gone.
#[derive(Debug)]
pub(super) struct Arrivals {
    pub settled: DirStamp,
    pub keys: HashSet<Box<str>>,
}

impl ItemMap {
    /// What the map counts against the cache's budget: its items and the arrivals' keys.
    pub fn weight(&self) -> usize {
        self.slots.len() + self.arrivals.as_ref().map_or(0, |a| a.keys.len())
    }

    pub fn insert(&mut self, key: &str, uid: u32, version: &str) {
        let slot = Slot {
            uid,
            seen: self.epoch,
            version: VersionTag::of(version),
        };
        self.slots.insert(key.into(), slot);
    }

    pub fn remove(&mut self, key: &str) {
        self.slots.remove(key);
    }

    /// Compares a fresh listing with the map. Duplicate keys (a file seen
    /// twice while being renamed) count once. The map itself only learns the
    /// result through `insert`/`remove` once it has been written.
    pub fn diff(&mut self, entries: Vec<ScanEntry>) -> Diff {
        let mut diff = self.mark(entries);
        let epoch = self.epoch;
        diff.removes = self
            .slots
            .values()
            .filter(|s| s.seen != epoch)
            .map(|s| s.uid)
            .collect();
        diff
    }

    /// [`diff`](Self::diff) for a listing of the arrivals alone, the settled rest unchanged
    /// since the last refresh (the caller checked [`arrivals`](Self::arrivals)): removed are
    /// only the keys that were among the arrivals and are listed no more.
    pub fn diff_arrivals(&mut self, entries: Vec<ScanEntry>) -> Diff {
        let before = self.arrivals.take().map(|a| a.keys).unwrap_or_default();
        let mut diff = self.mark(entries);
        let epoch = self.epoch;
        diff.removes = before
            .iter()
            .filter_map(|k| self.slots.get(k))
            .filter(|s| s.seen != epoch)
            .map(|s| s.uid)
            .collect();
        diff
    }

    /// Marks the listed keys seen in a new epoch; the adds and changes they make.
    fn mark(&mut self, entries: Vec<ScanEntry>) -> Diff {
        self.next_epoch();
        let epoch = self.epoch;
        let mut diff = Diff::default();
        for entry in entries {
            match self.slots.get_mut(entry.key.as_str()) {
                Some(slot) if slot.seen == epoch => {}
                Some(slot) => {
                    slot.seen = epoch;
                    if slot.version != VersionTag::of(&entry.version) {
                        diff.changes.push((slot.uid, entry));
                    }
                }
                None => diff.adds.push(entry),
            }
        }
        diff.adds.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        diff.adds.dedup_by(|a, b| a.key == b.key);
        diff
    }

    /// The settled part's stamp the last refresh left, if it listed the collection in parts.
    pub fn arrivals(&self) -> Option<DirStamp> {
        self.arrivals.as_ref().map(|a| a.settled)
    }

    pub fn set_arrivals(&mut self, arrivals: Option<Arrivals>) {
        self.arrivals = arrivals;
    }

    /// What a fresh listing differs in from the map, like [`ItemMap::diff`] but leaving the map
    /// untouched, so it can run on a shared map without the collection's lock.
    pub fn compare(&self, entries: &[ScanEntry]) -> Vec<Unrecorded> {
        let (listed, known, mut out) = self.compare_listed(entries);
        if known < self.slots.len() {
            out.extend(
                self.slots
                    .iter()
                    .filter(|(key, _)| !listed.contains(&key[..]))
                    .map(|(_, s)| Unrecorded::Removed { uid: Uid(s.uid) }),
            );
        }
        out
    }

    /// [`compare`](Self::compare) for a listing of the arrivals alone, the settled rest
    /// unchanged since the last refresh (the caller checked [`arrivals`](Self::arrivals)).
    pub fn compare_arrivals(&self, entries: &[ScanEntry]) -> Vec<Unrecorded> {
        let (listed, _, mut out) = self.compare_listed(entries);
        if let Some(arrivals) = &self.arrivals {
            out.extend(
                arrivals
                    .keys
                    .iter()
                    .filter(|key| !listed.contains(&key[..]))
                    .filter_map(|key| self.slots.get(key))
                    .map(|s| Unrecorded::Removed { uid: Uid(s.uid) }),
            );
        }
        out
    }

    /// The listed keys, how many of them the map knows, and the additions and changes.
    fn compare_listed<'e>(
        &self,
        entries: &'e [ScanEntry],
    ) -> (HashSet<&'e str>, usize, Vec<Unrecorded>) {
        let mut listed: HashSet<&str> = HashSet::with_capacity(entries.len());
        let mut known = 0;
        let mut out = Vec::new();
        for entry in entries {
            if !listed.insert(entry.key.as_str()) {
                continue;
            }
            match self.slots.get(entry.key.as_str()) {
                Some(slot) => {
                    known += 1;
                    if slot.version != VersionTag::of(&entry.version) {
                        out.push(Unrecorded::Changed {
                            uid: Uid(slot.uid),
                            time: entry.time,
                        });
                    }
                }
                None => out.push(Unrecorded::Added { time: entry.time }),
            }
        }
        (listed, known, out)
    }

    /// The time of the first listed entry the map does not know with a time at or after
    /// `since`.
    pub fn unknown_since(&self, entries: &[ScanEntry], since: u64) -> Option<u64> {
        entries
            .iter()
            .find(|e| e.time >= since && !self.slots.contains_key(e.key.as_str()))
            .map(|e| e.time)
    }

    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.slots.values_mut().for_each(|s| s.seen = 0);
            self.epoch = 1;
        }
    }

    /// Drops every key whose uid is in `uids` (after a scan's removals).
    pub fn remove_uids(&mut self, uids: &[u32]) {
        if uids.is_empty() {
            return;
        }
        let doomed: std::collections::HashSet<u32> = uids.iter().copied().collect();
        self.slots.retain(|_, s| !doomed.contains(&s.uid));
    }
}

/// Everything cached, behind the index's one mutex.
#[derive(Debug)]
pub(super) struct Cache {
    metas: HashMap<u64, Meta>,
    maps: HashMap<u64, (ItemMap, u64)>,
    total: usize,
    clock: u64,
    budget: usize,
}

impl Cache {
    pub fn new(budget: usize) -> Cache {
        Cache {
            metas: HashMap::new(),
            maps: HashMap::new(),
            total: 0,
            clock: 0,
            budget,
        }
    }

    pub fn meta(&self, coll: u64) -> Option<&Meta> {
        self.metas.get(&coll)
    }

    pub fn set_meta(&mut self, coll: u64, meta: Meta) {
        self.metas.insert(coll, meta);
    }

    pub fn forget(&mut self, coll: u64) {
        self.metas.remove(&coll);
        self.take_map(coll);
    }

    /// Removes the map for exclusive use while the collection is locked.
    pub fn take_map(&mut self, coll: u64) -> Option<ItemMap> {
        let (map, _) = self.maps.remove(&coll)?;
        self.total = self.total.saturating_sub(map.weight());
        Some(map)
    }

    /// Keeps a map, evicting the least recently used others to stay within
    /// budget. A map larger than the whole budget is not kept at all.
    pub fn put_map(&mut self, coll: u64, map: ItemMap) {
        if map.weight() > self.budget {
            return;
        }
        self.clock += 1;
        self.total += map.weight();
        self.maps.insert(coll, (map, self.clock));
        while self.total > self.budget {
            let oldest = self
                .maps
                .iter()
                .filter(|(c, _)| **c != coll)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(c, _)| *c);
            match oldest {
                Some(c) => {
                    self.take_map(c);
                }
                None => break,
            }
        }
    }

    /// The cached record and map of `coll`, when both are here (a refresh in progress has
    /// taken the map).
    pub fn record(&self, coll: u64) -> Option<(&Meta, &ItemMap)> {
        Some((self.metas.get(&coll)?, &self.maps.get(&coll)?.0))
    }

    /// Runs `f` on the cached map of `coll`, if there is one, for a change recorded outside a
    /// refresh: the next refresh cannot trust its arrivals any more and lists everything.
    pub fn with_map(&mut self, coll: u64, f: impl FnOnce(&mut ItemMap)) {
        if let Some((map, _)) = self.maps.get_mut(&coll) {
            let before = map.weight();
            map.arrivals = None;
            f(map);
            self.total = self.total.saturating_sub(before) + map.weight();
        }
    }

    #[cfg(test)]
    pub fn cached_items(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, version: &str) -> ScanEntry {
        ScanEntry {
            key: key.into(),
            version: version.into(),
            time: 0,
        }
    }

    #[test]
    fn version_tags() {
        assert_eq!(VersionTag::of("S"), VersionTag::of("S"));
        assert_ne!(VersionTag::of("S"), VersionTag::of("FS"));
        assert_ne!(VersionTag::of(""), VersionTag::of("\0"));
        let long = "1700000000123456789-4096";
        assert_eq!(VersionTag::of(long), VersionTag::of(long));
        assert_ne!(
            VersionTag::of(long),
            VersionTag::of("1700000000123456789-4097")
        );
    }

    #[test]
    fn diff_finds_adds_changes_removes_once() {
        let mut map = ItemMap::default();
        map.insert("a", 1, "S");
        map.insert("b", 2, "");
        map.insert("c", 3, "");
        let diff = map.diff(vec![
            entry("a", "S"),
            entry("b", "F"),
            entry("b", "F"),
            entry("d", ""),
            entry("d", ""),
        ]);
        assert_eq!(diff.adds.len(), 1);
        assert_eq!(diff.changes.len(), 1);
        assert_eq!(diff.changes[0].0, 2);
        assert_eq!(diff.removes, [3]);
        let again = map.diff(vec![entry("a", "S"), entry("b", ""), entry("c", "")]);
        assert!(again.is_empty());
    }

    #[test]
    fn epoch_wrap_resets() {
        let mut map = ItemMap::default();
        map.insert("a", 1, "");
        map.epoch = u32::MAX;
        let diff = map.diff(vec![entry("a", "")]);
        assert!(diff.is_empty());
        assert_eq!(map.epoch, 1);
    }

    #[test]
    fn budget_evicts_least_recently_used() {
        let mut cache = Cache::new(5);
        let map_of = |n: u32| {
            let mut m = ItemMap::default();
            (0..n).for_each(|i| m.insert(&i.to_string(), i, ""));
            m
        };
        cache.put_map(1, map_of(2));
        cache.put_map(2, map_of(2));
        cache.put_map(3, map_of(2));
        assert!(cache.take_map(1).is_none());
        assert_eq!(cache.cached_items(), 4);
        cache.put_map(4, map_of(9));
        assert!(cache.take_map(4).is_none());
        cache.with_map(2, |m| m.insert("x", 9, ""));
        assert_eq!(cache.cached_items(), 5);
    }

    #[test]
    fn remembered_arrivals_count_against_the_budget_until_a_local_change() {
        let mut cache = Cache::new(4);
        let mut map = ItemMap::default();
        map.insert("a", 1, "");
        map.insert("n", 2, "");
        map.set_arrivals(Some(Arrivals {
            settled: DirStamp::from_parts(1, 1),
            keys: ["n".into()].into_iter().collect(),
        }));
        cache.put_map(1, map);
        assert_eq!(cache.cached_items(), 3);
        cache.with_map(1, |m| m.remove("a"));
        assert_eq!(cache.cached_items(), 1);
        let map = cache.take_map(1).unwrap();
        assert_eq!(map.arrivals(), None);
        assert_eq!(cache.cached_items(), 0);
    }

    #[test]
    fn a_listing_of_arrivals_removes_only_arrivals() {
        let mut map = ItemMap::default();
        map.insert("settled", 1, "S");
        map.insert("n1", 2, "");
        map.insert("n2", 3, "");
        map.set_arrivals(Some(Arrivals {
            settled: DirStamp::from_parts(1, 1),
            keys: ["n1".into(), "n2".into()].into_iter().collect(),
        }));
        assert_eq!(
            map.compare_arrivals(&[entry("n2", ""), entry("n3", "")]),
            [
                Unrecorded::Added { time: 0 },
                Unrecorded::Removed { uid: Uid(2) }
            ]
        );
        let diff = map.diff_arrivals(vec![entry("n2", "S"), entry("n3", "")]);
        assert_eq!(diff.removes, [2]);
        assert_eq!(diff.changes.len(), 1);
        assert_eq!(diff.adds.len(), 1);
        assert_eq!(map.arrivals(), None, "the refresh sets them anew");
    }
}
