//! The message body in the formats EAS offers, the choice among a client's BodyPreferences
//! (MS-ASAIRS 2.2.2.12), truncation and Preview.
//!
//! Choice: MIME when the client listed type 4 and `MIMESupport` allows it for this message; else
//! the preference matching the native format (HTML when the message has an HTML part); else the
//! first usable one. If that one has AllOrNone and does not fit, the usable preference that
//! returns the most body text wins (MS-ASAIRS AllOrNone); if none fits, the first choice is sent
//! without Data. RTF is never produced: a client asking only for it (or only for MIME it may not
//! have) gets plain text with the limits it gave. No preferences at all: whole plain text.

use std::cell::OnceCell;

use mail_parser::PartType;

use super::html::{html_to_text, push_escaped, text_to_html};
use super::parsed::Parsed;
use crate::items::{BodyPreference, BodyType, char_prefix, utf8_prefix};

/// Longest Preview the spec allows (MS-ASAIRS 2.2.2.35: 0..=255 characters).
pub const MAX_PREVIEW: u32 = 255;

/// How much HTML is scanned to make a preview when the plain text is not otherwise needed.
const PREVIEW_HTML_SCAN: usize = 64 * 1024;

/// The bodies of one message, each computed at most once and only if asked for.
pub struct Bodies<'p, 'a> {
    parsed: &'p Parsed<'a>,
    native: BodyType,
    plain: OnceCell<String>,
    html: OnceCell<String>,
}

/// Body data as it goes on the wire: text, or the raw bytes of a message that is not UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyData<'b> {
    Text(&'b str),
    Bytes(&'b [u8]),
}

/// A body cut to what the client accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedBody<'b> {
    pub body_type: BodyType,
    /// Size in bytes of the whole body of this type.
    pub estimated_size: usize,
    pub truncated: bool,
    /// `None` when nothing may be sent (truncation size 0 or AllOrNone).
    pub data: Option<BodyData<'b>>,
    pub preview: Option<String>,
}

impl<'p, 'a> Bodies<'p, 'a> {
    pub fn new(parsed: &'p Parsed<'a>) -> Self {
        let native = match parsed.message() {
            Some(m) if m.html_body.iter().any(|&id| is_html(m, id)) => BodyType::Html,
            _ => BodyType::PlainText,
        };
        Self {
            parsed,
            native,
            plain: OnceCell::new(),
            html: OnceCell::new(),
        }
    }

    /// Plain text or HTML, whichever the message itself carries.
    pub fn native(&self) -> BodyType {
        self.native
    }

    pub fn plain(&self) -> &str {
        self.plain.get_or_init(|| self.make_plain())
    }

    pub fn html(&self) -> &str {
        self.html.get_or_init(|| self.make_html())
    }

