//! Meetings end to end against the real binary: an iMIP invitation delivered with `easd deliver`
//! syncs with its MeetingRequest (read back by libwbxml's `wbxml2xml`) and appears in the
//! calendar as a tentative event; MeetingResponse writes the PARTSTAT into the .ics on disk and
//! the iMIP REPLY reaches the organizer — a local user's Maildir, or a real SMTP server
//! (tests/smtp_sink.py, aiosmtpd) for a remote one; a decline removes the event.

mod common;
mod mail_common;

use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::Command;
use easd::eas::ids::{CollectionId, ServerId};
use easd::eas::meetingresponse::{
    MeetingResponseRequest, MeetingResponseResponse, MeetingStatus, ResponseRequest, SendResponse,
    UserResponse,
};
use easd::eas::sync::SyncResponse;
use easd::wbxml::Element;
use easd::wbxml::tags::{calendar as cal, email, email2};
use mail_common::*;
use quick_xml::events::Event;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

fn invitation(organizer: &str, uid: &str, method: &str, sequence: u32) -> String {
    format!(
        "From: Olga Organizer <{organizer}>\r\nTo: alice@example.com\r\nSubject: Quarterly planning\r\n\
Date: Mon, 07 Dec 2026 09:00:00 +0000\r\nMessage-ID: <{uid}.{method}@example.org>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"inv\"\r\n\r\n--inv\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nLet's plan the quarter.\r\n--inv\r\n\
Content-Type: text/calendar; charset=utf-8; method={method}\r\n\r\n\
BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Calendar//EN\r\nMETHOD:{method}\r\n\
BEGIN:VEVENT\r\nUID:{uid}\r\nSEQUENCE:{sequence}\r\nDTSTAMP:20261207T090000Z\r\n\
DTSTART;TZID=Europe/Paris:20300312T100000\r\nDTEND;TZID=Europe/Paris:20300312T113000\r\n\
SUMMARY:Quarterly planning\r\nLOCATION:Room 4\r\nX-VENDOR-KEEP:kept\r\n\
ORGANIZER;CN=Olga Organizer:mailto:{organizer}\r\n\
ATTENDEE;CN=Alice;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.com\r\n\
ATTENDEE;CN=Carl;PARTSTAT=ACCEPTED:mailto:carl@example.org\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n--inv--\r\n"
    )
}

fn deliver(server: &Server, user: &str, message: &str) {
    let (ok, _, err) = server.cli(&["deliver", user], Some(message.as_bytes()));
    assert!(ok, "easd deliver: {err}");
}

fn calendar_dir(server: &Server, user: &str) -> PathBuf {
    server.data_dir().join("dav").join(user).join("calendar")
}

/// The .ics files of a user's default calendar.
fn events(server: &Server, user: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(calendar_dir(server, user)) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "ics"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

/// Every message file in a Maildir folder's new/ and cur/.
fn messages(dir: &Path) -> Vec<String> {
    ["new", "cur"]
        .iter()
        .filter_map(|d| std::fs::read_dir(dir.join(d)).ok())
        .flatten()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect()
}

/// The Inbox's Adds after a first sync, as (ServerId, ApplicationData), and the raw WBXML.
fn sync_inbox(phone: &mut Device) -> (CollectionId, Vec<(ServerId, Element)>, Vec<u8>) {
    let (inbox, _) = run(inbox_id(phone));
    let key = run(prime(phone, &inbox));
    let req = sync_req(&inbox, key, 50);
    let reply = run(phone.command(Command::Sync, Some(&req.encode()))).unwrap();
    assert_eq!(reply.status, 200);
    let wbxml = reply.body.to_vec();
    let parsed = SyncResponse::parse(&easd::wbxml::decode(&wbxml).unwrap()).unwrap();
    (inbox, adds(&parsed), wbxml)
}

fn meeting_response(phone: &mut Device, req: &MeetingResponseRequest) -> MeetingResponseResponse {
    let tree = run(phone.call(Command::MeetingResponse, &req.encode())).unwrap();
    MeetingResponseResponse::parse(&tree).unwrap()
}

fn answer(
    inbox: &CollectionId,
    id: &ServerId,
    response: UserResponse,
    send: Option<&str>,
) -> MeetingResponseRequest {
    MeetingResponseRequest {
        requests: vec![ResponseRequest {
            user_response: response,
            collection_id: Some(inbox.clone()),
            request_id: Some(id.as_str().to_string()),
            long_id: None,
            instance_id: None,
            send_response: send.map(|text| SendResponse {
                body: Some((1, text.to_string())),
                ..SendResponse::default()
            }),
        }],
    }
}

/// The local names of the children of the first element called `parent`, and their texts.
fn children_of(xml: &str, parent: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut found: Option<Vec<(String, String)>> = None;
    let mut inside = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if inside && path.last().is_some_and(|p| p == parent) {
                    found
                        .get_or_insert_with(Vec::new)
                        .push((name.clone(), String::new()));
                }
                if name == parent && found.is_none() {
                    inside = true;
                }
                path.push(name);
            }
            Event::Text(t) => {
                if inside
                    && path.len() >= 2
                    && path[path.len() - 2] == parent
                    && let Some(last) = found.as_mut().and_then(|f| f.last_mut())
                {
                    last.1 = t.decode().unwrap().trim().to_string();
                }
            }
            Event::End(_) => {
                let closed = path.pop();
                if inside && closed.as_deref() == Some(parent) {
                    return found.unwrap_or_default();
                }
            }
            Event::Eof => return found.unwrap_or_default(),
            _ => {}
        }
    }
}

