//! The mail store interface the EAS commands use, and the types it speaks in.
//! Commands see folders, message keys and flags, never paths; the Maildir++
//! implementation lives in [`maildir`].

pub mod files;
pub mod maildir;
pub mod utf7;
pub mod vdir;

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use maildir::{Maildir, deliver, expand_template};

/// Longest folder or file name most filesystems accept.
const NAME_MAX: usize = 255;

/// Folder prefix Dovecot uses on disk for children of INBOX.
const INBOX_CHILD_PREFIX: &str = ".INBOX.";

/// A mail folder by its on-disk Maildir++ name: the empty string for INBOX
/// (the Maildir root), otherwise `.Name` or `.Parent.Child` with each part in
/// modified UTF-7.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FolderName(String);

impl FolderName {
    /// The INBOX, i.e. the Maildir root.
    pub const fn inbox() -> Self {
        Self(String::new())
    }

    /// Validates an on-disk name; `""` and `"INBOX"` (any case) mean the root.
    pub fn parse(name: &str) -> Result<Self, StoreError> {
        if name.is_empty() || name.eq_ignore_ascii_case("INBOX") {
            return Ok(Self::inbox());
        }
        let invalid = || StoreError::InvalidFolderName(name.to_string());
        let body = name.strip_prefix('.').ok_or_else(invalid)?;
        let bad_part = body.split('.').any(|part| part.is_empty());
        if bad_part || name.len() > NAME_MAX || name.contains(['/', '\0']) || name == ".INBOX" {
            return Err(invalid());
        }
        Ok(Self(name.to_string()))
    }

    /// The on-disk name; empty for INBOX.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_inbox(&self) -> bool {
        self.0.is_empty()
    }

    /// True for a folder directly under the Maildir root (`.Sent`, not `.A.B`).
    pub fn is_top_level(&self) -> bool {
        !self.is_inbox() && self.0.rfind('.') == Some(0)
    }

    /// The hierarchical parent by name, whether or not it exists on disk:
    /// `.A.B` → `.A`, `.INBOX.X` → INBOX, top-level folders and INBOX → `None`.
    pub fn lexical_parent(&self) -> Option<FolderName> {
        let pos = self.0.rfind('.').filter(|&p| p > 0)?;
        let parent = &self.0[..pos];
        if parent == ".INBOX" {
            Some(Self::inbox())
        } else {
            Some(Self(parent.to_string()))
        }
    }

    /// The last name component as stored on disk (modified UTF-7).
    pub fn leaf(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or_default()
    }

    /// The name to show a user: "Inbox" for the root, else the decoded leaf
    /// (raw when it is not modified UTF-7, e.g. Dovecot's UTF-8 names).
    pub fn display_name(&self) -> String {
        if self.is_inbox() {
            return "Inbox".to_string();
        }
        utf7::decode(self.leaf()).unwrap_or_else(|_| self.leaf().to_string())
    }

    /// True when `self` lies strictly below `ancestor` in the hierarchy.
    pub fn is_descendant_of(&self, ancestor: &FolderName) -> bool {
        if ancestor.is_inbox() {
            return self.0.starts_with(INBOX_CHILD_PREFIX);
        }
        self.0
            .strip_prefix(ancestor.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// The name of a child called `display` (encoded here), validated.
    pub fn child(parent: Option<&FolderName>, display: &str) -> Result<Self, StoreError> {
        validate_display(display, parent.is_none())?;
        let encoded = utf7::encode(display);
        let name = match parent {
            None => format!(".{encoded}"),
            Some(p) if p.is_inbox() => format!("{INBOX_CHILD_PREFIX}{encoded}"),
            Some(p) => format!("{}.{encoded}", p.as_str()),
        };
        Self::parse(&name).map_err(|_| StoreError::InvalidDisplayName(display.to_string()))
    }

    /// Moves a descendant along when its ancestor `from` is renamed to `to`.
    pub(crate) fn rebased(&self, from: &FolderName, to: &FolderName) -> Option<FolderName> {
        let rest = self.0.strip_prefix(from.as_str())?;
        Self::parse(&format!("{}{rest}", to.as_str())).ok()
    }
}

impl fmt::Display for FolderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_inbox() {
            f.write_str("INBOX")
        } else {
            f.write_str(&self.0)
        }
    }
}

fn validate_display(display: &str, top_level: bool) -> Result<(), StoreError> {
    let bad = display.is_empty()
        || display.trim() != display
        || display.contains(['.', '/', '\\'])
        || display.chars().any(char::is_control)
        || (top_level && display.eq_ignore_ascii_case("INBOX"));
    if bad {
        Err(StoreError::InvalidDisplayName(display.to_string()))
    } else {
        Ok(())
    }
}

