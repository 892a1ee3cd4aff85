//! The one error type of device management.

use std::fmt;

#[derive(Debug)]
pub enum DeviceError {
    /// The state database failed.
    Db(redb::Error),
    /// A stored record no longer parses (written by an incompatible version, or damaged).
    Corrupt { table: String, key: String },
    /// A DeviceId outside `[A-Za-z0-9._-]{1,64}`.
    BadDeviceId(String),
    /// No device matches the id given to the CLI.
    UnknownDevice(String),
    /// The id names devices of several users; `USER/ID` picks one.
    AmbiguousDevice(String),
    /// A policy level that is not `global`, `domain:D`, `user:U` or `device:ID`.
    BadLevel(String),
    /// An unknown policy or option key.
    UnknownKey(String),
    /// A value a key does not accept.
    BadValue { key: String, message: String },
    /// An ABQ rule id that does not exist.
    UnknownRule(u64),
    /// Writing a notice or a trace file failed.
    Io(std::io::Error),
    /// Delivering a notice into a Maildir failed.
    Store(crate::store::StoreError),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Db(e) => write!(f, "state database: {e}"),
            DeviceError::Corrupt { table, key } => {
                write!(f, "state database: unreadable record {key:?} in {table}")
            }
            DeviceError::BadDeviceId(id) => write!(f, "{id:?} is not a valid DeviceId"),
            DeviceError::UnknownDevice(id) => write!(f, "no device {id:?}"),
            DeviceError::AmbiguousDevice(id) => {
                write!(f, "several users have a device {id:?}: name it as USER/ID")
            }
            DeviceError::BadLevel(l) => write!(
                f,
                "{l:?} is not a policy level (global, domain:D, user:U, device:ID)"
            ),
            DeviceError::UnknownKey(k) => write!(f, "unknown key {k:?}"),
            DeviceError::BadValue { key, message } => write!(f, "{key}: {message}"),
            DeviceError::UnknownRule(id) => write!(f, "no ABQ rule {id}"),
            DeviceError::Io(e) => write!(f, "{e}"),
            DeviceError::Store(e) => write!(f, "mail store: {e}"),
        }
    }
}

impl std::error::Error for DeviceError {}

macro_rules! from_redb {
    ($($t:ty),+) => {
        $(impl From<$t> for DeviceError {
            fn from(e: $t) -> Self {
                DeviceError::Db(e.into())
            }
        })+
    };
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<std::io::Error> for DeviceError {
    fn from(e: std::io::Error) -> Self {
        DeviceError::Io(e)
    }
}

impl From<crate::store::StoreError> for DeviceError {
    fn from(e: crate::store::StoreError) -> Self {
        DeviceError::Store(e)
    }
}

impl From<crate::state::StateError> for DeviceError {
    fn from(e: crate::state::StateError) -> Self {
        let text = e.to_string();
        match e.redb() {
            redb::Error::Io(io) => DeviceError::Io(std::io::Error::new(io.kind(), text)),
            _ => DeviceError::Corrupt {
                table: "state".to_string(),
                key: text,
            },
        }
    }
}
