//! The Contacts, Calendar, Tasks and Notes classes over vdir collections: an item is one
//! .vcf/.ics file, its index key the file name, its version the file's inode/mtime/size, and
//! its time what FilterType compares (an event's last end, an open task's "forever", a card's
//! or note's mtime). Files a device could not be shown (no VEVENT in a calendar, not a vCard)
//! are left out of the index. Device changes are merged into the stored file so properties
//! EAS does not know survive (items/merge.rs), written atomically and recorded in the change
//! index at once, like mail.

use super::backend::{BackendError, Created, ItemBackend};
use super::{Account, Folder, Source};
use crate::ProtocolVersion;
use crate::items::component::Document;
use crate::items::email::EmailOptions;
use crate::items::pim::{ConvertOptions, ItemError};
use crate::items::uid::{item_uid, new_uid};
use crate::items::{calendar, contact, note, task};
use crate::state::index::{Item, LocalChange, Preview, RefreshError, ScanEntry};
use crate::store::vdir::{CollectionName, Href, PimError, PimKind, PimStore, Stored};
use crate::wbxml::{Element, Tag};
use std::sync::Arc;

/// The time of a task that is not complete: after every FilterType's window start, so only
/// "incomplete tasks" (FilterType 8) can be told from the rest.
pub const OPEN_TASK: u64 = i64::MAX as u64;

/// The collection's store name when the folder is a PIM collection.
pub fn dav_source(folder: &Folder) -> Result<(&CollectionName, PimKind), BackendError> {
    match &folder.source {
        Source::Dav(name, kind) => Ok((name, *kind)),
        Source::Mail(_) | Source::Files => Err(BackendError::Unsupported),
    }
}

/// The change-index collection name of a vdir collection, e.g. `dav:calendar`.
pub fn collection_name(name: &CollectionName) -> String {
    format!("dav:{name}")
}

impl From<PimError> for BackendError {
    fn from(e: PimError) -> Self {
        match e {
            PimError::ItemNotFound(_) | PimError::CollectionNotFound(_) => BackendError::NotFound,
            PimError::TooLarge(h) => BackendError::Invalid(format!("item {h} is too large")),
            e => BackendError::Pim(e),
        }
    }
}

impl From<ItemError> for BackendError {
    /// An occurrence the series does not have is an object not found (Sync Status 8), like an
    /// unknown ServerId; anything else is the client's data.
    fn from(e: ItemError) -> Self {
        match e {
            ItemError::NoSuchInstance(_) => BackendError::NotFound,
            e => BackendError::Invalid(e.to_string()),
        }
    }
}

/// The FilterType time of an item's text, or `None` when a device could not be shown it.
pub fn item_time(kind: PimKind, text: &str, mtime: u64) -> Option<u64> {
    match kind {
        PimKind::Calendar => {
            let (_, end) = calendar::event_time_range(text)?;
            Some(u64::try_from(end).unwrap_or(0))
        }
        PimKind::Tasks => {
            let doc = Document::parse(text).into_calendar();
            let todo = doc
                .components
                .iter()
                .flat_map(|c| c.children.iter())
                .find(|c| c.is("VTODO"))?;
            let done = todo
                .text("STATUS")
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("COMPLETED"))
                || todo.prop("COMPLETED").is_some();
            Some(if done { mtime } else { OPEN_TASK })
        }
        PimKind::Contacts => {
            let doc = Document::parse(text);
            doc.components
                .iter()
                .any(|c| c.is("VCARD"))
                .then_some(mtime)
        }
        PimKind::Notes => {
            let doc = Document::parse(text).into_calendar();
            doc.components
                .iter()
                .flat_map(|c| c.children.iter())
                .any(|c| c.is("VJOURNAL"))
                .then_some(mtime)
        }
    }
}

