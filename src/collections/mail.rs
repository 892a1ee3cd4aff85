//! The Email class over Maildir: items are message files, their version is the flag letters,
//! Read and Flag map to `S` and `F`, deletes move to Trash, and 16.x drafts are written as new
//! files (an edited draft replaces its file and keeps its ServerId). Every write is recorded in
//! the change index right away so other devices see it without a rescan and the writing device
//! does not get its own change echoed back.

use super::backend::{BackendError, Created, ItemBackend};
use super::{Account, Folder, FolderType, Source};
use crate::ProtocolVersion;
use crate::items::eas_datetime;
use crate::items::email::{
    DraftInput, EmailOptions, LastVerb, MessageMeta, RecordedVerb, draft_to_mime,
    to_application_data,
};
use crate::state::index::RefreshError;
use crate::state::index::{IndexError, Item, Preview};
use crate::state::mail::{message_ref, note_message, note_removed, preview_folder, refresh_folder};
use crate::state::verb_times;
use crate::store::{FlagUpdate, Flags, FolderName, MessageRef, StoreError};
use crate::wbxml::Element;
use crate::wbxml::tags::{airsync, airsyncbase, email, email2};
use std::time::{SystemTime, UNIX_EPOCH};

/// FlagStatus values (MS-ASEMAIL 2.2.2.36): 0 cleared, 1 complete, 2 active.
const FLAG_ACTIVE: &str = "2";

pub struct MailBackend<'a> {
    account: &'a Account<'a>,
}

