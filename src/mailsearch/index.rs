//! The word index of mail folders, in the state database beside the change index: for each
//! (user, collection, word, block) the sorted uids of that block's messages containing the word,
//! delta-varint encoded, and per collection the change-index modseq up to which messages were read.
//! Messages never change content (a Maildir file keeps its body; only flags move), so new uids are
//! all there is to add; uids of deleted messages stay in the lists and are dropped at query time.
//!
//! Blocks of [`BLOCK`] uids keep catching up cheap: new messages get the highest uids, so they
//! only ever rewrite the last block of each of their words, never a common word's whole list.

use crate::state::index::{Change, ChangeIndex, Collection, IndexError, ItemQuery};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

const POSTINGS: TableDefinition<(&str, u32, &str, u32), &[u8]> =
    TableDefinition::new("search_postings_blocks");
/// Renamed with the block layout, so a database indexed in the old layout reads its mail again.
const INDEXED: TableDefinition<(&str, u32), u64> = TableDefinition::new("search_indexed_blocks");

/// Uids per posting block.
const BLOCK: u32 = 1024;

/// Messages read per change-index page while catching up.
const PAGE: usize = 2000;

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
    redb::CommitError
);

pub fn encode_uids(uids: &BTreeSet<u32>) -> Vec<u8> {
    let mut out = Vec::with_capacity(uids.len() * 2);
    let mut prev = 0u32;
    for &u in uids {
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
pub fn decode_uids(bytes: &[u8], into: &mut BTreeSet<u32>) {
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
            into.insert(prev);
            d = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
}

/// The word index of one user's mail.
pub struct SearchIndex<'a> {
    pub db: &'a Database,
    pub index: &'a ChangeIndex,
    pub user: &'a str,
}

impl SearchIndex<'_> {
    /// Reads the messages the collection gained since the last call. `words` gives a message's
    /// words from its change-index item (None when it vanished meanwhile).
    pub fn catch_up(
        &self,
        coll: Collection,
        mut words: impl FnMut(&crate::state::index::Item) -> Option<BTreeSet<String>>,
    ) -> Result<(), SearchIndexError> {
        let id = coll.id().0;
        let target = self.index.modseq(coll)?;
        let done = {
            let txn = self.db.begin_read()?;
            match txn.open_table(INDEXED) {
                Ok(t) => t.get((self.user, id))?.map_or(0, |v| v.value()),
                Err(redb::TableError::TableDoesNotExist(_)) => 0,
                Err(e) => return Err(e.into()),
            }
        };
        if done >= target {
            return Ok(());
        }
        let mut added: BTreeMap<(String, u32), BTreeSet<u32>> = BTreeMap::new();
        let mut note = |item: &crate::state::index::Item,
                        added: &mut BTreeMap<(String, u32), BTreeSet<u32>>| {
            let uid = item.uid.0;
            for w in words(item).unwrap_or_default() {
                added.entry((w, uid / BLOCK)).or_default().insert(uid);
            }
        };
        let mut rebuild = false;
        let mut since = done;
        loop {
            match self.index.changes_since(coll, since, PAGE) {
                Ok(page) => {
                    for change in &page.changes {
                        if let Change::Added(item) = change {
                            note(item, &mut added);
                        }
                    }
                    since = page.next;
                    if !page.more {
                        break;
                    }
                }
                // The change log was pruned past our mark: read the whole folder again.
                Err(IndexError::CursorOutOfRange { .. }) => {
                    rebuild = true;
                    added.clear();
                    let all = ItemQuery {
                        min_time: 0,
                        newest_first: false,
                        after: None,
                        limit: usize::MAX,
                    };
                    for item in self.index.items(coll, &all)? {
                        note(&item, &mut added);
                    }
                    since = target;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let txn = self.db.begin_write()?;
        {
            let mut postings = txn.open_table(POSTINGS)?;
            if rebuild {
                let stale: Vec<(String, u32)> = postings
                    .range((self.user, id, "", 0)..(self.user, id.saturating_add(1), "", 0))?
                    .filter_map(|r| {
                        r.ok().map(|(k, _)| {
                            let k = k.value();
                            (k.2.to_string(), k.3)
                        })
                    })
                    .collect();
                for (w, block) in stale {
                    postings.remove((self.user, id, w.as_str(), block))?;
                }
            }
            for ((word, block), uids) in added {
                let key = (self.user, id, word.as_str(), block);
                let mut all = BTreeSet::new();
                if let Some(existing) = postings.get(key)? {
                    decode_uids(existing.value(), &mut all);
                }
                all.extend(uids);
                postings.insert(key, encode_uids(&all).as_slice())?;
            }
            txn.open_table(INDEXED)?
                .insert((self.user, id), since.max(target))?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The uids whose messages contain every term, each term as a word prefix.
    pub fn matching(
        &self,
        coll: Collection,
        terms: &[String],
    ) -> Result<BTreeSet<u32>, SearchIndexError> {
        let id = coll.id().0;
        let txn = self.db.begin_read()?;
        let postings = match txn.open_table(POSTINGS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(BTreeSet::new()),
            Err(e) => return Err(e.into()),
        };
        let mut result: Option<BTreeSet<u32>> = None;
        for term in terms {
            let mut uids = BTreeSet::new();
            for row in postings.range(
                (self.user, id, term.as_str(), 0)..(self.user, id.saturating_add(1), "", 0),
            )? {
                let (k, v) = row?;
                if !k.value().2.starts_with(term.as_str()) {
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
        Ok(result.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_lists_round_trip() {
        let set: BTreeSet<u32> = [1, 2, 3, 130, 20_000, 20_001, u32::MAX]
            .into_iter()
            .collect();
        let mut back = BTreeSet::new();
        decode_uids(&encode_uids(&set), &mut back);
        assert_eq!(back, set);
        let mut partial = BTreeSet::new();
        decode_uids(&[0x81, 0x81, 0x81, 0x81, 0x81, 0x81], &mut partial);
        assert!(partial.is_empty());
    }
}
