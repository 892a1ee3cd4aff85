//! Device identities: the DeviceId a phone sends, and the (user, DeviceId) pair that names one
//! device record (one phone with two accounts is two devices).

use super::DeviceError;
use std::fmt;

/// A DeviceId as MS-ASHTTP restricts it, safe to use as a file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId(heapless::String<64>);

impl DeviceId {
    pub fn parse(s: &str) -> Result<DeviceId, DeviceError> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok_chars || s == "." || s == ".." {
            return Err(DeviceError::BadDeviceId(s.to_string()));
        }
        heapless::String::try_from(s)
            .ok()
            .filter(|id: &heapless::String<64>| !id.is_empty())
            .map(DeviceId)
            .ok_or_else(|| DeviceError::BadDeviceId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One device record's key: the owner (lower-cased address) and the DeviceId.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceKey {
    user: String,
    id: DeviceId,
}

impl DeviceKey {
    pub fn new(user: &str, id: DeviceId) -> DeviceKey {
        DeviceKey {
            user: user.to_ascii_lowercase(),
            id,
        }
    }

    /// Parses the `USER/ID` form the CLI and the storage use.
    pub fn parse(s: &str) -> Result<DeviceKey, DeviceError> {
        let (user, id) = s
            .rsplit_once('/')
            .ok_or_else(|| DeviceError::BadDeviceId(s.to_string()))?;
        if !crate::config::valid_email(user) {
            return Err(DeviceError::BadDeviceId(s.to_string()));
        }
        Ok(DeviceKey::new(user, DeviceId::parse(id)?))
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn id(&self) -> &DeviceId {
        &self.id
    }

    /// The storage key: `user/id` (addresses never contain '/').
    pub fn storage(&self) -> String {
        format!("{}/{}", self.user, self.id)
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.user, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_checked() {
        assert!(DeviceId::parse("Appl5K14358AA4S").is_ok());
        assert!(DeviceId::parse("a.b_c-d").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(DeviceId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_round_trip() {
        let k = DeviceKey::parse("Alice@Example.com/dev1").unwrap();
        assert_eq!(k.user(), "alice@example.com");
        assert_eq!(k.storage(), "alice@example.com/dev1");
        assert_eq!(DeviceKey::parse(&k.storage()).unwrap(), k);
        assert!(DeviceKey::parse("nouser/dev1").is_err());
        assert!(DeviceKey::parse("a@b/../x").is_err());
    }
}
