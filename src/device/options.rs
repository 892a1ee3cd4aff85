//! Per-device folder options and filters (the guide's device window): which folders a device sees
//! and how much of each message it gets. Stored with the device; `effective` combines them with
//! the policy's sync limits and the quarantine, and is what FolderSync and Sync consult.

use super::abq::Access;
use super::policy::{self, PolicyKey, PolicySettings};
use super::{DeviceError, DeviceId, DeviceKey, registry};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which GroupWare (contacts, calendars, tasks, notes) folders a device gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupwareFolders {
    DefaultOnly,
    #[default]
    All,
    /// Every folder, GroupWare ones presented as mail folders (for clients that nest them).
    AllAsMail,
}

/// Where a device without note support gets the notes collections (the guide's "Synchroniser
/// comme"): as they are, or as a calendar or a task list of their own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotesAs {
    #[default]
    Notes,
    Calendar,
    Tasks,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailFolders {
    DefaultOnly,
    #[default]
    All,
}

/// The options as the administrator set them for one device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredOptions {
    pub groupware: GroupwareFolders,
    pub mail_folders: MailFolders,
    pub archives: bool,
    pub public: bool,
    pub shared: bool,
    pub mail_sync_days: Option<u32>,
    /// Bytes; 0 sends headers only; `None` does not truncate.
    pub truncation: Option<i64>,
    pub html: bool,
    pub attachments: bool,
    pub max_attachment_bytes: Option<u64>,
    pub calendar_days: Option<u32>,
    /// The guide's "Tâche comme événement": task lists shown as calendars, for devices
    /// without task support.
    pub tasks_as_events: bool,
    pub notes_as: NotesAs,
}

impl Default for StoredOptions {
    fn default() -> Self {
        StoredOptions {
            groupware: GroupwareFolders::All,
            mail_folders: MailFolders::All,
            archives: true,
            public: true,
            shared: true,
            mail_sync_days: None,
            truncation: None,
            html: true,
            attachments: true,
            max_attachment_bytes: None,
            calendar_days: None,
            tasks_as_events: false,
            notes_as: NotesAs::Notes,
        }
    }
}

/// The option keys `easd device set` takes.
pub const KEYS: &[&str] = &[
    "groupware",
    "mail_folders",
    "archives",
    "public",
    "shared",
    "mail_sync_days",
    "truncation",
    "html",
    "attachments",
    "max_attachment_bytes",
    "calendar_days",
    "tasks_as_events",
    "notes_as",
];

impl StoredOptions {
    /// Sets one option from its text form.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), DeviceError> {
        let bad = |m: &str| DeviceError::BadValue {
            key: key.to_string(),
            message: format!("{value:?}: {m}"),
        };
        let flag = || match value {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(bad("expected true or false")),
        };
        let unset = value.is_empty() || value == "none";
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| bad("expected a number or none"))
        };
        match key {
            "groupware" => {
                self.groupware = match value {
                    "default" | "default-only" => GroupwareFolders::DefaultOnly,
                    "all" => GroupwareFolders::All,
                    "all-as-mail" => GroupwareFolders::AllAsMail,
                    _ => return Err(bad("expected default, all or all-as-mail")),
                }
            }
            "mail_folders" => {
                self.mail_folders = match value {
                    "default" | "default-only" => MailFolders::DefaultOnly,
                    "all" => MailFolders::All,
                    _ => return Err(bad("expected default or all")),
                }
            }
            "notes_as" => {
                self.notes_as = match value {
                    "notes" | "default" => NotesAs::Notes,
                    "calendar" => NotesAs::Calendar,
                    "tasks" => NotesAs::Tasks,
                    _ => return Err(bad("expected notes, calendar or tasks")),
                }
            }
            "tasks_as_events" => self.tasks_as_events = flag()?,
            "archives" => self.archives = flag()?,
            "public" => self.public = flag()?,
            "shared" => self.shared = flag()?,
            "html" => self.html = flag()?,
            "attachments" => self.attachments = flag()?,
            "mail_sync_days" if unset => self.mail_sync_days = None,
            "mail_sync_days" => {
                self.mail_sync_days = Some(u32::try_from(number()?).map_err(|_| bad("too large"))?)
            }
            "calendar_days" if unset => self.calendar_days = None,
            "calendar_days" => {
                self.calendar_days = Some(u32::try_from(number()?).map_err(|_| bad("too large"))?)
            }
            "max_attachment_bytes" if unset => self.max_attachment_bytes = None,
            "max_attachment_bytes" => self.max_attachment_bytes = Some(number()?),
            "truncation" => {
                self.truncation = match value.parse::<i64>() {
                    Ok(-1) => None,
                    Ok(n) if n >= 0 => Some(n),
                    _ if unset => None,
                    _ => return Err(bad("expected -1 (none), 0 (headers only) or a size")),
                }
            }
            _ => return Err(DeviceError::UnknownKey(key.to_string())),
        }
        Ok(())
    }
}

