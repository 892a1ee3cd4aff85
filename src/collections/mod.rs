//! One user's folders of every class as EAS collections with stable numeric ids, and the
//! backend that reads and changes each folder's items. The EAS commands work only through
//! [`Account`] and [`ItemBackend`]; mail is the first backend, vdir classes plug in beside it.

mod backend;
mod dispatch;
pub mod files_mail;
pub mod groupware_mail;
mod hierarchy;
pub mod mail;
pub mod pim;
mod pim_hierarchy;
pub mod pim_view;
pub mod scheduling;

pub use backend::{BackendError, Created, ItemBackend};
pub use dispatch::Backends;

use crate::app::App;
use crate::state::index::{Collection, IndexError};
use crate::state::mail::collection_name;
use crate::state::sync::SyncStateError;
use crate::store::vdir::{CollectionName, PimCollection, PimError, PimKind, PimStore};
use crate::store::{FolderName, FolderRole, MailFolder, MailStore, StoreError};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Folder types of FolderSync (MS-ASCMD 2.2.3.186.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FolderType {
    UserGeneric = 1,
    Inbox = 2,
    Drafts = 3,
    DeletedItems = 4,
    SentItems = 5,
    Outbox = 6,
    Tasks = 7,
    Calendar = 8,
    Contacts = 9,
    Notes = 10,
    Journal = 11,
    UserMail = 12,
    UserCalendar = 13,
    UserContacts = 14,
    UserTasks = 15,
    UserJournal = 16,
    UserNotes = 17,
    Unknown = 18,
    RecipientCache = 19,
}

impl FolderType {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<FolderType> {
        use FolderType::*;
        [
            UserGeneric,
            Inbox,
            Drafts,
            DeletedItems,
            SentItems,
            Outbox,
            Tasks,
            Calendar,
            Contacts,
            Notes,
            Journal,
            UserMail,
            UserCalendar,
            UserContacts,
            UserTasks,
            UserJournal,
            UserNotes,
            Unknown,
            RecipientCache,
        ]
        .into_iter()
        .find(|t| t.code() == code)
    }

    /// The item class a folder of this type syncs.
    pub fn class(self) -> ItemClass {
        use FolderType::*;
        match self {
            Tasks | UserTasks => ItemClass::Tasks,
            Calendar | UserCalendar => ItemClass::Calendar,
            Contacts | UserContacts => ItemClass::Contacts,
            Notes | UserNotes => ItemClass::Notes,
            _ => ItemClass::Email,
        }
    }

    /// Default folders that clients may not rename or delete.
    pub fn is_special(self) -> bool {
        !matches!(
            self,
            FolderType::UserGeneric
                | FolderType::UserMail
                | FolderType::UserCalendar
                | FolderType::UserContacts
                | FolderType::UserTasks
                | FolderType::UserJournal
                | FolderType::UserNotes
        )
    }
}

/// The AirSync `Class` of a collection's items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ItemClass {
    Email,
    Contacts,
    Calendar,
    Tasks,
    Notes,
}

impl ItemClass {
    pub fn name(self) -> &'static str {
        match self {
            ItemClass::Email => "Email",
            ItemClass::Contacts => "Contacts",
            ItemClass::Calendar => "Calendar",
            ItemClass::Tasks => "Tasks",
            ItemClass::Notes => "Notes",
        }
    }
}

/// Where a folder's items live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Mail(FolderName),
    /// A vdir collection and what it holds.
    Dav(CollectionName, PimKind),
    /// The user's documents folder (`dav.files`), shown as mail to GroupWare mail access only.
    Files,
}

/// One folder as FolderSync shows it and the commands address it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folder {
    pub coll: Collection,
    pub id: u32,
    /// 0 at the top level.
    pub parent: u32,
    pub name: String,
    pub kind: FolderType,
    pub source: Source,
    /// The directory's identity, to recognise it after another program renamed it.
    pub identity: Option<u64>,
}

