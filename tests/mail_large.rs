//! A folder bigger than the change index's scan chunk (4,096 changes per transaction) whose size
//! is a multiple of the window, over the real server. The bench's 10,000 messages in windows of
//! 100 once ended with MoreAvailable on the last full window and then an empty answer; every
//! window must carry items and the last one must say it is the last.

mod common;
mod mail_common;

use common::{Server, run};
use easd::eas::sync::{ServerCommand, SyncStatus};
use mail_common::*;

const MESSAGES: u32 = 5_000;

/// Writes `n` small messages straight into cur/, like a folder migrated in one go.
fn fill(root: &std::path::Path, n: u32) {
    make_maildir(root);
    let cur = root.join("cur");
    for i in 0..n {
        let name = format!("{}.M{i}P1.big,S=100:2,S", 1_690_000_000 + i);
        std::fs::write(cur.join(name), message(i, &format!("Big {i}"), "")).unwrap();
    }
}

#[test]
fn folder_ending_on_a_window_boundary_syncs_completely() {
    let server = Server::start();
    let root = server.maildir(USER);
    fill(&root, MESSAGES);
    let mut phone = server.device(USER, "devbig");
    let (inbox, _) = run(inbox_id(&mut phone));
    let mut key = run(prime(&mut phone, &inbox));
    let mut seen = 0usize;
    let mut rounds = 0;
    loop {
        let resp = run(phone.sync(&sync_req(&inbox, key, 500)))
            .unwrap()
            .expect("the first Syncs after priming carry items");
        let c = &resp.collections[0];
        assert_eq!(c.status, SyncStatus::Success);
        assert!(!c.commands.is_empty(), "window {rounds} is empty");
        key = c.sync_key.unwrap();
        seen += c
            .commands
            .iter()
            .filter(|c| matches!(c, ServerCommand::Add { .. }))
            .count();
        rounds += 1;
        if !c.more_available {
            break;
        }
        assert!(rounds < 20);
    }
    assert_eq!(seen, MESSAGES as usize);
    assert_eq!(rounds, MESSAGES / 500);
    assert!(
        run(phone.sync(&sync_req(&inbox, key, 500)))
            .unwrap()
            .is_none()
    );
}
