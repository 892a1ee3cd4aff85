//! Contacts, Calendar, Tasks and Notes synced both ways between a phone (the typed client) and
//! real vdir folders on disk, through the real server: files on disk reach the phone as Adds,
//! Changes and Deletes; the phone's Adds, Changes and Deletes land on disk as whole files that
//! keep what the phone did not know; other devices see them; every protocol version where the
//! class exists.

mod common;
mod pim_sync_support;

use common::{Options, Server};
use easd::ProtocolVersion;
use easd::eas::ids::{ClientId, ServerId};
use easd::eas::sync::{ClientCommand, ClientResponse, ServerCommand, SyncStatus};
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, calendar as cal, contacts as c, notes as n, tasks as t};
use pim_sync_support::*;

const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:card-1\r\nFN:Jeanne Martin\r\nN:Martin;Jeanne;;;\r\nEMAIL;TYPE=INTERNET:jeanne@example.fr\r\nX-RADICALE-SECRET:keep me\r\nEND:VCARD\r\n";

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\nBEGIN:VEVENT\r\nUID:event-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20300301T100000Z\r\nDTEND:20300301T110000Z\r\nSUMMARY:Board meeting\r\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\nBEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Water the plants\r\nX-TASKS-ORG:keep\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

const JOURNAL: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\nBEGIN:VJOURNAL\r\nUID:note-1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Door code\r\nDESCRIPTION:4711\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";

fn app() -> Element {
    Element::new(airsync::APPLICATION_DATA)
}

fn adds(cmds: &[ServerCommand]) -> Vec<(ServerId, Element)> {
    cmds.iter()
        .filter_map(|c| match c {
            ServerCommand::Add { server_id, data } => Some((server_id.clone(), data.clone())),
            _ => None,
        })
        .collect()
}

fn text(data: &Element, tag: easd::wbxml::Tag) -> String {
    data.child_text(tag).unwrap_or_default().to_string()
}

fn added_id(r: &easd::eas::sync::SyncResponse) -> ServerId {
    r.collections[0]
        .responses
        .iter()
        .find_map(|x| match x {
            ClientResponse::Add {
                server_id: Some(s),
                status: SyncStatus::Success,
                ..
            } => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no successful Add in {r:?}"))
}

fn file_containing(dir: &std::path::Path, needle: &str) -> Option<String> {
    files(dir).into_iter().find(|f| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .contains(needle)
    })
}

/// One class through a whole round: disk → phone, phone → disk, disk change and delete, phone
/// change and delete, and a second phone seeing the first one's work.
struct Case {
    kind: u8,
    dir: &'static str,
    disk_file: &'static str,
    disk_text: &'static str,
    /// The element the tests read and write, its value on disk and the unknown property.
    tag: easd::wbxml::Tag,
    disk_value: &'static str,
    unknown: &'static str,
    /// A phone's new item.
    new_item: fn(&str) -> Element,
}

fn contact(name: &str) -> Element {
    app()
        .with_text(c::FIRST_NAME, name)
        .with_text(c::LAST_NAME, "Durand")
        .with_text(c::FILE_AS, format!("Durand, {name}"))
        .with_text(c::EMAIL1_ADDRESS, "paul@example.fr")
}

fn event(subject: &str) -> Element {
    let tz = easd::items::tzinfo::TzInfo::fixed(0);
    app()
        .with_text(cal::TIMEZONE, tz.to_base64())
        .with_text(cal::DT_STAMP, "20260101T000000Z")
        .with_text(cal::START_TIME, "20300402T090000Z")
        .with_text(cal::END_TIME, "20300402T100000Z")
        .with_text(cal::SUBJECT, subject)
        .with_text(cal::SENSITIVITY, "0")
        .with_text(cal::BUSY_STATUS, "2")
        .with_text(cal::ALL_DAY_EVENT, "0")
}

fn task(subject: &str) -> Element {
    app()
        .with_text(t::SUBJECT, subject)
        .with_text(t::COMPLETE, "0")
}

fn note(subject: &str) -> Element {
    app().with_text(n::SUBJECT, subject)
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: 9,
            dir: "contacts",
            disk_file: "card-1.vcf",
            disk_text: CARD,
            tag: c::FIRST_NAME,
            disk_value: "Jeanne",
            unknown: "X-RADICALE-SECRET:keep me",
            new_item: contact,
        },
        Case {
            kind: 8,
            dir: "calendar",
            disk_file: "event-1.ics",
            disk_text: EVENT,
            tag: cal::SUBJECT,
            disk_value: "Board meeting",
            unknown: "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC",
            new_item: event,
        },
        Case {
            kind: 7,
            dir: "tasks",
            disk_file: "todo-1.ics",
            disk_text: TODO,
            tag: t::SUBJECT,
            disk_value: "Water the plants",
            unknown: "X-TASKS-ORG:keep",
            new_item: task,
        },
        Case {
            kind: 10,
            dir: "notes",
            disk_file: "note-1.ics",
            disk_text: JOURNAL,
            tag: n::SUBJECT,
            disk_value: "Door code",
            unknown: "DESCRIPTION:4711",
            new_item: note,
        },
    ]
}

