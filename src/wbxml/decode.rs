//! WBXML bytes to an [`Element`] tree, in one pass, bounded by [`Limits`].
//!
//! Accepts what WBXML 1.1-1.3 allows an EAS peer to send: SWITCH_PAGE, END, STR_I,
//! STR_T (with the string table), OPAQUE, ENTITY and the content bit. Attributes,
//! literals, extensions and processing instructions are not part of MS-ASWBXML and are
//! rejected. Text is taken as UTF-8 whatever the declared charset; invalid sequences
//! (and text in other charsets) are decoded lossily with U+FFFD rather than refused.

use std::fmt;

use super::codepages;
use super::element::{Element, Node};
use super::tag::Tag;

const SWITCH_PAGE: u8 = 0x00;
const END: u8 = 0x01;
const ENTITY: u8 = 0x02;
const STR_I: u8 = 0x03;
const STR_T: u8 = 0x83;
const OPAQUE: u8 = 0xC3;
const ATTRIBUTES: u8 = 0x80;
const CONTENT: u8 = 0x40;
const TOKEN_MASK: u8 = 0x3F;

/// Bounds on what one document may cost to decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting; the root is depth 1. Trees are dropped, compared and
    /// encoded recursively, so keep this in the tens, not the thousands.
    pub max_depth: usize,
    /// Most nodes (elements, text and opaque runs) in the tree.
    pub max_nodes: usize,
    /// Longest accepted input, in bytes.
    pub max_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_nodes: 1 << 20,
            max_len: 64 << 20,
        }
    }
}

/// Why a document was refused; each variant carries the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside the header, a token or a string.
    Truncated { offset: usize },
    /// The version byte is not WBXML 1.1, 1.2 or 1.3.
    UnsupportedVersion { offset: usize, version: u8 },
    /// A multi-byte integer does not fit in 32 bits.
    IntegerOverflow { offset: usize },
    /// SWITCH_PAGE to a page MS-ASWBXML does not define.
    UnknownPage { offset: usize, page: u8 },
    /// A tag token the current page does not assign.
    UnknownTag { offset: usize, page: u8, token: u8 },
    /// A tag with the attribute bit; EAS does not use attributes.
    Attributes { offset: usize },
    /// A global token EAS does not use (LITERAL, EXT_*, PI).
    UnsupportedToken { offset: usize, token: u8 },
    /// END with no open element.
    UnbalancedEnd { offset: usize },
    /// Text or opaque data outside the root element.
    ContentOutsideRoot { offset: usize },
    /// Bytes after the root element closed.
    TrailingData { offset: usize },
    /// The body has no element at all.
    NoRoot { offset: usize },
    /// ENTITY naming something that is not a Unicode scalar value.
    InvalidEntity { offset: usize, code: u32 },
    /// STR_T pointing outside the string table or at an unterminated string.
    BadStringReference { offset: usize, index: u32 },
    /// Nesting deeper than `Limits::max_depth`.
    TooDeep { offset: usize },
    /// More nodes than `Limits::max_nodes`.
    TooManyNodes { offset: usize },
    /// Input longer than `Limits::max_len`.
    TooLong { offset: usize },
}

