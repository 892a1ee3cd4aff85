//! Policy levels and the guide's inheritance: global → domain → user → device. A level is either
//! customised (it stores a complete set of settings) or inherits the nearest customised level above
//! it, down to the built-in default (no constraints). Customising a level copies what it inherited
//! and changes the keys given; "inherit" drops its own set again. Changing a level therefore
//! changes every level that inherits from it, and none that is customised.

use super::{PolicyKey, PolicySettings, Value};
use crate::device::tables::{self, POLICIES};
use crate::device::{DeviceError, DeviceKey, registry};
use redb::TableHandle;
use redb::{ReadableDatabase, ReadableTable, TableError};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Level {
    Global,
    Domain(String),
    User(String),
    Device(DeviceKey),
}

impl Level {
    /// Parses `global`, `domain:D`, `user:U`, `device:ID` or `device:USER/ID`; a bare device id is
    /// looked up among the known devices (the guide: a device level exists only for a device that
    /// has connected).
    pub fn parse(text: &str, db: &redb::Database) -> Result<Level, DeviceError> {
        let bad = || DeviceError::BadLevel(text.to_string());
        if text == "global" {
            return Ok(Level::Global);
        }
        let (kind, value) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "domain" if !value.is_empty() && !value.contains(['@', '/', ' ']) => {
                Ok(Level::Domain(value.to_ascii_lowercase()))
            }
            "user" if crate::config::valid_email(value) => {
                Ok(Level::User(value.to_ascii_lowercase()))
            }
            "device" => Ok(Level::Device(registry::resolve(db, value)?.key()?)),
            _ => Err(bad()),
        }
    }

    /// This level and every level above it, most specific first.
    pub fn chain(&self) -> Vec<Level> {
        let mut out = vec![self.clone()];
        let mut cur = self.clone();
        while let Some(p) = cur.parent() {
            out.push(p.clone());
            cur = p;
        }
        out
    }

    pub fn parent(&self) -> Option<Level> {
        match self {
            Level::Global => None,
            Level::Domain(_) => Some(Level::Global),
            Level::User(u) => Some(Level::Domain(
                u.rsplit_once('@').map_or("", |(_, d)| d).to_string(),
            )),
            Level::Device(k) => Some(Level::User(k.user().to_string())),
        }
    }

    fn storage(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Global => f.write_str("global"),
            Level::Domain(d) => write!(f, "domain:{d}"),
            Level::User(u) => write!(f, "user:{u}"),
            Level::Device(k) => write!(f, "device:{k}"),
        }
    }
}

/// Where a level's settings come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Customised,
    /// Inherited from that level; `None` is the built-in default.
    Inherited(Option<Level>),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Customised => f.write_str("customised"),
            Source::Inherited(Some(l)) => write!(f, "inherited from {l}"),
            Source::Inherited(None) => f.write_str("inherited from default"),
        }
    }
}

/// A level's effective settings and their origin.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub level: Level,
    pub settings: PolicySettings,
    pub source: Source,
}

fn lookup(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    level: &Level,
) -> Result<Option<PolicySettings>, DeviceError> {
    let key = level.storage();
    match table.get(key.as_str())? {
        Some(v) => {
            let json: serde_json::Value = tables::decode(POLICIES.name(), &key, v.value())?;
            Ok(Some(PolicySettings::from_json(&json)))
        }
        None => Ok(None),
    }
}

fn resolve_in(
    table: Option<&impl ReadableTable<&'static str, &'static [u8]>>,
    base: &PolicySettings,
    level: &Level,
) -> Result<Resolved, DeviceError> {
    if let Some(table) = table {
        for (i, l) in level.chain().into_iter().enumerate() {
            if let Some(settings) = lookup(table, &l)? {
                let source = if i == 0 {
                    Source::Customised
                } else {
                    Source::Inherited(Some(l))
                };
                return Ok(Resolved {
                    level: level.clone(),
                    settings,
                    source,
                });
            }
        }
    }
    Ok(Resolved {
        level: level.clone(),
        settings: base.clone(),
        source: Source::Inherited(None),
    })
}

/// The settings in force at `level`; `base` is the default level (no constraints, plus the
/// configured device limit).
pub fn resolve(
    db: &redb::Database,
    base: &PolicySettings,
    level: &Level,
) -> Result<Resolved, DeviceError> {
    let txn = db.begin_read()?;
    match txn.open_table(POLICIES) {
        Ok(t) => resolve_in(Some(&t), base, level),
        Err(TableError::TableDoesNotExist(_)) => {
            resolve_in(None::<&redb::ReadOnlyTable<&str, &[u8]>>, base, level)
        }
        Err(e) => Err(e.into()),
    }
}

/// The policy a device gets.
pub fn for_device(
    db: &redb::Database,
    base: &PolicySettings,
    key: &DeviceKey,
) -> Result<PolicySettings, DeviceError> {
    Ok(resolve(db, base, &Level::Device(key.clone()))?.settings)
}