fn round(server: &Server, case: &Case, version: ProtocolVersion, tag_suffix: &str) {
    let dir = dav(server).join(case.dir);
    let name = format!("{}-{tag_suffix}", case.disk_file);
    put(&dir, &name, case.disk_text);
    let mut p1 = phone(server, &format!("p1{tag_suffix}"), version);
    let mut p2 = phone(server, &format!("p2{tag_suffix}"), version);
    let list = folders(&mut p1);
    let id = folder_of(&list, case.kind);
    folders(&mut p2);
    let mut s1 = Synced::prime(&mut p1, &id, case.kind, None);
    let mut s2 = Synced::prime(&mut p2, &id, case.kind, None);

    // Disk → phone.
    let got = adds(&s1.drain(&mut p1));
    let (disk_sid, disk_data) = got
        .iter()
        .find(|(_, d)| text(d, case.tag) == case.disk_value)
        .unwrap_or_else(|| panic!("{} not sent at {version}: {got:?}", case.dir));
    s2.drain(&mut p2);

    // Phone → disk.
    let fresh = format!("From phone {tag_suffix}");
    let r = s1
        .send(
            &mut p1,
            vec![ClientCommand::Add {
                client_id: ClientId::parse("c1").unwrap(),
                data: (case.new_item)(&fresh),
            }],
        )
        .unwrap();
    let new_sid = added_id(&r);
    let new_file =
        file_containing(&dir, &fresh).unwrap_or_else(|| panic!("phone's {} not on disk", case.dir));
    assert!(!new_file.starts_with('.'));
    let other = adds(&s2.drain(&mut p2));
    assert!(
        other.iter().any(|(s, d)| *s == new_sid
            && (text(d, case.tag) == fresh || text(d, c::FIRST_NAME) == fresh)),
        "second phone did not get the Add: {other:?}"
    );
    // The phone's own Add is not echoed back to it.
    assert!(adds(&s1.drain(&mut p1)).is_empty());

    // Phone changes the disk item: the field changes, what EAS does not know stays.
    let mut changed = disk_data.clone();
    changed
        .children
        .retain(|n| !matches!(n, easd::wbxml::Node::Element(e) if e.tag == case.tag));
    changed.push_text(case.tag, "Edited on phone");
    let r = s1
        .send(
            &mut p1,
            vec![ClientCommand::Change {
                server_id: disk_sid.clone(),
                data: changed,
            }],
        )
        .unwrap();
    assert!(
        r.collections[0].responses.is_empty(),
        "Change failed: {r:?}"
    );
    let on_disk = std::fs::read_to_string(dir.join(&name)).unwrap();
    assert!(on_disk.contains("Edited on phone"), "{on_disk}");
    assert!(
        on_disk.contains(case.unknown),
        "lost {}: {on_disk}",
        case.unknown
    );
    let seen = s2.drain(&mut p2);
    assert!(
        seen.iter()
            .any(|c| matches!(c, ServerCommand::Change { server_id, data }
            if server_id == disk_sid && data.children.iter().any(|n| matches!(n,
                easd::wbxml::Node::Element(e) if e.tag == case.tag
                    && e.text_content() == Some("Edited on phone"))))),
        "{seen:?}"
    );

    // Disk changes the phone's item (a CalDAV/CardDAV client through Radicale).
    let path = dir.join(&new_file);
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&fresh, "Edited on disk");
    put(&dir, &new_file, &edited);
    let seen = s1.drain(&mut p1);
    assert!(
        seen.iter()
            .any(|c| matches!(c, ServerCommand::Change { server_id, .. } if *server_id == new_sid)),
        "{seen:?}"
    );

    // Disk deletes; phone deletes.
    std::fs::remove_file(&path).unwrap();
    let seen = s1.drain(&mut p1);
    assert!(seen.contains(&ServerCommand::Delete {
        server_id: new_sid.clone()
    }));
    let r = s1
        .send(
            &mut p1,
            vec![ClientCommand::Delete {
                server_id: disk_sid.clone(),
            }],
        )
        .unwrap();
    assert!(r.collections[0].responses.is_empty(), "{r:?}");
    assert!(!dir.join(&name).exists());
    let seen = s2.drain(&mut p2);
    assert!(seen.contains(&ServerCommand::Delete {
        server_id: disk_sid.clone()
    }));
    assert!(seen.contains(&ServerCommand::Delete { server_id: new_sid }));
}

