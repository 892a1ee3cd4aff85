//! FolderCreate, FolderUpdate and FolderDelete against the real server: folders appear, move and
//! vanish in the Maildir under modified UTF-7 names, ids survive renames, the hierarchy key moves
//! on so the device's next FolderSync does not report its own change, other devices see each
//! change once, and default folders are refused with the spec's statuses.

mod common;
mod mail_common;

use common::{Server, run};
use easd::client::Device;
use easd::eas::foldercreate::{FolderCreateRequest, FolderCreateStatus};
use easd::eas::folderdelete::{FolderDeleteRequest, FolderDeleteStatus};
use easd::eas::foldersync::FolderChange;
use easd::eas::folderupdate::{FolderUpdateRequest, FolderUpdateStatus};
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::sync::SyncStatus;
use mail_common::*;
use std::path::Path;

fn top() -> CollectionId {
    CollectionId::from_number(0)
}

fn create(
    phone: &mut Device,
    key: &mut SyncKey,
    parent: &CollectionId,
    name: &str,
) -> (FolderCreateStatus, Option<CollectionId>) {
    let r = run(phone.folder_create(&FolderCreateRequest {
        sync_key: *key,
        parent_id: parent.clone(),
        display_name: name.into(),
        kind: 12,
    }))
    .unwrap();
    if let Some(k) = r.sync_key {
        *key = k;
    }
    (r.status, r.server_id)
}

