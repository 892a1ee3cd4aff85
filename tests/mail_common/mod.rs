//! Helpers of the mail tests: Maildirs with generated messages and the usual request shapes.
#![allow(dead_code)]

use easd::client::Device;
use easd::eas::foldersync::{FolderChange, FolderSyncStatus};
use easd::eas::ids::{CollectionId, ServerId, SyncKey};
use easd::eas::options::ItemOptions;
use easd::eas::sync::{CollectionRequest, ServerCommand, SyncRequest, SyncResponse, SyncStatus};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::Element;
use std::path::Path;

pub const USER: &str = "alice@example.com";

pub fn make_maildir(dir: &Path) {
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
}

pub fn message(i: u32, subject: &str, extra_headers: &str) -> String {
    format!(
        "From: Sender {i} <sender{i}@example.org>\r\nTo: Alice <alice@example.com>\r\nSubject: {subject}\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <m{i}.{subject_len}@example.org>\r\n{extra_headers}Content-Type: text/plain; charset=utf-8\r\n\r\nBody of message {i}.\r\n",
        subject_len = subject.len()
    )
}

/// A message in `folder`'s cur/ (folder "" = INBOX), received at 1,700,000,000 + i.
pub fn put_message(root: &Path, folder: &str, i: u32, subject: &str, flags: &str) {
    let dir = if folder.is_empty() {
        root.to_path_buf()
    } else {
        root.join(folder)
    };
    make_maildir(&dir);
    let name = format!("{}.M{i}P1.test,S=100:2,{flags}", 1_700_000_000 + i);
    std::fs::write(dir.join("cur").join(name), message(i, subject, "")).unwrap();
}

/// The file name in `dir` whose message has `subject`.
pub fn file_with_subject(dir: &Path, subject: &str) -> Option<String> {
    for e in std::fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        let text = std::fs::read_to_string(e.path()).ok()?;
        if text.contains(&format!("Subject: {subject}\r\n")) {
            return Some(e.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

/// FolderSync from 0; returns the Inbox id and the changes.
pub async fn inbox_id(phone: &mut Device) -> (CollectionId, Vec<FolderChange>) {
    let r = phone.folder_sync(SyncKey::Initial).await.unwrap();
    assert_eq!(r.status, FolderSyncStatus::Success);
    let inbox = r
        .changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == 2 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    (inbox, r.changes)
}

pub fn plain_options() -> ItemOptions {
    ItemOptions {
        body_preferences: vec![BodyPreference {
            body_type: BodyType::PlainText,
            truncation_size: Some(5120),
            all_or_none: false,
            preview: None,
        }],
        ..ItemOptions::default()
    }
}

/// Sync with key 0; returns the first key.
pub async fn prime(phone: &mut Device, coll: &CollectionId) -> SyncKey {
    let mut c = CollectionRequest::new(coll.clone(), SyncKey::Initial);
    c.options = Some(plain_options());
    let r = phone
        .sync(&SyncRequest {
            collections: vec![c],
            ..SyncRequest::default()
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.collections[0].status, SyncStatus::Success);
    r.collections[0].sync_key.unwrap()
}

pub fn sync_req(coll: &CollectionId, key: SyncKey, window: u32) -> SyncRequest {
    let mut c = CollectionRequest::new(coll.clone(), key);
    c.window_size = Some(window);
    c.get_changes = Some(true);
    SyncRequest {
        collections: vec![c],
        ..SyncRequest::default()
    }
}

pub fn adds(r: &SyncResponse) -> Vec<(ServerId, Element)> {
    r.collections
        .iter()
        .flat_map(|c| &c.commands)
        .filter_map(|c| match c {
            ServerCommand::Add { server_id, data } => Some((server_id.clone(), data.clone())),
            _ => None,
        })
        .collect()
}
