//! The word index of mail folders, in the state database beside the change index: for each
//! (user, collection, word, block) the sorted uids of that block's messages containing the word,
//! delta-varint encoded, and per collection the change-index modseq up to which messages were read.
//! Messages never change content (a Maildir file keeps its body; only flags move), so new uids are
//! all there is to add; uids of deleted messages stay in the lists and are dropped at query time.
//!
//! Blocks of [`BLOCK`] uids keep catching up cheap: new messages get the highest uids, so they
//! only ever rewrite the last block of each of their words, never a common word's whole list.
//! Keys are single byte strings (collection prefix, word, NUL, block) rather than redb tuples:
//! a build writes hundreds of thousands of rows, and a tuple key is decoded and UTF-8 checked at
//! every compare of every B-tree descent.

use crate::state::index::{Change, ChangeIndex, Collection, IndexError, Item, ItemQuery};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// Key: [`prefix`] ++ word ++ NUL ++ block (u32 big-endian); value: the block's uids.
const POSTINGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("search_words");
/// Key: [`prefix`]; value: the modseq indexed and one past the highest uid ever written.
const MARKS: TableDefinition<&[u8], (u64, u32)> = TableDefinition::new("search_marks");
/// Tables of earlier layouts, dropped when the server starts: their folders are read again.
const OLD_TABLES: [&str; 4] = [
    "search_postings",
    "search_indexed",
    "search_postings_blocks",
    "search_indexed_blocks",
];

/// Uids per posting block.
const BLOCK: u32 = 4096;

/// Posting rows written per transaction.
const ROWS: usize = 4096;

/// Messages read per change-index page while catching up.
pub const PAGE: usize = 2000;

/// Messages whose words are held in memory before they are written out: bounds a build's memory
/// to a few megabytes whatever the folder's size.
const FLUSH: usize = 4096;

/// The key prefix of a collection's rows: user names hold no NUL, so no user's prefix is the
/// start of another's.
fn prefix(user: &str, coll: Collection) -> Vec<u8> {
    let mut p = Vec::with_capacity(user.len() + 5);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.extend_from_slice(&coll.id().0.to_be_bytes());
    p
}

/// Words are letters and digits, so the NUL after the word ends it: "ab" sorts before "abc".
fn posting_key(prefix: &[u8], word: &str, block: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + word.len() + 5);
    k.extend_from_slice(prefix);
    k.extend_from_slice(word.as_bytes());
    k.push(0);
    k.extend_from_slice(&block.to_be_bytes());
    k
}

/// Drops the tables of earlier index layouts; the folders they covered are indexed again.
pub fn drop_old_layouts(db: &Database) -> Result<(), SearchIndexError> {
    let txn = db.begin_write()?;
    let mut dropped = false;
    for name in OLD_TABLES {
        dropped |= txn.delete_table(TableDefinition::<&[u8], &[u8]>::new(name))?;
    }
    if dropped {
        txn.commit()?;
    } else {
        txn.abort()?;
    }
    Ok(())
}

#[derive(Debug)]
pub enum SearchIndexError {
    Db(String),
    Index(IndexError),
}

impl fmt::Display for SearchIndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchIndexError::Db(e) => write!(f, "search index: {e}"),
            SearchIndexError::Index(e) => write!(f, "change index: {e}"),
        }
    }
}

impl std::error::Error for SearchIndexError {}

