use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::state::open_db;

const OLD: u64 = 1_000_000_000_000_000_000;

fn open(path: &Path, options: IndexOptions) -> ChangeIndex {
    let db = open_db(path, 4 << 20).unwrap();
    ChangeIndex::open(Arc::new(db), options).unwrap()
}

fn setup() -> (tempfile::TempDir, ChangeIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = open(&dir.path().join("state.redb"), IndexOptions::default());
    (dir, index)
}

fn entry(key: &str, version: &str, time: u64) -> ScanEntry {
    ScanEntry {
        key: key.into(),
        version: version.into(),
        time,
    }
}

fn stamp(n: u64) -> DirStamp {
    DirStamp::from_parts(OLD + n, n)
}

/// Refreshes with a fixed listing, counting how often it is read.
fn refresh(
    index: &ChangeIndex,
    coll: Collection,
    stamp: DirStamp,
    entries: &[ScanEntry],
    calls: &Cell<u32>,
) -> Refreshed {
    index
        .refresh(coll, stamp, || {
            calls.set(calls.get() + 1);
            Ok::<_, std::convert::Infallible>(entries.to_vec())
        })
        .unwrap()
}

fn kinds(page: &ChangePage) -> Vec<(char, u32)> {
    page.changes
        .iter()
        .map(|c| match c {
            Change::Added(i) => ('A', i.uid.0),
            Change::Changed(i) => ('C', i.uid.0),
            Change::Removed { uid, .. } => ('R', uid.0),
        })
        .collect()
}

#[test]
fn collection_ids_are_per_user_and_never_reused() {
    let (_dir, index) = setup();
    let inbox = index.collection("alice@example.com", "mail:INBOX").unwrap();
    let sent = index.collection("alice@example.com", "mail:.Sent").unwrap();
    let bob = index.collection("bob@example.com", "mail:INBOX").unwrap();
    assert_eq!(inbox.id(), CollectionId(1));
    assert_eq!(sent.id(), CollectionId(2));
    assert_eq!(bob.id(), CollectionId(1));
    assert_ne!(inbox, bob);
    assert_eq!(
        index.collection("alice@example.com", "mail:INBOX").unwrap(),
        inbox
    );
    assert_eq!(
        index
            .collection_by_id("alice@example.com", CollectionId(2))
            .unwrap(),
        Some(sent)
    );
    assert_eq!(
        index
            .collection_by_id("carol@example.com", CollectionId(1))
            .unwrap(),
        None
    );

    index.rename_collection(sent, "mail:.Gesendet").unwrap();
    assert_eq!(
        index
            .find_collection("alice@example.com", "mail:.Gesendet")
            .unwrap(),
        Some(sent)
    );
    assert_eq!(
        index
            .find_collection("alice@example.com", "mail:.Sent")
            .unwrap(),
        None
    );
    assert!(matches!(
        index.rename_collection(sent, "mail:INBOX"),
        Err(IndexError::CollectionExists(_))
    ));

    assert_eq!(index.identity(sent).unwrap(), None);
    index.set_identity(sent, 4711).unwrap();
    index.set_identity(sent, 4711).unwrap();
    assert_eq!(index.identity(sent).unwrap(), Some(4711));
    index.remove_collection(sent).unwrap();
    assert!(matches!(
        index.modseq(sent),
        Err(IndexError::UnknownCollection)
    ));
    assert_eq!(index.identity(sent).unwrap(), None);
    let again = index.collection("alice@example.com", "mail:.Sent").unwrap();
    assert_eq!(again.id(), CollectionId(3));
    let names: Vec<String> = index
        .collections("alice@example.com")
        .unwrap()
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["mail:INBOX", "mail:.Sent"]);
    assert!(matches!(
        index.collection("", "x"),
        Err(IndexError::InvalidName(_))
    ));
}

