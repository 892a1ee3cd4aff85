//! The identifiers EAS carries as strings: sync keys, collection ids, server ids and client ids.
//! All of them are capped at 64 characters by MS-ASCMD; anything longer is refused at parse time,
//! so nothing downstream ever sees an oversized or empty id.

use std::fmt;

/// The spec's length limit for SyncKey, CollectionId, ServerId and ClientId.
pub const ID_MAX: usize = 64;

type Short = heapless::String<ID_MAX>;

/// Why an identifier from the client was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong,
    /// A sync key that this server could not have issued.
    BadSyncKey,
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdError::Empty => f.write_str("empty identifier"),
            IdError::TooLong => write!(f, "identifier longer than {ID_MAX} characters"),
            IdError::BadSyncKey => f.write_str("malformed sync key"),
        }
    }
}

impl std::error::Error for IdError {}

fn short(s: &str) -> Result<Short, IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    Short::try_from(s).map_err(|_| IdError::TooLong)
}

/// A synchronization key: `0` asks for a fresh start; every other key names one state the server
/// handed out. easd's keys carry a random epoch chosen when their state was primed, so a key from
/// before a device was reset (or from another server) never matches a later state by accident.
/// Other servers' keys (Z-Push's `{uuid}12`, Exchange's numbers) are `Foreign`: the client and
/// `easd bench` carry them back verbatim, and the server refuses them with the command's "invalid
/// sync key" status, either because it reads the key with `parse`, which never yields one, or
/// because its state lookups treat `Foreign` as a key it never issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncKey {
    Initial,
    Issued { epoch: u32, counter: u32 },
    Foreign(ForeignKey),
}

/// A sync key of a shape easd never issues, kept as the bytes the server sent: 1 to 64 bytes of
/// UTF-8 (MS-ASCMD caps SyncKey at 64 characters). Stored inline so `SyncKey` stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ForeignKey {
    len: u8,
    bytes: [u8; ID_MAX],
}

impl ForeignKey {
    fn new(s: &str) -> Result<ForeignKey, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        let mut bytes = [0; ID_MAX];
        bytes
            .get_mut(..s.len())
            .ok_or(IdError::TooLong)?
            .copy_from_slice(s.as_bytes());
        let len = u8::try_from(s.len()).map_err(|_| IdError::TooLong)?;
        Ok(ForeignKey { len, bytes })
    }

    pub fn as_str(&self) -> &str {
        // `new` copies a whole `&str`, so the bytes are always UTF-8 and this never falls back.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for ForeignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl SyncKey {
    /// The first key after priming with `epoch`.
    pub fn first(epoch: u32) -> SyncKey {
        SyncKey::Issued { epoch, counter: 1 }
    }

    /// The key that follows this one (the epoch stays). Only a server knows what follows a
    /// foreign key, so that one is returned as it is.
    pub fn next(self) -> SyncKey {
        match self {
            SyncKey::Initial => SyncKey::first(1),
            SyncKey::Foreign(_) => self,
            SyncKey::Issued { epoch, counter } => SyncKey::Issued {
                epoch,
                counter: counter.checked_add(1).unwrap_or(1),
            },
        }
    }

    /// Parses a key a client sent. Keys this server never issues are errors, which the
    /// commands turn into their "invalid sync key" status.
    pub fn parse(s: &str) -> Result<SyncKey, IdError> {
        if s == "0" {
            return Ok(SyncKey::Initial);
        }
        let bad = || IdError::BadSyncKey;
        let epoch = s.get(..8).ok_or_else(bad)?;
        let counter = s.get(8..).ok_or_else(bad)?;
        if !epoch.bytes().all(|b| b.is_ascii_hexdigit())
            || counter.is_empty()
            || counter.len() > 10
            || !counter.bytes().all(|b| b.is_ascii_digit())
            || counter.starts_with('0')
        {
            return Err(bad());
        }
        Ok(SyncKey::Issued {
            epoch: u32::from_str_radix(epoch, 16).map_err(|_| bad())?,
            counter: counter.parse().map_err(|_| bad())?,
        })
    }

    /// Parses a key a server sent: easd's own shapes as `parse` reads them, anything else of 1 to
    /// 64 bytes as `Foreign`, so that it goes back byte for byte.
    pub fn parse_any(s: &str) -> Result<SyncKey, IdError> {
        match SyncKey::parse(s) {
            // `parse` takes upper-case hex in the epoch, which `Display` would not give back.
            Ok(k) if k.to_string() == s => Ok(k),
            _ => ForeignKey::new(s).map(SyncKey::Foreign),
        }
    }

    pub fn is_initial(self) -> bool {
        self == SyncKey::Initial
    }
}

