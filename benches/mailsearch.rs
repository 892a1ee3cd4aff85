//! Mailbox search benchmark (issue #8): a release `easd` with two 50,000-message folders (Inbox
//! and Archive, written before it starts) answers Search (Store Mailbox, FreeText, Range 0-9) from
//! one simulated phone over loopback. Prints
//! - the first search of the Inbox right after the server started (its thread has just begun
//!   indexing both folders, so the search reads most messages from their files);
//! - how long the thread took to index both folders (wall until the server's CPU goes quiet, and
//!   its CPU time);
//! - the first search of the Archive after that (a folder no one searched, indexed meanwhile);
//! - the median and worst of warm searches for a word in one message, a common word, two words
//!   together and a word in none;
//! - the first search after 100 new messages arrive (read from their files), then a search 2 s
//!   after a Sync that saw 100 more (the thread indexed them meanwhile);
//! - the server's peak RSS. Builds nothing itself: cargo builds the binary this runs.
//!
//! `cargo bench --bench mailsearch`; MAILSEARCH_MESSAGES=N for another folder size.

mod support;

use support::PASSWORD;

use easd::client::{Device, Target};
use easd::eas::Command;
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::search::{
    MailboxQuery, Query, SearchRange, SearchRequest, SearchResponse, SearchStatus,
};
use easd::eas::sync::{CollectionRequest, SyncRequest};
use easd::items::{BodyPreference, BodyType};
use std::path::Path;
use std::time::{Duration, Instant};

const USER: &str = "bench@example.com";
/// The vocabulary bodies are drawn from: each word is in about 1% of the messages (more as a
/// prefix: the search matches word prefixes).
const VOCABULARY: u64 = 6000;
const WORDS_PER_BODY: u64 = 60;
const WARM_RUNS: usize = 20;

fn messages() -> u64 {
    std::env::var("MAILSEARCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

/// A pronounceable made-up word for a number, so bodies look like text to the tokenizer.
fn word(n: u64) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fu", "go", "ha", "ji", "pe",
        "zu",
    ];
    let mut n = n;
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[(n % 16) as usize]);
        n /= 16;
        if n == 0 {
            break;
        }
    }
    w
}

/// xorshift: the same folder on every run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn write_message(dir: &Path, sub: &str, i: u64, rng: &mut u64) {
    let body: Vec<String> = (0..WORDS_PER_BODY)
        .map(|_| word(next(rng) % VOCABULARY))
        .collect();
    let msg = format!(
        "From: Sender {i} <s{i}@example.org>\r\nTo: Bench <{USER}>\r\nSubject: Report {i} {}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <s{i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nUnique marker uniq{i}x.\r\n{}\r\n",
        word(i % VOCABULARY),
        body.join(" ")
    );
    let name = format!("{}.M{i}P1.bench,S={}:2,S", 1_690_000_000 + i, msg.len());
    std::fs::write(dir.join(sub).join(name), msg).expect("write message");
}

/// Waits until the server's CPU time stops growing, which is when its thread finished
/// indexing; returns the wait and the CPU seconds used meanwhile.
fn quiet(server: &support::Easd) -> (Duration, f64) {
    let t = Instant::now();
    let cpu0 = server.cpu_secs();
    let mut last = cpu0;
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = server.cpu_secs();
        if now - last < 0.02 {
            return (t.elapsed(), now - cpu0);
        }
        last = now;
    }
}

fn folder_id(changes: &[FolderChange], name: &str) -> CollectionId {
    changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.display_name == name => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("folder {name}"))
}

fn request(inbox: &CollectionId, words: &str) -> SearchRequest {
    SearchRequest {
        query: Query::Mailbox(MailboxQuery {
            class: Some("Email".into()),
            collection_ids: vec![inbox.clone()],
            free_text: words.into(),
            ..MailboxQuery::default()
        }),
        range: Some(SearchRange { first: 0, last: 9 }),
        deep_traversal: false,
        rebuild_results: true,
        item_options: easd::eas::options::ItemOptions {
            body_preferences: vec![BodyPreference {
                truncation_size: Some(200),
                ..BodyPreference::whole(BodyType::PlainText)
            }],
            ..Default::default()
        },
        picture: None,
    }
}

