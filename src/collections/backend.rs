//! The interface the Sync engine drives for any item class: keep the change index current,
//! render items for the device, and apply the device's changes.

use super::Folder;
use crate::items::email::EmailOptions;
use crate::state::index::{IndexError, Item, Preview, Uid};
use crate::store::StoreError;
use crate::store::vdir::PimError;
use crate::wbxml::Element;
use std::fmt;

/// Why an item operation failed; the commands map each to their per-item status.
#[derive(Debug)]
pub enum BackendError {
    /// The item (or its folder) is gone.
    NotFound,
    /// This class or folder does not take that operation (e.g. an Add of mail outside Drafts).
    Unsupported,
    /// The client's data could not be converted.
    Invalid(String),
    Store(StoreError),
    Pim(PimError),
    Index(IndexError),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::NotFound => f.write_str("item not found"),
            BackendError::Unsupported => f.write_str("operation not supported here"),
            BackendError::Invalid(m) => write!(f, "invalid item data: {m}"),
            BackendError::Store(e) => e.fmt(f),
            BackendError::Pim(e) => e.fmt(f),
            BackendError::Index(e) => write!(f, "change index: {e}"),
        }
    }
}

impl std::error::Error for BackendError {}

impl From<StoreError> for BackendError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::MessageNotFound(_) | StoreError::FolderNotFound(_) => {
                BackendError::NotFound
            }
            e => BackendError::Store(e),
        }
    }
}

impl From<IndexError> for BackendError {
    fn from(e: IndexError) -> Self {
        BackendError::Index(e)
    }
}

/// An item the device created, as the index now knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Created {
    pub uid: Uid,
    pub modseq: u64,
}

/// The methods a one-way view (server → device) shares, for inside its `impl ItemBackend`: a
/// Change re-sends the whole item (its text changed, not a flag); the device's own Changes (Read,
/// flags) are taken and forgotten, as there is nothing to mark; its Adds and Deletes are refused.
/// Spelled out by the macro rather than as trait defaults, so a writable backend cannot refuse
/// a write by forgetting to implement it.
macro_rules! one_way_writes {
    () => {
        fn render_change(
            &self,
            folder: &$crate::collections::Folder,
            item: &$crate::state::index::Item,
            server_id: &str,
            opts: &$crate::items::email::EmailOptions,
        ) -> Result<$crate::wbxml::Element, $crate::collections::BackendError> {
            self.render(folder, item, server_id, opts)
        }

        fn change(
            &self,
            _folder: &$crate::collections::Folder,
            item: &$crate::state::index::Item,
            _data: &$crate::wbxml::Element,
        ) -> Result<u64, $crate::collections::BackendError> {
            Ok(item.modseq)
        }

        fn delete(
            &self,
            _folder: &$crate::collections::Folder,
            _item: &$crate::state::index::Item,
            _as_move: bool,
        ) -> Result<Option<u32>, $crate::collections::BackendError> {
            Err($crate::collections::BackendError::Unsupported)
        }

        fn add(
            &self,
            _folder: &$crate::collections::Folder,
            _data: &$crate::wbxml::Element,
            _origin: &str,
        ) -> Result<$crate::collections::Created, $crate::collections::BackendError> {
            Err($crate::collections::BackendError::Unsupported)
        }
    };
}
pub(crate) use one_way_writes;

/// What the Sync engine needs from a class.
pub trait ItemBackend {
    /// Brings the index up to date with the folder (cheap when nothing changed); returns the
    /// collection's modseq.
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError>;
    /// What a refresh would record now, recording nothing: a held Ping's cheap look at its
    /// folder that never waits for the database's write lock. A class whose new items land
    /// apart from the rest (Maildir's new/) may look there first and answer with the first
    /// unrecorded one whose time is `arrivals_since` or later, leaving the rest unread.
    fn preview(&self, folder: &Folder, arrivals_since: u64) -> Result<Preview, BackendError>;
    /// The whole item, for an Add or a Fetch. `server_id` names it in FileReferences.
    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError>;
    /// What a Change carries when the item's version moved on.
    fn render_change(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError>;
    /// Applies a client Change; returns the modseq the index recorded it at.
    fn change(&self, folder: &Folder, item: &Item, data: &Element) -> Result<u64, BackendError>;
    /// Applies a client Delete, moving to the deleted-items folder when asked and possible;
    /// returns the collection the item moved to.
    fn delete(
        &self,
        folder: &Folder,
        item: &Item,
        as_move: bool,
    ) -> Result<Option<u32>, BackendError>;
    /// Applies a client Add. `origin` names the command (device, SyncKey, ClientId) the same
    /// way each time it comes, so a backend can recognise an Add repeated after a crash that
    /// struck between its write and the state commit that would have made it a replay.
    fn add(&self, folder: &Folder, data: &Element, origin: &str) -> Result<Created, BackendError>;
    /// Applies a 16.x Change of one occurrence of a recurring series (AirSyncBase InstanceId,
    /// the occurrence's original start); returns the modseq.
    fn change_instance(
        &self,
        _folder: &Folder,
        _item: &Item,
        _instance_id: &str,
        _data: &Element,
    ) -> Result<u64, BackendError> {
        Err(BackendError::Unsupported)
    }
    /// Applies a 16.x Delete of one occurrence; returns the modseq.
    fn delete_instance(
        &self,
        _folder: &Folder,
        _item: &Item,
        _instance_id: &str,
    ) -> Result<u64, BackendError> {
        Err(BackendError::Unsupported)
    }
}
