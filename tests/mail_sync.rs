//! Mail over FolderSync and Sync against a real server process and a real Maildir: priming,
//! windows, client changes landing on disk, outside changes reaching the client, replay.

mod common;
mod mail_common;

use common::{Server, run};
use easd::ProtocolVersion;
use easd::eas::foldersync::{FolderChange, FolderSyncStatus};
use easd::eas::ids::{ClientId, ServerId, SyncKey};
use easd::eas::sync::{ClientCommand, ClientResponse, ServerCommand, SyncStatus};
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, email};
use mail_common::*;

#[test]
fn prime_and_sync_250_messages_in_three_windows() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..250 {
        put_message(&root, "", i, &format!("Message {i}"), "");
    }
    let mut phone = server.device(USER, "dev250");
    let (inbox, _) = run(inbox_id(&mut phone));
    let key = run(prime(&mut phone, &inbox));
    let mut key = key;
    let mut seen = Vec::new();
    let mut rounds = 0;
    loop {
        let resp = run(phone.sync(&sync_req(&inbox, key, 100)))
            .unwrap()
            .unwrap();
        let c = &resp.collections[0];
        assert_eq!(c.status, SyncStatus::Success);
        key = c.sync_key.unwrap();
        for cmd in &c.commands {
            if let ServerCommand::Add { server_id, data } = cmd {
                assert!(data.child_text(email::SUBJECT).is_some());
                seen.push(server_id.clone());
            }
        }
        rounds += 1;
        if !c.more_available {
            break;
        }
        assert!(rounds < 10);
    }
    assert_eq!(rounds, 3);
    assert_eq!(seen.len(), 250);
    let mut uniq = seen.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 250);
    // Nothing changed: the empty answer, key kept.
    assert!(
        run(phone.sync(&sync_req(&inbox, key, 100)))
            .unwrap()
            .is_none()
    );
}

#[test]
fn client_changes_land_in_the_maildir() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..4 {
        put_message(&root, "", i, &format!("M{i}"), "");
    }
    let mut phone = server.device(USER, "devchg");
    let (inbox, folders) = run(inbox_id(&mut phone));
    let mut key = run(prime(&mut phone, &inbox));
    let resp = run(phone.sync(&sync_req(&inbox, key, 50)))
        .unwrap()
        .unwrap();
    key = resp.collections[0].sync_key.unwrap();
    let ids: Vec<ServerId> = adds(&resp).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 4);
    let by_subject = |s: &str| {
        adds(&resp)
            .into_iter()
            .find(|(_, d)| d.child_text(email::SUBJECT) == Some(s))
            .unwrap()
            .0
    };
    let (m0, m1, m2, m3) = (
        by_subject("M0"),
        by_subject("M1"),
        by_subject("M2"),
        by_subject("M3"),
    );
    let mut req = sync_req(&inbox, key, 50);
    req.collections[0].commands = vec![
        ClientCommand::Change {
            server_id: m0.clone(),
            data: Element::new(airsync::APPLICATION_DATA).with_text(email::READ, "1"),
        },
        ClientCommand::Change {
            server_id: m1.clone(),
            data: Element::new(airsync::APPLICATION_DATA)
                .with(Element::new(email::FLAG).with_text(email::STATUS, "2")),
        },
        ClientCommand::Delete { server_id: m2 },
        ClientCommand::Change {
            server_id: ServerId::parse("999:1").unwrap(),
            data: Element::new(airsync::APPLICATION_DATA).with_text(email::READ, "1"),
        },
    ];
    let resp = run(phone.sync(&req)).unwrap().unwrap();
    let c = &resp.collections[0];
    assert_eq!(c.status, SyncStatus::Success);
    assert!(
        c.commands.is_empty(),
        "own changes are not echoed: {:?}",
        c.commands
    );
    assert!(c.responses.iter().any(|r| matches!(
        r,
        ClientResponse::Change {
            status: SyncStatus::ObjectNotFound,
            ..
        }
    )));
    key = c.sync_key.unwrap();
    assert!(
        file_with_subject(&root.join("cur"), "M0")
            .unwrap()
            .ends_with(":2,S")
    );
    assert!(
        file_with_subject(&root.join("cur"), "M1")
            .unwrap()
            .ends_with(":2,F")
    );
    assert!(file_with_subject(&root.join("cur"), "M2").is_none());
    assert!(
        file_with_subject(&root.join(".Trash/cur"), "M2").is_some(),
        "deletes move to Trash"
    );
    // Without DeletesAsMoves the message is removed.
    let mut req = sync_req(&inbox, key, 50);
    req.collections[0].deletes_as_moves = Some(false);
    req.collections[0].commands = vec![ClientCommand::Delete { server_id: m3 }];
    let resp = run(phone.sync(&req)).unwrap().unwrap();
    key = resp.collections[0].sync_key.unwrap();
    assert!(file_with_subject(&root.join("cur"), "M3").is_none());
    assert!(file_with_subject(&root.join(".Trash/cur"), "M3").is_none());
    // A Dovecot-style flag change outside easd reaches the client as a Change.
    let f = file_with_subject(&root.join("cur"), "M0").unwrap();
    std::fs::rename(
        root.join("cur").join(&f),
        root.join("cur").join(f.replace(":2,S", ":2,FS")),
    )
    .unwrap();
    let resp = run(phone.sync(&sync_req(&inbox, key, 50)))
        .unwrap()
        .unwrap();
    let c = &resp.collections[0];
    assert!(
        matches!(&c.commands[..], [ServerCommand::Change { server_id, data }]
        if *server_id == m0 && data.first(email::FLAG).and_then(|f| f.child_text(email::STATUS)) == Some("2"))
    );
    let _ = (folders, m1);
}

