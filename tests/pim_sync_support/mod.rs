//! A phone syncing PIM collections against a real server: FolderSync to find the collections,
//! Sync loops until nothing is left, and files written into the vdir the way Radicale writes them.

#![allow(dead_code)]

use crate::common::{Server, run};
use easd::ProtocolVersion;
use easd::client::Device;
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{CollectionId, SyncKey};
use easd::eas::options::ItemOptions;
use easd::eas::sync::{
    ClientCommand, CollectionRequest, ServerCommand, SyncRequest, SyncResponse, SyncStatus,
};
use easd::items::{BodyPreference, BodyType};
use std::path::{Path, PathBuf};

pub const USER: &str = "alice@example.com";

/// The user's vdir root under the default `dav.root`.
pub fn dav(server: &Server) -> PathBuf {
    server.data_dir().join("dav").join(USER)
}

/// Writes a file the way Radicale does: a temp file renamed into place.
pub fn put(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let tmp = dir.join(format!(".tmp-{name}"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

/// Item files of a collection (no dotfiles), sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

pub fn phone(server: &Server, device: &str, version: ProtocolVersion) -> Device {
    let mut p = server.device(USER, device);
    p.version = version;
    p
}

/// FolderSync from scratch: (type, id, display name) of every folder.
pub fn folders(phone: &mut Device) -> Vec<(u8, CollectionId, String)> {
    let r = run(phone.folder_sync(SyncKey::Initial)).unwrap();
    r.changes
        .into_iter()
        .filter_map(|c| match c {
            FolderChange::Add(e) => Some((e.kind, e.server_id, e.display_name)),
            _ => None,
        })
        .collect()
}

pub fn folder_of(list: &[(u8, CollectionId, String)], kind: u8) -> CollectionId {
    list.iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, id, _)| id.clone())
        .unwrap_or_else(|| panic!("no folder of type {kind} in {list:?}"))
}

/// The AirSync class name 2.5–12.1 clients put in Sync.
fn class_of(kind: u8) -> &'static str {
    match kind {
        7 | 15 => "Tasks",
        8 | 13 => "Calendar",
        9 | 14 => "Contacts",
        10 | 17 => "Notes",
        _ => "Email",
    }
}

/// One collection being synced by one phone.
pub struct Synced {
    pub id: CollectionId,
    pub key: SyncKey,
    pub class: Option<String>,
    pub options: ItemOptions,
    /// Sent with SyncKey 0.
    pub supported: Option<Vec<easd::wbxml::Tag>>,
}

impl Synced {
    /// Primes the collection (SyncKey 0) with `filter`.
    pub fn prime(phone: &mut Device, id: &CollectionId, kind: u8, filter: Option<u8>) -> Synced {
        Synced::prime_with(phone, id, kind, filter, None)
    }

    /// Primes with a Supported list.
    pub fn prime_with(
        phone: &mut Device,
        id: &CollectionId,
        kind: u8,
        filter: Option<u8>,
        supported: Option<Vec<easd::wbxml::Tag>>,
    ) -> Synced {
        let class = (phone.version < ProtocolVersion::V12_1).then(|| class_of(kind).to_string());
        let options = ItemOptions {
            filter_type: filter,
            body_preferences: if phone.version >= ProtocolVersion::V12_0 {
                vec![BodyPreference::whole(BodyType::PlainText)]
            } else {
                Vec::new()
            },
            ..ItemOptions::default()
        };
        let mut s = Synced {
            id: id.clone(),
            key: SyncKey::Initial,
            class,
            options,
            supported,
        };
        let r = s.send(phone, Vec::new()).expect("priming answers");
        assert_eq!(r.collections[0].status, SyncStatus::Success);
        s
    }

    /// One Sync with `commands`; the key moves on with the response.
    pub fn send(
        &mut self,
        phone: &mut Device,
        commands: Vec<ClientCommand>,
    ) -> Option<SyncResponse> {
        let mut c = CollectionRequest::new(self.id.clone(), self.key);
        c.class = self.class.clone();
        c.options = Some(self.options.clone());
        c.window_size = Some(25);
        if self.key != SyncKey::Initial {
            c.get_changes = Some(true);
        }
        c.commands = commands;
        if self.key == SyncKey::Initial {
            c.supported = self.supported.clone();
        }
        let r = run(phone.sync(&SyncRequest {
            collections: vec![c],
            ..SyncRequest::default()
        }))
        .unwrap()?;
        assert!(r.status.is_none(), "Sync failed: {r:?}");
        let coll = &r.collections[0];
        assert_eq!(coll.status, SyncStatus::Success, "{coll:?}");
        if let Some(k) = coll.sync_key {
            self.key = k;
        }
        Some(r)
    }

    /// Syncs until nothing is left; returns every server command.
    pub fn drain(&mut self, phone: &mut Device) -> Vec<ServerCommand> {
        let mut out = Vec::new();
        for _ in 0..1000 {
            let Some(r) = self.send(phone, Vec::new()) else {
                return out;
            };
            let c = &r.collections[0];
            out.extend(c.commands.iter().cloned());
            if !c.more_available {
                return out;
            }
        }
        panic!("MoreAvailable never ended");
    }
}
