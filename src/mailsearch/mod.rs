//! Mailbox search (Search with Store Mailbox, Find with MailBoxSearchCriterion): a word index of
//! each mail folder kept in the state database, built and caught up by a background thread (from
//! server start, at each FolderSync, and whenever a folder gains mail), so a query reads the
//! posting lists of its words. It never waits for that thread: the messages the index has not
//! reached yet (added after its mark) are read from their files and matched directly, so every
//! answer covers every message, and what a search reads beyond the index is bounded by what the
//! thread has still to do — usually the mail of the last second, the whole folder only when the
//! search comes before the thread got to a folder never indexed.

pub mod background;
pub mod index;
pub mod words;

use crate::collections::{Account, Folder, ItemBackend, ItemClass};
use crate::eas::search::MailboxQuery;
use crate::state::index::{Change, IndexError, Item, ItemQuery, Uid};
use index::{SearchIndex, SearchIndexError};
use std::collections::{BTreeMap, BTreeSet};
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

/// Messages read from their files per scanning thread, at least: fewer are not worth a thread.
const SCAN_SHARE: usize = 512;
/// Threads reading messages for one search, at most.
const SCAN_THREADS: usize = 4;

/// The `items` of `folder` whose files hold every term, read on up to [`SCAN_THREADS`] threads
/// (a search after the server started, before its thread indexed a big folder, reads them all).
/// A message gone since the listing matches nothing, as it would in the index.
fn read_matching(
    account: &Account<'_>,
    folder: &Folder,
    items: Vec<Item>,
    terms: &[String],
) -> Vec<Item> {
    let backend = account.backend();
    let holds = |item: &Item| {
        backend
            .raw_start(folder, item, words::MAX_MESSAGE_BYTES)
            .is_ok_and(|raw| words::message_matches(&raw, terms))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(SCAN_THREADS)
        .min(items.len() / SCAN_SHARE)
        .max(1);
    if threads == 1 {
        return items.into_iter().filter(|i| holds(i)).collect();
    }
    let share = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(share)
            .map(|part| {
                scope.spawn(|| {
                    part.iter()
                        .filter(|i| holds(i))
                        .cloned()
                        .collect::<Vec<Item>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The living messages of `folder` holding every term: those the index has read through its
/// posting lists, the rest (added after the index's mark) from their files.
fn matches_in(
    account: &Account<'_>,
    folder: &Folder,
    terms: &[String],
) -> Result<Vec<Item>, MailSearchError> {
    let app = account.app;
    let idx = SearchIndex {
        db: &app.db,
        index: &app.index,
        user: account.user,
    };
    let matched = idx.matching(folder.coll, terms)?;
    let mut found: BTreeMap<u32, Item> = BTreeMap::new();
    for uid in matched.uids {
        // Uids of deleted messages stay in the lists; the change index knows the living.
        if let Some(item) = app.index.item(folder.coll, Uid(uid)).map_err(store_err)? {
            found.insert(uid, item);
        }
    }
    let mut unread = Vec::new();
    let mut since = matched.mark;
    loop {
        match app.index.changes_since(folder.coll, since, index::PAGE) {
            Ok(page) => {
                unread.extend(page.changes.into_iter().filter_map(|c| match c {
                    Change::Added(item) => Some(item),
                    _ => None,
                }));
                since = page.next;
                if !page.more {
                    break;
                }
            }
            // The change log was pruned past the mark (the thread rebuilds the folder's lists):
            // every message is read.
            Err(IndexError::CursorOutOfRange { .. }) => {
                let all = ItemQuery {
                    min_time: 0,
                    newest_first: true,
                    after: None,
                    limit: usize::MAX,
                };
                unread = app.index.items(folder.coll, &all).map_err(store_err)?;
                break;
            }
            Err(e) => return Err(store_err(e)),
        }
    }
    if !unread.is_empty() {
        log::debug!(
            "search: {} folder {}: {} messages not indexed yet read from their files",
            account.user,
            folder.id,
            unread.len()
        );
    }
    for item in read_matching(account, folder, unread, terms) {
        found.insert(item.uid.0, item);
    }
    Ok(found.into_values().collect())
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
    let _searching = account.app.search.searching();
    let folders = account.folders().map_err(store_err)?;
    let backend = account.backend();
    let app = account.app;
    let terms = words::query_terms(&query.free_text);
    let (after, before) = (bound(&query.received_after), bound(&query.received_before));
    let mut hits = Vec::new();
    for folder in scope(&folders, query, deep)? {
        // Also queues the folder for the thread when its word index is behind.
        backend.refresh(&folder).map_err(store_err)?;
        let items: Vec<Item> = if terms.is_empty() {
            let all = ItemQuery {
                min_time: 0,
                newest_first: true,
                after: None,
                limit: usize::MAX,
            };
            app.index.items(folder.coll, &all).map_err(store_err)?
        } else {
            matches_in(account, &folder, &terms)?
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::App;
    use crate::config::Config;
    use std::path::Path;

    const USER: &str = "alice@example.com";
    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3eKx5jQ2F4Qe6vvxgvBfhzfItdR1dWiXxzLXpCbrJoE";

    /// A server's state without its threads: nothing indexes unless the test does.
    fn app(data: &Path) -> App {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"h\"\ndata_dir = \"{}\"\n[[user]]\nemail = \"{USER}\"\npassword_hash = \"{HASH}\"\n",
            data.display()
        );
        App::open(Config::parse(&text, Path::new("t.toml")).unwrap()).unwrap()
    }

    fn put(data: &Path, n: u64, subject: &str, body: &str) {
        let cur = data.join("mail").join(USER).join("cur");
        std::fs::create_dir_all(&cur).unwrap();
        let msg = format!(
            "From: bob@example.com\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: <{n}@t>\r\n\r\n{body}\r\n"
        );
        std::fs::write(cur.join(format!("{}.M{n}P1.t:2,S", 1_700_000_000 + n)), msg).unwrap();
    }

    fn subjects(account: &Account<'_>, words: &str) -> Vec<String> {
        let query = MailboxQuery {
            class: Some("Email".into()),
            free_text: words.into(),
            ..MailboxQuery::default()
        };
        let backend = account.backend();
        search(account, &query, false)
            .unwrap()
            .into_iter()
            .map(|h| {
                let raw = backend.raw(&h.folder, &h.item).unwrap();
                let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
                msg.subject().unwrap().to_string()
            })
            .collect()
    }

    /// Index and scan both read a message's first mebibyte: a text before a big attachment is
    /// found, a text after it is not (though a whole read would find it), and the two agree.
    #[test]
    fn a_message_is_read_up_to_its_first_mebibyte() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let filler = "QUJD".repeat(words::MAX_MESSAGE_BYTES as usize / 4 + 1000);
        let text = |word: &str| format!("--b\r\nContent-Type: text/plain\r\n\r\nA {word}.\r\n");
        let attachment = format!(
            "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n{filler}\r\n"
        );
        let cur = data.join("mail").join(USER).join("cur");
        std::fs::create_dir_all(&cur).unwrap();
        let mut late = Vec::new();
        for (n, subject, body) in [
            (1, "Before", format!("{}{attachment}", text("otter"))),
            (2, "After", format!("{attachment}{}", text("beaver"))),
        ] {
            let raw = format!(
                "From: bob@example.com\r\nSubject: {subject}\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{body}--b--\r\n"
            );
            std::fs::write(cur.join(format!("170000000{n}.M{n}P1.t:2,S")), &raw).unwrap();
            late = raw.into_bytes();
        }
        let mut whole = Vec::new();
        words::visit(&late, |w| {
            whole.push(w.to_string());
            true
        });
        assert!(whole.iter().any(|w| w == "beaver"), "{whole:?}");

        let app = app(&data);
        let account = Account::open(&app, USER).unwrap();
        let scanned = (subjects(&account, "otter"), subjects(&account, "beaver"));
        assert_eq!(scanned, (vec!["Before".to_string()], vec![]));
        let inbox = account.folders().unwrap().remove(0);
        app.search
            .catch_up_some(&account, &inbox, usize::MAX)
            .unwrap();
        let idx = SearchIndex {
            db: &app.db,
            index: &app.index,
            user: USER,
        };
        let now = app.index.modseq(inbox.coll).unwrap();
        assert_eq!(idx.indexed(inbox.coll).unwrap(), now);
        let indexed = (subjects(&account, "otter"), subjects(&account, "beaver"));
        assert_eq!(indexed, scanned);
    }

    /// Whatever the index has read is answered from it, the rest from the files, and a change
    /// log pruned past the index's mark has every file read. Shown by rewriting a message after
    /// it was indexed (a Maildir message never changes content, so only this test can tell).
    #[test]
    fn the_indexed_part_from_the_index_the_rest_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        put(&data, 1, "Aquarium", "The zebrafish arrived.");
        put(&data, 2, "Pond", "Koi only.");
        put(&data, 3, "Tank", "Koi and zebrafish.");
        let app = app(&data);
        let account = Account::open(&app, USER).unwrap();
        // Never indexed: every message is read from its file.
        assert_eq!(subjects(&account, "zebra"), ["Tank", "Aquarium"]);
        assert_eq!(subjects(&account, "koi zebrafish"), ["Tank"]);

        let inbox = account.folders().unwrap().remove(0);
        let done = app
            .search
            .catch_up_some(&account, &inbox, usize::MAX)
            .unwrap();
        assert_eq!(done.read, 3);
        put(&data, 1, "Aquarium", "The goldfish arrived.");
        put(&data, 4, "Bowl", "A zebrafish too.");
        assert_eq!(
            subjects(&account, "zebrafish"),
            ["Bowl", "Tank", "Aquarium"]
        );
        assert!(subjects(&account, "goldfish").is_empty());
        assert_eq!(subjects(&account, "koi"), ["Tank", "Pond"]);

        // The log forgets everything up to now: the index's mark is out of its range.
        let now = app.index.modseq(inbox.coll).unwrap();
        app.index.prune(inbox.coll, now).unwrap();
        assert_eq!(subjects(&account, "goldfish"), ["Aquarium"]);
        assert_eq!(
            subjects(&account, "zebrafish"),
            ["Bowl", "Tank", "Aquarium"]
        );
    }
}
