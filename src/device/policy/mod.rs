//! Security policies: the settings (`keys`), one complete set per customised level with the
//! guide's inheritance (`levels`), and the EASProvisionDoc a device receives (`doc`).

pub mod doc;
mod keys;
pub mod levels;

pub use keys::{Kind, PolicyKey, Value};
pub use levels::{Level, Resolved, Source};

use crate::ProtocolVersion;
use std::collections::BTreeMap;

/// A complete set of policy settings: every key has a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySettings(BTreeMap<PolicyKey, Value>);

impl Default for PolicySettings {
    /// The guide's default: no constraints.
    fn default() -> Self {
        PolicySettings(
            PolicyKey::ALL
                .iter()
                .map(|k| (*k, k.default_value()))
                .collect(),
        )
    }
}

impl PolicySettings {
    pub fn get(&self, key: PolicyKey) -> Value {
        self.0
            .get(&key)
            .cloned()
            .unwrap_or_else(|| key.default_value())
    }

    pub fn set(&mut self, key: PolicyKey, value: Value) {
        if key.accepts(&value) {
            self.0.insert(key, value);
        }
    }

    pub fn flag(&self, key: PolicyKey) -> bool {
        matches!(self.get(key), Value::Bool(true))
    }

    pub fn number(&self, key: PolicyKey) -> Option<i64> {
        match self.get(key) {
            Value::Number(n) => n,
            _ => None,
        }
    }

    pub fn version(&self, key: PolicyKey) -> Option<ProtocolVersion> {
        match self.get(key) {
            Value::Version(v) => v,
            _ => None,
        }
    }

    /// Every key with its value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (PolicyKey, Value)> + '_ {
        PolicyKey::ALL.iter().map(|k| (*k, self.get(*k)))
    }

    /// The storage form: `{"name": value, ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self
            .iter()
            .map(|(k, v)| {
                let json = match v {
                    Value::Bool(b) => serde_json::Value::Bool(b),
                    Value::Number(Some(n)) => serde_json::Value::from(n),
                    Value::List(l) => serde_json::Value::from(l),
                    Value::Version(Some(v)) => serde_json::Value::from(v.as_str()),
                    Value::Number(None) | Value::Version(None) => serde_json::Value::Null,
                };
                (k.name().to_string(), json)
            })
            .collect();
        serde_json::Value::Object(map)
    }

    /// Reads the storage form; keys it lacks (added by a later version) keep their defaults,
    /// unknown keys and ill-shaped values are ignored.
    pub fn from_json(json: &serde_json::Value) -> PolicySettings {
        let mut s = PolicySettings::default();
        let Some(map) = json.as_object() else {
            return s;
        };
        for key in PolicyKey::ALL {
            let Some(v) = map.get(key.name()) else {
                continue;
            };
            let value = match (key.kind(), v) {
                (Kind::Bool, serde_json::Value::Bool(b)) => Value::Bool(*b),
                (Kind::List, serde_json::Value::Array(a)) => Value::List(
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect(),
                ),
                (Kind::Version, serde_json::Value::String(t)) => {
                    Value::Version(t.parse::<ProtocolVersion>().ok())
                }
                (Kind::Version, _) => Value::Version(None),
                (_, serde_json::Value::Null) => Value::Number(None),
                (_, n) => Value::Number(n.as_i64()),
            };
            s.set(*key, value);
        }
        s
    }

    /// Changes whenever any setting changes: a device holding a policy key issued for another
    /// fingerprint must provision again.
    pub fn fingerprint(&self) -> u64 {
        let digest =
            ring::digest::digest(&ring::digest::SHA256, self.to_json().to_string().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(digest.as_ref().get(..8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_and_fingerprint() {
        let mut s = PolicySettings::default();
        let before = s.fingerprint();
        s.set(PolicyKey::PasswordRequired, Value::Bool(true));
        s.set(PolicyKey::MinPasswordLength, Value::Number(Some(6)));
        s.set(
            PolicyKey::UnapprovedInRomApplicationList,
            Value::List(vec!["Camera".into()]),
        );
        s.set(
            PolicyKey::MaxProtocolVersion,
            Value::Version(Some(ProtocolVersion::V14_1)),
        );
        assert_ne!(s.fingerprint(), before);
        let back = PolicySettings::from_json(&s.to_json());
        assert_eq!(back, s);
        assert_eq!(back.fingerprint(), s.fingerprint());
        // Out-of-range values are refused, not stored.
        s.set(PolicyKey::MinPasswordLength, Value::Number(Some(99)));
        assert_eq!(s.number(PolicyKey::MinPasswordLength), Some(6));
        let partial = serde_json::json!({"password_required": true, "junk": 1});
        let p = PolicySettings::from_json(&partial);
        assert!(p.flag(PolicyKey::PasswordRequired));
        assert!(p.flag(PolicyKey::AllowCamera));
    }
}