#[test]
fn invitation_syncs_with_meeting_request_and_accept_replies_into_the_organizers_maildir() {
    let server = Server::start();
    let uid = "planning-2030@example.com";
    deliver(
        &server,
        "alice@example.com",
        &invitation("bob@example.com", uid, "REQUEST", 0),
    );

    // The invitation is in the calendar, tentative, without METHOD, unknown properties kept.
    let stored = events(&server, "alice@example.com");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].contains("X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE"));
    assert!(stored[0].contains("PARTSTAT=NEEDS-ACTION"));
    assert!(stored[0].contains("X-VENDOR-KEEP:kept"));
    assert!(!stored[0].contains("METHOD:"));

    for version in [ProtocolVersion::V14_1, ProtocolVersion::V16_1] {
        let mut phone = server.device(
            "alice@example.com",
            &format!("mr{}", version.as_str().replace('.', "")),
        );
        phone.version = version;
        let (_, items, wbxml) = sync_inbox(&mut phone);
        let (_, app) = items
            .iter()
            .find(|(_, a)| a.child_text(email::SUBJECT) == Some("Quarterly planning"))
            .unwrap();
        assert_eq!(
            app.child_text(email::MESSAGE_CLASS),
            Some("IPM.Schedule.Meeting.Request")
        );
        let mr = app.first(email::MEETING_REQUEST).unwrap();
        assert_eq!(
            mr.child_text(email::START_TIME),
            Some("2030-03-12T09:00:00.000Z")
        );
        assert_eq!(
            mr.child_text(email::END_TIME),
            Some("2030-03-12T10:30:00.000Z")
        );
        assert_eq!(mr.child_text(email::REMINDER), Some("600"));
        assert_eq!(
            mr.child_text(email::ORGANIZER),
            Some("\"Olga Organizer\" <bob@example.com>")
        );
        assert_eq!(mr.child_text(email2::MEETING_MESSAGE_TYPE), Some("1"));

        // An independent decoder reads the same element, in the Email schema's order.
        let xml = common::wbxml2xml(&wbxml);
        let children = children_of(&xml, "MeetingRequest");
        let names: Vec<&str> = children.iter().map(|(n, _)| n.as_str()).collect();
        let mut expected = vec![
            "AllDayEvent",
            "StartTime",
            // libwbxml's name for email:DtStamp (0x1D).
            "DTStamp",
            "EndTime",
            "InstanceType",
            "Location",
            "Organizer",
            "Reminder",
            "ResponseRequested",
            "Sensitivity",
            "BusyStatus",
            "TimeZone",
        ];
        if version == ProtocolVersion::V14_1 {
            expected.extend([
                "GlobalObjId",
                "DisallowNewTimeProposal",
                "MeetingMessageType",
            ]);
        } else {
            expected.extend(["DisallowNewTimeProposal", "MeetingMessageType", "UID"]);
        }
        assert_eq!(names, expected, "{version}: {xml}");
        assert!(children.contains(&("StartTime".into(), "2030-03-12T09:00:00.000Z".into())));
    }

    // Accept from a 16.1 phone, asking for the reply to be sent.
    let mut phone = server.device("alice@example.com", "mraccept");
    phone.version = ProtocolVersion::V16_1;
    let (inbox, items, _) = sync_inbox(&mut phone);
    let (request_id, _) = items
        .iter()
        .find(|(_, a)| a.child_text(email::SUBJECT) == Some("Quarterly planning"))
        .unwrap();
    let before = messages(&server.maildir("bob@example.com")).len();
    // Bob organises the meeting: his calendar holds it, Alice still to answer.
    let mut bobs = server.device("bob@example.com", "mrbob");
    run(inbox_id(&mut bobs));
    let invite = invitation("bob@example.com", uid, "REQUEST", 0);
    let organiser_copy = &invite
        [invite.find("BEGIN:VCALENDAR").unwrap()..invite.find("--inv--").unwrap()]
        .replace("METHOD:REQUEST\r\n", "");
    std::fs::write(
        calendar_dir(&server, "bob@example.com").join("planning.ics"),
        organiser_copy,
    )
    .unwrap();
    let answer_req = answer(
        &inbox,
        request_id,
        UserResponse::Accepted,
        Some("See you there"),
    );
    let reply = run(phone.command(Command::MeetingResponse, Some(&answer_req.encode()))).unwrap();
    assert_eq!(reply.status, 200);
    let xml = common::wbxml2xml(&reply.body);
    let result: Vec<String> = children_of(&xml, "Result")
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(result, ["RequestId", "Status", "CalendarId"]);
    let resp = MeetingResponseResponse::parse(&reply.tree().unwrap()).unwrap();
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    assert_eq!(
        resp.results[0].request_id.as_deref(),
        Some(request_id.as_str())
    );
    let calendar_id = resp.results[0].calendar_id.clone().unwrap();
    assert!(ServerId::parse(&calendar_id).unwrap().numbers().is_some());

    let stored = events(&server, "alice@example.com");
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].contains("ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com"),
        "{}",
        stored[0]
    );
    assert!(stored[0].contains("ATTENDEE;CN=Carl;PARTSTAT=ACCEPTED:mailto:carl@example.org"));
    assert!(!stored[0].contains("X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE"));
    assert!(stored[0].contains("X-VENDOR-KEEP:kept"));

    // The REPLY is in the organizer's INBOX.
    let bob = messages(&server.maildir("bob@example.com"));
    assert_eq!(bob.len(), before + 1);
    let reply_mail = bob
        .iter()
        .find(|m| m.contains("Subject: Accepted: Quarterly planning"))
        .unwrap();
    let parsed = mail_parser::MessageParser::default()
        .parse(reply_mail.as_bytes())
        .unwrap();
    let ics = parsed
        .parts
        .iter()
        .find(|p| {
            mail_parser::MimeHeaders::content_type(*p)
                .is_some_and(|c| c.subtype() == Some("calendar"))
        })
        .and_then(|p| p.text_contents())
        .unwrap();
    assert!(ics.contains("METHOD:REPLY"));
    assert!(ics.contains(&format!("UID:{uid}")));
    assert!(ics.contains("PARTSTAT=ACCEPTED:mailto:alice@example.com"));
    assert!(!ics.contains("carl@example.org"));
    assert!(parsed.body_text(0).unwrap().contains("See you there"));
    // ... and Bob's calendar records the answer.
    let bob_event =
        std::fs::read_to_string(calendar_dir(&server, "bob@example.com").join("planning.ics"))
            .unwrap();
    assert!(
        bob_event.contains("ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com"),
        "{bob_event}"
    );

    // The request mail went to Deleted Items, and the Inbox says so.
    let trash = messages(&server.maildir("alice@example.com").join(".Trash"));
    assert!(
        trash
            .iter()
            .any(|m| m.contains("Subject: Quarterly planning"))
    );

    // The calendar syncs the event under the CalendarId, accepted; answering the calendar item
    // itself (tentative, no mail) changes the same file.
    let folders = run(phone.folder_sync(easd::eas::ids::SyncKey::Initial)).unwrap();
    let calendar = folders
        .changes
        .iter()
        .find_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) if e.kind == 8 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let key = run(prime(&mut phone, &calendar));
    let synced = run(phone.sync(&sync_req(&calendar, key, 50)))
        .unwrap()
        .unwrap();
    let (event_id, event) = adds(&synced).pop().unwrap();
    assert_eq!(event_id.as_str(), calendar_id);
    assert_eq!(event.child_text(cal::RESPONSE_TYPE), Some("3"));
    assert_eq!(event.child_text(cal::MEETING_STATUS), Some("3"));
    let mut on_event = answer(&calendar, &event_id, UserResponse::Tentative, None);
    on_event.requests[0].send_response = None;
    let resp = meeting_response(&mut phone, &on_event);
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    assert_eq!(
        resp.results[0].calendar_id.as_deref(),
        Some(calendar_id.as_str())
    );
    let stored = events(&server, "alice@example.com");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("ATTENDEE;CN=Alice;PARTSTAT=TENTATIVE:mailto:alice@example.com"));
    assert_eq!(
        messages(&server.maildir("bob@example.com")).len(),
        before + 1
    );

    // A plain message is not a meeting request: Status 2, nothing changes.
    deliver(&server, "alice@example.com", &message(7, "Just mail", ""));
    let mut other = server.device("alice@example.com", "mrplain");
    other.version = ProtocolVersion::V14_1;
    let (inbox, items, _) = sync_inbox(&mut other);
    let (plain, app) = items
        .iter()
        .find(|(_, a)| a.child_text(email::SUBJECT) == Some("Just mail"))
        .unwrap();
    assert_eq!(app.child_text(email::MESSAGE_CLASS), Some("IPM.Note"));
    assert!(app.first(email::MEETING_REQUEST).is_none());
    let resp = meeting_response(
        &mut other,
        &answer(&inbox, plain, UserResponse::Accepted, None),
    );
    assert_eq!(resp.results[0].status, MeetingStatus::InvalidMeetingRequest);
    assert_eq!(resp.results[0].calendar_id, None);
}

