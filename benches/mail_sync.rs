//! Mail sync benchmark: a release `easd` serving a 10,000-message Inbox to one simulated phone.
//! Prints the initial sync rate (WindowSize 100, plain text cut at 5 KB) with the server's CPU
//! time for it (the machine is shared, so wall time alone says little), the server's peak RSS
//! (VmHWM) and the median time of 200 Syncs with nothing new. Builds nothing itself: cargo
//! builds the binary this runs.

mod support;

use support::PASSWORD;

use easd::client::{Device, Target};
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::SyncKey;
use easd::eas::options::ItemOptions;
use easd::eas::sync::{CollectionRequest, SyncRequest};
use easd::items::{BodyPreference, BodyType};
use std::time::{Duration, Instant};

const MESSAGES: u32 = 10_000;
const USER: &str = "bench@example.com";

fn make_maildir(root: &std::path::Path) {
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(40);
    for i in 0..MESSAGES {
        let msg = format!(
            "From: Sender {i} <s{i}@example.org>\r\nTo: Bench <{USER}>\r\nSubject: Message number {i}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <b{i}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        );
        let name = format!("{}.M{i}P1.bench,S={}:2,S", 1_690_000_000 + i, msg.len());
        std::fs::write(root.join("cur").join(name), msg).expect("write message");
    }
}

/// CPU seconds this process (the simulated phone) has used.
fn own_cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is valid, and getrusage only writes into the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn request(coll: &easd::eas::ids::CollectionId, key: SyncKey, options: bool) -> SyncRequest {
    let mut c = CollectionRequest::new(coll.clone(), key);
    c.window_size = Some(100);
    if options {
        c.options = Some(ItemOptions {
            body_preferences: vec![BodyPreference {
                body_type: BodyType::PlainText,
                truncation_size: Some(5120),
                all_or_none: false,
                preview: None,
            }],
            ..ItemOptions::default()
        });
    }
    SyncRequest {
        collections: vec![c],
        ..SyncRequest::default()
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    make_maildir(&data.join("mail").join(USER));
    let config = support::write_config(dir.path(), &data, &[USER], "");
    let server = support::Easd::start(&config);
    let addr = server.addr.clone();
    smol::block_on(async {
        let mut phone = Device::new(Target::http(addr), USER, PASSWORD, "bench1");
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
        let primed = phone
            .sync(&request(&inbox, SyncKey::Initial, true))
            .await
            .expect("prime");
        let mut key = primed.and_then(|r| r.collections[0].sync_key).expect("key");
        let start = Instant::now();
        let cpu_start = server.cpu_secs();
        let client_start = own_cpu_secs();
        let mut items = 0usize;
        loop {
            let r = phone
                .sync(&request(&inbox, key, false))
                .await
                .expect("sync")
                .expect("items");
            let c = &r.collections[0];
            items += c.commands.len();
            key = c.sync_key.expect("key");
            if !c.more_available {
                break;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let cpu = server.cpu_secs() - cpu_start;
        let client = own_cpu_secs() - client_start;
        println!(
            "initial sync: {items} items in {secs:.2} s = {:.0} items/s (server CPU {cpu:.2} s = {:.0} items per CPU second; client CPU {client:.2} s)",
            items as f64 / secs,
            items as f64 / cpu.max(0.001)
        );
        println!(
            "server peak RSS (VmHWM): {:.1} MB",
            server.peak_rss_kb() as f64 / 1024.0
        );
        let mut times: Vec<Duration> = Vec::with_capacity(200);
        for _ in 0..200 {
            let t = Instant::now();
            let r = phone
                .sync(&request(&inbox, key, false))
                .await
                .expect("sync");
            times.push(t.elapsed());
            assert!(r.is_none(), "no-change Sync answered with content");
        }
        times.sort();
        println!(
            "no-change Sync: median {:.3} ms (round trip on loopback, 200 requests)",
            times[100].as_secs_f64() * 1000.0
        );
    });
}
