//! `Tag`: one element name of the EAS vocabulary, as (code page, token).

use std::fmt;

use super::codepages;
use crate::ProtocolVersion;

/// An EAS element name: a WBXML code page and a token within it. The token is the bare
/// 6-bit value (0x05..=0x3F), without the WBXML content (0x40) or attribute (0x80) bits.
///
/// `Tag::new` accepts any pair so constants stay `const`; the decoder and `from_xml`
/// only ever produce tags that MS-ASWBXML assigns (see [`Tag::is_known`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Tag {
    page: u8,
    token: u8,
}

impl Tag {
    pub const fn new(page: u8, token: u8) -> Tag {
        Tag { page, token }
    }

    pub const fn page(self) -> u8 {
        self.page
    }

    pub const fn token(self) -> u8 {
        self.token
    }

    /// Every tag MS-ASWBXML assigns, by page, then token.
    pub fn all() -> impl Iterator<Item = Tag> {
        codepages::PAGES
            .iter()
            .flat_map(|p| p.entries.iter().map(|e| Tag::new(p.info.page, e.token)))
    }

    /// Whether MS-ASWBXML assigns this token on this page.
    pub fn is_known(self) -> bool {
        codepages::entry(self).is_some()
    }

    /// The spec's tag name, e.g. "SyncKey"; "Unknown" for an unassigned token.
    pub fn name(self) -> &'static str {
        codepages::entry(self).map_or("Unknown", |e| e.name)
    }

    /// The code page's namespace name, e.g. "AirSync"; "Unknown" past page 25.
    pub fn namespace(self) -> &'static str {
        codepages::page(self.page).map_or("Unknown", |p| p.info.name)
    }

    /// The tag called `name` in `namespace` (with or without the trailing colon).
    pub fn lookup(namespace: &str, name: &str) -> Option<Tag> {
        let page = codepages::page_by_namespace(namespace)?;
        let entry = page.entries.iter().find(|e| e.name == name)?;
        Some(Tag::new(page.info.page, entry.token))
    }

    /// The first protocol version whose token table has this tag. Unassigned tags
    /// report the newest version, so "is it old enough for this client" checks fail safe.
    pub fn since(self) -> ProtocolVersion {
        codepages::entry(self).map_or(ProtocolVersion::V16_1, |e| e.since)
    }

    /// The last protocol version whose token table has this tag (MS-ASWBXML retires
    /// some, e.g. `email:Body` after 2.5). Unassigned tags report the newest version.
    pub fn until(self) -> ProtocolVersion {
        codepages::entry(self).map_or(ProtocolVersion::V16_1, |e| e.until)
    }

    /// Whether protocol version `version` has this tag.
    pub fn supported_in(self, version: ProtocolVersion) -> bool {
        codepages::entry(self).is_some_and(|e| (e.since..=e.until).contains(&version))
    }
}

impl fmt::Display for Tag {
    /// `Namespace:Name`, or the raw numbers for an unassigned tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match codepages::entry(*self) {
            Some(e) => write!(f, "{}:{}", self.namespace(), e.name),
            None => write!(f, "page {} token 0x{:02X}", self.page, self.token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags::{airsync, airsyncbase, email, move_};

    #[test]
    fn names_and_namespaces() {
        assert_eq!(airsync::SYNC_KEY.name(), "SyncKey");
        assert_eq!(airsync::SYNC_KEY.namespace(), "AirSync");
        assert_eq!(airsyncbase::BODY.namespace(), "AirSyncBase");
        assert_eq!(move_::MOVE_ITEMS.namespace(), "Move");
        assert_eq!(Tag::new(0, 0x11).name(), "Unknown");
        assert_eq!(Tag::new(40, 0x05).namespace(), "Unknown");
        assert_eq!(airsync::SYNC_KEY.to_string(), "AirSync:SyncKey");
        assert_eq!(Tag::new(0, 0x11).to_string(), "page 0 token 0x11");
    }

    #[test]
    fn lookup_is_the_inverse_of_name() {
        assert_eq!(Tag::lookup("AirSync", "SyncKey"), Some(airsync::SYNC_KEY));
        assert_eq!(
            Tag::lookup("Email:", "DateReceived"),
            Some(email::DATE_RECEIVED)
        );
        assert_eq!(Tag::lookup("AirSync", "synckey"), None);
        assert_eq!(Tag::lookup("Bogus", "SyncKey"), None);
    }

    #[test]
    fn all_tags_are_known_and_named() {
        let all: Vec<Tag> = Tag::all().collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!(all.iter().all(|t| t.is_known() && t.name() != "Unknown"));
        assert!(all.contains(&airsync::SYNC) && all.contains(&email::DATE_RECEIVED));
        assert_eq!(all.iter().filter(|t| t.page() == 3).count(), 0);
    }

    #[test]
    fn versions() {
        use ProtocolVersion::*;
        assert_eq!(airsync::SYNC.since(), V2_5);
        assert_eq!(airsync::WAIT.since(), V12_1);
        assert_eq!(airsyncbase::PREVIEW.since(), V14_0);
        assert_eq!(email::BODY.until(), V2_5);
        assert!(email::BODY.supported_in(V2_5));
        assert!(!email::BODY.supported_in(V12_0));
        assert!(!email::LOCATION.supported_in(V16_0));
        assert!(!Tag::new(0, 0x11).supported_in(V16_1));
        assert_eq!(Tag::new(0, 0x11).since(), V16_1);
    }
}
