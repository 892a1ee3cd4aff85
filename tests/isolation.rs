//! Isolation between users: alice, authenticated as herself, holds every id bob's phone was given
//! (CollectionIds, ServerIds, FileReferences) and tries each route the server has to reach bob's
//! mail with them, plus path tricks in every id. Ids are numbered per user, so bob's data sits at
//! ids alice does not have (more folders, more items) and each route must answer with its "not
//! found" status; where an id does exist for both (Inbox "1"), alice gets her own data. Either way
//! nothing of bob's is in the answer and his Maildir is untouched. (Search's LongId and Ping's
//! folders are not on main yet.)

mod common;
mod mail_common;

use common::{Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::Command;
use easd::eas::getitemestimate::{
    EstimateCollection, EstimateStatus, GetItemEstimateRequest, GetItemEstimateResponse,
};
use easd::eas::ids::{CollectionId, ServerId, SyncKey};
use easd::eas::itemoperations::{
    FetchTarget, ItemOperationsRequest, ItemOperationsResponse, ItemOpsStatus, Operation,
    OperationResponse,
};
use easd::eas::moveitems::{Move, MoveItemsRequest, MoveItemsResponse, MoveStatus};
use easd::eas::options::ItemOptions;
use easd::eas::sync::{ClientCommand, ClientResponse, CollectionRequest, SyncRequest, SyncStatus};
use easd::wbxml::tags::{airsyncbase, email};
use mail_common::*;
use std::collections::BTreeMap;
use std::path::Path;

const BOB: &str = "bob@example.com";
const SECRET: &str = "BobSecret";

/// What bob's phone learned, and the state of his Maildir to compare against.
struct World {
    server: Server,
    bob_key: SyncKey,
    bob_folder: CollectionId,
    bob_item: ServerId,
    bob_file_ref: String,
    alice: Device,
    alice_inbox: CollectionId,
    alice_trash: CollectionId,
    alice_item: ServerId,
    alice_key: SyncKey,
    bob_before: BTreeMap<String, Vec<u8>>,
}

/// Every file under `root` with its bytes, by relative path.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().contains("/tmp/") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn secret_message() -> String {
    "From: Carol <carol@example.org>\r\nTo: bob@example.com\r\nSubject: BobSecret\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nBobSecret body.\r\n--XX\r\nContent-Type: application/octet-stream; name=\"secret.bin\"\r\nContent-Disposition: attachment; filename=\"secret.bin\"\r\n\r\nBobSecretAttachment\r\n--XX--\r\n".to_string()
}

