use std::cell::Cell;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::state::index::{Change, IndexOptions, Unrecorded};
use crate::state::open_db;
use crate::store::{FlagUpdate, Maildir, deliver};

fn index_at(path: &Path, racy_window: Duration) -> ChangeIndex {
    let db = open_db(path, 8 << 20).unwrap();
    let options = IndexOptions {
        racy_window,
        ..IndexOptions::default()
    };
    ChangeIndex::open(Arc::new(db), options).unwrap()
}

/// `refresh_folder`, but counting the listings.
fn counted(
    index: &ChangeIndex,
    coll: Collection,
    store: &Maildir,
    folder: &FolderName,
    calls: &Cell<u32>,
) -> Refreshed {
    let stamp = store.stamps(folder).unwrap().whole;
    index
        .refresh(coll, stamp, || {
            calls.set(calls.get() + 1);
            scan_listed(store, folder, store.list(folder)?)
        })
        .unwrap()
}

#[test]
fn maildir_changes_reach_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Maildir::new(dir.path().join("Maildir"));
    store.ensure_default_folders().unwrap();
    let index = index_at(&dir.path().join("s.redb"), Duration::ZERO);
    let inbox = FolderName::inbox();
    let trash = FolderName::parse(".Trash").unwrap();
    let coll = index.collection("u", &collection_name(&inbox)).unwrap();
    let trash_coll = index.collection("u", &collection_name(&trash)).unwrap();
    assert_eq!(collection_name(&trash), "mail:.Trash");

    let key = deliver(store.root(), &inbox, b"Subject: hi\r\n\r\n").unwrap();
    fs::write(store.root().join("cur/odd-name:2,S"), b"x").unwrap();
    let r = refresh_folder(&index, coll, &store, &inbox).unwrap();
    assert_eq!(r.added, 2);
    let uid = index.uid_of(coll, key.as_str()).unwrap().unwrap();
    let item = index.item(coll, uid).unwrap().unwrap();
    assert_eq!(item.time, key.received_hint().unwrap());
    let odd = index.uid_of(coll, "odd-name").unwrap().unwrap();
    assert!(index.item(coll, odd).unwrap().unwrap().time > 1_600_000_000);

    // easd marks it read and records that itself: the rescan sees nothing.
    let msg = message_ref(&item).unwrap();
    let seen = FlagUpdate {
        set: Flags::SEEN,
        clear: Flags::EMPTY,
    };
    let flags = store.set_flags(&inbox, &msg, seen).unwrap();
    let msg = MessageRef { flags, ..msg };
    let noted = note_message(&index, coll, &msg).unwrap();
    let r = refresh_folder(&index, coll, &store, &inbox).unwrap();
    assert!(r.scanned);
    assert_eq!(
        (r.added, r.changed, r.removed, r.modseq),
        (0, 0, 0, noted.modseq)
    );

    // Another mail client flags it.
    let cur = store.root().join("cur");
    fs::rename(
        cur.join(format!("{key}:2,S")),
        cur.join(format!("{key}:2,FS")),
    )
    .unwrap();
    let r = refresh_folder(&index, coll, &store, &inbox).unwrap();
    assert_eq!(r.changed, 1);
    let item = index.item(coll, uid).unwrap().unwrap();
    assert_eq!(item.version, "FS");

    // easd moves it to Trash.
    let moved = store
        .move_to(&inbox, &message_ref(&item).unwrap(), &trash)
        .unwrap();
    note_removed(&index, coll, &moved.key).unwrap();
    let in_trash = note_message(&index, trash_coll, &moved).unwrap();
    let r = refresh_folder(&index, trash_coll, &store, &trash).unwrap();
    assert_eq!((r.added, r.changed), (0, 0));
    let page = index.changes_since(trash_coll, 0, 10).unwrap();
    assert!(matches!(&page.changes[..], [Change::Added(i)] if Some(i.uid) == in_trash.uid));
    let item = index
        .item(trash_coll, in_trash.uid.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        store.read(&trash, &message_ref(&item).unwrap()).unwrap(),
        b"Subject: hi\r\n\r\n"
    );
    assert_eq!(index.count(coll).unwrap(), 1);
}

