//! The two body-format bridges EAS needs: readable plain text from an HTML part (for a client that
//! asks for plain text, and for Preview) and HTML from a plain-text part (for a client that asks for
//! HTML). Deliberately small: a tag-skipping scanner, not an HTML parser.

/// Elements whose content is never shown as text.
const HIDDEN: [&str; 5] = ["script", "style", "head", "title", "template"];

/// Elements that start a new line of text.
const BLOCKS: [&str; 25] = [
    "p",
    "div",
    "tr",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "blockquote",
    "pre",
    "hr",
    "section",
    "article",
    "header",
    "footer",
    "address",
    "center",
];

/// Readable plain text from HTML: hidden elements dropped, blocks on their own lines, entities
/// decoded, runs of white space collapsed (except inside `<pre>`).
pub fn html_to_text(html: &str) -> String {
    let mut out = TextSink::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.text(rest.get(..lt).unwrap_or_default());
        rest = rest.get(lt..).unwrap_or_default();
        rest = skip_markup(rest, &mut out);
    }
    out.text(rest);
    out.finish()
}

/// Consumes one piece of markup at the start of `rest` (which begins with `<`) and returns what
/// follows it.
fn skip_markup<'a>(rest: &'a str, out: &mut TextSink) -> &'a str {
    if let Some(comment) = rest.strip_prefix("<!--") {
        return comment
            .find("-->")
            .and_then(|end| comment.get(end + 3..))
            .unwrap_or_default();
    }
    let Some(end) = tag_end(rest) else {
        // A lone `<` in text, e.g. "a < b".
        out.text("<");
        return rest.get(1..).unwrap_or_default();
    };
    let inner = rest.get(1..end).unwrap_or_default();
    let after = rest.get(end + 1..).unwrap_or_default();
    let closing = inner.starts_with('/');
    let name: String = inner
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if name.is_empty() {
        // `<!DOCTYPE ...>`, `<?xml ...>` and the like.
        return after;
    }
    if !closing && HIDDEN.contains(&name.as_str()) && !inner.ends_with('/') {
        return skip_hidden(after, &name);
    }
    match name.as_str() {
        "br" => out.newline(),
        "td" | "th" if !closing => out.space(),
        "pre" => {
            out.preformatted = !closing;
            out.block();
        }
        "li" if !closing => {
            out.block();
            out.raw("• ");
        }
        n if BLOCKS.contains(&n) => out.block(),
        _ => {}
    }
    after
}

/// Index of the `>` closing the tag at the start of `s`, honouring quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let second = s.chars().nth(1)?;
    if !(second.is_ascii_alphabetic() || matches!(second, '/' | '!' | '?')) {
        return None;
    }
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '>') => return Some(i),
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    None
}

/// Skips to after `</name>`; an unclosed hidden element hides the rest of the document.
fn skip_hidden<'a>(s: &'a str, name: &str) -> &'a str {
    let lower = s.to_ascii_lowercase();
    let close = format!("</{name}");
    match lower.find(&close) {
        Some(pos) => {
            let tail = s.get(pos..).unwrap_or_default();
            tail.find('>')
                .and_then(|gt| tail.get(gt + 1..))
                .unwrap_or_default()
        }
        None => "",
    }
}

/// Accumulates text with white-space collapsing and line handling.
struct TextSink {
    out: String,
    pending_space: bool,
    preformatted: bool,
}

impl TextSink {
    fn with_capacity(n: usize) -> Self {
        Self {
            out: String::with_capacity(n),
            pending_space: false,
            preformatted: false,
        }
    }

    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        let decoded = decode_entities(s);
        if self.preformatted {
            self.flush_space();
            self.out.push_str(&decoded);
            return;
        }
        for c in decoded.chars() {
            if c.is_whitespace() && c != '\u{a0}' {
                self.pending_space = true;
            } else {
                self.flush_space();
                self.out.push(if c == '\u{a0}' { ' ' } else { c });
            }
        }
    }

    fn raw(&mut self, s: &str) {
        self.pending_space = false;
        self.out.push_str(s);
    }

    fn flush_space(&mut self) {
        if self.pending_space && !self.out.is_empty() && !self.out.ends_with(['\n', ' ']) {
            self.out.push(' ');
        }
        self.pending_space = false;
    }

    fn space(&mut self) {
        self.pending_space = true;
    }

    fn newline(&mut self) {
        self.trim_line_end();
        self.out.push('\n');
        self.pending_space = false;
    }

    /// Starts a new line unless the text is already at the start of one.
    fn block(&mut self) {
        self.trim_line_end();
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        self.pending_space = false;
    }

    fn trim_line_end(&mut self) {
        let kept = self.out.trim_end_matches(' ').len();
        self.out.truncate(kept);
    }

    fn finish(self) -> String {
        let mut text = String::with_capacity(self.out.len());
        let mut blank_run = 0;
        for line in self.out.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                blank_run += 1;
                if blank_run > 1 || text.is_empty() {
                    continue;
                }
            } else {
                blank_run = 0;
            }
            text.push_str(line);
            text.push('\n');
        }
        let kept = text.trim_end().len();
        text.truncate(kept);
        text
    }
}

