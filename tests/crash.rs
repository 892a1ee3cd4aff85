//! Crash safety: a scripted phone session (syncs, read flags, deletions, moves) runs against
//! `easd` while mail is delivered from outside, and the server is killed with SIGKILL at random
//! moments, often in the middle of a request. After each restart the phone repeats its last request
//! with the same SyncKey (the replay) or, when the server says the key is unknown, re-primes. At the
//! end the phone's view and the Maildir must agree: every message once, with its read flag.
//!
//! CI runs a short variant. The long one (200 kills) is ignored by default:
//! `EASD_CORPUS=../shared/corpus cargo test --test crash -- --ignored --nocapture`
//! (`EASD_CRASH_SEED=<n>` replays a run; every run prints its seed).

mod common;
mod mail_common;

use common::{Server, run};
use easd::client::{ClientError, Connection, Device};
use easd::eas::Command;
use easd::eas::ids::{CollectionId, ServerId, SyncKey};
use easd::eas::moveitems::{Move, MoveItemsRequest, MoveItemsResponse, MoveStatus};
use easd::eas::sync::{
    ClientCommand, ClientResponse, CollectionRequest, ServerCommand, SyncRequest, SyncStatus,
};
use easd::wbxml::tags::{airsync, email};
use mail_common::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// xorshift64*: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("EASD_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("crash test seed: EASD_CRASH_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// What the phone holds of one folder.
struct Folder {
    id: CollectionId,
    dir: PathBuf,
    key: SyncKey,
    /// ServerId → (subject, read).
    items: HashMap<ServerId, (String, bool)>,
}

struct Session {
    server: Server,
    phone: Device,
    folders: [Folder; 2],
    rng: Rng,
    killer: Option<JoinHandle<()>>,
    kills: usize,
    /// Sync keys the server no longer knew (the phone re-primed).
    reprimes: usize,
    /// Moves whose answer was lost (the destination was resynced).
    lost_moves: usize,
    /// Repeated changes answered with Conflict.
    conflicts: usize,
    replays: usize,
    delivered: u32,
    /// How often a kill is armed before a step (per mille).
    kill_rate: u64,
}

impl Session {
    fn start(kill_rate: u64) -> Session {
        let server = Server::start();
        let root = server.maildir(USER);
        make_maildir(&root);
        for i in 0..20 {
            put_message(
                &root,
                "",
                i,
                &format!("Start{i:02}"),
                if i % 3 == 0 { "S" } else { "" },
            );
        }
        for i in 0..5 {
            put_message(&root, ".Work", 100 + i, &format!("Work{i}"), "");
        }
        let mut phone = server.device(USER, "crashphone");
        let (inbox, changes) = run(inbox_id(&mut phone));
        let work = changes
            .iter()
            .find_map(|c| match c {
                easd::eas::foldersync::FolderChange::Add(e) if e.display_name == "Work" => {
                    Some(e.server_id.clone())
                }
                _ => None,
            })
            .unwrap();
        let folder = |id, dir| Folder {
            id,
            dir,
            key: SyncKey::Initial,
            items: HashMap::new(),
        };
        Session {
            folders: [
                folder(inbox, root.clone()),
                folder(work, root.join(".Work")),
            ],
            server,
            phone,
            rng: Rng::new(),
            killer: None,
            kills: 0,
            reprimes: 0,
            lost_moves: 0,
            conflicts: 0,
            replays: 0,
            delivered: 0,
            kill_rate,
        }
    }

