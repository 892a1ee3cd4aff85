//! Readies a message a device sent for delivery: finds its recipients in To, Cc and Bcc, takes
//! the Bcc field out so no recipient learns of the others, and adds the From, Date and
//! Message-ID fields a device may leave to its server. Every other byte stays as the device
//! wrote it, since a signature or a later comparison with the Sent copy may depend on them.

use super::date;
use super::smtp::is_mailbox;
use mail_parser::{Addr, Address, HeaderName, HeaderValue, MessageParser};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

/// A message ready to be handed to local delivery and the smarthost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The message without Bcc and with the added fields.
    pub bytes: Vec<u8>,
    /// Addresses from To, Cc and Bcc, each once (compared without regard to case), in the
    /// order they first appear.
    pub recipients: Vec<String>,
    /// The Message-ID, without angle brackets.
    pub message_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepareError {
    /// Not a message: no header fields found.
    NoHeaders,
    /// To, Cc and Bcc name nobody.
    NoRecipients,
    /// A recipient that cannot be an SMTP address.
    BadRecipient(String),
    /// The sender would not make a valid From field.
    BadSender(String),
    /// The system's random source failed, so no Message-ID could be made.
    Random,
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrepareError::NoHeaders => f.write_str("the message has no header fields"),
            PrepareError::NoRecipients => f.write_str("the message has no recipients"),
            PrepareError::BadRecipient(a) => write!(f, "recipient {a:?} is not a mail address"),
            PrepareError::BadSender(a) => write!(f, "sender {a:?} is not a mail address"),
            PrepareError::Random => f.write_str("no random bytes for a Message-ID"),
        }
    }
}

impl std::error::Error for PrepareError {}

/// See the module documentation. `sender` is the authenticated user's address, `hostname`
/// the right-hand side of generated Message-IDs.
pub fn prepare(
    raw: &[u8],
    sender: &str,
    now: SystemTime,
    hostname: &str,
) -> Result<Prepared, PrepareError> {
    if !is_mailbox(sender) {
        return Err(PrepareError::BadSender(sender.to_string()));
    }
    let parsed = MessageParser::new()
        .parse_headers(raw)
        .ok_or(PrepareError::NoHeaders)?;
    let headers = parsed.root_part().headers();
    if headers.is_empty() {
        return Err(PrepareError::NoHeaders);
    }

    let mut recipients: Vec<String> = Vec::new();
    let mut removed: Vec<Range<usize>> = Vec::new();
    let (mut has_from, mut has_date, mut message_id) = (false, false, None);
    for header in headers {
        let span = header.offset_field as usize..header.offset_end as usize;
        match &header.name {
            HeaderName::To | HeaderName::Cc => add_recipients(&header.value, &mut recipients)?,
            HeaderName::Bcc => {
                add_recipients(&header.value, &mut recipients)?;
                removed.push(span);
            }
            HeaderName::From => has_from = true,
            HeaderName::Date => has_date = true,
            HeaderName::MessageId => match first_id(&header.value) {
                Some(id) if message_id.is_none() => message_id = Some(id),
                Some(_) => {}
                // An empty or garbled field would sit beside the one added below.
                None => removed.push(span),
            },
            _ => {}
        }
    }
    if recipients.is_empty() {
        return Err(PrepareError::NoRecipients);
    }

    let eol: &[u8] = if uses_bare_lf(raw) { b"\n" } else { b"\r\n" };
    let mut bytes = Vec::with_capacity(raw.len() + 256);
    if !has_from {
        push_field(&mut bytes, "From", sender, eol);
    }
    if !has_date {
        push_field(&mut bytes, "Date", &date::rfc5322(now), eol);
    }
    let message_id = match message_id {
        Some(id) => id,
        None => {
            let id = new_message_id(hostname)?;
            push_field(&mut bytes, "Message-ID", &format!("<{id}>"), eol);
            id
        }
    };
    copy_without(raw, &mut removed, &mut bytes);
    Ok(Prepared {
        bytes,
        recipients,
        message_id,
    })
}

fn add_recipients(value: &HeaderValue<'_>, out: &mut Vec<String>) -> Result<(), PrepareError> {
    let Some(address) = value.as_address() else {
        return Ok(());
    };
    let addrs: Vec<&Addr<'_>> = match address {
        Address::List(list) => list.iter().collect(),
        Address::Group(groups) => groups.iter().flat_map(|g| g.addresses.iter()).collect(),
    };
    for addr in addrs {
        // A name without an address is what a device sends when the user typed a non-address.
        let addr = match (addr.address.as_deref().map(str::trim), addr.name.as_deref()) {
            (Some(a), _) if !a.is_empty() => a,
            (_, Some(name)) if !name.trim().is_empty() => name.trim(),
            _ => continue,
        };
        if !is_mailbox(addr) {
            return Err(PrepareError::BadRecipient(addr.to_string()));
        }
        if !out.iter().any(|known| known.eq_ignore_ascii_case(addr)) {
            out.push(addr.to_string());
        }
    }
    Ok(())
}