/// What a folder is for; EAS reports these as its default folder types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FolderRole {
    Inbox,
    Drafts,
    Sent,
    Trash,
    Junk,
    Normal,
}

impl FolderRole {
    /// The roles `ensure_default_folders` creates, with the canonical name first
    /// and other common names (Apple, Outlook, Gmail exports) after it.
    pub const DEFAULTS: [(FolderRole, &'static [&'static str]); 4] = [
        (FolderRole::Drafts, &["Drafts", "Draft"]),
        (
            FolderRole::Sent,
            &["Sent", "Sent Messages", "Sent Items", "Sent Mail"],
        ),
        (
            FolderRole::Trash,
            &["Trash", "Deleted Messages", "Deleted Items", "Bin"],
        ),
        (
            FolderRole::Junk,
            &[
                "Junk",
                "Spam",
                "Junk E-mail",
                "Junk Email",
                "Junk Mail",
                "Bulk Mail",
            ],
        ),
    ];
}

/// One folder as `folders()` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailFolder {
    pub name: FolderName,
    pub display: String,
    /// The nearest existing ancestor; `None` for top-level folders and INBOX.
    pub parent: Option<FolderName>,
    pub role: FolderRole,
    /// The directory's inode number (from the directory listing, no stat), by which a folder
    /// another program renamed is recognised under its new name; `None` for INBOX.
    pub identity: Option<u64>,
}

/// The stable identity of a message in a folder: the Maildir base name
/// (the file name without its `:2,flags` suffix), which survives flag changes
/// and the move from new/ to cur/.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageKey(String);

impl MessageKey {
    pub fn parse(key: &str) -> Result<Self, StoreError> {
        let bad = key.is_empty()
            || key.len() > NAME_MAX
            || key.starts_with('.')
            || key.contains(['/', '\0', ':']);
        if bad {
            Err(StoreError::InvalidMessageKey(key.to_string()))
        } else {
            Ok(Self(key.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Delivery time from the leading `<secs>.` that Maildir writers put in names.
    pub fn received_hint(&self) -> Option<u64> {
        let (secs, _) = self.0.split_once('.')?;
        secs.parse().ok()
    }

    /// Message size from the `,S=<n>` field Dovecot and easd put in names.
    pub fn size_hint(&self) -> Option<u64> {
        let (_, rest) = self.0.split_once(",S=")?;
        rest.split(',').next()?.parse().ok()
    }
}

impl fmt::Display for MessageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Maildir flags: one bit per ASCII letter, so the standard flags
/// (D F P R S T) and any other letters, such as Dovecot keywords a–z,
/// survive a rewrite of the file name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u64);

impl Flags {
    pub const EMPTY: Flags = Flags(0);
    pub const DRAFT: Flags = Flags::letter(b'D');
    pub const FLAGGED: Flags = Flags::letter(b'F');
    /// Forwarded ("passed").
    pub const PASSED: Flags = Flags::letter(b'P');
    /// Answered.
    pub const REPLIED: Flags = Flags::letter(b'R');
    pub const SEEN: Flags = Flags::letter(b'S');
    pub const TRASHED: Flags = Flags::letter(b'T');

    const fn letter(c: u8) -> Flags {
        match c {
            b'A'..=b'Z' => Flags(1 << (c - b'A')),
            b'a'..=b'z' => Flags(1 << (26 + c - b'a')),
            _ => Flags(0),
        }
    }

    /// Reads the letters after `:2,`; anything that is not a letter is no flag.
    pub fn parse(letters: &str) -> Flags {
        letters
            .bytes()
            .fold(Flags::EMPTY, |acc, c| acc.union(Flags::letter(c)))
    }

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Letters in ASCII order, as the Maildir spec wants them in file names.
impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in (b'A'..=b'Z').chain(b'a'..=b'z') {
            if self.contains(Flags::letter(c)) {
                fmt::Write::write_char(f, char::from(c))?;
            }
        }
        Ok(())
    }
}

/// A flag change relative to whatever is on disk when it is applied, so a
/// concurrent change by Dovecot to other flags is not undone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlagUpdate {
    pub set: Flags,
    pub clear: Flags,
}

impl FlagUpdate {
    pub fn apply(self, current: Flags) -> Flags {
        current.difference(self.clear).union(self.set)
    }
}

/// A message as last seen: its key plus the flags it had, which let the
/// store find the file without reading the directory. A stale `flags` only
/// costs a directory read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRef {
    pub key: MessageKey,
    pub flags: Flags,
}

/// One entry of a folder listing (directory read only, nothing stat'ed).
/// During concurrent renames a key can show up twice; keep the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: MessageKey,
    pub flags: Flags,
    /// Still in new/: delivered but never seen by any mail client.
    pub in_new: bool,
}