impl fmt::Display for SyncKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncKey::Initial => f.write_str("0"),
            SyncKey::Issued { epoch, counter } => write!(f, "{epoch:08x}{counter}"),
            SyncKey::Foreign(k) => f.write_str(k.as_str()),
        }
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Short);

        impl $name {
            pub fn parse(s: &str) -> Result<$name, IdError> {
                short(s).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A folder's id as the client sees it. easd's are the decimal numbers of the change index.
    CollectionId
);
string_id!(
    /// An item's id as the client sees it: `<collection>:<uid>` for easd's own items.
    ServerId
);
string_id!(
    /// The client's temporary id for an item it adds.
    ClientId
);

impl CollectionId {
    pub fn from_number(n: u32) -> CollectionId {
        let mut s = Short::new();
        // A u32 has at most ten digits, far below the capacity.
        let _ = fmt::Write::write_fmt(&mut s, format_args!("{n}"));
        CollectionId(s)
    }

    /// The index number, when this is an id easd handed out.
    pub fn number(&self) -> Option<u32> {
        canonical_number(&self.0)
    }
}

impl ServerId {
    pub fn item(collection: u32, uid: u32) -> ServerId {
        let mut s = Short::new();
        let _ = fmt::Write::write_fmt(&mut s, format_args!("{collection}:{uid}"));
        ServerId(s)
    }

    /// (collection number, item uid), when this is an item id easd handed out.
    pub fn numbers(&self) -> Option<(u32, u32)> {
        let (c, u) = self.0.split_once(':')?;
        Some((canonical_number(c)?, canonical_number(u)?))
    }
}

/// Digits without a leading zero (so each number has exactly one spelling) that fit a u32.
fn canonical_number(s: &str) -> Option<u32> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if ok { s.parse().ok() } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_keys_round_trip() {
        assert_eq!(SyncKey::parse("0"), Ok(SyncKey::Initial));
        let k = SyncKey::first(0xdead_beef);
        assert_eq!(k.to_string(), "deadbeef1");
        assert_eq!(SyncKey::parse("deadbeef1"), Ok(k));
        let n = k.next().next();
        assert_eq!(SyncKey::parse(&n.to_string()), Ok(n));
        for bad in [
            "",
            "1",
            "deadbeef",
            "deadbeef0",
            "deadbeef01",
            "xyzxyzxy1",
            "00000000a",
            "0000000099999999999",
        ] {
            assert_eq!(SyncKey::parse(bad), Err(IdError::BadSyncKey), "{bad}");
        }
    }

    #[test]
    fn foreign_keys_go_back_verbatim_but_never_come_from_parse() {
        let zpush = "{8c5b1e2a-4f3d-4c1b-9a7e-0d2f6b8e1c3a}12";
        let exchange_guid = "{A1B2C3D4-E5F6-4789-ABCD-EF0123456789}";
        let upper_hex = "DEADBEEF1";
        for key in ["1", zpush, exchange_guid, upper_hex, &"k".repeat(64)] {
            let k = SyncKey::parse_any(key).unwrap();
            assert!(matches!(k, SyncKey::Foreign(_)), "{key}");
            assert_eq!(k.to_string(), key);
            assert_eq!(k.next(), k);
            assert!(!k.is_initial());
            assert_eq!(
                SyncKey::parse(key).ok().filter(|k| k.to_string() == key),
                None
            );
        }
        // A long number may happen to have easd's shape; it still goes back as it came.
        let numeric = SyncKey::parse_any("2147483647").unwrap();
        assert_eq!(numeric.to_string(), "2147483647");
        assert_eq!(SyncKey::parse_any("0"), Ok(SyncKey::Initial));
        assert_eq!(SyncKey::parse_any("deadbeef7"), SyncKey::parse("deadbeef7"));
        assert_eq!(SyncKey::parse_any(""), Err(IdError::Empty));
        assert_eq!(SyncKey::parse_any(&"k".repeat(65)), Err(IdError::TooLong));
        assert_eq!(SyncKey::parse_any(&"é".repeat(33)), Err(IdError::TooLong));
        assert_eq!(
            SyncKey::parse_any("schlüssel").map(|k| k.to_string()),
            Ok("schlüssel".into())
        );
        for key in ["1", zpush, exchange_guid] {
            assert_eq!(SyncKey::parse(key), Err(IdError::BadSyncKey), "{key}");
        }
    }

    #[test]
    fn ids_are_capped_and_numbers_canonical() {
        assert_eq!(ServerId::parse(""), Err(IdError::Empty));
        assert_eq!(ServerId::parse(&"x".repeat(65)), Err(IdError::TooLong));
        assert!(ClientId::parse(&"x".repeat(64)).is_ok());
        assert_eq!(ServerId::item(3, 17).as_str(), "3:17");
        assert_eq!(ServerId::parse("3:17").unwrap().numbers(), Some((3, 17)));
        for odd in ["3:017", "3", "3:", ":1", "a:1", "3:1:2", "3:99999999999"] {
            assert_eq!(ServerId::parse(odd).unwrap().numbers(), None, "{odd}");
        }
        assert_eq!(CollectionId::from_number(12).number(), Some(12));
        assert_eq!(CollectionId::parse("012").unwrap().number(), None);
        assert_eq!(CollectionId::parse("0").unwrap().number(), Some(0));
    }
}
