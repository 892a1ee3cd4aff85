//! 16.x drafts over the real server: a Change with new fields rewrites the message in Drafts
//! (merged with what was stored), keeps its ServerId, is not echoed to the device that made it,
//! and reaches another device as a Change carrying the new content.

mod common;
mod mail_common;

use common::{Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{ClientId, CollectionId, SyncKey};
use easd::eas::sync::{ClientCommand, ClientResponse, ServerCommand, SyncStatus};
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, airsyncbase, email};
use mail_common::*;
use std::path::Path;

/// FolderSync, then prime and drain the Drafts folder; returns its id and key.
fn drafts_of(phone: &mut Device) -> (CollectionId, SyncKey) {
    let (_, folders) = run(inbox_id(phone));
    let drafts = folders
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == 3 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let mut key = run(prime(phone, &drafts));
    if let Some(r) = run(phone.sync(&sync_req(&drafts, key, 50))).unwrap() {
        key = r.collections[0].sync_key.unwrap();
    }
    (drafts, key)
}

fn body(text: &str) -> Element {
    Element::new(airsyncbase::BODY)
        .with_text(airsyncbase::TYPE, "1")
        .with_text(airsyncbase::DATA, text)
}

/// The only file in Drafts/cur: (name, content).
fn only_draft(root: &Path) -> (String, String) {
    let cur = root.join(".Drafts").join("cur");
    let files: Vec<_> = std::fs::read_dir(&cur)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read_to_string(&files[0]).unwrap())
}

#[test]
fn draft_change_rewrites_the_message_and_keeps_its_server_id() {
    let server = Server::start();
    let root = server.maildir(USER);
    let mut phone = server.device(USER, "devdraft");
    phone.version = ProtocolVersion::V16_1;
    let mut tablet = server.device(USER, "devdraft2");
    tablet.version = ProtocolVersion::V16_1;
    let (drafts, mut key) = drafts_of(&mut phone);
    let (_, mut tablet_key) = drafts_of(&mut tablet);

    let mut req = sync_req(&drafts, key, 50);
    req.collections[0].commands = vec![ClientCommand::Add {
        client_id: ClientId::parse("c1").unwrap(),
        data: Element::new(airsync::APPLICATION_DATA)
            .with_text(email::TO, "bob@example.com")
            .with_text(email::SUBJECT, "Plan")
            .with(body("first version")),
    }];
    let r = run(phone.sync(&req)).unwrap().unwrap();
    key = r.collections[0].sync_key.unwrap();
    let sid = match &r.collections[0].responses[..] {
        [
            ClientResponse::Add {
                server_id: Some(s),
                status: SyncStatus::Success,
                ..
            },
        ] => s.clone(),
        other => panic!("{other:?}"),
    };
    let (first_name, first) = only_draft(&root);
    assert!(first.contains("Subject: Plan\r\n") && first.contains("first version"));
    let r = run(tablet.sync(&sync_req(&drafts, tablet_key, 50)))
        .unwrap()
        .unwrap();
    tablet_key = r.collections[0].sync_key.unwrap();
    assert_eq!(adds(&r).len(), 1);

    let mut req = sync_req(&drafts, key, 50);
    req.collections[0].commands = vec![ClientCommand::Change {
        server_id: sid.clone(),
        data: Element::new(airsync::APPLICATION_DATA)
            .with_text(email::SUBJECT, "Plan v2")
            .with(body("second version")),
    }];
    let r = run(phone.sync(&req)).unwrap().unwrap();
    let c = &r.collections[0];
    assert_eq!(c.status, SyncStatus::Success);
    assert!(c.responses.is_empty(), "{:?}", c.responses);
    assert!(
        c.commands.is_empty(),
        "own change not echoed: {:?}",
        c.commands
    );
    key = c.sync_key.unwrap();

    let (name, text) = only_draft(&root);
    assert_ne!(name, first_name, "a new file replaced the old one");
    assert!(text.contains("Subject: Plan v2\r\n"), "{text}");
    assert!(text.contains("second version") && !text.contains("first version"));
    assert!(text.contains("bob@example.com"), "recipients kept: {text}");
    assert!(name.ends_with(":2,DS"), "{name}");
    let size: usize = name
        .split(",S=")
        .nth(1)
        .and_then(|s| s.split([',', ':']).next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(size, text.len(), "S= matches the new content");

    assert!(
        run(phone.sync(&sync_req(&drafts, key, 50)))
            .unwrap()
            .is_none()
    );
    let r = run(tablet.sync(&sync_req(&drafts, tablet_key, 50)))
        .unwrap()
        .unwrap();
    match &r.collections[0].commands[..] {
        [ServerCommand::Change { server_id, data }] => {
            assert_eq!(server_id, &sid);
            assert_eq!(data.child_text(email::SUBJECT), Some("Plan v2"));
        }
        other => panic!("{other:?}"),
    }
}
