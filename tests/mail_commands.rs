//! ItemOperations, GetAttachment, MoveItems and GetItemEstimate against a real server and
//! Maildir, across protocol versions.

mod common;
mod mail_common;

use common::{Server, run};
use easd::ProtocolVersion;
use easd::eas::Command;
use easd::eas::getitemestimate::{
    EstimateCollection, EstimateStatus, GetItemEstimateRequest, GetItemEstimateResponse,
};
use easd::eas::ids::{CollectionId, ServerId};
use easd::eas::itemoperations::{
    ByteRange, FetchTarget, Fetched, ItemOperationsRequest, ItemOperationsResponse, ItemOpsStatus,
    Operation, OperationResponse,
};
use easd::eas::moveitems::{Move, MoveItemsRequest, MoveItemsResponse, MoveStatus};
use easd::eas::options::ItemOptions;
use easd::eas::sync::ServerCommand;
use easd::wbxml::tags::{airsyncbase, email};
use mail_common::*;

fn attachment_message(payload: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "From: a@example.org\r\nTo: alice@example.com\r\nSubject: With attachment\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--XX\r\nContent-Type: application/octet-stream; name=\"blob.bin\"\r\nContent-Disposition: attachment; filename=\"blob.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--XX--\r\n",
        lines.join("\r\n")
    )
}

fn file_reference(data: &easd::wbxml::Element) -> String {
    data.first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .and_then(|a| a.child_text(airsyncbase::FILE_REFERENCE))
        .unwrap()
        .to_string()
}