#[test]
fn delivered_and_hand_dropped_messages_reach_the_client() {
    let server = Server::start();
    let root = server.maildir(USER);
    let mut phone = server.device(USER, "devnew");
    let (inbox, _) = run(inbox_id(&mut phone));
    let mut key = run(prime(&mut phone, &inbox));
    let resp = run(phone.sync(&sync_req(&inbox, key, 50))).unwrap();
    if let Some(r) = resp {
        key = r.collections[0].sync_key.unwrap();
    }
    let (ok, _, err) = server.cli(
        &["deliver", USER],
        Some(message(1, "Delivered", "").as_bytes()),
    );
    assert!(ok, "{err}");
    std::fs::write(
        root.join("new").join("1700000000.hand.host"),
        message(2, "By hand", ""),
    )
    .unwrap();
    let resp = run(phone.sync(&sync_req(&inbox, key, 50)))
        .unwrap()
        .unwrap();
    let subjects: Vec<String> = adds(&resp)
        .iter()
        .filter_map(|(_, d)| d.child_text(email::SUBJECT).map(str::to_string))
        .collect();
    assert!(subjects.contains(&"Delivered".to_string()), "{subjects:?}");
    assert!(subjects.contains(&"By hand".to_string()), "{subjects:?}");
}

#[test]
fn smartsync_replay_gives_same_ids_and_new_changes() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    put_message(&root, "", 0, "First", "");
    let mut phone = server.device(USER, "devreplay");
    phone.version = ProtocolVersion::V16_1;
    let (_, folders) = run(inbox_id(&mut phone));
    let drafts = folders
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == 3 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let mut key = run(prime(&mut phone, &drafts));
    if let Some(r) = run(phone.sync(&sync_req(&drafts, key, 50))).unwrap() {
        key = r.collections[0].sync_key.unwrap();
    }
    let draft = Element::new(airsync::APPLICATION_DATA)
        .with_text(email::TO, "bob@example.com")
        .with_text(email::SUBJECT, "Draft one");
    let mut req = sync_req(&drafts, key, 50);
    req.collections[0].commands = vec![ClientCommand::Add {
        client_id: ClientId::parse("26477").unwrap(),
        data: draft,
    }];
    let first = run(phone.sync(&req)).unwrap().unwrap();
    let added = |r: &easd::eas::sync::SyncResponse| {
        r.collections[0]
            .responses
            .iter()
            .find_map(|x| match x {
                ClientResponse::Add {
                    client_id,
                    server_id,
                    status,
                } if client_id.as_str() == "26477" => {
                    assert_eq!(*status, SyncStatus::Success);
                    server_id.clone()
                }
                _ => None,
            })
            .unwrap()
    };
    let sid = added(&first);
    // The response is "lost": the client repeats the same key, without the command (as the
    // guide's iPhone does), after a change on the server.
    let drafts_dir = root.join(".Drafts");
    std::fs::write(
        drafts_dir.join("new").join("1700000001.srv.host"),
        message(5, "Server draft", ""),
    )
    .unwrap();
    let again = run(phone.sync(&sync_req(&drafts, key, 50)))
        .unwrap()
        .unwrap();
    assert_eq!(added(&again), sid, "same ServerId for the same ClientId");
    let subjects: Vec<_> = adds(&again)
        .iter()
        .filter_map(|(_, d)| d.child_text(email::SUBJECT).map(str::to_string))
        .collect();
    assert_eq!(
        subjects,
        ["Server draft"],
        "new server change delivered, no duplicate"
    );
    let files = std::fs::read_dir(drafts_dir.join("cur")).unwrap().count();
    assert_eq!(files, 1, "the draft was stored once");
    // Same again, now with the command repeated: still one draft.
    let third = run(phone.sync(&req)).unwrap().unwrap();
    assert_eq!(added(&third), sid);
    assert_eq!(
        std::fs::read_dir(drafts_dir.join("cur")).unwrap().count(),
        1
    );
    // Continuing from the newest key works; a stale key gets Status 3.
    let next = third.collections[0].sync_key.unwrap();
    assert!(
        run(phone.sync(&sync_req(&drafts, next, 50)))
            .unwrap()
            .is_none()
    );
    let stale = run(phone.sync(&sync_req(&drafts, SyncKey::first(12345), 50)))
        .unwrap()
        .unwrap();
    assert_eq!(stale.collections[0].status, SyncStatus::InvalidSyncKey);
}

