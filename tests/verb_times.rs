//! The reply times kept for LastVerbExecutionTime (the `mail_verb_times` table) do not outlive
//! their messages: once a user's records reach a multiple of `PRUNE_EVERY`, those of messages gone
//! from every folder are dropped, and those of messages still there (in any folder) are kept.

mod common;
mod mail_common;

use common::{Server, run};
use easd::eas::ids::{CollectionId, ServerId};
use easd::eas::sendmail::{ComposeCommand, ComposeRequest, ComposeSource};
use easd::state::verb_times::{self, PRUNE_EVERY};
use easd::wbxml::tags::email;
use mail_common::*;
use std::collections::HashMap;
use std::time::Duration;

fn reply(n: usize, inbox: &CollectionId, item: &ServerId) -> ComposeRequest {
    ComposeRequest {
        command: ComposeCommand::SmartReply,
        client_id: Some(format!("reply-{n}")),
        account_id: None,
        save_in_sent_items: false,
        replace_mime: false,
        source: Some(ComposeSource {
            folder_id: Some(inbox.as_str().to_string()),
            item_id: Some(item.as_str().to_string()),
            long_id: None,
            instance_id: None,
        }),
        mime: format!("From: <{USER}>\r\nTo: <{USER}>\r\nSubject: Re: {n}\r\n\r\nNoted.\r\n")
            .into_bytes(),
        template_id: None,
        forwardees: Vec::new(),
        body: None,
    }
}

/// The message key (the Maildir file name before its flags) of message `i` from `put_message`.
fn key(i: usize) -> String {
    format!("{}.M{i}P1.test,S=100", 1_700_000_000 + i)
}

#[test]
fn reply_times_of_deleted_messages_are_pruned() {
    let mut server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..PRUNE_EVERY {
        put_message(&root, "", i as u32, &format!("M{i}"), "S");
    }
    let mut phone = server.device(USER, "verb-phone");
    let (inbox, _) = run(inbox_id(&mut phone));
    let mut sync_key = run(prime(&mut phone, &inbox));
    let mut ids: HashMap<usize, ServerId> = HashMap::new();
    while let Some(r) = run(phone.sync(&sync_req(&inbox, sync_key, 100))).unwrap() {
        sync_key = r.collections[0].sync_key.unwrap();
        for (id, data) in adds(&r) {
            let subject = data.child_text(email::SUBJECT).unwrap_or_default();
            if let Some(i) = subject.strip_prefix('M').and_then(|n| n.parse().ok()) {
                ids.insert(i, id);
            }
        }
        if !r.collections[0].more_available {
            break;
        }
    }
    assert_eq!(ids.len(), PRUNE_EVERY);

    // One short of a prune; then messages 0..10 are deleted from outside and 10..15 moved to
    // another folder, as a mail client would.
    for i in 0..PRUNE_EVERY - 1 {
        let r = run(phone.compose(&reply(i, &inbox, &ids[&i]))).unwrap();
        assert_eq!(r.status, None, "reply {i}");
    }
    let archive = root.join(".Archive");
    make_maildir(&archive);
    for i in 0..15 {
        let name = format!("{}:2,RS", key(i));
        let path = root.join("cur").join(&name);
        if i < 10 {
            std::fs::remove_file(path).unwrap();
        } else {
            std::fs::rename(path, archive.join("cur").join(&name)).unwrap();
        }
    }
    assert!(
        !server
            .log
            .try_iter()
            .any(|l| l.contains("reply times of gone messages pruned")),
        "no prune before the {PRUNE_EVERY}th record"
    );
    let last = PRUNE_EVERY - 1;
    let r = run(phone.compose(&reply(last, &inbox, &ids[&last]))).unwrap();
    assert_eq!(r.status, None);
    assert!(
        server
            .wait_log(
                "10 reply times of gone messages pruned",
                Duration::from_secs(10)
            )
            .is_some()
    );

    // The state file can be read once the server is gone.
    let _ = server.child.kill();
    let _ = server.child.wait();
    let db = easd::state::open_db(&server.data_dir().join("state.redb"), 1 << 20).unwrap();
    for i in 0..PRUNE_EVERY {
        let time = verb_times::get(&db, USER, &key(i)).unwrap();
        assert_eq!(time.is_some(), i >= 10, "message {i}: {time:?}");
    }
}
