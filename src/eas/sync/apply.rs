//! The client's half of one Sync of one collection: its Add, Change, Delete and Fetch commands
//! applied through the backend, each with the status the device gets back. Commands the
//! previous request already applied (a replay) are not applied twice.

use super::collect::echoed;
use super::engine::{Context, EngineError};
use super::request::{ClientCommand, CollectionRequest};
use super::response::{ClientResponse, SyncStatus};
use crate::collections::{BackendError, Folder, ItemBackend};
use crate::eas::ids::ServerId;
use crate::items::email::EmailOptions;
use crate::state::index::{Item, Uid};
use crate::state::sync::ClientResult;
use crate::state::uidset::UidSet;

/// The per-item status of a backend failure.
pub fn status_of(e: &BackendError) -> SyncStatus {
    match e {
        BackendError::NotFound => SyncStatus::ObjectNotFound,
        BackendError::Unsupported | BackendError::Invalid(_) => SyncStatus::ConversionError,
        BackendError::Store(_) | BackendError::Pim(_) | BackendError::Index(_) => {
            SyncStatus::ServerError
        }
    }
}

pub fn code(s: SyncStatus) -> u16 {
    s as u16
}

/// What the client's commands led to.
pub struct Applied {
    /// Every result to remember for a replay, the earlier request's first.
    pub results: Vec<ClientResult>,
    pub fetched: Vec<ClientResponse>,
    pub held_dirty: bool,
    /// Collections easd changed on disk, for the push hub.
    pub changed: Vec<u32>,
}

/// Applies one collection's commands.
pub struct Applier<'a> {
    pub ctx: &'a Context<'a>,
    pub folder: &'a Folder,
    pub backend: &'a dyn ItemBackend,
    pub opts: &'a EmailOptions,
    /// The index position the client's view reflects, for conflict detection.
    pub base_modseq: u64,
    pub server_wins: bool,
    pub deletes_as_moves: bool,
    /// Results of the earlier request when this one repeats its key.
    pub prior: &'a [ClientResult],
}

