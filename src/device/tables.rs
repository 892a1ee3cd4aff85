//! The redb tables of device management and the JSON (de)serialisation of their records.
//! Records are JSON so fields can be added later without a migration.

use super::DeviceError;
use redb::TableHandle;
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `user/DeviceId` → device record.
pub const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("dev_devices");
/// `user/DeviceId` → the record of a wipe the device acknowledged (the device itself is gone).
pub const WIPED: TableDefinition<&str, &[u8]> = TableDefinition::new("dev_wiped");
/// user → Out-of-Office settings.
pub const OOF: TableDefinition<&str, &[u8]> = TableDefinition::new("dev_oof");
/// `user\nsender` → (OOF generation, when the last auto-reply went to that sender).
pub const OOF_SENT: TableDefinition<&str, &[u8]> = TableDefinition::new("dev_oof_sent");
/// level (`global`, `domain:D`, `user:U`, `device:U/ID`) → customised policy settings.
pub const POLICIES: TableDefinition<&str, &[u8]> = TableDefinition::new("pol_levels");
/// rule id → server, domain or user ABQ rule.
pub const ABQ_RULES: TableDefinition<u64, &[u8]> = TableDefinition::new("abq_rules");
/// `global` → the global ABQ action.
pub const ABQ_GLOBAL: TableDefinition<&str, &[u8]> = TableDefinition::new("abq_global");

/// Creates every table, so later read transactions find them.
pub fn ensure(db: &redb::Database) -> Result<(), DeviceError> {
    let txn = db.begin_write()?;
    txn.open_table(DEVICES)?;
    txn.open_table(WIPED)?;
    txn.open_table(OOF)?;
    txn.open_table(OOF_SENT)?;
    txn.open_table(POLICIES)?;
    txn.open_table(ABQ_RULES)?;
    txn.open_table(ABQ_GLOBAL)?;
    txn.commit()?;
    Ok(())
}

pub fn decode<T: DeserializeOwned>(
    table: &str,
    key: impl std::fmt::Display,
    bytes: &[u8],
) -> Result<T, DeviceError> {
    serde_json::from_slice(bytes).map_err(|_| DeviceError::Corrupt {
        table: table.to_string(),
        key: key.to_string(),
    })
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising plain structs of strings and numbers into a Vec cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// One record by key from a read transaction; a missing table reads as empty.
pub fn read<T: DeserializeOwned>(
    db: &redb::Database,
    def: TableDefinition<&str, &[u8]>,
    key: &str,
) -> Result<Option<T>, DeviceError> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    match table.get(key)? {
        Some(v) => decode(def.name(), key, v.value()).map(Some),
        None => Ok(None),
    }
}

/// Every record of a string-keyed table, in key order.
pub fn read_all<T: DeserializeOwned>(
    db: &redb::Database,
    def: TableDefinition<&str, &[u8]>,
) -> Result<Vec<(String, T)>, DeviceError> {
    let txn = db.begin_read()?;
    let table = match txn.open_table(def) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        let key = k.value().to_string();
        let value = decode(def.name(), &key, v.value())?;
        out.push((key, value));
    }
    Ok(out)
}

/// Writes (or with `None` deletes) one record in its own durable transaction.
pub fn write<T: Serialize>(
    db: &redb::Database,
    def: TableDefinition<&str, &[u8]>,
    key: &str,
    value: Option<&T>,
) -> Result<(), DeviceError> {
    let txn = db.begin_write()?;
    {
        let mut table = txn.open_table(def)?;
        match value {
            Some(v) => {
                table.insert(key, encode(v).as_slice())?;
            }
            None => {
                table.remove(key)?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}