#[test]
fn every_class_syncs_both_ways_at_every_version() {
    let server = Server::start_with(Options::default());
    let versions = [
        ProtocolVersion::V2_5,
        ProtocolVersion::V12_0,
        ProtocolVersion::V12_1,
        ProtocolVersion::V14_0,
        ProtocolVersion::V14_1,
        ProtocolVersion::V16_0,
        ProtocolVersion::V16_1,
    ];
    for (i, version) in versions.into_iter().enumerate() {
        for case in cases() {
            if case.kind == 10 && version < ProtocolVersion::V14_0 {
                continue;
            }
            round(&server, &case, version, &format!("{i}{}", case.kind));
        }
    }
}

#[test]
fn default_collections_are_created_and_listed_with_their_types() {
    let server = Server::start_with(Options::default());
    let root = dav(&server);
    // A collection another program made (a Radicale calendar with a UUID name) and a plain vdir.
    std::fs::create_dir_all(root.join("4f1c-uuid")).unwrap();
    std::fs::write(
        root.join("4f1c-uuid/.Radicale.props"),
        r#"{"C:supported-calendar-component-set": "VEVENT", "D:displayname": "Holidays", "tag": "VCALENDAR"}"#,
    )
    .unwrap();
    put(&root.join("colleagues"), "a.vcf", CARD);
    let mut p = phone(&server, "lister", ProtocolVersion::V14_1);
    let list = folders(&mut p);
    let pim: Vec<(u8, &str)> = list
        .iter()
        .filter(|(k, _, _)| (7..=17).contains(k) && *k != 12)
        .map(|(k, _, d)| (*k, d.as_str()))
        .collect();
    for expected in [
        (9, "Contacts"),
        (8, "Calendar"),
        (7, "Tasks"),
        (10, "Notes"),
        (13, "Holidays"),
        (14, "colleagues"),
    ] {
        assert!(pim.contains(&expected), "{expected:?} not in {pim:?}");
    }
    for d in ["contacts", "calendar", "tasks", "notes"] {
        let props = std::fs::read_to_string(root.join(d).join(".Radicale.props")).unwrap();
        assert!(
            props.contains("\"tag\": \"VCALENDAR\"") || d == "contacts",
            "{props}"
        );
    }
}

#[test]
fn files_no_phone_can_show_do_not_fail_the_sync() {
    let server = Server::start_with(Options::default());
    let cal = dav(&server).join("calendar");
    put(&cal, "good.ics", EVENT);
    put(&cal, "todo-in-calendar.ics", TODO);
    put(&cal, "garbage.ics", "this is not a calendar\r\n");
    std::fs::write(cal.join("binary.ics"), [0xff_u8, 0xfe, 0, 1, 2]).unwrap();
    put(
        &cal,
        "no-start.ics",
        &EVENT.replace("DTSTART:20300301T100000Z\r\n", ""),
    );
    let mut p = phone(&server, "robust", ProtocolVersion::V16_1);
    let id = folder_of(&folders(&mut p), 8);
    let mut s = Synced::prime(&mut p, &id, 8, None);
    let got = adds(&s.drain(&mut p));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(text(&got[0].1, cal::SUBJECT), "Board meeting");
}

#[test]
fn a_repeated_sync_key_replays_instead_of_adding_twice() {
    let server = Server::start_with(Options::default());
    let dir = dav(&server).join("contacts");
    let mut p = phone(&server, "replay", ProtocolVersion::V14_1);
    let id = folder_of(&folders(&mut p), 9);
    let mut s = Synced::prime(&mut p, &id, 9, None);
    s.drain(&mut p);
    let before = s.key;
    let add = vec![ClientCommand::Add {
        client_id: ClientId::parse("dup").unwrap(),
        data: contact("Once"),
    }];
    let first = s.send(&mut p, add.clone()).unwrap();
    let sid = added_id(&first);
    // The response was lost: the phone sends the same request with the same key.
    s.key = before;
    let again = s.send(&mut p, add).unwrap();
    assert_eq!(added_id(&again), sid);
    let with_once: Vec<String> = files(&dir)
        .into_iter()
        .filter(|f| {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .contains("Once")
        })
        .collect();
    assert_eq!(with_once.len(), 1, "{with_once:?}");
    // A file written while the response was lost still arrives exactly once.
    put(&dir, "late.vcf", CARD);
    s.key = before;
    let r = s.send(&mut p, Vec::new()).unwrap();
    let mut got = adds(&r.collections[0].commands);
    got.extend(adds(&s.drain(&mut p)));
    let late: Vec<_> = got
        .iter()
        .filter(|(_, d)| text(d, c::FIRST_NAME) == "Jeanne")
        .collect();
    assert_eq!(late.len(), 1, "{got:?}");
    assert!(got.iter().all(|(_, d)| text(d, c::FIRST_NAME) != "Once"));
    let mut other = phone(&server, "replay-2", ProtocolVersion::V14_1);
    folders(&mut other);
    let mut o = Synced::prime(&mut other, &id, 9, None);
    assert_eq!(adds(&o.drain(&mut other)).len(), 2);
}

