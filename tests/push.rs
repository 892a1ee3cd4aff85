//! Direct Push against a real server: Ping and Sync-with-Wait woken by `easd deliver`, `easd notify`,
//! another device's Sync and the fallback directory check; the status codes; hang-ups.

mod common;
mod mail_common;

use common::{Options, Server, run};
use easd::client::Device;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::ping::{PingFolder, PingRequest, PingResponse, PingStatus};
use easd::eas::sync::{ClientCommand, SyncRequest};
use easd::wbxml::Element;
use easd::wbxml::tags::email;
use mail_common::*;
use std::time::{Duration, Instant};

/// A server with short heartbeat bounds and a quick fallback scan, so the tests don't sit out
/// 60-second heartbeats.
fn start() -> Server {
    let server = Server::start_with(Options::default());
    // Rewrite the [push] table the harness wrote, keeping its UDP port.
    let config = std::fs::read_to_string(&server.config_path).unwrap();
    let config = config.replacen(
        "[push]\n",
        "[push]\nmin_heartbeat_secs = 2\nmax_heartbeat_secs = 120\nfallback_scan_secs = 2\nmax_folders = 3\n",
        1,
    );
    std::fs::write(&server.config_path, config).unwrap();
    let mut server = server;
    server.restart();
    server
}

fn ping_req(heartbeat: u32, folders: &[&CollectionId]) -> PingRequest {
    PingRequest {
        heartbeat: Some(heartbeat),
        folders: Some(
            folders
                .iter()
                .map(|id| PingFolder {
                    id: id.as_str().try_into().unwrap(),
                    class: "Email".try_into().unwrap(),
                })
                .collect(),
        ),
    }
}

/// A phone that synced its Inbox up to date; returns it, the Inbox id and the current key.
fn synced_phone(server: &Server, device: &str) -> (Device, CollectionId, SyncKey) {
    let mut phone = server.device(USER, device);
    let (inbox, _) = run(inbox_id(&mut phone));
    let mut key = run(prime(&mut phone, &inbox));
    while let Some(r) = run(phone.sync(&sync_req(&inbox, key, 100))).unwrap() {
        key = r.collections[0].sync_key.unwrap();
        if !r.collections[0].more_available {
            break;
        }
    }
    (phone, inbox, key)
}

/// Starts a Ping on its own thread; returns a handle yielding the response and how long it took.
fn ping_in_background(
    mut phone: Device,
    req: PingRequest,
) -> std::thread::JoinHandle<(PingResponse, Duration)> {
    std::thread::spawn(move || {
        let t = Instant::now();
        let r = run(phone.ping(&req)).unwrap();
        (r, t.elapsed())
    })
}

fn held(server: &Server) -> usize {
    let mut conn = easd::client::Connection::new(server.target());
    let r = run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let n = text.split("\"held_pings\":").nth(1).unwrap();
    n.trim_end_matches('}').parse().unwrap()
}