/// A file's text as a device's ApplicationData.
fn to_eas(kind: PimKind, text: &str, opts: &ConvertOptions) -> Result<Element, ItemError> {
    match kind {
        PimKind::Contacts => contact::contact_to_eas(text, opts),
        PimKind::Calendar => calendar::event_to_eas(text, opts),
        PimKind::Tasks => task::task_to_eas(text, opts),
        PimKind::Notes => note::note_to_eas(text, opts),
    }
}

/// A device's ApplicationData merged into the stored text, or a new item's text.
fn merge_eas(
    kind: PimKind,
    data: &Element,
    existing: Option<&str>,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    match kind {
        PimKind::Contacts => contact::contact_from_eas(data, existing, opts),
        PimKind::Calendar => calendar::event_from_eas(data, existing, opts),
        PimKind::Tasks => task::task_from_eas(data, existing, opts),
        PimKind::Notes => note::note_from_eas(data, existing, opts),
    }
}

/// A file stem from an Add's origin: FNV-1a, stable across restarts and builds.
fn origin_stem(origin: &str) -> String {
    let hash = origin.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("eas-add-{hash:016x}")
}

pub struct PimBackend<'a> {
    account: &'a Account<'a>,
    store: Arc<dyn PimStore>,
    version: ProtocolVersion,
    supported: Option<Vec<Tag>>,
}