#[test]
fn fifty_thousand_messages() {
    const N: usize = 50_000;
    let dir = tempfile::tempdir().unwrap();
    let store = Maildir::new(dir.path().join("Maildir"));
    store.ensure_default_folders().unwrap();
    let cur = store.root().join("cur");
    // Hard links: far cheaper to make than 50,000 files, the same to readdir.
    let original = dir.path().join("message");
    fs::write(&original, b"x").unwrap();
    for i in 0..N {
        let name = format!("{}.M{i}P1Q{i}.box,S=2000:2,S", 1_600_000_000 + i);
        fs::hard_link(&original, cur.join(name)).unwrap();
    }
    let window = Duration::from_millis(100);
    let index = index_at(&dir.path().join("s.redb"), window);
    let inbox = FolderName::inbox();
    let coll = index.collection("u", "mail:INBOX").unwrap();
    let calls = Cell::new(0);
    std::thread::sleep(window);
    let r = counted(&index, coll, &store, &inbox, &calls);
    assert_eq!((r.added, calls.get()), (N, 1));

    let r = counted(&index, coll, &store, &inbox, &calls);
    assert_eq!((r.scanned, calls.get()), (false, 1));

    fs::rename(
        cur.join("1600012345.M12345P1Q12345.box,S=2000:2,S"),
        cur.join("1600012345.M12345P1Q12345.box,S=2000:2,FS"),
    )
    .unwrap();
    let r = counted(&index, coll, &store, &inbox, &calls);
    assert_eq!((r.added, r.changed, r.removed, calls.get()), (0, 1, 0, 2));
    let page = index.changes_since(coll, N as u64, 10).unwrap();
    assert!(
        matches!(&page.changes[..], [Change::Changed(i)] if i.key == "1600012345.M12345P1Q12345.box,S=2000")
    );
}

/// One part's listing, as `refresh_arrivals` and `preview_arrivals_first` take it.
type Listing<'a> = Box<dyn Fn() -> Result<Vec<ScanEntry>, StoreError> + 'a>;

/// The two listings of `folder`, new/ then cur/, each counting its calls in `lists`.
fn parts<'a>(
    store: &'a Maildir,
    folder: &'a FolderName,
    lists: &'a Cell<(u32, u32)>,
) -> (Listing<'a>, Listing<'a>) {
    let new = move || {
        lists.set((lists.get().0 + 1, lists.get().1));
        scan_new(store, folder)
    };
    let cur = move || {
        lists.set((lists.get().0, lists.get().1 + 1));
        scan_cur(store, folder)
    };
    (Box::new(new), Box::new(cur))
}

/// `refresh_folder`, counting the listings of new/ and of cur/.
fn counted_parts(
    index: &ChangeIndex,
    coll: Collection,
    store: &Maildir,
    folder: &FolderName,
    lists: &Cell<(u32, u32)>,
) -> Refreshed {
    let stamps = store.stamps(folder).unwrap();
    let (new, cur) = parts(store, folder, lists);
    index
        .refresh_arrivals(coll, stamps.whole, stamps.settled, new, cur)
        .unwrap()
}

/// A Maildir with its INBOX's index collection, and the index's racy window: wide enough that
/// on a slow machine a refresh right after a change still falls within it.
fn inbox() -> (
    tempfile::TempDir,
    Maildir,
    ChangeIndex,
    Collection,
    Duration,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Maildir::new(dir.path().join("Maildir"));
    store.ensure_default_folders().unwrap();
    let window = Duration::from_millis(500);
    let index = index_at(&dir.path().join("s.redb"), window);
    let coll = index.collection("u", "mail:INBOX").unwrap();
    (dir, store, index, coll, window)
}

