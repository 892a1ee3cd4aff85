//! Maildir folders as change-index collections: an item's key is the
//! message's base name, its version the flags, its time the received time.
//! The EAS commands use these helpers so both sides agree on that mapping.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::state::index::{
    ChangeIndex, Collection, IndexError, Item, LocalChange, Noted, Preview, RefreshError,
    Refreshed, ScanEntry,
};
use crate::store::{Flags, FolderName, Listed, MailStore, MessageKey, MessageRef, StoreError};

/// The index collection name of a mail folder, e.g. `mail:INBOX`, `mail:.Sent`.
pub fn collection_name(folder: &FolderName) -> String {
    format!("mail:{folder}")
}

/// Rescans `folder` if its directories changed since the last scan: new/ alone when cur/ is
/// as the last scan left it (see [`ChangeIndex::refresh_arrivals`]).
pub fn refresh_folder(
    index: &ChangeIndex,
    coll: Collection,
    store: &dyn MailStore,
    folder: &FolderName,
) -> Result<Refreshed, RefreshError<StoreError>> {
    let stamps = store.stamps(folder).map_err(RefreshError::Scan)?;
    index.refresh_arrivals(
        coll,
        stamps.whole,
        stamps.settled,
        || scan_new(store, folder),
        || scan_cur(store, folder),
    )
}

/// What a rescan of `folder` would record, without recording it (see
/// [`ChangeIndex::preview_arrivals_first`]): new/ is read first, and a message in it that the
/// index does not know, received at `arrivals_since` or later, settles the question without
/// taking the folder's stamps or reading cur/, which holds nearly all of a big folder; so does a
/// cur/ the last refresh left as it is.
pub fn preview_folder(
    index: &ChangeIndex,
    coll: Collection,
    store: &dyn MailStore,
    folder: &FolderName,
    arrivals_since: u64,
) -> Result<Preview, RefreshError<StoreError>> {
    index.preview_arrivals_first(
        coll,
        arrivals_since,
        || store.stamps(folder).map(|s| (s.whole, s.settled)),
        || scan_new(store, folder),
        || scan_cur(store, folder),
    )
}

/// The messages in new/ as scan entries.
fn scan_new(store: &dyn MailStore, folder: &FolderName) -> Result<Vec<ScanEntry>, StoreError> {
    scan_listed(store, folder, store.list_new(folder)?)
}

/// The messages in cur/ as scan entries.
fn scan_cur(store: &dyn MailStore, folder: &FolderName) -> Result<Vec<ScanEntry>, StoreError> {
    scan_listed(store, folder, store.list_cur(folder)?)
}

/// Turns listed messages into scan entries. Only messages whose names carry no
/// time are stat'ed; one that vanished meanwhile is left out.
fn scan_listed(
    store: &dyn MailStore,
    folder: &FolderName,
    listed: Vec<Listed>,
) -> Result<Vec<ScanEntry>, StoreError> {
    let mut out = Vec::with_capacity(listed.len());
    for entry in listed {
        let time = match entry.key.received_hint() {
            Some(time) => time,
            None => match store.info(folder, &entry.to_ref()) {
                Ok(info) => info.received,
                Err(StoreError::MessageNotFound(_)) => continue,
                Err(e) => return Err(e),
            },
        };
        out.push(ScanEntry {
            version: entry.flags.to_string(),
            time,
            key: entry.key.into_string(),
        });
    }
    Ok(out)
}

/// The store's handle on an indexed message.
pub fn message_ref(item: &Item) -> Result<MessageRef, StoreError> {
    Ok(MessageRef {
        key: MessageKey::parse(&item.key)?,
        flags: Flags::parse(&item.version),
    })
}

/// Records a message easd stored or re-flagged (append, move target, flag change).
pub fn note_message(
    index: &ChangeIndex,
    coll: Collection,
    msg: &MessageRef,
) -> Result<Noted, IndexError> {
    let time = msg.key.received_hint().unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let version = msg.flags.to_string();
    index.note_local_change(
        coll,
        LocalChange::Upsert {
            key: msg.key.as_str(),
            version: &version,
            time,
        },
    )
}

/// Records a message easd deleted or moved away.
pub fn note_removed(
    index: &ChangeIndex,
    coll: Collection,
    key: &MessageKey,
) -> Result<Noted, IndexError> {
    index.note_local_change(coll, LocalChange::Remove { key: key.as_str() })
}

#[cfg(test)]
mod tests;
