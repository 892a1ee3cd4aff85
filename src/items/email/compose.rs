//! Writing RFC 5322/MIME: folded headers, RFC 2047 encoded words, quoted-printable and base64
//! bodies, dates. Only what composing a draft needs; every line ends in CRLF.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::address::Mailbox;

/// Longest header or body line written (RFC 5322 recommends 78 including nothing else).
const LINE: usize = 76;

/// Bytes of UTF-8 per encoded word: 45 bytes are 60 base64 characters, 72 with the framing.
const WORD_BYTES: usize = 45;

/// Appends `Name: value`, folded at spaces so lines stay near [`LINE`] characters.
pub fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b":");
    let mut line_len = name.len() + 1;
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        if line_len + 1 + word.len() > LINE && line_len > name.len() + 1 {
            out.extend_from_slice(b"\r\n");
            line_len = 0;
        }
        out.push(b' ');
        out.extend_from_slice(word.as_bytes());
        line_len += 1 + word.len();
    }
    out.extend_from_slice(b"\r\n");
}

/// Header text as-is when it is printable ASCII, else as RFC 2047 `B` encoded words.
pub fn encode_text(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() && !clean.contains("=?") {
        return clean;
    }
    let mut words = Vec::new();
    let mut rest = clean.as_str();
    while !rest.is_empty() {
        // WORD_BYTES exceeds the longest UTF-8 character, so every chunk makes progress.
        let chunk = crate::items::utf8_prefix(rest, WORD_BYTES);
        words.push(format!("=?UTF-8?B?{}?=", BASE64.encode(chunk)));
        rest = rest.get(chunk.len()..).unwrap_or_default();
    }
    words.join(" ")
}

/// An address list header value: `Name <addr>` with encoded names where needed.
pub fn address_list(list: &[Mailbox]) -> String {
    list.iter()
        .map(|m| match &m.name {
            Some(name) if name.is_ascii() => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{escaped}\" <{}>", m.address)
            }
            Some(name) => format!("{} <{}>", encode_text(name), m.address),
            None => m.address.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Quoted-printable (RFC 2045 6.7) with CRLF line breaks kept as hard breaks.
pub fn quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 8);
    let normalized = text.replace("\r\n", "\n");
    for (i, line) in normalized.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let bytes = line.as_bytes();
        let mut col = 0;
        for (j, &b) in bytes.iter().enumerate() {
            let last = j + 1 == bytes.len();
            let literal =
                (b == b' ' || b == b'\t') && !last || (33..=126).contains(&b) && b != b'=';
            let width = if literal { 1 } else { 3 };
            if col + width > LINE - 1 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(format!("={b:02X}").as_bytes());
            }
            col += width;
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Base64 in lines of [`LINE`] characters.
pub fn base64_lines(data: &[u8]) -> Vec<u8> {
    let encoded = BASE64.encode(data);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / LINE * 2 + 2);
    for line in encoded.as_bytes().chunks(LINE) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// RFC 5322 date-time in UTC, e.g. `Thu, 12 Nov 2009 00:45:06 +0000`.
pub fn rfc5322_date(unix_secs: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = crate::items::eas_datetime(unix_secs);
    let field = |range: std::ops::Range<usize>| iso.get(range).unwrap_or("00");
    let month = field(5..7).parse::<usize>().unwrap_or(1);
    let weekday = DAYS
        .get(unix_secs.div_euclid(86_400).rem_euclid(7) as usize)
        .unwrap_or(&"Thu");
    format!(
        "{weekday}, {} {} {} {} +0000",
        field(8..10),
        MONTHS.get(month.wrapping_sub(1)).unwrap_or(&"Jan"),
        field(0..4),
        field(11..19)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::decoders::quoted_printable::quoted_printable_decode;

    #[test]
    fn folds_long_headers() {
        let mut out = Vec::new();
        let value = ["someone@example.org,"; 10].join(" ");
        header(&mut out, "To", &value);
        let text = String::from_utf8(out).unwrap();
        assert!(text.lines().all(|l| l.len() <= LINE));
        assert!(text.ends_with("\r\n"));
        let unfolded = text.replace("\r\n ", " ");
        assert_eq!(unfolded.trim_end(), format!("To: {value}"));
    }

    #[test]
    fn encoded_words_round_trip() {
        assert_eq!(encode_text("plain"), "plain");
        let subject = "Grüße aus Köln — ".repeat(5);
        let encoded = encode_text(&subject);
        assert!(encoded.split(' ').all(|w| w.len() <= 75));
        let raw = format!("Subject: {encoded}\r\n\r\n");
        let msg = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(msg.subject(), Some(subject.as_str()));
    }

    #[test]
    fn quoted_printable_round_trips() {
        let text = format!("a=b \tend \r\nline2 é\n{}", "x".repeat(200));
        let qp = quoted_printable(&text);
        assert!(qp.split(|&b| b == b'\n').all(|l| l.len() <= LINE + 1));
        let decoded = quoted_printable_decode(&qp).unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            format!("{}\r\n", text.replace("\r\n", "\n").replace('\n', "\r\n"))
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            rfc5322_date(1_257_986_706),
            "Thu, 12 Nov 2009 00:45:06 +0000"
        );
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_704_186_000),
            "Tue, 02 Jan 2024 09:00:00 +0000"
        );
    }
}
