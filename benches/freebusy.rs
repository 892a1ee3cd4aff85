//! Free/busy benchmark: a release `easd` with bob's vdir calendar of 5,000 files (single events
//! in named zones, all-day events, weekly series with an EXDATE, daily series with an override)
//! and alice's phone asking ResolveRecipients Availability for bob over the longest window the
//! spec allows (42 days, 2,016 digits). Prints the median and worst answer time of 20 requests
//! with the server's CPU time per answer, and the server's peak RSS. Run with
//! `cargo bench --bench freebusy`.

mod support;

use support::PASSWORD;

use easd::client::{Device, Target};
use easd::eas::Command as EasCommand;
use easd::eas::resolverecipients::{
    AvailabilityRequest, AvailabilityStatus, ResolveRequest, ResolveResponse,
};
use std::path::Path;
use std::time::{Duration, Instant};

const EVENTS: u32 = 5_000;
const REQUESTS: usize = 20;

/// Event `i`, spread over 2030 so a 42-day window meets about a ninth of the single ones and
/// every series.
fn event(i: u32) -> String {
    let day = 1 + i % 28;
    let month = 1 + (i / 28) % 12;
    let body = match i % 4 {
        0 => format!(
            "DTSTART;TZID=Europe/Paris:2030{month:02}{day:02}T090000\r\nDTEND;TZID=Europe/Paris:2030{month:02}{day:02}T100000\r\n"
        ),
        1 => format!(
            "DTSTART;VALUE=DATE:2030{month:02}{day:02}\r\nDTEND;VALUE=DATE:2030{month:02}{:02}\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n",
            day + 1
        ),
        2 => format!(
            "DTSTART;TZID=America/New_York:2029{month:02}{day:02}T140000\r\nDTEND;TZID=America/New_York:2029{month:02}{day:02}T150000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE\r\nEXDATE;TZID=America/New_York:2030{month:02}{day:02}T140000\r\n"
        ),
        _ => format!(
            "DTSTART:2029{month:02}{day:02}T070000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY;INTERVAL=3\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:bench-{i}\r\nRECURRENCE-ID:2030{month:02}{day:02}T070000Z\r\nDTSTART:2030{month:02}{day:02}T120000Z\r\nDTEND:2030{month:02}{day:02}T130000Z\r\n"
        ),
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-{i}\r\nDTSTAMP:20300101T000000Z\r\nSUMMARY:Event {i}\r\n{body}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn make_calendar(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    for i in 0..EVENTS {
        std::fs::write(dir.join(format!("bench-{i}.ics")), event(i)).expect("write event");
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    make_calendar(&data.join("dav").join("bob@example.com").join("calendar"));
    let config = support::write_config(
        dir.path(),
        &data,
        &["alice@example.com", "bob@example.com"],
        "[dav]\ntime_zone = \"Europe/Paris\"\n",
    );
    let server = support::Easd::start(&config);
    let addr = server.addr.clone();
    let req = ResolveRequest {
        to: vec!["bob@example.com".into()],
        certificate_retrieval: None,
        max_ambiguous: None,
        availability: Some(AvailabilityRequest {
            start_time: "2030-03-01T00:00:00Z".parse().expect("start"),
            end_time: Some("2030-04-12T00:00:00Z".parse().expect("end")),
        }),
        picture: None,
    };
    smol::block_on(async {
        let mut phone = Device::new(Target::http(addr), "alice@example.com", PASSWORD, "fb");
        let mut times: Vec<Duration> = Vec::with_capacity(REQUESTS);
        let cpu_start = server.cpu_secs();
        let mut busy = 0;
        for _ in 0..REQUESTS {
            let t = Instant::now();
            let tree = phone
                .call(EasCommand::ResolveRecipients, &req.encode())
                .await
                .expect("ResolveRecipients");
            times.push(t.elapsed());
            let resp = ResolveResponse::parse(&tree).expect("parse");
            let a = resp.responses[0].recipients[0]
                .availability
                .clone()
                .expect("availability");
            assert_eq!(a.status, AvailabilityStatus::Success);
            let digits = a.merged_free_busy.expect("digits");
            assert_eq!(digits.len(), 2016);
            busy = digits.chars().filter(|c| *c != '0').count();
        }
        let cpu = (server.cpu_secs() - cpu_start) / REQUESTS as f64;
        times.sort();
        println!(
            "free/busy of a {EVENTS}-file calendar over 42 days ({busy} of 2016 slots not free): median {:.1} ms, worst {:.1} ms of {REQUESTS} requests; server CPU {:.1} ms per answer",
            times[REQUESTS / 2].as_secs_f64() * 1000.0,
            times[REQUESTS - 1].as_secs_f64() * 1000.0,
            cpu * 1000.0
        );
        println!(
            "server peak RSS (VmHWM): {:.1} MB",
            server.peak_rss_kb() as f64 / 1024.0
        );
    });
}
