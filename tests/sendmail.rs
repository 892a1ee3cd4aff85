//! SendMail, SmartReply and SmartForward against the real server, with tests/smtp_sink.py
//! (aiosmtpd) as its smarthost on loopback: the envelope and the bytes that reach it, local
//! delivery and push, the Sent copy, threading, forwarded attachments, the original's flags,
//! the failure statuses, the 12.1 raw-MIME form, and a queued message that outlives a restart.
//! Needs python3 with aiosmtpd and libwbxml's wbxml2xml (libwbxml2-utils).

mod common;
mod mail_common;

use common::sink::Sink;
use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::Command;
use easd::eas::ids::{CollectionId, ServerId, SyncKey};
use easd::eas::ping::{PingFolder, PingRequest, PingStatus};
use easd::eas::sendmail::{ComposeCommand, ComposeRequest, ComposeSource, ComposeStatus};
use easd::eas::sync::ServerCommand;
use easd::items::email::attachment;
use easd::wbxml::Element;
use easd::wbxml::tags::email2;
use mail_common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BOB: &str = "bob@example.com";

fn server_with(sink: &Sink, smtp_extra: &str) -> Server {
    Server::start_with(Options {
        extra: sink.config(smtp_extra),
        ..Options::default()
    })
}

fn send_mail(client_id: &str, mime: &[u8], save: bool) -> ComposeRequest {
    ComposeRequest {
        command: ComposeCommand::SendMail,
        client_id: Some(client_id.to_string()),
        account_id: None,
        save_in_sent_items: save,
        replace_mime: false,
        source: None,
        mime: mime.to_vec(),
        template_id: None,
        forwardees: Vec::new(),
        body: None,
    }
}

fn smart(
    command: ComposeCommand,
    client_id: &str,
    folder: &CollectionId,
    item: &ServerId,
    mime: &[u8],
) -> ComposeRequest {
    ComposeRequest {
        command,
        client_id: Some(client_id.to_string()),
        account_id: None,
        save_in_sent_items: false,
        replace_mime: false,
        source: Some(ComposeSource {
            folder_id: Some(folder.as_str().to_string()),
            item_id: Some(item.as_str().to_string()),
            long_id: None,
            instance_id: None,
        }),
        mime: mime.to_vec(),
        template_id: None,
        forwardees: Vec::new(),
        body: None,
    }
}

/// Every message file of a Maildir folder directory (new/ and cur/), as (file name, bytes).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                out.push((
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                ));
            }
        }
    }
    out
}

fn sent_dir(server: &Server, user: &str) -> PathBuf {
    server.maildir(user).join(".Sent")
}

/// The text between `name: ` and the line end of the first such header.
fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    let head = data.split("\r\n\r\n").next()?;
    head.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// The Inbox and a Sync of it up to date: (inbox id, key, the items it added).
fn synced_inbox(phone: &mut Device) -> (CollectionId, SyncKey, Vec<(ServerId, Element)>) {
    let (inbox, _) = run(inbox_id(phone));
    let mut key = run(prime(phone, &inbox));
    let mut ids = Vec::new();
    while let Some(r) = run(phone.sync(&sync_req(&inbox, key, 100))).unwrap() {
        key = r.collections[0].sync_key.unwrap();
        ids.extend(adds(&r));
        if !r.collections[0].more_available {
            break;
        }
    }
    (inbox, key, ids)
}

const REMOTE_MAIL: &str = "Bcc: Hidden <hidden@example.net>\r\nFrom: Alice <alice@example.com>\r\n\
    To: Remote <remote@example.net>\r\nSubject: Hello out there\r\nDate: Tue, 14 Nov 2023 10:00:00 +0000\r\n\
    Message-ID: <send-1@phone>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFirst line.\r\n.\r\nA dot line above.\r\n";