/// Replaces character references; unknown ones are kept as written.
fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        rest = rest.get(amp..).unwrap_or_default();
        let reference = rest
            .get(1..)
            .and_then(|r| r.find(';').filter(|&semi| semi <= 10).map(|semi| (r, semi)))
            .and_then(|(r, semi)| Some((entity(r.get(..semi)?)?, semi + 2)));
        match reference {
            Some((c, len)) => {
                out.extend(c);
                rest = rest.get(len..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = rest.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out.into()
}

/// The character of an entity name or numeric reference (without `&` and `;`); `Some(None)` for
/// references that stand for nothing visible.
fn entity(name: &str) -> Option<Option<char>> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return Some(Some(char::from_u32(code).unwrap_or('\u{fffd}')));
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "shy" | "zwnj" | "zwj" | "lrm" | "rlm" => return Some(None),
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "sect" => '§',
        "para" => '¶',
        "deg" => '°',
        "plusmn" => '±',
        "times" => '×',
        "divide" => '÷',
        "middot" => '·',
        "bull" => '•',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "iexcl" => '¡',
        "iquest" => '¿',
        "szlig" => 'ß',
        "auml" => 'ä',
        "ouml" => 'ö',
        "uuml" => 'ü',
        "Auml" => 'Ä',
        "Ouml" => 'Ö',
        "Uuml" => 'Ü',
        "aacute" => 'á',
        "eacute" => 'é',
        "iacute" => 'í',
        "oacute" => 'ó',
        "uacute" => 'ú',
        "Eacute" => 'É',
        "agrave" => 'à',
        "egrave" => 'è',
        "ugrave" => 'ù',
        "acirc" => 'â',
        "ecirc" => 'ê',
        "icirc" => 'î',
        "ocirc" => 'ô',
        "ucirc" => 'û',
        "ccedil" => 'ç',
        "Ccedil" => 'Ç',
        "ntilde" => 'ñ',
        "Ntilde" => 'Ñ',
        "aring" => 'å',
        "Aring" => 'Å',
        "aelig" => 'æ',
        "oslash" => 'ø',
        "Oslash" => 'Ø',
        _ => return None,
    };
    Some(Some(c))
}

/// HTML for a plain-text body: escaped, line breaks kept, in a minimal UTF-8 document.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8 + 96);
    out.push_str("<html><head><meta charset=\"utf-8\"></head><body><div>");
    push_escaped(&mut out, text);
    out.push_str("</div></body></html>");
    out
}

/// Appends plain text as an HTML fragment: escaped, with `<br>` for line breaks.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => {}
            '\n' => out.push_str("<br>\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_hidden_content() {
        let html = "<!DOCTYPE html><html><head><title>T</title><style>p{color:red}</style></head>\
                    <body><p>Hello&nbsp;<b>world</b></p><script>alert(1)</script>\
                    <div>Second   line</div><!-- note --></body></html>";
        assert_eq!(html_to_text(html), "Hello world\nSecond line");
    }

    #[test]
    fn line_breaks_lists_and_tables() {
        let html =
            "a<br>b<ul><li>one</li><li>two</li></ul><table><tr><td>x</td><td>y</td></tr></table>";
        assert_eq!(html_to_text(html), "a\nb\n• one\n• two\nx y");
    }

    #[test]
    fn entities_and_stray_brackets() {
        assert_eq!(
            html_to_text("1 &lt; 2 &amp;&amp; 3 > 2 &#233;&#x263A; &bogus; a < b"),
            "1 < 2 && 3 > 2 é☺ &bogus; a < b"
        );
    }

    #[test]
    fn preformatted_keeps_spacing() {
        assert_eq!(html_to_text("<pre>a  b\n  c</pre>d"), "a  b\n  c\nd");
    }

    #[test]
    fn quoted_gt_in_attribute_and_unclosed_markup() {
        assert_eq!(html_to_text("<a title=\"x>y\" href='#'>link</a>"), "link");
        assert_eq!(html_to_text("text <div"), "text <div");
        assert_eq!(html_to_text("<script>never closed"), "");
        assert_eq!(html_to_text("<!-- open comment"), "");
    }

    #[test]
    fn multibyte_text_survives() {
        assert_eq!(html_to_text("<p>日本語</p><p>Grüße</p>"), "日本語\nGrüße");
    }

    #[test]
    fn text_to_html_escapes() {
        let html = text_to_html("a<b & \"c\"\r\nnext");
        assert!(html.contains("a&lt;b &amp; &quot;c&quot;<br>\nnext"));
        assert_eq!(html_to_text(&html), "a<b & \"c\"\nnext");
    }
}