/// One running smtp_sink.py.
struct Sink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Process::new("python3")
            .arg(&script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}): pip install aiosmtpd"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("smtp_sink.py did not start: pip install aiosmtpd"));
        Sink { child, port, dir }
    }

    /// (envelope, message) of each message received, waiting up to 20 s for the first.
    fn received(&self) -> Vec<(String, String)> {
        for _ in 0..200 {
            let mut out: Vec<(String, String)> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "env"))
                .map(|p| {
                    (
                        std::fs::read_to_string(&p).unwrap(),
                        std::fs::read_to_string(p.with_extension("eml")).unwrap(),
                    )
                })
                .collect();
            if !out.is_empty() {
                out.sort();
                return out;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Vec::new()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn decline_removes_the_event_and_the_reply_reaches_the_smarthost() {
    let sink = Sink::start();
    let server = Server::start_with(Options {
        extra: format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            sink.port
        ),
        ..Options::default()
    });
    let uid = "remote-2030@example.org";
    deliver(
        &server,
        "alice@example.com",
        &invitation("olga@example.org", uid, "REQUEST", 1),
    );
    assert_eq!(events(&server, "alice@example.com").len(), 1);

    let mut phone = server.device("alice@example.com", "mrdecline");
    phone.version = ProtocolVersion::V16_0;
    let (inbox, items, _) = sync_inbox(&mut phone);
    let (request_id, app) = items
        .iter()
        .find(|(_, a)| a.child_text(email::SUBJECT) == Some("Quarterly planning"))
        .unwrap();
    let mr = app.first(email::MEETING_REQUEST).unwrap();
    assert_eq!(mr.child_text(email2::MEETING_MESSAGE_TYPE), Some("2"));
    let resp = meeting_response(
        &mut phone,
        &answer(&inbox, request_id, UserResponse::Declined, Some("")),
    );
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    assert_eq!(resp.results[0].calendar_id, None);
    assert!(events(&server, "alice@example.com").is_empty());

    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let (envelope, data) = &received[0];
    assert!(envelope.contains("from alice@example.com"), "{envelope}");
    assert!(envelope.contains("rcpt olga@example.org"), "{envelope}");
    assert!(data.contains("Subject: Declined: Quarterly planning"));
    let parsed = mail_parser::MessageParser::default()
        .parse(data.as_bytes())
        .unwrap();
    let inv = parsed
        .parts
        .iter()
        .filter_map(|p| p.text_contents())
        .find(|t| t.contains("BEGIN:VCALENDAR"))
        .unwrap();
    assert!(inv.contains("METHOD:REPLY"));
    assert!(inv.contains("SEQUENCE:1"));
    assert!(inv.contains("PARTSTAT=DECLINED:mailto:alice@example.com"));

    // A CANCEL of a meeting the user still has marks it cancelled; a 14.1 phone's answer
    // (which sends its own reply with SendMail) sends nothing from the server.
    let uid2 = "cancelled-2030@example.org";
    deliver(
        &server,
        "alice@example.com",
        &invitation("olga@example.org", uid2, "REQUEST", 0),
    );
    let mut old = server.device("alice@example.com", "mrold");
    old.version = ProtocolVersion::V14_1;
    let (inbox, items, _) = sync_inbox(&mut old);
    let (id, _) = items
        .iter()
        .find(|(_, a)| {
            a.first(email::MEETING_REQUEST).is_some()
                && a.child_text(email::SUBJECT) == Some("Quarterly planning")
        })
        .unwrap();
    let resp = meeting_response(
        &mut old,
        &answer(&inbox, id, UserResponse::Tentative, Some("x")),
    );
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    let stored = events(&server, "alice@example.com");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("PARTSTAT=TENTATIVE:mailto:alice@example.com"));
    deliver(
        &server,
        "alice@example.com",
        &invitation("olga@example.org", uid2, "CANCEL", 1),
    );
    let stored = events(&server, "alice@example.com");
    assert!(stored[0].contains("STATUS:CANCELLED"), "{}", stored[0]);
    assert_eq!(sink.received().len(), 1);
}