#[test]
fn foldersync_initial_incremental_and_bad_key() {
    let server = Server::start();
    let root = server.maildir(USER);
    let mut phone = server.device(USER, "devfs");
    let first = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    assert_eq!(first.status, FolderSyncStatus::Success);
    let kinds: Vec<u8> = first
        .changes
        .iter()
        .filter_map(|c| match c {
            FolderChange::Add(e) => Some(e.kind),
            _ => None,
        })
        .collect();
    for k in [2, 3, 4, 5] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
    let key = first.sync_key.unwrap();
    make_maildir(&root.join(".Projects"));
    let r = run(phone.folder_sync(key)).unwrap();
    let added = match &r.changes[..] {
        [FolderChange::Add(e)] if e.display_name == "Projects" && e.kind == 12 => {
            e.server_id.clone()
        }
        other => panic!("{other:?}"),
    };
    let key = r.sync_key.unwrap();
    make_maildir(&root.join(".Projects.2024"));
    let r = run(phone.folder_sync(key)).unwrap();
    let child = match &r.changes[..] {
        [FolderChange::Add(e)] if e.parent_id == added => e.server_id.clone(),
        other => panic!("{other:?}"),
    };
    let key = r.sync_key.unwrap();
    // Renamed by another program (Dovecot renames the folder and its subfolders): the same ids
    // come back as Updates, nothing is deleted or added.
    std::fs::rename(root.join(".Projects"), root.join(".Archive")).unwrap();
    std::fs::rename(root.join(".Projects.2024"), root.join(".Archive.2024")).unwrap();
    let r = run(phone.folder_sync(key)).unwrap();
    let mut updated: Vec<(String, String)> = r
        .changes
        .iter()
        .map(|c| match c {
            FolderChange::Update(e) => (e.server_id.as_str().to_string(), e.display_name.clone()),
            other => panic!("not an Update: {other:?}"),
        })
        .collect();
    updated.sort();
    assert_eq!(
        updated,
        [(added.as_str().to_string(), "Archive".to_string())],
        "the subfolder kept its id, name and parent, so only its parent changed"
    );
    let key = r.sync_key.unwrap();
    std::fs::remove_dir_all(root.join(".Archive")).unwrap();
    std::fs::remove_dir_all(root.join(".Archive.2024")).unwrap();
    let r = run(phone.folder_sync(key)).unwrap();
    let mut deleted: Vec<String> = r
        .changes
        .iter()
        .map(|c| match c {
            FolderChange::Delete(id) => id.as_str().to_string(),
            other => panic!("not a Delete: {other:?}"),
        })
        .collect();
    deleted.sort();
    let mut expected = vec![added.as_str().to_string(), child.as_str().to_string()];
    expected.sort();
    assert_eq!(deleted, expected);
    let bad = run(phone.folder_sync(SyncKey::first(77))).unwrap();
    assert_eq!(bad.status, FolderSyncStatus::InvalidSyncKey);
}