/// One search: (time, Total).
async fn search(phone: &mut Device, inbox: &CollectionId, words: &str) -> (Duration, u32) {
    let body = request(inbox, words).encode();
    let t = Instant::now();
    let r = phone
        .call_typed(Command::Search, &body, SearchResponse::parse)
        .await
        .expect("Search");
    let took = t.elapsed();
    assert_eq!(r.status, SearchStatus::Success, "{words}");
    assert_eq!(r.store_status, SearchStatus::Success, "{words}");
    (took, r.total.unwrap_or(r.results.len() as u32))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n = messages();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let root = data.join("mail").join(USER);
    let archive = root.join(".Archive");
    for folder in [&root, &archive] {
        for d in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(folder.join(d)).expect("mkdir");
        }
    }
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let t = Instant::now();
    for i in 0..n {
        write_message(&root, "cur", i, &mut rng);
    }
    for i in n + 1000..2 * n + 1000 {
        write_message(&archive, "cur", i, &mut rng);
    }
    // The server is to find a mailbox at rest, not the disk still writing back what this
    // process just wrote (which made the first search's fsyncs wait on it).
    let synced = std::process::Command::new("sync").status();
    assert!(synced.is_ok_and(|s| s.success()), "sync");
    println!(
        "wrote 2 x {n} messages in {:.1} s (and synced)",
        t.elapsed().as_secs_f64()
    );
    let config = support::write_config(dir.path(), &data, &[USER], "");
    let server = support::Easd::start(&config);
    let addr = server.addr.clone();
    smol::block_on(async {
        let mut phone = Device::new(Target::http(addr), USER, PASSWORD, "search1");
        let fs = phone
            .folder_sync(SyncKey::Initial)
            .await
            .expect("FolderSync");
        let inbox = fs
            .changes
            .iter()
            .find_map(|c| match c {
                FolderChange::Add(e) if e.kind == 2 => Some(e.server_id.clone()),
                _ => None,
            })
            .expect("inbox");
        let archive = folder_id(&fs.changes, "Archive");
        let cpu0 = server.cpu_secs();
        let (first, total) = search(&mut phone, &inbox, &format!("uniq{}x", n / 2)).await;
        assert_eq!(total, 1, "the unique word is in one message");
        println!(
            "first search, server just started (index being built): {:.0} ms, server CPU {:.2} s (with the thread's)",
            ms(first),
            server.cpu_secs() - cpu0
        );
        let (took, cpu) = quiet(&server);
        println!(
            "background index of both folders done {:.1} s later (measured to 2 s of quiet), server CPU {:.2} s",
            took.as_secs_f64(),
            cpu
        );
        let cpu = server.cpu_secs();
        let (t, total) = search(&mut phone, &archive, &format!("uniq{}x", n + 1000 + n / 2)).await;
        assert_eq!(total, 1, "the unique word is in one message");
        println!(
            "first search of the other folder, after the background index: {:.1} ms, server CPU {:.3} s",
            ms(t),
            server.cpu_secs() - cpu
        );
        let common = word(17);
        let queries = [
            ("a word in one message", format!("uniq{}x", n / 3)),
            ("a common word (also a prefix of others)", common.clone()),
            ("two words together", format!("{common} {}", word(4242))),
            ("a word in none", "nowhereatall".to_string()),
        ];
        for (what, q) in &queries {
            let mut times = Vec::with_capacity(WARM_RUNS);
            let mut hits = 0;
            let cpu = server.cpu_secs();
            for _ in 0..WARM_RUNS {
                let (t, total) = search(&mut phone, &inbox, q).await;
                times.push(t);
                hits = total;
            }
            let cpu = (server.cpu_secs() - cpu) / WARM_RUNS as f64;
            times.sort();
            println!(
                "warm search, {what} ({q:?}, {hits} hits): median {:.1} ms, worst {:.1} ms of {WARM_RUNS}, server CPU {:.1} ms each",
                ms(times[WARM_RUNS / 2]),
                ms(times[WARM_RUNS - 1]),
                cpu * 1000.0
            );
        }
        for i in n..n + 100 {
            write_message(&root, "new", i, &mut rng);
        }
        let cpu = server.cpu_secs();
        let (t, total) = search(&mut phone, &inbox, &format!("uniq{}x", n + 50)).await;
        assert_eq!(total, 1, "a new message is found");
        println!(
            "first search after 100 new messages (read from their files, not indexed yet): {:.1} ms, server CPU {:.2} s",
            ms(t),
            server.cpu_secs() - cpu
        );
        for i in n + 100..n + 200 {
            write_message(&root, "new", i, &mut rng);
        }
        let cpu = server.cpu_secs();
        let primed = phone
            .sync(&SyncRequest {
                collections: vec![CollectionRequest::new(inbox.clone(), SyncKey::Initial)],
                ..SyncRequest::default()
            })
            .await
            .expect("Sync");
        assert!(primed.is_some(), "Sync answered");
        smol::Timer::after(Duration::from_secs(2)).await;
        let (t, total) = search(&mut phone, &inbox, &format!("uniq{}x", n + 150)).await;
        assert_eq!(total, 1, "a message the Sync saw is found");
        println!(
            "search 2 s after a Sync saw 100 new messages (the index caught up in the background): {:.1} ms, server CPU {:.2} s for Sync and search",
            ms(t),
            server.cpu_secs() - cpu
        );
        println!(
            "server peak RSS (VmHWM): {:.1} MB",
            server.peak_rss_kb() as f64 / 1024.0
        );
    });
}