impl DecodeError {
    /// Byte offset in the input where the problem was found.
    pub fn offset(&self) -> usize {
        match *self {
            Self::Truncated { offset }
            | Self::UnsupportedVersion { offset, .. }
            | Self::IntegerOverflow { offset }
            | Self::UnknownPage { offset, .. }
            | Self::UnknownTag { offset, .. }
            | Self::Attributes { offset }
            | Self::UnsupportedToken { offset, .. }
            | Self::UnbalancedEnd { offset }
            | Self::ContentOutsideRoot { offset }
            | Self::TrailingData { offset }
            | Self::NoRoot { offset }
            | Self::InvalidEntity { offset, .. }
            | Self::BadStringReference { offset, .. }
            | Self::TooDeep { offset }
            | Self::TooManyNodes { offset }
            | Self::TooLong { offset } => offset,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset();
        match *self {
            Self::Truncated { .. } => write!(f, "WBXML truncated at byte {at}"),
            Self::UnsupportedVersion { version, .. } => {
                write!(f, "unsupported WBXML version 0x{version:02X} at byte {at}")
            }
            Self::IntegerOverflow { .. } => write!(f, "WBXML integer overflow at byte {at}"),
            Self::UnknownPage { page, .. } => write!(f, "unknown code page {page} at byte {at}"),
            Self::UnknownTag { page, token, .. } => {
                write!(
                    f,
                    "unknown tag 0x{token:02X} on code page {page} at byte {at}"
                )
            }
            Self::Attributes { .. } => {
                write!(f, "WBXML attributes are not used by EAS (byte {at})")
            }
            Self::UnsupportedToken { token, .. } => {
                write!(
                    f,
                    "WBXML token 0x{token:02X} is not used by EAS (byte {at})"
                )
            }
            Self::UnbalancedEnd { .. } => write!(f, "END without an open element at byte {at}"),
            Self::ContentOutsideRoot { .. } => {
                write!(f, "content outside the root element at byte {at}")
            }
            Self::TrailingData { .. } => write!(f, "data after the root element at byte {at}"),
            Self::NoRoot { .. } => write!(f, "WBXML body has no element (byte {at})"),
            Self::InvalidEntity { code, .. } => {
                write!(f, "WBXML entity {code} is not a character (byte {at})")
            }
            Self::BadStringReference { index, .. } => {
                write!(f, "bad string table reference {index} at byte {at}")
            }
            Self::TooDeep { .. } => write!(f, "WBXML nesting too deep at byte {at}"),
            Self::TooManyNodes { .. } => write!(f, "too many WBXML nodes at byte {at}"),
            Self::TooLong { .. } => write!(f, "WBXML document too long ({at} bytes)"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decode with [`Limits::default`].
pub fn decode(bytes: &[u8]) -> Result<Element, DecodeError> {
    decode_with(bytes, &Limits::default())
}

/// Decode a complete document: header, one root element, nothing after it.
pub fn decode_with(bytes: &[u8], limits: &Limits) -> Result<Element, DecodeError> {
    if bytes.len() > limits.max_len {
        return Err(DecodeError::TooLong {
            offset: bytes.len(),
        });
    }
    let mut r = Reader { bytes, pos: 0 };
    let version_at = r.pos;
    let version = r.byte()?;
    if !(0x01..=0x03).contains(&version) {
        return Err(DecodeError::UnsupportedVersion {
            offset: version_at,
            version,
        });
    }
    if r.mb_u32()? == 0 {
        // Public id given as a string table index; EAS ignores the public id.
        r.mb_u32()?;
    }
    r.mb_u32()?; // charset: everything is read as UTF-8, see the module doc.
    let table_len = r.len()?;
    let table = r.take(table_len)?;
    Body {
        r,
        table,
        limits,
        page: 0,
        stack: Vec::new(),
        nodes: 0,
    }
    .run()
}

/// A cursor over the input that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn truncated(&self) -> DecodeError {
        DecodeError::Truncated {
            offset: self.bytes.len(),
        }
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(s)
    }

    /// WBXML mb_u_int32: big-endian base-128, high bit = more bytes follow.
    fn mb_u32(&mut self) -> Result<u32, DecodeError> {
        let start = self.pos;
        let mut value: u32 = 0;
        for _ in 0..5 {
            let b = self.byte()?;
            if value > u32::MAX >> 7 {
                return Err(DecodeError::IntegerOverflow { offset: start });
            }
            value = value << 7 | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::IntegerOverflow { offset: start })
    }

    /// An mb_u_int32 used as a length; lengths past the input end are truncation.
    fn len(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.mb_u32()?).map_err(|_| self.truncated())
    }

    /// A NUL-terminated string; the NUL is consumed but not returned.
    fn termstr(&mut self) -> Result<&'a [u8], DecodeError> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.truncated())?;
        let s = self.take(n)?;
        self.pos += 1;
        Ok(s)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// Decoder state for the body: the open elements, innermost last.
struct Body<'a, 'l> {
    r: Reader<'a>,
    table: &'a [u8],
    limits: &'l Limits,
    page: u8,
    stack: Vec<Element>,
    nodes: usize,
}

impl Body<'_, '_> {
    fn run(mut self) -> Result<Element, DecodeError> {
        loop {
            let at = self.r.pos;
            let token = match self.r.byte() {
                Ok(t) => t,
                Err(_) if self.stack.is_empty() => return Err(DecodeError::NoRoot { offset: at }),
                Err(e) => return Err(e),
            };
            match token {
                SWITCH_PAGE => {
                    let page = self.r.byte()?;
                    if codepages::page(page).is_none() {
                        return Err(DecodeError::UnknownPage { offset: at, page });
                    }
                    self.page = page;
                }
                END => {
                    let done = self
                        .stack
                        .pop()
                        .ok_or(DecodeError::UnbalancedEnd { offset: at })?;
                    if let Some(root) = self.attach(done) {
                        return self.finish(root);
                    }
                }
                STR_I => {
                    let s = self.r.termstr()?;
                    self.text(at, &String::from_utf8_lossy(s))?;
                }
                STR_T => {
                    let index = self.r.mb_u32()?;
                    let s = table_string(self.table, at, index)?;
                    self.text(at, &String::from_utf8_lossy(s))?;
                }
                ENTITY => {
                    let code = self.r.mb_u32()?;
                    let c = char::from_u32(code)
                        .ok_or(DecodeError::InvalidEntity { offset: at, code })?;
                    self.text(at, c.encode_utf8(&mut [0; 4]))?;
                }
                OPAQUE => {
                    let n = self.r.len()?;
                    let data = self.r.take(n)?.to_vec();
                    self.content(at, Node::Opaque(data))?;
                }
                _ if token & TOKEN_MASK < 0x05 => {
                    return Err(DecodeError::UnsupportedToken { offset: at, token });
                }
                _ if token & ATTRIBUTES != 0 => return Err(DecodeError::Attributes { offset: at }),
                _ => {
                    let tag = Tag::new(self.page, token & TOKEN_MASK);
                    if !tag.is_known() {
                        return Err(DecodeError::UnknownTag {
                            offset: at,
                            page: tag.page(),
                            token: tag.token(),
                        });
                    }
                    self.count(at)?;
                    let element = Element::new(tag);
                    if token & CONTENT != 0 {
                        if self.stack.len() >= self.limits.max_depth {
                            return Err(DecodeError::TooDeep { offset: at });
                        }
                        self.stack.push(element);
                    } else if let Some(root) = self.attach(element) {
                        return self.finish(root);
                    }
                }
            }
        }
    }

    /// Append a finished element to its parent; hand it back if it was the root.
    fn attach(&mut self, element: Element) -> Option<Element> {
        match self.stack.last_mut() {
            Some(parent) => {
                parent.children.push(Node::Element(element));
                None
            }
            None => Some(element),
        }
    }

    fn finish(&self, root: Element) -> Result<Element, DecodeError> {
        if self.r.at_end() {
            Ok(root)
        } else {
            Err(DecodeError::TrailingData { offset: self.r.pos })
        }
    }

    fn count(&mut self, at: usize) -> Result<(), DecodeError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(DecodeError::TooManyNodes { offset: at });
        }
        Ok(())
    }

    /// Text merges into a directly preceding text node.
    fn text(&mut self, at: usize, s: &str) -> Result<(), DecodeError> {
        if let Some(Node::Text(prev)) = self.stack.last_mut().and_then(|e| e.children.last_mut()) {
            prev.push_str(s);
            return Ok(());
        }
        self.content(at, Node::Text(s.to_owned()))
    }

    fn content(&mut self, at: usize, node: Node) -> Result<(), DecodeError> {
        if self.stack.is_empty() {
            return Err(DecodeError::ContentOutsideRoot { offset: at });
        }
        self.count(at)?;
        if let Some(parent) = self.stack.last_mut() {
            parent.children.push(node);
        }
        Ok(())
    }
}

/// The NUL-terminated string at `index` in the string table.
fn table_string(table: &[u8], at: usize, index: u32) -> Result<&[u8], DecodeError> {
    let bad = DecodeError::BadStringReference { offset: at, index };
    let start = usize::try_from(index).map_err(|_| bad.clone())?;
    let rest = table.get(start..).ok_or_else(|| bad.clone())?;
    let n = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad.clone())?;
    rest.get(..n).ok_or(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::fixtures::{SPEC_EXAMPLE, spec_example_tree};
    use crate::wbxml::tags::{airsync, folderhierarchy, ping};

    fn doc(body: &[u8]) -> Vec<u8> {
        let mut v = vec![0x03, 0x01, 0x6A, 0x00];
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn decodes_the_ms_aswbxml_example() {
        assert_eq!(decode(SPEC_EXAMPLE), Ok(spec_example_tree()));
    }

    #[test]
    fn empty_root_and_page_switch_before_root() {
        // <Ping xmlns="Ping:"/> as clients send it to reuse the last parameters.
        assert_eq!(
            decode(&doc(&[0x00, 0x0D, 0x05])),
            Ok(Element::new(ping::PING))
        );
        let fs = decode(&doc(&[
            0x00, 0x07, 0x56, 0x52, 0x03, b'0', 0x00, 0x01, 0x01,
        ]));
        assert_eq!(
            fs,
            Ok(Element::new(folderhierarchy::FOLDER_SYNC)
                .with_text(folderhierarchy::SYNC_KEY, "0"))
        );
    }

    #[test]
    fn string_table_entities_and_merging() {
        // Public id by string table index (0), a table "ab\0cd\0", then
        // <SyncKey>[STR_T 3]x&#233;[STR_I ""]</SyncKey>: all one text node.
        let bytes = [
            0x03, 0x00, 0x00, 0x6A, 0x06, b'a', b'b', 0, b'c', b'd', 0, 0x4B, 0x83, 0x03, 0x03,
            b'x', 0x00, 0x02, 0x81, 0x69, 0x03, 0x00, 0x01,
        ];
        assert_eq!(decode(&bytes), Ok(Element::text(airsync::SYNC_KEY, "cdxé")));
    }

    #[test]
    fn opaque_and_lossy_text() {
        let bytes = doc(&[0x4B, 0xC3, 0x02, 0xFF, 0x00, 0x03, 0xFF, 0x00, 0x01]);
        let e = decode(&bytes).unwrap();
        assert_eq!(
            e.children,
            vec![Node::Opaque(vec![0xFF, 0]), Node::Text("\u{FFFD}".into())]
        );
    }

    #[test]
    fn errors_carry_offsets() {
        use DecodeError::*;
        let cases: &[(&[u8], DecodeError)] = &[
            (&[], Truncated { offset: 0 }),
            (&[0x03, 0x01, 0x6A], Truncated { offset: 3 }),
            (
                &[0x04, 0x01, 0x6A, 0x00, 0x05],
                UnsupportedVersion {
                    offset: 0,
                    version: 4,
                },
            ),
            (
                &[0x03, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01],
                IntegerOverflow { offset: 1 },
            ),
            (
                &[0x03, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
                IntegerOverflow { offset: 1 },
            ),
            (&[0x03, 0x01, 0x6A, 0x05, 0x00], Truncated { offset: 5 }),
            (&[0x03, 0x01, 0x6A, 0x00], NoRoot { offset: 4 }),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x00, 0x1A, 0x05],
                UnknownPage {
                    offset: 4,
                    page: 26,
                },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x51],
                UnknownTag {
                    offset: 4,
                    page: 0,
                    token: 0x11,
                },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0xC5, 0x01],
                Attributes { offset: 4 },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x04, 0x00],
                UnsupportedToken {
                    offset: 5,
                    token: 0x04,
                },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x43],
                UnsupportedToken {
                    offset: 5,
                    token: 0x43,
                },
            ),
            (&[0x03, 0x01, 0x6A, 0x00, 0x01], UnbalancedEnd { offset: 4 }),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x03, b'x', 0x00],
                ContentOutsideRoot { offset: 4 },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x05, 0x05],
                TrailingData { offset: 5 },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x01, 0x00, 0x00],
                TrailingData { offset: 6 },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x02, 0x83, 0xB0, 0x00, 0x01],
                InvalidEntity {
                    offset: 5,
                    code: 0xD800,
                },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x83, 0x00, 0x01],
                BadStringReference {
                    offset: 5,
                    index: 0,
                },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0xC3, 0x05, 0x00, 0x01],
                Truncated { offset: 9 },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x03, b'x'],
                Truncated { offset: 7 },
            ),
            (
                &[0x03, 0x01, 0x6A, 0x00, 0x45, 0x4B],
                Truncated { offset: 6 },
            ),
        ];
        for (bytes, want) in cases {
            let got = decode(bytes);
            assert_eq!(got.as_ref(), Err(want), "{bytes:02X?}");
            assert_eq!(want.offset(), got.err().map_or(usize::MAX, |e| e.offset()));
            assert!(!want.to_string().is_empty());
        }
    }

    #[test]
    fn limits() {
        let tight = Limits {
            max_depth: 2,
            max_nodes: 3,
            max_len: 12,
        };
        // Sync > Collections > Collection: three deep.
        let deep = doc(&[0x45, 0x5C, 0x4F, 0x01, 0x01, 0x01]);
        assert_eq!(
            decode_with(&deep, &tight),
            Err(DecodeError::TooDeep { offset: 6 })
        );
        // Sync with four empty SyncKeys: five elements.
        let wide = doc(&[0x45, 0x0B, 0x0B, 0x0B, 0x0B, 0x01]);
        assert_eq!(
            decode_with(&wide, &tight),
            Err(DecodeError::TooManyNodes { offset: 7 })
        );
        let long = doc(&[0x45, 0x03, b'x', b'x', b'x', b'x', b'x', b'x', 0x00, 0x01]);
        assert_eq!(
            decode_with(&long, &tight),
            Err(DecodeError::TooLong { offset: 14 })
        );
        assert!(decode_with(&doc(&[0x45, 0x0B, 0x01]), &tight).is_ok());
    }

    #[test]
    fn hostile_nesting_stops_at_the_default_depth() {
        let deep = doc(&[0x45; 100_000]);
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep { offset: 4 + 64 }));
    }
}
