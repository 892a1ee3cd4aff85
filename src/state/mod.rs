//! easd's own persistent state (devices, sync state, the change index) in one
//! redb database. Message bodies and PIM items never go in here: the Maildir
//! and vdir folders stay the only copy of user data.

pub mod codec;
pub mod identity;
pub mod index;
pub mod mail;
pub mod ping;
pub mod sync;
pub mod sync_redb;
pub mod uidset;
pub mod verb_times;

use std::fmt;
use std::path::Path;

/// redb's own default cache is 1 GiB; a small box wants far less.
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Opens (creating when missing) the state database with an explicit cache size.
pub fn open_db(path: &Path, cache_bytes: usize) -> Result<redb::Database, StateError> {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(cache_bytes);
    Ok(builder.create(path)?)
}

/// A failure of the state database itself.
#[derive(Debug)]
pub struct StateError(redb::Error);

impl StateError {
    pub fn redb(&self) -> &redb::Error {
        &self.0
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "state database: {}", self.0)
    }
}

impl std::error::Error for StateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

macro_rules! from_redb {
    ($($t:ty),+) => {
        $(impl From<$t> for StateError {
            fn from(e: $t) -> Self {
                StateError(e.into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        drop(open_db(&path, DEFAULT_CACHE_BYTES).unwrap());
        assert!(open_db(&path, 1 << 20).is_ok());
        assert!(open_db(&dir.path().join("no/such/dir/x.redb"), 1 << 20).is_err());
    }
}
