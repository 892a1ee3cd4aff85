//! The server's half of one Sync of one collection: the change log since the device's position,
//! then the initial download newest first, up to the window. MoreAvailable is claimed only when
//! something is left that the device would really get, so a folder that ends exactly at a window
//! boundary never leaves the client asking for a window that turns out empty.

use super::engine::{Context, EngineError};
use super::response::ServerCommand;
use crate::collections::{BackendError, Folder, ItemBackend};
use crate::eas::ids::ServerId;
use crate::items::email::EmailOptions;
use crate::state::index::{Change, IndexError, Item, ItemCursor, ItemQuery, Uid};
use crate::state::sync::Backfill;
use crate::state::uidset::UidSet;
use crate::wbxml::Element;

/// Extra change-log rows read per page beyond the window, since some produce nothing (echoes,
/// items outside the FilterType).
const LOG_SLACK: usize = 32;

/// What one collection sends, and where the device stands afterwards.
pub struct Collected {
    pub commands: Vec<ServerCommand>,
    /// Uids sent as Add and as Delete, for the replay of a lost response.
    pub sent_added: Vec<u32>,
    pub sent_removed: Vec<u32>,
    /// The index modseq the device reflects once it has this response.
    pub cursor: u64,
    pub backfill: Backfill,
    pub more: bool,
    /// The held set changed.
    pub held_dirty: bool,
}

impl Collected {
    /// Nothing sent: the device stays where it was.
    pub fn nothing(cursor: u64, backfill: Backfill) -> Collected {
        Collected {
            commands: Vec::new(),
            sent_added: Vec::new(),
            sent_removed: Vec::new(),
            cursor,
            backfill,
            more: false,
            held_dirty: false,
        }
    }
}

/// Why collecting stopped short.
pub enum CollectError {
    /// The device's position is no longer in the change log: it must re-prime.
    OutOfRange,
    Engine(EngineError),
}

impl<E: Into<EngineError>> From<E> for CollectError {
    fn from(e: E) -> Self {
        CollectError::Engine(e.into())
    }
}

/// The inputs of one collection's collection run.
pub struct Collector<'a> {
    pub ctx: &'a Context<'a>,
    pub folder: &'a Folder,
    pub backend: &'a dyn ItemBackend,
    pub opts: &'a EmailOptions,
    pub window: usize,
    /// Oldest received time the FilterType allows.
    pub min_time: u64,
    /// The device's own changes, not to be sent back.
    pub echo: &'a [(u32, u64)],
    /// The index's modseq right after the refresh.
    pub modseq_now: u64,
}

/// Whether the device's own change already covers the index's latest change of `uid`.
pub fn echoed(echo: &[(u32, u64)], uid: u32, modseq: u64) -> bool {
    echo.iter().any(|&(u, m)| u == uid && modseq <= m)
}

/// What a change-log entry becomes for this device.
enum Outgoing {
    Nothing,
    Change(Item),
    Add(Item),
    Delete(u32),
}