impl Listed {
    pub fn to_ref(&self) -> MessageRef {
        MessageRef {
            key: self.key.clone(),
            flags: self.flags,
        }
    }
}

/// Cheap message metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    /// Unix seconds the message arrived.
    pub received: u64,
    pub size: u64,
}

/// A folder that moved in a rename: the renamed folder itself comes first,
/// then its subfolders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renamed {
    pub from: FolderName,
    pub to: FolderName,
}

/// A mail folder's stamps: `whole` over cur/ and new/, which moves with any change to the
/// folder's messages, and `settled` over cur/ alone, which a delivery into new/ leaves as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderStamps {
    pub whole: DirStamp,
    pub settled: DirStamp,
}

/// A cheap fingerprint of one or more directories (inode, size, mtime and
/// ctime in nanoseconds): equal stamps mean no entry was added, removed or renamed,
/// unless the change fell within the filesystem's timestamp granularity,
/// which is why `newest_ns` is kept for the change index's racy check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirStamp {
    newest_ns: u64,
    digest: u64,
}

impl DirStamp {
    pub fn of_dirs(dirs: &[&Path]) -> io::Result<DirStamp> {
        dirs.iter()
            .try_fold(DirStamp::EMPTY, |s, d| Ok(s.with(&std::fs::metadata(d)?)))
    }

    /// The stamp of directories already stat'ed, in order: `of_dirs` without the stat calls.
    pub fn of_metadata(metas: &[&std::fs::Metadata]) -> DirStamp {
        metas.iter().fold(DirStamp::EMPTY, |s, m| s.with(m))
    }

    const EMPTY: DirStamp = DirStamp {
        newest_ns: 0,
        digest: FNV_OFFSET,
    };

    fn with(self, meta: &std::fs::Metadata) -> DirStamp {
        let mtime = nanos(meta.mtime(), meta.mtime_nsec());
        let ctime = nanos(meta.ctime(), meta.ctime_nsec());
        let digest = [meta.dev(), meta.ino(), meta.size(), mtime, ctime]
            .into_iter()
            .fold(self.digest, fnv1a);
        DirStamp {
            newest_ns: self.newest_ns.max(mtime).max(ctime),
            digest,
        }
    }

    /// Rebuilds a stamp that was stored.
    pub const fn from_parts(newest_ns: u64, digest: u64) -> DirStamp {
        DirStamp { newest_ns, digest }
    }

    /// The newest mtime/ctime seen, nanoseconds since the Unix epoch.
    pub const fn newest_ns(&self) -> u64 {
        self.newest_ns
    }

