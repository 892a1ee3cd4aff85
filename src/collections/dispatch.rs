//! One [`ItemBackend`] for every folder of an account: mail folders go to the Maildir backend,
//! vdir collections to the PIM backend, so the Sync engine and Ping need not care which.

use super::backend::{BackendError, Created, ItemBackend};
use super::files_mail::FilesMail;
use super::groupware_mail::GroupwareMail;
use super::mail::MailBackend;
use super::pim::PimBackend;
use super::pim_view::{self, ConvertedPim};
use super::{Account, Folder, ItemClass, Source};
use crate::ProtocolVersion;
use crate::items::email::EmailOptions;
use crate::state::index::{Item, Preview};
use crate::wbxml::{Element, Tag};

pub struct Backends<'a> {
    mail: MailBackend<'a>,
    pim: Option<PimBackend<'a>>,
    /// Tasks and notes shown as mail folders (GroupWare mail access).
    groupware_mail: Option<GroupwareMail<'a>>,
    /// Tasks shown as events, notes as events or tasks.
    converted: Option<ConvertedPim<'a>>,
    /// The documents folder as mail (GroupWare mail access).
    files: FilesMail<'a>,
}

impl<'a> Backends<'a> {
    pub fn new(account: &'a Account<'a>, version: ProtocolVersion) -> Backends<'a> {
        Backends {
            mail: MailBackend::new(account),
            pim: account
                .pim
                .clone()
                .map(|store| PimBackend::new(account, store, version)),
            groupware_mail: account
                .pim
                .clone()
                .map(|store| GroupwareMail::new(account, store, version)),
            converted: account
                .pim
                .clone()
                .map(|store| ConvertedPim::new(account, store, version)),
            files: FilesMail::new(account),
        }
    }

    /// The Sync `Supported` list of the collection: PIM Changes then leave other elements as
    /// they are stored (ghosting).
    pub fn with_supported(mut self, supported: Option<Vec<Tag>>) -> Backends<'a> {
        self.pim = self.pim.map(|p| p.with_supported(supported));
        self
    }

    /// Moves an item between two folders of the same class.
    pub fn move_item(
        &self,
        from: &Folder,
        item: &Item,
        to: &Folder,
    ) -> Result<Created, BackendError> {
        match (&from.source, &to.source, &self.pim) {
            (Source::Mail(_), Source::Mail(_), _) => self.mail.move_item(from, item, to),
            (Source::Dav(..), Source::Dav(..), Some(pim)) => pim.move_item(from, item, to),
            _ => Err(BackendError::Unsupported),
        }
    }

    /// The raw message behind a mail-class item (a Maildir message, or a task or note rendered
    /// as one), for the attachments its FileReferences name.
    pub fn raw(&self, folder: &Folder, item: &Item) -> Result<Vec<u8>, BackendError> {
        match (&folder.source, &self.groupware_mail) {
            (Source::Mail(_), _) => self.mail.raw(folder, item),
            (Source::Files, _) => self.files.raw(folder, item),
            (Source::Dav(..), Some(g)) if folder.kind.class() == ItemClass::Email => {
                g.raw(folder, item)
            }
            _ => Err(BackendError::NotFound),
        }
    }

    fn pick(&self, folder: &Folder) -> Result<&dyn ItemBackend, BackendError> {
        match (&folder.source, &self.pim) {
            (Source::Mail(_), _) => Ok(&self.mail),
            (Source::Files, _) => Ok(&self.files),
            (Source::Dav(..), Some(_)) if folder.kind.class() == ItemClass::Email => self
                .groupware_mail
                .as_ref()
                .map(|g| g as &dyn ItemBackend)
                .ok_or(BackendError::NotFound),
            (Source::Dav(..), Some(_)) if pim_view::is_converted(folder) => self
                .converted
                .as_ref()
                .map(|c| c as &dyn ItemBackend)
                .ok_or(BackendError::NotFound),
            (Source::Dav(..), Some(pim)) => Ok(pim),
            (Source::Dav(..), None) => Err(BackendError::NotFound),
        }
    }
}

impl ItemBackend for Backends<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        self.pick(folder)?.refresh(folder)
    }

    fn preview(&self, folder: &Folder, arrivals_since: u64) -> Result<Preview, BackendError> {
        self.pick(folder)?.preview(folder, arrivals_since)
    }

    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        self.pick(folder)?.render(folder, item, server_id, opts)
    }

    fn render_change(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        self.pick(folder)?
            .render_change(folder, item, server_id, opts)
    }

    fn change(&self, folder: &Folder, item: &Item, data: &Element) -> Result<u64, BackendError> {
        self.pick(folder)?.change(folder, item, data)
    }

    fn delete(
        &self,
        folder: &Folder,
        item: &Item,
        as_move: bool,
    ) -> Result<Option<u32>, BackendError> {
        self.pick(folder)?.delete(folder, item, as_move)
    }

    fn add(&self, folder: &Folder, data: &Element, origin: &str) -> Result<Created, BackendError> {
        self.pick(folder)?.add(folder, data, origin)
    }

    fn change_instance(
        &self,
        folder: &Folder,
        item: &Item,
        instance_id: &str,
        data: &Element,
    ) -> Result<u64, BackendError> {
        self.pick(folder)?
            .change_instance(folder, item, instance_id, data)
    }

    fn delete_instance(
        &self,
        folder: &Folder,
        item: &Item,
        instance_id: &str,
    ) -> Result<u64, BackendError> {
        self.pick(folder)?
            .delete_instance(folder, item, instance_id)
    }
}