impl From<IndexError> for SearchIndexError {
    fn from(e: IndexError) -> Self {
        SearchIndexError::Index(e)
    }
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for SearchIndexError {
            fn from(e: $t) -> Self {
                SearchIndexError::Db(e.to_string())
            }
        }
    )*};
}
db_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Delta-varint encodes ascending uids.
pub fn encode_uids(uids: impl IntoIterator<Item = u32>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = 0u32;
    for u in uids {
        let mut d = u - prev;
        prev = u;
        loop {
            let byte = (d & 0x7f) as u8;
            d >>= 7;
            if d == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }
    out
}

/// Decodes what `encode_uids` wrote; a damaged tail ends the list rather than failing the search.
pub fn decode_uids(bytes: &[u8], into: &mut impl Extend<u32>) {
    let mut prev = 0u32;
    let mut d = 0u32;
    let mut shift = 0u32;
    for &b in bytes {
        if shift > 28 {
            return;
        }
        d |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            prev = prev.saturating_add(d);
            into.extend(std::iter::once(prev));
            d = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
}

/// The words of messages read but not written yet: each word's uids in reading order. A word's
/// String is allocated once per flush, not once per message containing it.
#[derive(Default)]
struct Pending {
    words: HashMap<String, Vec<u32>>,
    messages: usize,
}

/// Hands each word of a message to the sink it is given, repeats included.
pub type Sink<'s> = &'s mut dyn FnMut(&str);

impl Pending {
    /// Notes message `uid`, whose words `visit` gives.
    fn note(&mut self, uid: u32, visit: impl FnOnce(Sink<'_>)) {
        let words = &mut self.words;
        visit(&mut |w: &str| match words.get_mut(w) {
            // The message's uid is the last one pushed once any of its words came.
            Some(uids) => {
                if uids.last() != Some(&uid) {
                    uids.push(uid);
                }
            }
            None => {
                words.insert(w.to_string(), vec![uid]);
            }
        });
        self.messages += 1;
    }
}

/// What a catch-up did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaughtUp {
    /// The change-index modseq now indexed.
    pub mark: u64,
    /// Messages read.
    pub read: usize,
    /// False when it stopped at `max` messages with more to read.
    pub complete: bool,
}

/// What a search reads from the index: the uids matching its terms and the modseq they reach,
/// from one read transaction, so messages added after `mark` are exactly the ones not covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matched {
    pub mark: u64,
    pub uids: BTreeSet<u32>,
}

/// The word index of one user's mail.
pub struct SearchIndex<'a> {
    pub db: &'a Database,
    pub index: &'a ChangeIndex,
    pub user: &'a str,
}

/// A collection's mark: the modseq indexed and one past the highest uid written.
fn read_mark(
    marks: &impl ReadableTable<&'static [u8], (u64, u32)>,
    prefix: &[u8],
) -> Result<(u64, u32), SearchIndexError> {
    Ok(marks.get(prefix)?.map_or((0, 0), |v| v.value()))
}

