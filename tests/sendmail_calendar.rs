//! SmartForward and SmartReply whose Source is a calendar item (MS-ASCMD 2.2.3.173, 16.x), against
//! the real server with tests/smtp_sink.py (aiosmtpd) as its smarthost: the event on disk goes
//! out as an invitation (METHOD:REQUEST, organizer unchanged) with the client's text, a single
//! occurrence when an InstanceId names one, a server-written forward for 16.0 Forwardees, and a
//! quoted reply; an InstanceId that is no occurrence gets Status 150 and sends nothing.
//! Needs python3 with aiosmtpd.

mod common;
mod pim_sync_support;

use common::sink::{Received, Sink};
use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::ids::{CollectionId, ServerId};
use easd::eas::sendmail::{
    ComposeBody, ComposeCommand, ComposeRequest, ComposeSource, ComposeStatus, Forwardee,
};
use easd::eas::sync::ServerCommand;
use easd::items::imip::{self, Method};
use pim_sync_support::*;
use std::time::Duration;

const USER: &str = "alice@example.com";

const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\n\
BEGIN:VEVENT\r\nUID:weekly-planning@example.org\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Paris:20300304T090000\r\nDTEND;TZID=Europe/Paris:20300304T100000\r\n\
RRULE:FREQ=WEEKLY;COUNT=6\r\nSUMMARY:Weekly planning\r\nLOCATION:Room 4\r\n\
DESCRIPTION:Bring the numbers.\r\nORGANIZER;CN=Olga:mailto:olga@example.org\r\n\
ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:x\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

struct Setup {
    sink: Sink,
    _server: Server,
    phone: Device,
    calendar: CollectionId,
    event: ServerId,
}

fn setup(device: &str) -> Setup {
    let sink = Sink::start();
    let server = Server::start_with(Options {
        extra: sink.config("[dav]\ntime_zone = \"Europe/Paris\"\n"),
        ..Options::default()
    });
    put(&dav(&server).join("calendar"), "series.ics", SERIES);
    let mut phone = phone(&server, device, ProtocolVersion::V16_1);
    let calendar = folder_of(&folders(&mut phone), 8);
    let mut synced = Synced::prime(&mut phone, &calendar, 8, None);
    let event = match &synced.drain(&mut phone)[..] {
        [ServerCommand::Add { server_id, .. }] => server_id.clone(),
        other => panic!("{other:?}"),
    };
    Setup {
        sink,
        _server: server,
        phone,
        calendar,
        event,
    }
}

fn request(
    s: &Setup,
    command: ComposeCommand,
    client_id: &str,
    instance: Option<&str>,
    mime: &str,
) -> ComposeRequest {
    ComposeRequest {
        command,
        client_id: Some(client_id.into()),
        account_id: None,
        save_in_sent_items: false,
        replace_mime: false,
        source: Some(ComposeSource {
            folder_id: Some(s.calendar.as_str().into()),
            item_id: Some(s.event.as_str().into()),
            long_id: None,
            instance_id: instance.map(str::to_string),
        }),
        mime: mime.as_bytes().to_vec(),
        template_id: None,
        forwardees: Vec::new(),
        body: None,
    }
}

fn invitation(got: &Received) -> imip::Invitation {
    let msg = mail_parser::MessageParser::new()
        .parse(&got.data)
        .expect("a message");
    imip::find(&msg).expect("the invitation travels with it")
}

fn body_text(got: &Received) -> String {
    let msg = mail_parser::MessageParser::new()
        .parse(&got.data)
        .expect("a message");
    msg.body_text(0).expect("a text body").into_owned()
}

