//! Mailbox search (Search with Store Mailbox, Find with MailBoxSearchCriterion): a word index of
//! each mail folder kept in the state database, caught up in the background when a folder gains
//! mail and finished at each search, so a query reads only the posting lists of its words and
//! never the messages themselves, except the page of results it returns.

pub mod background;
pub mod index;
pub mod words;

use crate::collections::{Account, Folder, ItemBackend, ItemClass};
use crate::eas::search::MailboxQuery;
use crate::state::index::{Item, ItemQuery, Uid};
use index::{SearchIndex, SearchIndexError};
use std::collections::BTreeSet;
use std::fmt;

/// One message that matched.
#[derive(Clone, Debug)]
pub struct Hit {
    pub folder: Folder,
    pub item: Item,
}

#[derive(Debug)]
pub enum MailSearchError {
    Index(SearchIndexError),
    Store(String),
    /// A folder the client named does not exist (any more).
    UnknownFolder,
}

impl fmt::Display for MailSearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailSearchError::Index(e) => e.fmt(f),
            MailSearchError::Store(e) => write!(f, "mail store: {e}"),
            MailSearchError::UnknownFolder => f.write_str("unknown folder"),
        }
    }
}

impl std::error::Error for MailSearchError {}

impl From<SearchIndexError> for MailSearchError {
    fn from(e: SearchIndexError) -> Self {
        MailSearchError::Index(e)
    }
}

fn store_err(e: impl fmt::Display) -> MailSearchError {
    MailSearchError::Store(e.to_string())
}

/// The mail folders a query covers: the named ones (with their subfolders under DeepTraversal),
/// or every mail folder when it names none.
fn scope(
    folders: &[Folder],
    query: &MailboxQuery,
    deep: bool,
) -> Result<Vec<Folder>, MailSearchError> {
    let mail: Vec<&Folder> = folders
        .iter()
        .filter(|f| f.kind.class() == ItemClass::Email)
        .collect();
    if query.collection_ids.is_empty() {
        return Ok(mail.into_iter().cloned().collect());
    }
    let mut chosen: BTreeSet<u32> = BTreeSet::new();
    for id in &query.collection_ids {
        let n = id.number().ok_or(MailSearchError::UnknownFolder)?;
        if !mail.iter().any(|f| f.id == n) {
            return Err(MailSearchError::UnknownFolder);
        }
        chosen.insert(n);
    }
    if deep {
        // Parents come before children in the folder list, so one pass collects every descendant.
        for f in &mail {
            if chosen.contains(&f.parent) {
                chosen.insert(f.id);
            }
        }
    }
    Ok(mail
        .into_iter()
        .filter(|f| chosen.contains(&f.id))
        .cloned()
        .collect())
}

fn bound(v: &Option<String>) -> Option<u64> {
    v.as_deref()
        .and_then(crate::items::eas_time::parse)
        .and_then(|t| u64::try_from(t.as_second()).ok())
}

/// Every message of the account matching `query`, newest first.
pub fn search(
    account: &Account<'_>,
    query: &MailboxQuery,
    deep: bool,
) -> Result<Vec<Hit>, MailSearchError> {
    if query
        .class
        .as_deref()
        .is_some_and(|c| !c.eq_ignore_ascii_case("Email"))
    {
        return Ok(Vec::new());
    }
    let folders = account.folders().map_err(store_err)?;
    let backend = account.backend();
    let app = account.app;
    let idx = SearchIndex {
        db: &app.db,
        index: &app.index,
        user: account.user,
    };
    let terms = words::query_terms(&query.free_text);
    let (after, before) = (bound(&query.received_after), bound(&query.received_before));
    let mut hits = Vec::new();
    for folder in scope(&folders, query, deep)? {
        backend.refresh(&folder).map_err(store_err)?;
        app.search.catch_up(account, &folder)?;
        let items: Vec<Item> = if terms.is_empty() {
            let all = ItemQuery {
                min_time: 0,
                newest_first: true,
                after: None,
                limit: usize::MAX,
            };
            app.index.items(folder.coll, &all).map_err(store_err)?
        } else {
            let mut live = Vec::new();
            for uid in idx.matching(folder.coll, &terms)? {
                // Uids of deleted messages stay in the lists; the change index knows the living.
                if let Some(item) = app.index.item(folder.coll, Uid(uid)).map_err(store_err)? {
                    live.push(item);
                }
            }
            live
        };
        hits.extend(
            items
                .into_iter()
                .filter(|i| after.is_none_or(|a| i.time > a) && before.is_none_or(|b| i.time < b))
                .map(|item| Hit {
                    folder: folder.clone(),
                    item,
                }),
        );
    }
    hits.sort_by(|a, b| {
        b.item
            .time
            .cmp(&a.item.time)
            .then(b.item.uid.0.cmp(&a.item.uid.0))
    });
    Ok(hits)
}
