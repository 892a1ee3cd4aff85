//! Figures for the change index on a 50,000-message folder: the cost of a
//! Sync that finds nothing new, of the first full listing, of a rescan
//! after one change (in cur/, or a delivery into new/), and of a held Ping's
//! look after a delivery. Plain `Instant` timing; run with `cargo bench --bench index`.

use std::fs;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use easd::state::index::{ChangeIndex, IndexOptions, ItemQuery};
use easd::state::{mail, open_db};
use easd::store::{FolderName, MailStore, Maildir};

const MESSAGES: usize = 50_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Maildir::new(dir.path().join("Maildir"));
    store.ensure_default_folders().expect("maildir");
    let cur = store.root().join("cur");
    let original = dir.path().join("message");
    fs::write(&original, b"Subject: x\r\n\r\nx\r\n").expect("message");
    for i in 0..MESSAGES {
        let name = format!("{}.M{i}P1Q{i}.box,S=2000:2,S", 1_600_000_000 + i);
        fs::hard_link(&original, cur.join(name)).expect("link");
    }
    let inbox = FolderName::inbox();

    let listings: Vec<Duration> = (0..5)
        .map(|_| time(|| black_box(store.list(&inbox).expect("list"))).1)
        .collect();
    println!(
        "list() of {MESSAGES} messages: median {:?}",
        median(listings)
    );

    let db = open_db(&dir.path().join("state.redb"), 16 << 20).expect("db");
    let options = IndexOptions {
        racy_window: Duration::from_millis(50),
        ..IndexOptions::default()
    };
    let db = Arc::new(db);
    let index = ChangeIndex::open(Arc::clone(&db), options).expect("index");
    let coll = index.collection("bench", "mail:INBOX").expect("collection");
    std::thread::sleep(Duration::from_millis(60));
    let (first, took) =
        time(|| mail::refresh_folder(&index, coll, &store, &inbox).expect("refresh"));
    println!(
        "initial refresh (list + index {} items): {took:?}",
        first.added
    );

    let idle: Vec<Duration> = (0..2000)
        .map(|_| {
            let (r, took) =
                time(|| mail::refresh_folder(&index, coll, &store, &inbox).expect("refresh"));
            assert!(!r.scanned, "no-change refresh listed the folder");
            took
        })
        .collect();
    println!("refresh with no change: median {:?}", median(idle));

    let mut rescans = Vec::new();
    for i in 0..5 {
        let name = format!("{}.M{i}P1Q{i}.box,S=2000", 1_600_000_000 + i);
        fs::rename(
            cur.join(format!("{name}:2,S")),
            cur.join(format!("{name}:2,FS")),
        )
        .expect("rename");
        let (r, took) =
            time(|| mail::refresh_folder(&index, coll, &store, &inbox).expect("refresh"));
        assert_eq!(r.changed, 1);
        rescans.push(took);
    }
    println!("rescan after one flag change: median {:?}", median(rescans));

    // A held Ping's look after one delivery into new/: with arrivals first, the unknown message
    // in new/ answers it; with a window no arrival falls in, the whole folder is compared.
    let new_dir = store.root().join("new");
    fs::hard_link(&original, new_dir.join("1700000000.M1P1Q1.box,S=2000")).expect("deliver");
    for (what, since) in [("arrivals first", 0), ("whole folder", u64::MAX)] {
        let looks: Vec<Duration> = (0..20)
            .map(|_| {
                let (p, took) = time(|| {
                    mail::preview_folder(&index, coll, &store, &inbox, since).expect("preview")
                });
                assert_eq!(p.unrecorded.len(), 1);
                took
            })
            .collect();
        println!(
            "held Ping's look after one delivery ({what}): median {:?}",
            median(looks)
        );
    }
    // The same look when the folder's item map is not in memory (more mail than
    // limits.cache_entries): the arrivals are looked up by key instead of loading the map.
    let uncached = ChangeIndex::open(
        Arc::clone(&db),
        IndexOptions {
            cache_entries: 0,
            ..options
        },
    )
    .expect("index");
    let looks: Vec<Duration> = (0..20)
        .map(|_| {
            let (p, took) =
                time(|| mail::preview_folder(&uncached, coll, &store, &inbox, 0).expect("preview"));
            assert_eq!(p.unrecorded.len(), 1);
            took
        })
        .collect();
    println!(
        "held Ping's look after one delivery (item map not cached): median {:?}",
        median(looks)
    );
    drop(uncached);
    // cur/ last moved within the racy window of the rescans above: one more full rescan past it
    // lets the index trust cur/'s stamp.
    std::thread::sleep(Duration::from_millis(60));
    mail::refresh_folder(&index, coll, &store, &inbox).expect("refresh");
    let mut deliveries = Vec::new();
    for i in 2..7 {
        let name = format!("1700000000.M{i}P1Q{i}.box,S=2000");
        fs::hard_link(&original, new_dir.join(name)).expect("deliver");
        let (r, took) =
            time(|| mail::refresh_folder(&index, coll, &store, &inbox).expect("refresh"));
        assert_eq!(r.added, 1);
        deliveries.push(took);
    }
    println!(
        "rescan after one delivery into new/: median {:?}",
        median(deliveries)
    );

    let modseq = index.modseq(coll).expect("modseq");
    let pages: Vec<Duration> = (0..200)
        .map(|_| time(|| black_box(index.changes_since(coll, modseq - 5, 100).expect("changes"))).1)
        .collect();
    println!("changes_since (5 changes): median {:?}", median(pages));
    let newest = ItemQuery {
        min_time: 0,
        newest_first: true,
        after: None,
        limit: 100,
    };
    let windows: Vec<Duration> = (0..200)
        .map(|_| time(|| black_box(index.items(coll, &newest).expect("items"))).1)
        .collect();
    println!("items, newest 100: median {:?}", median(windows));
    let db_size = fs::metadata(dir.path().join("state.redb")).map_or(0, |m| m.len());
    let stats = db
        .begin_write()
        .and_then(|t| Ok(t.stats()?))
        .expect("stats");
    println!(
        "state.redb: file {} KiB, {} KiB in {} pages allocated, {} KiB stored in leaves, {} KiB fragmented",
        db_size / 1024,
        stats.allocated_pages() * stats.page_size() as u64 / 1024,
        stats.allocated_pages(),
        stats.stored_bytes() / 1024,
        stats.fragmented_bytes() / 1024
    );
    drop(index);
    let Ok(mut db) = Arc::try_unwrap(db) else {
        panic!("the index still holds the database");
    };
    let (_, took) = time(|| db.compact().expect("compact"));
    drop(db);
    let db_size = fs::metadata(dir.path().join("state.redb")).map_or(0, |m| m.len());
    println!("after compact ({took:?}): file {} KiB", db_size / 1024);
}