impl fmt::Display for StoredOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "none".into());
        writeln!(f, "groupware={:?}", self.groupware)?;
        writeln!(f, "mail_folders={:?}", self.mail_folders)?;
        writeln!(f, "archives={}", self.archives)?;
        writeln!(f, "public={}", self.public)?;
        writeln!(f, "shared={}", self.shared)?;
        writeln!(
            f,
            "mail_sync_days={}",
            opt(self.mail_sync_days.map(|d| d.to_string()))
        )?;
        writeln!(f, "truncation={}", self.truncation.unwrap_or(-1))?;
        writeln!(f, "html={}", self.html)?;
        writeln!(f, "attachments={}", self.attachments)?;
        writeln!(
            f,
            "max_attachment_bytes={}",
            opt(self.max_attachment_bytes.map(|d| d.to_string()))
        )?;
        writeln!(
            f,
            "calendar_days={}",
            opt(self.calendar_days.map(|d| d.to_string()))
        )?;
        writeln!(f, "tasks_as_events={}", self.tasks_as_events)?;
        write!(f, "notes_as={:?}", self.notes_as)
    }
}

/// What a device may sync, all limits applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceOptions {
    pub groupware: GroupwareFolders,
    pub mail_folders: MailFolders,
    pub archives: bool,
    pub public: bool,
    pub shared: bool,
    pub mail_sync_days: Option<u32>,
    pub truncation: Option<i64>,
    pub html: bool,
    pub attachments: bool,
    pub max_attachment_bytes: Option<u64>,
    pub calendar_days: Option<u32>,
    pub tasks_as_events: bool,
    pub notes_as: NotesAs,
    /// Quarantined: default folders only, and changes flow from the device to the server only
    /// (Sync accepts the device's changes and sends none back).
    pub quarantined: bool,
}

fn min_opt<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// MS-ASPROV MaxEmailAgeFilter codes as days.
fn email_filter_days(code: i64) -> Option<u32> {
    match code {
        1 => Some(1),
        2 => Some(3),
        3 => Some(7),
        4 => Some(14),
        5 => Some(31),
        _ => None,
    }
}

/// MS-ASPROV MaxCalendarAgeFilter codes as days.
fn calendar_filter_days(code: i64) -> Option<u32> {
    match code {
        4 => Some(14),
        5 => Some(31),
        6 => Some(93),
        7 => Some(186),
        _ => None,
    }
}