#[test]
fn scan_detects_adds_changes_and_removals() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "mail:INBOX").unwrap();
    let calls = Cell::new(0);
    let first = [entry("b", "", 20), entry("a", "S", 10), entry("c", "", 30)];
    let r = refresh(&index, coll, stamp(1), &first, &calls);
    assert_eq!((r.added, r.changed, r.removed, r.modseq), (3, 0, 0, 3));
    // Oldest first: uids follow arrival time, not listing order.
    assert_eq!(index.uid_of(coll, "a").unwrap(), Some(Uid(1)));
    assert_eq!(index.uid_of(coll, "c").unwrap(), Some(Uid(3)));

    let second = [entry("a", "FS", 10), entry("c", "", 30), entry("d", "", 40)];
    let r = refresh(&index, coll, stamp(2), &second, &calls);
    assert_eq!((r.added, r.changed, r.removed), (1, 1, 1));
    assert_eq!(r.modseq, 6);
    assert_eq!(index.count(coll).unwrap(), 3);
    let a = index.item(coll, Uid(1)).unwrap().unwrap();
    assert_eq!(
        (a.key.as_str(), a.version.as_str(), a.created),
        ("a", "FS", 1)
    );
    assert_eq!(index.item(coll, Uid(2)).unwrap(), None);
    assert_eq!(index.uid_of(coll, "b").unwrap(), None);

    let page = index.changes_since(coll, 3, 100).unwrap();
    assert_eq!(kinds(&page), [('R', 2), ('C', 1), ('A', 4)]);
    assert_eq!((page.next, page.more), (6, false));
    let from_zero = index.changes_since(coll, 0, 100).unwrap();
    assert_eq!(kinds(&from_zero), [('A', 3), ('A', 1), ('A', 4)]);
    assert_eq!(calls.get(), 2);
}

#[test]
fn unchanged_stamp_skips_the_listing() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "dav:calendar").unwrap();
    let calls = Cell::new(0);
    let items = [entry("e1.ics", "100-5", 5)];
    refresh(&index, coll, stamp(1), &items, &calls);
    let r = refresh(&index, coll, stamp(1), &items, &calls);
    assert_eq!(calls.get(), 1);
    assert!(!r.scanned);
    assert_eq!(r.modseq, 1);
    // A changed stamp with an unchanged listing only stores the stamp.
    let r = refresh(&index, coll, stamp(2), &items, &calls);
    assert!(r.scanned);
    assert_eq!((r.added, r.changed, r.removed, r.modseq), (0, 0, 0, 1));
    refresh(&index, coll, stamp(2), &items, &calls);
    assert_eq!(calls.get(), 2);
}

/// A fresh index keeping `cache_entries` items in memory, with one collection.
fn inbox_with_cache(cache_entries: usize) -> (tempfile::TempDir, ChangeIndex, Collection) {
    let dir = tempfile::tempdir().unwrap();
    let options = IndexOptions {
        cache_entries,
        ..IndexOptions::default()
    };
    let index = open(&dir.path().join("s.redb"), options);
    let coll = index.collection("u", "mail:INBOX").unwrap();
    (dir, index, coll)
}

#[test]
fn preview_reports_what_a_refresh_would_record_and_records_nothing() {
    // With the item map cached, and with a cache too small to keep it (read from redb).
    for cache_entries in [IndexOptions::default().cache_entries, 0] {
        let (_dir, index, coll) = inbox_with_cache(cache_entries);
        let calls = Cell::new(0);
        let first = [entry("a", "", 10), entry("b", "", 20), entry("c", "", 30)];
        refresh(&index, coll, stamp(1), &first, &calls);
        let unread = || -> Result<Vec<ScanEntry>, std::convert::Infallible> {
            panic!("the listing of an unchanged directory was read")
        };
        let p = index.preview(coll, stamp(1), unread).unwrap();
        assert_eq!((p.modseq, p.unrecorded.len()), (3, 0));

        // "a" re-flagged (and listed twice, as while being renamed), "b" gone, "d" new.
        let second = [
            entry("a", "S", 10),
            entry("c", "", 30),
            entry("a", "S", 10),
            entry("d", "", 40),
        ];
        let listed = || Ok::<_, std::convert::Infallible>(second.to_vec());
        let p = index.preview(coll, stamp(2), listed).unwrap();
        assert_eq!(p.modseq, 3);
        assert_eq!(p.unrecorded.len(), 3, "{:?}", p.unrecorded);
        for u in [
            Unrecorded::Changed {
                uid: Uid(1),
                time: 10,
            },
            Unrecorded::Removed { uid: Uid(2) },
            Unrecorded::Added { time: 40 },
        ] {
            assert!(p.unrecorded.contains(&u), "{u:?} in {:?}", p.unrecorded);
        }
        // Nothing was recorded: the refresh finds all of it, after which there is nothing left.
        assert_eq!(index.modseq(coll).unwrap(), 3);
        let r = refresh(&index, coll, stamp(2), &second, &calls);
        assert_eq!((r.added, r.changed, r.removed, r.modseq), (1, 1, 1, 6));
        let p = index.preview(coll, stamp(3), listed).unwrap();
        assert_eq!((p.modseq, p.unrecorded.len()), (6, 0));
    }
}

