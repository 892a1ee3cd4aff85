//! Calendars through the real server: events in Europe/Paris, America/New_York, Asia/Kolkata and
//! Australia/Lord_Howe on both sides of DST show the same local times on the phone as on disk;
//! all-day events keep their day both ways; FilterType windows; 16.x InstanceId edits and
//! deletes of one occurrence; the shared corpus synced without failing a Sync.

mod common;
mod pim_sync_support;

use common::{Options, Server};
use easd::ProtocolVersion;
use easd::eas::ids::ClientId;
use easd::eas::sync::{ClientCommand, ClientResponse, ServerCommand, SyncStatus};
use easd::items::eas_time;
use easd::items::tzinfo::TzInfo;
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, calendar as cal};
use jiff::civil::DateTime;
use pim_sync_support::*;

fn server() -> Server {
    Server::start_with(Options {
        extra: "[dav]\ntime_zone = \"Europe/Paris\"\n".into(),
        ..Options::default()
    })
}

fn event_file(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{start}\r\n{end}\r\n{extra}SUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn adds(cmds: &[ServerCommand]) -> Vec<Element> {
    cmds.iter()
        .filter_map(|c| match c {
            ServerCommand::Add { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

fn by_subject<'a>(items: &'a [Element], subject: &str) -> &'a Element {
    items
        .iter()
        .find(|d| d.child_text(cal::SUBJECT) == Some(subject))
        .unwrap_or_else(|| panic!("{subject} not sent"))
}

/// The wall-clock time the phone shows: StartTime read in the item's own Timezone blob.
fn local_start(data: &Element) -> DateTime {
    let tz = TzInfo::from_base64(data.child_text(cal::TIMEZONE).unwrap())
        .unwrap()
        .to_time_zone();
    let start = eas_time::parse(data.child_text(cal::START_TIME).unwrap()).unwrap();
    tz.to_datetime(start)
}

fn dt(s: &str) -> DateTime {
    s.parse().unwrap()
}

#[test]
fn zones_and_all_day_events_keep_their_local_times() {
    let server = server();
    let dir = dav(&server).join("calendar");
    let zoned = [
        // Paris: the Monday after the spring change, and the Thursday before it.
        (
            "paris-summer",
            "Europe/Paris",
            "20300401T090000",
            "20300401T100000",
        ),
        (
            "paris-winter",
            "Europe/Paris",
            "20300321T090000",
            "20300321T100000",
        ),
        (
            "ny-summer",
            "America/New_York",
            "20300312T090000",
            "20300312T100000",
        ),
        (
            "ny-winter",
            "America/New_York",
            "20300305T090000",
            "20300305T100000",
        ),
        (
            "kolkata",
            "Asia/Kolkata",
            "20300310T090000",
            "20300310T100000",
        ),
        (
            "lordhowe-std",
            "Australia/Lord_Howe",
            "20300929T090000",
            "20300929T100000",
        ),
        (
            "lordhowe-dst",
            "Australia/Lord_Howe",
            "20301013T090000",
            "20301013T100000",
        ),
    ];
    for (uid, zone, start, end) in zoned {
        put(
            &dir,
            &format!("{uid}.ics"),
            &event_file(
                uid,
                &format!("DTSTART;TZID={zone}:{start}"),
                &format!("DTEND;TZID={zone}:{end}"),
                "",
            ),
        );
    }
    put(
        &dir,
        "allday.ics",
        &event_file(
            "allday",
            "DTSTART;VALUE=DATE:20300704",
            "DTEND;VALUE=DATE:20300705",
            "",
        ),
    );
    put(
        &dir,
        "floating.ics",
        &event_file(
            "floating",
            "DTSTART:20300704T080000",
            "DTEND:20300704T090000",
            "",
        ),
    );
    for version in [
        ProtocolVersion::V12_1,
        ProtocolVersion::V14_1,
        ProtocolVersion::V16_1,
    ] {
        let mut p = phone(&server, &format!("tz{}", version.as_str()), version);
        let id = folder_of(&folders(&mut p), 8);
        let mut s = Synced::prime(&mut p, &id, 8, None);
        let items = adds(&s.drain(&mut p));
        for (uid, zone, start, _) in zoned {
            let data = by_subject(&items, uid);
            assert_eq!(local_start(data), dt(start), "{uid} at {version:?}");
            // And the instant is the zone's own.
            let tz = jiff::tz::db().get(zone).unwrap();
            let expected = tz.to_timestamp(dt(start)).unwrap();
            assert_eq!(
                data.child_text(cal::START_TIME).unwrap(),
                eas_time::compact(expected),
                "{uid}"
            );
        }
        let allday = by_subject(&items, "allday");
        assert_eq!(allday.child_text(cal::ALL_DAY_EVENT), Some("1"));
        assert_eq!(local_start(allday), dt("20300704T000000"));
        // Floating times are the account's zone (dav.time_zone = Europe/Paris, CEST in July).
        let floating = by_subject(&items, "floating");
        assert_eq!(
            floating.child_text(cal::START_TIME),
            Some("20300704T060000Z")
        );
    }

    // Phone → disk: an all-day event from a New York phone stays on its day, a Kolkata meeting
    // keeps its instant.
    let mut p = phone(&server, "tz-writer", ProtocolVersion::V14_1);
    let id = folder_of(&folders(&mut p), 8);
    let mut s = Synced::prime(&mut p, &id, 8, None);
    s.drain(&mut p);
    let ny = TzInfo::from_time_zone(&jiff::tz::db().get("America/New_York").unwrap(), 2030);
    let kolkata = TzInfo::from_time_zone(&jiff::tz::db().get("Asia/Kolkata").unwrap(), 2030);
    let base = |tz: &TzInfo, subject: &str, start: &str, end: &str, all_day: &str| {
        Element::new(airsync::APPLICATION_DATA)
            .with_text(cal::TIMEZONE, tz.to_base64())
            .with_text(cal::DT_STAMP, "20300101T000000Z")
            .with_text(cal::START_TIME, start)
            .with_text(cal::END_TIME, end)
            .with_text(cal::SUBJECT, subject)
            .with_text(cal::ALL_DAY_EVENT, all_day)
            .with_text(cal::BUSY_STATUS, "2")
            .with_text(cal::SENSITIVITY, "0")
    };
    let r = s
        .send(
            &mut p,
            vec![
                ClientCommand::Add {
                    client_id: ClientId::parse("a1").unwrap(),
                    data: base(
                        &ny,
                        "Independence",
                        "20300704T040000Z",
                        "20300705T040000Z",
                        "1",
                    ),
                },
                ClientCommand::Add {
                    client_id: ClientId::parse("a2").unwrap(),
                    data: base(
                        &kolkata,
                        "Chai",
                        "20300310T033000Z",
                        "20300310T043000Z",
                        "0",
                    ),
                },
            ],
        )
        .unwrap();
    assert!(r.collections[0].responses.iter().all(|x| matches!(
        x,
        ClientResponse::Add {
            status: SyncStatus::Success,
            ..
        }
    )));
    let text_of = |subject: &str| {
        files(&dir)
            .into_iter()
            .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
            .find(|t| t.contains(&format!("SUMMARY:{subject}")))
            .unwrap()
    };
    let independence = text_of("Independence");
    assert!(
        independence.contains("DTSTART;VALUE=DATE:20300704"),
        "{independence}"
    );
    let chai = text_of("Chai");
    let (start, _) = easd::items::calendar::event_time_range(&chai).unwrap();
    assert_eq!(
        start,
        eas_time::parse("20300310T033000Z").unwrap().as_second()
    );
    // Another phone sees both on the same local day and time.
    let mut other = phone(&server, "tz-reader", ProtocolVersion::V16_1);
    let id = folder_of(&folders(&mut other), 8);
    let mut s = Synced::prime(&mut other, &id, 8, None);
    let items = adds(&s.drain(&mut other));
    assert_eq!(
        local_start(by_subject(&items, "Independence")).date(),
        dt("20300704T000000").date()
    );
    assert_eq!(
        by_subject(&items, "Chai").child_text(cal::START_TIME),
        Some("20300310T033000Z")
    );
}

#[test]
fn filter_type_keeps_old_events_off_the_phone() {
    let server = server();
    let dir = dav(&server).join("calendar");
    put(
        &dir,
        "old.ics",
        &event_file(
            "old",
            "DTSTART:20200101T100000Z",
            "DTEND:20200101T110000Z",
            "",
        ),
    );
    put(
        &dir,
        "future.ics",
        &event_file(
            "future",
            "DTSTART:20400101T100000Z",
            "DTEND:20400101T110000Z",
            "",
        ),
    );
    put(
        &dir,
        "weekly.ics",
        &event_file(
            "weekly",
            "DTSTART:20200106T100000Z",
            "DTEND:20200106T110000Z",
            "RRULE:FREQ=WEEKLY\r\n",
        ),
    );
    put(
        &dir,
        "ended.ics",
        &event_file(
            "ended",
            "DTSTART:20200106T100000Z",
            "DTEND:20200106T110000Z",
            "RRULE:FREQ=DAILY;COUNT=3\r\n",
        ),
    );
    let mut p = phone(&server, "filter", ProtocolVersion::V14_1);
    let id = folder_of(&folders(&mut p), 8);
    // FilterType 4: two weeks back.
    let mut s = Synced::prime(&mut p, &id, 8, Some(4));
    let items = adds(&s.drain(&mut p));
    let mut subjects: Vec<&str> = items
        .iter()
        .filter_map(|d| d.child_text(cal::SUBJECT))
        .collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["future", "weekly"]);
    // All (FilterType 0): the rest arrives.
    let mut all = Synced::prime(&mut p, &id, 8, Some(0));
    assert_eq!(adds(&all.drain(&mut p)).len(), 4);

    // Tasks: FilterType 8 sends incomplete tasks only.
    let tasks = dav(&server).join("tasks");
    let todo = |uid: &str, extra: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\nBEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{uid}\r\n{extra}END:VTODO\r\nEND:VCALENDAR\r\n"
        )
    };
    put(&tasks, "open.ics", &todo("open", ""));
    put(
        &tasks,
        "done.ics",
        &todo("done", "STATUS:COMPLETED\r\nCOMPLETED:20260102T000000Z\r\n"),
    );
    let tid = folder_of(&folders(&mut p), 7);
    let mut s = Synced::prime(&mut p, &tid, 7, Some(8));
    let items = adds(&s.drain(&mut p));
    let subjects: Vec<&str> = items
        .iter()
        .filter_map(|d| d.child_text(easd::wbxml::tags::tasks::SUBJECT))
        .collect();
    assert_eq!(subjects, ["open"]);
}

