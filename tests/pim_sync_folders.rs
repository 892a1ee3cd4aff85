//! PIM folders through FolderCreate, FolderUpdate and FolderDelete, mirrored in the vdir tree as
//! Radicale collections; and Direct Push for vdir collections: a held Ping wakes on another
//! device's Sync, on the `dav:<collection>` datagram of `easd notify`, and on the fallback
//! directory check when nothing announces the change.

mod common;
mod pim_sync_support;

use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::foldercreate::{FolderCreateRequest, FolderCreateStatus};
use easd::eas::folderdelete::{FolderDeleteRequest, FolderDeleteStatus};
use easd::eas::foldersync::FolderChange;
use easd::eas::folderupdate::{FolderUpdateRequest, FolderUpdateStatus};
use easd::eas::ids::{ClientId, CollectionId, SyncKey};
use easd::eas::ping::{PingFolder, PingRequest, PingResponse, PingStatus};
use easd::eas::sync::ClientCommand;
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, contacts};
use pim_sync_support::*;

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//disk//EN\r\nBEGIN:VEVENT\r\nUID:pushed\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20300301T100000Z\r\nDTEND:20300301T110000Z\r\nSUMMARY:Pushed\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn top() -> CollectionId {
    CollectionId::from_number(0)
}

#[test]
fn pim_folders_are_created_renamed_and_deleted_as_collections() {
    let server = Server::start_with(Options::default());
    let root = dav(&server);
    let mut p = phone(&server, "folders", ProtocolVersion::V14_1);
    let first = run(p.folder_sync(SyncKey::Initial)).unwrap();
    let mut key = first.sync_key.unwrap();
    let calendar = first
        .changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == 8 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();

    let mut made = Vec::new();
    for (kind, name, tag) in [
        (13u8, "Team Rota", "VEVENT"),
        (14, "Suppliers", "VADDRESSBOOK"),
        (15, "Chores", "VTODO"),
        (17, "Ideas", "VJOURNAL"),
    ] {
        let r = run(p.folder_create(&FolderCreateRequest {
            sync_key: key,
            parent_id: top(),
            display_name: name.into(),
            kind,
        }))
        .unwrap();
        assert_eq!(r.status, FolderCreateStatus::Success, "{name}");
        key = r.sync_key.unwrap();
        let dir = root.join(name.to_lowercase().replace(' ', "-"));
        let props = std::fs::read_to_string(dir.join(".Radicale.props")).unwrap();
        assert!(
            props.contains(&format!("\"D:displayname\": \"{name}\"")),
            "{props}"
        );
        assert!(props.contains(tag), "{props}");
        made.push((kind, r.server_id.unwrap(), dir));
    }
    // The device's own creations are not reported back; another device sees them with types.
    let again = run(p.folder_sync(key)).unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    let mut other = phone(&server, "folders-2", ProtocolVersion::V14_1);
    let first_other = run(other.folder_sync(SyncKey::Initial)).unwrap();
    let other_key = first_other.sync_key.unwrap();
    for (kind, id, _) in &made {
        assert!(
            first_other.changes.iter().any(
                |c| matches!(c, FolderChange::Add(e) if e.kind == *kind && e.server_id == *id)
            ),
            "{:?}",
            first_other.changes
        );
    }

    // A PIM folder cannot go under another folder.
    let r = run(p.folder_create(&FolderCreateRequest {
        sync_key: key,
        parent_id: calendar.clone(),
        display_name: "Nested".into(),
        kind: 13,
    }))
    .unwrap();
    assert_ne!(r.status, FolderCreateStatus::Success);

    // Rename: the display name changes, the directory (the DAV URL) and the id stay.
    let (_, rota, rota_dir) = &made[0];
    let r = run(p.folder_update(&FolderUpdateRequest {
        sync_key: key,
        server_id: rota.clone(),
        parent_id: top(),
        display_name: "Night Rota".into(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderUpdateStatus::Success);
    key = r.sync_key.unwrap();
    let props = std::fs::read_to_string(rota_dir.join(".Radicale.props")).unwrap();
    assert!(
        props.contains("\"D:displayname\": \"Night Rota\""),
        "{props}"
    );
    let seen = run(other.folder_sync(other_key)).unwrap();
    assert!(
        seen.changes
            .iter()
            .any(|c| matches!(c, FolderChange::Update(e)
            if e.server_id == *rota && e.display_name == "Night Rota" && e.kind == 13)),
        "{:?}",
        seen.changes
    );

    // The default calendar can be neither renamed nor deleted.
    let r = run(p.folder_update(&FolderUpdateRequest {
        sync_key: key,
        server_id: calendar.clone(),
        parent_id: top(),
        display_name: "Mine".into(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderUpdateStatus::ExistsOrSpecial);
    let r = run(p.folder_delete(&FolderDeleteRequest {
        sync_key: key,
        server_id: calendar.clone(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderDeleteStatus::Special);
    assert!(root.join("calendar").is_dir());

    // Delete: the directory goes with its items; the id is not handed out again.
    let (_, suppliers, suppliers_dir) = &made[1];
    let mut s = Synced::prime(&mut p, suppliers, 14, None);
    s.drain(&mut p);
    s.send(
        &mut p,
        vec![ClientCommand::Add {
            client_id: ClientId::parse("x").unwrap(),
            data: Element::new(airsync::APPLICATION_DATA).with_text(contacts::FIRST_NAME, "Acme"),
        }],
    )
    .unwrap();
    assert_eq!(files(suppliers_dir).len(), 1);
    let r = run(p.folder_delete(&FolderDeleteRequest {
        sync_key: key,
        server_id: suppliers.clone(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderDeleteStatus::Success);
    key = r.sync_key.unwrap();
    assert!(!suppliers_dir.exists());
    let r = run(p.folder_create(&FolderCreateRequest {
        sync_key: key,
        parent_id: top(),
        display_name: "Suppliers".into(),
        kind: 14,
    }))
    .unwrap();
    assert_eq!(r.status, FolderCreateStatus::Success);
    assert_ne!(r.server_id.as_ref(), Some(suppliers));
}

/// A server with short heartbeats and a quick fallback scan.
fn push_server() -> Server {
    let mut server = Server::start_with(Options::default());
    let config = std::fs::read_to_string(&server.config_path).unwrap();
    let config = config.replacen(
        "[push]\n",
        "[push]\nmin_heartbeat_secs = 2\nmax_heartbeat_secs = 300\nfallback_scan_secs = 2\n",
        1,
    );
    std::fs::write(&server.config_path, config).unwrap();
    server.restart();
    server
}

fn ping_calendar(mut phone: Device, id: CollectionId) -> std::thread::JoinHandle<PingResponse> {
    std::thread::spawn(move || {
        run(phone.ping(&PingRequest {
            heartbeat: Some(280),
            folders: Some(vec![PingFolder {
                id: id.as_str().try_into().unwrap(),
                class: "Calendar".try_into().unwrap(),
            }]),
        }))
        .unwrap()
    })
}

fn held(server: &Server) -> usize {
    let mut conn = easd::client::Connection::new(server.target());
    let r = run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let n = text.split("\"held_pings\":").nth(1).unwrap();
    n.trim_end_matches('}').parse().unwrap()
}

fn wait_held(server: &Server, n: usize) {
    for _ in 0..1000 {
        if held(server) == n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("held pings never reached {n}");
}

/// A phone whose calendar is synced up to date.
fn synced(server: &Server, device: &str) -> (Device, CollectionId) {
    let mut p = phone(server, device, ProtocolVersion::V14_1);
    let id = folder_of(&folders(&mut p), 8);
    let mut s = Synced::prime(&mut p, &id, 8, None);
    s.drain(&mut p);
    (p, id)
}

fn changed(r: &PingResponse, id: &CollectionId) -> bool {
    r.status == PingStatus::Changes && r.folders.iter().any(|x| x.as_str() == id.as_str())
}

#[test]
fn vdir_changes_wake_held_pings() {
    let server = push_server();
    let cal = dav(&server).join("calendar");

    // Another device adds an event through Sync: the hub wakes the Ping.
    let (watcher, id) = synced(&server, "watch-1");
    let h = ping_calendar(watcher, id.clone());
    wait_held(&server, 1);
    let (mut writer, _) = synced(&server, "writer");
    let mut s = Synced::prime(&mut writer, &id, 8, None);
    s.drain(&mut writer);
    let tz = easd::items::tzinfo::TzInfo::fixed(0);
    s.send(
        &mut writer,
        vec![ClientCommand::Add {
            client_id: ClientId::parse("w").unwrap(),
            data: Element::new(airsync::APPLICATION_DATA)
                .with_text(easd::wbxml::tags::calendar::TIMEZONE, tz.to_base64())
                .with_text(easd::wbxml::tags::calendar::START_TIME, "20300101T100000Z")
                .with_text(easd::wbxml::tags::calendar::END_TIME, "20300101T110000Z")
                .with_text(easd::wbxml::tags::calendar::SUBJECT, "from writer"),
        }],
    )
    .unwrap();
    let r = h.join().unwrap();
    assert!(changed(&r, &id), "{r:?}");

    // A file written by another program, announced with `easd notify <user> dav:calendar`.
    let (watcher, id) = synced(&server, "watch-2");
    let h = ping_calendar(watcher, id.clone());
    wait_held(&server, 1);
    put(&cal, "pushed.ics", EVENT);
    let (ok, _, err) = server.cli(&["notify", USER, "dav:calendar"], None);
    assert!(ok, "{err}");
    let r = h.join().unwrap();
    assert!(changed(&r, &id), "{r:?}");

    // Radicale's hook names the collection by its path.
    let (watcher, id) = synced(&server, "watch-3");
    let h = ping_calendar(watcher, id.clone());
    wait_held(&server, 1);
    put(
        &cal,
        "pushed2.ics",
        &EVENT.replace("UID:pushed", "UID:pushed2"),
    );
    let (ok, _, err) = server.cli(&["notify", USER, &format!("/{USER}/calendar/")], None);
    assert!(ok, "{err}");
    let r = h.join().unwrap();
    assert!(changed(&r, &id), "{r:?}");

    // Nothing announces the change: the fallback directory check finds it.
    let (watcher, id) = synced(&server, "watch-4");
    let h = ping_calendar(watcher, id.clone());
    wait_held(&server, 1);
    std::fs::remove_file(cal.join("pushed.ics")).unwrap();
    let r = h.join().unwrap();
    assert!(changed(&r, &id), "{r:?}");
}

#[test]
fn items_move_between_collections_of_one_kind() {
    use easd::eas::Command;
    use easd::eas::moveitems::{Move, MoveItemsRequest, MoveItemsResponse, MoveStatus};
    let server = Server::start_with(Options::default());
    let root = dav(&server);
    put(&root.join("calendar"), "pushed.ics", EVENT);
    let mut p = phone(&server, "mover", ProtocolVersion::V14_1);
    let first = run(p.folder_sync(SyncKey::Initial)).unwrap();
    let id_of = |kind: u8| {
        first
            .changes
            .iter()
            .find_map(|c| match c {
                FolderChange::Add(e) if e.kind == kind => Some(e.server_id.clone()),
                _ => None,
            })
            .unwrap()
    };
    let (cal_id, contacts_id, inbox) = (id_of(8), id_of(9), id_of(2));
    let r = run(p.folder_create(&FolderCreateRequest {
        sync_key: first.sync_key.unwrap(),
        parent_id: top(),
        display_name: "Work".into(),
        kind: 13,
    }))
    .unwrap();
    let work = r.server_id.unwrap();
    let mut s = Synced::prime(&mut p, &cal_id, 8, None);
    let sid = match &s.drain(&mut p)[..] {
        [easd::eas::sync::ServerCommand::Add { server_id, .. }] => server_id.clone(),
        other => panic!("{other:?}"),
    };
    let mv = |p: &mut Device, dst: &CollectionId| {
        run(p.call_typed(
            Command::MoveItems,
            &MoveItemsRequest {
                moves: vec![Move {
                    src_msg_id: sid.clone(),
                    src_fld_id: cal_id.clone(),
                    dst_fld_id: dst.clone(),
                }],
            }
            .encode(),
            MoveItemsResponse::parse,
        ))
        .unwrap()
        .responses
        .remove(0)
    };
    // Not into an address book or a mail folder.
    assert_eq!(
        mv(&mut p, &contacts_id).status,
        MoveStatus::InvalidDestination
    );
    assert_eq!(mv(&mut p, &inbox).status, MoveStatus::InvalidDestination);
    let moved = mv(&mut p, &work);
    assert_eq!(moved.status, MoveStatus::Success);
    assert!(files(&root.join("calendar")).is_empty());
    assert_eq!(files(&root.join("work")), ["pushed.ics"]);
    let dst = moved.dst_msg_id.unwrap();
    assert!(dst.as_str().starts_with(&format!("{}:", work.as_str())));
    // Another phone sees it in the new calendar.
    let mut other = phone(&server, "mover-2", ProtocolVersion::V14_1);
    folders(&mut other);
    let mut o = Synced::prime(&mut other, &work, 13, None);
    assert_eq!(o.drain(&mut other).len(), 1);
}