#[test]
fn a_preview_of_arrivals_first_stops_at_one_unknown_arrival_in_the_window() {
    for cache_entries in [IndexOptions::default().cache_entries, 0] {
        let (_dir, index, coll) = inbox_with_cache(cache_entries);
        let calls = Cell::new(0);
        let recorded = [entry("new1", "", 50), entry("cur1", "S", 10)];
        refresh(&index, coll, stamp(1), &recorded, &calls);
        let ok = |e: &[ScanEntry]| Ok::<_, std::convert::Infallible>(e.to_vec());
        let unread = || -> Result<Vec<ScanEntry>, std::convert::Infallible> {
            panic!("the rest was listed after an arrival had answered")
        };
        let unstamped = || -> Result<(DirStamp, DirStamp), std::convert::Infallible> {
            panic!("the stamps were taken after an arrival had answered")
        };
        let stamps = |whole, settled| move || Ok((stamp(whole), stamp(settled)));

        // A delivery after `since`: the answer, without the rest.
        let arrivals = [entry("new1", "", 50), entry("new2", "", 60)];
        let p = index
            .preview_arrivals_first(coll, 55, unstamped, || ok(&arrivals), unread)
            .unwrap();
        assert_eq!(p.modseq, 2);
        assert_eq!(p.unrecorded, [Unrecorded::Added { time: 60 }]);

        // A delivery older than `since`, and one the index knows: the rest is listed and the
        // whole folder compared, so cur1's removal shows as well (uids go by time: cur1 is 1).
        let older = [entry("new1", "", 50), entry("old", "", 5)];
        let p = index
            .preview_arrivals_first(coll, 55, stamps(3, 9), || ok(&older), || ok(&[]))
            .unwrap();
        assert_eq!(p.modseq, 2);
        assert_eq!(p.unrecorded.len(), 2, "{:?}", p.unrecorded);
        assert!(p.unrecorded.contains(&Unrecorded::Added { time: 5 }));
        assert!(p.unrecorded.contains(&Unrecorded::Removed { uid: Uid(1) }));

        // A message moved from new/ to cur/ while listed shows up in both parts: it counts once.
        let moved = [entry("new1", "S", 50)];
        let p = index
            .preview_arrivals_first(
                coll,
                55,
                stamps(4, 9),
                || ok(&recorded[..1]),
                || ok(&[moved[0].clone(), recorded[1].clone()]),
            )
            .unwrap();
        assert_eq!(p.unrecorded, []);
        assert_eq!(calls.get(), 1, "a preview never refreshes");
    }
}