fn setup() -> World {
    let server = Server::start();
    let bob_root = server.maildir(BOB);
    make_maildir(&bob_root);
    put_message(&bob_root, "", 1, "BobPrivate", "S");
    // Enough folders that Bob's Private gets an id beyond all of Alice's (mail and PIM).
    for (i, folder) in [
        ".A", ".B", ".C", ".D", ".E", ".F", ".G", ".H", ".I", ".Private",
    ]
    .iter()
    .enumerate()
    {
        put_message(&bob_root, folder, 10 + i as u32, "BobPrivate", "S");
    }
    for i in 0..5 {
        put_message(&bob_root, ".Private", 20 + i, "BobPrivate", "S");
    }
    std::fs::write(
        bob_root.join(".Private/cur/1800000000.secret.host:2,S"),
        secret_message(),
    )
    .unwrap();
    let alice_root = server.maildir(USER);
    make_maildir(&alice_root);
    put_message(&alice_root, "", 1, "AliceOwn", "S");

    let mut bob = server.device(BOB, "bobphone");
    let (bob_inbox, folders) = run(inbox_id(&mut bob));
    let bob_folder = folders
        .iter()
        .find_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) if e.display_name == "Private" => {
                Some(e.server_id.clone())
            }
            _ => None,
        })
        .expect("bob's Private folder");
    let key = run(prime(&mut bob, &bob_folder));
    let resp = run(bob.sync(&sync_req(&bob_folder, key, 50)))
        .unwrap()
        .unwrap();
    let bob_key = resp.collections[0].sync_key.unwrap();
    let (bob_item, data) = adds(&resp)
        .into_iter()
        .find(|(_, d)| d.child_text(email::SUBJECT) == Some(SECRET))
        .unwrap();
    let bob_file_ref = data
        .first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .and_then(|a| a.child_text(airsyncbase::FILE_REFERENCE))
        .unwrap()
        .to_string();

    let mut alice = server.device(USER, "alicephone");
    let (alice_inbox, folders) = run(inbox_id(&mut alice));
    let alice_trash = folders
        .iter()
        .find_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) if e.kind == 4 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let key = run(prime(&mut alice, &alice_inbox));
    let resp = run(alice.sync(&sync_req(&alice_inbox, key, 10)))
        .unwrap()
        .unwrap();
    let alice_key = resp.collections[0].sync_key.unwrap();
    let (alice_item, _) = adds(&resp).pop().unwrap();
    // Bob's ids below exist only in his numbering.
    let alice_ids: Vec<&CollectionId> = folders
        .iter()
        .filter_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) => Some(&e.server_id),
            _ => None,
        })
        .collect();
    assert!(!alice_ids.contains(&&bob_folder), "{bob_folder:?}");
    assert_eq!(bob_inbox, alice_inbox, "the Inbox is 1 for everyone");
    assert_ne!(bob_item, alice_item);
    let bob_before = snapshot(&bob_root);
    World {
        server,
        bob_key,
        bob_folder,
        bob_item,
        bob_file_ref,
        alice,
        alice_inbox,
        alice_trash,
        alice_item,
        alice_key,
        bob_before,
    }
}

impl World {
    /// Bob's files are exactly as they were, and nothing of his reached alice's answer.
    fn bob_untouched(&self, answer: &str) {
        assert!(!answer.contains(SECRET), "bob's data leaked: {answer}");
        assert!(
            !answer.contains("BobPrivate"),
            "bob's data leaked: {answer}"
        );
        assert_eq!(snapshot(&self.server.maildir(BOB)), self.bob_before);
    }

    fn item_ops(&mut self, op: Operation) -> ItemOperationsResponse {
        run(self.alice.call_typed(
            Command::ItemOperations,
            &ItemOperationsRequest {
                operations: vec![op],
            }
            .encode(),
            ItemOperationsResponse::parse,
        ))
        .unwrap()
    }

    fn fetch_status(&mut self, target: FetchTarget) -> ItemOpsStatus {
        let r = self.item_ops(Operation::Fetch {
            target,
            options: ItemOptions::default(),
            range: None,
        });
        self.bob_untouched(&format!("{r:?}"));
        match &r.responses[..] {
            [OperationResponse::Fetch { status, .. }] => *status,
            other => panic!("{other:?}"),
        }
    }

    fn sync_command(&mut self, coll: &CollectionId, cmd: ClientCommand) -> (SyncStatus, String) {
        let mut req = sync_req(coll, self.alice_key, 10);
        req.collections[0].get_changes = Some(false);
        req.collections[0].commands = vec![cmd];
        let resp = run(self.alice.sync(&req)).unwrap().unwrap();
        let text = format!("{resp:?}");
        self.bob_untouched(&text);
        let c = &resp.collections[0];
        if let Some(k) = c.sync_key
            && c.status == SyncStatus::Success
        {
            self.alice_key = k;
        }
        let status = match c.responses.first() {
            Some(
                ClientResponse::Change { status, .. }
                | ClientResponse::Delete { status, .. }
                | ClientResponse::Fetch { status, .. }
                | ClientResponse::Add { status, .. },
            ) => *status,
            None => c.status,
        };
        (status, text)
    }
}

