//! The last Ping parameters of each device (HeartbeatInterval and Folders), so that an empty Ping —
//! which phones send to say "same as last time" — can be served, across restarts too.

use super::StateError;
use super::codec::{CodecError, Reader, Writer};
use super::sync::DeviceRef;
use redb::{Database, ReadableDatabase, TableDefinition};
use std::sync::Arc;

const TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("push_ping");
const LAYOUT: u8 = 1;

/// What a Ping watches: the heartbeat in seconds and (CollectionId, Class) pairs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PingParams {
    pub heartbeat: u32,
    pub folders: Vec<(String, String)>,
}

impl PingParams {
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(LAYOUT);
        w.u32(self.heartbeat).u64(self.folders.len() as u64);
        for (id, class) in &self.folders {
            w.str(id).str(class);
        }
        w.finish()
    }

    fn decode(buf: &[u8]) -> Result<PingParams, CodecError> {
        let mut r = Reader::new(buf, LAYOUT)?;
        let heartbeat = r.u32()?;
        let n = r.count()?;
        let mut folders = Vec::with_capacity(n);
        for _ in 0..n {
            folders.push((r.str()?.to_string(), r.str()?.to_string()));
        }
        r.end()?;
        Ok(PingParams { heartbeat, folders })
    }
}

/// The per-device Ping cache in the state database.
pub struct PingCache {
    db: Arc<Database>,
}

fn key(dev: DeviceRef<'_>) -> String {
    format!("{}\0{}", dev.user, dev.device)
}

impl PingCache {
    pub fn open(db: Arc<Database>) -> Result<PingCache, StateError> {
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(PingCache { db })
    }

    /// The cached parameters; a record that no longer decodes counts as none (the phone then gets
    /// Status 3 and sends them again).
    pub fn get(&self, dev: DeviceRef<'_>) -> Result<Option<PingParams>, StateError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        Ok(table
            .get(key(dev).as_str())?
            .and_then(|v| PingParams::decode(v.value()).ok()))
    }

    pub fn put(&self, dev: DeviceRef<'_>, params: &PingParams) -> Result<(), StateError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            table.insert(key(dev).as_str(), params.encode().as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Forgets a device (it was removed).
    pub fn forget(&self, dev: DeviceRef<'_>) -> Result<(), StateError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            table.remove(key(dev).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let dev = DeviceRef {
            user: "a@b.c",
            device: "d1",
        };
        let params = PingParams {
            heartbeat: 480,
            folders: vec![
                ("5".into(), "Email".into()),
                ("9".into(), "Calendar".into()),
            ],
        };
        {
            let cache =
                PingCache::open(Arc::new(crate::state::open_db(&path, 1 << 20).unwrap())).unwrap();
            assert_eq!(cache.get(dev).unwrap(), None);
            cache.put(dev, &params).unwrap();
        }
        let cache =
            PingCache::open(Arc::new(crate::state::open_db(&path, 1 << 20).unwrap())).unwrap();
        assert_eq!(cache.get(dev).unwrap(), Some(params));
        cache.forget(dev).unwrap();
        assert_eq!(cache.get(dev).unwrap(), None);
    }
}