#[test]
fn racy_scans_are_repeated_until_settled() {
    let dir = tempfile::tempdir().unwrap();
    let options = IndexOptions {
        racy_window: Duration::from_millis(200),
        ..IndexOptions::default()
    };
    let index = open(&dir.path().join("s.redb"), options);
    let coll = index.collection("u", "mail:INBOX").unwrap();
    let calls = Cell::new(0);
    let fresh = DirStamp::from_parts(now_ns(), 7);
    refresh(&index, coll, fresh, &[entry("a", "", 1)], &calls);
    // Same stamp, but the directory was modified right before the scan:
    // a file added in the same timestamp tick would be invisible.
    let r = refresh(
        &index,
        coll,
        fresh,
        &[entry("a", "", 1), entry("b", "", 2)],
        &calls,
    );
    assert_eq!((calls.get(), r.added), (2, 1));
    std::thread::sleep(Duration::from_millis(250));
    refresh(
        &index,
        coll,
        fresh,
        &[entry("a", "", 1), entry("b", "", 2)],
        &calls,
    );
    assert_eq!(calls.get(), 3);
    refresh(
        &index,
        coll,
        fresh,
        &[entry("a", "", 1), entry("b", "", 2)],
        &calls,
    );
    assert_eq!(calls.get(), 3);
}

#[test]
fn ids_survive_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let calls = Cell::new(0);
    let items = [entry("x", "", 1), entry("y", "S", 2)];
    let (coll, uid_y) = {
        let index = open(&path, IndexOptions::default());
        index.collection("u", "mail:a").unwrap();
        let coll = index.collection("u", "mail:b").unwrap();
        refresh(&index, coll, stamp(1), &items, &calls);
        (coll, index.uid_of(coll, "y").unwrap().unwrap())
    };
    let index = open(&path, IndexOptions::default());
    assert_eq!(index.collection("u", "mail:b").unwrap(), coll);
    assert_eq!(
        index.collection("v", "mail:b").unwrap().id(),
        CollectionId(1)
    );
    assert_eq!(index.uid_of(coll, "y").unwrap(), Some(uid_y));
    assert_eq!(index.modseq(coll).unwrap(), 2);
    // The stored stamp still matches: no listing after a restart.
    refresh(&index, coll, stamp(1), &items, &calls);
    assert_eq!(calls.get(), 1);
    let r = refresh(
        &index,
        coll,
        stamp(2),
        &[entry("y", "S", 2), entry("z", "", 3)],
        &calls,
    );
    assert_eq!((r.added, r.removed), (1, 1));
    assert_eq!(index.uid_of(coll, "z").unwrap(), Some(Uid(3)));
}

#[test]
fn local_changes_are_recorded_and_absorb_the_echo() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "mail:INBOX").unwrap();
    let calls = Cell::new(0);
    refresh(&index, coll, stamp(1), &[entry("a", "", 1)], &calls);
    let up = |key, version| LocalChange::Upsert {
        key,
        version,
        time: 1,
    };
    let noted = index.note_local_change(coll, up("a", "S")).unwrap();
    assert_eq!(
        noted,
        Noted {
            uid: Some(Uid(1)),
            modseq: 2
        }
    );
    let again = index.note_local_change(coll, up("a", "S")).unwrap();
    assert_eq!(again, noted);
    let added = index.note_local_change(coll, up("n", "")).unwrap();
    assert_eq!(
        added,
        Noted {
            uid: Some(Uid(2)),
            modseq: 3
        }
    );
    let gone = index
        .note_local_change(coll, LocalChange::Remove { key: "a" })
        .unwrap();
    assert_eq!(
        gone,
        Noted {
            uid: Some(Uid(1)),
            modseq: 4
        }
    );
    let unknown = index
        .note_local_change(coll, LocalChange::Remove { key: "zz" })
        .unwrap();
    assert_eq!(
        unknown,
        Noted {
            uid: None,
            modseq: 4
        }
    );
    // The rescan that follows our own writes finds nothing new.
    let r = refresh(&index, coll, stamp(2), &[entry("n", "", 1)], &calls);
    assert_eq!((r.added, r.changed, r.removed, r.modseq), (0, 0, 0, 4));
    assert_eq!(
        kinds(&index.changes_since(coll, 1, 10).unwrap()),
        [('A', 2), ('R', 1)]
    );
}