/// Keys of the shapes other servers issue (Z-Push's `{uuid}N`, Exchange's numbers and GUIDs),
/// sent by a device that moved here from one of them: every command refuses them with its
/// "invalid sync key" status, exactly like a stale key of easd's own, and the device's real
/// state is left as it was.
#[test]
fn other_servers_key_shapes_get_the_invalid_key_statuses() {
    use easd::eas::Command;
    use easd::eas::foldercreate::{FolderCreateRequest, FolderCreateStatus};
    use easd::eas::getitemestimate::{
        EstimateCollection, EstimateStatus, GetItemEstimateRequest, GetItemEstimateResponse,
    };
    use easd::eas::ids::CollectionId;

    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    put_message(&root, "", 1, "Kept", "");
    let mut phone = server.device(USER, "devforeign");
    let (inbox, _) = run(inbox_id(&mut phone));
    let key = run(prime(&mut phone, &inbox));
    let folder_key = run(phone.folder_sync(SyncKey::Initial))
        .unwrap()
        .sync_key
        .unwrap();
    for shape in [
        "{8c5b1e2a-4f3d-4c1b-9a7e-0d2f6b8e1c3a}12",
        "5",
        "{A1B2C3D4-E5F6-4789-ABCD-EF0123456789}",
    ] {
        let foreign = SyncKey::parse_any(shape).unwrap();
        assert!(matches!(foreign, SyncKey::Foreign(_)), "{shape}");

        let fs = run(phone.folder_sync(foreign)).unwrap();
        assert_eq!(fs.status, FolderSyncStatus::InvalidSyncKey, "{shape}");

        let created = run(phone.folder_create(&FolderCreateRequest {
            sync_key: foreign,
            parent_id: CollectionId::parse("0").unwrap(),
            display_name: "Never".into(),
            kind: 12,
        }))
        .unwrap();
        assert_eq!(
            created.status,
            FolderCreateStatus::InvalidSyncKey,
            "{shape}"
        );

        let r = run(phone.sync(&sync_req(&inbox, foreign, 10)))
            .unwrap()
            .unwrap();
        let c = r.collection(&inbox).unwrap();
        assert_eq!(c.status, SyncStatus::InvalidSyncKey, "{shape}");
        assert_eq!(c.sync_key, Some(SyncKey::Initial));

        let est = run(phone.call_typed(
            Command::GetItemEstimate,
            &GetItemEstimateRequest {
                collections: vec![EstimateCollection {
                    sync_key: foreign,
                    collection_id: inbox.clone(),
                    options: None,
                }],
            }
            .encode(),
            GetItemEstimateResponse::parse,
        ))
        .unwrap();
        assert_eq!(
            est.responses[0].status,
            EstimateStatus::InvalidSyncKey,
            "{shape}"
        );
    }
    assert!(!root.join(".Never").exists());
    let fs = run(phone.folder_sync(folder_key)).unwrap();
    assert_eq!(fs.status, FolderSyncStatus::Success);
    let r = run(phone.sync(&sync_req(&inbox, key, 10)))
        .unwrap()
        .unwrap();
    assert_eq!(r.collections[0].status, SyncStatus::Success);
    assert_eq!(adds(&r).len(), 1);
}