#[test]
fn collection_ids_of_another_user_are_not_found() {
    let mut w = setup();
    {
        let coll = w.bob_folder.clone();
        // Sync: priming and a later key both fail.
        let mut c = CollectionRequest::new(coll.clone(), SyncKey::Initial);
        c.options = Some(plain_options());
        let resp = run(w.alice.sync(&SyncRequest {
            collections: vec![c],
            ..SyncRequest::default()
        }))
        .unwrap()
        .unwrap();
        w.bob_untouched(&format!("{resp:?}"));
        let status = resp.collections[0].status;
        assert!(
            matches!(
                status,
                SyncStatus::ObjectNotFound | SyncStatus::HierarchyChanged
            ),
            "{status:?}"
        );
        let resp = run(w.alice.sync(&sync_req(&coll, w.alice_key, 10)))
            .unwrap()
            .unwrap();
        w.bob_untouched(&format!("{resp:?}"));
        assert_ne!(resp.collections[0].status, SyncStatus::Success);

        // GetItemEstimate.
        let est = run(w.alice.call_typed(
            Command::GetItemEstimate,
            &GetItemEstimateRequest {
                collections: vec![EstimateCollection {
                    sync_key: w.alice_key,
                    collection_id: coll.clone(),
                    options: None,
                }],
            }
            .encode(),
            GetItemEstimateResponse::parse,
        ))
        .unwrap();
        assert_eq!(est.responses[0].status, EstimateStatus::InvalidCollection);

        // ItemOperations EmptyFolderContents must not empty bob's folder.
        let r = w.item_ops(Operation::EmptyFolderContents {
            collection_id: coll.clone(),
            delete_subfolders: true,
        });
        match &r.responses[..] {
            [OperationResponse::EmptyFolderContents { status, .. }] => {
                assert_ne!(*status, ItemOpsStatus::Success)
            }
            other => panic!("{other:?}"),
        }
        w.bob_untouched(&format!("{r:?}"));
    }
}

#[test]
fn the_same_collection_number_is_each_users_own() {
    let mut w = setup();
    let mut bob = w.server.device(BOB, "bobphone2");
    let (inbox, _) = run(inbox_id(&mut bob));
    assert_eq!(inbox, w.alice_inbox);
    let key = run(prime(&mut w.alice, &inbox));
    let resp = run(w.alice.sync(&sync_req(&inbox, key, 50)))
        .unwrap()
        .unwrap();
    w.bob_untouched(&format!("{resp:?}"));
    let subjects: Vec<String> = adds(&resp)
        .iter()
        .filter_map(|(_, d)| d.child_text(email::SUBJECT).map(str::to_string))
        .collect();
    assert_eq!(subjects, ["AliceOwn"]);
}

#[test]
fn server_ids_of_another_user_are_not_found() {
    let mut w = setup();
    let (bob_item, bob_folder, alice_inbox) = (
        w.bob_item.clone(),
        w.bob_folder.clone(),
        w.alice_inbox.clone(),
    );
    // ItemOperations Fetch, in bob's collection and in alice's own.
    for coll in [bob_folder, alice_inbox.clone()] {
        let status = w.fetch_status(FetchTarget::Item {
            collection_id: coll,
            server_id: bob_item.clone(),
        });
        assert_eq!(status, ItemOpsStatus::NotFound);
    }
    // Sync Fetch, Change (mark read/flag) and Delete of bob's item through alice's Inbox.
    let read = easd::wbxml::Element::new(easd::wbxml::tags::airsync::APPLICATION_DATA)
        .with_text(email::READ, "0");
    for cmd in [
        ClientCommand::Fetch {
            server_id: bob_item.clone(),
        },
        ClientCommand::Change {
            server_id: bob_item.clone(),
            data: read,
        },
        ClientCommand::Delete {
            server_id: bob_item.clone(),
        },
    ] {
        let (status, text) = w.sync_command(&alice_inbox, cmd);
        assert_eq!(status, SyncStatus::ObjectNotFound, "{text}");
    }
    // Alice's own item is still hers to fetch: the refusals above are about ownership.
    let own = w.fetch_status(FetchTarget::Item {
        collection_id: alice_inbox,
        server_id: w.alice_item.clone(),
    });
    assert_eq!(own, ItemOpsStatus::Success);
}

