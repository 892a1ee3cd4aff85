//! "Reset the ActiveSync database": deleting state.redb loses no mail, and a phone that still holds
//! its old sync keys is told they are invalid and resyncs everything. A damaged or foreign state file
//! stops the server at start with a message that names the file and the way out.

mod common;
mod mail_common;

use common::{Server, run};
use easd::eas::foldersync::FolderSyncStatus;
use easd::eas::ids::{CollectionId, ServerId, SyncKey};
use easd::eas::sync::{ClientCommand, SyncStatus};
use easd::wbxml::tags::{airsync, email};
use mail_common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mail_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Syncs `coll` from key 0 to the end; returns the last key and the (subject, ServerId) pairs the
/// phone holds, sorted.
fn full_sync(
    phone: &mut easd::client::Device,
    coll: &CollectionId,
) -> (SyncKey, Vec<(String, ServerId)>) {
    let mut key = run(prime(phone, coll));
    let mut items = Vec::new();
    loop {
        let Some(resp) = run(phone.sync(&sync_req(coll, key, 25))).unwrap() else {
            break;
        };
        let c = &resp.collections[0];
        assert_eq!(c.status, SyncStatus::Success);
        key = c.sync_key.unwrap();
        items.extend(
            adds(&resp)
                .into_iter()
                .filter_map(|(sid, d)| d.child_text(email::SUBJECT).map(|s| (s.to_string(), sid))),
        );
        if !c.more_available {
            break;
        }
    }
    items.sort();
    (key, items)
}

fn subjects(items: &[(String, ServerId)]) -> Vec<&str> {
    items.iter().map(|(s, _)| s.as_str()).collect()
}

/// Sends one client command and returns the new key.
fn client_change(
    phone: &mut easd::client::Device,
    coll: &CollectionId,
    key: SyncKey,
    cmd: ClientCommand,
) -> SyncKey {
    let mut req = sync_req(coll, key, 25);
    req.collections[0].get_changes = Some(false);
    req.collections[0].commands = vec![cmd];
    let resp = run(phone.sync(&req)).unwrap().unwrap();
    let c = &resp.collections[0];
    assert_eq!(c.status, SyncStatus::Success);
    c.sync_key.unwrap()
}

fn mark_read(server_id: ServerId) -> ClientCommand {
    ClientCommand::Change {
        server_id,
        data: easd::wbxml::Element::new(airsync::APPLICATION_DATA).with_text(email::READ, "1"),
    }
}

#[test]
fn deleting_the_state_file_loses_no_mail_and_phones_resync() {
    let mut server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..60 {
        put_message(&root, "", i, &format!("Inbox{i:02}"), "");
    }
    for i in 0..10 {
        put_message(&root, ".Work", 100 + i, &format!("Work{i}"), "S");
    }
    let mut phone = server.device(USER, "resetphone");
    let (inbox, _) = run(inbox_id(&mut phone));
    let (key, items) = full_sync(&mut phone, &inbox);
    assert_eq!(items.len(), 60);
    // The phone changes things before the reset: one read flag, one deletion.
    let key = client_change(&mut phone, &inbox, key, mark_read(items[0].1.clone()));
    let key = client_change(
        &mut phone,
        &inbox,
        key,
        ClientCommand::Delete {
            server_id: items[1].1.clone(),
        },
    );
    let before = mail_files(&root);
    let state = server.data_dir().join("state.redb");
    assert!(state.exists());

    let _ = server.child.kill();
    let _ = server.child.wait();
    std::fs::remove_file(&state).unwrap();
    server.restart();
    assert_eq!(mail_files(&root), before, "the reset touched no mail");

    // The phone's old keys are unknown now: FolderSync says so, and so does Sync.
    let mut phone = server.device(USER, "resetphone");
    let r = run(phone.folder_sync(SyncKey::first(1))).unwrap();
    assert_eq!(r.status, FolderSyncStatus::InvalidSyncKey);
    let (inbox, folders) = run(inbox_id(&mut phone));
    assert_eq!(
        folders.len(),
        10,
        "Inbox, Work, four special folders and the four default PIM collections"
    );
    let resp = run(phone.sync(&sync_req(&inbox, key, 25)))
        .unwrap()
        .unwrap();
    assert_eq!(resp.collections[0].status, SyncStatus::InvalidSyncKey);
    // A full resync brings back everything that is on disk, and client changes work again.
    let (key, again) = full_sync(&mut phone, &inbox);
    let mut expected = subjects(&items);
    expected.retain(|s| *s != items[1].0);
    assert_eq!(subjects(&again), expected);
    client_change(&mut phone, &inbox, key, mark_read(again[5].1.clone()));
    assert_ne!(
        mail_files(&root),
        before,
        "the read flag reached the Maildir"
    );
}

/// Runs `easd serve` on `config` and expects it to stop by itself; returns its stderr.
fn serve_fails(config: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_easd"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("easd started on a bad state file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_damaged_or_foreign_state_file_is_refused_at_start() {
    let mut server = Server::start();
    let _ = server.child.kill();
    let _ = server.child.wait();
    let state = server.data_dir().join("state.redb");

    // Damaged: the header overwritten.
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[..64].fill(0x5a);
    std::fs::write(&state, &bytes).unwrap();
    let err = serve_fails(&server.config_path);
    assert!(err.contains("state.redb"), "{err}");
    assert!(err.contains("move the file away"), "{err}");

    // Not a database at all.
    std::fs::write(&state, "these are my notes\n").unwrap();
    let err = serve_fails(&server.config_path);
    assert!(
        err.contains("state.redb") && err.contains("move the file away"),
        "{err}"
    );

    // Another program's redb database.
    std::fs::remove_file(&state).unwrap();
    {
        let db = redb::Database::create(&state).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(redb::TableDefinition::<&str, &str>::new("photos"))
            .unwrap()
            .insert("a", "b")
            .unwrap();
        w.commit().unwrap();
    }
    let err = serve_fails(&server.config_path);
    assert!(
        err.contains("not an easd state database") && err.contains("photos"),
        "{err}"
    );
    assert!(err.contains("move the file away"), "{err}");

    // Moving it away is the cure.
    std::fs::remove_file(&state).unwrap();
    server.restart();
    let mut phone = server.device(USER, "after");
    assert_eq!(run(phone.options()).unwrap().status, 200);
}
