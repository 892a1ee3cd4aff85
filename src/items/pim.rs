//! What the contact, calendar, task and note conversions share: options from
//! the Sync request, the error type, and the "ghosted property" rule.

use super::component::Component;
use crate::ProtocolVersion;
use crate::wbxml::{Element, Node, Tag};
use jiff::tz::TimeZone;
use std::fmt;

/// How to convert, as far as the request and the account decide it.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    pub version: ProtocolVersion,
    /// AirSyncBase BodyPreference entries as (Type, TruncationSize), in the
    /// client's order. For 2.5 put the AirSync Truncation limit here with type 1.
    pub body_preferences: Vec<(u8, Option<u32>)>,
    /// The zone of floating times and of all-day events read from files
    /// (the account's home zone); UTC if unknown.
    pub time_zone: TimeZone,
    /// The account's own addresses: an event organised by one of them is the
    /// user's meeting (MeetingStatus 1), otherwise a received one (3).
    pub user_addresses: Vec<String>,
    /// The device's UTC offset in minutes, if known: it settles birthdays that
    /// devices send as UTC instants of their local midnight.
    pub device_utc_offset: Option<i32>,
    /// The Sync `Supported` list of the collection, if the client sent one:
    /// elements not in it are ghosted, so their absence in a Change keeps the
    /// stored value instead of deleting it (MS-ASCMD 2.2.3.168).
    pub supported: Option<Vec<Tag>>,
}

impl ConvertOptions {
    pub fn new(version: ProtocolVersion) -> ConvertOptions {
        ConvertOptions {
            version,
            body_preferences: Vec::new(),
            time_zone: TimeZone::UTC,
            user_addresses: Vec::new(),
            device_utc_offset: None,
            supported: None,
        }
    }

    /// Whether an element missing from a client's Change means "unchanged"
    /// rather than "deleted".
    pub fn is_ghosted(&self, tag: Tag) -> bool {
        self.supported.as_ref().is_some_and(|s| !s.contains(&tag))
    }

    pub fn is_user(&self, address: &str) -> bool {
        let a = strip_mailto(address);
        self.user_addresses
            .iter()
            .any(|u| u.eq_ignore_ascii_case(a))
    }
}

/// Sensitivity (MS-ASCAL 2.2.2.41, MS-ASTASK) ⇄ CLASS; unknown classes are private
/// (RFC 5545 3.8.1.3), Personal is kept as `X-PERSONAL`.
pub fn sensitivity(ev: &Component) -> u8 {
    match ev
        .text("CLASS")
        .map(|c| c.trim().to_ascii_uppercase())
        .as_deref()
    {
        None | Some("PUBLIC") => 0,
        Some("X-PERSONAL") => 1,
        Some("CONFIDENTIAL") => 3,
        Some(_) => 2,
    }
}

pub fn class_value(code: &str) -> &'static str {
    match code.trim() {
        "1" => "X-PERSONAL",
        "2" => "PRIVATE",
        "3" => "CONFIDENTIAL",
        _ => "PUBLIC",
    }
}

/// Drops the elements (at any depth) that protocol `version` does not have.
pub fn retain_supported(e: &mut Element, version: ProtocolVersion) {
    e.children.retain(|n| match n {
        Node::Element(c) => c.tag.supported_in(version),
        _ => true,
    });
    for n in &mut e.children {
        if let Node::Element(c) = n {
            retain_supported(c, version);
        }
    }
}

/// `mailto:x@y` → `x@y`.
pub fn strip_mailto(s: &str) -> &str {
    let t = s.trim();
    match t.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("mailto:") => &t[7..],
        _ => t,
    }
}

/// Why a file or an EAS item could not be converted at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemError {
    /// The file has no component of this kind (VCARD, VEVENT, VTODO, VJOURNAL).
    NoComponent(&'static str),
    /// The component has nothing a device could show (e.g. a VEVENT without DTSTART).
    Unusable(&'static str),
    /// A 16.x InstanceId names no occurrence of the series.
    NoSuchInstance(String),
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::NoComponent(kind) => write!(f, "no {kind} in the file"),
            ItemError::Unusable(why) => write!(f, "item cannot be converted: {why}"),
            ItemError::NoSuchInstance(id) => write!(f, "no occurrence at {id}"),
        }
    }
}

impl std::error::Error for ItemError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags;

    #[test]
    fn ghosting_follows_supported() {
        let mut o = ConvertOptions::new(ProtocolVersion::V14_1);
        assert!(!o.is_ghosted(tags::contacts::FIRST_NAME));
        o.supported = Some(vec![tags::contacts::FIRST_NAME]);
        assert!(!o.is_ghosted(tags::contacts::FIRST_NAME));
        assert!(o.is_ghosted(tags::contacts::LAST_NAME));
        o.user_addresses = vec!["Me@Example.org".into()];
        assert!(o.is_user("MAILTO:me@example.org"));
        assert_eq!(
            ItemError::NoComponent("VCARD").to_string(),
            "no VCARD in the file"
        );
    }
}
