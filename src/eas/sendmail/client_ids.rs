//! The ClientIds of the messages each device has sent (MS-ASCMD 2.2.3.28.1), kept in the state
//! database so that a SendMail the phone repeats — because the answer to the first one was lost
//! — is answered with Status 118 instead of being sent twice, across restarts too. Only the most
//! recent [`KEPT`] per device are remembered: a phone retries within minutes, not hundreds of
//! messages later.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::fmt;

const TABLE: TableDefinition<&str, &str> = TableDefinition::new("compose_client_ids");

/// ClientIds remembered per device.
pub const KEPT: usize = 200;

/// The longest ClientId accepted (the spec allows 40 characters; some clients send GUIDs with
/// braces, so leave room).
pub const MAX_LEN: usize = 128;

#[derive(Debug)]
pub struct ClientIdError(String);

impl fmt::Display for ClientIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sent ClientIds: {}", self.0)
    }
}

impl std::error::Error for ClientIdError {}

fn err(e: impl fmt::Display) -> ClientIdError {
    ClientIdError(e.to_string())
}

fn key(user: &str, device: &str) -> String {
    format!("{}\0{device}", user.to_ascii_lowercase())
}

/// Whether `id` can be stored: not empty, not too long, no line breaks or control characters.
pub fn is_valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && !id.chars().any(char::is_control)
}

/// Whether the device already sent a message with this ClientId.
pub fn seen(db: &Database, user: &str, device: &str, id: &str) -> Result<bool, ClientIdError> {
    let txn = db.begin_read().map_err(err)?;
    let table = match txn.open_table(TABLE) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
        Err(e) => return Err(err(e)),
    };
    Ok(table
        .get(key(user, device).as_str())
        .map_err(err)?
        .is_some_and(|v| v.value().lines().any(|l| l == id)))
}

/// Remembers that the device sent `id`, forgetting the oldest beyond [`KEPT`].
pub fn record(db: &Database, user: &str, device: &str, id: &str) -> Result<(), ClientIdError> {
    let k = key(user, device);
    let txn = db.begin_write().map_err(err)?;
    {
        let mut table = txn.open_table(TABLE).map_err(err)?;
        let old = table
            .get(k.as_str())
            .map_err(err)?
            .map(|v| v.value().to_string())
            .unwrap_or_default();
        let mut ids: Vec<&str> = old.lines().filter(|l| *l != id).collect();
        ids.push(id);
        let skip = ids.len().saturating_sub(KEPT);
        let joined = ids[skip..].join("\n");
        table.insert(k.as_str(), joined.as_str()).map_err(err)?;
    }
    txn.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_device_and_forgets_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        assert!(!seen(&db, "a@x", "d1", "m1").unwrap());
        record(&db, "a@x", "d1", "m1").unwrap();
        assert!(seen(&db, "A@x", "d1", "m1").unwrap());
        assert!(!seen(&db, "a@x", "d2", "m1").unwrap());
        for i in 0..KEPT {
            record(&db, "a@x", "d1", &format!("n{i}")).unwrap();
        }
        assert!(!seen(&db, "a@x", "d1", "m1").unwrap());
        assert!(seen(&db, "a@x", "d1", "n0").unwrap());
        assert!(seen(&db, "a@x", "d1", &format!("n{}", KEPT - 1)).unwrap());
        assert!(is_valid("{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"));
        assert!(!is_valid("a\nb") && !is_valid(""));
    }
}