/// Folder directories of the Maildir root, sorted.
fn on_disk(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn id_of(changes: &[FolderChange], kind: u8) -> CollectionId {
    changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == kind => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap()
}

#[test]
fn folder_commands_mirror_the_maildir() {
    let server = Server::start();
    let root = server.maildir(USER);
    let mut phone = server.device(USER, "devfold");
    let mut other = server.device(USER, "devother");
    let first = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    let (inbox, sent) = (id_of(&first.changes, 2), id_of(&first.changes, 5));
    let mut key = first.sync_key.unwrap();
    let other_key = run(other.folder_sync(SyncKey::Initial))
        .unwrap()
        .sync_key
        .unwrap();

    let (status, drafts_de) = create(&mut phone, &mut key, &top(), "Entwürfe");
    assert_eq!(status, FolderCreateStatus::Success);
    let drafts_de = drafts_de.unwrap();
    let (status, japanese) = create(&mut phone, &mut key, &drafts_de, "日本語");
    assert_eq!(status, FolderCreateStatus::Success);
    let japanese = japanese.unwrap();
    let (status, amp) = create(&mut phone, &mut key, &inbox, "A&B");
    assert_eq!(status, FolderCreateStatus::Success);
    let amp = amp.unwrap();
    for dir in [".Entw&APw-rfe", ".Entw&APw-rfe.&ZeVnLIqe-", ".INBOX.A&-B"] {
        for sub in ["cur", "new", "tmp", "maildirfolder"] {
            assert!(root.join(dir).join(sub).exists(), "{dir}/{sub}");
        }
    }

    // Refusals leave the key where it is.
    let before = key;
    assert_eq!(
        create(&mut phone, &mut key, &top(), "Entwürfe").0,
        FolderCreateStatus::AlreadyExists
    );
    assert_eq!(
        create(&mut phone, &mut key, &CollectionId::from_number(999), "X").0,
        FolderCreateStatus::ParentNotFound
    );
    assert_eq!(
        create(&mut phone, &mut key, &top(), "a.b").0,
        FolderCreateStatus::BadRequest
    );
    assert_eq!(key, before);
    let mut stale = first.sync_key.unwrap();
    assert_eq!(
        create(&mut phone, &mut stale, &top(), "Y").0,
        FolderCreateStatus::InvalidSyncKey
    );

    // The device's own creations do not come back; the other device gets them as Adds.
    let r = run(phone.folder_sync(key)).unwrap();
    assert!(r.changes.is_empty(), "{:?}", r.changes);
    let r = run(other.folder_sync(other_key)).unwrap();
    let mut added: Vec<(String, String, String)> = r
        .changes
        .iter()
        .map(|c| match c {
            FolderChange::Add(e) => (
                e.display_name.clone(),
                e.parent_id.as_str().to_string(),
                e.server_id.as_str().to_string(),
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    added.sort();
    let mut expected = vec![
        (
            "A&B".to_string(),
            inbox.as_str().to_string(),
            amp.as_str().to_string(),
        ),
        (
            "Entwürfe".to_string(),
            "0".to_string(),
            drafts_de.as_str().to_string(),
        ),
        (
            "日本語".to_string(),
            drafts_de.as_str().to_string(),
            japanese.as_str().to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(added, expected);
    let other_key = r.sync_key.unwrap();

    // A message in the subfolder, synced before the rename, stays reachable under its ids.
    put_message(&root, ".Entw&APw-rfe.&ZeVnLIqe-", 1, "Nested", "");
    let mut sync_key = run(prime(&mut phone, &japanese));
    let r = run(phone.sync(&sync_req(&japanese, sync_key, 50)))
        .unwrap()
        .unwrap();
    assert_eq!(adds(&r).len(), 1);
    sync_key = r.collections[0].sync_key.unwrap();

    let r = run(phone.folder_update(&FolderUpdateRequest {
        sync_key: key,
        server_id: drafts_de.clone(),
        parent_id: top(),
        display_name: "Büro".into(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderUpdateStatus::Success);
    key = r.sync_key.unwrap();
    assert_eq!(
        on_disk(&root)
            .iter()
            .filter(|n| n.starts_with(".B&APw-ro"))
            .count(),
        2
    );
    assert!(!root.join(".Entw&APw-rfe").exists());
    assert!(
        run(phone.sync(&sync_req(&japanese, sync_key, 50)))
            .unwrap()
            .is_none(),
        "the renamed subfolder's items did not change"
    );
    let r = run(phone.folder_sync(key)).unwrap();
    assert!(r.changes.is_empty(), "{:?}", r.changes);
    let r = run(other.folder_sync(other_key)).unwrap();
    match &r.changes[..] {
        [FolderChange::Update(e)] => {
            assert_eq!(e.server_id, drafts_de);
            assert_eq!(e.display_name, "Büro");
        }
        changes => panic!("{changes:?}"),
    }
    let other_key = r.sync_key.unwrap();

    // A move into another parent, then refusals for default folders.
    let r = run(phone.folder_update(&FolderUpdateRequest {
        sync_key: key,
        server_id: japanese.clone(),
        parent_id: amp.clone(),
        display_name: "日本語".into(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderUpdateStatus::Success);
    key = r.sync_key.unwrap();
    assert!(root.join(".INBOX.A&-B.&ZeVnLIqe-").join("cur").exists());
    for special in [&inbox, &sent] {
        let r = run(phone.folder_update(&FolderUpdateRequest {
            sync_key: key,
            server_id: special.clone(),
            parent_id: top(),
            display_name: "Renamed".into(),
        }))
        .unwrap();
        assert_eq!(r.status, FolderUpdateStatus::ExistsOrSpecial);
        let r = run(phone.folder_delete(&FolderDeleteRequest {
            sync_key: key,
            server_id: special.clone(),
        }))
        .unwrap();
        assert_eq!(r.status, FolderDeleteStatus::Special);
    }
    let r = run(phone.folder_delete(&FolderDeleteRequest {
        sync_key: key,
        server_id: CollectionId::from_number(999),
    }))
    .unwrap();
    assert_eq!(r.status, FolderDeleteStatus::NotFound);

    // Deleting A&B takes its subfolder (with the message) along.
    let r = run(phone.folder_delete(&FolderDeleteRequest {
        sync_key: key,
        server_id: amp.clone(),
    }))
    .unwrap();
    assert_eq!(r.status, FolderDeleteStatus::Success);
    key = r.sync_key.unwrap();
    assert!(!root.join(".INBOX.A&-B").exists());
    assert!(!root.join(".INBOX.A&-B.&ZeVnLIqe-").exists());
    assert!(root.join(".B&APw-ro").exists());
    let r = run(phone.folder_sync(key)).unwrap();
    assert!(r.changes.is_empty(), "{:?}", r.changes);
    let r = run(phone.sync(&sync_req(&japanese, sync_key, 50)))
        .unwrap()
        .unwrap();
    assert_eq!(r.collections[0].status, SyncStatus::HierarchyChanged);
    let r = run(other.folder_sync(other_key)).unwrap();
    let mut gone: Vec<String> = r
        .changes
        .iter()
        .map(|c| match c {
            FolderChange::Delete(id) => id.as_str().to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    gone.sort();
    let mut expected = vec![amp.as_str().to_string(), japanese.as_str().to_string()];
    expected.sort();
    assert_eq!(gone, expected);
}
