//! Every iCalendar file of the shared corpus, mailed as an iMIP invitation, goes through the
//! scheduling code without a panic: the MeetingRequest element for every protocol version, the
//! tentative copy, every answer, the REPLY object and message, a cancellation; what is stored
//! keeps the event's UID and loses no property. Every corpus mail goes through the invitation
//! detection without a panic (none of them is an iMIP message, so none gets a meeting class).

mod pim_support;

use easd::ProtocolVersion;
use easd::items::component::Document;
use easd::items::imip::{self, Invitation, Method};
use easd::items::imip_reply::{self, Attendee, PartStat};
use jiff::Timestamp;
use pim_support::corpus;

fn files(sub: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![corpus(sub)];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn property_names(ics: &str) -> Vec<String> {
    let doc = Document::parse(ics).into_calendar();
    let mut names: Vec<String> = doc
        .components
        .iter()
        .flat_map(|c| c.children.iter())
        .filter(|c| c.is("VEVENT"))
        .flat_map(|e| e.props.iter().map(|p| p.name.clone()))
        .filter(|n| n != "X-MICROSOFT-CDO-BUSYSTATUS")
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_corpus_calendar_survives_scheduling() {
    let me = Attendee {
        address: "alice@example.com".into(),
        name: Some("Alice".into()),
    };
    let addresses = vec![me.address.clone()];
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let mut with_events = 0;
    for path in files("ical") {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let name = path.display().to_string();
        for method in [Method::Request, Method::Cancel] {
            let inv = Invitation {
                method,
                ics: text.clone(),
            };
            for v in ProtocolVersion::ALL {
                let _ = imip::meeting_request(&inv, v);
            }
        }
        let Some(uid) = imip_reply::event_uid(&text) else {
            continue;
        };
        with_events += 1;
        let Ok(tentative) = imip_reply::tentative(&text) else {
            continue;
        };
        assert_eq!(
            imip_reply::event_uid(&tentative).as_deref(),
            Some(uid.as_str()),
            "{name}"
        );
        let before = property_names(&text);
        for stat in [PartStat::Accepted, PartStat::Tentative, PartStat::Declined] {
            if let Ok(stored) = imip_reply::respond(&tentative, &me, &addresses, stat, None) {
                assert_eq!(
                    imip_reply::event_uid(&stored).as_deref(),
                    Some(uid.as_str()),
                    "{name}"
                );
                let after = property_names(&stored);
                for p in &before {
                    assert!(after.contains(p), "{name}: {p} lost");
                }
                let _ = imip_reply::cancelled(&stored);
            }
            if let Ok(reply) = imip_reply::reply_calendar(&text, &me, &addresses, stat, None, now) {
                assert!(reply.contains("METHOD:REPLY"), "{name}");
                let message = imip_reply::reply_message(
                    &me,
                    "organizer@example.org",
                    Some("x"),
                    stat,
                    None,
                    &reply,
                    now,
                );
                let parsed = mail_parser::MessageParser::default()
                    .parse(&message)
                    .unwrap();
                let found = imip::find(&parsed).unwrap();
                assert_eq!(found.method, Method::Reply, "{name}");
            }
        }
        if let Some(at) = imip_reply::only_occurrence(&text) {
            let _ = imip_reply::decline_occurrence(&text, at);
        }
    }
    assert!(with_events > 500, "only {with_events} files with events");
}

#[test]
fn corpus_mail_is_not_taken_for_invitations() {
    let mut total = 0;
    for path in files("mail") {
        let raw = std::fs::read(&path).unwrap();
        total += 1;
        let Some(message) = mail_parser::MessageParser::default().parse(&raw) else {
            continue;
        };
        if let Some(inv) = imip::find(&message) {
            let _ = imip::message_class(&inv);
            for v in ProtocolVersion::ALL {
                let _ = imip::meeting_request(&inv, v);
            }
        }
    }
    assert!(total > 100);
}