#[test]
fn one_occurrence_answered_with_instance_id() {
    let server = Server::start();
    let uid = "weekly-2030@example.org";
    let weekly = invitation("olga@example.org", uid, "REQUEST", 0).replace(
        "SUMMARY:Quarterly planning\r\n",
        "SUMMARY:Quarterly planning\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n",
    );
    deliver(&server, "alice@example.com", &weekly);
    let mut phone = server.device("alice@example.com", "mrinstance");
    phone.version = ProtocolVersion::V16_1;
    let (inbox, items, _) = sync_inbox(&mut phone);
    let (id, app) = items
        .iter()
        .find(|(_, a)| a.child_text(email::SUBJECT) == Some("Quarterly planning"))
        .unwrap();
    let mr = app.first(email::MEETING_REQUEST).unwrap();
    assert_eq!(mr.child_text(email::INSTANCE_TYPE), Some("1"));
    let r = mr
        .first(email::RECURRENCES)
        .and_then(|r| r.first(email::RECURRENCE))
        .unwrap();
    assert_eq!(r.child_text(email::OCCURRENCES), Some("5"));

    // The second occurrence (19 March 2030, 10:00 Paris) is tentatively accepted: an override.
    let mut req = answer(&inbox, id, UserResponse::Tentative, None);
    req.requests[0].instance_id = Some("2030-03-19T09:00:00.000Z".into());
    let resp = meeting_response(&mut phone, &req);
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    let stored = events(&server, "alice@example.com");
    assert_eq!(stored.len(), 1);
    let text = &stored[0];
    assert!(text.contains("RECURRENCE-ID:20300319T090000Z"), "{text}");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
    assert_eq!(
        text.matches("PARTSTAT=TENTATIVE:mailto:alice@example.com")
            .count(),
        1
    );
    assert_eq!(
        text.matches("PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.com")
            .count(),
        1
    );

    // A malformed InstanceId is the client's error.
    let fresh = {
        deliver(
            &server,
            "alice@example.com",
            &weekly.replace("weekly-2030", "weekly-b"),
        );
        let (_, items, _) = sync_inbox(&mut server.device("alice@example.com", "mrinstance2"));
        items
            .into_iter()
            .find(|(_, a)| a.first(email::MEETING_REQUEST).is_some())
            .unwrap()
            .0
    };
    let mut bad = answer(&inbox, &fresh, UserResponse::Accepted, None);
    bad.requests[0].instance_id = Some("not a date".into());
    let resp = meeting_response(&mut phone, &bad);
    assert_eq!(resp.results[0].status, MeetingStatus::InvalidMeetingRequest);
    // So is an occurrence the series does not have (an hour off, a week past COUNT), for an
    // answer and for a decline; the calendar is left as it was.
    let before = events(&server, "alice@example.com");
    for (response, at) in [
        (UserResponse::Accepted, "2030-03-19T10:00:00.000Z"),
        (UserResponse::Declined, "2030-04-16T08:00:00.000Z"),
    ] {
        let mut missing = answer(&inbox, &fresh, response, None);
        missing.requests[0].instance_id = Some(at.into());
        let resp = meeting_response(&mut phone, &missing);
        assert_eq!(
            resp.results[0].status,
            MeetingStatus::InvalidMeetingRequest,
            "{at}"
        );
    }
    assert_eq!(events(&server, "alice@example.com"), before);
}

