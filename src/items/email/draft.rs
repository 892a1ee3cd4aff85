//! 16.0+ drafts: the `ApplicationData` of a Sync Add or Change in the Drafts folder becomes an
//! RFC 5322 message for the Maildir (MS-ASEMAIL drafts, MS-ASAIRS attachment Add/Delete).
//!
//! A Change only carries what the user edited, so with `existing` given, every field the client
//! left out (recipients, subject, importance, body) and every attachment it did not delete is
//! taken from the stored draft, as are its Message-ID and thread headers. The body is written as
//! text/plain, or for HTML as multipart/alternative with a plain-text rendering; inline
//! attachments (IsInline with a ContentId) go in a multipart/related around the body, the others
//! in a multipart/mixed. Attachment indexes of the result (for the FileReferences of the Sync
//! response) are: kept inline, new inline, kept others, new others, each in request order.

use std::fmt::Write as _;

use super::EmailError;
use super::address::{Mailbox, mailboxes};
use super::attachments::{AttachMethod, list, parse_file_reference, take};
use super::body::Bodies;
use super::compose::{
    address_list, base64_lines, encode_text, header, quoted_printable, rfc5322_date,
};
use super::html::html_to_text;
use super::parsed::{Importance, Parsed};
use crate::items::BodyType;
use crate::wbxml::Element;
use crate::wbxml::tags::{airsyncbase, email, email2};

/// What the server adds to the client's draft.
#[derive(Clone, Copy, Debug)]
pub struct DraftInput<'a> {
    /// The account's From value, e.g. `"Ann Smith" <ann@example.org>`.
    pub from: &'a str,
    /// Unix seconds for the Date header.
    pub date: i64,
    /// The stored draft a Change applies to.
    pub existing: Option<&'a [u8]>,
}

/// A composed draft and where the client's new attachments ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub mime: Vec<u8>,
    /// (ClientId, attachment index) for each attachment the request added, for the
    /// ClientId → FileReference answer of the Sync response (see [`super::file_reference`]).
    pub added: Vec<(String, u32)>,
}

/// One attachment of the composed message.
struct Part {
    client_id: Option<String>,
    name: String,
    content_type: String,
    data: Vec<u8>,
    method: AttachMethod,
    content_id: Option<String>,
    content_location: Option<String>,
    inline: bool,
}

enum DraftBody {
    Plain(String),
    Html(String),
}

/// Composes the draft; see the module doc for how a Change merges with `existing`.
pub fn draft_to_mime(app: &Element, input: &DraftInput<'_>) -> Result<Draft, EmailError> {
    let parsed = input.existing.map(Parsed::new);
    let old = parsed.as_ref();
    let field = |tag, stored: &dyn Fn(&Parsed<'_>) -> Vec<Mailbox>| match app.first(tag) {
        Some(e) => parse_addresses(e.text_content().unwrap_or_default()),
        None => old.map(stored).unwrap_or_default(),
    };
    let to = field(email::TO, &|p| p.to());
    let cc = field(email::CC, &|p| p.cc());
    let bcc = field(email2::BCC, &|p| p.bcc());
    let subject = match app.first(email::SUBJECT) {
        Some(e) => e.text_content().unwrap_or_default().to_string(),
        None => old
            .and_then(Parsed::subject)
            .unwrap_or_default()
            .to_string(),
    };
    let importance = match app.child_text(email::IMPORTANCE).map(str::trim) {
        Some("0") => Importance::Low,
        Some("2") => Importance::High,
        Some(_) => Importance::Normal,
        None => old.map_or(Importance::Normal, Parsed::importance),
    };
    let body = match app.first(airsyncbase::BODY) {
        Some(b) => body_of(b)?,
        None => match old {
            Some(p) => {
                let bodies = Bodies::new(p);
                match bodies.native() {
                    BodyType::Html => DraftBody::Html(bodies.html().to_string()),
                    _ => DraftBody::Plain(bodies.plain().to_string()),
                }
            }
            None => DraftBody::Plain(String::new()),
        },
    };
    let thread = old.map(thread_headers).unwrap_or_default();
    let message_id = old.and_then(Parsed::message_id).map(str::to_string);

    let changes = app.first(airsyncbase::ATTACHMENTS);
    let deleted = deleted_indexes(changes);
    let mut parts = kept_attachments(parsed, &deleted, input.existing.unwrap_or_default())?;
    for add in changes.iter().flat_map(|c| c.all(airsyncbase::ADD)) {
        parts.push(added_part(add)?);
    }
    // Inline parts come first in the document, so they come first in the attachment order.
    parts.sort_by_key(|p| !p.inline);

    let mime = write(&Outgoing {
        from: parse_addresses(input.from),
        to,
        cc,
        bcc,
        subject,
        importance,
        date: input.date,
        message_id,
        thread,
        body,
        parts: &parts,
    });
    let added = parts
        .iter()
        .zip(0u32..)
        .filter_map(|(p, i)| Some((p.client_id.clone()?, i)))
        .collect();
    Ok(Draft { mime, added })
}