#[test]
fn file_references_of_another_user_are_not_found() {
    let mut w = setup();
    let status = w.fetch_status(FetchTarget::Attachment(w.bob_file_ref.clone()));
    assert_eq!(status, ItemOpsStatus::InvalidAttachment);
    // GetAttachment (12.1) with bob's reference in the query.
    w.alice.version = ProtocolVersion::V12_1;
    let mut q = w.alice.query(Command::GetAttachment);
    q.attachment_name = Some(w.bob_file_ref.clone());
    let reply = run(w
        .alice
        .post(&q, "application/vnd.ms-sync.wbxml", Vec::new()))
    .unwrap();
    assert_ne!(reply.status, 200);
    w.bob_untouched(&String::from_utf8_lossy(&reply.body));
}

#[test]
fn moveitems_cannot_take_from_or_put_into_another_users_folders() {
    let mut w = setup();
    let moves = vec![
        // Bob's item, claimed to be in alice's Inbox.
        Move {
            src_msg_id: w.bob_item.clone(),
            src_fld_id: w.alice_inbox.clone(),
            dst_fld_id: w.alice_trash.clone(),
        },
        // Bob's item, from bob's folder.
        Move {
            src_msg_id: w.bob_item.clone(),
            src_fld_id: w.bob_folder.clone(),
            dst_fld_id: w.alice_trash.clone(),
        },
        // Alice's item into bob's folder.
        Move {
            src_msg_id: w.alice_item.clone(),
            src_fld_id: w.alice_inbox.clone(),
            dst_fld_id: w.bob_folder.clone(),
        },
    ];
    let r = run(w.alice.call_typed(
        Command::MoveItems,
        &MoveItemsRequest { moves }.encode(),
        MoveItemsResponse::parse,
    ))
    .unwrap();
    w.bob_untouched(&format!("{r:?}"));
    let statuses: Vec<MoveStatus> = r.responses.iter().map(|m| m.status).collect();
    assert_eq!(
        statuses,
        [
            MoveStatus::InvalidSource,
            MoveStatus::InvalidSource,
            MoveStatus::InvalidDestination
        ]
    );
    assert!(file_with_subject(&w.server.maildir(USER).join("cur"), "AliceOwn").is_some());
}

#[test]
fn the_query_user_and_device_id_do_not_choose_the_account() {
    let mut w = setup();
    // Alice's credentials with bob's name in the query: the credentials decide whose data it is.
    let mut q = w.alice.query(Command::ItemOperations);
    q.user = Some(BOB.into());
    let body = ItemOperationsRequest {
        operations: vec![Operation::Fetch {
            target: FetchTarget::Item {
                collection_id: w.bob_folder.clone(),
                server_id: w.bob_item.clone(),
            },
            options: ItemOptions::default(),
            range: None,
        }],
    }
    .encode();
    let reply = run(w.alice.post(
        &q,
        "application/vnd.ms-sync.wbxml",
        easd::wbxml::encode(&body),
    ))
    .unwrap();
    let text = if reply.is_wbxml() {
        easd::wbxml::to_xml(&reply.tree().unwrap())
    } else {
        String::new()
    };
    w.bob_untouched(&text);
    // Alice using bob's DeviceId and bob's current sync key does not get bob's device state.
    let mut impostor = w.server.device(USER, "bobphone");
    let (_, _) = run(inbox_id(&mut impostor));
    let resp = run(impostor.sync(&sync_req(&w.bob_folder, w.bob_key, 10)))
        .unwrap()
        .unwrap();
    w.bob_untouched(&format!("{resp:?}"));
    assert_ne!(resp.collections[0].status, SyncStatus::Success);
}

