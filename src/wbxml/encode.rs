//! An [`Element`] tree to WBXML bytes: version 1.3, unknown public id, UTF-8, no
//! string table, as MS-ASWBXML's example and every EAS server emit it.

use super::element::{Element, Node};

const HEADER: [u8; 4] = [
    0x03, // WBXML 1.3
    0x01, // public id 1: unknown
    0x6A, // charset 106: UTF-8
    0x00, // empty string table
];
const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const OPAQUE: u8 = 0xC3;
const CONTENT: u8 = 0x40;

/// Encode a document. Elements without children use the empty-tag form (no content
/// bit); text goes inline (STR_I), except NUL characters, which a NUL-terminated
/// string cannot hold and which become `ENTITY 0` so the text still round-trips.
pub fn encode(root: &Element) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&HEADER);
    let mut page = 0;
    element(&mut out, &mut page, root);
    out
}

fn element(out: &mut Vec<u8>, page: &mut u8, e: &Element) {
    if e.tag.page() != *page {
        *page = e.tag.page();
        out.extend_from_slice(&[SWITCH_PAGE, *page]);
    }
    if e.children.is_empty() {
        out.push(e.tag.token());
        return;
    }
    out.push(e.tag.token() | CONTENT);
    for child in &e.children {
        match child {
            Node::Element(c) => element(out, page, c),
            Node::Text(t) => text(out, t),
            Node::Opaque(d) => opaque(out, d),
        }
    }
    out.push(END);
}

fn text(out: &mut Vec<u8>, t: &str) {
    let mut parts = t.split('\0');
    if let Some(first) = parts.next() {
        str_i(out, first);
    }
    for part in parts {
        out.extend_from_slice(&[ENTITY, 0]);
        if !part.is_empty() {
            str_i(out, part);
        }
    }
}

/// WBXML cannot frame more than 4 GiB of opaque data; past that the data is cut so
/// the document stays well-formed (nothing in EAS comes near it).
fn opaque(out: &mut Vec<u8>, d: &[u8]) {
    let len = u32::try_from(d.len()).unwrap_or(u32::MAX);
    out.push(OPAQUE);
    mb_u32(out, len);
    out.extend_from_slice(d.get(..len as usize).unwrap_or(d));
}

fn str_i(out: &mut Vec<u8>, s: &str) {
    out.push(STR_I);
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// WBXML mb_u_int32: big-endian base-128, high bit set on all but the last byte.
fn mb_u32(out: &mut Vec<u8>, n: u32) {
    let mut shift = 28;
    while shift > 0 && n >> shift == 0 {
        shift -= 7;
    }
    while shift > 0 {
        out.push((n >> shift) as u8 & 0x7F | 0x80);
        shift -= 7;
    }
    out.push(n as u8 & 0x7F);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::decode::decode;
    use crate::wbxml::fixtures::{SPEC_EXAMPLE, spec_example_tree};
    use crate::wbxml::tags::{airsync, ping};

    #[test]
    fn encodes_the_ms_aswbxml_example_byte_for_byte() {
        assert_eq!(encode(&spec_example_tree()), SPEC_EXAMPLE);
    }

    /// Hand-assembled from the MS-ASWBXML tables for requests MS-ASCMD and MS-ASPROV
    /// show: an initial FolderSync and an initial Provision.
    #[test]
    fn hand_checked_requests() {
        use crate::wbxml::tags::{folderhierarchy as fh, provision as pv};
        let folder_sync = Element::new(fh::FOLDER_SYNC).with_text(fh::SYNC_KEY, "0");
        let bytes = [
            0x03, 0x01, 0x6A, 0x00, 0x00, 0x07, 0x56, 0x52, 0x03, b'0', 0x00, 0x01, 0x01,
        ];
        assert_eq!(encode(&folder_sync), bytes);
        assert_eq!(decode(&bytes), Ok(folder_sync));

        let policy_type = "MS-EAS-Provisioning-WBXML";
        let provision = Element::new(pv::PROVISION).with(
            Element::new(pv::POLICIES)
                .with(Element::new(pv::POLICY).with_text(pv::POLICY_TYPE, policy_type)),
        );
        let mut bytes = vec![
            0x03, 0x01, 0x6A, 0x00, 0x00, 0x0E, 0x45, 0x46, 0x47, 0x48, 0x03,
        ];
        bytes.extend_from_slice(policy_type.as_bytes());
        bytes.extend_from_slice(&[0x00, 0x01, 0x01, 0x01, 0x01]);
        assert_eq!(encode(&provision), bytes);
        assert_eq!(decode(&bytes), Ok(provision));
    }

    #[test]
    fn empty_elements_have_no_content_bit() {
        assert_eq!(
            encode(&Element::new(ping::PING)),
            [0x03, 0x01, 0x6A, 0x00, 0x00, 0x0D, 0x05]
        );
        let e = Element::new(airsync::SYNC).with(Element::new(airsync::GET_CHANGES));
        assert_eq!(encode(&e), [0x03, 0x01, 0x6A, 0x00, 0x45, 0x13, 0x01]);
    }

    #[test]
    fn multibyte_lengths() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (0x7F, &[0x7F]),
            (0x80, &[0x81, 0x00]),
            (0xA0, &[0x81, 0x20]),
            (0x3FFF, &[0xFF, 0x7F]),
            (0x4000, &[0x81, 0x80, 0x00]),
            (u32::MAX, &[0x8F, 0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for (n, want) in cases {
            let mut out = Vec::new();
            mb_u32(&mut out, *n);
            assert_eq!(&out, want, "{n}");
        }
    }

    #[test]
    fn nul_in_text_round_trips() {
        for t in ["a\0b", "\0", "\0\0x\0", ""] {
            let e = Element::text(airsync::SYNC_KEY, t);
            assert_eq!(decode(&encode(&e)), Ok(e));
        }
    }

    #[test]
    fn opaque_round_trips() {
        let e = Element::new(airsync::SYNC).with(Element::opaque(airsync::SYNC_KEY, vec![0; 300]));
        assert_eq!(decode(&encode(&e)), Ok(e));
    }
}