fn wait_held(server: &Server, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while held(server) != n {
        assert!(Instant::now() < deadline, "held pings never reached {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn deliver(server: &Server, subject: &str) {
    let (ok, _, err) = server.cli(
        &["deliver", USER],
        Some(message(900, subject, "").as_bytes()),
    );
    assert!(ok, "{err}");
}

#[test]
fn ping_wakes_on_easd_deliver() {
    let server = start();
    let (phone, inbox, _) = synced_phone(&server, "p-deliver");
    let h = ping_in_background(phone, ping_req(100, &[&inbox]));
    wait_held(&server, 1);
    let t = Instant::now();
    deliver(&server, "pushed");
    let (r, _) = h.join().unwrap();
    assert_eq!(r.status, PingStatus::Changes);
    assert_eq!(r.folders, vec![inbox.as_str().to_string()]);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    wait_held(&server, 0);
}

#[test]
fn ping_wakes_on_easd_notify_and_on_the_fallback_scan() {
    let server = start();
    let (phone, inbox, _) = synced_phone(&server, "p-notify");
    let root = server.maildir(USER);
    // A file dropped into new/ by hand, then announced with easd notify.
    let h = ping_in_background(phone, ping_req(100, &[&inbox]));
    wait_held(&server, 1);
    std::fs::write(
        root.join("new").join("1700000999.M1P1.hand"),
        message(1, "by hand", ""),
    )
    .unwrap();
    let t = Instant::now();
    let (ok, _, err) = server.cli(&["notify", USER, "INBOX"], None);
    assert!(ok, "{err}");
    let (r, _) = h.join().unwrap();
    assert_eq!(r.status, PingStatus::Changes);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );

    // Sync it, then drop another file with no notification at all: the fallback scan finds it.
    let (phone, inbox, _) = synced_phone(&server, "p-fallback");
    let h = ping_in_background(phone, ping_req(100, &[&inbox]));
    wait_held(&server, 1);
    std::fs::write(
        root.join("new").join("1700001000.M2P1.hand"),
        message(2, "silent", ""),
    )
    .unwrap();
    let (r, took) = h.join().unwrap();
    assert_eq!(r.status, PingStatus::Changes);
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn ping_wakes_when_another_device_changes_the_folder() {
    let server = start();
    put_message(&server.maildir(USER), "", 1, "shared", "");
    let (watcher, inbox, _) = synced_phone(&server, "p-watch");
    let (mut other, _, key) = synced_phone(&server, "p-other");
    let h = ping_in_background(watcher, ping_req(100, &[&inbox]));
    wait_held(&server, 1);
    // The other phone marks the message read.
    let id = {
        let mut p = server.device(USER, "p-lookup");
        let k = run(prime(&mut p, &inbox));
        let r = run(p.sync(&sync_req(&inbox, k, 10))).unwrap().unwrap();
        adds(&r).remove(0).0
    };
    let mut req = sync_req(&inbox, key, 10);
    req.collections[0].commands.push(ClientCommand::Change {
        server_id: id,
        data: Element::new(easd::wbxml::tags::airsync::APPLICATION_DATA)
            .with_text(email::READ, "1"),
    });
    let t = Instant::now();
    run(other.sync(&req)).unwrap();
    let (r, _) = h.join().unwrap();
    assert_eq!(r.status, PingStatus::Changes);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
}

#[test]
fn ping_statuses() {
    let server = start();
    let (mut phone, inbox, _) = synced_phone(&server, "p-status");
    // No parameters and nothing cached.
    let r = run(phone.ping(&PingRequest::default())).unwrap();
    assert_eq!(r.status, PingStatus::MissingParameters);
    // Heartbeat out of bounds: Status 5 with the allowed value.
    let r = run(phone.ping(&ping_req(1, &[&inbox]))).unwrap();
    assert_eq!((r.status, r.heartbeat), (PingStatus::BadHeartbeat, Some(2)));
    let r = run(phone.ping(&ping_req(5000, &[&inbox]))).unwrap();
    assert_eq!(
        (r.status, r.heartbeat),
        (PingStatus::BadHeartbeat, Some(120))
    );
    // Too many folders: Status 6 with MaxFolders.
    let r = run(phone.ping(&ping_req(10, &[&inbox, &inbox, &inbox, &inbox]))).unwrap();
    assert_eq!(
        (r.status, r.max_folders),
        (PingStatus::TooManyFolders, Some(3))
    );
    // A folder the device was never given: Status 7.
    let bogus = CollectionId::from_number(9999);
    let r = run(phone.ping(&ping_req(10, &[&bogus]))).unwrap();
    assert_eq!(r.status, PingStatus::FolderSyncRequired);
    // No change during the heartbeat: Status 1 when it ends.
    let t = Instant::now();
    let r = run(phone.ping(&ping_req(2, &[&inbox]))).unwrap();
    assert_eq!(r.status, PingStatus::Expired);
    assert!(t.elapsed() >= Duration::from_secs(2));
    // An empty Ping reuses the cached parameters, even after a restart.
    let mut server = server;
    server.restart();
    let mut phone = server.device(USER, "p-status");
    let r = run(phone.ping(&PingRequest::default())).unwrap();
    assert_eq!(r.status, PingStatus::Expired);
    // Syntax error.
    let bad = easd::wbxml::from_xml(
        "<Ping xmlns=\"Ping:\"><HeartbeatInterval>x</HeartbeatInterval></Ping>",
    )
    .unwrap();
    let r = run(phone.command(easd::eas::Command::Ping, Some(&bad))).unwrap();
    let r = PingResponse::parse(&r.tree().unwrap()).unwrap();
    assert_eq!(r.status, PingStatus::SyntaxError);
}

#[test]
fn a_hang_up_frees_the_ping_and_a_new_request_ends_the_old_one() {
    let server = start();
    let (phone, inbox, _) = synced_phone(&server, "p-hangup");
    // The phone gives up on its Ping: the server frees it at once.
    let mut quitter = server.device(USER, "p-hangup");
    let req = ping_req(100, &[&inbox]);
    std::thread::spawn(move || {
        smol::block_on(smol::future::or(
            async {
                let _ = quitter.ping(&req).await;
            },
            async {
                smol::Timer::after(Duration::from_millis(500)).await;
            },
        ));
        // Dropping the future and the device closes the socket.
    })
    .join()
    .unwrap();
    wait_held(&server, 0);

    // A second request from the same device ends its held Ping with Status 1.
    let h = ping_in_background(phone, ping_req(100, &[&inbox]));
    wait_held(&server, 1);
    let mut again = server.device(USER, "p-hangup");
    let _ = run(again.options());
    let r = run(again.sync(&sync_req(&inbox, SyncKey::Initial, 1)));
    assert!(r.is_ok());
    let (r, took) = h.join().unwrap();
    assert_eq!(r.status, PingStatus::Expired);
    assert!(took < Duration::from_secs(10));
    wait_held(&server, 0);
}

#[test]
fn sync_with_wait_is_held_until_a_change() {
    let server = start();
    let (mut phone, inbox, key) = synced_phone(&server, "s-wait");
    // Out of bounds: Status 14 with the limit.
    let mut req = sync_req(&inbox, key, 10);
    req.heartbeat_interval = Some(1);
    let reply = run(phone.command(easd::eas::Command::Sync, Some(&req.encode()))).unwrap();
    let tree = reply.tree().unwrap();
    assert_eq!(
        tree.child_text(easd::wbxml::tags::airsync::STATUS),
        Some("14")
    );
    assert_eq!(
        tree.child_text(easd::wbxml::tags::airsync::LIMIT),
        Some("2")
    );
    // Held, then answered with the new message.
    let mut req: SyncRequest = sync_req(&inbox, key, 10);
    req.heartbeat_interval = Some(100);
    let h = std::thread::spawn(move || {
        let t = Instant::now();
        (run(phone.sync(&req)).unwrap(), t.elapsed())
    });
    wait_held(&server, 1);
    deliver(&server, "while waiting");
    let (r, _) = h.join().unwrap();
    let r = r.expect("a response with the new message");
    assert_eq!(adds(&r).len(), 1);
    // No change: an empty answer when the heartbeat ends.
    let mut phone = server.device(USER, "s-wait");
    let key = r.collections[0].sync_key.unwrap();
    let mut req = sync_req(&inbox, key, 10);
    req.heartbeat_interval = Some(2);
    let t = Instant::now();
    assert!(run(phone.sync(&req)).unwrap().is_none());
    assert!(t.elapsed() >= Duration::from_secs(2));
}

/// A Maildir file name received at `secs` (Unix time) with `flags`.
fn mail_name(secs: u64, i: u32, flags: &str) -> String {
    format!("{secs}.M{i}P1.push:2,{flags}")
}

/// Pings with a 2-second heartbeat while `act` runs, then sends `easd notify`; returns the status.
fn ping_around(
    server: &Server,
    phone: Device,
    inbox: &CollectionId,
    act: impl FnOnce(),
) -> PingStatus {
    let h = ping_in_background(phone, ping_req(2, &[inbox]));
    wait_held(server, 1);
    act();
    let (ok, _, err) = server.cli(&["notify", USER, "INBOX"], None);
    assert!(ok, "{err}");
    let (r, _) = h.join().unwrap();
    wait_held(server, 0);
    r.status
}

#[test]
fn a_notification_wakes_a_ping_only_for_what_the_device_would_get() {
    let server = start();
    let cur = server.maildir(USER).join("cur");
    let new = server.maildir(USER).join("new");
    make_maildir(&server.maildir(USER));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = now - 30 * 86_400;
    std::fs::write(cur.join(mail_name(now, 1, "")), message(1, "recent", "")).unwrap();
    std::fs::write(cur.join(mail_name(old, 2, "")), message(2, "old", "")).unwrap();
    // A phone keeping three days of mail: it gets "recent" only.
    let mut phone = server.device(USER, "p-judge");
    let (inbox, _) = run(inbox_id(&mut phone));
    let mut c = easd::eas::sync::CollectionRequest::new(inbox.clone(), SyncKey::Initial);
    let mut options = plain_options();
    options.filter_type = Some(2);
    c.options = Some(options);
    let primed = run(phone.sync(&SyncRequest {
        collections: vec![c],
        ..SyncRequest::default()
    }))
    .unwrap()
    .unwrap();
    let r = run(phone.sync(&sync_req(
        &inbox,
        primed.collections[0].sync_key.unwrap(),
        10,
    )))
    .unwrap()
    .unwrap();
    let got = adds(&r);
    assert_eq!(got.len(), 1);
    let recent = got[0].0.clone();
    let mut key = r.collections[0].sync_key.unwrap();

    // Its own change (marking "recent" read) is announced, as a hook would: nothing for it.
    let mut req = sync_req(&inbox, key, 10);
    req.collections[0].commands.push(ClientCommand::Change {
        server_id: recent,
        data: Element::new(easd::wbxml::tags::airsync::APPLICATION_DATA)
            .with_text(email::READ, "1"),
    });
    key = run(phone.sync(&req)).unwrap().unwrap().collections[0]
        .sync_key
        .unwrap();
    let phone = server.device(USER, "p-judge");
    assert_eq!(
        ping_around(&server, phone, &inbox, || {}),
        PingStatus::Expired
    );

    // Mail older than its window arrives and the old message it never got is deleted: nothing for
    // it either, and not on the next Ping (no false change that never goes away).
    let phone = server.device(USER, "p-judge");
    let status = ping_around(&server, phone, &inbox, || {
        std::fs::write(new.join(mail_name(old, 3, "")), message(3, "older", "")).unwrap();
        std::fs::remove_file(cur.join(mail_name(old, 2, ""))).unwrap();
    });
    assert_eq!(status, PingStatus::Expired);
    let phone = server.device(USER, "p-judge");
    assert_eq!(
        ping_around(&server, phone, &inbox, || {}),
        PingStatus::Expired
    );
    // The same once recorded in the change log by another device's Sync before the Ping looks.
    let phone = server.device(USER, "p-judge");
    let status = ping_around(&server, phone, &inbox, || {
        std::fs::write(new.join(mail_name(old, 4, "")), message(4, "oldest", "")).unwrap();
        let mut other = server.device(USER, "p-other");
        let (other_inbox, _) = run(inbox_id(&mut other));
        let primed = run(other.sync(&sync_req(&other_inbox, SyncKey::Initial, 10)))
            .unwrap()
            .unwrap();
        let key = primed.collections[0].sync_key.unwrap();
        run(other.sync(&sync_req(&other_inbox, key, 10))).unwrap();
    });
    assert_eq!(status, PingStatus::Expired);

    // Another program flags the message it holds: a change for it.
    let phone = server.device(USER, "p-judge");
    let status = ping_around(&server, phone, &inbox, || {
        std::fs::rename(
            cur.join(mail_name(now, 1, "S")),
            cur.join(mail_name(now, 1, "FS")),
        )
        .unwrap();
    });
    assert_eq!(status, PingStatus::Changes);
    let mut phone = server.device(USER, "p-judge");
    let r = run(phone.sync(&sync_req(&inbox, key, 10)))
        .unwrap()
        .unwrap();
    assert_eq!(r.collections[0].commands.len(), 1, "{r:?}");
    key = r.collections[0].sync_key.unwrap();

    // Then deletes it by hand: a change for it too.
    let status = ping_around(&server, phone, &inbox, || {
        std::fs::remove_file(cur.join(mail_name(now, 1, "FS"))).unwrap();
    });
    assert_eq!(status, PingStatus::Changes);
    let mut phone = server.device(USER, "p-judge");
    let r = run(phone.sync(&sync_req(&inbox, key, 10)))
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            r.collections[0].commands[..],
            [easd::eas::sync::ServerCommand::Delete { .. }]
        ),
        "{r:?}"
    );
}
