//! Device management in the mail commands, against the real server and its admin CLI: removing a
//! device makes it sync from scratch without touching mail, a quarantined device sees only the
//! default folders and gets nothing while its own changes still land, the per-device options
//! shape what Sync and ItemOperations send, and local delivery answers with the recipient's
//! Out-of-Office reply.

mod common;
mod mail_common;

use common::phone::settings;
use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::device::oof::{Audience, OofMessage, OofSettings, OofState};
use easd::eas::Command;
use easd::eas::foldersync::{FolderChange, FolderSyncStatus};
use easd::eas::ids::{CollectionId, ServerId, SyncKey};
use easd::eas::itemoperations::{
    FetchTarget, ItemOperationsRequest, ItemOperationsResponse, ItemOpsStatus, Operation,
    OperationResponse,
};
use easd::eas::options::ItemOptions;
use easd::eas::settings::messages::{OofRequest, SettingsRequest};
use easd::eas::sync::{ClientCommand, CollectionRequest, SyncRequest, SyncStatus};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, airsyncbase, email};
use mail_common::*;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn cli_ok(server: &Server, args: &[&str]) -> String {
    let (ok, out, err) = server.cli(args, None);
    assert!(ok, "easd {args:?}: {err}");
    out
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Files in `dir` (cur/ and new/ of a Maildir folder).
fn count_messages(dir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|s| std::fs::read_dir(dir.join(s)).map_or(0, |r| r.count()))
        .sum()
}

/// Primes and drains a collection; returns the key and the ServerIds it got.
fn full_sync(phone: &mut Device, coll: &CollectionId) -> (SyncKey, Vec<ServerId>) {
    let mut key = run(prime(phone, coll));
    let mut ids = Vec::new();
    while let Some(r) = run(phone.sync(&sync_req(coll, key, 100))).unwrap() {
        let c = &r.collections[0];
        assert_eq!(c.status, SyncStatus::Success);
        key = c.sync_key.unwrap();
        ids.extend(adds(&r).into_iter().map(|(id, _)| id));
        if !c.more_available {
            break;
        }
    }
    (key, ids)
}

#[test]
fn removed_device_syncs_again_from_scratch_and_no_mail_is_lost() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..3 {
        put_message(&root, "", i, &format!("Keep {i}"), "");
    }
    let mut phone = server.device(USER, "devrm");
    let (inbox, _) = run(inbox_id(&mut phone));
    let folder_key = run(phone.folder_sync(SyncKey::Initial))
        .unwrap()
        .sync_key
        .unwrap();
    let (key, ids) = full_sync(&mut phone, &inbox);
    assert_eq!(ids.len(), 3);

    cli_ok(&server, &["device", "remove", "alice@example.com/devrm"]);

    assert_eq!(count_messages(&root), 3, "no mail touched");
    let r = run(phone.sync(&sync_req(&inbox, key, 100)))
        .unwrap()
        .unwrap();
    assert_eq!(r.collections[0].status, SyncStatus::InvalidSyncKey);
    let r = run(phone.folder_sync(folder_key)).unwrap();
    assert_eq!(r.status, FolderSyncStatus::InvalidSyncKey);
    let (inbox, _) = run(inbox_id(&mut phone));
    let (_, again) = full_sync(&mut phone, &inbox);
    assert_eq!(again.len(), 3, "everything comes again");
}

#[test]
fn quarantined_device_sees_default_folders_and_only_sends() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    make_maildir(&root.join(".Projects"));
    put_message(&root, "", 0, "Before", "");
    let mut phone = server.device(USER, "devq");
    let first = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    assert!(
        first
            .changes
            .iter()
            .any(|c| matches!(c, FolderChange::Add(e) if e.display_name == "Projects"))
    );
    let inbox = first
        .changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == 2 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let (key, ids) = full_sync(&mut phone, &inbox);
    assert_eq!(ids.len(), 1);

    cli_ok(&server, &["device", "quarantine", "alice@example.com/devq"]);
    put_message(&root, "", 1, "While quarantined", "");

    // The device's own change lands; nothing comes back.
    let mut req = sync_req(&inbox, key, 100);
    req.collections[0].commands = vec![ClientCommand::Change {
        server_id: ids[0].clone(),
        data: Element::new(airsync::APPLICATION_DATA).with_text(email::READ, "1"),
    }];
    let r = run(phone.sync(&req)).unwrap().unwrap();
    let c = &r.collections[0];
    assert_eq!(c.status, SyncStatus::Success);
    assert!(c.commands.is_empty(), "{:?}", c.commands);
    let key = c.sync_key.unwrap();
    let read = std::fs::read_dir(root.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .any(|n| n.starts_with("1700000000.") && n.ends_with(":2,S"));
    assert!(read, "Read landed on disk");
    assert!(
        run(phone.sync(&sync_req(&inbox, key, 100)))
            .unwrap()
            .is_none()
    );

    // Only the default folders: Projects (and Junk, a plain mail folder to EAS) are gone.
    let r = run(phone.folder_sync(first.sync_key.unwrap())).unwrap();
    assert!(!r.changes.is_empty());
    assert!(
        r.changes
            .iter()
            .all(|c| matches!(c, FolderChange::Delete(_))),
        "{:?}",
        r.changes
    );
    let fresh = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    let mut kinds: Vec<u8> = fresh
        .changes
        .iter()
        .map(|c| match c {
            FolderChange::Add(e) => e.kind,
            other => panic!("{other:?}"),
        })
        .collect();
    kinds.sort();
    // The default mail folders and the default contacts, calendar, tasks and notes.
    assert_eq!(kinds, [2, 3, 4, 5, 7, 8, 9, 10]);

    // Released: the message that arrived meanwhile comes.
    cli_ok(&server, &["device", "allow", "alice@example.com/devq"]);
    let r = run(phone.sync(&sync_req(&inbox, key, 100)))
        .unwrap()
        .unwrap();
    let subjects: Vec<String> = adds(&r)
        .iter()
        .filter_map(|(_, d)| d.child_text(email::SUBJECT).map(str::to_string))
        .collect();
    assert!(
        subjects.contains(&"While quarantined".to_string()),
        "{subjects:?}"
    );
}