#[test]
fn elements_outside_supported_are_ghosted_in_changes() {
    let server = Server::start_with(Options::default());
    let dir = dav(&server).join("contacts");
    let card = |uid: &str, first: &str| {
        CARD.replace("card-1", uid)
            .replace("Jeanne", first)
            .replace(
                "END:VCARD",
                "CATEGORIES:Family\r\nNOTE:Likes tea\r\nEND:VCARD",
            )
    };
    put(&dir, "ghost.vcf", &card("ghost", "Jeanne"));
    put(&dir, "plain.vcf", &card("plain", "Lucie"));
    let supported = vec![c::FIRST_NAME, c::LAST_NAME, c::FILE_AS, c::EMAIL1_ADDRESS];
    for (device, list, file, first, kept) in [
        ("ghosting", Some(supported), "ghost.vcf", "Jeanne", true),
        ("full", None, "plain.vcf", "Lucie", false),
    ] {
        let mut p = phone(&server, device, ProtocolVersion::V14_1);
        let id = folder_of(&folders(&mut p), 9);
        let mut s = Synced::prime_with(&mut p, &id, 9, None, list);
        let got = adds(&s.drain(&mut p));
        let sid = got
            .iter()
            .find(|(_, d)| text(d, c::FIRST_NAME) == first)
            .map(|(sid, _)| sid.clone())
            .unwrap();
        // The phone sends only what it supports: names and the address.
        let change = app()
            .with_text(c::FIRST_NAME, format!("{first}-Marie"))
            .with_text(c::LAST_NAME, "Martin")
            .with_text(c::FILE_AS, format!("Martin, {first}-Marie"))
            .with_text(c::EMAIL1_ADDRESS, "jeanne@example.fr");
        let r = s
            .send(
                &mut p,
                vec![ClientCommand::Change {
                    server_id: sid,
                    data: change,
                }],
            )
            .unwrap();
        assert!(r.collections[0].responses.is_empty(), "{r:?}");
        let after = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(after.contains(&format!("{first}-Marie")), "{after}");
        assert_eq!(after.contains("CATEGORIES:Family"), kept, "{after}");
        assert_eq!(after.contains("Likes tea"), kept, "{after}");
        assert!(after.contains("X-RADICALE-SECRET:keep me"), "{after}");
    }
}

#[test]
fn item_operations_fetches_a_contact() {
    use easd::eas::Command;
    use easd::eas::itemoperations::{
        FetchTarget, Fetched, ItemOperationsRequest, ItemOperationsResponse, Operation,
        OperationResponse,
    };
    let server = Server::start_with(Options::default());
    put(&dav(&server).join("contacts"), "card-1.vcf", CARD);
    let mut p = phone(&server, "fetcher", ProtocolVersion::V14_1);
    let id = folder_of(&folders(&mut p), 9);
    let mut s = Synced::prime(&mut p, &id, 9, None);
    let (sid, _) = adds(&s.drain(&mut p)).remove(0);
    let r = easd_run_fetch(&mut p, &id, &sid);
    match &r.responses[..] {
        [
            OperationResponse::Fetch {
                fetched: Some(Fetched::Item { class, data }),
                ..
            },
        ] => {
            assert_eq!(class, "Contacts");
            assert_eq!(text(data, c::FIRST_NAME), "Jeanne");
        }
        other => panic!("{other:?}"),
    }

    fn easd_run_fetch(
        p: &mut easd::client::Device,
        id: &easd::eas::ids::CollectionId,
        sid: &ServerId,
    ) -> ItemOperationsResponse {
        common::run(
            p.call_typed(
                Command::ItemOperations,
                &ItemOperationsRequest {
                    operations: vec![Operation::Fetch {
                        target: FetchTarget::Item {
                            collection_id: id.clone(),
                            server_id: sid.clone(),
                        },
                        options: Default::default(),
                        range: None,
                    }],
                }
                .encode(),
                ItemOperationsResponse::parse,
            ),
        )
        .unwrap()
    }
}