/// Why a user's folders could not be read or changed.
#[derive(Debug)]
pub enum AccountError {
    Store(StoreError),
    Pim(PimError),
    Index(IndexError),
    State(SyncStateError),
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::Store(e) => e.fmt(f),
            AccountError::Pim(e) => e.fmt(f),
            AccountError::Index(e) => write!(f, "change index: {e}"),
            AccountError::State(e) => write!(f, "sync state: {e}"),
        }
    }
}

impl std::error::Error for AccountError {}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        AccountError::Store(e)
    }
}

impl From<PimError> for AccountError {
    fn from(e: PimError) -> Self {
        AccountError::Pim(e)
    }
}

impl From<IndexError> for AccountError {
    fn from(e: IndexError) -> Self {
        AccountError::Index(e)
    }
}

impl From<SyncStateError> for AccountError {
    fn from(e: SyncStateError) -> Self {
        AccountError::State(e)
    }
}

/// A user's data as the EAS commands see it.
pub struct Account<'a> {
    pub app: &'a App,
    pub user: &'a str,
    pub store: Arc<dyn MailStore>,
    /// `None` when the user's vdir root cannot be opened: mail keeps working (logged once
    /// per request), and PIM collections are neither listed nor forgotten.
    pub pim: Option<Arc<dyn PimStore>>,
}

/// The prefix of mail collection names in the change index.
const MAIL_PREFIX: &str = "mail:";
/// The prefix of vdir collection names in the change index.
const DAV_PREFIX: &str = "dav:";

/// FolderSync's type of a vdir collection: the default ones get the default types.
fn dav_type(c: &PimCollection) -> FolderType {
    match (c.kind, c.is_default()) {
        (PimKind::Contacts, true) => FolderType::Contacts,
        (PimKind::Calendar, true) => FolderType::Calendar,
        (PimKind::Tasks, true) => FolderType::Tasks,
        (PimKind::Notes, true) => FolderType::Notes,
        (PimKind::Contacts, false) => FolderType::UserContacts,
        (PimKind::Calendar, false) => FolderType::UserCalendar,
        (PimKind::Tasks, false) => FolderType::UserTasks,
        (PimKind::Notes, false) => FolderType::UserNotes,
    }
}

fn mail_type(role: FolderRole) -> FolderType {
    match role {
        FolderRole::Inbox => FolderType::Inbox,
        FolderRole::Drafts => FolderType::Drafts,
        FolderRole::Sent => FolderType::SentItems,
        FolderRole::Trash => FolderType::DeletedItems,
        FolderRole::Junk | FolderRole::Normal => FolderType::UserMail,
    }
}

