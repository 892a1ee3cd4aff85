//! SmartReply and SmartForward composition over every message of the shared corpus (real-world,
//! malformed and RFC samples), each as the original and as the client's message: the result
//! always parses, starts with the client's text, threads a reply to an original with a
//! Message-ID, and a forward carries every attachment of the original with the same bytes (or
//! the whole signed original).

use std::path::{Path, PathBuf};

use easd::items::email::{SmartKind, attachment, smart_message};
use mail_parser::MessageParser;

fn messages() -> Vec<PathBuf> {
    let root = std::env::var_os("EASD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let mut dirs = vec![root.join("mail")];
    assert!(
        dirs[0].is_dir(),
        "test corpus missing at {} (set EASD_CORPUS)",
        dirs[0].display()
    );
    let mut found = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "eml") {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(found.len() > 50, "only {} corpus messages", found.len());
    found
}

const CLIENT: &str = "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: About this\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\r\nMy words come first.\r\n";

const PLAIN_ORIGINAL: &str = "From: bob@example.net\r\nTo: alice@example.com\r\nSubject: Hi\r\n\
    Message-ID: <plain@example.net>\r\n\r\nHello.\r\n";

fn attachments(raw: &[u8]) -> Vec<Vec<u8>> {
    (0..)
        .map_while(|i| attachment(raw, i))
        .map(|a| a.data)
        .collect()
}

fn first_text(raw: &[u8]) -> String {
    let parsed = MessageParser::new().parse(raw).expect("the result parses");
    parsed
        .body_text(0)
        .map(|t| t.into_owned())
        .unwrap_or_default()
}

#[test]
fn every_corpus_message_as_original() {
    for path in messages() {
        let original = std::fs::read(&path).unwrap();
        let name = path.display();
        let reply = smart_message(SmartKind::Reply, CLIENT.as_bytes(), &original, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            first_text(&reply).starts_with("My words come first."),
            "{name}"
        );
        let orig = MessageParser::new().parse(&original);
        if let Some(id) = orig.as_ref().and_then(|m| m.message_id()) {
            let text = String::from_utf8_lossy(&reply);
            assert!(text.contains(&format!("In-Reply-To: <{id}>\r\n")), "{name}");
        }

        let forward = smart_message(SmartKind::Forward, CLIENT.as_bytes(), &original, false)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            first_text(&forward).starts_with("My words come first."),
            "{name}"
        );
        let sent: Vec<(String, Vec<u8>)> = (0..)
            .map_while(|i| attachment(&forward, i))
            .map(|a| (a.content_type, a.data))
            .collect();
        let had = attachments(&original);
        for (i, (content_type, data)) in sent.iter().enumerate() {
            // mail-parser reads a message nested in a message without a boundary of its own to
            // the end of the input, so reading back may give more than was written.
            let nested_read_past = content_type == "message/rfc822"
                && had.iter().any(|h| !h.is_empty() && data.starts_with(h));
            assert!(
                had.contains(data) || *data == original || nested_read_past,
                "{name}: forwarded attachment {i} is not one of the original's"
            );
        }
        if !sent.iter().any(|(_, d)| *d == original) {
            // A root text part that mail-parser also lists is the body, not an attachment.
            assert!(
                sent.len() + 1 >= had.len(),
                "{name}: {} of {} attachments forwarded",
                sent.len(),
                had.len()
            );
        }
    }
}

#[test]
fn every_corpus_message_as_the_clients() {
    for path in messages() {
        let client = std::fs::read(&path).unwrap();
        let name = path.display();
        for kind in [SmartKind::Reply, SmartKind::Forward] {
            match smart_message(kind, &client, PLAIN_ORIGINAL.as_bytes(), false) {
                Ok(out) => {
                    let text = first_text(&out);
                    assert!(
                        text.contains("Hello."),
                        "{name}: the original's text is missing"
                    );
                }
                Err(e) => assert_eq!(e, easd::items::email::SmartError::NotAMessage, "{name}"),
            }
        }
    }
}