impl<'a> PimBackend<'a> {
    pub fn new(
        account: &'a Account<'a>,
        store: Arc<dyn PimStore>,
        version: ProtocolVersion,
    ) -> PimBackend<'a> {
        PimBackend {
            account,
            store,
            version,
            supported: None,
        }
    }

    pub fn with_supported(mut self, supported: Option<Vec<Tag>>) -> PimBackend<'a> {
        self.supported = supported;
        self
    }

    /// The conversion options for this account and request.
    fn convert_options(&self, version: ProtocolVersion, email: &EmailOptions) -> ConvertOptions {
        let mut o = ConvertOptions::new(version);
        o.time_zone = self.account.app.config.dav.zone();
        o.user_addresses = vec![self.account.user.to_string()];
        o.supported = self.supported.clone();
        o.body_preferences = if version < ProtocolVersion::V12_0 {
            vec![(1, email.truncation)]
        } else {
            email
                .body_preferences
                .iter()
                .map(|p| (p.body_type.as_u8(), p.truncation_size))
                .collect()
        };
        o
    }

    fn href(item: &Item) -> Result<Href, BackendError> {
        Href::parse(&item.key).map_err(|_| BackendError::NotFound)
    }

    /// Lists a collection as scan entries. Unchanged files keep the time the index has; new
    /// or changed ones are read. Files that vanished meanwhile or that no device could be
    /// shown are left out.
    fn scan(&self, folder: &Folder) -> Result<Vec<ScanEntry>, PimError> {
        let index = &self.account.app.index;
        let (name, kind) = match &folder.source {
            Source::Dav(name, kind) => (name, *kind),
            Source::Mail(_) | Source::Files => return Ok(Vec::new()),
        };
        let listed = self.store.list(name)?;
        let mut out = Vec::with_capacity(listed.len());
        for entry in listed {
            let known = index
                .uid_of(folder.coll, entry.href.as_str())
                .ok()
                .flatten()
                .and_then(|uid| index.item(folder.coll, uid).ok().flatten())
                .filter(|item| item.version == entry.version);
            let time = match known {
                Some(item) => item.time,
                None => {
                    let text = match self.store.read(name, &entry.href) {
                        Ok(t) => t,
                        Err(PimError::ItemNotFound(_)) => continue,
                        Err(PimError::TooLarge(h)) => {
                            log::warn!("{}: {name}/{h} is too large to sync", self.account.user);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    match item_time(kind, &text, entry.mtime) {
                        Some(t) => t,
                        None => {
                            log::debug!(
                                "{}: {name}/{} has nothing a device can show",
                                self.account.user,
                                entry.href
                            );
                            continue;
                        }
                    }
                }
            };
            out.push(ScanEntry {
                key: entry.href.as_str().to_string(),
                version: entry.version,
                time,
            });
        }
        Ok(out)
    }

    /// Records a file easd just wrote.
    fn note_stored(
        &self,
        folder: &Folder,
        stored: &Stored,
        text: &str,
    ) -> Result<Created, BackendError> {
        let (_, kind) = dav_source(folder)?;
        let time = item_time(kind, text, stored.mtime).unwrap_or(stored.mtime);
        let noted = self.account.app.index.note_local_change(
            folder.coll,
            LocalChange::Upsert {
                key: stored.href.as_str(),
                version: &stored.version,
                time,
            },
        )?;
        Ok(Created {
            uid: noted.uid.ok_or(BackendError::NotFound)?,
            modseq: noted.modseq,
        })
    }

    /// Deletes the file at `href` (already gone is fine) and records the removal.
    fn remove_stored(&self, folder: &Folder, href: &Href) -> Result<(), BackendError> {
        let (name, _) = dav_source(folder)?;
        match self.store.delete(name, href) {
            Ok(()) | Err(PimError::ItemNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.account
            .app
            .index
            .note_local_change(folder.coll, LocalChange::Remove { key: href.as_str() })?;
        Ok(())
    }

    /// Notes exist from 14.0 on.
    fn check_class(&self, kind: PimKind) -> Result<(), BackendError> {
        if kind == PimKind::Notes && self.version < ProtocolVersion::V14_0 {
            return Err(BackendError::Unsupported);
        }
        Ok(())
    }

    /// Moves an item to another collection of the same kind (a phone moving an event to
    /// another calendar): written there first, then removed here.
    pub fn move_item(
        &self,
        from: &Folder,
        item: &Item,
        to: &Folder,
    ) -> Result<Created, BackendError> {
        let (src, src_kind) = dav_source(from)?;
        let (dst, dst_kind) = dav_source(to)?;
        if src_kind != dst_kind {
            return Err(BackendError::Unsupported);
        }
        let href = Self::href(item)?;
        let text = self.store.read(src, &href)?;
        let uid = item_uid(&text).unwrap_or_else(new_uid);
        let stored = self.store.create(dst, &uid, &text)?;
        let created = self.note_stored(to, &stored, &text)?;
        self.remove_stored(from, &href)?;
        Ok(created)
    }

    /// Rewrites a stored item with `edit` applied to its text.
    fn rewrite(
        &self,
        folder: &Folder,
        item: &Item,
        edit: impl FnOnce(&str, &ConvertOptions) -> Result<String, ItemError>,
    ) -> Result<u64, BackendError> {
        let (name, _) = dav_source(folder)?;
        let href = Self::href(item)?;
        let existing = self.store.read(name, &href)?;
        let opts = self.convert_options(self.version, &EmailOptions::new(self.version));
        let text = edit(&existing, &opts)?;
        if text == existing {
            return Ok(item.modseq);
        }
        let stored = self.store.replace(name, &href, &text)?;
        Ok(self.note_stored(folder, &stored, &text)?.modseq)
    }
}

impl ItemBackend for PimBackend<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        let (name, _) = dav_source(folder)?;
        let stamp = self.store.stamp(name)?;
        match self
            .account
            .app
            .index
            .refresh(folder.coll, stamp, || self.scan(folder))
        {
            Ok(r) => Ok(r.modseq),
            Err(RefreshError::Scan(e)) => Err(e.into()),
            Err(RefreshError::Index(e)) => Err(e.into()),
        }
    }

    fn preview(&self, folder: &Folder, _arrivals_since: u64) -> Result<Preview, BackendError> {
        let (name, _) = dav_source(folder)?;
        let stamp = self.store.stamp(name)?;
        match self
            .account
            .app
            .index
            .preview(folder.coll, stamp, || self.scan(folder))
        {
            Ok(p) => Ok(p),
            Err(RefreshError::Scan(e)) => Err(e.into()),
            Err(RefreshError::Index(e)) => Err(e.into()),
        }
    }

    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        _server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        let (name, kind) = dav_source(folder)?;
        self.check_class(kind)?;
        let text = self.store.read(name, &Self::href(item)?)?;
        let convert = self.convert_options(opts.version, opts);
        Ok(to_eas(kind, &text, &convert)?)
    }

    /// A PIM Change carries the whole item: devices replace what they hold with it.
    fn render_change(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        self.render(folder, item, server_id, opts)
    }

    fn change(&self, folder: &Folder, item: &Item, data: &Element) -> Result<u64, BackendError> {
        let (_, kind) = dav_source(folder)?;
        self.check_class(kind)?;
        self.rewrite(folder, item, |existing, opts| {
            merge_eas(kind, data, Some(existing), opts)
        })
    }

    fn delete(
        &self,
        folder: &Folder,
        item: &Item,
        _as_move: bool,
    ) -> Result<Option<u32>, BackendError> {
        self.remove_stored(folder, &Self::href(item)?)?;
        Ok(None)
    }

    /// The file is named after `origin`, so an Add written before a crash and repeated after
    /// it finds its file instead of writing a second one.
    fn add(&self, folder: &Folder, data: &Element, origin: &str) -> Result<Created, BackendError> {
        let (name, kind) = dav_source(folder)?;
        self.check_class(kind)?;
        let stem = origin_stem(origin);
        let ext = if kind == PimKind::Contacts {
            "vcf"
        } else {
            "ics"
        };
        let href = Href::parse(&format!("{stem}.{ext}")).map_err(BackendError::from)?;
        match self.store.read(name, &href) {
            Ok(text) => {
                log::info!(
                    "{}: Add {origin} was stored before a restart as {name}/{href}",
                    self.account.user
                );
                self.refresh(folder)?;
                let index = &self.account.app.index;
                let item = index
                    .uid_of(folder.coll, href.as_str())?
                    .and_then(|uid| index.item(folder.coll, uid).ok().flatten());
                return match item {
                    Some(item) => Ok(Created {
                        uid: item.uid,
                        modseq: item.modseq,
                    }),
                    None => Err(BackendError::Invalid(format!(
                        "{name}/{href} cannot be shown to a device: {} bytes",
                        text.len()
                    ))),
                };
            }
            Err(PimError::ItemNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let opts = self.convert_options(self.version, &EmailOptions::new(self.version));
        let text = merge_eas(kind, data, None, &opts)?;
        let stored = self.store.create(name, &stem, &text)?;
        self.note_stored(folder, &stored, &text)
    }

    fn change_instance(
        &self,
        folder: &Folder,
        item: &Item,
        instance_id: &str,
        data: &Element,
    ) -> Result<u64, BackendError> {
        let (_, kind) = dav_source(folder)?;
        if kind != PimKind::Calendar {
            return Err(BackendError::Unsupported);
        }
        self.rewrite(folder, item, |existing, opts| {
            calendar::event_instance_from_eas(existing, instance_id, data, opts)
        })
    }

    fn delete_instance(
        &self,
        folder: &Folder,
        item: &Item,
        instance_id: &str,
    ) -> Result<u64, BackendError> {
        let (_, kind) = dav_source(folder)?;
        if kind != PimKind::Calendar {
            return Err(BackendError::Unsupported);
        }
        self.rewrite(folder, item, |existing, opts| {
            calendar::event_delete_instance(existing, instance_id, opts)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_times() {
        let ev = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        assert_eq!(item_time(PimKind::Calendar, ev, 5), Some(1_772_362_800));
        let open = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(item_time(PimKind::Tasks, open, 5), Some(OPEN_TASK));
        let done = open.replace("SUMMARY:x", "STATUS:COMPLETED");
        assert_eq!(item_time(PimKind::Tasks, &done, 5), Some(5));
        assert_eq!(item_time(PimKind::Calendar, open, 5), None);
        assert_eq!(item_time(PimKind::Contacts, ev, 5), None);
        assert_eq!(
            item_time(PimKind::Contacts, "BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\n", 7),
            Some(7)
        );
        assert_eq!(item_time(PimKind::Notes, open, 5), None);
    }
}