impl<'a> Account<'a> {
    pub fn open(app: &'a App, user: &'a str) -> Result<Account<'a>, AccountError> {
        let pim = match app.pim_store(user) {
            Ok(p) => Some(p),
            Err(e) => {
                log::error!("{user}: PIM collections unavailable: {e}");
                None
            }
        };
        Ok(Account {
            app,
            user,
            store: app.mail_store(user)?,
            pim,
        })
    }

    /// Every folder, INBOX first, parents before children. A folder seen for the first time gets
    /// a new collection, unless it is a known folder another program renamed: then the
    /// collection follows it and keeps its id.
    pub fn folders(&self) -> Result<Vec<Folder>, AccountError> {
        let mail = self.store.folders()?;
        let mut known: HashMap<String, Collection> = self
            .app
            .index
            .collections(self.user)?
            .into_iter()
            .map(|(c, n)| (n, c))
            .collect();
        let mut out: Vec<Folder> = Vec::with_capacity(mail.len());
        for f in &mail {
            let name = collection_name(&f.name);
            let coll = match known.get(&name) {
                Some(c) => *c,
                None => {
                    let c = self.adopt_or_create(&mail, &known, f, &name)?;
                    known.insert(name, c);
                    c
                }
            };
            let parent = f
                .parent
                .as_ref()
                .and_then(|p| known.get(&collection_name(p)))
                .map_or(0, |c| c.id().0);
            out.push(Folder {
                coll,
                id: coll.id().0,
                parent,
                name: f.display.clone(),
                kind: mail_type(f.role),
                source: Source::Mail(f.name.clone()),
                identity: f.identity,
            });
        }
        if let Some(pim) = &self.pim {
            for c in pim.collections()? {
                let name = pim::collection_name(&c.name);
                let coll = match known.get(&name) {
                    Some(c) => *c,
                    None => {
                        let coll = self.app.index.collection(self.user, &name)?;
                        known.insert(name, coll);
                        coll
                    }
                };
                out.push(Folder {
                    coll,
                    id: coll.id().0,
                    parent: 0,
                    name: c.display.clone(),
                    kind: dav_type(&c),
                    source: Source::Dav(c.name.clone(), c.kind),
                    identity: c.identity,
                });
            }
        }
        if self.files().is_ok_and(|d| d.exists()) {
            let coll = match known.get(files_mail::COLLECTION_NAME) {
                Some(c) => *c,
                None => self
                    .app
                    .index
                    .collection(self.user, files_mail::COLLECTION_NAME)?,
            };
            out.push(Folder {
                coll,
                id: coll.id().0,
                parent: 0,
                name: files_mail::DISPLAY_NAME.to_string(),
                kind: FolderType::UserMail,
                source: Source::Files,
                identity: None,
            });
        }
        Ok(out)
    }

    /// The user's documents folder (it may not exist).
    pub fn files(&self) -> Result<crate::store::files::FileDir, PimError> {
        Ok(crate::store::files::FileDir::new(App::files_root(
            &self.app.config,
            self.user,
        )?))
    }

    /// The collection of a folder new to the index: a vanished mail collection whose directory
    /// had the same identity (a rename by another program), else a fresh one.
    fn adopt_or_create(
        &self,
        live: &[MailFolder],
        known: &HashMap<String, Collection>,
        folder: &MailFolder,
        name: &str,
    ) -> Result<Collection, AccountError> {
        let index = &self.app.index;
        if let Some(identity) = folder.identity {
            for (old, coll) in known {
                let vanished = old.starts_with(MAIL_PREFIX)
                    && !live.iter().any(|f| &collection_name(&f.name) == old);
                if vanished && index.identity(*coll)? == Some(identity) {
                    index.rename_collection(*coll, name)?;
                    log::info!("{}: folder {old} was renamed to {name}", self.user);
                    return Ok(*coll);
                }
            }
        }
        let coll = index.collection(self.user, name)?;
        if let Some(identity) = folder.identity {
            index.set_identity(coll, identity)?;
        }
        Ok(coll)
    }

    /// After `folders()`: drops from the index (and from every device's sync state) the mail
    /// collections whose folders are gone, so their ids are never handed out again, and keeps
    /// each live folder's directory identity current.
    pub fn reconcile(&self, live: &[Folder]) -> Result<(), AccountError> {
        let index = &self.app.index;
        for (coll, name) in index.collections(self.user)? {
            let ours = name.starts_with(MAIL_PREFIX)
                || name == files_mail::COLLECTION_NAME
                || (name.starts_with(DAV_PREFIX) && self.pim.is_some());
            if ours && !live.iter().any(|f| f.coll == coll) {
                index.remove_collection(coll)?;
                self.app
                    .sync_states
                    .forget_collection(self.user, coll.id().0)?;
            }
        }
        for f in live {
            if let Some(identity) = f.identity {
                index.set_identity(f.coll, identity)?;
            }
        }
        Ok(())
    }

    /// The folder a client named by id, if it still exists.
    pub fn folder(&self, id: u32) -> Result<Option<Folder>, AccountError> {
        Ok(self.folders()?.into_iter().find(|f| f.id == id))
    }

    /// The folder with a default type (Inbox, Drafts, Deleted Items, Sent Items).
    pub fn special(&self, kind: FolderType) -> Result<Option<Folder>, AccountError> {
        Ok(self.folders()?.into_iter().find(|f| f.kind == kind))
    }

    /// The backend of mail folders' items.
    pub fn backend(&self) -> mail::MailBackend<'_> {
        mail::MailBackend::new(self)
    }

    /// The backend of any folder's items, for a client speaking `version`.
    pub fn items(&self, version: crate::ProtocolVersion) -> Backends<'_> {
        Backends::new(self, version)
    }
}
