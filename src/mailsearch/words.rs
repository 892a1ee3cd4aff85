//! The words of a message that a search can find: subject, sender and recipients (names and
//! addresses) and the text of the body (HTML reduced to text), lower-cased, split on anything that
//! is not a letter or a digit.

use mail_parser::MessageParser;
use std::collections::BTreeSet;

/// Longer tokens are base64 runs and URLs rather than words someone types.
const MAX_WORD_CHARS: usize = 32;
/// The body text indexed; later text is rarely what a phone user searches for.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// The distinct words of `text`.
pub fn words_of(text: &str, into: &mut BTreeSet<String>) {
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        let n = w.chars().count();
        if (2..=MAX_WORD_CHARS).contains(&n) {
            into.insert(w.to_lowercase());
        }
    }
}

/// The distinct words of a raw message.
pub fn message_words(raw: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Some(msg) = MessageParser::default().parse(raw) else {
        return out;
    };
    if let Some(s) = msg.subject() {
        words_of(s, &mut out);
    }
    for list in [msg.from(), msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter() {
            if let Some(n) = a.name() {
                words_of(n, &mut out);
            }
            if let Some(addr) = a.address() {
                words_of(addr, &mut out);
            }
        }
    }
    if let Some(body) = msg.body_text(0) {
        words_of(crate::items::utf8_prefix(&body, MAX_BODY_BYTES), &mut out);
    }
    out
}

/// The terms of a FreeText query.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut set = BTreeSet::new();
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if !w.is_empty() {
            set.insert(
                w.chars()
                    .take(MAX_WORD_CHARS)
                    .collect::<String>()
                    .to_lowercase(),
            );
        }
    }
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_from_headers_and_body() {
        let raw = b"From: \"Jean Dupont\" <jean@example.fr>\r\nTo: alice@example.com\r\nSubject: Facture de Mars\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Le <b>r\xc3\xa9sum\xc3\xa9</b> est pr\xc3\xaat.</p>\r\n";
        let w = message_words(raw);
        for expected in [
            "jean", "dupont", "example", "fr", "alice", "facture", "mars", "résumé", "prêt",
        ] {
            assert!(w.contains(expected), "{expected}: {w:?}");
        }
        assert!(
            !w.contains("charset") && !w.contains("text"),
            "headers other than addresses and subject are not indexed: {w:?}"
        );
    }

    #[test]
    fn terms() {
        assert_eq!(query_terms("  Facture, MARS! "), ["facture", "mars"]);
        assert!(query_terms(" .. ").is_empty());
        assert!(message_words(b"\xff\xfe").len() <= 1);
    }
}