/// A message with a plain and an HTML body and a 2,000-byte attachment.
fn rich_message(subject: &str) -> String {
    let blob = "0123456789".repeat(200);
    format!(
        "From: a@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=OUT\r\n\r\n--OUT\r\n\
         Content-Type: multipart/alternative; boundary=ALT\r\n\r\n--ALT\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nThe plain text version of the body.\r\n\
         --ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>The <b>HTML</b> version of the body.</p>\r\n\
         --ALT--\r\n--OUT\r\nContent-Type: text/plain; name=\"blob.txt\"\r\n\
         Content-Disposition: attachment; filename=\"blob.txt\"\r\n\r\n{blob}\r\n--OUT--\r\n"
    )
}

fn html_sync(coll: &CollectionId, key: SyncKey) -> SyncRequest {
    let mut c = CollectionRequest::new(coll.clone(), key);
    c.window_size = Some(50);
    if key == SyncKey::Initial {
        c.options = Some(ItemOptions {
            body_preferences: vec![BodyPreference {
                body_type: BodyType::Html,
                truncation_size: None,
                all_or_none: false,
                preview: None,
            }],
            ..ItemOptions::default()
        });
    }
    SyncRequest {
        collections: vec![c],
        ..SyncRequest::default()
    }
}

/// The one Add of a fresh HTML sync of `coll`.
fn only_add(phone: &mut Device, coll: &CollectionId) -> Element {
    let primed = run(phone.sync(&html_sync(coll, SyncKey::Initial)))
        .unwrap()
        .unwrap();
    let key = primed.collections[0].sync_key.unwrap();
    let r = run(phone.sync(&html_sync(coll, key))).unwrap().unwrap();
    let mut all = adds(&r);
    assert_eq!(all.len(), 1, "{all:?}");
    all.pop().unwrap().1
}

