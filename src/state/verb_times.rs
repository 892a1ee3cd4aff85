//! What a user last did with a message through easd (SmartReply, SmartForward) and when, for
//! MS-ASEMAIL's LastVerbExecuted and LastVerbExecutionTime (14.0+): the Maildir keeps only the
//! R and P flags, neither reply-to-all nor the time. Keyed by user and message key, which a flag
//! change or a move keeps.

use super::StateError;
use redb::{Database, ReadableDatabase, TableDefinition};

/// Value: (Unix seconds, the LastVerbExecuted code).
const TABLE: TableDefinition<&str, (u64, u8)> = TableDefinition::new("mail_verbs");

fn key(user: &str, message_key: &str) -> String {
    format!("{}\0{message_key}", user.to_ascii_lowercase())
}

/// Records that `user` acted on the message `message_key` with `verb` (a LastVerbExecuted
/// code) at `secs` (Unix seconds).
pub fn record(
    db: &Database,
    user: &str,
    message_key: &str,
    verb: u8,
    secs: u64,
) -> Result<(), StateError> {
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(TABLE)?;
        table.insert(key(user, message_key).as_str(), (secs, verb))?;
    }
    txn.commit()?;
    Ok(())
}

/// The verb code and time recorded for the message, if any.
pub fn get(db: &Database, user: &str, message_key: &str) -> Result<Option<(u8, u64)>, StateError> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(TABLE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(table.get(key(user, message_key).as_str())?.map(|v| {
        let (secs, verb) = v.value();
        (verb, secs)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_user_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        assert_eq!(get(&db, "a@x", "m1").unwrap(), None);
        record(&db, "a@x", "m1", 1, 1_700_000_000).unwrap();
        record(&db, "a@x", "m1", 2, 1_700_000_100).unwrap();
        assert_eq!(get(&db, "A@x", "m1").unwrap(), Some((2, 1_700_000_100)));
        assert_eq!(get(&db, "b@x", "m1").unwrap(), None);
    }
}