    fn make_plain(&self) -> String {
        let Some(message) = self.parsed.message() else {
            return String::from_utf8_lossy(self.parsed.raw()).into_owned();
        };
        if let Some(text) = self.parsed.orphan_root_text() {
            return text.to_string();
        }
        let mut out = String::new();
        for part in message.text_body.iter().filter_map(|&id| message.part(id)) {
            let text = match &part.body {
                PartType::Text(t) => t.clone(),
                PartType::Html(h) => html_to_text(h).into(),
                _ => continue,
            };
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&text);
        }
        out
    }

    fn make_html(&self) -> String {
        let Some(message) = self.parsed.message() else {
            return text_to_html(self.plain());
        };
        if self.native != BodyType::Html {
            return text_to_html(self.plain());
        }
        let mut out = String::new();
        for part in message.html_body.iter().filter_map(|&id| message.part(id)) {
            match &part.body {
                PartType::Html(h) => out.push_str(h),
                PartType::Text(t) => push_escaped(&mut out, t),
                _ => {}
            }
        }
        out
    }

    fn data(&self, body_type: BodyType) -> BodyData<'_> {
        match body_type {
            BodyType::Html => BodyData::Text(self.html()),
            BodyType::Mime => match std::str::from_utf8(self.parsed.raw()) {
                Ok(text) => BodyData::Text(text),
                Err(_) => BodyData::Bytes(self.parsed.raw()),
            },
            BodyType::PlainText | BodyType::Rtf => BodyData::Text(self.plain()),
        }
    }

    fn size(&self, body_type: BodyType) -> usize {
        match self.data(body_type) {
            BodyData::Text(t) => t.len(),
            BodyData::Bytes(b) => b.len(),
        }
    }

    /// Picks among `prefs` (see the module doc) and renders the winner.
    pub fn render(&self, prefs: &[BodyPreference], mime_allowed: bool) -> RenderedBody<'_> {
        let pref = self.choose(prefs, mime_allowed);
        let mut rendered = self.cut(pref.body_type, pref.truncation_size, pref.all_or_none);
        rendered.preview = pref
            .preview
            .filter(|&n| n > 0)
            .map(|n| self.preview(n.min(MAX_PREVIEW)));
        rendered
    }

    fn choose(&self, prefs: &[BodyPreference], mime_allowed: bool) -> BodyPreference {
        let usable: Vec<&BodyPreference> = prefs
            .iter()
            .filter(|p| match p.body_type {
                BodyType::PlainText | BodyType::Html => true,
                BodyType::Mime => mime_allowed,
                BodyType::Rtf => false,
            })
            .collect();
        let Some(&first) = usable.first() else {
            return match prefs.first() {
                Some(p) => BodyPreference {
                    body_type: BodyType::PlainText,
                    ..*p
                },
                None => BodyPreference::whole(BodyType::PlainText),
            };
        };
        let primary = usable
            .iter()
            .find(|p| p.body_type == BodyType::Mime)
            .or_else(|| usable.iter().find(|p| p.body_type == self.native))
            .copied()
            .unwrap_or(first);
        if self.fits(primary) {
            return *primary;
        }
        usable
            .iter()
            .filter(|p| self.fits(p))
            .max_by_key(|p| {
                let size = self.size(p.body_type);
                p.truncation_size.map_or(size, |t| size.min(t as usize))
            })
            .map_or(*primary, |p| **p)
    }

    fn fits(&self, pref: &BodyPreference) -> bool {
        !pref.all_or_none
            || pref
                .truncation_size
                .is_none_or(|t| self.size(pref.body_type) <= t as usize)
    }

    /// The body of `body_type` cut to `limit` bytes on a character boundary.
    pub fn cut(
        &self,
        body_type: BodyType,
        limit: Option<u32>,
        all_or_none: bool,
    ) -> RenderedBody<'_> {
        let data = self.data(body_type);
        let size = match data {
            BodyData::Text(t) => t.len(),
            BodyData::Bytes(b) => b.len(),
        };
        let limit = limit.map(|l| l as usize).filter(|&l| l < size);
        let (data, truncated) = match limit {
            None => (Some(data), false),
            Some(_) if all_or_none => (None, true),
            Some(0) => (None, true),
            Some(l) => (
                Some(match data {
                    BodyData::Text(t) => BodyData::Text(utf8_prefix(t, l)),
                    BodyData::Bytes(b) => BodyData::Bytes(b.get(..l).unwrap_or(b)),
                }),
                true,
            ),
        };
        RenderedBody {
            body_type,
            estimated_size: size,
            truncated,
            data,
            preview: None,
        }
    }

    /// Up to `chars` characters of the plain text with white space collapsed.
    pub fn preview(&self, chars: u32) -> String {
        let scanned;
        let text = match (self.plain.get(), self.native) {
            (Some(plain), _) => plain.as_str(),
            (None, BodyType::Html) => {
                scanned = html_to_text(utf8_prefix(self.html(), PREVIEW_HTML_SCAN));
                scanned.as_str()
            }
            (None, _) => self.plain(),
        };
        let mut out = String::new();
        for word in text.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
            if out.chars().count() >= chars as usize {
                break;
            }
        }
        char_prefix(&out, chars as usize).to_string()
    }
}