#[test]
fn change_pages_and_cursor_limits() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "c").unwrap();
    let calls = Cell::new(0);
    let many: Vec<ScanEntry> = (0..10).map(|i| entry(&format!("k{i}"), "", i)).collect();
    refresh(&index, coll, stamp(1), &many, &calls);
    let page = index.changes_since(coll, 0, 4).unwrap();
    assert_eq!(page.changes.len(), 4);
    assert_eq!((page.next, page.more), (4, true));
    let rest = index.changes_since(coll, page.next, 100).unwrap();
    assert_eq!(rest.changes.len(), 6);
    assert_eq!((rest.next, rest.more), (10, false));
    let empty = index.changes_since(coll, 10, 100).unwrap();
    assert_eq!(
        (empty.changes.len(), empty.next, empty.more),
        (0, 10, false)
    );
    assert!(matches!(
        index.changes_since(coll, 11, 1),
        Err(IndexError::CursorOutOfRange { .. })
    ));
    // Items added and removed after a cursor never show up for it.
    refresh(&index, coll, stamp(2), &many[..9], &calls);
    let page = index.changes_since(coll, 10, 100).unwrap();
    assert_eq!(kinds(&page), [('R', 10)]);
    refresh(&index, coll, stamp(3), &many[..8], &calls);
    assert_eq!(
        kinds(&index.changes_since(coll, 9, 100).unwrap()),
        [('R', 9)]
    );
    assert_eq!(index.prune(coll, 11).unwrap(), 1);
    assert!(matches!(
        index.changes_since(coll, 10, 100),
        Err(IndexError::CursorOutOfRange { floor: 11, .. })
    ));
    assert_eq!(
        kinds(&index.changes_since(coll, 11, 100).unwrap()),
        [('R', 9)]
    );
}

#[test]
fn items_by_time_with_filter_and_paging() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "c").unwrap();
    let calls = Cell::new(0);
    let many: Vec<ScanEntry> = (1..=10)
        .map(|i| entry(&format!("k{i}"), "", i * 100))
        .collect();
    refresh(&index, coll, stamp(1), &many, &calls);
    let query = ItemQuery {
        min_time: 500,
        newest_first: true,
        after: None,
        limit: 4,
    };
    let page = index.items(coll, &query).unwrap();
    let times: Vec<u64> = page.iter().map(|i| i.time).collect();
    assert_eq!(times, [1000, 900, 800, 700]);
    let next = ItemQuery {
        after: page.last().map(Item::cursor),
        ..query
    };
    let times: Vec<u64> = index
        .items(coll, &next)
        .unwrap()
        .iter()
        .map(|i| i.time)
        .collect();
    assert_eq!(times, [600, 500]);
    let oldest = ItemQuery {
        min_time: 0,
        newest_first: false,
        after: None,
        limit: 2,
    };
    let page = index.items(coll, &oldest).unwrap();
    assert_eq!(page.iter().map(|i| i.time).collect::<Vec<_>>(), [100, 200]);
    let next = ItemQuery {
        after: page.last().map(Item::cursor),
        ..oldest
    };
    assert_eq!(index.items(coll, &next).unwrap()[0].time, 300);
    let below = ItemQuery {
        min_time: 450,
        newest_first: true,
        after: page.first().map(Item::cursor),
        limit: 5,
    };
    assert!(index.items(coll, &below).unwrap().is_empty());
}

#[test]
fn tiny_cache_still_gives_right_answers() {
    let dir = tempfile::tempdir().unwrap();
    let options = IndexOptions {
        cache_entries: 3,
        ..IndexOptions::default()
    };
    let index = open(&dir.path().join("s.redb"), options);
    let a = index.collection("u", "a").unwrap();
    let b = index.collection("u", "b").unwrap();
    let calls = Cell::new(0);
    let five: Vec<ScanEntry> = (0..5).map(|i| entry(&i.to_string(), "", i)).collect();
    refresh(&index, a, stamp(1), &five, &calls);
    refresh(&index, b, stamp(1), &five[..2], &calls);
    refresh(&index, a, stamp(2), &five[1..], &calls);
    let r = refresh(&index, b, stamp(2), &five[..3], &calls);
    assert_eq!((r.added, r.removed), (1, 0));
    assert_eq!(index.count(a).unwrap(), 4);
    assert!(index.cache().cached_items() <= 3);
}