#[test]
fn attachments_fetch_byte_exact_with_range_and_getattachment() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(
        root.join("cur/1700000000.att.host:2,"),
        attachment_message(&payload),
    )
    .unwrap();
    let mut phone = server.device(USER, "devatt");
    phone.version = ProtocolVersion::V14_1;
    let (inbox, _) = run(inbox_id(&mut phone));
    let key = run(prime(&mut phone, &inbox));
    let resp = run(phone.sync(&sync_req(&inbox, key, 10)))
        .unwrap()
        .unwrap();
    let (sid, data) = adds(&resp).pop().unwrap();
    let fref = file_reference(&data);
    let fetch = |range: Option<ByteRange>, target: FetchTarget| ItemOperationsRequest {
        operations: vec![Operation::Fetch {
            target,
            options: ItemOptions::default(),
            range,
        }],
    };
    let whole = run(phone.call_typed(
        Command::ItemOperations,
        &fetch(None, FetchTarget::Attachment(fref.clone())).encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    match &whole.responses[..] {
        [
            OperationResponse::Fetch {
                status: ItemOpsStatus::Success,
                fetched: Some(Fetched::Attachment { data, total, .. }),
                ..
            },
        ] => {
            assert_eq!(data, &payload);
            assert_eq!(*total, payload.len() as u64);
        }
        other => panic!("{other:?}"),
    }
    let part = run(phone.call_typed(
        Command::ItemOperations,
        &fetch(
            Some(ByteRange {
                first: 1000,
                last: 1999,
            }),
            FetchTarget::Attachment(fref.clone()),
        )
        .encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    match &part.responses[..] {
        [
            OperationResponse::Fetch {
                fetched: Some(Fetched::Attachment { data, range, .. }),
                ..
            },
        ] => {
            assert_eq!(data.as_slice(), &payload[1000..2000]);
            assert_eq!(
                *range,
                Some(ByteRange {
                    first: 1000,
                    last: 1999
                })
            );
        }
        other => panic!("{other:?}"),
    }
    let bad = run(phone.call_typed(
        Command::ItemOperations,
        &fetch(None, FetchTarget::Attachment("999:1:0".into())).encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    assert!(matches!(
        &bad.responses[..],
        [OperationResponse::Fetch {
            status: ItemOpsStatus::InvalidAttachment,
            ..
        }]
    ));
    // The item itself, with its body.
    let item = run(phone.call_typed(
        Command::ItemOperations,
        &fetch(
            None,
            FetchTarget::Item {
                collection_id: inbox.clone(),
                server_id: sid.clone(),
            },
        )
        .encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    match &item.responses[..] {
        [
            OperationResponse::Fetch {
                status: ItemOpsStatus::Success,
                fetched: Some(Fetched::Item { data, .. }),
                ..
            },
        ] => {
            assert_eq!(data.child_text(email::SUBJECT), Some("With attachment"));
        }
        other => panic!("{other:?}"),
    }
    let missing = run(phone.call_typed(
        Command::ItemOperations,
        &fetch(
            None,
            FetchTarget::Item {
                collection_id: inbox.clone(),
                server_id: ServerId::item(inbox.number().unwrap(), 9999),
            },
        )
        .encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    assert!(matches!(
        &missing.responses[..],
        [OperationResponse::Fetch {
            status: ItemOpsStatus::NotFound,
            ..
        }]
    ));
    // GetAttachment (12.1): raw bytes.
    phone.version = ProtocolVersion::V12_1;
    let mut q = phone.query(Command::GetAttachment);
    q.attachment_name = Some(fref);
    let reply = run(phone.post(&q, "application/vnd.ms-sync.wbxml", Vec::new())).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.as_ref(), payload.as_slice());
}

#[test]
fn moveitems_estimate_and_empty_folder() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..3 {
        put_message(&root, "", i, &format!("Move{i}"), "S");
    }
    let mut phone = server.device(USER, "devmove");
    phone.version = ProtocolVersion::V2_5;
    let (inbox, folders) = run(inbox_id(&mut phone));
    let trash = folders
        .iter()
        .find_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) if e.kind == 4 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let key = run(prime(&mut phone, &inbox));
    let est = run(phone.call_typed(
        Command::GetItemEstimate,
        &GetItemEstimateRequest {
            collections: vec![EstimateCollection {
                sync_key: key,
                collection_id: inbox.clone(),
                options: None,
            }],
        }
        .encode(),
        GetItemEstimateResponse::parse,
    ))
    .unwrap();
    assert_eq!(est.responses[0].status, EstimateStatus::Success);
    assert_eq!(est.responses[0].estimate, Some(3));
    let resp = run(phone.sync(&sync_req(&inbox, key, 10)))
        .unwrap()
        .unwrap();
    let key = resp.collections[0].sync_key.unwrap();
    let (sid, _) = adds(&resp)
        .into_iter()
        .find(|(_, d)| d.child_text(email::SUBJECT) == Some("Move0"))
        .unwrap();
    let moved = run(phone.call_typed(
        Command::MoveItems,
        &MoveItemsRequest {
            moves: vec![
                Move {
                    src_msg_id: sid.clone(),
                    src_fld_id: inbox.clone(),
                    dst_fld_id: trash.clone(),
                },
                Move {
                    src_msg_id: sid.clone(),
                    src_fld_id: CollectionId::from_number(9999),
                    dst_fld_id: trash.clone(),
                },
            ],
        }
        .encode(),
        MoveItemsResponse::parse,
    ))
    .unwrap();
    assert_eq!(moved.responses[0].status, MoveStatus::Success);
    let dst = moved.responses[0].dst_msg_id.clone().unwrap();
    assert!(dst.as_str().starts_with(&format!("{}:", trash.as_str())));
    assert_eq!(moved.responses[1].status, MoveStatus::InvalidSource);
    let in_trash = file_with_subject(&root.join(".Trash/cur"), "Move0").unwrap();
    assert!(in_trash.ends_with(":2,S"), "flags kept: {in_trash}");
    assert!(file_with_subject(&root.join("cur"), "Move0").is_none());
    // The move is not reported back to the device in the source folder (2.5 always answers).
    let resp = run(phone.sync(&sync_req(&inbox, key, 10)))
        .unwrap()
        .unwrap();
    assert!(
        resp.collections[0]
            .commands
            .iter()
            .all(|c| !matches!(c, ServerCommand::Delete { .. })),
        "{:?}",
        resp.collections[0].commands
    );
    // EmptyFolderContents on the Inbox.
    phone.version = ProtocolVersion::V14_1;
    let emptied = run(phone.call_typed(
        Command::ItemOperations,
        &ItemOperationsRequest {
            operations: vec![Operation::EmptyFolderContents {
                collection_id: inbox.clone(),
                delete_subfolders: false,
            }],
        }
        .encode(),
        ItemOperationsResponse::parse,
    ))
    .unwrap();
    assert!(matches!(
        &emptied.responses[..],
        [OperationResponse::EmptyFolderContents {
            status: ItemOpsStatus::Success,
            ..
        }]
    ));
    assert_eq!(std::fs::read_dir(root.join("cur")).unwrap().count(), 0);
}

#[test]
fn whole_corpus_syncs_in_one_inbox() {
    let corpus = std::env::var_os("EASD_CORPUS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
        });
    let mail = corpus.join("mail");
    assert!(mail.is_dir(), "corpus missing at {}", mail.display());
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    let mut n = 0u32;
    let mut stack = vec![mail];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                std::fs::write(
                    root.join("cur")
                        .join(format!("{}.corpus{n}.host:2,", 1_600_000_000 + n)),
                    std::fs::read(&p).unwrap(),
                )
                .unwrap();
                n += 1;
            }
        }
    }
    for version in [
        ProtocolVersion::V2_5,
        ProtocolVersion::V12_1,
        ProtocolVersion::V16_1,
    ] {
        let mut phone = server.device(USER, &format!("corpus{version}").replace('.', ""));
        phone.version = version;
        let (inbox, _) = run(inbox_id(&mut phone));
        let mut key = run(prime(&mut phone, &inbox));
        let mut got = 0;
        loop {
            let r = run(phone.sync(&sync_req(&inbox, key, 50)))
                .unwrap()
                .unwrap();
            let c = &r.collections[0];
            assert_eq!(c.status, easd::eas::sync::SyncStatus::Success);
            got += c.commands.len();
            key = c.sync_key.unwrap();
            if !c.more_available {
                break;
            }
        }
        assert_eq!(got as u32, n, "every corpus message arrives ({version})");
    }
}