#[test]
fn sendmail_to_remote_reaches_the_smarthost_and_leaves_a_sent_copy() {
    let sink = Sink::start();
    let server = server_with(&sink, "");
    let mut phone = server.device(USER, "send-remote");

    let options = run(phone.options()).unwrap();
    let commands = options.header("MS-ASProtocolCommands").unwrap().to_string();
    for c in ["SendMail", "SmartReply", "SmartForward"] {
        assert!(commands.split(',').any(|x| x == c), "{commands}");
    }

    let r = run(phone.compose(&send_mail("c-remote-1", REMOTE_MAIL.as_bytes(), true))).unwrap();
    assert_eq!(r.status, None, "success is the empty answer");
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].from, USER,
        "envelope sender is the authenticated user"
    );
    assert_eq!(got[0].rcpts, ["hidden@example.net", "remote@example.net"]);
    let without_bcc = REMOTE_MAIL.replacen("Bcc: Hidden <hidden@example.net>\r\n", "", 1);
    assert_eq!(
        String::from_utf8(got[0].data.clone()).unwrap(),
        without_bcc,
        "the message arrives byte for byte, minus Bcc"
    );

    // The Sent copy keeps Bcc for its owner, and is read.
    let sent = files(&sent_dir(&server, USER));
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, REMOTE_MAIL.as_bytes());
    assert!(sent[0].0.ends_with(":2,S"), "{}", sent[0].0);
}

#[test]
fn sendmail_to_a_local_user_lands_in_the_inbox_and_wakes_ping() {
    let sink = Sink::start();
    let server = server_with(&sink, "");
    let mut bob = server.device(BOB, "bob-phone");
    let (inbox, _, _) = synced_inbox(&mut bob);
    let ping = std::thread::spawn(move || {
        run(bob.ping(&PingRequest {
            heartbeat: Some(300),
            folders: Some(vec![PingFolder {
                id: inbox.as_str().try_into().unwrap(),
                class: "Email".try_into().unwrap(),
            }]),
        }))
        .unwrap()
    });
    // Ping finds the change whether it is already held or comes in after the delivery.
    std::thread::sleep(Duration::from_millis(500));
    let mail = "From: alice@example.com\r\nTo: Bob <bob@example.com>\r\nSubject: Lunch?\r\n\r\nAt noon.\r\n";
    let mut alice = server.device(USER, "alice-phone");
    let r = run(alice.compose(&send_mail("local-1", mail.as_bytes(), false))).unwrap();
    assert_eq!(r.status, None);
    let woke = ping.join().unwrap();
    assert_eq!(woke.status, PingStatus::Changes);

    let inbox_files = files(&server.maildir(BOB));
    assert_eq!(inbox_files.len(), 1);
    let text = String::from_utf8(inbox_files[0].1.clone()).unwrap();
    assert!(text.ends_with(mail), "{text}");
    let id = header(&text, "Message-ID").unwrap();
    assert!(
        id.starts_with('<') && id.ends_with("@mail.example.com>"),
        "{id}"
    );
    assert!(header(&text, "Date").is_some());
    assert!(
        sink.received().is_empty(),
        "a local recipient is not sent out"
    );
    assert!(
        files(&sent_dir(&server, USER)).is_empty(),
        "no Sent copy unless asked"
    );
}

/// An INBOX message for alice from a remote sender, with an attachment.
const ORIGINAL: &str = "From: Carol <carol@example.net>\r\nTo: Alice <alice@example.com>\r\n\
    Subject: Report\r\nDate: Mon, 13 Nov 2023 09:00:00 +0000\r\nMessage-ID: <report-7@example.net>\r\n\
    References: <thread-1@example.net>\r\nMIME-Version: 1.0\r\n\
    Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\r\nHere is the report.\r\nNumbers inside.\r\n--outer\r\n\
    Content-Type: application/octet-stream; name=\"data.bin\"\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\n\
    Content-Transfer-Encoding: base64\r\n\r\nAAECA/8Q7u7/AIA=\r\n--outer--\r\n";

const ATTACHMENT: &[u8] = &[0, 1, 2, 3, 0xff, 0x10, 0xee, 0xee, 0xff, 0, 0x80];

fn put_original(server: &Server) {
    let dir = server.maildir(USER).join("cur");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("1700000001.M1P1.test,S=600:2,S"), ORIGINAL).unwrap();
}

/// The one item of the Inbox Change that follows, and its ApplicationData.
fn next_change(phone: &mut Device, inbox: &CollectionId, key: SyncKey) -> easd::wbxml::Element {
    let r = run(phone.sync(&sync_req(inbox, key, 100)))
        .unwrap()
        .expect("a change");
    r.collections[0]
        .commands
        .iter()
        .find_map(|c| match c {
            ServerCommand::Change { data, .. } => Some(data.clone()),
            _ => None,
        })
        .expect("a Change")
}