    pub const fn digest(&self) -> u64 {
        self.digest
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv1a(mut hash: u64, value: u64) -> u64 {
    for byte in value.to_le_bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
    }
    hash
}

/// A file's version for the change index: it moves whenever the file is replaced (inode),
/// rewritten (mtime) or resized.
pub(crate) fn file_version(meta: &std::fs::Metadata) -> String {
    format!(
        "{:x}-{:x}.{:x}-{:x}",
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.size()
    )
}

fn nanos(secs: i64, nsec: i64) -> u64 {
    let secs = u64::try_from(secs).unwrap_or(0);
    let nsec = u64::try_from(nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// Everything that can go wrong in a store operation.
#[derive(Debug)]
pub enum StoreError {
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    InvalidFolderName(String),
    /// Empty, containing `.` `/` `\` or control characters, or "INBOX" at top level.
    InvalidDisplayName(String),
    InvalidMessageKey(String),
    /// An email that could escape the mail directory template.
    InvalidEmail(String),
    InvalidTemplate(String),
    FolderNotFound(FolderName),
    FolderExists(FolderName),
    /// INBOX and the default folders can be neither renamed nor deleted.
    ProtectedFolder(FolderName),
    /// A folder cannot become its own descendant.
    MoveIntoSelf(FolderName),
    MessageNotFound(MessageKey),
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, path, source } => write!(f, "{op} {}: {source}", path.display()),
            Self::InvalidFolderName(n) => write!(f, "invalid folder name {n:?}"),
            Self::InvalidDisplayName(n) => write!(f, "invalid folder display name {n:?}"),
            Self::InvalidMessageKey(k) => write!(f, "invalid message key {k:?}"),
            Self::InvalidEmail(e) => write!(f, "email {e:?} is not usable in a mail path"),
            Self::InvalidTemplate(t) => write!(f, "invalid mail path template {t:?}"),
            Self::FolderNotFound(n) => write!(f, "folder {n} not found"),
            Self::FolderExists(n) => write!(f, "folder {n} already exists"),
            Self::ProtectedFolder(n) => write!(f, "folder {n} cannot be renamed or deleted"),
            Self::MoveIntoSelf(n) => write!(f, "folder {n} cannot move below itself"),
            Self::MessageNotFound(k) => write!(f, "message {k} not found"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The mail operations EAS commands need, with no notion of files.
pub trait MailStore: Send + Sync {
    /// INBOX first, then every folder sorted by name, with roles assigned.
    fn folders(&self) -> Result<Vec<MailFolder>, StoreError>;
    /// Creates the Maildir and any missing Drafts/Sent/Trash/Junk.
    fn ensure_default_folders(&self) -> Result<(), StoreError>;
    /// `parent` `None` means top level; INBOX as parent is allowed.
    fn create_folder(
        &self,
        parent: Option<&FolderName>,
        display: &str,
    ) -> Result<FolderName, StoreError>;
    /// Renames or moves a folder with its subfolders; returns every folder moved.
    fn rename_folder(
        &self,
        folder: &FolderName,
        new_parent: Option<&FolderName>,
        display: &str,
    ) -> Result<Vec<Renamed>, StoreError>;
    /// Deletes a folder with its subfolders; returns every folder deleted.
    fn delete_folder(&self, folder: &FolderName) -> Result<Vec<FolderName>, StoreError>;
    /// Cheap change detector for the folder list: differs whenever a folder
    /// was created, renamed or deleted (and on some unrelated writes too, so
    /// a change only means "compare `folders()` again").
    fn hierarchy_stamp(&self) -> Result<DirStamp, StoreError>;
    /// Cheap change detectors for the folder's messages, from two stat calls.
    fn stamps(&self, folder: &FolderName) -> Result<FolderStamps, StoreError>;
    /// All messages, from directory reads only: new/ first, then cur/, so that a message a
    /// mail client moves from new/ to cur/ meanwhile is listed at least once (the other order
    /// missed it, and a refresh then took it for deleted and re-added it under a new id).
    fn list(&self, folder: &FolderName) -> Result<Vec<Listed>, StoreError> {
        let mut out = self.list_new(folder)?;
        out.extend(self.list_cur(folder)?);
        Ok(out)
    }
    /// The messages in new/: deliveries no mail client has seen yet.
    fn list_new(&self, folder: &FolderName) -> Result<Vec<Listed>, StoreError>;
    /// The messages in cur/.
    fn list_cur(&self, folder: &FolderName) -> Result<Vec<Listed>, StoreError>;
    fn read(&self, folder: &FolderName, msg: &MessageRef) -> Result<Vec<u8>, StoreError>;
    /// The open message file, for range reads of big messages.
    fn open(&self, folder: &FolderName, msg: &MessageRef) -> Result<File, StoreError>;
    fn info(&self, folder: &FolderName, msg: &MessageRef) -> Result<MessageInfo, StoreError>;
    /// Stores a new message durably (in cur/, with `flags`).
    fn append(
        &self,
        folder: &FolderName,
        bytes: &[u8],
        flags: Flags,
    ) -> Result<MessageRef, StoreError>;
    /// Applies `update` to the flags on disk and returns the result.
    fn set_flags(
        &self,
        folder: &FolderName,
        msg: &MessageRef,
        update: FlagUpdate,
    ) -> Result<Flags, StoreError>;
    /// Moves a message keeping its flags; the key changes only on a name clash.
    fn move_to(
        &self,
        from: &FolderName,
        msg: &MessageRef,
        to: &FolderName,
    ) -> Result<MessageRef, StoreError>;
    fn delete(&self, folder: &FolderName, msg: &MessageRef) -> Result<(), StoreError>;
    /// Deletes every message, and with `subfolders` every subfolder, which it returns.
    fn empty_folder(
        &self,
        folder: &FolderName,
        subfolders: bool,
    ) -> Result<Vec<FolderName>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names() {
        assert!(FolderName::parse("").unwrap().is_inbox());
        assert!(FolderName::parse("inbox").unwrap().is_inbox());
        for bad in [".", "..", ".A..B", ".A.", "Sent", ".a/b", ".a\0", ".INBOX"] {
            assert!(FolderName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FolderName::parse(&format!(".{}", "x".repeat(255))).is_err());
        let ab = FolderName::parse(".A.B").unwrap();
        assert_eq!(ab.lexical_parent(), Some(FolderName::parse(".A").unwrap()));
        assert_eq!(FolderName::parse(".A").unwrap().lexical_parent(), None);
        assert_eq!(
            FolderName::parse(".INBOX.x").unwrap().lexical_parent(),
            Some(FolderName::inbox())
        );
        assert!(ab.is_descendant_of(&FolderName::parse(".A").unwrap()));
        assert!(
            !FolderName::parse(".AB")
                .unwrap()
                .is_descendant_of(&FolderName::parse(".A").unwrap())
        );
        assert!(
            FolderName::parse(".INBOX.x")
                .unwrap()
                .is_descendant_of(&FolderName::inbox())
        );
        assert!(!ab.is_descendant_of(&FolderName::inbox()));
    }

    #[test]
    fn child_names_are_encoded_and_checked() {
        let top = FolderName::child(None, "Entwürfe").unwrap();
        assert_eq!(top.as_str(), ".Entw&APw-rfe");
        assert_eq!(top.display_name(), "Entwürfe");
        let nested = FolderName::child(Some(&top), "A&B").unwrap();
        assert_eq!(nested.as_str(), ".Entw&APw-rfe.A&-B");
        assert_eq!(nested.display_name(), "A&B");
        assert_eq!(
            FolderName::child(Some(&FolderName::inbox()), "x")
                .unwrap()
                .as_str(),
            ".INBOX.x"
        );
        for bad in ["", "a.b", "a/b", "..", " x", "a\nb", "a\\b"] {
            assert!(FolderName::child(None, bad).is_err(), "{bad:?}");
        }
        assert!(FolderName::child(None, "Inbox").is_err());
        assert!(FolderName::child(Some(&top), "INBOX").is_ok());
    }

    #[test]
    fn message_keys() {
        let key = MessageKey::parse("1700000000.M12P3Q4.host,S=2048,W=2100").unwrap();
        assert_eq!(key.received_hint(), Some(1_700_000_000));
        assert_eq!(key.size_hint(), Some(2048));
        let odd = MessageKey::parse("fetchmail-xyz").unwrap();
        assert_eq!(odd.received_hint(), None);
        assert_eq!(odd.size_hint(), None);
        for bad in ["", ".", "..", ".hidden", "a/b", "a:2,S", "a\0b"] {
            assert!(MessageKey::parse(bad).is_err(), "{bad:?}");
        }
        assert!(MessageKey::parse(&"k".repeat(256)).is_err());
    }

    #[test]
    fn flags_sorted_and_keywords_kept() {
        let f = Flags::parse("TSRa,bzDF");
        assert_eq!(f.to_string(), "DFRSTabz");
        let update = FlagUpdate {
            set: Flags::FLAGGED.union(Flags::PASSED),
            clear: Flags::SEEN.union(Flags::TRASHED),
        };
        assert_eq!(update.apply(f).to_string(), "DFPRabz");
        assert!(Flags::parse("").is_empty());
        assert!(f.contains(Flags::SEEN.union(Flags::DRAFT)));
    }

    proptest::proptest! {
        #[test]
        fn flags_display_parses_back(letters in "[A-Za-z0-9,]{0,60}") {
            let flags = Flags::parse(&letters);
            proptest::prop_assert_eq!(Flags::parse(&flags.to_string()), flags);
        }

        #[test]
        fn parsed_names_stay_inside_the_maildir(name in "\\PC{0,40}") {
            if let Ok(folder) = FolderName::parse(&name) {
                proptest::prop_assert!(!folder.as_str().contains('/'));
                proptest::prop_assert!(folder.is_inbox() || folder.as_str().starts_with('.'));
                proptest::prop_assert!(!folder.as_str().split('.').skip(1).any(str::is_empty));
            }
            if let Ok(key) = MessageKey::parse(&name) {
                proptest::prop_assert!(!key.as_str().contains(['/', ':']));
                proptest::prop_assert!(!key.as_str().starts_with('.'));
            }
        }
    }

    #[test]
    fn dir_stamp_changes_with_entries() {
        let dir = tempfile::tempdir().unwrap();
        let before = DirStamp::of_dirs(&[dir.path()]).unwrap();
        assert_eq!(before, DirStamp::of_dirs(&[dir.path()]).unwrap());
        std::fs::write(dir.path().join("x"), b"x").unwrap();
        // Same-tick changes may keep the stamp; only monotonicity is certain.
        let after = DirStamp::of_dirs(&[dir.path()]).unwrap();
        assert!(after.newest_ns() >= before.newest_ns());
        assert!(DirStamp::of_dirs(&[&dir.path().join("missing")]).is_err());
    }
}