/// Address fields as clients send them: comma- or semicolon-separated `Name <addr>` lists.
fn parse_addresses(value: &str) -> Vec<Mailbox> {
    let mut in_quotes = false;
    let normalized: String = value
        .chars()
        .map(|c| {
            if c == '"' {
                in_quotes = !in_quotes;
            }
            match c {
                ';' if !in_quotes => ',',
                '\r' | '\n' => ' ',
                c => c,
            }
        })
        .collect();
    let raw = format!("To: {normalized}\r\n\r\n");
    let parsed = Parsed::new(raw.as_bytes());
    mailboxes(parsed.message().and_then(mail_parser::Message::to))
}

fn body_of(body: &Element) -> Result<DraftBody, EmailError> {
    let data = body
        .first(airsyncbase::DATA)
        .and_then(Element::data)
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default();
    let code = body
        .child_text(airsyncbase::TYPE)
        .and_then(|t| t.trim().parse::<u8>().ok())
        .unwrap_or(1);
    match BodyType::try_from(code) {
        Ok(BodyType::PlainText) => Ok(DraftBody::Plain(data)),
        Ok(BodyType::Html) => Ok(DraftBody::Html(data)),
        _ => Err(EmailError::UnsupportedDraftBody(code)),
    }
}

fn thread_headers(old: &Parsed<'_>) -> Vec<(&'static str, String)> {
    let join = |ids: Vec<&str>| {
        ids.iter()
            .map(|id| format!("<{id}>"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = Vec::new();
    let in_reply_to = old.in_reply_to();
    if !in_reply_to.is_empty() {
        out.push(("In-Reply-To", join(in_reply_to)));
    }
    let references = old.references();
    if !references.is_empty() {
        out.push(("References", join(references)));
    }
    out
}

/// The attachment indexes a request deletes, with the FileReferences they came from.
fn deleted_indexes(changes: Option<&Element>) -> Vec<(Option<u32>, String)> {
    changes
        .iter()
        .flat_map(|c| c.all(airsyncbase::DELETE))
        .map(|d| {
            let reference = d
                .child_text(airsyncbase::FILE_REFERENCE)
                .unwrap_or_default();
            let index = parse_file_reference(reference).map(|(_, index)| index);
            (index, reference.to_string())
        })
        .collect()
}

fn kept_attachments(
    parsed: Option<Parsed<'_>>,
    deleted: &[(Option<u32>, String)],
    raw: &[u8],
) -> Result<Vec<Part>, EmailError> {
    let infos = match &parsed {
        Some(p) => {
            let bodies = Bodies::new(p);
            list(p, || bodies.html())
        }
        None => Vec::new(),
    };
    if let Some((_, reference)) = deleted
        .iter()
        .find(|(index, _)| index.is_none_or(|i| !infos.iter().any(|info| info.index == i)))
    {
        return Err(EmailError::UnknownFileReference(reference.clone()));
    }
    let Some(mut message) = parsed.and_then(Parsed::into_message) else {
        return Ok(Vec::new());
    };
    Ok(infos
        .into_iter()
        .filter(|info| !deleted.iter().any(|(i, _)| *i == Some(info.index)))
        .filter_map(|info| {
            let data = take(&mut message, raw, info.index)?;
            Some(Part {
                client_id: None,
                name: info.name,
                content_type: data.content_type,
                data: data.data,
                method: info.method,
                content_id: info.content_id,
                content_location: info.content_location,
                inline: info.is_inline,
            })
        })
        .collect())
}

fn added_part(add: &Element) -> Result<Part, EmailError> {
    let text = |tag| {
        add.child_text(tag)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
    };
    let client_id = text(airsyncbase::CLIENT_ID)
        .ok_or(EmailError::InvalidDraftAttachment("ClientId missing"))?;
    let data = add
        .first(airsyncbase::CONTENT)
        .and_then(Element::data)
        .ok_or(EmailError::InvalidDraftAttachment("Content missing"))?
        .into_owned();
    let name = text(airsyncbase::DISPLAY_NAME)
        .ok_or(EmailError::InvalidDraftAttachment("DisplayName missing"))?;
    let method = match text(airsyncbase::METHOD).as_deref() {
        Some("1") | None => AttachMethod::Normal,
        Some("5") => AttachMethod::EmbeddedMessage,
        Some(_) => return Err(EmailError::InvalidDraftAttachment("Method not 1 or 5")),
    };
    let content_type = text(airsyncbase::CONTENT_TYPE).unwrap_or_else(|| {
        match method {
            AttachMethod::EmbeddedMessage => "message/rfc822",
            AttachMethod::Normal => "application/octet-stream",
        }
        .to_string()
    });
    let content_id =
        text(airsyncbase::CONTENT_ID).map(|id| id.trim_matches(['<', '>']).to_string());
    let inline = content_id.is_some() && text(airsyncbase::IS_INLINE).as_deref() == Some("1");
    Ok(Part {
        client_id: Some(client_id),
        name,
        content_type,
        data,
        method,
        content_id,
        content_location: text(airsyncbase::CONTENT_LOCATION),
        inline,
    })
}

/// Everything the composed message is written from.
struct Outgoing<'p> {
    from: Vec<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    subject: String,
    importance: Importance,
    date: i64,
    message_id: Option<String>,
    thread: Vec<(&'static str, String)>,
    body: DraftBody,
    parts: &'p [Part],
}

fn write(m: &Outgoing<'_>) -> Vec<u8> {
    let seed = seed(m);
    let mut out = Vec::new();
    header(&mut out, "Date", &rfc5322_date(m.date));
    for (name, list) in [
        ("From", &m.from),
        ("To", &m.to),
        ("Cc", &m.cc),
        ("Bcc", &m.bcc),
    ] {
        if !list.is_empty() {
            header(&mut out, name, &address_list(list));
        }
    }
    header(&mut out, "Subject", &encode_text(&m.subject));
    let id = m.message_id.clone().unwrap_or_else(|| {
        let domain = m
            .from
            .first()
            .and_then(|f| f.address.rsplit_once('@'))
            .map_or("easd.invalid", |(_, d)| d);
        format!("{seed:032x}.{}@{domain}", m.date)
    });
    header(&mut out, "Message-ID", &format!("<{id}>"));
    for (name, value) in &m.thread {
        header(&mut out, name, value);
    }
    match m.importance {
        Importance::High => header(&mut out, "Importance", "high"),
        Importance::Low => header(&mut out, "Importance", "low"),
        Importance::Normal => {}
    }
    header(&mut out, "MIME-Version", "1.0");

    let (inline, others): (Vec<&Part>, Vec<&Part>) = m.parts.iter().partition(|p| p.inline);
    let boundary = |level: u8| format!("=_easd_{seed:032x}_{level}");
    if others.is_empty() {
        write_related(&mut out, &m.body, &inline, &boundary);
    } else {
        let b = boundary(0);
        content_type(&mut out, &format!("multipart/mixed; boundary=\"{b}\""));
        out.extend_from_slice(b"\r\n");
        open(&mut out, &b);
        write_related(&mut out, &m.body, &inline, &boundary);
        for part in others {
            open(&mut out, &b);
            write_part(&mut out, part);
        }
        close(&mut out, &b);
    }
    out
}

fn write_related(
    out: &mut Vec<u8>,
    body: &DraftBody,
    inline: &[&Part],
    boundary: &dyn Fn(u8) -> String,
) {
    if inline.is_empty() {
        return write_body(out, body, &boundary(2));
    }
    let b = boundary(1);
    content_type(out, &format!("multipart/related; boundary=\"{b}\""));
    out.extend_from_slice(b"\r\n");
    open(out, &b);
    write_body(out, body, &boundary(2));
    for part in inline {
        open(out, &b);
        write_part(out, part);
    }
    close(out, &b);
}

fn write_body(out: &mut Vec<u8>, body: &DraftBody, boundary: &str) {
    let text_part = |out: &mut Vec<u8>, subtype: &str, text: &str| {
        content_type(out, &format!("text/{subtype}; charset=utf-8"));
        header(out, "Content-Transfer-Encoding", "quoted-printable");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&quoted_printable(text));
    };
    match body {
        DraftBody::Plain(text) => text_part(out, "plain", text),
        DraftBody::Html(html) => {
            content_type(
                out,
                &format!("multipart/alternative; boundary=\"{boundary}\""),
            );
            out.extend_from_slice(b"\r\n");
            open(out, boundary);
            text_part(out, "plain", &html_to_text(html));
            open(out, boundary);
            text_part(out, "html", html);
            close(out, boundary);
        }
    }
}

fn write_part(out: &mut Vec<u8>, part: &Part) {
    let name = param("name", &part.name);
    let embedded = part.method == AttachMethod::EmbeddedMessage
        && part.content_type.eq_ignore_ascii_case("message/rfc822");
    content_type(out, &format!("{}; {name}", part.content_type));
    let disposition = if part.inline { "inline" } else { "attachment" };
    header(
        out,
        "Content-Disposition",
        &format!("{disposition}; {}", param("filename", &part.name)),
    );
    if let Some(id) = &part.content_id {
        header(out, "Content-ID", &format!("<{id}>"));
    }
    if let Some(location) = &part.content_location {
        header(out, "Content-Location", &encode_text(location));
    }
    if embedded {
        // RFC 2046 5.2.1: message/rfc822 is never base64; the message goes in as it is.
        header(out, "Content-Transfer-Encoding", "8bit");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&part.data);
        if !part.data.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    } else {
        header(out, "Content-Transfer-Encoding", "base64");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&base64_lines(&part.data));
    }
}

