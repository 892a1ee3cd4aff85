//! Mailbox search through a real server: Search (Store Mailbox) and Find (MailBoxSearchCriterion)
//! find messages by a word of their body, a subject prefix or a sender, within a folder or all of
//! them, with date bounds, Range and Total, and see messages delivered after the first search;
//! mail a Sync saw is indexed in the background before anyone searches, and so is the mail of
//! every folder at server start and of a folder a FolderSync lists.

mod common;
mod mail_common;

use common::{Server, run};
use easd::eas::Command;
use easd::eas::find::{Criterion, FindRequest, FindResponse, FindResult, FindStatus};
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::options::ItemOptions;
use easd::eas::search::{
    MailboxQuery, Query, SearchRange, SearchRequest, SearchResponse, SearchResult, SearchStatus,
};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::tags::{airsyncbase, email, find as f};
use std::time::Duration;

const USER: &str = "alice@example.com";

fn message(date: &str, from: &str, subject: &str, body: &str, html: bool) -> Vec<u8> {
    let kind = if html { "text/html" } else { "text/plain" };
    format!(
        "From: {from}\r\nTo: {USER}\r\nDate: {date}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@test>\r\nContent-Type: {kind}; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Drops a message into the Maildir by hand (as Dovecot would), received at `ts`.
fn deliver(server: &Server, folder: Option<&str>, ts: u64, msg: Vec<u8>) {
    let mut dir = server.maildir(USER);
    if let Some(f) = folder {
        dir = dir.join(format!(".{f}"));
    }
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(
        dir.join("cur").join(format!("{ts}.M1P1Q{ts}.test:2,S")),
        msg,
    )
    .unwrap();
}

/// Waits for the background indexer's log line saying it indexed one new message of `folder`.
fn assert_indexed(server: &Server, folder: &CollectionId, why: &str) {
    let needle = format!(
        "search index: {USER} folder {}: 1 new messages indexed",
        folder.number().unwrap()
    );
    assert!(
        server.wait_log(&needle, Duration::from_secs(60)).is_some(),
        "{why}"
    );
}

fn mailbox(query: MailboxQuery, range: Option<SearchRange>, deep: bool) -> SearchRequest {
    SearchRequest {
        query: Query::Mailbox(query),
        range,
        deep_traversal: deep,
        rebuild_results: true,
        item_options: ItemOptions {
            body_preferences: vec![BodyPreference {
                truncation_size: Some(200),
                ..BodyPreference::whole(BodyType::PlainText)
            }],
            ..ItemOptions::default()
        },
        picture: None,
    }
}

fn text(words: &str) -> MailboxQuery {
    MailboxQuery {
        class: Some("Email".into()),
        free_text: words.into(),
        ..MailboxQuery::default()
    }
}

fn subjects(resp: &SearchResponse) -> Vec<String> {
    resp.results
        .iter()
        .filter_map(|r| match r {
            SearchResult::Mail(m) => m.properties.child_text(email::SUBJECT).map(str::to_string),
            SearchResult::Gal(_) => None,
        })
        .collect()
}

#[test]
fn search_and_find_in_the_mailbox() {
    let server = Server::start();
    deliver(
        &server,
        None,
        1_704_103_200,
        message(
            "Mon, 1 Jan 2024 10:00:00 +0000",
            "Jean Dupont <jean@example.fr>",
            "Quarterly figures",
            "The zanzibar contract is signed.",
            false,
        ),
    );
    deliver(
        &server,
        None,
        1_704_189_600,
        message(
            "Tue, 2 Jan 2024 10:00:00 +0000",
            "bob@example.com",
            "Lunch",
            "<p>Shall we meet for <b>lunch</b>? Zanzibar place.</p>",
            true,
        ),
    );
    deliver(
        &server,
        Some("Archive"),
        1_704_276_000,
        message(
            "Wed, 3 Jan 2024 10:00:00 +0000",
            "carol@example.org",
            "Old invoice",
            "Invoice 2023 attached, zanzibar again.",
            false,
        ),
    );

    let mut phone = server.device(USER, "ms1");
    let call = |phone: &mut easd::client::Device, req: &SearchRequest| {
        let tree = run(phone.call(Command::Search, &req.encode())).unwrap();
        SearchResponse::parse(&tree).unwrap()
    };

    // A word of a body, in every folder, newest first.
    let resp = call(&mut phone, &mailbox(text("zanzibar"), None, false));
    assert_eq!(
        (resp.status, resp.store_status),
        (SearchStatus::Success, SearchStatus::Success)
    );
    assert_eq!(
        subjects(&resp),
        ["Old invoice", "Lunch", "Quarterly figures"]
    );
    assert_eq!(resp.total, Some(3));
    let SearchResult::Mail(first) = &resp.results[0] else {
        panic!("not a mail result");
    };
    let body = first
        .properties
        .first(airsyncbase::BODY)
        .and_then(|b| b.child_text(airsyncbase::DATA));
    assert!(body.unwrap().contains("Invoice 2023"), "{body:?}");

    // Two words (AND), a word prefix, a sender's name, HTML text.
    assert_eq!(
        subjects(&call(
            &mut phone,
            &mailbox(text("zanzibar contract"), None, false)
        )),
        ["Quarterly figures"]
    );
    assert_eq!(
        subjects(&call(&mut phone, &mailbox(text("quart"), None, false))),
        ["Quarterly figures"]
    );
    assert_eq!(
        subjects(&call(&mut phone, &mailbox(text("dupont"), None, false))),
        ["Quarterly figures"]
    );
    assert_eq!(
        subjects(&call(&mut phone, &mailbox(text("lunch"), None, false))),
        ["Lunch"]
    );
    assert!(subjects(&call(&mut phone, &mailbox(text("nowhere"), None, false))).is_empty());

    // One folder by its CollectionId; a date bound; Range and Total.
    let folders = run(phone.folder_sync(SyncKey::parse("0").unwrap())).unwrap();
    let inbox = folders
        .changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.kind == 2 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let mut q = text("zanzibar");
    q.collection_ids = vec![inbox.clone()];
    assert_eq!(
        subjects(&call(&mut phone, &mailbox(q.clone(), None, false))),
        ["Lunch", "Quarterly figures"]
    );
    q.received_after = Some("2024-01-01T12:00:00.000Z".into());
    assert_eq!(
        subjects(&call(&mut phone, &mailbox(q, None, false))),
        ["Lunch"]
    );
    let resp = call(
        &mut phone,
        &mailbox(
            text("zanzibar"),
            Some(SearchRange { first: 1, last: 1 }),
            false,
        ),
    );
    assert_eq!(
        (subjects(&resp), resp.total),
        (vec!["Lunch".to_string()], Some(3))
    );
    assert_eq!(resp.range, Some(SearchRange { first: 1, last: 1 }));
    let mut unknown = text("zanzibar");
    unknown.collection_ids = vec![CollectionId::parse("999").unwrap()];
    assert_eq!(
        call(&mut phone, &mailbox(unknown, None, false)).store_status,
        SearchStatus::FolderSyncRequired
    );

    // A message delivered after the first search is found by the next one.
    deliver(
        &server,
        None,
        1_704_362_400,
        message(
            "Thu, 4 Jan 2024 10:00:00 +0000",
            "dan@example.com",
            "Late news",
            "Zanzibar once more.",
            false,
        ),
    );
    assert_eq!(
        subjects(&call(&mut phone, &mailbox(text("zanzibar"), None, false)))[0],
        "Late news"
    );

    // Find, 16.1.
    phone.version = easd::ProtocolVersion::V16_1;
    let find = FindRequest {
        search_id: "11111111-2222-4333-8444-555555555555".into(),
        criterion: Criterion::Mailbox {
            query: MailboxQuery {
                class: Some("Email".into()),
                collection_ids: vec![inbox],
                free_text: "contract".into(),
                ..MailboxQuery::default()
            },
            deep_traversal: false,
        },
        range: SearchRange { first: 0, last: 9 },
    };
    let tree = run(phone.call(Command::Find, &find.encode())).unwrap();
    let resp = FindResponse::parse(&tree).unwrap();
    assert_eq!(
        (resp.status, resp.response_status),
        (FindStatus::Success, FindStatus::Success)
    );
    assert_eq!((resp.store.as_str(), resp.total), ("Mailbox", Some(1)));
    let [FindResult::Mail { properties, .. }] = resp.results.as_slice() else {
        panic!("{resp:?}");
    };
    assert_eq!(
        properties.child_text(email::SUBJECT),
        Some("Quarterly figures")
    );
    assert!(
        properties
            .child_text(f::PREVIEW)
            .unwrap()
            .contains("zanzibar contract")
    );
    assert_eq!(properties.child_text(f::HAS_ATTACHMENTS), Some("0"));
}

/// A Sync that sees new mail has the server's background thread index it, so the search that
/// follows reads no message. Shown by rewriting the message's file after the thread read it (a
/// Maildir message never changes content, so nothing notices): the search answers from the
/// words the thread indexed, not from the file as it is now.
#[test]
fn mail_a_sync_saw_is_indexed_in_the_background() {
    let server = Server::start();
    let (ts, name) = (1_704_103_200, "1704103200.M1P1Q1704103200.test:2,S");
    let aquarium = |body: &str| {
        message(
            "Mon, 1 Jan 2024 10:00:00 +0000",
            "bob@example.com",
            "Aquarium",
            body,
            false,
        )
    };
    deliver(&server, None, ts, aquarium("The zebrafish arrived."));
    let mut phone = server.device(USER, "ms2");
    let inbox = run(async {
        let (inbox, _) = mail_common::inbox_id(&mut phone).await;
        mail_common::prime(&mut phone, &inbox).await;
        inbox
    });
    assert_indexed(&server, &inbox, "no background catch-up logged");
    std::fs::write(
        server.maildir(USER).join("cur").join(name),
        aquarium("The goldfish arrived."),
    )
    .unwrap();
    let call = |phone: &mut easd::client::Device, words: &str| {
        let tree = run(phone.call(Command::Search, &mailbox(text(words), None, false).encode()));
        subjects(&SearchResponse::parse(&tree.unwrap()).unwrap())
    };
    assert_eq!(call(&mut phone, "zebrafish"), ["Aquarium"]);
    assert!(call(&mut phone, "goldfish").is_empty());

    // More mail after that: the next Sync's refresh queues the folder again.
    deliver(
        &server,
        None,
        ts + 60,
        message(
            "Mon, 1 Jan 2024 10:01:00 +0000",
            "carol@example.org",
            "Pond",
            "Koi and zebrafish.",
            false,
        ),
    );
    run(mail_common::prime(&mut phone, &inbox));
    assert_indexed(&server, &inbox, "no second background catch-up");
    assert_eq!(call(&mut phone, "zebrafish"), ["Pond", "Aquarium"]);
}

/// The server indexes every user's mail folders when it starts, a folder that appears later when
/// a FolderSync lists it, and the Inbox after `easd deliver`, before any Sync or Search touched
/// them. Shown as above: a message
/// rewritten after the thread read it is found by its old words.
#[test]
fn folders_are_indexed_at_server_start_and_at_folder_sync() {
    // This first run finds no mailbox, so it looks over none; the mail comes after.
    let mut server = Server::start();
    deliver(
        &server,
        None,
        1_704_103_200,
        message(
            "Mon, 1 Jan 2024 10:00:00 +0000",
            "bob@example.com",
            "Aquarium",
            "The zebrafish arrived.",
            false,
        ),
    );
    deliver(
        &server,
        Some("Archive"),
        1_704_103_260,
        message(
            "Mon, 1 Jan 2024 10:01:00 +0000",
            "carol@example.org",
            "Receipt",
            "Invoice for the zebrafish.",
            false,
        ),
    );
    server.restart();
    for _ in 0..2 {
        assert!(
            server
                .wait_log("1 new messages indexed", Duration::from_secs(60))
                .is_some(),
            "both folders are indexed at start"
        );
    }
    for (folder, name, subject) in [
        (None, "1704103200.M1P1Q1704103200.test:2,S", "Aquarium"),
        (
            Some("Archive"),
            "1704103260.M1P1Q1704103260.test:2,S",
            "Receipt",
        ),
    ] {
        let mut dir = server.maildir(USER);
        if let Some(f) = folder {
            dir = dir.join(format!(".{f}"));
        }
        std::fs::write(
            dir.join("cur").join(name),
            message(
                "Mon, 1 Jan 2024 10:00:00 +0000",
                "bob@example.com",
                subject,
                "The goldfish arrived.",
                false,
            ),
        )
        .unwrap();
    }
    let mut phone = server.device(USER, "ms3");
    let call = |phone: &mut easd::client::Device, words: &str| {
        let tree = run(phone.call(Command::Search, &mailbox(text(words), None, false).encode()));
        subjects(&SearchResponse::parse(&tree.unwrap()).unwrap())
    };
    run(mail_common::inbox_id(&mut phone));
    assert_eq!(call(&mut phone, "zebrafish"), ["Receipt", "Aquarium"]);
    assert!(call(&mut phone, "goldfish").is_empty());

    // A folder made after the start: the FolderSync that lists it has it indexed.
    deliver(
        &server,
        Some("Later"),
        1_704_103_320,
        message(
            "Mon, 1 Jan 2024 10:02:00 +0000",
            "dave@example.net",
            "Heron",
            "A heron ate the zebrafish.",
            false,
        ),
    );
    let listed = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    let later = listed
        .changes
        .iter()
        .find_map(|c| match c {
            FolderChange::Add(e) if e.display_name == "Later" => Some(e.server_id.clone()),
            _ => None,
        })
        .expect("the new folder is listed");
    assert_indexed(
        &server,
        &later,
        "the new folder is indexed after the FolderSync",
    );
    assert_eq!(
        call(&mut phone, "zebrafish"),
        ["Heron", "Receipt", "Aquarium"]
    );

    // A delivery through `easd deliver` has its folder indexed too.
    let (inbox, _) = run(mail_common::inbox_id(&mut phone));
    let (ok, _, err) = server.cli(
        &["deliver", USER],
        Some(&message(
            "Mon, 1 Jan 2024 10:03:00 +0000",
            "erin@example.org",
            "Otter",
            "An otter.",
            false,
        )),
    );
    assert!(ok, "{err}");
    assert_indexed(&server, &inbox, "the delivery is indexed");
}
