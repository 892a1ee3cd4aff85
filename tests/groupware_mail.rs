//! The guide's GroupWare mail access against the real binary: with `easd device set ID
//! groupware=all-as-mail`, the tasks and notes collections are mail folders for that device and
//! a note or task on disk syncs as a message (subject, category as sender, details in the
//! body, attachments); other devices keep the native folders; the device cannot change them.

mod common;
mod mail_common;

use common::{Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::Command;
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::itemoperations::{
    FetchTarget, Fetched, ItemOperationsRequest, ItemOperationsResponse, ItemOpsStatus, Operation,
    OperationResponse,
};
use easd::eas::sync::{ClientCommand, SyncStatus};
use easd::wbxml::Element;
use easd::wbxml::tags::{airsyncbase, email};
use mail_common::*;

const NOTE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VJOURNAL\r\n\
UID:note-1@example.com\r\nDTSTAMP:20261201T080000Z\r\nLAST-MODIFIED:20261202T101500Z\r\n\
SUMMARY:Shopping list\r\nCATEGORIES:Home\r\nDESCRIPTION:Milk\\nBread\r\n\
ATTACH;VALUE=BINARY;ENCODING=BASE64;FMTTYPE=text/plain;X-FILENAME=more.txt:ZWdncw==\r\n\
END:VJOURNAL\r\nEND:VCALENDAR\r\n";

const TASK: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VTODO\r\n\
UID:task-1@example.com\r\nDTSTAMP:20261201T080000Z\r\nSUMMARY:Renew passport\r\n\
DUE;VALUE=DATE:20270115\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";

/// FolderSync from 0: (id, type, name) of every folder.
fn folders(phone: &mut Device) -> Vec<(CollectionId, u8, String)> {
    let r = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    r.changes
        .iter()
        .filter_map(|c| match c {
            FolderChange::Add(e) => Some((e.server_id.clone(), e.kind, e.display_name.clone())),
            _ => None,
        })
        .collect()
}

fn find<'a>(list: &'a [(CollectionId, u8, String)], name: &str) -> &'a (CollectionId, u8, String) {
    list.iter()
        .find(|(_, _, n)| n == name)
        .unwrap_or_else(|| panic!("no folder {name} in {list:?}"))
}

fn all_items(
    phone: &mut Device,
    coll: &CollectionId,
) -> (SyncKey, Vec<(easd::eas::ids::ServerId, Element)>) {
    let key = run(prime(phone, coll));
    let r = run(phone.sync(&sync_req(coll, key, 50))).unwrap().unwrap();
    assert_eq!(r.collections[0].status, SyncStatus::Success);
    (r.collections[0].sync_key.unwrap(), adds(&r))
}

