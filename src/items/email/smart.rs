//! SmartReply and SmartForward messages (MS-ASCMD 2.2.1.19/2.2.1.20): the client sends only what
//! the user wrote, and the server completes it from the original — the quoted body for a reply,
//! the forwarded body and the original's attachments for a forward — and threads a reply with
//! In-Reply-To and References.
//!
//! The client's header fields are kept byte for byte (minus the MIME fields that described its
//! own body); its text is decoded, joined with the original's and written again as UTF-8
//! quoted-printable, with an HTML alternative when either side has HTML. Attachments, the
//! client's and (for a forward) the original's, are re-encoded in base64 with their names,
//! types and Content-IDs. A signed or encrypted original cannot be cut apart without breaking
//! it, so it is forwarded whole as a message/rfc822 attachment.

use std::fmt;

use mail_parser::HeaderName;
use ring::rand::{SecureRandom, SystemRandom};

use super::attachments::{list, take};
use super::body::Bodies;
use super::compose::{base64_lines, encode_text, quoted_printable, rfc5322_date};
use super::html::{push_escaped, text_to_html};
use super::options::LastVerb;
use super::parsed::{Parsed, Security};
use crate::items::BodyType;

/// What the server adds to the client's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmartKind {
    Reply,
    Forward,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmartError {
    /// The client's message has no header fields.
    NotAMessage,
    /// The system's random source failed, so no MIME boundary could be made.
    Random,
}

impl fmt::Display for SmartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmartError::NotAMessage => f.write_str("the client's message has no header fields"),
            SmartError::Random => f.write_str("no random bytes for a MIME boundary"),
        }
    }
}

impl std::error::Error for SmartError {}

/// One MIME entity: its header lines (each ending in CRLF) and its body.
struct Part {
    head: String,
    body: Vec<u8>,
}

/// An attachment to write.
struct Attached {
    name: String,
    content_type: String,
    data: Vec<u8>,
    content_id: Option<String>,
    inline: bool,
}

