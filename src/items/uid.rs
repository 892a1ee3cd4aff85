//! Item UIDs: reading the UID of a vCard or iCalendar file and making fresh
//! ones for items a device creates.

use super::component::Document;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

/// The UID of the first card, event, task or journal in `text`.
pub fn item_uid(text: &str) -> Option<String> {
    let doc = Document::parse(text);
    doc.components.iter().find_map(|c| {
        let item = if c.is("VCALENDAR") {
            c.children
                .iter()
                .find(|k| k.is("VEVENT") || k.is("VTODO") || k.is("VJOURNAL"))?
        } else {
            c
        };
        item.text("UID")
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
    })
}

/// A random UUID (version 4 layout). `RandomState` is seeded from the OS per
/// instance, which is all the randomness a UID needs.
pub fn new_uid() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut words = [0u64; 2];
    for w in &mut words {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(nanos);
        *w = h.finish();
    }
    let hi = (words[0] & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
    let lo = (words[1] & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_uids() {
        assert_eq!(
            item_uid("BEGIN:VCARD\nUID:abc\nEND:VCARD\n").as_deref(),
            Some("abc")
        );
        let cal = "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:x\nEND:VTIMEZONE\nBEGIN:VEVENT\nUID:e1\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_eq!(item_uid(cal).as_deref(), Some("e1"));
        assert_eq!(item_uid("garbage"), None);
    }

    #[test]
    fn fresh_uids_differ() {
        let (a, b) = (new_uid(), new_uid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