#[test]
fn notes_and_tasks_sync_as_messages_for_a_mail_only_device() {
    let server = Server::start();
    let mut native = server.device("alice@example.com", "gwnative");
    native.version = ProtocolVersion::V14_1;
    let before = folders(&mut native);
    assert_eq!(find(&before, "Notes").1, 10);
    assert_eq!(find(&before, "Tasks").1, 7);

    let dav = server.data_dir().join("dav").join("alice@example.com");
    std::fs::write(dav.join("notes").join("note-1.ics"), NOTE).unwrap();
    std::fs::write(dav.join("tasks").join("task-1.ics"), TASK).unwrap();

    let mut phone = server.device("alice@example.com", "gwmail");
    phone.version = ProtocolVersion::V14_1;
    folders(&mut phone);
    let (ok, out, err) = server.cli(&["device", "set", "gwmail", "groupware=all-as-mail"], None);
    assert!(ok, "{out}{err}");

    let list = folders(&mut phone);
    let (notes, notes_type, _) = find(&list, "Notes").clone();
    let (tasks, tasks_type, _) = find(&list, "Tasks").clone();
    assert_eq!((notes_type, tasks_type), (12, 12));
    assert_eq!(find(&list, "Calendar").1, 8, "calendars stay native");
    assert_eq!(find(&list, "Contacts").1, 9, "contacts stay native");

    let (key, items) = all_items(&mut phone, &notes);
    assert_eq!(items.len(), 1);
    let (note_id, note) = &items[0];
    assert_eq!(note.child_text(email::SUBJECT), Some("Shopping list"));
    assert_eq!(
        note.child_text(email::FROM),
        Some("\"Home\" <alice@example.com>")
    );
    assert_eq!(
        note.child_text(email::DATE_RECEIVED),
        Some("2026-12-02T10:15:00.000Z")
    );
    assert_eq!(note.child_text(email::MESSAGE_CLASS), Some("IPM.Note"));
    let body = note.first(airsyncbase::BODY).unwrap();
    let text = body.child_text(airsyncbase::DATA).unwrap();
    assert!(
        text.contains("Categories: Home") && text.contains("Milk\r\nBread"),
        "{text}"
    );
    let att = note
        .first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .unwrap();
    assert_eq!(att.child_text(airsyncbase::DISPLAY_NAME), Some("more.txt"));

    // One way: marking it read is taken without touching the file; deleting it is refused.
    let mut req = sync_req(&notes, key, 50);
    req.collections[0].commands = vec![ClientCommand::Change {
        server_id: note_id.clone(),
        data: Element::new(easd::wbxml::tags::airsync::APPLICATION_DATA)
            .with_text(email::READ, "1"),
    }];
    let r = run(phone.sync(&req)).unwrap();
    let key = r
        .as_ref()
        .and_then(|r| r.collections.first())
        .and_then(|c| c.sync_key)
        .unwrap_or(key);
    assert_eq!(
        std::fs::read_to_string(dav.join("notes").join("note-1.ics")).unwrap(),
        NOTE
    );
    let mut req = sync_req(&notes, key, 50);
    req.collections[0].commands = vec![ClientCommand::Delete {
        server_id: note_id.clone(),
    }];
    run(phone.sync(&req)).unwrap();
    assert!(dav.join("notes").join("note-1.ics").exists());

    let (_, items) = all_items(&mut phone, &tasks);
    assert_eq!(items.len(), 1);
    let task = &items[0].1;
    assert_eq!(task.child_text(email::SUBJECT), Some("Renew passport"));
    assert_eq!(
        task.child_text(email::FROM),
        Some("\"Task\" <alice@example.com>")
    );
    let text = task
        .first(airsyncbase::BODY)
        .and_then(|b| b.child_text(airsyncbase::DATA))
        .unwrap();
    assert!(
        text.contains("Due: 2027-01-15") && text.contains("Priority: 1"),
        "{text}"
    );

    // The native device still syncs the note as a note.
    let after = folders(&mut native);
    let (native_notes, kind, _) = find(&after, "Notes").clone();
    assert_eq!(kind, 10);
    let (_, items) = all_items(&mut native, &native_notes);
    assert_eq!(
        items[0].1.child_text(easd::wbxml::tags::notes::SUBJECT),
        Some("Shopping list")
    );
}