fn first_id(value: &HeaderValue<'_>) -> Option<String> {
    let id = match value {
        HeaderValue::Text(id) => id.as_ref(),
        HeaderValue::TextList(ids) => ids.first()?.as_ref(),
        _ => return None,
    };
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// Whether the message's first line ends in a bare LF, so added fields can match its style.
fn uses_bare_lf(raw: &[u8]) -> bool {
    match raw.iter().position(|&b| b == b'\n') {
        Some(0) => true,
        Some(i) => raw.get(i - 1) != Some(&b'\r'),
        None => false,
    }
}

fn push_field(out: &mut Vec<u8>, name: &str, value: &str, eol: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(eol);
}

/// Appends `raw` minus the byte ranges in `removed`.
fn copy_without(raw: &[u8], removed: &mut [Range<usize>], out: &mut Vec<u8>) {
    removed.sort_by_key(|r| r.start);
    let mut at = 0;
    for r in removed.iter() {
        let start = r.start.clamp(at, raw.len());
        out.extend_from_slice(raw.get(at..start).unwrap_or_default());
        at = r.end.clamp(start, raw.len());
    }
    out.extend_from_slice(raw.get(at..).unwrap_or_default());
}

fn new_message_id(hostname: &str) -> Result<String, PrepareError> {
    let mut random = [0u8; 16];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| PrepareError::Random)?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{hex}@{hostname}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn run(raw: &str) -> Prepared {
        prepare(raw.as_bytes(), "me@example.org", now(), "box.example.org").unwrap()
    }

    const COMPLETE: &str = "From: Me <me@example.org>\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\n\
        Message-ID: <abc@device>\r\nTo: a@example.net\r\nSubject: hi\r\n\r\nbody\r\n";

    #[test]
    fn complete_message_is_left_alone() {
        let p = run(COMPLETE);
        assert_eq!(p.bytes, COMPLETE.as_bytes());
        assert_eq!(p.recipients, ["a@example.net"]);
        assert_eq!(p.message_id, "abc@device");
    }

    #[test]
    fn folded_bcc_is_removed_and_nothing_else() {
        let raw = "From: me@example.org\r\nTo: a@example.net\r\nBcc: Hidden One <h1@example.net>,\r\n\
                   \t\"Hidden, Two\" <h2@example.net>\r\nSubject: x\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\n\
                   Message-ID: <m@d>\r\n\r\nBcc: this is body text\r\n";
        let p = run(raw);
        assert_eq!(
            String::from_utf8(p.bytes).unwrap(),
            "From: me@example.org\r\nTo: a@example.net\r\nSubject: x\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\n\
             Message-ID: <m@d>\r\n\r\nBcc: this is body text\r\n"
        );
        assert_eq!(
            p.recipients,
            ["a@example.net", "h1@example.net", "h2@example.net"]
        );
    }

    #[test]
    fn bcc_as_the_last_field_and_several_bcc_fields() {
        let raw = "Bcc: x@example.net\r\nFrom: me@example.org\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\n\
                   Message-ID: <m@d>\r\nBcc: y@example.net\r\n\r\nbody";
        let p = run(raw);
        assert_eq!(
            String::from_utf8(p.bytes).unwrap(),
            "From: me@example.org\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\nMessage-ID: <m@d>\r\n\r\nbody"
        );
        assert_eq!(p.recipients, ["x@example.net", "y@example.net"]);
    }

    #[test]
    fn groups_and_encoded_names() {
        let raw = "From: me@example.org\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\nMessage-ID: <m@d>\r\n\
                   To: Team: =?UTF-8?B?SsO2cmc=?= <joerg@example.net>, =?ISO-8859-1?Q?Andr=E9?= <andre@example.net>;,\r\n \
                   plain@example.net\r\n\
                   Cc: undisclosed-recipients:;\r\nCc: \"Quoted, Name\" <q@example.net>, JOERG@example.net\r\n\r\n";
        let p = run(raw);
        assert_eq!(
            p.recipients,
            [
                "joerg@example.net",
                "andre@example.net",
                "plain@example.net",
                "q@example.net"
            ]
        );
        assert_eq!(p.bytes, raw.as_bytes());
    }

    #[test]
    fn missing_fields_are_added_in_the_message_style() {
        let p = run("To: a@example.net\r\nSubject: x\r\n\r\nbody");
        let text = String::from_utf8(p.bytes).unwrap();
        let expected_tail = "To: a@example.net\r\nSubject: x\r\n\r\nbody";
        assert!(text.ends_with(expected_tail), "{text}");
        let added = &text[..text.len() - expected_tail.len()];
        let (id_left, id_right) = p.message_id.split_once('@').unwrap();
        assert_eq!(id_left.len(), 32);
        assert_eq!(id_right, "box.example.org");
        assert_eq!(
            added,
            format!(
                "From: me@example.org\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <{}>\r\n",
                p.message_id
            )
        );

        let p = run("To: a@example.net\nSubject: x\n\nbody\n");
        let text = String::from_utf8(p.bytes).unwrap();
        assert!(text.starts_with("From: me@example.org\nDate: "), "{text}");
        assert!(!text.contains('\r'));
    }

    #[test]
    fn empty_message_id_is_replaced() {
        let p = run(
            "From: me@example.org\r\nDate: Mon, 13 Nov 2023 10:00:00 +0100\r\nMessage-ID:\r\nTo: a@example.net\r\n\r\n",
        );
        let text = String::from_utf8(p.bytes).unwrap();
        assert_eq!(text.matches("Message-ID:").count(), 1, "{text}");
        assert!(text.starts_with(&format!("Message-ID: <{}>\r\n", p.message_id)));
    }

    #[test]
    fn refusals() {
        let sender = "me@example.org";
        assert_eq!(
            prepare(b"Subject: x\r\n\r\n", sender, now(), "h"),
            Err(PrepareError::NoRecipients)
        );
        assert_eq!(
            prepare(b"To: nobody\r\n\r\n", sender, now(), "h"),
            Err(PrepareError::BadRecipient("nobody".into()))
        );
        assert_eq!(
            prepare(b"", sender, now(), "h"),
            Err(PrepareError::NoHeaders)
        );
        assert_eq!(
            prepare(b"To: a@b\r\n\r\n", "me@x\r\nBcc: evil@y", now(), "h"),
            Err(PrepareError::BadSender("me@x\r\nBcc: evil@y".into()))
        );
    }
}
