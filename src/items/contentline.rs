//! RFC 5545 / RFC 6350 content lines: unfolding, splitting into group, name,
//! parameters and value, and writing them back folded. A property read from a
//! file remembers its exact original text so that an untouched property is
//! written back byte for byte.

use mail_parser::decoders::charsets::map::charset_decoder;

/// One parameter; `values` holds the comma-separated list, unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub values: Vec<String>,
}

/// One content line. `value` is the value text as written in the file (still
/// escaped); vCard 2.1 quoted-printable and CHARSET values are decoded on read,
/// so `value` is always UTF-8 text in the file's own escaping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub group: Option<String>,
    pub name: String,
    pub params: Vec<Param>,
    pub value: String,
    raw: Option<String>,
}

impl Property {
    pub fn new(name: &str, value: impl Into<String>) -> Property {
        Property {
            group: None,
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.into(),
            raw: None,
        }
    }

    /// A property whose value is text, escaped for the file.
    pub fn text(name: &str, text: &str) -> Property {
        Property::new(name, escape_text(text))
    }

    pub fn with_param(mut self, name: &str, value: &str) -> Property {
        self.set_param(name, value);
        self
    }

    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// First value of the named parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.values.first())
            .map(String::as_str)
    }

    /// Whether any TYPE value equals `t` (case-insensitive); also accepts
    /// `TYPE="a,b"` and vCard 2.1 bare parameters, which parse as TYPE.
    pub fn has_type(&self, t: &str) -> bool {
        self.params
            .iter()
            .filter(|p| p.name.eq_ignore_ascii_case("TYPE"))
            .flat_map(|p| p.values.iter())
            .flat_map(|v| v.split(','))
            .any(|v| v.trim().eq_ignore_ascii_case(t))
    }

    pub fn set_param(&mut self, name: &str, value: &str) {
        self.raw = None;
        let upper = name.to_ascii_uppercase();
        match self.params.iter_mut().find(|p| p.name == upper) {
            Some(p) => p.values = vec![value.to_string()],
            None => self.params.push(Param {
                name: upper,
                values: vec![value.to_string()],
            }),
        }
    }

    pub fn remove_param(&mut self, name: &str) {
        let before = self.params.len();
        self.params.retain(|p| !p.name.eq_ignore_ascii_case(name));
        if self.params.len() != before {
            self.raw = None;
        }
    }

    pub fn set_value(&mut self, value: impl Into<String>) {
        let value = value.into();
        if value != self.value {
            self.value = value;
            self.raw = None;
        }
    }

    pub fn set_text(&mut self, text: &str) {
        self.set_value(escape_text(text));
    }

    /// The value as plain text, unescaped.
    pub fn text_value(&self) -> String {
        unescape_text(&self.value)
    }

    /// Appends the property to `out`, folded at 75 octets with `eol`, or its
    /// original bytes if it was never changed.
    pub fn write(&self, out: &mut String, eol: &str) {
        if let Some(raw) = &self.raw {
            out.push_str(raw);
            return;
        }
        let mut line = String::with_capacity(self.name.len() + self.value.len() + 16);
        if let Some(g) = &self.group {
            line.push_str(g);
            line.push('.');
        }
        line.push_str(&self.name);
        for p in &self.params {
            line.push(';');
            line.push_str(&p.name);
            line.push('=');
            for (i, v) in p.values.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                if v.contains([':', ';', ',']) {
                    line.push('"');
                    line.extend(v.chars().filter(|&c| c != '"'));
                    line.push('"');
                } else {
                    line.push_str(v);
                }
            }
        }
        line.push(':');
        line.push_str(&self.value);
        fold_into(out, &line, eol);
    }
}

/// Writes `line` folded so no physical line exceeds 75 octets, never splitting
/// a UTF-8 sequence (RFC 5545 3.1).
fn fold_into(out: &mut String, line: &str, eol: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str(eol);
            out.push(' ');
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str(eol);
}

/// A logical line before it is split into its parts.
struct Logical<'a> {
    raw: &'a str,
    text: String,
}