#[test]
fn while_cur_stays_put_a_refresh_lists_new_alone() {
    let (_dir, store, index, coll, window) = inbox();
    let inbox = FolderName::inbox();
    let cur = store.root().join("cur");
    let new = store.root().join("new");
    for i in 0..3 {
        fs::write(cur.join(format!("1600000000.M{i}P1.box:2,S")), b"x").unwrap();
    }
    let first = deliver(store.root(), &inbox, b"Subject: 1\r\n\r\n").unwrap();
    let lists = Cell::new((0, 0));
    // Past the racy window, so the scan may trust cur/'s stamp.
    std::thread::sleep(window + Duration::from_millis(50));
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!((r.added, lists.get()), (4, (1, 1)));
    let first_uid = index.uid_of(coll, first.as_str()).unwrap().unwrap();

    // A delivery: new/ alone is listed.
    let second = deliver(store.root(), &inbox, b"Subject: 2\r\n\r\n").unwrap();
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!((r.added, r.removed, lists.get()), (1, 0, (2, 1)));

    // Deleted from new/ by another program: found gone without listing cur/.
    fs::remove_file(new.join(second.as_str())).unwrap();
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!((r.added, r.removed, lists.get()), (0, 1, (3, 1)));
    assert_eq!(index.count(coll).unwrap(), 4);

    // A mail client moves the first to cur/: cur/ moved, so both are listed, and the message
    // keeps its id (only its flags changed).
    fs::rename(new.join(first.as_str()), cur.join(format!("{first}:2,S"))).unwrap();
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!(
        (r.added, r.changed, r.removed, lists.get()),
        (0, 1, 0, (4, 2))
    );
    assert_eq!(index.uid_of(coll, first.as_str()).unwrap(), Some(first_uid));

    // That scan came within the racy window of cur/'s change: the next one lists cur/ again.
    std::thread::sleep(window + Duration::from_millis(50));
    let third = deliver(store.root(), &inbox, b"Subject: 3\r\n\r\n").unwrap();
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!((r.added, lists.get()), (1, (5, 3)));

    // A change easd records itself drops what the last refresh knew of new/: a message easd
    // delivered there and recorded, then removed by another program before any refresh, was
    // never among new/'s keys, and a refresh of new/ alone would miss that it is gone.
    let local = deliver(store.root(), &inbox, b"Subject: mine\r\n\r\n").unwrap();
    let local = MessageRef {
        key: local,
        flags: Flags::EMPTY,
    };
    note_message(&index, coll, &local).unwrap();
    fs::remove_file(new.join(local.key.as_str())).unwrap();
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!((r.removed, lists.get()), (1, (6, 4)));
    // ...after which new/ alone does again.
    fs::remove_file(new.join(third.as_str())).unwrap();
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!((r.removed, lists.get()), (1, (7, 4)));
    assert_eq!(index.count(coll).unwrap(), 4);
}

/// `preview_folder`, counting the listings of new/ and of cur/.
fn counted_preview(
    index: &ChangeIndex,
    coll: Collection,
    store: &Maildir,
    folder: &FolderName,
    since: u64,
    lists: &Cell<(u32, u32)>,
) -> Preview {
    let stamps = || store.stamps(folder).map(|s| (s.whole, s.settled));
    let (new, cur) = parts(store, folder, lists);
    index
        .preview_arrivals_first(coll, since, stamps, new, cur)
        .unwrap()
}

#[test]
fn a_held_pings_look_leaves_a_settled_cur_unread() {
    let (_dir, store, index, coll, window) = inbox();
    let inbox = FolderName::inbox();
    let cur = store.root().join("cur");
    let new = store.root().join("new");
    fs::write(cur.join("1600000000.M1P1.box:2,S"), b"x").unwrap();
    std::thread::sleep(window + Duration::from_millis(50));
    let lists = Cell::new((0, 0));
    let r = counted_parts(&index, coll, &store, &inbox, &lists);
    assert_eq!(r.added, 1);
    let old = deliver(store.root(), &inbox, b"Subject: 1\r\n\r\n").unwrap();
    // Recorded by a refresh within the racy window of new/'s change: the look lists new/ (once
    // before the stamps, as it always does, and again after them), but cur/ is known, so not
    // cur/.
    counted_parts(&index, coll, &store, &inbox, &lists);
    let lists = Cell::new((0, 0));
    let p = counted_preview(&index, coll, &store, &inbox, 0, &lists);
    assert_eq!((p.unrecorded.len(), lists.get()), (0, (2, 0)));

    // Removed from new/ by another program: seen gone from new/ alone.
    let uid = index.uid_of(coll, old.as_str()).unwrap().unwrap();
    fs::remove_file(new.join(old.as_str())).unwrap();
    let p = counted_preview(&index, coll, &store, &inbox, 0, &lists);
    assert_eq!(p.unrecorded, [Unrecorded::Removed { uid }]);
    assert_eq!(lists.get(), (4, 0));

    // cur/ moved since: both are read.
    fs::write(cur.join("1600000001.M2P1.box:2,S"), b"y").unwrap();
    let p = counted_preview(&index, coll, &store, &inbox, u64::MAX, &lists);
    assert_eq!(p.unrecorded.len(), 2, "{:?}", p.unrecorded);
    assert_eq!(lists.get(), (6, 1));

    // A delivery the index does not know answers from new/'s one listing.
    deliver(store.root(), &inbox, b"Subject: 2\r\n\r\n").unwrap();
    let p = counted_preview(&index, coll, &store, &inbox, 0, &lists);
    assert!(
        matches!(p.unrecorded[..], [Unrecorded::Added { .. }]),
        "{p:?}"
    );
    assert_eq!(lists.get(), (7, 1));
}