/// The LongId of the first Search result for `words` in the mailbox.
fn search_long_id(phone: &mut Device, words: &str) -> String {
    use easd::eas::search::{MailboxQuery, Query, SearchRequest, SearchResponse, SearchResult};
    let req = SearchRequest {
        query: Query::Mailbox(MailboxQuery {
            class: Some("Email".into()),
            free_text: words.into(),
            ..MailboxQuery::default()
        }),
        range: None,
        deep_traversal: true,
        rebuild_results: true,
        item_options: Default::default(),
        picture: None,
    };
    let tree = run(phone.call(Command::Search, &req.encode())).unwrap();
    let resp = SearchResponse::parse(&tree).unwrap();
    match resp.results.first() {
        Some(SearchResult::Mail(m)) => m.long_id.clone(),
        other => panic!("no mail result for {words}: {other:?}"),
    }
}

/// The text/calendar part of a mail the sink received.
fn calendar_part(data: &str) -> String {
    let parsed = mail_parser::MessageParser::default()
        .parse(data.as_bytes())
        .unwrap();
    parsed
        .parts
        .iter()
        .filter_map(|p| p.text_contents())
        .find(|t| t.contains("BEGIN:VCALENDAR"))
        .unwrap()
        .to_string()
}

#[test]
fn a_search_result_answered_by_long_id_with_a_new_time_proposed() {
    let sink = Sink::start();
    let server = Server::start_with(Options {
        extra: format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n",
            sink.port
        ),
        ..Options::default()
    });
    deliver(
        &server,
        "alice@example.com",
        &invitation("olga@example.org", "counter-2030@example.org", "REQUEST", 2),
    );
    let mut phone = server.device("alice@example.com", "mrlongid");
    phone.version = ProtocolVersion::V16_1;
    let (inbox, _, _) = sync_inbox(&mut phone);
    let long_id = search_long_id(&mut phone, "quarter");
    let request = |response: UserResponse, send: SendResponse| MeetingResponseRequest {
        requests: vec![ResponseRequest {
            user_response: response,
            collection_id: None,
            request_id: None,
            long_id: Some(long_id.clone()),
            instance_id: None,
            send_response: Some(send),
        }],
    };
    let proposing = |start: Option<&str>, end: Option<&str>| SendResponse {
        body: Some((1, "Could we meet after lunch?".into())),
        proposed_start: start.map(str::to_string),
        proposed_end: end.map(str::to_string),
    };
    let stored_before = events(&server, "alice@example.com");

    // MS-ASCMD 2.2.3.150.2: a LongId with CollectionId and RequestId is the client's error.
    let mut both = request(UserResponse::Accepted, SendResponse::default());
    both.requests[0].collection_id = Some(inbox.clone());
    both.requests[0].request_id = Some(long_id.clone());
    let resp = meeting_response(&mut phone, &both);
    assert_eq!(resp.results[0].status, MeetingStatus::InvalidMeetingRequest);
    // So are an end proposed without a start, an end before the start, and a bad time.
    for (start, end) in [
        (None, Some("20300312T143000Z")),
        (Some("20300312T143000Z"), Some("20300312T130000Z")),
        (Some("tomorrow"), None),
    ] {
        let resp = meeting_response(
            &mut phone,
            &request(UserResponse::Tentative, proposing(start, end)),
        );
        assert_eq!(
            resp.results[0].status,
            MeetingStatus::InvalidMeetingRequest,
            "{start:?} {end:?}"
        );
    }
    assert_eq!(events(&server, "alice@example.com"), stored_before);
    assert!(sink.received().is_empty());

    // Tentative, proposing 14:00–15:30 Paris (13:00–14:30 UTC) instead of 10:00–11:30.
    let resp = meeting_response(
        &mut phone,
        &request(
            UserResponse::Tentative,
            proposing(Some("20300312T130000Z"), Some("20300312T143000Z")),
        ),
    );
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    assert!(resp.results[0].calendar_id.is_some());
    // Handled as usual: the answer is in the event, whose times stay the organizer's.
    let stored = events(&server, "alice@example.com");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].contains("PARTSTAT=TENTATIVE:mailto:alice@example.com"));
    assert!(stored[0].contains("DTSTART;TZID=Europe/Paris:20300312T100000"));

    // The organizer gets the counter-proposal (RFC 5546 3.2.7).
    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let (envelope, data) = &received[0];
    assert!(envelope.contains("rcpt olga@example.org"), "{envelope}");
    assert!(
        data.contains("Subject: New Time Proposed: Quarterly planning"),
        "{data}"
    );
    assert!(data.contains("method=COUNTER"));
    let ics = calendar_part(data);
    assert!(ics.contains("METHOD:COUNTER"), "{ics}");
    assert!(ics.contains("UID:counter-2030@example.org"));
    assert!(ics.contains("SEQUENCE:2"));
    assert!(ics.contains("DTSTART:20300312T130000Z"), "{ics}");
    assert!(ics.contains("DTEND:20300312T143000Z"), "{ics}");
    assert!(ics.contains("ORGANIZER;CN=Olga Organizer:mailto:olga@example.org"));
    assert!(ics.contains("PARTSTAT=TENTATIVE:mailto:alice@example.com"));
    assert!(
        !ics.contains("mailto:carl@example.org"),
        "only the proposer"
    );

    // Without proposed times the same LongId route sends a plain REPLY: a second invitation,
    // accepted by its LongId.
    deliver(
        &server,
        "alice@example.com",
        &invitation("olga@example.org", "plain-2030@example.org", "REQUEST", 0)
            .replace("Quarterly planning", "Budget review"),
    );
    sync_inbox(&mut phone);
    let budget = search_long_id(&mut phone, "budget");
    let mut accept = request(UserResponse::Accepted, SendResponse::default());
    accept.requests[0].long_id = Some(budget);
    let resp = meeting_response(&mut phone, &accept);
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    let received = sink.received();
    assert_eq!(received.len(), 2);
    let (_, accepted) = received
        .iter()
        .find(|(_, d)| d.contains("Subject: Accepted: Budget review"))
        .unwrap_or_else(|| panic!("{received:?}"));
    assert!(calendar_part(accepted).contains("METHOD:REPLY"));

    // A LongId with an InstanceId (MS-ASCMD 2.2.3.92.1): one occurrence of a weekly series.
    deliver(
        &server,
        "alice@example.com",
        &invitation("olga@example.org", "weekly-long@example.org", "REQUEST", 0)
            .replace("Quarterly planning", "Weekly standup")
            .replace(
                "SUMMARY:Weekly standup\r\n",
                "SUMMARY:Weekly standup\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n",
            ),
    );
    sync_inbox(&mut phone);
    let mut one = request(UserResponse::Tentative, SendResponse::default());
    one.requests[0].long_id = Some(search_long_id(&mut phone, "standup"));
    one.requests[0].instance_id = Some("2030-03-19T09:00:00.000Z".into());
    let resp = meeting_response(&mut phone, &one);
    assert_eq!(resp.results[0].status, MeetingStatus::Success);
    let weekly = events(&server, "alice@example.com")
        .into_iter()
        .find(|e| e.contains("UID:weekly-long@example.org"))
        .unwrap();
    assert!(weekly.contains("RECURRENCE-ID"), "{weekly}");
    assert_eq!(
        weekly
            .matches("PARTSTAT=TENTATIVE:mailto:alice@example.com")
            .count(),
        1
    );
}