#[test]
fn smart_reply_threads_quotes_and_marks_the_original() {
    let sink = Sink::start();
    let server = server_with(&sink, "");
    put_original(&server);
    let mut phone = server.device(USER, "reply-phone");
    let (inbox, key, ids) = synced_inbox(&mut phone);
    assert_eq!(ids.len(), 1);
    let reply = "From: alice@example.com\r\nTo: Carol <carol@example.net>\r\nSubject: Re: Report\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\nThanks, looks good.\r\n";
    let r = run(phone.compose(&smart(
        ComposeCommand::SmartReply,
        "r-1",
        &inbox,
        &ids[0].0,
        reply.as_bytes(),
    )))
    .unwrap();
    assert_eq!(r.status, None);

    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts, ["carol@example.net"]);
    let text = String::from_utf8(got[0].data.clone()).unwrap();
    assert!(
        text.contains(
            "\r\nFrom: alice@example.com\r\nTo: Carol <carol@example.net>\r\nSubject: Re: Report\r\n"
        ),
        "the client's fields are kept: {text}"
    );
    assert_eq!(header(&text, "In-Reply-To"), Some("<report-7@example.net>"));
    assert_eq!(
        header(&text, "References"),
        Some("<thread-1@example.net> <report-7@example.net>")
    );
    let parsed = mail_parser::MessageParser::new()
        .parse(&got[0].data)
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    assert!(body.starts_with("Thanks, looks good."), "{body}");
    assert!(body.contains("Carol <carol@example.net> wrote:"), "{body}");
    assert!(
        body.contains("> Here is the report.\r\n> Numbers inside."),
        "{body}"
    );
    assert!(
        attachment(&got[0].data, 0).is_none(),
        "a reply leaves the attachment out"
    );

    let inbox_files = files(&server.maildir(USER));
    assert!(inbox_files[0].0.ends_with(":2,RS"), "{}", inbox_files[0].0);
    let change = next_change(&mut phone, &inbox, key);
    assert_eq!(change.child_text(email2::LAST_VERB_EXECUTED), Some("1"));
    let at = change
        .child_text(email2::LAST_VERB_EXECUTION_TIME)
        .expect("the time of the reply");
    assert!(at.starts_with("20") && at.ends_with('Z'), "{at}");
}

#[test]
fn smart_reply_to_all_is_reported_as_reply_to_all() {
    let sink = Sink::start();
    let server = server_with(&sink, "");
    let dir = server.maildir(USER).join("cur");
    std::fs::create_dir_all(&dir).unwrap();
    let original = "From: Carol <carol@example.net>\r\nTo: Alice <alice@example.com>\r\n\
        Cc: Frank <frank@example.org>\r\nSubject: Team\r\nMessage-ID: <team-1@example.net>\r\n\r\nAll hands.\r\n";
    std::fs::write(dir.join("1700000002.M2P2.test,S=150:2,S"), original).unwrap();
    let mut phone = server.device(USER, "all-phone");
    let (inbox, key, ids) = synced_inbox(&mut phone);
    // Forwarded first, then answered to all: the later verb is the one shown.
    let fwd =
        "From: alice@example.com\r\nTo: dave@example.net\r\nSubject: Fwd: Team\r\n\r\nFYI\r\n";
    let r = run(phone.compose(&smart(
        ComposeCommand::SmartForward,
        "all-0",
        &inbox,
        &ids[0].0,
        fwd.as_bytes(),
    )))
    .unwrap();
    assert_eq!(r.status, None);
    let r = run(phone.sync(&sync_req(&inbox, key, 100)))
        .unwrap()
        .expect("the flag change");
    let key = r.collections[0].sync_key.unwrap();
    let forwarded = r.collections[0].commands.iter().find_map(|c| match c {
        ServerCommand::Change { data, .. } => data.child_text(email2::LAST_VERB_EXECUTED),
        _ => None,
    });
    assert_eq!(forwarded, Some("3"));
    let reply = "From: alice@example.com\r\nTo: Carol <carol@example.net>\r\n\
        Cc: Frank <frank@example.org>\r\nSubject: Re: Team\r\n\r\nCount me in.\r\n";
    let r = run(phone.compose(&smart(
        ComposeCommand::SmartReply,
        "all-1",
        &inbox,
        &ids[0].0,
        reply.as_bytes(),
    )))
    .unwrap();
    assert_eq!(r.status, None);
    let got = sink.wait_for(2, Duration::from_secs(10));
    let mut rcpts = got[1].rcpts.clone();
    rcpts.sort();
    assert_eq!(rcpts, ["carol@example.net", "frank@example.org"]);
    assert!(files(&server.maildir(USER))[0].0.ends_with(":2,PRS"));
    let change = next_change(&mut phone, &inbox, key);
    assert_eq!(change.child_text(email2::LAST_VERB_EXECUTED), Some("2"));
    assert!(
        change
            .child_text(email2::LAST_VERB_EXECUTION_TIME)
            .is_some()
    );
    let mut other = server.device(USER, "all-phone-2");
    let (_, _, items) = synced_inbox(&mut other);
    assert_eq!(items[0].1.child_text(email2::LAST_VERB_EXECUTED), Some("2"));
}