#[test]
fn instance_edits_and_deletes_touch_one_occurrence() {
    let server = server();
    let dir = dav(&server).join("calendar");
    put(
        &dir,
        "series.ics",
        &event_file(
            "series",
            "DTSTART;TZID=Europe/Paris:20300304T090000",
            "DTEND;TZID=Europe/Paris:20300304T100000",
            "RRULE:FREQ=WEEKLY;COUNT=6\r\nX-KEEP-ME:yes\r\n",
        ),
    );
    let mut p = phone(&server, "inst", ProtocolVersion::V16_1);
    let id = folder_of(&folders(&mut p), 8);
    let mut s = Synced::prime(&mut p, &id, 8, None);
    let cmds = s.drain(&mut p);
    let sid = match &cmds[..] {
        [ServerCommand::Add { server_id, .. }] => server_id.clone(),
        other => panic!("{other:?}"),
    };
    // The second occurrence (11 March, 08:00 UTC) moves to 14:00 local; the third goes.
    let r = s
        .send(
            &mut p,
            vec![
                ClientCommand::ChangeInstance {
                    server_id: sid.clone(),
                    instance_id: "20300311T080000Z".into(),
                    data: Element::new(airsync::APPLICATION_DATA)
                        .with_text(cal::START_TIME, "20300311T130000Z")
                        .with_text(cal::END_TIME, "20300311T140000Z")
                        .with_text(cal::SUBJECT, "moved"),
                },
                ClientCommand::DeleteInstance {
                    server_id: sid.clone(),
                    instance_id: "20300318T080000Z".into(),
                },
            ],
        )
        .unwrap();
    assert!(r.collections[0].responses.is_empty(), "{r:?}");
    let text = std::fs::read_to_string(dir.join("series.ics")).unwrap();
    assert!(text.contains("RECURRENCE-ID"), "{text}");
    assert!(text.contains("SUMMARY:moved"), "{text}");
    assert!(text.contains("EXDATE"), "{text}");
    assert!(text.contains("20300318"), "{text}");
    assert!(text.contains("X-KEEP-ME:yes"), "{text}");
    // Occurrences the series does not have (a wrong hour, a day past COUNT, one already deleted)
    // are not found (Sync Status 8), and the file is left as it was.
    for (n, missing) in ["20300311T090000Z", "20300415T080000Z", "20300318T080000Z"]
        .iter()
        .enumerate()
    {
        let cmd = if n == 0 {
            ClientCommand::ChangeInstance {
                server_id: sid.clone(),
                instance_id: missing.to_string(),
                data: Element::new(airsync::APPLICATION_DATA).with_text(cal::SUBJECT, "ghost"),
            }
        } else {
            ClientCommand::DeleteInstance {
                server_id: sid.clone(),
                instance_id: missing.to_string(),
            }
        };
        let r = s.send(&mut p, vec![cmd]).unwrap();
        // The answer names the occurrence (MS-ASAIRS 2.2.2.25) with Status 8.
        let echoed = match &r.collections[0].responses[..] {
            [
                ClientResponse::Delete {
                    instance_id,
                    status,
                    ..
                },
            ]
            | [
                ClientResponse::Change {
                    instance_id,
                    status,
                    ..
                },
            ] => (instance_id.clone(), *status),
            other => panic!("{missing}: {other:?}"),
        };
        assert_eq!(
            echoed,
            (Some(missing.to_string()), SyncStatus::ObjectNotFound)
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("series.ics")).unwrap(),
            text,
            "{missing}"
        );
    }
    // An InstanceId on an event that does not recur is refused, and the file stays as it was.
    put(
        &dir,
        "single.ics",
        &event_file(
            "single",
            "DTSTART:20300304T080000Z",
            "DTEND:20300304T090000Z",
            "",
        ),
    );
    let single = match &s.drain(&mut p)[..] {
        [ServerCommand::Add { server_id, .. }] => server_id.clone(),
        other => panic!("{other:?}"),
    };
    let before = std::fs::read_to_string(dir.join("single.ics")).unwrap();
    let r = s
        .send(
            &mut p,
            vec![ClientCommand::DeleteInstance {
                server_id: single,
                instance_id: "20300304T080000Z".into(),
            }],
        )
        .unwrap();
    assert!(
        matches!(
            &r.collections[0].responses[..],
            [ClientResponse::Delete { status, .. }] if *status != SyncStatus::Success
        ),
        "{r:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("single.ics")).unwrap(),
        before
    );
}