#[test]
fn tasks_as_events_and_notes_as_tasks_for_a_device_without_them() {
    let server = Server::start();
    let mut phone = server.device("alice@example.com", "gwview");
    phone.version = ProtocolVersion::V14_1;
    folders(&mut phone);
    let dav = server.data_dir().join("dav").join("alice@example.com");
    std::fs::write(dav.join("notes").join("note-1.ics"), NOTE).unwrap();
    std::fs::write(dav.join("tasks").join("task-1.ics"), TASK).unwrap();
    let (ok, out, err) = server.cli(
        &[
            "device",
            "set",
            "gwview",
            "tasks_as_events=true",
            "notes_as=tasks",
        ],
        None,
    );
    assert!(ok && out.contains("tasks_as_events=true"), "{out}{err}");

    let list = folders(&mut phone);
    let (tasks, tasks_type, _) = find(&list, "Tasks").clone();
    let (notes, notes_type, _) = find(&list, "Notes").clone();
    assert_eq!((tasks_type, notes_type), (13, 15));

    let (_, items) = all_items(&mut phone, &tasks);
    assert_eq!(items.len(), 1);
    let event = &items[0].1;
    use easd::wbxml::tags::{calendar as cal, tasks as task};
    assert_eq!(event.child_text(cal::SUBJECT), Some("Renew passport"));
    assert_eq!(event.child_text(cal::ALL_DAY_EVENT), Some("1"));
    assert_eq!(event.child_text(cal::START_TIME), Some("20270115T000000Z"));
    assert_eq!(event.child_text(cal::BUSY_STATUS), Some("0"));

    let (_, items) = all_items(&mut phone, &notes);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].1.child_text(task::SUBJECT), Some("Shopping list"));
    assert!(
        std::fs::read_to_string(dav.join("tasks").join("task-1.ics"))
            .unwrap()
            .contains("BEGIN:VTODO")
    );
}

