//! The guide's "GroupWare mail access" (device option `groupware=all-as-mail`): a tasks or notes
//! collection offered to the device as a mail folder, each item rendered as a message
//! (`items::email::pim_message`). One way, server → device: the device's Read and flag changes
//! are taken and forgotten (the item is not a message to mark), its adds and deletes refused.

use super::backend::{BackendError, ItemBackend, one_way_writes};
use super::pim::{PimBackend, dav_source};
use super::{Account, Folder, FolderType};
use crate::ProtocolVersion;
use crate::items::email::pim_message::{PimMessage, PimSource, pim_message};
use crate::items::email::{EmailOptions, MessageMeta, to_application_data};
use crate::state::index::{Item, Preview};
use crate::store::vdir::{Href, PimKind, PimStore};
use crate::wbxml::Element;
use std::sync::Arc;

/// Whether a device with GroupWare mail access sees `kind` as a mail folder.
pub fn shown_as_mail(kind: PimKind) -> bool {
    matches!(kind, PimKind::Tasks | PimKind::Notes)
}

/// The folder as a device with GroupWare mail access sees it: tasks and notes collections
/// become user mail folders; everything else is unchanged.
pub fn as_mail_folder(mut folder: Folder) -> Folder {
    if let super::Source::Dav(_, kind) = &folder.source
        && shown_as_mail(*kind)
    {
        folder.kind = FolderType::UserMail;
    }
    folder
}

pub struct GroupwareMail<'a> {
    /// The collection's own backend keeps the index current.
    pim: PimBackend<'a>,
    store: Arc<dyn PimStore>,
    owner: &'a str,
}

impl<'a> GroupwareMail<'a> {
    pub fn new(
        account: &'a Account<'a>,
        store: Arc<dyn PimStore>,
        version: ProtocolVersion,
    ) -> Self {
        GroupwareMail {
            pim: PimBackend::new(account, store.clone(), version),
            store,
            owner: account.user,
        }
    }
}

impl GroupwareMail<'_> {
    /// The item as the message the device sees.
    fn message(&self, folder: &Folder, item: &Item) -> Result<PimMessage, BackendError> {
        let (name, kind) = dav_source(folder)?;
        let source = match kind {
            PimKind::Tasks => PimSource::Task,
            PimKind::Notes => PimSource::Note,
            PimKind::Contacts | PimKind::Calendar => return Err(BackendError::Unsupported),
        };
        let href = Href::parse(&item.key).map_err(|_| BackendError::NotFound)?;
        let text = self.store.read(name, &href)?;
        // An open task's index time is "forever", not a date.
        let mtime = i64::try_from(item.time)
            .ok()
            .filter(|&t| t < i64::MAX)
            .unwrap_or(0);
        pim_message(&text, source, self.owner, mtime)
            .ok_or_else(|| BackendError::Invalid(format!("{href} has no task or note")))
    }

    /// The raw message, for the attachments its FileReferences name.
    pub fn raw(&self, folder: &Folder, item: &Item) -> Result<Vec<u8>, BackendError> {
        Ok(self.message(folder, item)?.raw)
    }
}

impl ItemBackend for GroupwareMail<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        self.pim.refresh(folder)
    }

    fn preview(&self, folder: &Folder, arrivals_since: u64) -> Result<Preview, BackendError> {
        self.pim.preview(folder, arrivals_since)
    }

    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        let message = self.message(folder, item)?;
        let meta = MessageMeta {
            read: true,
            received: message.date,
            file_ref_base: server_id.to_string(),
            ..MessageMeta::default()
        };
        Ok(to_application_data(&message.raw, &meta, opts))
    }

    one_way_writes!();
}
