//! EAS protocol versions (MS-ASHTTP `MS-ASProtocolVersion`), ordered so that
//! `version >= ProtocolVersion::V14_0` reads like the specs' "14.0 and later".

use std::fmt;
use std::str::FromStr;

/// A protocol version easd speaks. Anything else is refused at the HTTP layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2_5,
    V12_0,
    V12_1,
    V14_0,
    V14_1,
    V16_0,
    V16_1,
}

impl ProtocolVersion {
    /// Every supported version, oldest first.
    pub const ALL: [ProtocolVersion; 7] = [
        Self::V2_5,
        Self::V12_0,
        Self::V12_1,
        Self::V14_0,
        Self::V14_1,
        Self::V16_0,
        Self::V16_1,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V2_5 => "2.5",
            Self::V12_0 => "12.0",
            Self::V12_1 => "12.1",
            Self::V14_0 => "14.0",
            Self::V14_1 => "14.1",
            Self::V16_0 => "16.0",
            Self::V16_1 => "16.1",
        }
    }

    /// The value of the base64 query form's protocol-version byte (MS-ASHTTP 2.2.1.1.1.1.1).
    pub const fn as_byte(self) -> u8 {
        match self {
            Self::V2_5 => 25,
            Self::V12_0 => 120,
            Self::V12_1 => 121,
            Self::V14_0 => 140,
            Self::V14_1 => 141,
            Self::V16_0 => 160,
            Self::V16_1 => 161,
        }
    }

    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_byte() == b)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string that is not one of [`ProtocolVersion::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVersion(pub String);

impl fmt::Display for UnknownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported protocol version {:?}", self.0)
    }
}

impl std::error::Error for UnknownVersion {}

impl FromStr for ProtocolVersion {
    type Err = UnknownVersion;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
            .ok_or_else(|| UnknownVersion(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        assert_eq!(
            "14.1".parse::<ProtocolVersion>(),
            Ok(ProtocolVersion::V14_1)
        );
        assert!("13.0".parse::<ProtocolVersion>().is_err());
        assert!(ProtocolVersion::V2_5 < ProtocolVersion::V16_1);
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::from_byte(v.as_byte()), Some(v));
        }
    }
}
