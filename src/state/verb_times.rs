//! What a user last did with a message through easd (SmartReply, SmartForward) and when, for
//! MS-ASEMAIL's LastVerbExecuted and LastVerbExecutionTime (14.0+): the Maildir keeps only the
//! R and P flags, neither reply-to-all nor the time. Keyed by user and message key, which a flag
//! change or a move keeps. Records of messages that are gone are pruned every `PRUNE_EVERY` new
//! records of a user, so the table stays within the user's live acted-on messages plus that many.

use super::StateError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// Value: (Unix seconds, the LastVerbExecuted code).
const TABLE: TableDefinition<&str, (u64, u8)> = TableDefinition::new("mail_verbs");

/// A user's records are checked against the mailbox each time their number reaches a multiple
/// of this; a check lists every folder, so it should not run on every reply.
pub const PRUNE_EVERY: usize = 256;

fn key(user: &str, message_key: &str) -> String {
    format!("{}\0{message_key}", user.to_ascii_lowercase())
}

/// The range of one user's keys: `user\0…` up to (excluding) `user\x01`.
fn user_range(user: &str) -> (String, String) {
    let user = user.to_ascii_lowercase();
    (format!("{user}\0"), format!("{user}\u{1}"))
}

/// What `record` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The message had a record already; it was replaced.
    Replaced,
    /// A new record; the user now has this many.
    Added(usize),
}

impl Recorded {
    /// Whether the user's records are due for a `prune`.
    pub fn prune_due(&self) -> bool {
        matches!(self, Recorded::Added(n) if n % PRUNE_EVERY == 0)
    }
}

/// Records that `user` acted on the message `message_key` with `verb` (a LastVerbExecuted
/// code) at `secs` (Unix seconds).
pub fn record(
    db: &Database,
    user: &str,
    message_key: &str,
    verb: u8,
    secs: u64,
) -> Result<Recorded, StateError> {
    let txn = db.begin_write()?;
    let recorded = {
        let mut table = txn.open_table(TABLE)?;
        if table
            .insert(key(user, message_key).as_str(), (secs, verb))?
            .is_some()
        {
            Recorded::Replaced
        } else {
            let (from, to) = user_range(user);
            Recorded::Added(table.range(from.as_str()..to.as_str())?.count())
        }
    };
    txn.commit()?;
    Ok(recorded)
}

/// Deletes `user`'s records of messages for which `exists` (given the message key) says no;
/// returns how many went.
pub fn prune(
    db: &Database,
    user: &str,
    exists: impl Fn(&str) -> bool,
) -> Result<usize, StateError> {
    let (from, to) = user_range(user);
    let txn = db.begin_write()?;
    let gone = {
        let mut table = txn.open_table(TABLE)?;
        let mut gone = Vec::new();
        for entry in table.range(from.as_str()..to.as_str())? {
            let (k, _) = entry?;
            let k = k.value();
            if !exists(&k[from.len()..]) {
                gone.push(k.to_string());
            }
        }
        for k in &gone {
            table.remove(k.as_str())?;
        }
        gone.len()
    };
    txn.commit()?;
    Ok(gone)
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

    #[test]
    fn counts_a_users_records_and_prunes_only_gone_messages() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        assert_eq!(record(&db, "a@x", "m1", 1, 1).unwrap(), Recorded::Added(1));
        assert_eq!(record(&db, "A@x", "m2", 1, 2).unwrap(), Recorded::Added(2));
        assert_eq!(record(&db, "a@x", "m1", 3, 3).unwrap(), Recorded::Replaced);
        // Another user's records, including one whose name extends a@x's, are not a@x's.
        assert_eq!(record(&db, "b@x", "m1", 1, 4).unwrap(), Recorded::Added(1));
        assert_eq!(record(&db, "a@xy", "m3", 1, 5).unwrap(), Recorded::Added(1));
        assert_eq!(prune(&db, "a@x", |k| k == "m2").unwrap(), 1);
        assert_eq!(get(&db, "a@x", "m1").unwrap(), None);
        assert_eq!(get(&db, "a@x", "m2").unwrap(), Some((1, 2)));
        assert_eq!(get(&db, "b@x", "m1").unwrap(), Some((1, 4)));
        assert_eq!(get(&db, "a@xy", "m3").unwrap(), Some((1, 5)));
        assert_eq!(record(&db, "a@x", "m4", 1, 6).unwrap(), Recorded::Added(2));
    }

    #[test]
    fn prune_falls_due_every_so_many_new_records() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        let due: Vec<usize> = (1..=2 * PRUNE_EVERY)
            .filter(|i| {
                record(&db, "a@x", &format!("m{i}"), 1, 0)
                    .unwrap()
                    .prune_due()
            })
            .collect();
        assert_eq!(due, [PRUNE_EVERY, 2 * PRUNE_EVERY]);
        assert!(!record(&db, "a@x", "m1", 3, 1).unwrap().prune_due());
    }
}