impl Applier<'_> {
    /// The index entry a client's ServerId names, if it is in this folder and still there.
    fn lookup(&self, id: &ServerId) -> Result<Option<Item>, EngineError> {
        match id.numbers() {
            Some((c, u)) if c == self.folder.id => {
                Ok(self.ctx.app.index.item(self.folder.coll, Uid(u))?)
            }
            _ => Ok(None),
        }
    }

    fn already(&self, pick: impl Fn(&ClientResult) -> bool) -> bool {
        self.prior.iter().any(pick)
    }

    /// A client Change (of the whole item or of the occurrence `instance`), with conflict
    /// detection.
    fn change_one(
        &self,
        server_id: &ServerId,
        instance: Option<&String>,
        echo: &mut Vec<(u32, u64)>,
        out: &mut Applied,
        apply: impl FnOnce(&Item) -> Result<u64, BackendError>,
    ) -> Result<(), EngineError> {
        let id = server_id.as_str();
        if self.already(|r| {
            matches!(r, ClientResult::Changed { server_id: s, instance_id: i, .. }
                if s == id && i.as_ref() == instance)
        }) {
            return Ok(());
        }
        let status = match self.lookup(server_id)? {
            None => SyncStatus::ObjectNotFound,
            Some(item) => {
                let moved_on =
                    item.modseq > self.base_modseq && !echoed(echo, item.uid.0, item.modseq);
                if moved_on && self.server_wins {
                    SyncStatus::Conflict
                } else {
                    match apply(&item) {
                        Ok(m) => {
                            echo.push((item.uid.0, m));
                            out.changed.push(self.folder.id);
                            SyncStatus::Success
                        }
                        Err(e) => {
                            log::info!("{} Change {id}: {e}", self.ctx.dev.device);
                            status_of(&e)
                        }
                    }
                }
            }
        };
        out.results.push(ClientResult::Changed {
            server_id: id.to_string(),
            instance_id: instance.cloned(),
            status: code(status),
        });
        Ok(())
    }

    pub fn run(
        &self,
        req: &CollectionRequest,
        held: &mut UidSet,
        echo: &mut Vec<(u32, u64)>,
    ) -> Result<Applied, EngineError> {
        let mut out = Applied {
            results: self.prior.to_vec(),
            fetched: Vec::new(),
            held_dirty: false,
            changed: Vec::new(),
        };
        for cmd in &req.commands {
            match cmd {
                ClientCommand::Add { client_id, data } => {
                    let id = client_id.as_str();
                    if self.already(
                        |r| matches!(r, ClientResult::Added { client_id: c, .. } if c == id),
                    ) {
                        continue;
                    }
                    let origin = format!(
                        "{}/{}/{}/{id}",
                        self.ctx.dev.device,
                        self.folder.id,
                        req.sync_key.map(|k| k.to_string()).unwrap_or_default()
                    );
                    let (uid, status) = match self.backend.add(self.folder, data, &origin) {
                        Ok(created) => {
                            held.insert(created.uid.0);
                            out.held_dirty = true;
                            echo.push((created.uid.0, created.modseq));
                            out.changed.push(self.folder.id);
                            (Some(created.uid.0), SyncStatus::Success)
                        }
                        Err(e) => {
                            log::info!("{} Add {id}: {e}", self.ctx.dev.device);
                            (None, status_of(&e))
                        }
                    };
                    out.results.push(ClientResult::Added {
                        client_id: id.to_string(),
                        uid,
                        status: code(status),
                    });
                }
                ClientCommand::Change { server_id, data } => {
                    self.change_one(server_id, None, echo, &mut out, |item| {
                        self.backend.change(self.folder, item, data)
                    })?;
                }
                ClientCommand::ChangeInstance {
                    server_id,
                    instance_id,
                    data,
                } => {
                    self.change_one(server_id, Some(instance_id), echo, &mut out, |item| {
                        self.backend
                            .change_instance(self.folder, item, instance_id, data)
                    })?;
                }
                ClientCommand::DeleteInstance {
                    server_id,
                    instance_id,
                } => {
                    // The series stays on the device; only the occurrence goes, as a Change of
                    // the series that every device (this one included) receives.
                    let id = server_id.as_str();
                    if self.already(|r| {
                        matches!(r, ClientResult::Deleted { server_id: s, instance_id: Some(i), .. }
                            if s == id && i == instance_id)
                    }) {
                        continue;
                    }
                    let status = match self.lookup(server_id)? {
                        None => SyncStatus::ObjectNotFound,
                        Some(item) => {
                            match self
                                .backend
                                .delete_instance(self.folder, &item, instance_id)
                            {
                                Ok(_) => {
                                    out.changed.push(self.folder.id);
                                    SyncStatus::Success
                                }
                                Err(e) => {
                                    log::info!(
                                        "{} Delete {id} InstanceId {instance_id}: {e}",
                                        self.ctx.dev.device
                                    );
                                    status_of(&e)
                                }
                            }
                        }
                    };
                    out.results.push(ClientResult::Deleted {
                        server_id: id.to_string(),
                        instance_id: Some(instance_id.clone()),
                        status: code(status),
                    });
                }
                ClientCommand::Delete { server_id } => {
                    let id = server_id.as_str();
                    if self.already(|r| {
                        matches!(r, ClientResult::Deleted { server_id: s, instance_id: None, .. }
                            if s == id)
                    }) {
                        continue;
                    }
                    let status = match self.lookup(server_id)? {
                        None => SyncStatus::ObjectNotFound,
                        Some(item) => {
                            out.held_dirty |= held.remove(item.uid.0);
                            match self
                                .backend
                                .delete(self.folder, &item, self.deletes_as_moves)
                            {
                                Ok(touched) => {
                                    out.changed.push(self.folder.id);
                                    out.changed.extend(touched);
                                    SyncStatus::Success
                                }
                                Err(e) => status_of(&e),
                            }
                        }
                    };
                    out.results.push(ClientResult::Deleted {
                        server_id: id.to_string(),
                        instance_id: None,
                        status: code(status),
                    });
                }
                ClientCommand::Fetch { server_id } => {
                    let (status, data) = match self.lookup(server_id)? {
                        None => (SyncStatus::ObjectNotFound, None),
                        Some(item) => {
                            match self.backend.render(
                                self.folder,
                                &item,
                                server_id.as_str(),
                                self.opts,
                            ) {
                                Ok(mut d) => {
                                    self.ctx.limits.strip(&mut d);
                                    (SyncStatus::Success, Some(d))
                                }
                                Err(e) => (status_of(&e), None),
                            }
                        }
                    };
                    out.fetched.push(ClientResponse::Fetch {
                        server_id: server_id.clone(),
                        status,
                        data,
                    });
                }
            }
        }
        Ok(out)
    }
}
