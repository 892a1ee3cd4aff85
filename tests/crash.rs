//! Crash safety: a scripted phone session (mail syncs, read flags, deletions, moves; contacts,
//! events, tasks and notes added, changed and deleted with ClientIds) runs against `easd` while
//! mail is delivered and .vcf/.ics files are written and removed from outside, and the server is
//! killed with SIGKILL at random moments, often in the middle of a request. After each restart the
//! phone repeats its last request with the same SyncKey (the replay) or, when the server says the
//! key is unknown, re-primes. At the end the phone's view and the disk must agree: every message
//! once, with its read flag; every contact, event, task and note once, with its last change.
//!
//! CI runs a short variant. The long one (200 kills) is ignored by default:
//! `EASD_CORPUS=../shared/corpus cargo test --test crash -- --ignored --nocapture`
//! (`EASD_CRASH_SEED=<n>` replays a run; every run prints its seed).

mod common;
mod mail_common;

use common::{Server, run};
use easd::client::{ClientError, Connection, Device};
use easd::eas::Command;
use easd::eas::ids::{ClientId, CollectionId, ServerId, SyncKey};
use easd::eas::moveitems::{Move, MoveItemsRequest, MoveItemsResponse, MoveStatus};
use easd::eas::options::ItemOptions;
use easd::eas::sync::{
    ClientCommand, ClientResponse, CollectionRequest, ServerCommand, SyncRequest, SyncStatus,
};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::tags::{airsync, calendar, contacts, email, notes, tasks};
use easd::wbxml::{Element, Tag};
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

/// The class of a folder the phone syncs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Mail,
    Contacts,
    Calendar,
    Tasks,
    Notes,
}

impl Class {
    const PIM: [Class; 4] = [Class::Contacts, Class::Calendar, Class::Tasks, Class::Notes];

    /// The FolderSync type of the default folder.
    fn kind(self) -> u8 {
        match self {
            Class::Mail => 2,
            Class::Contacts => 9,
            Class::Calendar => 8,
            Class::Tasks => 7,
            Class::Notes => 10,
        }
    }

    /// The vdir collection directory.
    fn dir(self) -> &'static str {
        match self {
            Class::Mail => "",
            Class::Contacts => "contacts",
            Class::Calendar => "calendar",
            Class::Tasks => "tasks",
            Class::Notes => "notes",
        }
    }

    /// The element that names an item (the test makes every name unique).
    fn name_tag(self) -> Tag {
        match self {
            Class::Mail => email::SUBJECT,
            Class::Contacts => contacts::FIRST_NAME,
            Class::Calendar => calendar::SUBJECT,
            Class::Tasks => tasks::SUBJECT,
            Class::Notes => notes::SUBJECT,
        }
    }

    fn options(self) -> ItemOptions {
        match self {
            Class::Mail => plain_options(),
            _ => ItemOptions {
                body_preferences: vec![BodyPreference::whole(BodyType::PlainText)],
                ..ItemOptions::default()
            },
        }
    }

    /// A whole item as the phone sends it in an Add or a Change.
    fn data(self, name: &str) -> Element {
        let app = Element::new(airsync::APPLICATION_DATA);
        match self {
            Class::Mail => unreachable!("the phone adds no mail"),
            Class::Contacts => app
                .with_text(contacts::FIRST_NAME, name)
                .with_text(contacts::LAST_NAME, "Phone")
                .with_text(contacts::FILE_AS, format!("Phone, {name}")),
            Class::Calendar => app
                .with_text(
                    calendar::TIMEZONE,
                    easd::items::tzinfo::TzInfo::fixed(0).to_base64(),
                )
                .with_text(calendar::DT_STAMP, "20260101T000000Z")
                .with_text(calendar::START_TIME, "20300402T090000Z")
                .with_text(calendar::END_TIME, "20300402T100000Z")
                .with_text(calendar::SUBJECT, name)
                .with_text(calendar::SENSITIVITY, "0")
                .with_text(calendar::BUSY_STATUS, "2")
                .with_text(calendar::ALL_DAY_EVENT, "0"),
            Class::Tasks => app
                .with_text(tasks::SUBJECT, name)
                .with_text(tasks::COMPLETE, "0"),
            Class::Notes => app.with_text(notes::SUBJECT, name),
        }
    }

    /// A file as a CardDAV/CalDAV server writes it into the vdir.
    fn file(self, uid: &str, name: &str) -> String {
        let ics = |comp: &str, extra: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//outside//EN\r\nBEGIN:{comp}\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n{extra}SUMMARY:{name}\r\nEND:{comp}\r\nEND:VCALENDAR\r\n"
            )
        };
        match self {
            Class::Mail => unreachable!("mail is delivered as messages"),
            Class::Contacts => format!(
                "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name} Outside\r\nN:Outside;{name};;;\r\nEND:VCARD\r\n"
            ),
            Class::Calendar => ics(
                "VEVENT",
                "DTSTART:20300301T100000Z\r\nDTEND:20300301T110000Z\r\n",
            ),
            Class::Tasks => ics("VTODO", ""),
            Class::Notes => ics("VJOURNAL", ""),
        }
    }

    /// The item's name in a stored file: a card's given name, a component's SUMMARY.
    fn name_in_file(self, text: &str) -> String {
        let found = match self {
            Class::Contacts => text
                .lines()
                .find_map(|l| l.strip_prefix("N:"))
                .and_then(|n| n.split(';').nth(1)),
            _ => text.lines().find_map(|l| l.strip_prefix("SUMMARY:")),
        };
        found
            .unwrap_or_else(|| panic!("no name in {text}"))
            .to_string()
    }
}

