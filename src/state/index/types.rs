//! The values the change index hands out and takes: ids, items, changes,
//! queries and options.

use std::fmt;
use std::time::Duration;

/// A collection's number, unique per user, never reused: the EAS CollectionId.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionId(pub u32);

impl fmt::Display for CollectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An item's number within its collection, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(pub u32);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A handle on one user's collection, from [`ChangeIndex::collection`](super::ChangeIndex::collection).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Collection {
    pub(super) user_no: u32,
    pub(super) id: CollectionId,
}

impl Collection {
    pub fn id(&self) -> CollectionId {
        self.id
    }

    pub(super) fn key(&self) -> u64 {
        u64::from(self.user_no) << 32 | u64::from(self.id.0)
    }
}

/// One item as a directory scan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanEntry {
    /// The stable name: a Maildir base name, a vdir file name.
    pub key: String,
    /// Changes whenever the item does: Maildir flags, a vdir etag.
    pub version: String,
    /// Unix seconds for time filters: received time, event start.
    pub time: u64,
}

/// A live item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub uid: Uid,
    pub key: String,
    pub version: String,
    pub time: u64,
    /// The modseq at which the item appeared.
    pub created: u64,
    /// The modseq of its latest change.
    pub modseq: u64,
}

impl Item {
    /// Where to continue an [`ItemQuery`] after this item.
    pub fn cursor(&self) -> ItemCursor {
        ItemCursor {
            time: self.time,
            uid: self.uid,
        }
    }
}

/// A position in time order, for paging through [`ChangeIndex::items`](super::ChangeIndex::items).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemCursor {
    pub(super) time: u64,
    pub(super) uid: Uid,
}

impl ItemCursor {
    /// A position kept outside the index, e.g. in a device's sync state.
    pub fn new(time: u64, uid: Uid) -> ItemCursor {
        ItemCursor { time, uid }
    }

    pub fn time(&self) -> u64 {
        self.time
    }

    pub fn uid(&self) -> Uid {
        self.uid
    }
}

/// Which live items to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemQuery {
    /// Only items with `time >= min_time`.
    pub min_time: u64,
    pub newest_first: bool,
    /// Continue after this item (from the previous page's last item).
    pub after: Option<ItemCursor>,
    pub limit: usize,
}

/// One entry of the change log, relative to the cursor it was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// New since the cursor.
    Added(Item),
    /// Known at the cursor, changed since.
    Changed(Item),
    /// Known at the cursor, gone since.
    Removed { uid: Uid, modseq: u64 },
}

/// A page of [`ChangeIndex::changes_since`](super::ChangeIndex::changes_since).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// The cursor to ask with next time.
    pub next: u64,
    /// More changes follow `next`.
    pub more: bool,
}

/// A change easd made itself, recorded without waiting for a rescan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalChange<'a> {
    /// An item appeared or got a new version.
    Upsert {
        key: &'a str,
        version: &'a str,
        time: u64,
    },
    Remove {
        key: &'a str,
    },
}

/// The result of [`ChangeIndex::note_local_change`](super::ChangeIndex::note_local_change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Noted {
    /// The item's uid; `None` when a removed key was unknown.
    pub uid: Option<Uid>,
    /// The modseq of this change, or the item's latest when nothing changed:
    /// a device that already has this state can skip changes up to here for
    /// this uid.
    pub modseq: u64,
}

/// A difference between a collection's directory and the index that no scan has recorded yet,
/// from [`ChangeIndex::preview`](super::ChangeIndex::preview).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unrecorded {
    /// A key the index does not know; `time` as the scan gives it.
    Added { time: u64 },
    /// A known item with another version on disk.
    Changed { uid: Uid, time: u64 },
    /// A known item no longer listed.
    Removed { uid: Uid },
}

/// The result of [`ChangeIndex::preview`](super::ChangeIndex::preview): the collection's modseq
/// as recorded, and what a refresh would add to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    pub modseq: u64,
    pub unrecorded: Vec<Unrecorded>,
}

/// The result of [`ChangeIndex::refresh`](super::ChangeIndex::refresh).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Refreshed {
    pub modseq: u64,
    /// The listing was read (the stamp differed or the last scan was racy).
    pub scanned: bool,
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
}

/// Tuning knobs.
#[derive(Clone, Copy, Debug)]
pub struct IndexOptions {
    /// Item map entries kept in memory over all collections (about 100 bytes
    /// each), the keys a refresh remembers from a Maildir's new/ included;
    /// should exceed the largest folder or its rescans read redb.
    pub cache_entries: usize,
    /// How soon after a directory's mtime a scan counts as racy. Two seconds
    /// covers FAT's granularity and coarse kernel clocks.
    pub racy_window: Duration,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            cache_entries: 100_000,
            racy_window: Duration::from_secs(2),
        }
    }
}
