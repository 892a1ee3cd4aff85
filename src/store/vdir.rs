//! The PIM store interface (contacts, calendars, tasks, notes) and the types it speaks in. A
//! user's PIM data is a set of collections, each holding items that are whole vCard or
//! iCalendar files addressed by an href. Callers never see paths: collection names and hrefs
//! are validated names, never taken from a client. The implementation is a vdir tree
//! ([`fs::Vdir`]) laid out the way Radicale 3 and vdirsyncer keep it.

mod fs;
pub mod props;
#[cfg(test)]
mod tests;

pub use fs::Vdir;

use super::DirStamp;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Longest file name most filesystems accept.
const NAME_MAX: usize = 255;

/// The largest item file read; vCards with photos stay far below it.
pub const MAX_ITEM_BYTES: u64 = 8 * 1024 * 1024;

/// What a collection holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PimKind {
    Contacts,
    Calendar,
    Tasks,
    Notes,
}

impl PimKind {
    pub const ALL: [PimKind; 4] = [
        PimKind::Contacts,
        PimKind::Calendar,
        PimKind::Tasks,
        PimKind::Notes,
    ];

    /// The directory name of the default collection of this kind.
    pub fn default_name(self) -> &'static str {
        match self {
            PimKind::Contacts => "contacts",
            PimKind::Calendar => "calendar",
            PimKind::Tasks => "tasks",
            PimKind::Notes => "notes",
        }
    }

    /// The display name the default collection gets.
    pub fn default_display(self) -> &'static str {
        match self {
            PimKind::Contacts => "Contacts",
            PimKind::Calendar => "Calendar",
            PimKind::Tasks => "Tasks",
            PimKind::Notes => "Notes",
        }
    }

    /// The file extension of new items.
    pub fn extension(self) -> &'static str {
        match self {
            PimKind::Contacts => "vcf",
            _ => "ics",
        }
    }

    /// The iCalendar component of the items (`None` for vCards).
    pub fn component(self) -> Option<&'static str> {
        match self {
            PimKind::Contacts => None,
            PimKind::Calendar => Some("VEVENT"),
            PimKind::Tasks => Some("VTODO"),
            PimKind::Notes => Some("VJOURNAL"),
        }
    }
}

/// A collection's directory name: non-empty, no `/`, NUL or control characters, not starting
/// with a dot (dotfiles are Radicale's and ours), at most 255 bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CollectionName(String);

/// An item's file name inside its collection, with the same rules as [`CollectionName`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Href(String);

fn safe_component(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
}

impl CollectionName {
    pub fn parse(name: &str) -> Result<CollectionName, PimError> {
        if safe_component(name) {
            Ok(CollectionName(name.to_string()))
        } else {
            Err(PimError::InvalidName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CollectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Href {
    pub fn parse(name: &str) -> Result<Href, PimError> {
        if safe_component(name) {
            Ok(Href(name.to_string()))
        } else {
            Err(PimError::InvalidName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Href {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One collection as the store lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PimCollection {
    pub name: CollectionName,
    pub display: String,
    pub kind: PimKind,
    /// The directory's identity (device and inode), stable across renames by other programs.
    pub identity: Option<u64>,
}

impl PimCollection {
    /// Whether this is the default collection of its kind (EAS default folder types 7–10).
    pub fn is_default(&self) -> bool {
        self.name.as_str() == self.kind.default_name()
    }
}

/// An item file as listed: its name and a version that changes whenever the file is replaced
/// or rewritten (inode, mtime and size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PimEntry {
    pub href: Href,
    pub version: String,
    /// Modification time, Unix seconds.
    pub mtime: u64,
}

/// Errors of the PIM store.
#[derive(Debug)]
pub enum PimError {
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    InvalidName(String),
    InvalidTemplate(String),
    InvalidEmail(String),
    CollectionNotFound(CollectionName),
    CollectionExists(CollectionName),
    /// The default collections can be neither renamed nor deleted.
    Protected(CollectionName),
    ItemNotFound(Href),
    TooLarge(Href),
}

impl PimError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> PimError {
        PimError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for PimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PimError::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            PimError::InvalidName(n) => write!(f, "invalid collection or item name {n:?}"),
            PimError::InvalidTemplate(t) => write!(f, "invalid dav path template {t:?}"),
            PimError::InvalidEmail(e) => write!(f, "email {e:?} is not usable in a dav path"),
            PimError::CollectionNotFound(c) => write!(f, "no collection {c}"),
            PimError::CollectionExists(c) => write!(f, "collection {c} exists"),
            PimError::Protected(c) => write!(f, "collection {c} is a default collection"),
            PimError::ItemNotFound(h) => write!(f, "no item {h}"),
            PimError::TooLarge(h) => write!(f, "item {h} is larger than {MAX_ITEM_BYTES} bytes"),
        }
    }
}

impl std::error::Error for PimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PimError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An item as written: where it is now and its new version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub href: Href,
    pub version: String,
    pub mtime: u64,
}

/// A user's PIM collections. Every write is durable (temp file, fsync, rename, fsync of the
/// directory) before it returns, and readers see an item whole or not at all.
pub trait PimStore: Send + Sync {
    /// Creates the default collections (contacts, calendar, tasks, notes) that are missing.
    fn ensure_defaults(&self) -> Result<(), PimError>;
    /// Every collection, sorted by name.
    fn collections(&self) -> Result<Vec<PimCollection>, PimError>;
    /// Creates a collection of `kind` shown as `display`; returns it.
    fn create_collection(&self, display: &str, kind: PimKind) -> Result<PimCollection, PimError>;
    /// Changes a collection's display name (its directory stays, so DAV URLs stay too).
    fn rename_collection(&self, name: &CollectionName, display: &str) -> Result<(), PimError>;
    /// Deletes a collection with its items.
    fn delete_collection(&self, name: &CollectionName) -> Result<(), PimError>;
    /// The collection directory's stamp, taken before listing it.
    fn stamp(&self, coll: &CollectionName) -> Result<DirStamp, PimError>;
    /// The item files; files that vanish while listing are left out.
    fn list(&self, coll: &CollectionName) -> Result<Vec<PimEntry>, PimError>;
    fn read(&self, coll: &CollectionName, href: &Href) -> Result<String, PimError>;
    /// Stores a new item under a fresh name derived from `uid` when that is safe.
    fn create(&self, coll: &CollectionName, uid: &str, data: &str) -> Result<Stored, PimError>;
    /// Replaces an existing item.
    fn replace(&self, coll: &CollectionName, href: &Href, data: &str) -> Result<Stored, PimError>;
    fn delete(&self, coll: &CollectionName, href: &Href) -> Result<(), PimError>;
}

/// The root of a user's collections from a template: `{data_dir}` is replaced by the caller;
/// `{email}` and `{user}` (the whole address, Radicale's login), `{local}` and `{domain}` here.
pub fn expand_root(template: &str, email: &str) -> Result<PathBuf, PimError> {
    super::expand_template(&template.replace("{user}", "{email}"), email).map_err(|e| match e {
        super::StoreError::InvalidEmail(e) => PimError::InvalidEmail(e),
        _ => PimError::InvalidTemplate(template.to_string()),
    })
}
