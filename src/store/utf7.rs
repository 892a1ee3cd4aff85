//! IMAP modified UTF-7 (RFC 3501 section 5.1.3), the encoding Maildir++ folder
//! names use on disk so that Dovecot and Courier show the same names as easd.

use std::fmt;

use base64::Engine;
use base64::alphabet::IMAP_MUTF7;
use base64::engine::general_purpose::{GeneralPurpose, NO_PAD};

/// RFC 3501: base64 with ',' for '/', no padding; trailing bits must be zero.
const ENGINE: GeneralPurpose = GeneralPurpose::new(&IMAP_MUTF7, NO_PAD);

/// Why a name is not valid modified UTF-7.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Utf7Error {
    /// A byte outside printable US-ASCII appeared unencoded.
    RawNonAscii,
    /// An `&` shift was not closed by `-`.
    Unterminated,
    /// The shifted part is not valid modified base64.
    BadBase64,
    /// The shifted part decodes to an odd number of bytes or broken surrogates.
    BadUtf16,
    /// The shifted part encodes characters that must appear as themselves.
    NotCanonical,
}

impl fmt::Display for Utf7Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RawNonAscii => "unencoded non-ASCII byte in modified UTF-7",
            Self::Unterminated => "unterminated '&' shift in modified UTF-7",
            Self::BadBase64 => "invalid base64 in modified UTF-7",
            Self::BadUtf16 => "invalid UTF-16 in modified UTF-7",
            Self::NotCanonical => "printable ASCII encoded in a modified UTF-7 shift",
        })
    }
}

impl std::error::Error for Utf7Error {}

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// Encodes a display name for use on disk.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut out, &mut pending);
    out
}

fn flush(out: &mut String, pending: &mut Vec<u16>) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    ENGINE.encode_string(&bytes, out);
    out.push('-');
    pending.clear();
}

/// Decodes an on-disk name for display.
pub fn decode(name: &str) -> Result<String, Utf7Error> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(pos) = rest.find(|c: char| c == '&' || !is_direct(c)) {
        let (direct, tail) = rest.split_at(pos);
        out.push_str(direct);
        if !tail.starts_with('&') {
            return Err(Utf7Error::RawNonAscii);
        }
        let shifted = &tail[1..];
        let end = shifted.find('-').ok_or(Utf7Error::Unterminated)?;
        let (b64, after) = shifted.split_at(end);
        if b64.is_empty() {
            out.push('&');
        } else {
            decode_shift(b64, &mut out)?;
        }
        rest = &after[1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn decode_shift(b64: &str, out: &mut String) -> Result<(), Utf7Error> {
    let bytes = ENGINE.decode(b64).map_err(|_| Utf7Error::BadBase64)?;
    let (units, odd) = bytes.as_chunks::<2>();
    if !odd.is_empty() {
        return Err(Utf7Error::BadUtf16);
    }
    for c in char::decode_utf16(units.iter().map(|pair| u16::from_be_bytes(*pair))) {
        let c = c.map_err(|_| Utf7Error::BadUtf16)?;
        if is_direct(c) {
            return Err(Utf7Error::NotCanonical);
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 5.1.3 example mailbox name.
        let name = "~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}";
        assert_eq!(encode(name), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), name);
    }

    #[test]
    fn ampersand_and_umlauts() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode("A&-B").unwrap(), "A&B");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").unwrap(), "Entwürfe");
        assert_eq!(decode(&encode("日本語")).unwrap(), "日本語");
    }

    #[test]
    fn astral_plane_round_trip() {
        let name = "Mail 📬 box";
        assert_eq!(decode(&encode(name)).unwrap(), name);
    }

    proptest::proptest! {
        #[test]
        fn any_name_round_trips(name in "\\PC*") {
            let encoded = encode(&name);
            proptest::prop_assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)));
            proptest::prop_assert_eq!(decode(&encoded), Ok(name));
        }

        #[test]
        fn decoding_garbage_never_panics(raw in "[ -~&]{0,40}") {
            if let Ok(name) = decode(&raw) {
                proptest::prop_assert_eq!(decode(&encode(&name)), Ok(name));
            }
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(decode("Entwürfe"), Err(Utf7Error::RawNonAscii));
        assert_eq!(decode("a&APw"), Err(Utf7Error::Unterminated));
        assert_eq!(decode("a&A*w-"), Err(Utf7Error::BadBase64));
        assert_eq!(decode("&AGE-"), Err(Utf7Error::NotCanonical));
        assert_eq!(decode("&2D0-"), Err(Utf7Error::BadUtf16));
    }
}