/// ItemOperations Fetch of `reference` from `phone`: its status and the bytes.
fn fetch_attachment(phone: &mut Device, reference: &str) -> (ItemOpsStatus, Option<Vec<u8>>) {
    let req = ItemOperationsRequest {
        operations: vec![Operation::Fetch {
            target: FetchTarget::Attachment(reference.to_string()),
            options: Default::default(),
            range: None,
        }],
    };
    let tree = run(phone.call(Command::ItemOperations, &req.encode())).unwrap();
    let resp = ItemOperationsResponse::parse(&tree).unwrap();
    match &resp.responses[0] {
        OperationResponse::Fetch {
            status, fetched, ..
        } => (
            *status,
            match fetched {
                Some(Fetched::Attachment { data, .. }) => Some(data.clone()),
                _ => None,
            },
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn attachments_of_a_note_shown_as_mail_are_fetched_by_their_file_reference() {
    let server = Server::start();
    let dav = server.data_dir().join("dav").join("alice@example.com");
    let mut phone = server.device("alice@example.com", "gwatt");
    phone.version = ProtocolVersion::V14_1;
    folders(&mut phone);
    std::fs::write(dav.join("notes").join("note-1.ics"), NOTE).unwrap();
    let (ok, out, err) = server.cli(&["device", "set", "gwatt", "groupware=all-as-mail"], None);
    assert!(ok, "{out}{err}");
    let list = folders(&mut phone);
    let (notes, _, _) = find(&list, "Notes").clone();
    let (_, items) = all_items(&mut phone, &notes);
    let reference = items[0]
        .1
        .first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .and_then(|a| a.child_text(airsyncbase::FILE_REFERENCE))
        .unwrap()
        .to_string();

    // ItemOperations (14.1) returns the attached file's bytes.
    let (status, data) = fetch_attachment(&mut phone, &reference);
    assert_eq!(status, ItemOpsStatus::Success);
    assert_eq!(data.as_deref(), Some(&b"eggs"[..]));

    // GetAttachment (12.1): the raw bytes with the attachment's content type.
    phone.version = ProtocolVersion::V12_1;
    let mut q = phone.query(Command::GetAttachment);
    q.attachment_name = Some(reference.clone());
    let reply = run(phone.post(&q, "application/vnd.ms-sync.wbxml", Vec::new())).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(&reply.body[..], b"eggs");
    assert_eq!(reply.header("Content-Type"), Some("text/plain"));
    phone.version = ProtocolVersion::V14_1;

    // A reference past the note's attachments is not found.
    let (base, _) = reference.rsplit_once(':').unwrap();
    let (status, _) = fetch_attachment(&mut phone, &format!("{base}:9"));
    assert_eq!(status, ItemOpsStatus::InvalidAttachment);

    // Bob, even with the same option set, cannot reach alice's note by its reference.
    let mut bob = server.device("bob@example.com", "gwattbob");
    bob.version = ProtocolVersion::V14_1;
    folders(&mut bob);
    let (ok, out, err) = server.cli(
        &["device", "set", "gwattbob", "groupware=all-as-mail"],
        None,
    );
    assert!(ok, "{out}{err}");
    folders(&mut bob);
    let (status, data) = fetch_attachment(&mut bob, &reference);
    assert_eq!(status, ItemOpsStatus::InvalidAttachment);
    assert_eq!(data, None);
    bob.version = ProtocolVersion::V12_1;
    let mut q = bob.query(Command::GetAttachment);
    q.attachment_name = Some(reference.clone());
    let reply = run(bob.post(&q, "application/vnd.ms-sync.wbxml", Vec::new())).unwrap();
    assert_ne!(reply.status, 200);
    assert!(!String::from_utf8_lossy(&reply.body).contains("eggs"));

    // A device that sees the notes natively has no such message to take attachments from.
    let mut native = server.device("alice@example.com", "gwattnative");
    native.version = ProtocolVersion::V14_1;
    folders(&mut native);
    let (status, _) = fetch_attachment(&mut native, &reference);
    assert_eq!(status, ItemOpsStatus::InvalidAttachment);
}

#[test]
fn the_documents_folder_syncs_one_message_per_file_with_the_file_attached() {
    let server = Server::start();
    let files = server.data_dir().join("files").join("alice@example.com");
    std::fs::create_dir_all(&files).unwrap();
    let pdf = b"%PDF-1.4\n\x00\x01\x02 binary".to_vec();
    std::fs::write(files.join("report.pdf"), &pdf).unwrap();
    std::fs::write(files.join("Relevé.txt"), "solde: 12").unwrap();
    std::fs::write(files.join(".hidden"), "not offered").unwrap();
    std::fs::create_dir(files.join("sub")).unwrap();

    // Without GroupWare mail access there is no such folder.
    let mut plain = server.device("alice@example.com", "filesplain");
    plain.version = ProtocolVersion::V14_1;
    assert!(
        !folders(&mut plain).iter().any(|(_, _, n)| n == "Files"),
        "shown without the option"
    );

    let mut phone = server.device("alice@example.com", "filesmail");
    phone.version = ProtocolVersion::V14_1;
    folders(&mut phone);
    let (ok, out, err) = server.cli(
        &["device", "set", "filesmail", "groupware=all-as-mail"],
        None,
    );
    assert!(ok, "{out}{err}");
    let list = folders(&mut phone);
    let (coll, kind, _) = find(&list, "Files").clone();
    assert_eq!(kind, 12);

    let (key, items) = all_items(&mut phone, &coll);
    let mut subjects: Vec<&str> = items
        .iter()
        .filter_map(|(_, a)| a.child_text(email::SUBJECT))
        .collect();
    subjects.sort_unstable();
    assert_eq!(subjects, ["Relevé.txt", "report.pdf"]);
    let (report_id, report) = items
        .iter()
        .find(|(_, a)| a.child_text(email::SUBJECT) == Some("report.pdf"))
        .unwrap();
    assert_eq!(
        report.child_text(email::FROM),
        Some("\"Files\" <alice@example.com>")
    );
    let att = report
        .first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .unwrap();
    assert_eq!(
        att.child_text(airsyncbase::DISPLAY_NAME),
        Some("report.pdf")
    );
    let reference = att.child_text(airsyncbase::FILE_REFERENCE).unwrap();
    let (status, data) = fetch_attachment(&mut phone, reference);
    assert_eq!(status, ItemOpsStatus::Success);
    assert_eq!(data, Some(pdf));

    // Changes on disk reach the device: a file rewritten in place, one added, one removed.
    std::fs::write(files.join("report.pdf"), b"%PDF-1.7 second version").unwrap();
    std::fs::write(files.join("minutes.txt"), "new").unwrap();
    std::fs::remove_file(files.join("Relevé.txt")).unwrap();
    let r = run(phone.sync(&sync_req(&coll, key, 50))).unwrap().unwrap();
    let key = r.collections[0].sync_key.unwrap();
    let mut seen: Vec<String> = r.collections[0]
        .commands
        .iter()
        .map(|c| match c {
            easd::eas::sync::ServerCommand::Add { data, .. } => {
                format!("add {}", data.child_text(email::SUBJECT).unwrap_or(""))
            }
            easd::eas::sync::ServerCommand::Change { server_id, data } => {
                assert_eq!(server_id, report_id);
                format!("change {}", data.child_text(email::SUBJECT).unwrap_or(""))
            }
            easd::eas::sync::ServerCommand::Delete { .. } => "delete".to_string(),
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["add minutes.txt", "change report.pdf", "delete"]);
    let (_, data) = fetch_attachment(&mut phone, reference);
    assert_eq!(data.as_deref(), Some(&b"%PDF-1.7 second version"[..]));

    // One way: the device's delete is refused and the file stays.
    let mut req = sync_req(&coll, key, 50);
    req.collections[0].commands = vec![ClientCommand::Delete {
        server_id: report_id.clone(),
    }];
    run(phone.sync(&req)).unwrap();
    assert!(files.join("report.pdf").exists());

    // Bob has no documents folder, and alice's references are not his.
    let mut bob = server.device("bob@example.com", "filesbob");
    bob.version = ProtocolVersion::V14_1;
    folders(&mut bob);
    let (ok, _, _) = server.cli(
        &["device", "set", "filesbob", "groupware=all-as-mail"],
        None,
    );
    assert!(ok);
    assert!(!folders(&mut bob).iter().any(|(_, _, n)| n == "Files"));
    assert_eq!(
        fetch_attachment(&mut bob, reference).0,
        ItemOpsStatus::InvalidAttachment
    );
}

/// Held Pings, from the server's debug stats.
fn held(server: &Server) -> usize {
    let mut conn = easd::client::Connection::new(server.target());
    let r = run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let n = text.split("\"held_pings\":").nth(1).unwrap();
    n.trim_end_matches('}').parse().unwrap()
}

#[test]
fn a_file_dropped_into_the_documents_folder_wakes_a_held_ping() {
    use easd::eas::ping::{PingFolder, PingRequest, PingStatus};
    let mut server = Server::start();
    let config = std::fs::read_to_string(&server.config_path).unwrap();
    let config = config.replacen(
        "[push]\n",
        "[push]\nmin_heartbeat_secs = 2\nmax_heartbeat_secs = 300\nfallback_scan_secs = 2\n",
        1,
    );
    std::fs::write(&server.config_path, config).unwrap();
    server.restart();
    let files = server.data_dir().join("files").join("alice@example.com");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("first.txt"), "one").unwrap();
    let mut phone = server.device("alice@example.com", "filesping");
    phone.version = ProtocolVersion::V14_1;
    folders(&mut phone);
    let (ok, out, err) = server.cli(
        &["device", "set", "filesping", "groupware=all-as-mail"],
        None,
    );
    assert!(ok, "{out}{err}");
    let (coll, _, _) = find(&folders(&mut phone), "Files").clone();
    let (_, items) = all_items(&mut phone, &coll);
    assert_eq!(items.len(), 1);

    let ping_id = coll.clone();
    let held_ping = std::thread::spawn(move || {
        run(phone.ping(&PingRequest {
            heartbeat: Some(280),
            folders: Some(vec![PingFolder {
                id: ping_id.as_str().try_into().unwrap(),
                class: "Email".try_into().unwrap(),
            }]),
        }))
        .unwrap()
    });
    let mut waited = 0;
    while held(&server) != 1 {
        waited += 1;
        assert!(waited < 1000, "the Ping was never held");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Nobody announces a file copied in over a share: the fallback scan notices it.
    std::fs::write(files.join("second.txt"), "two").unwrap();
    let r = held_ping.join().unwrap();
    assert_eq!(r.status, PingStatus::Changes);
    assert!(r.folders.iter().any(|f| f.as_str() == coll.as_str()));
}