#[test]
fn smart_forward_carries_the_attachments_byte_for_byte() {
    let sink = Sink::start();
    let server = server_with(&sink, "");
    put_original(&server);
    let mut phone = server.device(USER, "fwd-phone");
    let (inbox, key, ids) = synced_inbox(&mut phone);
    let fwd = "From: alice@example.com\r\nTo: dave@example.net\r\nSubject: Fwd: Report\r\n\r\nSee below.\r\n";
    let mut req = smart(
        ComposeCommand::SmartForward,
        "f-1",
        &inbox,
        &ids[0].0,
        fwd.as_bytes(),
    );
    req.save_in_sent_items = true;
    let r = run(phone.compose(&req)).unwrap();
    assert_eq!(r.status, None);

    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    let a = attachment(&got[0].data, 0).expect("the forwarded attachment");
    assert_eq!(a.name, "data.bin");
    assert_eq!(a.data, ATTACHMENT);
    let parsed = mail_parser::MessageParser::new()
        .parse(&got[0].data)
        .unwrap();
    let body = parsed.body_text(0).unwrap();
    assert!(body.starts_with("See below."), "{body}");
    assert!(body.contains("Here is the report."), "{body}");
    assert_eq!(
        header(std::str::from_utf8(&got[0].data).unwrap(), "In-Reply-To"),
        None
    );
    let sent = files(&sent_dir(&server, USER));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, got[0].data, "the Sent copy is what went out");

    assert!(files(&server.maildir(USER))[0].0.ends_with(":2,PS"));
    let change = next_change(&mut phone, &inbox, key);
    assert_eq!(change.child_text(email2::LAST_VERB_EXECUTED), Some("3"));
    // A phone that syncs the message afresh sees the verb and its time too.
    let mut other = server.device(USER, "fwd-phone-2");
    let (_, _, items) = synced_inbox(&mut other);
    let data = &items[0].1;
    assert_eq!(data.child_text(email2::LAST_VERB_EXECUTED), Some("3"));
    assert!(data.child_text(email2::LAST_VERB_EXECUTION_TIME).is_some());

    // With ReplaceMime the client's message goes out as it is.
    let whole = "From: alice@example.com\r\nTo: erin@example.net\r\nSubject: Fwd: Report\r\n\r\nAll mine.\r\n";
    let mut req = smart(
        ComposeCommand::SmartForward,
        "f-2",
        &inbox,
        &ids[0].0,
        whole.as_bytes(),
    );
    req.replace_mime = true;
    assert_eq!(run(phone.compose(&req)).unwrap().status, None);
    let got = sink.wait_for(2, Duration::from_secs(10));
    let text = String::from_utf8(got[1].data.clone()).unwrap();
    assert!(text.ends_with(whole), "{text}");
    assert!(attachment(&got[1].data, 0).is_none());

    // A source that does not exist.
    let gone = ServerId::item(ids[0].0.numbers().unwrap().0, 999);
    let r = run(phone.compose(&smart(
        ComposeCommand::SmartForward,
        "f-3",
        &inbox,
        &gone,
        fwd.as_bytes(),
    )))
    .unwrap();
    assert_eq!(r.status, Some(ComposeStatus::ItemNotFound));

    // 16.x InstanceId: not a DateTime is 104.
    phone.version = ProtocolVersion::V16_1;
    let mut req = smart(
        ComposeCommand::SmartForward,
        "f-4",
        &inbox,
        &ids[0].0,
        fwd.as_bytes(),
    );
    req.source.as_mut().unwrap().instance_id = Some("tomorrow".into());
    assert_eq!(
        run(phone.compose(&req)).unwrap().status,
        Some(ComposeStatus::InvalidDateTime)
    );
    assert_eq!(
        sink.received().len(),
        2,
        "nothing went out for the refused requests"
    );
}