/// Splits a file into unfolded logical lines, keeping each one's raw text.
/// Blank lines stay in the raw text of the line before them.
fn logical_lines(input: &str) -> Vec<Logical<'_>> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    let mut pos = 0;
    while pos < input.len() {
        let line_end = input[pos..].find('\n').map_or(input.len(), |i| pos + i + 1);
        let physical = &input[pos..line_end];
        let content = physical.trim_end_matches(['\r', '\n']);
        let folded = physical.starts_with([' ', '\t']);
        let soft_break = current
            .as_ref()
            .is_some_and(|(_, t)| t.ends_with('=') && is_quoted_printable_line(t));
        match current.as_mut() {
            Some((_, text)) if folded => text.push_str(&content[1..]),
            Some((_, text)) if soft_break => {
                text.pop();
                text.push_str(content.trim_start());
            }
            _ if content.trim().is_empty() => {}
            _ => {
                if let Some((start, text)) = current.take() {
                    out.push(Logical {
                        raw: &input[start..pos],
                        text,
                    });
                }
                current = Some((pos, content.to_string()));
            }
        }
        pos = line_end;
    }
    if let Some((start, text)) = current {
        out.push(Logical {
            raw: &input[start..],
            text,
        });
    }
    out
}

fn is_quoted_printable_line(line: &str) -> bool {
    let head = line.split(':').next().unwrap_or("");
    head.to_ascii_uppercase().contains("QUOTED-PRINTABLE")
}

/// Parses a file into properties, in order. Lines that are not content lines
/// (no colon, empty name) are dropped: there is nothing a writer could keep.
pub fn parse(input: &str) -> Vec<Property> {
    logical_lines(input)
        .into_iter()
        .filter_map(|l| {
            parse_line(&l.text).map(|p| Property {
                raw: Some(l.raw.to_string()),
                ..p
            })
        })
        .collect()
}

/// The line ending a file uses, so that new lines match the old ones.
pub fn detect_eol(input: &str) -> &'static str {
    match input.find('\n') {
        Some(i) if i > 0 && input.as_bytes().get(i - 1) == Some(&b'\r') => "\r\n",
        Some(_) => "\n",
        None => "\r\n",
    }
}

fn parse_line(line: &str) -> Option<Property> {
    let mut chars = line.char_indices().peekable();
    let mut name_end = line.len();
    while let Some(&(i, c)) = chars.peek() {
        if c == ';' || c == ':' {
            name_end = i;
            break;
        }
        chars.next();
    }
    let full_name = line.get(..name_end)?.trim();
    if full_name.is_empty() || name_end == line.len() {
        return None;
    }
    let (group, name) = match full_name.rsplit_once('.') {
        Some((g, n)) => (Some(g.to_string()), n),
        None => (None, full_name),
    };
    let mut params = Vec::new();
    let mut pos = name_end;
    let bytes = line.as_bytes();
    while bytes.get(pos) == Some(&b';') {
        pos += 1;
        let (param, next) = parse_param(line, pos);
        if let Some(p) = param {
            params.push(p);
        }
        pos = next;
    }
    let value = line.get(pos + 1..).unwrap_or("");
    let mut prop = Property {
        group,
        name: name.to_ascii_uppercase(),
        params,
        value: value.to_string(),
        raw: None,
    };
    decode_legacy_value(&mut prop);
    Some(prop)
}

/// Parses one parameter starting at `pos`; returns it and the position of the
/// `;` or `:` that ends it.
fn parse_param(line: &str, mut pos: usize) -> (Option<Param>, usize) {
    let bytes = line.as_bytes();
    let start = pos;
    while pos < bytes.len() && !matches!(bytes[pos], b'=' | b';' | b':') {
        pos += 1;
    }
    let name = line
        .get(start..pos)
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase();
    if bytes.get(pos) != Some(&b'=') {
        // vCard 2.1 bare parameter such as `TEL;CELL:` means TYPE=CELL.
        let param = (!name.is_empty()).then(|| Param {
            name: "TYPE".to_string(),
            values: vec![name],
        });
        return (param, pos);
    }
    pos += 1;
    let mut values = Vec::new();
    loop {
        let mut value = String::new();
        if bytes.get(pos) == Some(&b'"') {
            pos += 1;
            let vstart = pos;
            while pos < bytes.len() && bytes[pos] != b'"' {
                pos += 1;
            }
            value.push_str(line.get(vstart..pos).unwrap_or(""));
            if pos < bytes.len() {
                pos += 1;
            }
            while pos < bytes.len() && !matches!(bytes[pos], b',' | b';' | b':') {
                pos += 1;
            }
        } else {
            let vstart = pos;
            while pos < bytes.len() && !matches!(bytes[pos], b',' | b';' | b':') {
                pos += 1;
            }
            value.push_str(line.get(vstart..pos).unwrap_or(""));
        }
        values.push(value);
        if bytes.get(pos) == Some(&b',') {
            pos += 1;
            continue;
        }
        break;
    }
    let param = (!name.is_empty()).then_some(Param { name, values });
    (param, pos)
}