fn mail_folder(folder: &Folder) -> Result<&FolderName, BackendError> {
    match &folder.source {
        Source::Mail(name) => Ok(name),
        Source::Dav(..) | Source::Files => Err(BackendError::Unsupported),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The message metadata the email converter wants, from the index entry.
pub fn meta(item: &Item, server_id: &str) -> MessageMeta {
    let flags = Flags::parse(&item.version);
    MessageMeta {
        read: flags.contains(Flags::SEEN),
        flagged: flags.contains(Flags::FLAGGED),
        answered: flags.contains(Flags::REPLIED),
        forwarded: flags.contains(Flags::PASSED),
        draft: flags.contains(Flags::DRAFT),
        received: i64::try_from(item.time).unwrap_or(i64::MAX),
        last_verb: None,
        file_ref_base: server_id.to_string(),
    }
}

/// The flag change a client's ApplicationData asks for: Read and Flag/FlagStatus.
pub fn flag_update(data: &Element) -> FlagUpdate {
    let mut update = FlagUpdate::default();
    match data.child_text(email::READ).map(str::trim) {
        Some("1") => update.set = update.set.union(Flags::SEEN),
        Some("0") => update.clear = update.clear.union(Flags::SEEN),
        _ => {}
    }
    if let Some(flag) = data.first(email::FLAG) {
        if flag.child_text(email::STATUS).map(str::trim) == Some(FLAG_ACTIVE) {
            update.set = update.set.union(Flags::FLAGGED);
        } else {
            update.clear = update.clear.union(Flags::FLAGGED);
        }
    }
    update
}

/// Whether a Change edits a draft's content (MS-ASEMAIL 16.0), not just its Read and Flag.
fn edits_content(data: &Element) -> bool {
    [
        email::TO,
        email::CC,
        email::SUBJECT,
        email::IMPORTANCE,
        email2::BCC,
        airsyncbase::BODY,
        airsyncbase::ATTACHMENTS,
    ]
    .into_iter()
    .any(|tag| data.first(tag).is_some())
}

impl<'a> MailBackend<'a> {
    pub fn new(account: &'a Account<'a>) -> MailBackend<'a> {
        MailBackend { account }
    }

    /// The From of drafts the user writes: their configured name and address.
    fn sender(&self) -> String {
        let user = self.account.user;
        let name = self
            .account
            .app
            .config
            .user(user)
            .map(|u| u.name.as_str())
            .filter(|n| !n.is_empty());
        match name {
            Some(n) => format!("\"{}\" <{user}>", n.replace(['"', '\\'], "")),
            None => user.to_string(),
        }
    }

    /// Rewrites a draft with the client's edits merged into the stored message: the new file
    /// replaces the old one and takes over its uid, so the ServerId stays.
    fn edit_draft(
        &self,
        folder: &Folder,
        item: &Item,
        data: &Element,
    ) -> Result<u64, BackendError> {
        let old = message_ref(item)?;
        let raw = self.raw(folder, item)?;
        let from = self.sender();
        let draft = draft_to_mime(
            data,
            &DraftInput {
                from: &from,
                date: now(),
                existing: Some(&raw),
            },
        )
        .map_err(|e| BackendError::Invalid(e.to_string()))?;
        let flags = flag_update(data).apply(old.flags).union(Flags::DRAFT);
        let store = &self.account.store;
        let stored = store.append(mail_folder(folder)?, &draft.mime, flags)?;
        match store.delete(mail_folder(folder)?, &old) {
            Ok(()) | Err(crate::store::StoreError::MessageNotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let time = stored
            .key
            .received_hint()
            .unwrap_or_else(|| u64::try_from(now()).unwrap_or(0));
        Ok(self.account.app.index.rekey(
            folder.coll,
            item.uid,
            stored.key.as_str(),
            &stored.flags.to_string(),
            time,
        )?)
    }

    /// The raw message of an item.
    pub fn raw(&self, folder: &Folder, item: &Item) -> Result<Vec<u8>, BackendError> {
        Ok(self
            .account
            .store
            .read(mail_folder(folder)?, &message_ref(item)?)?)
    }

    /// The first `max` bytes of an item's raw message: what the search index reads of it, so a
    /// message with big attachments costs a bounded read.
    pub fn raw_start(
        &self,
        folder: &Folder,
        item: &Item,
        max: u64,
    ) -> Result<Vec<u8>, BackendError> {
        use std::io::Read;
        let msg = message_ref(item)?;
        let file = self.account.store.open(mail_folder(folder)?, &msg)?;
        // Room for the whole message up front saves read_to_end its probing read: one syscall
        // of the five a message costs a search that reads files.
        let hint = msg
            .key
            .size_hint()
            .map_or(0, |s| s.min(max).saturating_add(1));
        let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
        file.take(max)
            .read_to_end(&mut out)
            .map_err(|source| StoreError::Io {
                op: "read",
                path: item.key.clone().into(),
                source,
            })?;
        Ok(out)
    }

    /// Moves a message to another mail folder keeping its flags; returns it as it is there now.
    pub fn move_item(
        &self,
        from: &Folder,
        item: &Item,
        to: &Folder,
    ) -> Result<Created, BackendError> {
        let index = &self.account.app.index;
        let msg = message_ref(item)?;
        let moved = self
            .account
            .store
            .move_to(mail_folder(from)?, &msg, mail_folder(to)?)?;
        note_removed(index, from.coll, &msg.key)?;
        let noted = note_message(index, to.coll, &moved)?;
        Ok(Created {
            uid: noted.uid.ok_or(BackendError::NotFound)?,
            modseq: noted.modseq,
        })
    }

    /// How and when the message was last replied to or forwarded through easd; a failure to
    /// read it only leaves that out.
    fn recorded_verb(&self, item: &Item) -> Option<RecordedVerb> {
        match verb_times::get(&self.account.app.db, self.account.user, &item.key) {
            Ok(t) => t.and_then(|(code, at)| {
                Some(RecordedVerb {
                    verb: LastVerb::from_code(code)?,
                    at: i64::try_from(at).unwrap_or(i64::MAX),
                })
            }),
            Err(e) => {
                log::warn!("{}: {e}", self.account.user);
                None
            }
        }
    }

    /// Drops the user's reply and forward times of messages no longer in any of their folders;
    /// returns how many went. Lists every folder, so it runs only when `verb_times` says it is due.
    pub fn prune_verb_times(&self) -> Result<usize, BackendError> {
        let store = &self.account.store;
        let mut live = std::collections::HashSet::new();
        for folder in store.folders()? {
            live.extend(
                store
                    .list(&folder.name)?
                    .into_iter()
                    .map(|m| m.key.into_string()),
            );
        }
        verb_times::prune(&self.account.app.db, self.account.user, |key| {
            live.contains(key)
        })
        .map_err(|e| BackendError::Index(IndexError::State(e)))
    }

    /// Stores a new message with `flags` (a sent copy) and records it in the change index.
    pub fn append(
        &self,
        folder: &Folder,
        bytes: &[u8],
        flags: Flags,
    ) -> Result<Created, BackendError> {
        let stored = self
            .account
            .store
            .append(mail_folder(folder)?, bytes, flags)?;
        let noted = note_message(&self.account.app.index, folder.coll, &stored)?;
        Ok(Created {
            uid: noted.uid.ok_or(BackendError::NotFound)?,
            modseq: noted.modseq,
        })
    }

    /// Changes a message's flags on disk (answered, forwarded) and records the change, so every
    /// device's next Sync reports it; returns the new modseq.
    pub fn update_flags(
        &self,
        folder: &Folder,
        item: &Item,
        update: FlagUpdate,
    ) -> Result<u64, BackendError> {
        let msg = message_ref(item)?;
        let flags = self
            .account
            .store
            .set_flags(mail_folder(folder)?, &msg, update)?;
        let noted = note_message(
            &self.account.app.index,
            folder.coll,
            &MessageRef {
                key: msg.key,
                flags,
            },
        )?;
        Ok(noted.modseq)
    }

    /// Deletes every message of a folder (and with `subfolders` its subfolders).
    pub fn empty(&self, folder: &Folder, subfolders: bool) -> Result<(), BackendError> {
        self.account
            .store
            .empty_folder(mail_folder(folder)?, subfolders)?;
        self.refresh(folder)?;
        Ok(())
    }
}

impl ItemBackend for MailBackend<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        let index = &self.account.app.index;
        match refresh_folder(
            index,
            folder.coll,
            &*self.account.store,
            mail_folder(folder)?,
        ) {
            Ok(r) => {
                self.account
                    .app
                    .search
                    .poke(self.account.user, folder, r.modseq);
                Ok(r.modseq)
            }
            Err(RefreshError::Scan(e)) => Err(e.into()),
            Err(RefreshError::Index(e)) => Err(e.into()),
        }
    }

    fn preview(&self, folder: &Folder, arrivals_since: u64) -> Result<Preview, BackendError> {
        let index = &self.account.app.index;
        match preview_folder(
            index,
            folder.coll,
            &*self.account.store,
            mail_folder(folder)?,
            arrivals_since,
        ) {
            Ok(p) => Ok(p),
            Err(RefreshError::Scan(e)) => Err(e.into()),
            Err(RefreshError::Index(e)) => Err(e.into()),
        }
    }

    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        let raw = self.raw(folder, item)?;
        let mut meta = meta(item, server_id);
        if meta.answered || meta.forwarded {
            meta.last_verb = self.recorded_verb(item);
        }
        Ok(to_application_data(&raw, &meta, opts))
    }

    fn render_change(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        // A draft may have been edited, not only flagged: send it whole (16.x draft sync).
        if folder.kind == FolderType::Drafts && opts.version >= ProtocolVersion::V16_0 {
            return self.render(folder, item, server_id, opts);
        }
        let flags = Flags::parse(&item.version);
        let read = if flags.contains(Flags::SEEN) {
            "1"
        } else {
            "0"
        };
        let mut app = Element::new(airsync::APPLICATION_DATA).with_text(email::READ, read);
        if opts.version >= ProtocolVersion::V12_0 {
            app.push(if flags.contains(Flags::FLAGGED) {
                Element::new(email::FLAG)
                    .with_text(email::STATUS, FLAG_ACTIVE)
                    .with_text(email::FLAG_TYPE, "Flag for follow up")
            } else {
                Element::new(email::FLAG)
            });
        }
        // SmartReply and SmartForward set R and P: 14.0+ clients show the verb (MS-ASEMAIL
        // 2.2.2.44), with the same precedence as a full rendering.
        if opts.version >= ProtocolVersion::V14_0 {
            let (answered, forwarded) = (
                flags.contains(Flags::REPLIED),
                flags.contains(Flags::PASSED),
            );
            let recorded = (answered || forwarded)
                .then(|| self.recorded_verb(item))
                .flatten();
            if let Some((verb, at)) = LastVerb::shown(answered, forwarded, recorded) {
                app.push_text(email2::LAST_VERB_EXECUTED, verb.as_str());
                if let Some(at) = at {
                    app.push_text(email2::LAST_VERB_EXECUTION_TIME, eas_datetime(at));
                }
            }
        }
        Ok(app)
    }

    fn change(&self, folder: &Folder, item: &Item, data: &Element) -> Result<u64, BackendError> {
        if folder.kind == FolderType::Drafts && edits_content(data) {
            return self.edit_draft(folder, item, data);
        }
        let index = &self.account.app.index;
        let msg = message_ref(item)?;
        let update = flag_update(data);
        let flags = self
            .account
            .store
            .set_flags(mail_folder(folder)?, &msg, update)?;
        let noted = note_message(
            index,
            folder.coll,
            &MessageRef {
                key: msg.key,
                flags,
            },
        )?;
        Ok(noted.modseq)
    }

    fn delete(
        &self,
        folder: &Folder,
        item: &Item,
        as_move: bool,
    ) -> Result<Option<u32>, BackendError> {
        let trash = if as_move && folder.kind != FolderType::DeletedItems {
            self.account
                .special(FolderType::DeletedItems)
                .map_err(|e| BackendError::Invalid(e.to_string()))?
        } else {
            None
        };
        match trash {
            Some(trash) => self.move_item(folder, item, &trash).map(|_| Some(trash.id)),
            None => {
                let msg = message_ref(item)?;
                self.account.store.delete(mail_folder(folder)?, &msg)?;
                note_removed(&self.account.app.index, folder.coll, &msg.key)?;
                Ok(None)
            }
        }
    }

    fn add(&self, folder: &Folder, data: &Element, _origin: &str) -> Result<Created, BackendError> {
        if folder.kind != FolderType::Drafts {
            return Err(BackendError::Unsupported);
        }
        let from = self.sender();
        let draft = draft_to_mime(
            data,
            &DraftInput {
                from: &from,
                date: now(),
                existing: None,
            },
        )
        .map_err(|e| BackendError::Invalid(e.to_string()))?;
        let stored = self.account.store.append(
            mail_folder(folder)?,
            &draft.mime,
            Flags::DRAFT.union(Flags::SEEN),
        )?;
        let noted = note_message(&self.account.app.index, folder.coll, &stored)?;
        Ok(Created {
            uid: noted.uid.ok_or(BackendError::NotFound)?,
            modseq: noted.modseq,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_flags_map_to_maildir_letters() {
        let data = Element::new(airsync::APPLICATION_DATA)
            .with_text(email::READ, "1")
            .with(Element::new(email::FLAG).with_text(email::STATUS, "2"));
        let u = flag_update(&data);
        assert_eq!(u.apply(Flags::parse("a")).to_string(), "FSa");
        let data = Element::new(airsync::APPLICATION_DATA)
            .with_text(email::READ, "0")
            .with(Element::new(email::FLAG));
        assert_eq!(
            flag_update(&data).apply(Flags::parse("FRS")).to_string(),
            "R"
        );
        let complete = Element::new(airsync::APPLICATION_DATA)
            .with(Element::new(email::FLAG).with_text(email::STATUS, "1"));
        assert_eq!(
            flag_update(&complete).apply(Flags::parse("FS")).to_string(),
            "S"
        );
        let untouched = Element::new(airsync::APPLICATION_DATA);
        assert_eq!(flag_update(&untouched), FlagUpdate::default());
    }
}