#[test]
fn forwarding_an_event_sends_its_invitation() {
    let mut s = setup("cal-fwd");
    let mime = "From: alice@example.com\r\nTo: Dan <dan@example.org>\r\nSubject: Fw: Weekly planning\r\n\r\nYou should come.\r\n";
    let req = request(&s, ComposeCommand::SmartForward, "cf-1", None, mime);
    let r = run(s.phone.compose(&req)).unwrap();
    assert_eq!(r.status, None);
    let got = s.sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpts, ["dan@example.org"]);
    let text = body_text(&got[0]);
    assert!(text.starts_with("You should come."), "{text}");
    assert!(text.contains("Subject: Weekly planning"), "{text}");
    assert!(
        text.contains("When: Mon, 4 Mar 2030 09:00 – 10:00 (Europe/Paris)"),
        "{text}"
    );
    assert!(text.contains("Where: Room 4"), "{text}");
    let inv = invitation(&got[0]);
    assert_eq!(inv.method, Method::Request);
    assert!(inv.ics.contains("UID:weekly-planning@example.org"));
    assert!(inv.ics.contains("RRULE:FREQ=WEEKLY;COUNT=6"));
    assert!(
        inv.ics
            .contains("ORGANIZER;CN=Olga:mailto:olga@example.org"),
        "the organizer stays: {}",
        inv.ics
    );
    assert!(!inv.ics.contains("VALARM"));

    // One occurrence (11 March 09:00 Paris = 08:00 UTC) goes alone.
    let req = request(
        &s,
        ComposeCommand::SmartForward,
        "cf-2",
        Some("2030-03-11T08:00:00.000Z"),
        mime,
    );
    assert_eq!(run(s.phone.compose(&req)).unwrap().status, None);
    let got = s.sink.wait_for(2, Duration::from_secs(10));
    let inv = invitation(&got[1]);
    assert!(inv.ics.contains("RECURRENCE-ID"), "{}", inv.ics);
    assert!(!inv.ics.contains("RRULE"), "{}", inv.ics);
    assert!(body_text(&got[1]).contains("Mon, 11 Mar 2030 09:00"));

    // An instant that is no occurrence: nothing is sent.
    let req = request(
        &s,
        ComposeCommand::SmartForward,
        "cf-3",
        Some("2030-03-11T09:30:00.000Z"),
        mime,
    );
    assert_eq!(
        run(s.phone.compose(&req)).unwrap().status,
        Some(ComposeStatus::ItemNotFound)
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.sink.received().len(), 2);
}

#[test]
fn forwardees_get_a_forward_the_server_writes() {
    let mut s = setup("cal-fwdees");
    let mut req = request(&s, ComposeCommand::SmartForward, "fe-1", None, "");
    req.mime = Vec::new();
    req.forwardees = vec![
        Forwardee {
            email: "dan@example.org".into(),
            name: Some("Dan".into()),
        },
        Forwardee {
            email: "eve@example.net".into(),
            name: None,
        },
    ];
    req.body = Some(ComposeBody {
        html: false,
        data: "Join us on Monday.".into(),
    });
    let r = run(s.phone.compose(&req)).unwrap();
    assert_eq!(r.status, None);
    let got = s.sink.wait_for(1, Duration::from_secs(10));
    let mut rcpts = got[0].rcpts.clone();
    rcpts.sort();
    assert_eq!(rcpts, ["dan@example.org", "eve@example.net"]);
    assert_eq!(got[0].from, USER);
    let msg = mail_parser::MessageParser::new()
        .parse(&got[0].data)
        .unwrap();
    assert_eq!(msg.subject(), Some("Fw: Weekly planning"));
    assert!(body_text(&got[0]).starts_with("Join us on Monday."));
    assert_eq!(invitation(&got[0]).method, Method::Request);
}

#[test]
fn replying_to_an_event_quotes_it() {
    let mut s = setup("cal-reply");
    let mime = "From: alice@example.com\r\nTo: olga@example.org\r\nSubject: Re: Weekly planning\r\n\r\nCan we start at ten?\r\n";
    let req = request(&s, ComposeCommand::SmartReply, "cr-1", None, mime);
    let r = run(s.phone.compose(&req)).unwrap();
    assert_eq!(r.status, None);
    let got = s.sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got[0].rcpts, ["olga@example.org"]);
    let text = body_text(&got[0]);
    assert!(text.starts_with("Can we start at ten?"), "{text}");
    assert!(text.contains("Olga <olga@example.org> wrote:"), "{text}");
    assert!(text.contains("> Where: Room 4"), "{text}");
}