/// vCard 2.1 values may be quoted-printable and in a legacy charset; turn them
/// into UTF-8 so the rest of the code sees one encoding.
fn decode_legacy_value(prop: &mut Property) {
    let qp = prop.params.iter().any(|p| {
        (p.name == "ENCODING" || p.name == "TYPE")
            && p.values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("QUOTED-PRINTABLE"))
    });
    if !qp {
        return;
    }
    let bytes = decode_quoted_printable(prop.value.as_bytes());
    let charset = prop.param("CHARSET").unwrap_or("UTF-8").to_string();
    let text = match std::str::from_utf8(&bytes) {
        Ok(s) if charset.eq_ignore_ascii_case("UTF-8") => s.to_string(),
        _ => match charset_decoder(charset.as_bytes()) {
            Some(decode) => decode(&bytes),
            None => String::from_utf8_lossy(&bytes).into_owned(),
        },
    };
    // 2.1 escapes only `;` in structured values; a QP value may contain raw
    // line breaks, which the file's own escaping writes as `\n`.
    prop.value = text.replace("\r\n", "\\n").replace('\n', "\\n");
    // The decoded value is UTF-8 text now; the raw bytes keep the old form.
    prop.params.retain(|p| {
        !(p.name == "CHARSET"
            || p.values
                .iter()
                .any(|v| v.eq_ignore_ascii_case("QUOTED-PRINTABLE")))
    });
}

/// Lenient quoted-printable: a malformed escape is kept literally.
fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'=' {
            let hex = input.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok())
            });
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Escapes text for a TEXT value (RFC 5545 3.3.11, RFC 6350 3.4).
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// Reverses [`escape_text`]; unknown escapes keep the escaped character.
pub fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a value on an unescaped separator (`;` for structured values, `,`
/// for lists), leaving each part escaped.
pub fn split_unescaped(value: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&value[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&value[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_keeps_raw_bytes() {
        let input =
            "BEGIN:VCARD\r\nNOTE:hello\r\n  world\r\nX-FOO;X-A=\"a:b\";Y=1,2:v\r\nEND:VCARD\r\n";
        let props = parse(input);
        assert_eq!(props.len(), 4);
        assert_eq!(props[1].value, "hello world");
        assert_eq!(props[2].param("X-A"), Some("a:b"));
        assert_eq!(props[2].params[1].values, vec!["1", "2"]);
        let mut out = String::new();
        for p in &props {
            p.write(&mut out, "\r\n");
        }
        assert_eq!(out, input);
    }

    #[test]
    fn groups_and_bare_params() {
        let props = parse("item1.TEL;CELL;VOICE:+1 555\nitem1.X-ABLabel:_$!<Mobile>!$_\n");
        assert_eq!(props[0].group.as_deref(), Some("item1"));
        assert!(props[0].has_type("cell") && props[0].has_type("VOICE"));
        assert_eq!(detect_eol("A:1\nB:2\n"), "\n");
    }

    #[test]
    fn quoted_printable_with_charset() {
        let input =
            "N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=\r\n=F6rg\r\nFN:x\r\n";
        let props = parse(input);
        assert_eq!(props.len(), 2);
        assert_eq!(props[0].value, "Müller;Jörg");
        assert!(props[0].params.is_empty());
    }

    #[test]
    fn text_escaping_round_trips() {
        let text = "a,b;c\\d\nnew";
        assert_eq!(escape_text(text), "a\\,b\\;c\\\\d\\nnew");
        assert_eq!(unescape_text(&escape_text(text)), text);
        assert_eq!(split_unescaped("a\\;b;c;", ';'), vec!["a\\;b", "c", ""]);
    }

    #[test]
    fn folds_long_lines_on_char_boundaries() {
        let p = Property::text("SUMMARY", &"é".repeat(60));
        let mut out = String::new();
        p.write(&mut out, "\r\n");
        assert!(out.split("\r\n").all(|l| l.len() <= 75));
        assert_eq!(parse(&out)[0].text_value(), "é".repeat(60));
    }

    #[test]
    fn garbage_does_not_panic() {
        for s in [
            "",
            ":",
            ";;;:",
            "\n\n ",
            "A;=:",
            "A;B=\"unterminated:x",
            "é;\u{1}:",
        ] {
            let _ = parse(s);
        }
    }
}