#[test]
fn big_scans_are_chunked() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "c").unwrap();
    let calls = Cell::new(0);
    let n = CHUNK + 100;
    let many: Vec<ScanEntry> = (0..n).map(|i| entry(&format!("m{i}"), "", 1)).collect();
    let r = refresh(&index, coll, stamp(1), &many, &calls);
    assert_eq!(r.added, n);
    assert_eq!(index.count(coll).unwrap(), n as u64);
    let r = refresh(&index, coll, stamp(2), &many[1..], &calls);
    assert_eq!((r.added, r.removed), (0, 1));
}

#[test]
fn failed_listing_changes_nothing() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "c").unwrap();
    let result = index.refresh(coll, stamp(1), || Err("readdir failed"));
    assert!(matches!(result, Err(RefreshError::Scan("readdir failed"))));
    let calls = Cell::new(0);
    refresh(
        &index,
        coll,
        stamp(1),
        &[entry("a", "", 1), entry("", "", 1)],
        &calls,
    );
    assert_eq!((calls.get(), index.count(coll).unwrap()), (1, 1));
}

#[test]
fn concurrent_local_changes_get_distinct_uids() {
    let (_dir, index) = setup();
    let coll = index.collection("u", "c").unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let index = &index;
            s.spawn(move || {
                for i in 0..25 {
                    let key = format!("t{t}-{i}");
                    let change = LocalChange::Upsert {
                        key: &key,
                        version: "",
                        time: 0,
                    };
                    index.note_local_change(coll, change).unwrap();
                }
            });
        }
    });
    assert_eq!(index.count(coll).unwrap(), 100);
    assert_eq!(index.modseq(coll).unwrap(), 100);
    let items = index
        .items(
            coll,
            &ItemQuery {
                min_time: 0,
                newest_first: false,
                after: None,
                limit: 1000,
            },
        )
        .unwrap();
    let mut uids: Vec<u32> = items.iter().map(|i| i.uid.0).collect();
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(uids.len(), 100);
}

#[test]
fn rekey_keeps_the_uid_and_is_one_change() {
    let (_dir, index) = setup();
    let coll = index
        .collection("alice@example.com", "mail:.Drafts")
        .unwrap();
    let calls = Cell::new(0);
    refresh(
        &index,
        coll,
        stamp(1),
        &[entry("d1", "DS", 10), entry("other", "", 11)],
        &calls,
    );
    let uid = index.uid_of(coll, "d1").unwrap().unwrap();
    let before = index.modseq(coll).unwrap();
    let modseq = index.rekey(coll, uid, "d2", "DS", 20).unwrap();
    assert_eq!(modseq, before + 1);
    assert_eq!(index.uid_of(coll, "d1").unwrap(), None);
    assert_eq!(index.uid_of(coll, "d2").unwrap(), Some(uid));
    let item = index.item(coll, uid).unwrap().unwrap();
    assert_eq!((item.key.as_str(), item.time), ("d2", 20));
    assert_eq!(
        kinds(&index.changes_since(coll, before, 10).unwrap()),
        [('C', uid.0)]
    );
    // A rescan of the rewritten folder finds nothing new.
    let r = refresh(
        &index,
        coll,
        stamp(2),
        &[entry("d2", "DS", 20), entry("other", "", 11)],
        &calls,
    );
    assert_eq!((r.added, r.changed, r.removed), (0, 0, 0));
    // A scan that saw the new file first: its uid gives way to the rekeyed one.
    refresh(
        &index,
        coll,
        stamp(3),
        &[
            entry("d2", "DS", 20),
            entry("d3", "DS", 30),
            entry("other", "", 11),
        ],
        &calls,
    );
    let raced = index.uid_of(coll, "d3").unwrap().unwrap();
    index.rekey(coll, uid, "d3", "DS", 30).unwrap();
    assert_eq!(index.uid_of(coll, "d3").unwrap(), Some(uid));
    assert_eq!(index.item(coll, raced).unwrap(), None);
    assert_eq!(index.count(coll).unwrap(), 2);
}