impl SearchIndex<'_> {
    /// The change-index modseq up to which the collection's messages are indexed.
    pub fn indexed(&self, coll: Collection) -> Result<u64, SearchIndexError> {
        let txn = self.db.begin_read()?;
        Ok(match txn.open_table(MARKS) {
            Ok(t) => read_mark(&t, &prefix(self.user, coll))?.0,
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(e) => return Err(e.into()),
        })
    }

    /// Reads the messages the collection gained since the last call, writing their words every
    /// [`FLUSH`] messages, and stops after the first write that brings the messages read to
    /// `max` or more (a rebuild reads the whole folder regardless). `words` hands a message's
    /// words to the sink, from its change-index item (none when it vanished meanwhile). Callers serialise calls per
    /// collection (the one background thread does them all): two at once would read the same
    /// messages.
    pub fn catch_up(
        &self,
        coll: Collection,
        max: usize,
        mut words: impl FnMut(&Item, Sink<'_>),
    ) -> Result<CaughtUp, SearchIndexError> {
        let target = self.index.modseq(coll)?;
        let done = self.indexed(coll)?;
        if done >= target {
            return Ok(CaughtUp {
                mark: done,
                read: 0,
                complete: true,
            });
        }
        let mut read = 0;
        let mut pending = Pending::default();
        let mut since = done;
        loop {
            match self.index.changes_since(coll, since, PAGE) {
                Ok(page) => {
                    for change in &page.changes {
                        if let Change::Added(item) = change {
                            pending.note(item.uid.0, |sink| words(item, sink));
                        }
                    }
                    since = page.next;
                    if !page.more {
                        break;
                    }
                    if pending.messages >= FLUSH {
                        read += pending.messages;
                        self.write(coll, std::mem::take(&mut pending), Some(since), false)?;
                        if read >= max {
                            return Ok(CaughtUp {
                                mark: since,
                                read,
                                complete: false,
                            });
                        }
                    }
                }
                // The change log was pruned past our mark: read the whole folder again.
                Err(IndexError::CursorOutOfRange { .. }) => {
                    return self.rebuild(coll, target, &mut words);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mark = since.max(target);
        read += pending.messages;
        self.write(coll, pending, Some(mark), false)?;
        Ok(CaughtUp {
            mark,
            read,
            complete: true,
        })
    }

    /// Indexes every message of the collection afresh, dropping what was there.
    fn rebuild(
        &self,
        coll: Collection,
        target: u64,
        words: &mut impl FnMut(&Item, Sink<'_>),
    ) -> Result<CaughtUp, SearchIndexError> {
        let all = ItemQuery {
            min_time: 0,
            newest_first: false,
            after: None,
            limit: usize::MAX,
        };
        let items = self.index.items(coll, &all)?;
        let mut pending = Pending::default();
        let mut first = true;
        for item in &items {
            pending.note(item.uid.0, |sink| words(item, sink));
            if pending.messages >= FLUSH {
                // The old mark stays until the end, so a crash midway starts the rebuild over
                // (and a search meanwhile, finding the change log pruned past it, reads every
                // message rather than half-rebuilt lists).
                self.write(coll, std::mem::take(&mut pending), None, first)?;
                first = false;
            }
        }
        self.write(coll, pending, Some(target), first)?;
        Ok(CaughtUp {
            mark: target,
            read: items.len(),
            complete: true,
        })
    }

    /// Adds `pending` to the posting lists, with the new mark when given (`clear` first drops
    /// the collection's lists), in transactions of about [`ROWS`] rows: the database has one
    /// writer at a time, and this thread runs niced, so a Sync's commit waits for one short
    /// transaction at most. Rows committed ahead of the mark are harmless (a search unions the
    /// index's answer with what it reads past the mark). Not fsynced: a crash loses the mark
    /// with the lists, and the next catch-up reads those messages again; the next durable commit
    /// of anything in the database makes it stick.
    fn write(
        &self,
        coll: Collection,
        pending: Pending,
        mark: Option<u64>,
        clear: bool,
    ) -> Result<(), SearchIndexError> {
        let prefix = prefix(self.user, coll);
        let mut words: Vec<(String, Vec<u32>)> = pending.words.into_iter().collect();
        words.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut words = words.into_iter().peekable();
        let mut clear = clear;
        let mut uids = Vec::new();
        // The top before this write: rows of blocks above it are all this write's own.
        let mut base: Option<u32> = None;
        loop {
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::None)?;
            let done = {
                let mut marks = txn.open_table(MARKS)?;
                let (old_mark, mut stored_top) = read_mark(&marks, &prefix)?;
                let mut postings = txn.open_table(POSTINGS)?;
                if std::mem::take(&mut clear) {
                    // Every row of the collection is the prefix and then a word, whose UTF-8
                    // never holds the byte 0xFF.
                    let mut end = prefix.clone();
                    end.push(0xff);
                    postings.retain_in(prefix.as_slice()..end.as_slice(), |_, _| false)?;
                    stored_top = 0;
                }
                let top = *base.get_or_insert(stored_top);
                let mut new_top = stored_top;
                let mut rows = 0;
                while rows < ROWS {
                    let Some((word, mut new)) = words.next() else {
                        break;
                    };
                    new.sort_unstable();
                    new.dedup();
                    for chunk in new.chunk_by(|a, b| a / BLOCK == b / BLOCK) {
                        let block = chunk[0] / BLOCK;
                        let key = posting_key(&prefix, &word, block);
                        uids.clear();
                        // A block wholly above every uid written so far has no row yet: a
                        // build then writes without looking each row up first.
                        if top > 0
                            && block <= (top - 1) / BLOCK
                            && let Some(existing) = postings.get(key.as_slice())?
                        {
                            decode_uids(existing.value(), &mut uids);
                        }
                        uids.extend_from_slice(chunk);
                        // Two ascending runs, usually the second all above the first: a stable
                        // sort merges them in one pass.
                        uids.sort();
                        uids.dedup();
                        postings
                            .insert(key.as_slice(), encode_uids(uids.iter().copied()).as_slice())?;
                        rows += 1;
                    }
                    if let Some(&last) = new.last() {
                        new_top = new_top.max(last.saturating_add(1));
                    }
                }
                let done = words.peek().is_none();
                let mark = match mark {
                    Some(m) if done => m,
                    _ => old_mark,
                };
                marks.insert(prefix.as_slice(), (mark, new_top))?;
                done
            };
            txn.commit()?;
            if done {
                return Ok(());
            }
        }
    }

    /// The uids whose messages contain every term, each term as a word prefix, with the modseq
    /// the index reached when they were read.
    pub fn matching(
        &self,
        coll: Collection,
        terms: &[String],
    ) -> Result<Matched, SearchIndexError> {
        let prefix = prefix(self.user, coll);
        let txn = self.db.begin_read()?;
        let (postings, marks) = match (txn.open_table(POSTINGS), txn.open_table(MARKS)) {
            (Ok(p), Ok(m)) => (p, m),
            (Err(redb::TableError::TableDoesNotExist(_)), _)
            | (_, Err(redb::TableError::TableDoesNotExist(_))) => return Ok(Matched::default()),
            (Err(e), _) | (_, Err(e)) => return Err(e.into()),
        };
        let mark = read_mark(&marks, &prefix)?.0;
        let mut result: Option<BTreeSet<u32>> = None;
        for term in terms {
            let mut uids = BTreeSet::new();
            let mut start = prefix.clone();
            start.extend_from_slice(term.as_bytes());
            for row in postings.range(start.as_slice()..)? {
                let (k, v) = row?;
                if !k.value().starts_with(&start) {
                    break;
                }
                decode_uids(v.value(), &mut uids);
            }
            result = Some(match result {
                None => uids,
                Some(prev) => prev.intersection(&uids).copied().collect(),
            });
            if result.as_ref().is_some_and(BTreeSet::is_empty) {
                break;
            }
        }
        Ok(Matched {
            mark,
            uids: result.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::index::{IndexOptions, ScanEntry};
    use crate::store::DirStamp;
    use std::sync::Arc;

    const USER: &str = "alice@example.com";

    fn setup() -> (tempfile::TempDir, Arc<Database>, ChangeIndex, Collection) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(crate::state::open_db(&dir.path().join("state.redb"), 4 << 20).unwrap());
        let index = ChangeIndex::open(db.clone(), IndexOptions::default()).unwrap();
        let coll = index.collection(USER, "mail:INBOX").unwrap();
        (dir, db, index, coll)
    }

    /// Lists messages `keys` as the folder's content.
    fn list(index: &ChangeIndex, coll: Collection, n: u64, keys: impl Iterator<Item = u64>) {
        let entries: Vec<ScanEntry> = keys
            .map(|k| ScanEntry {
                key: format!("m{k}"),
                version: String::new(),
                time: 1_000 + k,
            })
            .collect();
        index
            .refresh(coll, DirStamp::from_parts(n, n), || {
                Ok::<_, std::convert::Infallible>(entries)
            })
            .unwrap();
    }

    /// A message's words: two of its own (so a flush writes twice [`ROWS`] rows, in
    /// several transactions), and one shared by every tenth message.
    fn words(item: &Item, sink: Sink<'_>) {
        let Ok(k) = item.key[1..].parse::<u64>() else {
            return;
        };
        sink(&format!("own{k}x"));
        sink(&format!("also{k}y"));
        sink(&format!("own{k}x"));
        if k.is_multiple_of(10) {
            sink("tenth");
        }
    }

    fn keys_of(index: &ChangeIndex, coll: Collection, uids: BTreeSet<u32>) -> BTreeSet<u64> {
        uids.into_iter()
            .filter_map(|u| index.item(coll, crate::state::index::Uid(u)).unwrap())
            .map(|i| i.key[1..].parse().unwrap())
            .collect()
    }

    #[test]
    fn catches_up_in_flushes_and_after_new_mail() {
        let (_dir, db, index, coll) = setup();
        let idx = SearchIndex {
            db: &db,
            index: &index,
            user: USER,
        };
        // More than FLUSH messages and several change pages: the build writes in parts.
        let first = FLUSH as u64 + 2 * PAGE as u64 + 7;
        list(&index, coll, 1, 0..first);
        // Asked for one message, it stops after its first write, keeping what it wrote.
        let mut read = 0;
        let part = idx
            .catch_up(coll, 1, |i, sink| {
                read += 1;
                words(i, sink)
            })
            .unwrap();
        assert!(!part.complete && part.read >= FLUSH && part.read < first as usize);
        assert_eq!(
            (read, idx.indexed(coll).unwrap()),
            (part.read as u64, part.mark)
        );
        let done = idx
            .catch_up(coll, usize::MAX, |i, sink| {
                read += 1;
                words(i, sink)
            })
            .unwrap();
        assert!(done.complete);
        assert_eq!((read, part.read + done.read), (first, first as usize));
        let mark = done.mark;
        assert_eq!(mark, index.modseq(coll).unwrap());
        assert_eq!(idx.indexed(coll).unwrap(), mark);
        let tenth = keys_of(
            &index,
            coll,
            idx.matching(coll, &["tenth".into()]).unwrap().uids,
        );
        assert_eq!(tenth, (0..first).filter(|k| k.is_multiple_of(10)).collect());
        for k in [0, FLUSH as u64 - 1, FLUSH as u64, first - 1] {
            for word in [format!("own{k}x"), format!("also{k}y")] {
                let hit = idx.matching(coll, &[word]).unwrap().uids;
                assert_eq!(keys_of(&index, coll, hit), BTreeSet::from([k]), "{k}");
            }
        }

        // Nothing new: nothing read.
        idx.catch_up(coll, usize::MAX, |_, _| panic!("read again"))
            .unwrap();

        // New mail: only it is read, and lists of both old and new blocks answer.
        list(&index, coll, 2, 0..first + 25);
        let mut read = 0;
        idx.catch_up(coll, usize::MAX, |i, sink| {
            read += 1;
            words(i, sink)
        })
        .unwrap();
        assert_eq!(read, 25);
        let tenth = keys_of(
            &index,
            coll,
            idx.matching(coll, &["tenth".into()]).unwrap().uids,
        );
        assert_eq!(
            tenth,
            (0..first + 25).filter(|k| k.is_multiple_of(10)).collect()
        );
        let late = (first..first + 25).find(|k| k.is_multiple_of(10)).unwrap();
        let both = idx
            .matching(coll, &["tenth".into(), format!("own{late}x")])
            .unwrap()
            .uids;
        assert_eq!(keys_of(&index, coll, both), BTreeSet::from([late]));
    }

    #[test]
    fn rebuilds_when_the_change_log_was_pruned_past_the_mark() {
        let (_dir, db, index, coll) = setup();
        let idx = SearchIndex {
            db: &db,
            index: &index,
            user: USER,
        };
        list(&index, coll, 1, 0..30);
        idx.catch_up(coll, usize::MAX, words).unwrap();
        // Messages 0..10 go, 30..40 come, and the log forgets the tombstones.
        list(&index, coll, 2, 10..40);
        index.prune(coll, index.modseq(coll).unwrap()).unwrap();
        let mut read = 0;
        idx.catch_up(coll, usize::MAX, |i, sink| {
            read += 1;
            words(i, sink)
        })
        .unwrap();
        assert_eq!(read, 30, "the whole folder is read again");
        let tenth = keys_of(
            &index,
            coll,
            idx.matching(coll, &["tenth".into()]).unwrap().uids,
        );
        assert_eq!(tenth, BTreeSet::from([10, 20, 30]));
        // The old lists went: the gone messages' words find nothing, not even dead uids.
        assert!(
            idx.matching(coll, &["own5x".into()])
                .unwrap()
                .uids
                .is_empty()
        );
    }

    #[test]
    fn uid_lists_round_trip() {
        let set: BTreeSet<u32> = [1, 2, 3, 130, 20_000, 20_001, u32::MAX]
            .into_iter()
            .collect();
        let mut back = BTreeSet::new();
        decode_uids(&encode_uids(set.iter().copied()), &mut back);
        assert_eq!(back, set);
        let mut partial = BTreeSet::new();
        decode_uids(&[0x81, 0x81, 0x81, 0x81, 0x81, 0x81], &mut partial);
        assert!(partial.is_empty());
    }
}
