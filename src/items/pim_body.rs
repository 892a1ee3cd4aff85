//! Bodies of contacts, events, tasks and notes: the AirSyncBase Body
//! (MS-ASAIRS 2.2.2.9) in the type and size the client prefers, or a class's
//! own Body elements under 2.5; and the text a client's Body carries back.

use super::pim::ConvertOptions;
use crate::ProtocolVersion;
use crate::wbxml::{Element, Tag, tags};

/// A class's pre-12.0 body elements.
#[derive(Clone, Copy, Debug)]
pub struct LegacyBody {
    pub body: Tag,
    pub size: Option<Tag>,
    pub truncated: Tag,
}

const PLAIN: u8 = 1;
const HTML: u8 = 2;

/// The body elements for `text` (and an HTML rendering if the file has one).
pub fn to_eas(
    text: &str,
    html: Option<&str>,
    opts: &ConvertOptions,
    legacy: Option<LegacyBody>,
) -> Vec<Element> {
    if text.is_empty() && html.is_none_or(str::is_empty) {
        return Vec::new();
    }
    if opts.version < ProtocolVersion::V12_0 {
        let Some(legacy) = legacy else {
            return Vec::new();
        };
        let limit = opts.body_preferences.first().and_then(|p| p.1);
        let (data, truncated) = truncate(text, limit);
        let mut out = Vec::new();
        if let Some(size) = legacy.size {
            out.push(Element::text(size, text.len().to_string()));
        }
        out.push(Element::text(
            legacy.truncated,
            if truncated { "1" } else { "0" },
        ));
        out.push(Element::text(legacy.body, data));
        return out;
    }
    let chosen = opts
        .body_preferences
        .iter()
        .find(|(t, _)| *t == PLAIN || *t == HTML)
        .copied()
        .unwrap_or((PLAIN, None));
    let full = match chosen.0 {
        HTML => html
            .map(str::to_string)
            .unwrap_or_else(|| text_to_html(text)),
        _ => text.to_string(),
    };
    let (data, truncated) = truncate(&full, chosen.1);
    let mut body = Element::new(tags::airsyncbase::BODY)
        .with_text(tags::airsyncbase::TYPE, chosen.0.to_string())
        .with_text(
            tags::airsyncbase::ESTIMATED_DATA_SIZE,
            full.len().to_string(),
        );
    if truncated {
        body.push_text(tags::airsyncbase::TRUNCATED, "1");
    }
    body.push_text(tags::airsyncbase::DATA, data);
    vec![body]
}

/// The plain text of a client's body, if it sent one (HTML is flattened).
/// `None` means no body element at all, which is not the same as an empty one.
pub fn from_eas(app: &Element, legacy: Option<LegacyBody>) -> Option<String> {
    if let Some(body) = app.first(tags::airsyncbase::BODY) {
        let data = body.child_text(tags::airsyncbase::DATA).unwrap_or("");
        let kind = body.child_text(tags::airsyncbase::TYPE).unwrap_or("1");
        return Some(match kind.trim() {
            "2" => html_to_text(data),
            _ => data.replace("\r\n", "\n"),
        });
    }
    let legacy = legacy?;
    app.first(legacy.body)
        .map(|b| b.text_content().unwrap_or("").replace("\r\n", "\n"))
}

/// Whether `incoming` is only what a device kept of `stored` after we
/// truncated it: writing it back would cut the stored text.
pub fn is_truncated_echo(stored: &str, incoming: &str) -> bool {
    incoming.len() < stored.len() && !incoming.is_empty() && stored.starts_with(incoming)
}

/// At most `limit` bytes, cut on a character boundary.
fn truncate(text: &str, limit: Option<u32>) -> (String, bool) {
    match limit.map(|l| l as usize) {
        Some(l) if text.len() > l => {
            let mut end = l;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (text[..end].to_string(), true)
        }
        _ => (text.to_string(), false),
    }
}

fn text_to_html(text: &str) -> String {
    let mut out = String::from("<html><body>");
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>"),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out.push_str("</body></html>");
    out
}

/// A small HTML flattener for notes typed on a phone: tags dropped, line
/// breaks kept, the common entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = rest[1..end.saturating_sub(1).max(1)]
                .trim()
                .to_ascii_lowercase();
            let name = tag
                .trim_start_matches('/')
                .split([' ', '/'])
                .next()
                .unwrap_or("");
            if matches!(name, "br" | "p" | "div" | "li" | "tr")
                && (name == "br" || tag.starts_with('/'))
            {
                out.push('\n');
            }
            if matches!(name, "style" | "script" | "head") && !tag.starts_with('/') {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                rest = &rest[lower.find(&close).unwrap_or(rest.len())..];
                continue;
            }
            rest = &rest[end..];
        } else {
            let end = rest.find(';').filter(|&e| e <= 10);
            let decoded = end.and_then(|e| entity(&rest[1..e]));
            match (end, decoded) {
                (Some(e), Some(c)) => {
                    out.push(c);
                    rest = &rest[e + 1..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out.trim_end_matches('\n').to_string()
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{a0}'),
        _ => {
            let n = name.strip_prefix('#')?;
            let code = match n.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => n.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(prefs: Vec<(u8, Option<u32>)>) -> ConvertOptions {
        let mut o = ConvertOptions::new(ProtocolVersion::V14_1);
        o.body_preferences = prefs;
        o
    }

    #[test]
    fn plain_with_truncation() {
        let out = to_eas("héllo world", None, &opts(vec![(1, Some(2))]), None);
        let body = &out[0];
        assert_eq!(body.child_text(tags::airsyncbase::TYPE), Some("1"));
        assert_eq!(
            body.child_text(tags::airsyncbase::ESTIMATED_DATA_SIZE),
            Some("12")
        );
        assert_eq!(body.child_text(tags::airsyncbase::TRUNCATED), Some("1"));
        assert_eq!(body.child_text(tags::airsyncbase::DATA), Some("h"));
        let app = Element::new(tags::airsync::APPLICATION_DATA).with(body.clone());
        assert_eq!(from_eas(&app, None).as_deref(), Some("h"));
        assert!(is_truncated_echo("héllo world", "h"));
    }

    #[test]
    fn html_when_asked() {
        let out = to_eas("a<b\nc", None, &opts(vec![(3, None), (2, None)]), None);
        let data = out[0].child_text(tags::airsyncbase::DATA).unwrap();
        assert_eq!(data, "<html><body>a&lt;b<br>c</body></html>");
        assert_eq!(html_to_text(data), "a<b\nc");
        assert_eq!(
            html_to_text("<p>x &amp; y</p><p>z&#233;</p><style>p{}</style>"),
            "x & y\nzé"
        );
    }

    #[test]
    fn legacy_body() {
        let legacy = LegacyBody {
            body: tags::contacts::BODY,
            size: Some(tags::contacts::BODY_SIZE),
            truncated: tags::contacts::BODY_TRUNCATED,
        };
        let out = to_eas(
            "note",
            None,
            &ConvertOptions::new(ProtocolVersion::V2_5),
            Some(legacy),
        );
        assert_eq!(out.len(), 3);
        let app = Element::new(tags::airsync::APPLICATION_DATA).with(out[2].clone());
        assert_eq!(from_eas(&app, Some(legacy)).as_deref(), Some("note"));
        assert!(to_eas("", None, &opts(vec![]), None).is_empty());
    }
}