/// What the phone holds of one folder.
struct Folder {
    class: Class,
    id: CollectionId,
    dir: PathBuf,
    key: SyncKey,
    /// ServerId → (subject or name, read).
    items: HashMap<ServerId, (String, bool)>,
}

/// A file written into a vdir collection from outside and still there.
struct Outside {
    class: Class,
    file: String,
    uid: String,
}

struct Session {
    server: Server,
    phone: Device,
    /// Inbox, Work, then the four PIM classes.
    folders: Vec<Folder>,
    rng: Rng,
    outside: Vec<Outside>,
    /// Names given so far (every new name and every change gets a fresh one).
    names: usize,
    /// ClientId → name of the phone's Adds not yet answered.
    adding: HashMap<String, String>,
    killer: Option<JoinHandle<()>>,
    kills: usize,
    /// Sync keys the server no longer knew (the phone re-primed).
    reprimes: usize,
    /// Moves whose answer was lost (the destination was resynced).
    lost_moves: usize,
    /// Changes answered with Conflict (repeated ones, or PIM items changed outside meanwhile).
    conflicts: usize,
    /// PIM adds, changes and deletes by the phone, and writes and removals from outside.
    pim_phone: usize,
    pim_outside: usize,
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
        let dav = server.data_dir().join("dav").join(USER);
        let mut outside = Vec::new();
        for class in Class::PIM {
            for i in 0..3 {
                let uid = format!("start-{}-{i}", class.dir());
                let name = format!("Start{}{i}", class.dir());
                let file = format!(
                    "{uid}.{}",
                    if class == Class::Contacts {
                        "vcf"
                    } else {
                        "ics"
                    }
                );
                put_file(&dav.join(class.dir()), &file, &class.file(&uid, &name));
                outside.push(Outside { class, file, uid });
            }
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
        let folder = |class, id, dir| Folder {
            class,
            id,
            dir,
            key: SyncKey::Initial,
            items: HashMap::new(),
        };
        let mut folders = vec![
            folder(Class::Mail, inbox, root.clone()),
            folder(Class::Mail, work, root.join(".Work")),
        ];
        for class in Class::PIM {
            let id = changes
                .iter()
                .find_map(|c| match c {
                    easd::eas::foldersync::FolderChange::Add(e) if e.kind == class.kind() => {
                        Some(e.server_id.clone())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no {class:?} folder"));
            folders.push(folder(class, id, dav.join(class.dir())));
        }
        Session {
            folders,
            server,
            phone,
            rng: Rng::new(),
            outside,
            names: 0,
            adding: HashMap::new(),
            pim_phone: 0,
            pim_outside: 0,
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
            c.options = Some(folder.class.options());
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
                    self.adding.clear();
                    continue;
                }
                other => panic!("Sync status {other:?}"),
            }
            let folder = &mut self.folders[f];
            let class = folder.class;
            folder.key = c.sync_key.unwrap();
            for r in &c.responses {
                match r {
                    ClientResponse::Add {
                        client_id,
                        server_id: Some(sid),
                        status: SyncStatus::Success,
                    } => {
                        let name = self
                            .adding
                            .remove(client_id.as_str())
                            .unwrap_or_else(|| panic!("Add answer for unknown {client_id:?}"));
                        let old = folder.items.insert(sid.clone(), (name, false));
                        assert!(old.is_none(), "phone's Add got {sid:?} it already holds");
                    }
                    // Another program changed the item on disk since the phone last synced:
                    // the server's version wins and comes with this answer.
                    ClientResponse::Change {
                        status: SyncStatus::Conflict,
                        ..
                    } if class != Class::Mail => self.conflicts += 1,
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
                        let subject = data.child_text(class.name_tag()).unwrap().to_string();
                        let read = data.child_text(email::READ) == Some("1");
                        let old = folder.items.insert(server_id.clone(), (subject, read));
                        assert!(old.is_none(), "Add of {server_id:?} it already holds");
                    }
                    ServerCommand::Change { server_id, data } if class == Class::Mail => {
                        if let Some(item) = folder.items.get_mut(server_id)
                            && let Some(r) = data.child_text(email::READ)
                        {
                            item.1 = r == "1";
                        }
                    }
                    // A PIM Change carries the whole item.
                    ServerCommand::Change { server_id, data } => {
                        let name = data.child_text(class.name_tag()).unwrap().to_string();
                        let item = folder.items.get_mut(server_id).unwrap_or_else(|| {
                            panic!("Change of {server_id:?} the phone does not hold")
                        });
                        item.0 = name;
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
        c.options = Some(self.folders[f].class.options());
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

    fn fresh_name(&mut self, class: Class) -> String {
        self.names += 1;
        format!("N{}{}", self.names, class.dir())
    }

    /// The phone adds an item to PIM folder `f`, with a ClientId so a replay is not applied twice.
    fn pim_add(&mut self, f: usize) {
        let class = self.folders[f].class;
        let name = self.fresh_name(class);
        let client_id = format!("c{}", self.names);
        self.adding.insert(client_id.clone(), name.clone());
        self.pim_phone += 1;
        self.sync(
            f,
            vec![ClientCommand::Add {
                client_id: ClientId::parse(&client_id).unwrap(),
                data: class.data(&name),
            }],
        );
        // An Add lost to a re-prime is not resent: the phone holds what the server has.
        self.adding.remove(&client_id);
    }

    /// The phone changes an item of PIM folder `f` (the whole item, under a fresh name).
    fn pim_change(&mut self, f: usize) {
        let Some(sid) = self.pick(f) else { return };
        let class = self.folders[f].class;
        let name = self.fresh_name(class);
        self.folders[f].items.get_mut(&sid).unwrap().0 = name.clone();
        self.pim_phone += 1;
        self.sync(
            f,
            vec![ClientCommand::Change {
                server_id: sid,
                data: class.data(&name),
            }],
        );
    }

    /// Another program (a CalDAV/CardDAV server) adds, rewrites or removes a file of its own.
    fn outside_write(&mut self) {
        let class = Class::PIM[self.rng.below(4) as usize];
        let dir = self
            .server
            .data_dir()
            .join("dav")
            .join(USER)
            .join(class.dir());
        self.pim_outside += 1;
        let mine: Vec<usize> = (0..self.outside.len())
            .filter(|&i| self.outside[i].class == class && dir.join(&self.outside[i].file).exists())
            .collect();
        match (self.rng.below(3), mine.is_empty()) {
            (0, false) => {
                let i = mine[self.rng.below(mine.len() as u64) as usize];
                let o = self.outside.swap_remove(i);
                std::fs::remove_file(dir.join(&o.file)).unwrap();
            }
            (1, false) => {
                let i = mine[self.rng.below(mine.len() as u64) as usize];
                let name = self.fresh_name(class);
                let o = &self.outside[i];
                put_file(&dir, &o.file, &class.file(&o.uid, &name));
            }
            _ => {
                let name = self.fresh_name(class);
                let uid = format!("outside-{}", self.names);
                let file = format!(
                    "{uid}.{}",
                    if class == Class::Contacts {
                        "vcf"
                    } else {
                        "ics"
                    }
                );
                put_file(&dir, &file, &class.file(&uid, &name));
                self.outside.push(Outside { class, file, uid });
            }
        }
    }

    fn step(&mut self) {
        self.maybe_arm_killer();
        match self.rng.below(20) {
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
            9 => self.move_to_work(),
            10 | 11 => self.outside_write(),
            n => {
                let f = 2 + self.rng.below(4) as usize;
                match n {
                    12 => self.sync(f, Vec::new()),
                    13..=15 => self.pim_add(f),
                    16 | 17 => self.pim_change(f),
                    _ => {
                        self.pim_phone += 1;
                        self.delete(f)
                    }
                }
            }
        }
        self.settle();
    }

    /// No more kills: sync both folders to the end and compare with the Maildir.
    fn verify(&mut self) {
        assert!(self.killer.is_none());
        for f in 0..self.folders.len() {
            self.sync(f, Vec::new());
            let disk = match self.folders[f].class {
                Class::Mail => disk_messages(&self.folders[f].dir),
                class => disk_items(class, &self.folders[f].dir),
            };
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

/// Name of every item file in a vdir collection (read flag false). A name twice is a duplicate.
fn disk_items(class: Class, dir: &Path) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let file = e.file_name().to_string_lossy().into_owned();
        if file.starts_with('.') {
            continue;
        }
        let name = class.name_in_file(&std::fs::read_to_string(e.path()).unwrap());
        assert!(
            out.insert(name.clone(), false).is_none(),
            "{name} twice in {}",
            dir.display()
        );
    }
    out
}

/// Writes a file the way Radicale does: a temp file renamed into place.
fn put_file(dir: &Path, file: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join(format!(".tmp-{file}"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(file)).unwrap();
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
        "crash test: {steps} steps, {} kills, {} repeated requests, {} re-primes, {} lost move answers, {} conflicts, {} deliveries, {} + {} messages, {} PIM changes by the phone, {} from outside, {} contacts, {} events, {} tasks, {} notes, {:.0?}",
        s.kills,
        s.replays,
        s.reprimes,
        s.lost_moves,
        s.conflicts,
        s.delivered,
        s.folders[0].items.len(),
        s.folders[1].items.len(),
        s.pim_phone,
        s.pim_outside,
        s.folders[2].items.len(),
        s.folders[3].items.len(),
        s.folders[4].items.len(),
        s.folders[5].items.len(),
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

/// A phone's Add written to disk by a server that died before committing the sync state: the
/// phone repeats the request with the same SyncKey and ClientId, and the item must not be
/// written a second time (the crash test found such duplicates).
#[test]
fn add_repeated_after_a_crash_before_the_state_commit_is_stored_once() {
    let mut server = Server::start();
    let state = server.data_dir().join("state.redb");
    let dir = server.data_dir().join("dav").join(USER).join("contacts");
    let mut phone = server.device(USER, "addphone");
    let (_, changes) = run(inbox_id(&mut phone));
    let id = changes
        .iter()
        .find_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) if e.kind == Class::Contacts.kind() => {
                Some(e.server_id.clone())
            }
            _ => None,
        })
        .unwrap();
    let sync = |phone: &mut Device, key: SyncKey, commands: Vec<ClientCommand>| {
        let mut c = CollectionRequest::new(id.clone(), key);
        c.options = Some(Class::Contacts.options());
        c.get_changes = Some(!key.is_initial());
        c.commands = commands;
        run(phone.sync(&SyncRequest {
            collections: vec![c],
            ..SyncRequest::default()
        }))
        .unwrap()
        .unwrap()
        .collections
        .remove(0)
    };
    let key = sync(&mut phone, SyncKey::Initial, Vec::new())
        .sync_key
        .unwrap();

    // The state as it was before the Add, taken with the server stopped.
    let _ = server.child.kill();
    let _ = server.child.wait();
    let before = std::fs::read(&state).unwrap();
    server.restart();
    phone.conn = Connection::new(server.target());

    let add = || {
        vec![ClientCommand::Add {
            client_id: ClientId::parse("c1").unwrap(),
            data: Class::Contacts.data("Once"),
        }]
    };
    let first = sync(&mut phone, key, add());
    assert!(
        matches!(
            &first.responses[..],
            [ClientResponse::Add {
                status: SyncStatus::Success,
                ..
            }]
        ),
        "{first:?}"
    );

    // The crash: the file is on disk, the state commit never happened.
    let _ = server.child.kill();
    let _ = server.child.wait();
    std::fs::write(&state, before).unwrap();
    server.restart();
    phone.conn = Connection::new(server.target());

    let again = sync(&mut phone, key, add());
    assert!(
        matches!(
            &again.responses[..],
            [ClientResponse::Add {
                status: SyncStatus::Success,
                server_id: Some(_),
                ..
            }]
        ),
        "{again:?}"
    );
    assert!(
        again.commands.is_empty(),
        "the phone's own item came back: {again:?}"
    );
    assert_eq!(
        disk_items(Class::Contacts, &dir)
            .into_keys()
            .collect::<Vec<_>>(),
        ["Once"]
    );
}
