//! The words of a message that a search can find: subject, sender and recipients (names and
//! addresses) and the text of the body (HTML reduced to text), lower-cased, split on anything that
//! is not a letter or a digit.

use mail_parser::MessageParser;
use std::collections::BTreeSet;
/// Longer tokens are base64 runs and URLs rather than words someone types.
const MAX_WORD_CHARS: usize = 32;
/// The body text indexed; later text is rarely what a phone user searches for.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// The start of a message read for its words, index and search alike: headers and text come
/// before attachments, and the read of a message with big ones stays bounded.
pub const MAX_MESSAGE_BYTES: u64 = 1 << 20;

/// Calls `each` with every word of `text`, lower-cased (repeats included), until it returns
/// false; returns false then. One buffer serves every word: most words are seen before.
fn visit_text(text: &str, buf: &mut String, each: &mut impl FnMut(&str) -> bool) -> bool {
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        let n = if w.is_ascii() {
            w.len()
        } else {
            w.chars().count()
        };
        if !(2..=MAX_WORD_CHARS).contains(&n) {
            continue;
        }
        buf.clear();
        if w.is_ascii() {
            buf.push_str(w);
            buf.make_ascii_lowercase();
        } else {
            buf.push_str(&w.to_lowercase());
        }
        if !each(buf) {
            return false;
        }
    }
    true
}

/// Calls `each` with every word of a raw message (see the module doc), repeats included, until
/// it returns false.
pub fn visit(raw: &[u8], mut each: impl FnMut(&str) -> bool) {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return;
    };
    let mut buf = String::new();
    if let Some(s) = msg.subject()
        && !visit_text(s, &mut buf, &mut each)
    {
        return;
    }
    for list in [msg.from(), msg.to(), msg.cc()].into_iter().flatten() {
        for a in list.iter() {
            for text in [a.name(), a.address()].into_iter().flatten() {
                if !visit_text(text, &mut buf, &mut each) {
                    return;
                }
            }
        }
    }
    if let Some(body) = msg.body_text(0) {
        visit_text(
            crate::items::utf8_prefix(&body, MAX_BODY_BYTES),
            &mut buf,
            &mut each,
        );
    }
}

/// Whether a raw message holds every term as the prefix of one of its words: what the index
/// answers for a message it has read, found from the message itself.
pub fn message_matches(raw: &[u8], terms: &[String]) -> bool {
    let mut found = vec![false; terms.len()];
    let mut left = terms.len();
    visit(raw, |w| {
        for (t, seen) in terms.iter().zip(found.iter_mut()) {
            if !*seen && w.starts_with(t.as_str()) {
                *seen = true;
                left -= 1;
            }
        }
        left > 0
    });
    left == 0
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

    fn message_words(raw: &[u8]) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        visit(raw, |w| {
            out.insert(w.to_string());
            true
        });
        out
    }

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

    /// The scan of a message not indexed yet agrees with its indexed words for every term.
    #[test]
    fn a_message_matches_what_its_words_find() {
        let raw = b"From: \"Jean Dupont\" <jean@example.fr>\r\nSubject: Facture de Mars\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe R\xc3\x89SUM\xc3\x89 est pr\xc3\xaat.\r\n";
        let words = message_words(raw);
        for (terms, expected) in [
            ("factu", true),
            ("jean mars", true),
            ("résumé dup", true),
            ("PRÊT example", true),
            ("mars juin", false),
            ("charset", false),
            ("e", true),
        ] {
            let terms = query_terms(terms);
            let indexed = terms.iter().all(|t| {
                words
                    .range(t.clone()..)
                    .next()
                    .is_some_and(|w| w.starts_with(t.as_str()))
            });
            assert_eq!(indexed, expected, "{terms:?}");
            assert_eq!(message_matches(raw, &terms), expected, "{terms:?}");
        }
        assert!(!message_matches(b"\xff\xfe", &query_terms("x")));
    }
}
