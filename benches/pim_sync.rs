//! Calendar sync benchmark: a release `easd` serving a vdir calendar of 5,000 events (a third in
//! named zones, a third recurring, a third all-day) to one simulated phone. Prints the initial sync
//! rate (WindowSize 100) with the server's CPU time for it, the server's peak RSS (VmHWM), the
//! median of 200 Syncs with nothing new, and the median Sync after one file was replaced (the
//! directory rescan: a readdir plus one stat per file, and one parse of the changed file). Run with
//! `cargo bench --bench pim_sync`.

mod support;

use support::PASSWORD;

use easd::client::{Device, Target};
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::sync::{CollectionRequest, SyncRequest};
use std::path::Path;
use std::time::{Duration, Instant};

const EVENTS: u32 = 5_000;
const USER: &str = "bench@example.com";

fn event(i: u32) -> String {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let (start, end, extra) = match i % 3 {
        0 => (
            format!("DTSTART;TZID=Europe/Paris:2030{month:02}{day:02}T090000"),
            format!("DTEND;TZID=Europe/Paris:2030{month:02}{day:02}T100000"),
            String::new(),
        ),
        1 => (
            format!("DTSTART;TZID=America/New_York:2030{month:02}{day:02}T140000"),
            format!("DTEND;TZID=America/New_York:2030{month:02}{day:02}T150000"),
            "RRULE:FREQ=WEEKLY;COUNT=10\r\n".to_string(),
        ),
        _ => (
            format!("DTSTART;VALUE=DATE:2030{month:02}{day:02}"),
            format!("DTEND;VALUE=DATE:2030{month:02}{:02}", day + 1),
            String::new(),
        ),
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-{i}\r\nDTSTAMP:20300101T000000Z\r\n{start}\r\n{end}\r\n{extra}SUMMARY:Event number {i}\r\nLOCATION:Room {}\r\nDESCRIPTION:Agenda for meeting {i}: {}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        i % 40,
        "items to discuss, ".repeat(10)
    )
}

fn make_calendar(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for i in 0..EVENTS {
        std::fs::write(dir.join(format!("bench-{i}.ics")), event(i)).expect("write event");
    }
}

fn request(coll: &CollectionId, key: SyncKey) -> SyncRequest {
    let mut c = CollectionRequest::new(coll.clone(), key);
    c.window_size = Some(100);
    SyncRequest {
        collections: vec![c],
        ..SyncRequest::default()
    }
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let calendar = data.join("dav").join(USER).join("calendar");
    make_calendar(&calendar);
    let config = support::write_config(
        dir.path(),
        &data,
        &[USER],
        "[dav]
time_zone = \"Europe/Paris\"
",
    );
    let server = support::Easd::start(&config);
    let addr = server.addr.clone();
    smol::block_on(async {
        let mut phone = Device::new(Target::http(addr), USER, PASSWORD, "bench1");
        let fs = phone
            .folder_sync(SyncKey::Initial)
            .await
            .expect("FolderSync");
        let cal = fs
            .changes
            .iter()
            .find_map(|c| match c {
                FolderChange::Add(e) if e.kind == 8 => Some(e.server_id.clone()),
                _ => None,
            })
            .expect("calendar");
        let start = Instant::now();
        let cpu_start = server.cpu_secs();
        let primed = phone
            .sync(&request(&cal, SyncKey::Initial))
            .await
            .expect("prime");
        let mut key = primed.and_then(|r| r.collections[0].sync_key).expect("key");
        let index_secs = start.elapsed().as_secs_f64();
        let mut items = 0usize;
        loop {
            let r = phone
                .sync(&request(&cal, key))
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
        assert_eq!(items, EVENTS as usize, "every event reaches the phone");
        println!(
            "initial sync: {items} events in {secs:.2} s = {:.0} events/s, of which the first scan (prime) {index_secs:.2} s (server CPU {cpu:.2} s = {:.0} events per CPU second)",
            items as f64 / secs,
            items as f64 / cpu.max(0.001)
        );
        println!(
            "server peak RSS (VmHWM): {:.1} MB",
            server.peak_rss_kb() as f64 / 1024.0
        );
        let mut idle = Vec::with_capacity(200);
        for _ in 0..200 {
            let t = Instant::now();
            let r = phone.sync(&request(&cal, key)).await.expect("sync");
            idle.push(t.elapsed());
            assert!(r.is_none(), "no-change Sync answered with content");
        }
        println!(
            "no-change Sync: median {:.3} ms (round trip on loopback, 200 requests)",
            median(idle)
        );
        let mut rescans = Vec::with_capacity(50);
        for round in 0..50u32 {
            let i = round * 7;
            let text = event(i).replace("Event number", &format!("Edited {round}"));
            let tmp = calendar.join(".bench-tmp");
            std::fs::write(&tmp, text).expect("write");
            std::fs::rename(&tmp, calendar.join(format!("bench-{i}.ics"))).expect("rename");
            let t = Instant::now();
            let r = phone
                .sync(&request(&cal, key))
                .await
                .expect("sync")
                .expect("the change");
            rescans.push(t.elapsed());
            let c = &r.collections[0];
            assert_eq!(c.commands.len(), 1, "one Change");
            key = c.sync_key.expect("key");
        }
        println!(
            "Sync after one replaced file: median {:.3} ms ({EVENTS} files rescanned, 50 requests)",
            median(rescans)
        );
    });
}