#[test]
fn the_shared_corpus_syncs_without_failing() {
    let base = std::env::var_os("EASD_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
        });
    assert!(
        base.is_dir(),
        "corpus missing at {} (set EASD_CORPUS)",
        base.display()
    );
    let server = server();
    let root = dav(&server);
    let mut counts = [0usize; 3];
    for (sub, colls, ext) in [
        ("ical", &["calendar", "tasks", "notes"][..], "ics"),
        ("vcard", &["contacts"][..], "vcf"),
    ] {
        let mut n = 0;
        for entry in walk(&base.join(sub)) {
            n += 1;
            let text = std::fs::read(&entry).unwrap();
            for c in colls {
                let dir = root.join(c);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(format!("corpus-{n}.{ext}")), &text).unwrap();
            }
        }
        assert!(n > 100, "only {n} files in {sub}");
        if sub == "ical" {
            counts[0] = n;
        } else {
            counts[1] = n;
        }
    }
    for version in [
        ProtocolVersion::V2_5,
        ProtocolVersion::V14_1,
        ProtocolVersion::V16_1,
    ] {
        let mut p = phone(&server, &format!("corpus{}", version.as_str()), version);
        let list = folders(&mut p);
        for kind in [9u8, 8, 7, 10] {
            if kind == 10 && version < ProtocolVersion::V14_0 {
                continue;
            }
            let id = folder_of(&list, kind);
            let mut s = Synced::prime(&mut p, &id, kind, None);
            // drain() asserts every response's collection Status is 1.
            let got = adds(&s.drain(&mut p)).len();
            assert!(got > 0, "nothing of type {kind} synced");
            counts[2] += got;
        }
    }
    assert!(counts[2] > counts[0], "{counts:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