/// Customises `level` (starting from what it inherits when it is not customised yet) with
/// `changes`, each a key and its text value; all are checked before anything is written.
pub fn set(
    db: &redb::Database,
    base: &PolicySettings,
    level: &Level,
    changes: &[(String, String)],
) -> Result<PolicySettings, DeviceError> {
    let parsed = changes
        .iter()
        .map(|(k, v)| {
            let key = PolicyKey::from_name(k)?;
            Ok((key, key.parse_value(v)?))
        })
        .collect::<Result<Vec<(PolicyKey, Value)>, DeviceError>>()?;
    let txn = db.begin_write()?;
    let settings = {
        let mut table = txn.open_table(POLICIES)?;
        let mut settings = resolve_in(Some(&table), base, level)?.settings;
        for (k, v) in parsed {
            settings.set(k, v);
        }
        let bytes = tables::encode(&settings.to_json());
        table.insert(level.storage().as_str(), bytes.as_slice())?;
        settings
    };
    txn.commit()?;
    Ok(settings)
}

/// Makes `level` inherit again; false when it already did.
pub fn inherit(db: &redb::Database, level: &Level) -> Result<bool, DeviceError> {
    let txn = db.begin_write()?;
    let existed = txn
        .open_table(POLICIES)?
        .remove(level.storage().as_str())?
        .is_some();
    txn.commit()?;
    Ok(existed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DeviceId;

    fn db() -> (tempfile::TempDir, redb::Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        (dir, db)
    }

    fn set1(db: &redb::Database, level: &Level, k: &str, v: &str) {
        set(
            db,
            &PolicySettings::default(),
            level,
            &[(k.into(), v.into())],
        )
        .unwrap();
    }

    #[test]
    fn inheritance_follows_the_guide() {
        let (_d, db) = db();
        let base = PolicySettings::default();
        let key = DeviceKey::new("alice@example.com", DeviceId::parse("dev1").unwrap());
        let dom = Level::Domain("example.com".into());
        let user = Level::User("alice@example.com".into());
        let dev = Level::Device(key.clone());

        let r = resolve(&db, &base, &dev).unwrap();
        assert_eq!(r.source, Source::Inherited(None));
        assert_eq!(r.settings, base);

        // Customise global: everything below inherits it.
        set1(&db, &Level::Global, "min_password_length", "4");
        let r = resolve(&db, &base, &user).unwrap();
        assert_eq!(r.source, Source::Inherited(Some(Level::Global)));
        assert_eq!(r.settings.number(PolicyKey::MinPasswordLength), Some(4));

        // Customise the domain: the user now inherits from the domain, which started from global.
        set1(&db, &dom, "password_required", "true");
        let r = resolve(&db, &base, &user).unwrap();
        assert_eq!(r.source, Source::Inherited(Some(dom.clone())));
        assert!(r.settings.flag(PolicyKey::PasswordRequired));
        assert_eq!(r.settings.number(PolicyKey::MinPasswordLength), Some(4));
        assert_eq!(
            resolve(&db, &base, &dom).unwrap().source,
            Source::Customised
        );

        // Changing global no longer reaches the customised domain, nor what inherits from it.
        set1(&db, &Level::Global, "min_password_length", "8");
        let r = resolve(&db, &base, &dev).unwrap();
        assert_eq!(r.settings.number(PolicyKey::MinPasswordLength), Some(4));

        // Device level customised, then inherit brings back the parent's settings.
        set1(&db, &dev, "allow_camera", "false");
        let r = resolve(&db, &base, &dev).unwrap();
        assert_eq!(r.source, Source::Customised);
        assert!(!r.settings.flag(PolicyKey::AllowCamera));
        assert!(inherit(&db, &dev).unwrap());
        assert!(!inherit(&db, &dev).unwrap());
        let r = resolve(&db, &base, &dev).unwrap();
        assert!(r.settings.flag(PolicyKey::AllowCamera));

        // Inherit on the domain: back to global's (changed) settings.
        inherit(&db, &dom).unwrap();
        let r = resolve(&db, &base, &dev).unwrap();
        assert_eq!(r.source, Source::Inherited(Some(Level::Global)));
        assert_eq!(r.settings.number(PolicyKey::MinPasswordLength), Some(8));
        assert!(!r.settings.flag(PolicyKey::PasswordRequired));
    }

    #[test]
    fn bad_changes_write_nothing() {
        let (_d, db) = db();
        let base = PolicySettings::default();
        let changes = [
            ("password_required".to_string(), "true".to_string()),
            ("min_password_length".to_string(), "99".to_string()),
        ];
        assert!(set(&db, &base, &Level::Global, &changes).is_err());
        let r = resolve(&db, &base, &Level::Global).unwrap();
        assert_eq!(r.source, Source::Inherited(None));
        assert!(Level::parse("domain:", &db).is_err());
        assert!(Level::parse("user:nobody", &db).is_err());
        assert!(Level::parse("device:unknown", &db).is_err());
        assert_eq!(
            Level::parse("user:Bob@Example.com", &db).unwrap(),
            Level::User("bob@example.com".into())
        );
    }
}