/// Completes the client's message `client` from `original`. With `replace_mime` the client sent
/// the whole message itself and only missing threading fields of a reply are added.
pub fn smart_message(
    kind: SmartKind,
    client: &[u8],
    original: &[u8],
    replace_mime: bool,
) -> Result<Vec<u8>, SmartError> {
    let client_parsed = Parsed::new(client);
    let Some(client_msg) = client_parsed.message() else {
        return Err(SmartError::NotAMessage);
    };
    let headers = client_msg.root_part().headers();
    if headers.is_empty() {
        return Err(SmartError::NotAMessage);
    }
    let orig = Parsed::new(original);
    let threading = match kind {
        SmartKind::Reply => threading_fields(&client_parsed, &orig),
        SmartKind::Forward => String::new(),
    };
    if replace_mime {
        let mut out = threading.into_bytes();
        out.extend_from_slice(client);
        return Ok(out);
    }

    // The client's own fields, without those describing its body, which is rewritten.
    let mut out: Vec<u8> = Vec::with_capacity(client.len() + original.len() + 1024);
    for h in headers {
        let describes_body = matches!(
            h.name,
            HeaderName::ContentType
                | HeaderName::ContentTransferEncoding
                | HeaderName::MimeVersion
                | HeaderName::ContentDisposition
                | HeaderName::ContentId
                | HeaderName::ContentDescription
                | HeaderName::ContentLanguage
                | HeaderName::ContentLocation
        );
        if !describes_body
            && let Some(field) = client.get(h.offset_field as usize..h.offset_end as usize)
        {
            out.extend_from_slice(field);
            if !field.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(threading.as_bytes());

    let client_bodies = Bodies::new(&client_parsed);
    let orig_bodies = Bodies::new(&orig);
    let client_html = client_bodies.native() == BodyType::Html;
    let orig_html = orig.message().is_some() && orig_bodies.native() == BodyType::Html;
    let whole_original = orig.message().is_none() || orig.security().is_smime();
    // A clear-signed original can be quoted in a reply; an encrypted one has no readable text.
    let with_text = match kind {
        SmartKind::Reply => orig.message().is_some() && orig.security() != Security::Opaque,
        SmartKind::Forward => !whole_original,
    };

    let (intro_text, intro_html) = match kind {
        SmartKind::Reply => reply_intro(&orig),
        SmartKind::Forward => forward_intro(&orig),
    };
    let mut text = client_bodies.plain().to_string();
    let mut html = if client_html || orig_html {
        Some(if client_html {
            client_bodies.html().to_string()
        } else {
            text_to_html(client_bodies.plain())
        })
    } else {
        None
    };
    if with_text {
        text.push_str("\r\n\r\n");
        text.push_str(&intro_text);
        match kind {
            SmartKind::Reply => text.push_str(&quote(orig_bodies.plain())),
            SmartKind::Forward => text.push_str(orig_bodies.plain()),
        }
        if let Some(html) = html.as_mut() {
            html.push_str("<br><div>");
            html.push_str(&intro_html);
            html.push_str("</div><blockquote type=\"cite\">");
            html.push_str(orig_bodies.html());
            html.push_str("</blockquote>");
        }
    }

    let mut attachments = attachments_of(&client_parsed, &client_bodies);
    if kind == SmartKind::Forward {
        if whole_original {
            attachments.push(Attached {
                name: format!(
                    "{}.eml",
                    orig.subject()
                        .map(|s| s.replace(['/', '\\', '"', '\r', '\n'], "_"))
                        .filter(|s| !s.trim().is_empty())
                        .unwrap_or_else(|| "message".to_string())
                ),
                content_type: "message/rfc822".to_string(),
                data: original.to_vec(),
                content_id: None,
                inline: false,
            });
        } else {
            attachments.extend(attachments_of(&orig, &orig_bodies));
        }
    }

    let text_part = text_part_of("plain", &text);
    let body = match html {
        Some(html) => multipart("alternative", vec![text_part, text_part_of("html", &html)])?,
        None => text_part,
    };
    let top = if attachments.is_empty() {
        body
    } else {
        let mut parts = vec![body];
        parts.extend(attachments.into_iter().map(attachment_part));
        multipart("mixed", parts)?
    };
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    out.extend_from_slice(top.head.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&top.body);
    Ok(out)
}

/// In-Reply-To and References for a reply to `orig`, where the client left them out.
/// Whether the client's reply `client` to `original` went to all: it names, in To or Cc, someone
/// the original was addressed to (To or Cc) besides its sender and the user (`is_own` tells the
/// user's addresses). EAS has no flag for it, so this is what the message itself shows.
pub fn reply_verb(client: &[u8], original: &[u8], is_own: impl Fn(&str) -> bool) -> LastVerb {
    let (client, orig) = (Parsed::new(client), Parsed::new(original));
    let senders: Vec<String> = orig
        .from()
        .into_iter()
        .chain(orig.reply_to())
        .map(|m| m.address.to_ascii_lowercase())
        .collect();
    let others: Vec<String> = orig
        .to()
        .into_iter()
        .chain(orig.cc())
        .map(|m| m.address.to_ascii_lowercase())
        .filter(|a| !a.is_empty() && !senders.contains(a) && !is_own(a))
        .collect();
    let to_all = client
        .to()
        .into_iter()
        .chain(client.cc())
        .any(|m| others.contains(&m.address.to_ascii_lowercase()));
    if to_all {
        LastVerb::ReplyToAll
    } else {
        LastVerb::ReplyToSender
    }
}

fn threading_fields(client: &Parsed<'_>, orig: &Parsed<'_>) -> String {
    let Some(id) = orig.message_id().filter(|id| !id.trim().is_empty()) else {
        return String::new();
    };
    let mut out = String::new();
    if client.in_reply_to().is_empty() {
        out.push_str(&format!("In-Reply-To: <{id}>\r\n"));
    }
    if client.references().is_empty() {
        let mut refs: Vec<&str> = orig.references();
        if refs.is_empty() {
            refs = orig.in_reply_to();
        }
        let mut value = String::from("References:");
        let mut line = value.len();
        for r in refs.iter().copied().chain(std::iter::once(id)) {
            let word = format!("<{r}>");
            if line + 1 + word.len() > 76 {
                value.push_str("\r\n");
                line = 0;
            }
            value.push(' ');
            value.push_str(&word);
            line += 1 + word.len();
        }
        out.push_str(&value);
        out.push_str("\r\n");
    }
    out
}

fn sender_of(orig: &Parsed<'_>) -> String {
    orig.from()
        .first()
        .map(|m| match &m.name {
            Some(n) => format!("{n} <{}>", m.address),
            None => m.address.clone(),
        })
        .unwrap_or_default()
}

/// "On <date>, <sender> wrote:" in text and HTML.
fn reply_intro(orig: &Parsed<'_>) -> (String, String) {
    let sender = sender_of(orig);
    let line = match orig.date() {
        Some(d) => format!("On {}, {sender} wrote:", rfc5322_date(d)),
        None => format!("{sender} wrote:"),
    };
    let mut html = String::new();
    push_escaped(&mut html, &line);
    (format!("{line}\r\n"), html)
}

/// The forwarded message's header summary in text and HTML.
fn forward_intro(orig: &Parsed<'_>) -> (String, String) {
    let mut lines = vec!["-------- Forwarded Message --------".to_string()];
    let join = |list: Vec<super::address::Mailbox>| {
        list.iter()
            .map(|m| match &m.name {
                Some(n) => format!("{n} <{}>", m.address),
                None => m.address.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from = sender_of(orig);
    if !from.is_empty() {
        lines.push(format!("From: {from}"));
    }
    if let Some(d) = orig.date() {
        lines.push(format!("Date: {}", rfc5322_date(d)));
    }
    if let Some(subject) = orig.subject() {
        lines.push(format!("Subject: {subject}"));
    }
    let to = join(orig.to());
    if !to.is_empty() {
        lines.push(format!("To: {to}"));
    }
    let cc = join(orig.cc());
    if !cc.is_empty() {
        lines.push(format!("Cc: {cc}"));
    }
    let mut html = String::new();
    for l in &lines {
        push_escaped(&mut html, l);
        html.push_str("<br>");
    }
    (lines.join("\r\n") + "\r\n\r\n", html)
}

/// Every line of `text` behind "> ".
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16 + 8);
    for line in text.trim_end().lines() {
        out.push('>');
        if !line.starts_with('>') && !line.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// The attachments of a parsed message with their decoded content.
fn attachments_of(parsed: &Parsed<'_>, bodies: &Bodies<'_, '_>) -> Vec<Attached> {
    let infos = list(parsed, || bodies.html());
    if infos.is_empty() {
        return Vec::new();
    }
    let raw = parsed.raw();
    let Some(mut message) = Parsed::new(raw).into_message() else {
        return Vec::new();
    };
    infos
        .into_iter()
        .filter_map(|info| {
            let data = take(&mut message, raw, info.index)?;
            Some(Attached {
                name: data.name,
                content_type: data.content_type,
                data: data.data,
                content_id: info.content_id,
                inline: info.is_inline,
            })
        })
        .collect()
}

fn text_part_of(subtype: &str, text: &str) -> Part {
    Part {
        head: format!(
            "Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
        ),
        body: quoted_printable(text),
    }
}

/// A parameter value in quotes, with RFC 2047 words for non-ASCII (what mail clients read).
fn quoted_param(value: &str) -> String {
    let clean = encode_text(value).replace(['"', '\\'], "_");
    format!("\"{clean}\"")
}

fn attachment_part(a: Attached) -> Part {
    let name = quoted_param(&a.name);
    let content_type: String = a
        .content_type
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != ';' && *c != '"')
        .collect();
    let mut head = format!("Content-Type: {content_type}; name={name}\r\n");
    let disposition = if a.inline { "inline" } else { "attachment" };
    head.push_str(&format!(
        "Content-Disposition: {disposition}; filename={name}\r\n"
    ));
    if let Some(id) = a
        .content_id
        .as_deref()
        .map(clean_id)
        .filter(|i| !i.is_empty())
    {
        head.push_str(&format!("Content-ID: <{id}>\r\n"));
    }
    if content_type == "message/rfc822" {
        // A message entity may only be 7bit, 8bit or binary (RFC 2046 5.2.1).
        let cte = if a.data.contains(&0) {
            "binary"
        } else if a.data.is_ascii() {
            "7bit"
        } else {
            "8bit"
        };
        head.push_str(&format!("Content-Transfer-Encoding: {cte}\r\n"));
        // The line end before the boundary belongs to the boundary, so the message keeps its own.
        let mut body = a.data;
        body.extend_from_slice(b"\r\n");
        return Part { head, body };
    }
    head.push_str("Content-Transfer-Encoding: base64\r\n");
    Part {
        head,
        body: base64_lines(&a.data),
    }
}

fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '<' && *c != '>')
        .collect()
}

fn multipart(subtype: &str, parts: Vec<Part>) -> Result<Part, SmartError> {
    let mut random = [0u8; 12];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| SmartError::Random)?;
    let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let boundary = format!("=_easd_{subtype}_{token}");
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(p.head.as_bytes());
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.body);
        if !p.body.ends_with(b"\n") {
            body.extend_from_slice(b"\r\n");
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(Part {
        head: format!("Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n"),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::email::attachment;

    const ORIGINAL: &str = "From: Bob <bob@example.net>\r\nTo: alice@example.com\r\n\
        Subject: Plans\r\nDate: Mon, 13 Nov 2023 10:00:00 +0000\r\nMessage-ID: <orig@example.net>\r\n\
        References: <first@example.net>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\r\nLet's meet.\r\nSecond line.\r\n--b1\r\n\
        Content-Type: application/pdf; name=\"plan.pdf\"\r\nContent-Disposition: attachment; filename=\"plan.pdf\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKAAECAw==\r\n--b1--\r\n";

    const CLIENT: &str = "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: Re: Plans\r\n\
        Content-Type: text/plain; charset=us-ascii\r\n\r\nSounds good.\r\n";

    fn as_text(raw: &[u8]) -> String {
        String::from_utf8(raw.to_vec()).unwrap()
    }

    #[test]
    fn reply_quotes_and_threads() {
        let out = smart_message(
            SmartKind::Reply,
            CLIENT.as_bytes(),
            ORIGINAL.as_bytes(),
            false,
        )
        .unwrap();
        let text = as_text(&out);
        assert!(text.starts_with(
            "From: alice@example.com\r\nTo: bob@example.net\r\nSubject: Re: Plans\r\n"
        ));
        assert!(
            text.contains("In-Reply-To: <orig@example.net>\r\n"),
            "{text}"
        );
        assert!(text.contains("References: <first@example.net> <orig@example.net>\r\n"));
        assert!(!text.contains("us-ascii"));
        let p = Parsed::new(&out);
        let b = Bodies::new(&p);
        let plain = b.plain();
        assert!(plain.starts_with("Sounds good."), "{plain}");
        assert!(plain.contains("bob@example.net> wrote:"), "{plain}");
        assert!(plain.contains("> Let's meet.\r\n> Second line."), "{plain}");
        assert!(
            attachment(&out, 0).is_none(),
            "a reply carries no attachments"
        );
    }

    #[test]
    fn forward_carries_attachments() {
        let out = smart_message(
            SmartKind::Forward,
            CLIENT.as_bytes(),
            ORIGINAL.as_bytes(),
            false,
        )
        .unwrap();
        let text = as_text(&out);
        assert!(!text.contains("In-Reply-To"));
        let a = attachment(&out, 0).unwrap();
        assert_eq!(a.name, "plan.pdf");
        assert_eq!(a.content_type, "application/pdf");
        assert_eq!(a.data, b"%PDF-1.4\n\x00\x01\x02\x03");
        let p = Parsed::new(&out);
        let plain = Bodies::new(&p).plain().to_string();
        assert!(plain.contains("Forwarded Message"), "{plain}");
        assert!(plain.contains("Let's meet."), "{plain}");
    }

    #[test]
    fn signed_original_is_forwarded_whole() {
        let signed = "From: bob@example.net\r\nSubject: Signed\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=\"s\"\r\n\r\n\
            --s\r\nContent-Type: text/plain\r\n\r\nhello\r\n--s\r\n\
            Content-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--s--\r\n";
        let out = smart_message(
            SmartKind::Forward,
            CLIENT.as_bytes(),
            signed.as_bytes(),
            false,
        )
        .unwrap();
        let a = attachment(&out, 0).unwrap();
        assert_eq!(a.content_type, "message/rfc822");
        assert_eq!(a.data, signed.as_bytes());
        let reply = smart_message(
            SmartKind::Reply,
            CLIENT.as_bytes(),
            signed.as_bytes(),
            false,
        )
        .unwrap();
        let p = Parsed::new(&reply);
        assert!(
            Bodies::new(&p).plain().contains("> hello"),
            "a signed text is quoted"
        );
        assert!(attachment(&reply, 0).is_none());
    }

    #[test]
    fn replace_mime_keeps_the_client_message() {
        let out = smart_message(
            SmartKind::Reply,
            CLIENT.as_bytes(),
            ORIGINAL.as_bytes(),
            true,
        )
        .unwrap();
        let text = as_text(&out);
        assert!(text.ends_with(CLIENT));
        assert!(text.starts_with("In-Reply-To: <orig@example.net>\r\n"));
        assert_eq!(
            smart_message(SmartKind::Reply, b"", ORIGINAL.as_bytes(), false),
            Err(SmartError::NotAMessage)
        );
    }

    #[test]
    fn html_on_either_side_gives_an_alternative() {
        let html_orig = "From: bob@example.net\r\nSubject: H\r\nMessage-ID: <h@x>\r\n\
            Content-Type: text/html; charset=utf-8\r\n\r\n<p>Bold <b>move</b></p>\r\n";
        let out = smart_message(
            SmartKind::Reply,
            CLIENT.as_bytes(),
            html_orig.as_bytes(),
            false,
        )
        .unwrap();
        let p = Parsed::new(&out);
        let b = Bodies::new(&p);
        assert_eq!(b.native(), BodyType::Html);
        assert!(
            b.html()
                .contains("<blockquote type=\"cite\"><p>Bold <b>move</b></p>")
        );
        assert!(b.plain().contains("> Bold move"), "{}", b.plain());
    }

    #[test]
    fn reply_to_all_is_told_by_the_recipients() {
        let original =
            b"From: Bob <bob@example.net>\r\nTo: alice@example.com, carol@example.org\r\n\
            Cc: Dan <dan@example.org>\r\nSubject: Plans\r\n\r\nHi\r\n";
        let own = |a: &str| a == "alice@example.com";
        let to_sender = b"To: bob@example.net\r\nSubject: Re: Plans\r\n\r\nOk\r\n";
        assert_eq!(
            reply_verb(to_sender, original, own),
            LastVerb::ReplyToSender
        );
        let to_all = b"To: bob@example.net\r\nCc: alice@example.com, DAN@example.org\r\n\r\nOk\r\n";
        assert_eq!(reply_verb(to_all, original, own), LastVerb::ReplyToAll);
        // Only the user besides the sender: still a reply to the sender.
        let to_self = b"To: bob@example.net\r\nCc: alice@example.com\r\n\r\nOk\r\n";
        assert_eq!(reply_verb(to_self, original, own), LastVerb::ReplyToSender);
    }
}