#[test]
fn refused_recipient_and_repeated_client_id_get_their_statuses() {
    let sink = Sink::start();
    let server = server_with(&sink, "max_message_bytes = 4000");
    let mut phone = server.device(USER, "status-phone");

    let refused = "From: alice@example.com\r\nTo: reject-me@example.net\r\nSubject: x\r\n\r\nx\r\n";
    let req = send_mail("s-1", refused.as_bytes(), true);
    let reply = run(phone.command(Command::SendMail, Some(&req.encode()))).unwrap();
    assert_eq!(reply.status, 200);
    let xml = common::wbxml2xml(&reply.body);
    assert!(
        xml.contains("<SendMail xmlns=\"ComposeMail:\"><Status>120</Status></SendMail>"),
        "{xml}"
    );
    assert!(
        files(&sent_dir(&server, USER)).is_empty(),
        "no Sent copy of a refused message"
    );
    assert!(sink.received().is_empty());

    let ok = "From: alice@example.com\r\nTo: friend@example.net\r\nSubject: once\r\n\r\nonce\r\n";
    assert_eq!(
        run(phone.compose(&send_mail("s-2", ok.as_bytes(), false)))
            .unwrap()
            .status,
        None
    );
    let req = send_mail("s-2", ok.as_bytes(), false);
    let reply = run(phone.command(Command::SendMail, Some(&req.encode()))).unwrap();
    let xml = common::wbxml2xml(&reply.body);
    assert!(xml.contains("<Status>118</Status>"), "{xml}");
    // The ClientId is the device's: another phone may use the same one.
    let mut other = server.device(USER, "status-phone-2");
    assert_eq!(
        run(other.compose(&send_mail("s-2", ok.as_bytes(), false)))
            .unwrap()
            .status,
        None
    );
    let got = sink.wait_for(2, Duration::from_secs(10));
    assert_eq!(got.len(), 2, "the repeated ClientId was not sent again");

    let big = format!(
        "From: alice@example.com\r\nTo: friend@example.net\r\nSubject: big\r\n\r\n{}\r\n",
        "x".repeat(5000)
    );
    let r = run(phone.compose(&send_mail("s-3", big.as_bytes(), false))).unwrap();
    assert_eq!(r.status, Some(ComposeStatus::AttachmentIsTooLarge));
    let none = "From: alice@example.com\r\nSubject: nobody\r\n\r\nx\r\n";
    let r = run(phone.compose(&send_mail("s-4", none.as_bytes(), false))).unwrap();
    assert_eq!(r.status, Some(ComposeStatus::MessageHasNoRecipient));
    let r = run(phone.compose(&send_mail("s-5", b"no header at all", false))).unwrap();
    assert_eq!(r.status, Some(ComposeStatus::InvalidMime));
    let mut req = send_mail("s-6", ok.as_bytes(), false);
    req.account_id = Some("someone-else@example.com".into());
    assert_eq!(
        run(phone.compose(&req)).unwrap().status,
        Some(ComposeStatus::InvalidAccountId)
    );
    assert_eq!(sink.received().len(), 2);

    // The same ClientId twice at once from one phone (a retry racing the original): one goes out.
    let racing: Vec<_> = (0..2)
        .map(|_| {
            let mut dev = server.device(USER, "status-phone");
            std::thread::spawn(move || {
                let mail =
                    "From: alice@example.com\r\nTo: race@example.net\r\nSubject: race\r\n\r\nx\r\n";
                run(dev.compose(&send_mail("race-1", mail.as_bytes(), false)))
                    .unwrap()
                    .status
            })
        })
        .collect();
    let mut statuses: Vec<_> = racing.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort_by_key(|s| s.map(|s| s as u16));
    assert_eq!(statuses, [None, Some(ComposeStatus::MessagePreviouslySent)]);
    assert_eq!(sink.wait_for(3, Duration::from_secs(10)).len(), 3);

    // Refused while another recipient was taken: sent, and the sender learns of the refusal.
    let partly = "From: alice@example.com\r\nTo: taker@example.net, reject-one@example.net\r\nSubject: partly\r\n\r\nx\r\n";
    let r = run(phone.compose(&send_mail("s-7", partly.as_bytes(), false))).unwrap();
    assert_eq!(r.status, None);
    let got = sink.wait_for(4, Duration::from_secs(10));
    assert_eq!(got[3].rcpts, ["taker@example.net"]);
    let bounces = files(&server.maildir(USER));
    assert_eq!(bounces.len(), 1, "one bounce in the sender's INBOX");
    let bounce = String::from_utf8_lossy(&bounces[0].1);
    assert!(bounce.contains("reject-one@example.net"), "{bounce}");
    assert!(bounce.contains("multipart/report"), "{bounce}");
    assert!(!bounce.contains("Final-Recipient: rfc822; taker@example.net"));
}