fn is_html(message: &mail_parser::Message<'_>, id: u32) -> bool {
    matches!(message.part(id).map(|p| &p.body), Some(PartType::Html(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALTERNATIVE: &str = "Subject: alt\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain words here.\r\n\
        --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Html <b>words</b> here.</p>\r\n--b--\r\n";

    const PLAIN: &str =
        "Subject: p\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße aus Köln\r\n";

    fn pref(t: BodyType, trunc: Option<u32>, all_or_none: bool) -> BodyPreference {
        BodyPreference {
            body_type: t,
            truncation_size: trunc,
            all_or_none,
            preview: None,
        }
    }

    #[test]
    fn native_types() {
        let p = Parsed::new(ALTERNATIVE.as_bytes());
        let b = Bodies::new(&p);
        assert_eq!(b.native(), BodyType::Html);
        assert_eq!(b.plain(), "Plain words here.");
        assert!(b.html().contains("<b>words</b>"));
        let p = Parsed::new(PLAIN.as_bytes());
        let b = Bodies::new(&p);
        assert_eq!(b.native(), BodyType::PlainText);
        assert!(b.html().contains("Grüße aus Köln"));
    }

    #[test]
    fn native_wins_unless_mime() {
        let p = Parsed::new(ALTERNATIVE.as_bytes());
        let b = Bodies::new(&p);
        let prefs = [
            pref(BodyType::PlainText, None, false),
            pref(BodyType::Html, None, false),
            pref(BodyType::Mime, None, false),
        ];
        assert_eq!(b.render(&prefs, false).body_type, BodyType::Html);
        assert_eq!(b.render(&prefs, true).body_type, BodyType::Mime);
        assert_eq!(b.render(&prefs[..1], false).body_type, BodyType::PlainText);
        assert_eq!(b.render(&[], false).body_type, BodyType::PlainText);
        let rtf_only = [pref(BodyType::Rtf, Some(10), false)];
        let r = b.render(&rtf_only, true);
        assert_eq!(r.body_type, BodyType::PlainText);
        assert_eq!(r.data, Some(BodyData::Text("Plain word")));
    }

    #[test]
    fn all_or_none_falls_back_to_what_fits() {
        let p = Parsed::new(ALTERNATIVE.as_bytes());
        let b = Bodies::new(&p);
        let prefs = [
            pref(BodyType::Html, Some(10), true),
            pref(BodyType::PlainText, Some(100), true),
        ];
        let r = b.render(&prefs, false);
        assert_eq!(r.body_type, BodyType::PlainText);
        assert_eq!(r.data, Some(BodyData::Text("Plain words here.")));
        assert!(!r.truncated);
        let none_fit = [pref(BodyType::Html, Some(10), true)];
        let r = b.render(&none_fit, false);
        assert_eq!(r.body_type, BodyType::Html);
        assert_eq!(r.data, None);
        assert!(r.truncated);
        assert_eq!(r.estimated_size, b.html().len());
    }

    #[test]
    fn truncation_on_char_boundary() {
        let p = Parsed::new(PLAIN.as_bytes());
        let b = Bodies::new(&p);
        let full = b.plain();
        for limit in 0..full.len() as u32 + 2 {
            let r = b.cut(BodyType::PlainText, Some(limit), false);
            assert_eq!(r.estimated_size, full.len());
            match r.data {
                Some(BodyData::Text(t)) => {
                    assert!(t.len() <= limit as usize);
                    assert!(full.starts_with(t));
                    assert_eq!(r.truncated, t.len() < full.len());
                }
                None => assert_eq!(limit, 0),
                Some(BodyData::Bytes(_)) => unreachable!(),
            }
        }
        let r = b.cut(BodyType::PlainText, Some(4), false);
        assert_eq!(r.data, Some(BodyData::Text("Grü")));
    }

    #[test]
    fn mime_of_non_utf8_message_is_bytes() {
        let raw = b"Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nK\xf6ln\r\n";
        let p = Parsed::new(raw);
        let b = Bodies::new(&p);
        let r = b.cut(BodyType::Mime, Some(20), false);
        assert_eq!(r.data, Some(BodyData::Bytes(&raw[..20])));
        assert_eq!(b.plain(), "Köln\r\n");
    }

    #[test]
    fn preview_is_collapsed_and_capped() {
        let p = Parsed::new(ALTERNATIVE.as_bytes());
        let b = Bodies::new(&p);
        assert_eq!(b.preview(9), "Html word");
        let mut prefs = [pref(BodyType::PlainText, Some(0), false)];
        prefs[0].preview = Some(1000);
        let r = b.render(&prefs, false);
        assert_eq!(r.preview.as_deref(), Some("Plain words here."));
        assert_eq!(r.data, None);
        let long = format!("Subject: l\r\n\r\n{}\r\n", "word ".repeat(200));
        let p = Parsed::new(long.as_bytes());
        let b = Bodies::new(&p);
        assert_eq!(b.preview(MAX_PREVIEW).chars().count(), 255);
    }

    #[test]
    fn unparseable_message_body_is_raw_text() {
        let p = Parsed::new(b"\x00\x01 no headers at all");
        let b = Bodies::new(&p);
        assert_eq!(b.native(), BodyType::PlainText);
        assert!(b.plain().contains("no headers at all"));
    }
}