#[test]
fn path_tricks_in_ids_are_refused() {
    let mut w = setup();
    let bob_dir = w.server.maildir(BOB);
    let tricks = [
        format!("../{BOB}"),
        format!("../../mail/{BOB}/cur"),
        format!("{}/cur", bob_dir.display()),
        "/etc/passwd".to_string(),
        "..\\..\\bob".to_string(),
        "C:\\Windows".to_string(),
        "1\0".to_string(),
        format!("{}\0", w.bob_folder.as_str()),
        format!("{}:1/../../x", w.alice_inbox.as_str()),
        "%2e%2e%2f".to_string(),
    ];
    let alice_inbox = w.alice_inbox.clone();
    for t in &tricks {
        // As a FileReference.
        let status = w.fetch_status(FetchTarget::Attachment(t.clone()));
        assert_ne!(status, ItemOpsStatus::Success, "{t:?}");
        // As a ServerId and a CollectionId where the type allows it (≤ 64 chars).
        if let Ok(sid) = ServerId::parse(t) {
            let status = w.fetch_status(FetchTarget::Item {
                collection_id: alice_inbox.clone(),
                server_id: sid.clone(),
            });
            assert_ne!(status, ItemOpsStatus::Success, "{t:?}");
            let (status, text) =
                w.sync_command(&alice_inbox, ClientCommand::Delete { server_id: sid });
            assert_ne!(status, SyncStatus::Success, "{t:?}: {text}");
        }
        if let Ok(coll) = CollectionId::parse(t) {
            let resp = run(w.alice.sync(&sync_req(&coll, w.alice_key, 10)))
                .unwrap()
                .unwrap();
            w.bob_untouched(&format!("{resp:?}"));
            assert_ne!(resp.collections[0].status, SyncStatus::Success, "{t:?}");
        }
        // GetAttachment's AttachmentName.
        w.alice.version = ProtocolVersion::V12_1;
        let mut q = w.alice.query(Command::GetAttachment);
        q.attachment_name = Some(t.clone());
        let reply = run(w
            .alice
            .post(&q, "application/vnd.ms-sync.wbxml", Vec::new()))
        .unwrap();
        assert_ne!(reply.status, 200, "{t:?}");
        w.bob_untouched(&String::from_utf8_lossy(&reply.body));
        w.alice.version = ProtocolVersion::V14_1;
    }
    // Overlong UTF-8 ("..", 0xC0 0xAE twice) and a Windows separator as raw WBXML string bytes in
    // a ServerId: the request is refused before any lookup.
    let placeholder = "QQQQQQ";
    let body = easd::wbxml::encode(
        &ItemOperationsRequest {
            operations: vec![Operation::Fetch {
                target: FetchTarget::Attachment(placeholder.into()),
                options: ItemOptions::default(),
                range: None,
            }],
        }
        .encode(),
    );
    let at = body
        .windows(placeholder.len())
        .position(|w| w == placeholder.as_bytes())
        .unwrap();
    let mut hostile = body.clone();
    hostile[at..at + 6].copy_from_slice(&[0xC0, 0xAE, 0xC0, 0xAE, 0x5C, 0x2F]);
    let q = w.alice.query(Command::ItemOperations);
    let reply = run(w.alice.post(&q, "application/vnd.ms-sync.wbxml", hostile)).unwrap();
    let text = if reply.is_wbxml() {
        let tree = reply.tree().unwrap();
        let parsed = ItemOperationsResponse::parse(&tree).unwrap();
        assert!(
            parsed.responses.iter().all(|r| !matches!(
                r,
                OperationResponse::Fetch {
                    status: ItemOpsStatus::Success,
                    ..
                }
            )),
            "{parsed:?}"
        );
        easd::wbxml::to_xml(&tree)
    } else {
        assert_eq!(reply.status, 400);
        String::new()
    };
    w.bob_untouched(&text);
}
