//! Recognising easd's own state file. A new database is stamped with easd's format name and schema
//! version before anything else writes to it; at start an existing one must carry that stamp, so a
//! foreign redb file (another program's, or something copied to `state.redb` by mistake) or one
//! written by a newer easd is refused with a message instead of being written into. A file that is
//! not a redb database at all, or is damaged, already fails to open (`super::open_db`).

use super::StateError;
use redb::{Database, ReadableDatabase, TableDefinition, TableHandle};
use std::fmt;

const STAMP: TableDefinition<&str, &str> = TableDefinition::new("easd_state");
const FORMAT_KEY: &str = "format";
const FORMAT: &str = "easd-state";
const SCHEMA_KEY: &str = "schema";
/// Bumped when a release changes the tables in a way older releases cannot read.
pub const SCHEMA: u32 = 1;
/// Table prefixes of easd releases from before the stamp existed: such a file is easd's own and is
/// stamped on first start.
const UNSTAMPED_EASD_TABLES: &[&str] = &["idx_", "sync_"];

/// Why an existing state file is not used.
#[derive(Debug)]
pub enum IdentityError {
    /// A redb database with tables easd never makes (listed, at most a few).
    Foreign(Vec<String>),
    /// Stamped, but with another format name.
    OtherFormat(String),
    /// Written by an easd with a newer schema.
    Newer(u32),
    State(StateError),
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::Foreign(tables) => write!(
                f,
                "not an easd state database (it has tables {})",
                tables.join(", ")
            ),
            IdentityError::OtherFormat(name) => {
                write!(f, "not an easd state database (format {name:?})")
            }
            IdentityError::Newer(v) => write!(
                f,
                "written by a newer easd (schema {v}, this one reads up to {SCHEMA})"
            ),
            IdentityError::State(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for IdentityError {}

impl<E: Into<StateError>> From<E> for IdentityError {
    fn from(e: E) -> Self {
        IdentityError::State(e.into())
    }
}

/// Checks the stamp of an opened database, stamping it when it is new (no tables at all) or an
/// unstamped easd file.
pub fn check_or_stamp(db: &Database) -> Result<(), IdentityError> {
    let read = db.begin_read()?;
    let tables: Vec<String> = read.list_tables()?.map(|t| t.name().to_string()).collect();
    if tables.iter().any(|t| t == STAMP.name()) {
        let stamp = read.open_table(STAMP)?;
        let format = stamp.get(FORMAT_KEY)?.map(|v| v.value().to_string());
        if format.as_deref() != Some(FORMAT) {
            return Err(IdentityError::OtherFormat(format.unwrap_or_default()));
        }
        let schema = stamp
            .get(SCHEMA_KEY)?
            .and_then(|v| v.value().parse::<u32>().ok())
            .unwrap_or(u32::MAX);
        return match schema {
            v if v > SCHEMA => Err(IdentityError::Newer(v)),
            _ => Ok(()),
        };
    }
    let foreign: Vec<String> = tables
        .into_iter()
        .filter(|t| !UNSTAMPED_EASD_TABLES.iter().any(|p| t.starts_with(p)))
        .take(5)
        .collect();
    if !foreign.is_empty() {
        return Err(IdentityError::Foreign(foreign));
    }
    drop(read);
    let write = db.begin_write()?;
    {
        let mut stamp = write.open_table(STAMP)?;
        stamp.insert(FORMAT_KEY, FORMAT)?;
        stamp.insert(SCHEMA_KEY, SCHEMA.to_string().as_str())?;
    }
    write.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DEFAULT_CACHE_BYTES, open_db};

    fn fresh() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = open_db(&dir.path().join("state.redb"), DEFAULT_CACHE_BYTES).unwrap();
        (dir, db)
    }

    fn put<K: redb::Key + 'static, V: redb::Value + 'static>(
        db: &Database,
        table: TableDefinition<K, V>,
        k: K::SelfType<'_>,
        v: V::SelfType<'_>,
    ) {
        let w = db.begin_write().unwrap();
        w.open_table(table).unwrap().insert(k, v).unwrap();
        w.commit().unwrap();
    }

    #[test]
    fn a_new_file_is_stamped_and_then_accepted() {
        let (_dir, db) = fresh();
        check_or_stamp(&db).unwrap();
        check_or_stamp(&db).unwrap();
    }

    #[test]
    fn an_unstamped_easd_file_is_adopted() {
        let (_dir, db) = fresh();
        put(&db, TableDefinition::<&str, u64>::new("idx_meta"), "k", 1);
        check_or_stamp(&db).unwrap();
        put(&db, TableDefinition::<&str, u64>::new("other"), "k", 1);
        check_or_stamp(&db).unwrap();
    }

    #[test]
    fn foreign_and_newer_files_are_refused() {
        let (_dir, db) = fresh();
        put(&db, TableDefinition::<&str, &str>::new("photos"), "a", "b");
        let e = check_or_stamp(&db).unwrap_err();
        assert!(
            matches!(&e, IdentityError::Foreign(t) if t == &["photos"]),
            "{e}"
        );

        let (_dir, db) = fresh();
        put(&db, STAMP, FORMAT_KEY, "someone-else");
        assert!(matches!(
            check_or_stamp(&db),
            Err(IdentityError::OtherFormat(f)) if f == "someone-else"
        ));

        let (_dir, db) = fresh();
        put(&db, STAMP, FORMAT_KEY, FORMAT);
        put(&db, STAMP, SCHEMA_KEY, "99");
        let e = check_or_stamp(&db).unwrap_err();
        assert!(matches!(e, IdentityError::Newer(99)));
        assert!(e.to_string().contains("newer easd"));
    }
}