/// A MIME parameter, RFC 2231-encoded when the value is not plain ASCII.
fn param(name: &str, value: &str) -> String {
    if value.is_ascii() && !value.chars().any(char::is_control) {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        return format!("{name}=\"{escaped}\"");
    }
    let mut encoded = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    format!("{name}*=utf-8''{encoded}")
}

fn content_type(out: &mut Vec<u8>, value: &str) {
    header(out, "Content-Type", value);
}

fn open(out: &mut Vec<u8>, boundary: &str) {
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
}

fn close(out: &mut Vec<u8>, boundary: &str) {
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
}

/// A hash of the draft's content: it names the boundaries (so they cannot occur in content that
/// is not itself an easd draft of the same content) and a new Message-ID.
fn seed(m: &Outgoing<'_>) -> u128 {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u128::from(b)).wrapping_mul(PRIME);
        }
    };
    feed(&m.date.to_be_bytes());
    feed(m.subject.as_bytes());
    for list in [&m.from, &m.to, &m.cc, &m.bcc] {
        for mb in list {
            feed(mb.address.as_bytes());
        }
    }
    match &m.body {
        DraftBody::Plain(t) | DraftBody::Html(t) => feed(t.as_bytes()),
    }
    for p in m.parts {
        feed(p.name.as_bytes());
        feed(&p.data);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::email::attachment;

    fn input(existing: Option<&[u8]>) -> DraftInput<'_> {
        DraftInput {
            from: "\"Ann Smith\" <ann@example.org>",
            date: 1_704_186_000,
            existing,
        }
    }

    fn add(client_id: &str, name: &str, data: &[u8], inline_cid: Option<&str>) -> Element {
        let mut e = Element::new(airsyncbase::ADD)
            .with_text(airsyncbase::CLIENT_ID, client_id)
            .with(Element::opaque(airsyncbase::CONTENT, data.to_vec()))
            .with_text(airsyncbase::DISPLAY_NAME, name)
            .with_text(airsyncbase::METHOD, "1");
        if let Some(cid) = inline_cid {
            e.push_text(airsyncbase::CONTENT_ID, cid);
            e.push_text(airsyncbase::IS_INLINE, "1");
        }
        e
    }

    fn new_draft() -> Element {
        Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA)
            .with_text(
                email::TO,
                "Bob <bob@example.net>; \"Doe, Jane\" <jane@example.net>",
            )
            .with_text(email2::BCC, "secret@example.net")
            .with_text(email::SUBJECT, "Grüße")
            .with_text(email::IMPORTANCE, "2")
            .with(
                Element::new(airsyncbase::BODY)
                    .with_text(airsyncbase::TYPE, "2")
                    .with_text(airsyncbase::DATA, "<p>Hi <img src=\"cid:pic1\"></p>"),
            )
            .with(
                Element::new(airsyncbase::ATTACHMENTS)
                    .with(add("c1", "report.pdf", b"%PDF-1", None))
                    .with(add("c2", "pic.png", b"\x89PNG", Some("pic1"))),
            )
    }

    #[test]
    fn composes_a_new_draft() {
        let draft = draft_to_mime(&new_draft(), &input(None)).unwrap();
        let p = Parsed::new(&draft.mime);
        assert_eq!(p.subject(), Some("Grüße"));
        assert_eq!(p.to().len(), 2);
        assert_eq!(p.to()[1].name.as_deref(), Some("Doe, Jane"));
        assert_eq!(p.bcc()[0].address, "secret@example.net");
        assert_eq!(p.from()[0].address, "ann@example.org");
        assert_eq!(p.importance(), Importance::High);
        assert!(p.message_id().unwrap().ends_with("@example.org"));
        let bodies = Bodies::new(&p);
        assert_eq!(bodies.native(), BodyType::Html);
        assert!(bodies.html().contains("cid:pic1"));
        assert_eq!(
            draft.added,
            vec![("c2".to_string(), 0), ("c1".to_string(), 1)]
        );
        let infos = list(&p, || bodies.html());
        assert_eq!(infos[0].name, "pic.png");
        assert!(infos[0].is_inline);
        assert_eq!(infos[1].name, "report.pdf");
        assert_eq!(attachment(&draft.mime, 0).unwrap().data, b"\x89PNG");
        assert_eq!(attachment(&draft.mime, 1).unwrap().data, b"%PDF-1");
    }

    #[test]
    fn change_keeps_what_the_client_left_out() {
        let first = draft_to_mime(&new_draft(), &input(None)).unwrap().mime;
        let change = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA)
            .with_text(email::SUBJECT, "Edited")
            .with(
                Element::new(airsyncbase::ATTACHMENTS)
                    .with(
                        Element::new(airsyncbase::DELETE)
                            .with_text(airsyncbase::FILE_REFERENCE, "d:1"),
                    )
                    .with(add("c3", "notes.txt", b"notes", None)),
            );
        let draft = draft_to_mime(&change, &input(Some(&first))).unwrap();
        let p = Parsed::new(&draft.mime);
        assert_eq!(p.subject(), Some("Edited"));
        assert_eq!(p.to().len(), 2);
        assert_eq!(p.importance(), Importance::High);
        assert_eq!(p.message_id(), Parsed::new(&first).message_id());
        let bodies = Bodies::new(&p);
        let names: Vec<_> = list(&p, || bodies.html())
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(names, ["pic.png", "notes.txt"]);
        assert_eq!(draft.added, vec![("c3".to_string(), 1)]);
        assert_eq!(attachment(&draft.mime, 0).unwrap().data, b"\x89PNG");
    }

    #[test]
    fn rejects_bad_requests() {
        let app = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA).with(
            Element::new(airsyncbase::BODY)
                .with_text(airsyncbase::TYPE, "3")
                .with_text(airsyncbase::DATA, "{\\rtf1}"),
        );
        assert_eq!(
            draft_to_mime(&app, &input(None)),
            Err(EmailError::UnsupportedDraftBody(3))
        );
        let app = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA).with(
            Element::new(airsyncbase::ATTACHMENTS)
                .with(Element::new(airsyncbase::ADD).with_text(airsyncbase::CLIENT_ID, "x")),
        );
        assert!(matches!(
            draft_to_mime(&app, &input(None)),
            Err(EmailError::InvalidDraftAttachment(_))
        ));
        let app = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA).with(
            Element::new(airsyncbase::ATTACHMENTS).with(
                Element::new(airsyncbase::DELETE).with_text(airsyncbase::FILE_REFERENCE, "d:9"),
            ),
        );
        assert!(matches!(
            draft_to_mime(&app, &input(Some(b"Subject: x\r\n\r\nbody"))),
            Err(EmailError::UnknownFileReference(_))
        ));
    }

    #[test]
    fn plain_draft_and_rfc2231_names() {
        let app = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA)
            .with_text(email::TO, "x@example.org")
            .with(
                Element::new(airsyncbase::BODY)
                    .with_text(airsyncbase::TYPE, "1")
                    .with_text(airsyncbase::DATA, "Line one\r\nLine two"),
            )
            .with(Element::new(airsyncbase::ATTACHMENTS).with(add(
                "c",
                "Übersicht \"Q1\".txt",
                b"x",
                None,
            )));
        let draft = draft_to_mime(&app, &input(None)).unwrap();
        let p = Parsed::new(&draft.mime);
        assert_eq!(Bodies::new(&p).plain().trim_end(), "Line one\r\nLine two");
        assert_eq!(
            attachment(&draft.mime, 0).unwrap().name,
            "Übersicht _Q1_.txt"
        );
        assert!(p.subject().is_none_or(str::is_empty));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_requests_never_panic(
            to in ".{0,80}",
            subject in ".{0,80}",
            data in ".{0,200}",
            body_type in 0u8..6,
            name in ".{0,40}",
            content in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            existing in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            reference in "[a-z]{0,3}:?[0-9]{0,3}",
        ) {
            let app = Element::new(crate::wbxml::tags::airsync::APPLICATION_DATA)
                .with_text(email::TO, to)
                .with_text(email::SUBJECT, subject)
                .with(
                    Element::new(airsyncbase::BODY)
                        .with_text(airsyncbase::TYPE, body_type.to_string())
                        .with_text(airsyncbase::DATA, data),
                )
                .with(
                    Element::new(airsyncbase::ATTACHMENTS)
                        .with(add("c", &name, &content, Some("id")))
                        .with(
                            Element::new(airsyncbase::DELETE)
                                .with_text(airsyncbase::FILE_REFERENCE, reference),
                        ),
                );
            if let Ok(draft) = draft_to_mime(&app, &input(Some(&existing))) {
                proptest::prop_assert!(Parsed::new(&draft.mime).message().is_some());
            }
        }
    }
}
