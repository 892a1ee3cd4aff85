//! The device's folder hierarchy state moved on by a change the device made itself (FolderCreate,
//! FolderUpdate, FolderDelete). The key it sends must be the current one; the new key's folder
//! list is the old one with only that change applied, so the device's next FolderSync reports
//! what else changed meanwhile but never its own change back.

use super::foldersync::{SentKey, bump, records, sent_key, sync_key};
use super::ids::{CollectionId, SyncKey};
use crate::app::App;
use crate::collections::Folder;
use crate::state::sync::{DeviceRef, HierarchySnapshot, HierarchyState, SyncStateError};

/// The device's hierarchy state when `key` is its current key; `None` otherwise (Status 9).
pub fn current(
    app: &App,
    dev: DeviceRef<'_>,
    key: SyncKey,
) -> Result<Option<HierarchyState>, SyncStateError> {
    let SentKey::Issued(k) = sent_key(key) else {
        return Ok(None);
    };
    Ok(app
        .sync_states
        .hierarchy(dev)?
        .filter(|s| s.current.key == k))
}

/// Stores the next key: the folders `touched` take their form from `visible` (the device's
/// folders after the change), or leave the list when they are gone. Returns the new key.
pub fn advance(
    app: &App,
    dev: DeviceRef<'_>,
    state: HierarchyState,
    visible: &[Folder],
    touched: &[u32],
) -> Result<SyncKey, SyncStateError> {
    let mut folders = state.current.folders.clone();
    folders.retain(|r| !touched.contains(&r.id));
    let fresh: Vec<Folder> = visible
        .iter()
        .filter(|f| touched.contains(&f.id))
        .cloned()
        .collect();
    folders.extend(records(&fresh));
    let key = bump(state.current.key);
    let next = HierarchyState {
        current: HierarchySnapshot { key, folders },
        previous: Some(state.current),
    };
    app.sync_states.put_hierarchy(dev, &next)?;
    Ok(sync_key(key))
}

/// What a request's ParentId names among the device's folders.
pub enum Parent<'f> {
    /// "0": the top level.
    Top,
    Folder(&'f Folder),
    Unknown,
}

pub fn parent<'f>(folders: &'f [Folder], id: &CollectionId) -> Parent<'f> {
    match id.number() {
        Some(0) => Parent::Top,
        Some(n) => folders
            .iter()
            .find(|f| f.id == n)
            .map_or(Parent::Unknown, Parent::Folder),
        None => Parent::Unknown,
    }
}