impl Collector<'_> {
    /// Collects from `cursor` (the modseq the device is at) and `backfill`, updating `held`.
    pub fn run(
        &self,
        cursor: u64,
        backfill: Backfill,
        held: &mut UidSet,
    ) -> Result<Collected, CollectError> {
        let mut out = Collected::nothing(cursor, backfill);
        self.log(&mut out, held)?;
        if !out.more
            && let Backfill::Pending { min_time, after } = out.backfill
        {
            self.download(&mut out, held, min_time, after)?;
        }
        Ok(out)
    }

    fn classify(&self, change: Change, held: &UidSet) -> (Outgoing, u64) {
        match change {
            Change::Added(item) | Change::Changed(item) => {
                let modseq = item.modseq;
                let uid = item.uid.0;
                let out = if echoed(self.echo, uid, modseq) {
                    Outgoing::Nothing
                } else if held.contains(uid) {
                    Outgoing::Change(item)
                } else if item.time >= self.min_time {
                    Outgoing::Add(item)
                } else {
                    Outgoing::Nothing
                };
                (out, modseq)
            }
            Change::Removed { uid, modseq } if held.contains(uid.0) => {
                (Outgoing::Delete(uid.0), modseq)
            }
            Change::Removed { modseq, .. } => (Outgoing::Nothing, modseq),
        }
    }

    /// The change log since `out.cursor`, oldest first, until the window is full.
    fn log(&self, out: &mut Collected, held: &mut UidSet) -> Result<(), CollectError> {
        let index = &self.ctx.app.index;
        loop {
            let page =
                match index.changes_since(self.folder.coll, out.cursor, self.window + LOG_SLACK) {
                    Ok(p) => p,
                    Err(IndexError::CursorOutOfRange { .. }) => {
                        return Err(CollectError::OutOfRange);
                    }
                    Err(e) => return Err(e.into()),
                };
            for change in page.changes {
                let (outgoing, modseq) = self.classify(change, held);
                if !matches!(outgoing, Outgoing::Nothing) && out.commands.len() >= self.window {
                    out.more = true;
                    return Ok(());
                }
                match outgoing {
                    Outgoing::Nothing => {}
                    Outgoing::Change(item) => {
                        let sid = ServerId::item(self.folder.id, item.uid.0);
                        let rendered =
                            self.backend
                                .render_change(self.folder, &item, sid.as_str(), self.opts);
                        if let Some(mut data) = self.skip_unusable(rendered, &item)? {
                            self.ctx.limits.strip(&mut data);
                            out.commands.push(ServerCommand::Change {
                                server_id: sid,
                                data,
                            });
                        }
                    }
                    Outgoing::Add(item) => self.add(out, held, &item)?,
                    Outgoing::Delete(uid) => {
                        held.remove(uid);
                        out.held_dirty = true;
                        out.sent_removed.push(uid);
                        out.commands.push(ServerCommand::Delete {
                            server_id: ServerId::item(self.folder.id, uid),
                        });
                    }
                }
                out.cursor = modseq;
            }
            if !page.more {
                out.cursor = out.cursor.max(page.next).max(self.modseq_now);
                return Ok(());
            }
        }
    }

    /// Sends `item` as an Add; one that vanished since the index saw it is skipped.
    fn add(&self, out: &mut Collected, held: &mut UidSet, item: &Item) -> Result<(), CollectError> {
        let uid = item.uid.0;
        let sid = ServerId::item(self.folder.id, uid);
        let rendered = self
            .backend
            .render(self.folder, item, sid.as_str(), self.opts);
        if let Some(mut data) = self.skip_unusable(rendered, item)? {
            self.ctx.limits.strip(&mut data);
            held.insert(uid);
            out.held_dirty = true;
            out.sent_added.push(uid);
            out.commands.push(ServerCommand::Add {
                server_id: sid,
                data,
            });
        }
        Ok(())
    }

    /// An item that vanished since the index saw it, or that another program rewrote into
    /// something no device can be shown, is skipped (with a log line for the latter) rather
    /// than failing the whole collection.
    fn skip_unusable(
        &self,
        rendered: Result<Element, BackendError>,
        item: &Item,
    ) -> Result<Option<Element>, CollectError> {
        match rendered {
            Ok(data) => Ok(Some(data)),
            Err(BackendError::NotFound) => Ok(None),
            Err(e @ (BackendError::Invalid(_) | BackendError::Unsupported)) => {
                log::warn!(
                    "{} [{}] collection {}: item {} ({}) skipped: {e}",
                    self.ctx.dev.device,
                    self.ctx.dev.user,
                    self.folder.id,
                    item.uid.0,
                    item.key
                );
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The initial download: live items newest first from the stored position, skipping what
    /// the device holds and what the change log will bring (created after the cursor).
    fn download(
        &self,
        out: &mut Collected,
        held: &mut UidSet,
        oldest: u64,
        mut after: Option<(u64, u32)>,
    ) -> Result<(), CollectError> {
        loop {
            // One more than the room left, to learn whether anything remains.
            let limit = self.window.saturating_sub(out.commands.len()) + 1;
            let query = ItemQuery {
                min_time: oldest,
                newest_first: true,
                after: after.map(|(t, u)| ItemCursor::new(t, Uid(u))),
                limit,
            };
            let items = self.ctx.app.index.items(self.folder.coll, &query)?;
            let exhausted = items.len() < limit;
            for item in items {
                let wanted = !held.contains(item.uid.0) && item.created <= out.cursor;
                if wanted && out.commands.len() >= self.window {
                    out.more = true;
                    out.backfill = Backfill::Pending {
                        min_time: oldest,
                        after,
                    };
                    return Ok(());
                }
                after = Some((item.time, item.uid.0));
                if wanted {
                    self.add(out, held, &item)?;
                }
            }
            if exhausted {
                out.backfill = Backfill::Done;
                return Ok(());
            }
            out.backfill = Backfill::Pending {
                min_time: oldest,
                after,
            };
        }
    }
}
