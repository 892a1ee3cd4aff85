//! Real responses of the server read back by an independent decoder, libwbxml's
//! `wbxml2xml -l ACTIVESYNC` (package libwbxml2-utils): a Sync Collection carries SyncKey,
//! CollectionId, Status, Commands, Responses and MoreAvailable in that order (Class first for
//! 12.0 and older), as MS-ASCMD's examples show and its SyncResponse schema allows, and the
//! FolderCreate answer is Status, SyncKey, ServerId.

mod common;
mod mail_common;

use common::{Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::Command;
use easd::eas::foldercreate::FolderCreateRequest;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::sync::{ClientCommand, SyncResponse};
use easd::wbxml::Element;
use mail_common::*;
use quick_xml::events::Event;

/// The raw WBXML answer to `cmd` with `body`.
fn raw(phone: &mut Device, cmd: Command, body: &Element) -> Vec<u8> {
    let reply = run(phone.command(cmd, Some(body))).unwrap();
    assert_eq!(reply.status, 200);
    reply.body.to_vec()
}

/// The local names of the children of every element called `parent`, in document order.
fn children_of(xml: &str, parent: &str) -> Vec<Vec<String>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut found: Vec<Vec<String>> = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.last().is_some_and(|p| p == parent)
                    && let Some(list) = found.last_mut()
                {
                    list.push(name.clone());
                }
                if name == parent {
                    found.push(Vec::new());
                }
                path.push(name);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.last().is_some_and(|p| p == parent)
                    && let Some(list) = found.last_mut()
                {
                    list.push(name);
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Eof => return found,
            _ => {}
        }
    }
}

#[test]
fn responses_read_back_by_libwbxml_in_schema_order() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..3 {
        put_message(&root, "", i, &format!("Order {i}"), "");
    }
    for version in [ProtocolVersion::V12_0, ProtocolVersion::V16_1] {
        let mut phone = server.device(
            USER,
            &format!("devorder{}", version.as_str().replace('.', "")),
        );
        phone.version = version;
        let (inbox, _) = run(inbox_id(&mut phone));
        let key = run(prime(&mut phone, &inbox));
        let first = run(phone.sync(&sync_req(&inbox, key, 1))).unwrap().unwrap();
        let key = first.collections[0].sync_key.unwrap();
        let (held, _) = adds(&first).pop().unwrap();
        // One response with server Adds, a Fetch answer and MoreAvailable.
        let mut req = sync_req(&inbox, key, 1);
        req.collections[0].commands = vec![ClientCommand::Fetch { server_id: held }];
        let wbxml = raw(&mut phone, Command::Sync, &req.encode());
        let parsed = SyncResponse::parse(&easd::wbxml::decode(&wbxml).unwrap()).unwrap();
        assert!(parsed.collections[0].more_available);
        let xml = common::wbxml2xml(&wbxml);
        let mut expected = vec![
            "SyncKey",
            "CollectionId",
            "Status",
            "Commands",
            "Responses",
            "MoreAvailable",
        ];
        if version < ProtocolVersion::V12_1 {
            expected.insert(0, "Class");
        }
        assert_eq!(
            children_of(&xml, "Collection"),
            [expected],
            "{version}: {xml}"
        );
    }

    let mut phone = server.device(USER, "devorderfc");
    let key = run(phone.folder_sync(SyncKey::Initial))
        .unwrap()
        .sync_key
        .unwrap();
    let body = FolderCreateRequest {
        sync_key: key,
        parent_id: CollectionId::from_number(0),
        display_name: "Ordered".into(),
        kind: 12,
    }
    .encode();
    let xml = common::wbxml2xml(&raw(&mut phone, Command::FolderCreate, &body));
    assert_eq!(
        children_of(&xml, "FolderCreate"),
        [["Status", "SyncKey", "ServerId"]],
        "{xml}"
    );
}
