//! ResolveRecipients with Availability through the real server: iCalendar files written into
//! bob's vdir collections on disk (a recurring series in a file-defined VTIMEZONE with a moved
//! occurrence, overlapping busy and tentative meetings, an all-day day off across the DST
//! change, a cancelled meeting, a task), alice's phone asks for bob's free/busy and gets the
//! exact MergedFreeBusy string; a GAL contact who is not a user gets status 163, a window past
//! 42 days status 5. The raw answer is read back by libwbxml's `wbxml2xml` (package
//! libwbxml2-utils) to check the Recipient and Availability element order.

mod common;

use common::{Server, run};
use easd::eas::Command;
use easd::eas::resolverecipients::{
    AvailabilityRequest, AvailabilityStatus, ResolveRequest, ResolveResponse, ResolveStatus,
};
use jiff::{SignedDuration, Timestamp};
use quick_xml::events::Event;
use std::path::Path;

const BOB: &str = "bob@example.com";

/// Monday-to-Friday 09:00 stand-up in a zone the file defines itself (Paris rules), with the
/// Friday 27 March one moved to 11:00 and marked tentative.
const STANDUP: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:/custom/Paris\r\n\
BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20260301T000000Z\r\nSUMMARY:Stand-up\r\n\
DTSTART;TZID=/custom/Paris:20260302T090000\r\nDTEND;TZID=/custom/Paris:20260302T093000\r\n\
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:standup\r\nDTSTAMP:20260301T000000Z\r\nSUMMARY:Stand-up (moved)\r\n\
RECURRENCE-ID;TZID=/custom/Paris:20260327T090000\r\n\
DTSTART;TZID=/custom/Paris:20260327T110000\r\nDTEND;TZID=/custom/Paris:20260327T113000\r\n\
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn event(uid: &str, lines: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260301T000000Z\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn write(dir: &Path, name: &str, data: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

fn server_with_bobs_calendars() -> Server {
    let server = Server::start_with(common::Options {
        extra: "[dav]\ntime_zone = \"Europe/Paris\"\n[gal]\ncollections = [\"{data_dir}/gal\"]\n"
            .into(),
        ..Default::default()
    });
    let data = server.data_dir();
    write(
        &data.join("gal"),
        "marc.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Marc Lopez\r\nN:Lopez;Marc;;;\r\nEMAIL:marc@partner.example\r\nEND:VCARD\r\n",
    );
    let root = data.join("dav").join(BOB);
    // The default calendar as Radicale makes it, and a second one without properties.
    let calendar = root.join("calendar");
    write(
        &calendar,
        ".Radicale.props",
        r#"{"C:supported-calendar-component-set": "VEVENT", "D:displayname": "Calendar", "tag": "VCALENDAR"}"#,
    );
    write(&calendar, "standup.ics", STANDUP);
    write(
        &calendar,
        "review.ics",
        &event(
            "review",
            "SUMMARY:Review\r\nDTSTART:20260327T130000Z\r\nDTEND:20260327T143000Z\r\n",
        ),
    );
    write(
        &calendar,
        "maybe.ics",
        &event(
            "maybe",
            "SUMMARY:Maybe\r\nDTSTART:20260327T140000Z\r\nDTEND:20260327T150000Z\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n",
        ),
    );
    write(
        &calendar,
        "cancelled.ics",
        &event(
            "cancelled",
            "SUMMARY:Off\r\nDTSTART:20260330T080000Z\r\nDTEND:20260330T090000Z\r\nSTATUS:CANCELLED\r\n",
        ),
    );
    let work = root.join("work");
    write(
        &work,
        "dayoff.ics",
        &event(
            "dayoff",
            "SUMMARY:Day off\r\nDTSTART;VALUE=DATE:20260328\r\nDTEND;VALUE=DATE:20260329\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n",
        ),
    );
    // A task due in the window is not an event.
    let tasks = root.join("tasks");
    write(
        &tasks,
        ".Radicale.props",
        r#"{"C:supported-calendar-component-set": "VTODO", "D:displayname": "Tasks", "tag": "VCALENDAR"}"#,
    );
    write(
        &tasks,
        "todo.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VTODO\r\nUID:todo\r\nDTSTART:20260327T060000Z\r\nDUE:20260327T120000Z\r\nSUMMARY:Todo\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
    );
    server
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// What bob's week-end looks like from 06:00Z on Friday 27 March to 10:00Z on Monday 30 March
/// 2026 (Paris switches to summer time in the night of the 29th).
fn expected_digits(start: Timestamp) -> String {
    let slot = |t: &str| (start.duration_until(at(t)).as_secs() / 1800) as usize;
    let mut digits = vec![b'0'; 152];
    let mut mark = |from: &str, to: &str, d: u8| {
        for s in &mut digits[slot(from)..slot(to)] {
            *s = (*s).max(d);
        }
    };
    // The moved stand-up, 11:00 Paris.
    mark("2026-03-27T10:00:00Z", "2026-03-27T10:30:00Z", b'1');
    mark("2026-03-27T13:00:00Z", "2026-03-27T14:30:00Z", b'2');
    mark("2026-03-27T14:00:00Z", "2026-03-27T15:00:00Z", b'1');
    // Saturday in Paris, still winter time.
    mark("2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", b'3');
    // Monday's stand-up, 09:00 summer time.
    mark("2026-03-30T07:00:00Z", "2026-03-30T07:30:00Z", b'2');
    String::from_utf8(digits).unwrap()
}

/// The local names of the children of every `parent` element, and the text of every `leaf`.
fn read_xml(xml: &str, parent: &str, leaf: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut children: Vec<Vec<String>> = Vec::new();
    let mut texts = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.last().is_some_and(|p| p == parent)
                    && let Some(c) = children.last_mut()
                {
                    c.push(name.clone());
                }
                if name == parent {
                    children.push(Vec::new());
                }
                path.push(name);
            }
            Event::Text(t) if path.last().is_some_and(|p| p == leaf) => {
                texts.push(String::from_utf8_lossy(t.as_ref()).trim().to_string());
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => return (children, texts),
            _ => {}
        }
    }
}

#[test]
fn bobs_free_busy_from_his_calendar_files() {
    let server = server_with_bobs_calendars();
    let mut phone = server.device("alice@example.com", "fb1");
    let start = at("2026-03-27T06:00:00Z");
    let req = ResolveRequest {
        to: vec![
            "Bob <bob@example.com>".into(),
            "marc@partner.example".into(),
            "stranger@nowhere.example".into(),
        ],
        certificate_retrieval: None,
        max_ambiguous: None,
        availability: Some(AvailabilityRequest {
            start_time: start,
            end_time: Some(at("2026-03-30T10:00:00Z")),
        }),
        picture: None,
    };
    let reply = run(phone.command(Command::ResolveRecipients, Some(&req.encode()))).unwrap();
    assert_eq!(reply.status, 200);
    let resp = ResolveResponse::parse(&easd::wbxml::decode(&reply.body).unwrap()).unwrap();
    assert_eq!(resp.status, ResolveStatus::Success);
    let [bob, marc, stranger] = resp.responses.as_slice() else {
        panic!("{resp:?}");
    };
    let expected = expected_digits(start);
    let bob_fb = bob.recipients[0].availability.as_ref().unwrap();
    assert_eq!(bob_fb.status, AvailabilityStatus::Success);
    assert_eq!(bob_fb.merged_free_busy.as_deref(), Some(expected.as_str()));
    assert_eq!(
        marc.recipients[0].availability.as_ref().map(|a| a.status),
        Some(AvailabilityStatus::NotAvailable)
    );
    assert_eq!(stranger.status, ResolveStatus::Unresolved);
    // Answering must not have created anything in bob's tree.
    assert!(
        !server
            .data_dir()
            .join("dav")
            .join(BOB)
            .join("notes")
            .exists()
    );

    let xml = common::wbxml2xml(&reply.body);
    let (recipients, digits) = read_xml(&xml, "Recipient", "MergedFreeBusy");
    assert_eq!(
        recipients,
        [
            vec!["Type", "DisplayName", "EmailAddress", "Availability"],
            vec!["Type", "DisplayName", "EmailAddress", "Availability"],
        ]
    );
    assert_eq!(digits, [expected]);
    let (availability, _) = read_xml(&xml, "Availability", "MergedFreeBusy");
    assert_eq!(
        availability,
        [vec!["Status", "MergedFreeBusy"], vec!["Status"]]
    );
}

#[test]
fn default_and_refused_windows() {
    let server = server_with_bobs_calendars();
    let mut phone = server.device("alice@example.com", "fb2");
    let ask = |phone: &mut easd::client::Device, end: Option<Timestamp>| {
        let req = ResolveRequest {
            to: vec![BOB.into()],
            certificate_retrieval: None,
            max_ambiguous: None,
            availability: Some(AvailabilityRequest {
                start_time: at("2026-03-23T00:00:00Z"),
                end_time: end,
            }),
            picture: None,
        };
        let tree = run(phone.call(Command::ResolveRecipients, &req.encode())).unwrap();
        ResolveResponse::parse(&tree).unwrap()
    };
    // No EndTime: seven days, with a stand-up every weekday morning.
    let resp = ask(&mut phone, None);
    let digits = resp.responses[0].recipients[0]
        .availability
        .clone()
        .and_then(|a| a.merged_free_busy)
        .unwrap();
    assert_eq!(digits.len(), 7 * 48);
    let monday = &digits[..48];
    assert_eq!(
        monday.find('2'),
        Some(16),
        "09:00 Paris is 08:00Z in winter"
    );
    // More than 42 days: protocol error, and the server goes on serving.
    let too_long = at("2026-03-23T00:00:00Z") + SignedDuration::from_hours(42 * 24 + 1);
    let resp = ask(&mut phone, Some(too_long));
    assert_eq!(resp.status, ResolveStatus::ProtocolError);
    assert!(resp.responses.is_empty());
    assert_eq!(
        ask(&mut phone, Some(at("2026-03-24T00:00:00Z"))).status,
        ResolveStatus::Success
    );
}