fn fetch_attachment(phone: &mut Device, reference: &str) -> ItemOpsStatus {
    let req = ItemOperationsRequest {
        operations: vec![Operation::Fetch {
            target: FetchTarget::Attachment(reference.to_string()),
            options: ItemOptions::default(),
            range: None,
        }],
    };
    let r = run(phone.call_typed(
        Command::ItemOperations,
        &req.encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    match &r.responses[..] {
        [OperationResponse::Fetch { status, .. }] => *status,
        other => panic!("{other:?}"),
    }
}

#[test]
fn device_options_shape_what_is_sent() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    make_maildir(&root.join(".Projects"));
    let day = 86_400;
    let recent = format!("{}.M1P1.opt:2,", now() - day);
    let old = format!("{}.M2P1.opt:2,", now() - 60 * day);
    std::fs::write(root.join("cur").join(recent), rich_message("Recent")).unwrap();
    std::fs::write(root.join("cur").join(old), rich_message("Old")).unwrap();

    // An unrestricted device sees everything, attachment included.
    let mut free = server.device(USER, "devfree");
    free.version = ProtocolVersion::V14_1;
    let (inbox, folders) = run(inbox_id(&mut free));
    assert!(
        folders
            .iter()
            .any(|c| matches!(c, FolderChange::Add(e) if e.display_name == "Projects"))
    );
    let primed = run(free.sync(&html_sync(&inbox, SyncKey::Initial)))
        .unwrap()
        .unwrap();
    let r = run(free.sync(&html_sync(&inbox, primed.collections[0].sync_key.unwrap())))
        .unwrap()
        .unwrap();
    let got = adds(&r);
    assert_eq!(got.len(), 2);
    let data = &got[0].1;
    let body = data.first(airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(airsyncbase::TYPE), Some("2"));
    let reference = data
        .first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .and_then(|a| a.child_text(airsyncbase::FILE_REFERENCE))
        .unwrap()
        .to_string();
    assert_eq!(
        fetch_attachment(&mut free, &reference),
        ItemOpsStatus::Success
    );

    let mut phone = server.device(USER, "devopt");
    phone.version = ProtocolVersion::V14_1;
    run(inbox_id(&mut phone));
    cli_ok(
        &server,
        &[
            "device",
            "set",
            "alice@example.com/devopt",
            "mail_folders=default",
            "mail_sync_days=30",
            "truncation=10",
            "html=false",
            "attachments=false",
        ],
    );
    let (_, folders) = run(inbox_id(&mut phone));
    assert!(
        !folders
            .iter()
            .any(|c| matches!(c, FolderChange::Add(e) if e.display_name == "Projects")),
        "{folders:?}"
    );
    let data = only_add(&mut phone, &inbox);
    assert_eq!(data.child_text(email::SUBJECT), Some("Recent"));
    let body = data.first(airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(airsyncbase::TYPE), Some("1"), "plain only");
    assert_eq!(body.child_text(airsyncbase::TRUNCATED), Some("1"));
    assert!(body.child_text(airsyncbase::DATA).unwrap().len() <= 10);
    assert!(data.first(airsyncbase::ATTACHMENTS).is_none());
    assert_eq!(
        fetch_attachment(&mut phone, &reference),
        ItemOpsStatus::InvalidAttachment
    );

    // Attachments again, but only small ones.
    cli_ok(
        &server,
        &[
            "device",
            "set",
            "alice@example.com/devopt",
            "attachments=true",
            "max_attachment_bytes=1000",
        ],
    );
    let data = only_add(&mut phone, &inbox);
    assert!(
        data.first(airsyncbase::ATTACHMENTS).is_none(),
        "2,000 bytes > 1,000"
    );
    assert_eq!(
        fetch_attachment(&mut phone, &reference),
        ItemOpsStatus::InvalidAttachment
    );
    cli_ok(
        &server,
        &[
            "device",
            "set",
            "alice@example.com/devopt",
            "max_attachment_bytes=none",
        ],
    );
    let data = only_add(&mut phone, &inbox);
    assert!(data.first(airsyncbase::ATTACHMENTS).is_some());
    assert_eq!(
        fetch_attachment(&mut phone, &reference),
        ItemOpsStatus::Success
    );
}

fn inbox_of(server: &Server, user: &str) -> Vec<String> {
    let new = server.maildir(user).join("new");
    std::fs::read_dir(new)
        .map(|r| {
            r.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn local_delivery_sends_the_out_of_office_reply() {
    let mut server = Server::start_with(Options {
        users: vec![
            "alice@example.com".into(),
            "bob@example.com".into(),
            "carol@example.com".into(),
        ],
        ..Options::default()
    });
    let mut phone = server.device(USER, "devoof");
    let r = settings(
        &mut phone,
        &SettingsRequest {
            oof: Some(OofRequest::Set(OofSettings {
                state: OofState::Global,
                start: None,
                end: None,
                messages: vec![OofMessage {
                    audience: Audience::Internal,
                    enabled: true,
                    reply: "Away until Monday".into(),
                    body_type: "Text".into(),
                }],
                generation: 0,
            })),
            ..SettingsRequest::default()
        },
    );
    assert!(r.oof.is_some());
    let mail = |from: &str| {
        format!(
            "From: {from}\r\nTo: alice@example.com\r\nSubject: Lunch?\r\nMessage-ID: <q.{from}>\r\n\r\nAre you free?\r\n"
        )
    };
    for _ in 0..2 {
        let (ok, _, err) = server.cli(
            &["deliver", "alice@example.com"],
            Some(mail("bob@example.com").as_bytes()),
        );
        assert!(ok, "{err}");
    }
    let replies = inbox_of(&server, "bob@example.com");
    assert_eq!(replies.len(), 1, "one reply per sender: {replies:?}");
    assert!(replies[0].contains("Subject: Automatic reply: Lunch?"));
    assert!(replies[0].contains("Away until Monday"));
    assert!(replies[0].contains("Auto-Submitted: auto-replied"));
    assert_eq!(inbox_of(&server, "alice@example.com").len(), 2);

    // With no server running, `easd deliver` sends the reply itself.
    let _ = server.child.kill();
    let _ = server.child.wait();
    let (ok, _, err) = server.cli(
        &["deliver", "alice@example.com"],
        Some(mail("carol@example.com").as_bytes()),
    );
    assert!(ok, "{err}");
    assert_eq!(inbox_of(&server, "carol@example.com").len(), 1, "{err}");
}