#[test]
fn version_12_1_sends_raw_mime_with_query_parameters() {
    let sink = Sink::start();
    let server = server_with(&sink, "");
    put_original(&server);
    let mut phone = server.device(USER, "old-phone");
    phone.version = ProtocolVersion::V12_1;
    let (inbox, _, ids) = synced_inbox(&mut phone);

    let mail = "From: alice@example.com\r\nTo: old@example.net\r\nSubject: v12\r\n\r\nraw form\r\n";
    let mut req = send_mail("", mail.as_bytes(), true);
    req.client_id = None;
    assert_eq!(run(phone.compose_mime(&req)).unwrap(), 200);
    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert!(
        String::from_utf8(got[0].data.clone())
            .unwrap()
            .ends_with(mail)
    );
    assert_eq!(files(&sent_dir(&server, USER)).len(), 1, "SaveInSent=T");

    let reply = "From: alice@example.com\r\nTo: carol@example.net\r\nSubject: Re: Report\r\n\r\nOld phone reply.\r\n";
    let mut req = smart(
        ComposeCommand::SmartReply,
        "",
        &inbox,
        &ids[0].0,
        reply.as_bytes(),
    );
    req.client_id = None;
    assert_eq!(run(phone.compose_mime(&req)).unwrap(), 200);
    let got = sink.wait_for(2, Duration::from_secs(10));
    let text = String::from_utf8(got[1].data.clone()).unwrap();
    assert_eq!(header(&text, "In-Reply-To"), Some("<report-7@example.net>"));
    assert!(text.contains("> Here is the report."), "{text}");

    let refused =
        "From: alice@example.com\r\nTo: reject-old@example.net\r\nSubject: no\r\n\r\nno\r\n";
    let mut req = send_mail("", refused.as_bytes(), false);
    req.client_id = None;
    assert_eq!(run(phone.compose_mime(&req)).unwrap(), 500);
}

#[test]
fn a_queued_message_survives_a_restart_and_is_delivered_once() {
    let sink = Sink::start();
    let mut server = server_with(&sink, "retry_secs = [1]");
    let mut phone = server.device(USER, "queue-phone");
    let mail = "From: alice@example.com\r\nTo: tempfail-later@example.net\r\nSubject: later\r\n\r\nwill arrive\r\n";
    let r = run(phone.compose(&send_mail("q-1", mail.as_bytes(), false))).unwrap();
    assert_eq!(
        r.status, None,
        "a deferred message is a success for the device"
    );
    assert!(sink.received().is_empty());

    server.restart();
    sink.accept_tempfail();
    let got = sink.wait_for(1, Duration::from_secs(60));
    assert_eq!(got.len(), 1, "the queue delivered after the restart");
    assert!(
        String::from_utf8(got[0].data.clone())
            .unwrap()
            .ends_with(mail)
    );
    assert_eq!(got[0].rcpts, ["tempfail-later@example.net"]);
    // Several retry periods later there is still exactly one copy.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(sink.received().len(), 1);
    // And a repeat of the request after the restart is recognised.
    let mut phone = server.device(USER, "queue-phone");
    let r = run(phone.compose(&send_mail("q-1", mail.as_bytes(), false))).unwrap();
    assert_eq!(r.status, Some(ComposeStatus::MessagePreviouslySent));
}