/// Combines stored options, the policy and the device's ABQ state.
pub fn combine(stored: &StoredOptions, policy: &PolicySettings, access: Access) -> DeviceOptions {
    let policy_trunc = policy
        .number(PolicyKey::MaxEmailBodyTruncationSize)
        .filter(|n| *n >= 0)
        .map(|kb| kb.saturating_mul(1024));
    let policy_attach = policy
        .number(PolicyKey::MaxAttachmentSize)
        .and_then(|n| u64::try_from(n).ok());
    let mut o = DeviceOptions {
        groupware: stored.groupware,
        mail_folders: stored.mail_folders,
        archives: stored.archives,
        public: stored.public,
        shared: stored.shared,
        mail_sync_days: min_opt(
            stored.mail_sync_days,
            policy
                .number(PolicyKey::MaxEmailAgeFilter)
                .and_then(email_filter_days),
        ),
        truncation: min_opt(stored.truncation, policy_trunc),
        html: stored.html && policy.flag(PolicyKey::AllowHtmlEmail),
        attachments: stored.attachments && policy.flag(PolicyKey::AttachmentsEnabled),
        max_attachment_bytes: min_opt(stored.max_attachment_bytes, policy_attach),
        calendar_days: min_opt(
            stored.calendar_days,
            policy
                .number(PolicyKey::MaxCalendarAgeFilter)
                .and_then(calendar_filter_days),
        ),
        tasks_as_events: stored.tasks_as_events,
        notes_as: stored.notes_as,
        quarantined: access == Access::Quarantine,
    };
    if o.quarantined {
        o.groupware = GroupwareFolders::DefaultOnly;
        o.mail_folders = MailFolders::DefaultOnly;
        o.archives = false;
        o.public = false;
        o.shared = false;
    }
    o
}

/// The options in force for `user`'s device `device`, for FolderSync and Sync.
pub fn effective(
    db: &redb::Database,
    user: &str,
    device: &str,
) -> Result<DeviceOptions, DeviceError> {
    let key = DeviceKey::new(user, DeviceId::parse(device)?);
    let record = registry::get(db, &key)?;
    let stored = record
        .as_ref()
        .map(|d| d.options.clone())
        .unwrap_or_default();
    let access = record.map_or(Access::Allow, |d| d.access);
    let policy = policy::levels::for_device(db, &PolicySettings::default(), &key)?;
    Ok(combine(&stored, &policy, access))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::policy::Value;

    #[test]
    fn options_parse_and_combine() {
        let mut s = StoredOptions::default();
        s.set("groupware", "all-as-mail").unwrap();
        s.set("mail_sync_days", "30").unwrap();
        s.set("truncation", "4096").unwrap();
        s.set("max_attachment_bytes", "1000000").unwrap();
        s.set("html", "false").unwrap();
        s.set("tasks_as_events", "yes").unwrap();
        s.set("notes_as", "calendar").unwrap();
        assert!(s.set("notes_as", "mail").is_err());
        assert!(s.set("truncation", "-5").is_err());
        assert!(s.set("colour", "red").is_err());
        let mut p = PolicySettings::default();
        p.set(PolicyKey::MaxEmailAgeFilter, Value::Number(Some(3)));
        p.set(
            PolicyKey::MaxEmailBodyTruncationSize,
            Value::Number(Some(2)),
        );
        p.set(PolicyKey::MaxCalendarAgeFilter, Value::Number(Some(5)));
        p.set(PolicyKey::AttachmentsEnabled, Value::Bool(false));
        let o = combine(&s, &p, Access::Allow);
        assert_eq!(o.groupware, GroupwareFolders::AllAsMail);
        assert_eq!(o.mail_sync_days, Some(7));
        assert_eq!(o.truncation, Some(2048));
        assert_eq!(o.calendar_days, Some(31));
        assert_eq!(o.max_attachment_bytes, Some(1_000_000));
        assert!(!o.html && !o.attachments && !o.quarantined);
        assert!(o.tasks_as_events);
        assert_eq!(o.notes_as, NotesAs::Calendar);
        let q = combine(&s, &p, Access::Quarantine);
        assert!(q.quarantined);
        assert_eq!(q.groupware, GroupwareFolders::DefaultOnly);
        assert_eq!(q.mail_folders, MailFolders::DefaultOnly);
        assert!(!q.shared && !q.public && !q.archives);
        s.set("truncation", "-1").unwrap();
        assert_eq!(s.truncation, None);
    }
}