    /// Maybe arms a SIGKILL a few milliseconds ahead, to land inside the next request.
    fn maybe_arm_killer(&mut self) {
        if self.killer.is_some() || self.rng.below(1000) >= self.kill_rate {
            return;
        }
        let pid = self.server.child.id();
        let delay = Duration::from_micros(self.rng.below(60_000));
        let handle = std::thread::spawn(move || {
            std::thread::sleep(delay);
            // SAFETY: signalling the server process this test started and has not reaped yet.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        });
        self.killer = Some(handle);
    }

    /// Waits for an armed kill to have happened and restarts the server it killed. A server that
    /// stopped with no kill armed is a failure.
    fn settle(&mut self) {
        if let Some(handle) = self.killer.take() {
            handle.join().unwrap();
            self.restart();
        }
        assert_eq!(
            self.server.child.try_wait().unwrap(),
            None,
            "easd stopped by itself"
        );
    }

    fn restart(&mut self) {
        let status = self.server.child.wait().unwrap();
        assert_eq!(status.code(), None, "easd exited by itself: {status}");
        self.kills += 1;
        self.server.restart();
        self.phone.conn = Connection::new(self.server.target());
    }

    /// Sends until it gets an answer, restarting a killed server in between. A failure with no
    /// kill armed is a bug in the server.
    fn send<T>(&mut self, mut f: impl FnMut(&mut Device) -> Result<T, ClientError>) -> (T, bool) {
        let mut repeated = false;
        loop {
            match f(&mut self.phone) {
                Ok(t) => return (t, repeated),
                Err(e) => {
                    assert!(
                        self.killer.is_some(),
                        "request failed with no kill armed: {e} (server: {:?})",
                        self.server.child.try_wait()
                    );
                    if let Some(handle) = self.killer.take() {
                        handle.join().unwrap();
                    }
                    self.restart();
                    repeated = true;
                }
            }
        }
    }

    fn deliver(&mut self) {
        let n = self.delivered;
        self.delivered += 1;
        let root = &self.folders[0].dir;
        let name = format!("{}.D{n}P9.outside,S=100", 1_750_000_000 + n);
        let tmp = root.join("tmp").join(&name);
        std::fs::write(&tmp, message(1000 + n, &format!("Delivered{n:04}"), "")).unwrap();
        std::fs::rename(&tmp, root.join("new").join(&name)).unwrap();
    }

    /// One Sync of folder `f` with optional client commands; loops while more is available.
    fn sync(&mut self, f: usize, commands: Vec<ClientCommand>) {
        let mut commands = commands;
        loop {
            if self.folders[f].key.is_initial() {
                self.prime(f);
            }
            let folder = &self.folders[f];
            let mut c = CollectionRequest::new(folder.id.clone(), folder.key);
            c.window_size = Some(10);
            c.get_changes = Some(true);
            c.options = Some(plain_options());
            c.commands = std::mem::take(&mut commands);
            let req = SyncRequest {
                collections: vec![c],
                ..SyncRequest::default()
            };
            let (resp, repeated) = self.send(|p| run(p.sync(&req)));
            self.replays += usize::from(repeated);
            let Some(resp) = resp else {
                return;
            };
            let c = &resp.collections[0];
            match c.status {
                SyncStatus::Success => {}
                SyncStatus::InvalidSyncKey => {
                    eprintln!(
                        "crash test: key {:?} of folder {f} unknown after {} kills (repeated: {repeated})",
                        self.folders[f].key, self.kills
                    );
                    self.reprimes += 1;
                    let folder = &mut self.folders[f];
                    folder.key = SyncKey::Initial;
                    folder.items.clear();
                    continue;
                }
                other => panic!("Sync status {other:?}"),
            }
            let folder = &mut self.folders[f];
            folder.key = c.sync_key.unwrap();
            for r in &c.responses {
                match r {
                    // A change written to the Maildir whose state commit the kill prevented comes
                    // back on the retry as the server's own change: Conflict, the server's version
                    // (the same flags) wins, and the phone ends up with what is on disk.
                    ClientResponse::Change {
                        status: SyncStatus::Conflict,
                        ..
                    } if repeated => self.conflicts += 1,
                    ClientResponse::Change { status, .. }
                    | ClientResponse::Delete { status, .. } => {
                        assert!(
                            matches!(status, SyncStatus::Success | SyncStatus::ObjectNotFound),
                            "{r:?} (repeated: {repeated})"
                        )
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            for cmd in &c.commands {
                match cmd {
                    ServerCommand::Add { server_id, data } => {
                        let subject = data.child_text(email::SUBJECT).unwrap().to_string();
                        let read = data.child_text(email::READ) == Some("1");
                        let old = folder.items.insert(server_id.clone(), (subject, read));
                        assert!(old.is_none(), "Add of {server_id:?} it already holds");
                    }
                    ServerCommand::Change { server_id, data } => {
                        if let Some(item) = folder.items.get_mut(server_id)
                            && let Some(r) = data.child_text(email::READ)
                        {
                            item.1 = r == "1";
                        }
                    }
                    ServerCommand::Delete { server_id } => {
                        folder.items.remove(server_id);
                    }
                }
            }
            if !c.more_available {
                return;
            }
        }
    }

    fn prime(&mut self, f: usize) {
        let id = self.folders[f].id.clone();
        let mut c = CollectionRequest::new(id, SyncKey::Initial);
        c.options = Some(plain_options());
        let req = SyncRequest {
            collections: vec![c],
            ..SyncRequest::default()
        };
        let (resp, _) = self.send(|p| run(p.sync(&req)));
        let c = &resp.unwrap().collections[0];
        assert_eq!(c.status, SyncStatus::Success);
        self.folders[f].key = c.sync_key.unwrap();
        self.folders[f].items.clear();
    }

    fn pick(&mut self, f: usize) -> Option<ServerId> {
        let mut ids: Vec<&ServerId> = self.folders[f].items.keys().collect();
        ids.sort();
        let n = ids.len() as u64;
        (n > 0).then(|| ids[self.rng.below(n) as usize].clone())
    }

    fn toggle_read(&mut self, f: usize) {
        let Some(sid) = self.pick(f) else { return };
        let read = !self.folders[f].items[&sid].1;
        self.folders[f].items.get_mut(&sid).unwrap().1 = read;
        let data = easd::wbxml::Element::new(airsync::APPLICATION_DATA)
            .with_text(email::READ, if read { "1" } else { "0" });
        self.sync(
            f,
            vec![ClientCommand::Change {
                server_id: sid,
                data,
            }],
        );
    }

    fn delete(&mut self, f: usize) {
        let Some(sid) = self.pick(f) else { return };
        self.folders[f].items.remove(&sid);
        self.sync(f, vec![ClientCommand::Delete { server_id: sid }]);
    }

    fn move_to_work(&mut self) {
        let Some(sid) = self.pick(0) else { return };
        let req = MoveItemsRequest {
            moves: vec![Move {
                src_msg_id: sid.clone(),
                src_fld_id: self.folders[0].id.clone(),
                dst_fld_id: self.folders[1].id.clone(),
            }],
        }
        .encode();
        let (resp, repeated) =
            self.send(|p| run(p.call_typed(Command::MoveItems, &req, MoveItemsResponse::parse)));
        let item = self.folders[0].items.remove(&sid).unwrap();
        match (resp.responses[0].status, &resp.responses[0].dst_msg_id) {
            (MoveStatus::Success, Some(dst)) => {
                self.folders[1].items.insert(dst.clone(), item);
            }
            // The move happened but its answer was lost: the phone does not know the new id,
            // and the server does not echo the phone's own move, so it resyncs the destination.
            (MoveStatus::InvalidSource, _) if repeated => {
                self.lost_moves += 1;
                self.folders[1].key = SyncKey::Initial;
                self.folders[1].items.clear();
            }
            other => panic!("MoveItems {other:?}"),
        }
    }

    fn step(&mut self) {
        self.maybe_arm_killer();
        match self.rng.below(10) {
            0 | 1 => self.deliver(),
            2 | 3 => self.sync(0, Vec::new()),
            4 => self.sync(1, Vec::new()),
            5 | 6 => {
                let f = self.rng.below(2) as usize;
                self.toggle_read(f)
            }
            7 | 8 => {
                let f = self.rng.below(2) as usize;
                self.delete(f)
            }
            _ => self.move_to_work(),
        }
        self.settle();
    }

    /// No more kills: sync both folders to the end and compare with the Maildir.
    fn verify(&mut self) {
        assert!(self.killer.is_none());
        for f in 0..2 {
            self.sync(f, Vec::new());
            let disk = disk_messages(&self.folders[f].dir);
            let mut held: Vec<(String, bool)> = self.folders[f].items.values().cloned().collect();
            held.sort();
            let on_disk: Vec<(String, bool)> = disk.into_iter().collect();
            if held != on_disk {
                let only_phone: Vec<_> = held.iter().filter(|h| !on_disk.contains(h)).collect();
                let only_disk: Vec<_> = on_disk.iter().filter(|d| !held.contains(d)).collect();
                panic!(
                    "folder {f}: phone and disk disagree\nonly on the phone: {only_phone:?}\nonly on disk: {only_disk:?}"
                );
            }
        }
    }
}

/// Subject → read flag of every message in a Maildir folder. A subject twice is a duplicate.
fn disk_messages(dir: &Path) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(Result::unwrap)
        {
            let name = e.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(e.path()).unwrap();
            let subject = text
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap()
                .to_string();
            let read = name
                .split_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'));
            assert!(
                out.insert(subject.clone(), read).is_none(),
                "{subject} twice on disk"
            );
        }
    }
    out
}

fn session(kills_wanted: usize, max_steps: usize, kill_rate: u64) {
    let mut s = Session::start(kill_rate);
    let started = Instant::now();
    let mut steps = 0;
    while s.kills < kills_wanted && steps < max_steps {
        s.step();
        steps += 1;
    }
    s.verify();
    eprintln!(
        "crash test: {steps} steps, {} kills, {} repeated requests, {} re-primes, {} lost move answers, {} conflicts, {} deliveries, {} + {} messages, {:.0?}",
        s.kills,
        s.replays,
        s.reprimes,
        s.lost_moves,
        s.conflicts,
        s.delivered,
        s.folders[0].items.len(),
        s.folders[1].items.len(),
        started.elapsed()
    );
    assert!(s.kills >= kills_wanted.min(1), "no kill happened");
}

#[test]
fn killed_at_random_points_the_phone_recovers_and_agrees_with_disk() {
    session(8, 400, 150);
}

#[test]
#[ignore = "long: 200 kills, minutes; run with --ignored"]
fn two_hundred_kills() {
    session(200, 20_000, 250);
}
