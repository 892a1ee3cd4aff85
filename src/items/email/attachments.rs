//! Attachment enumeration and extraction.
//!
//! An attachment's index is its position in the list of non-body parts of the top-level message,
//! in the order they appear in the raw bytes (depth first through nested multiparts, as
//! mail-parser lists them). An attached message counts as one attachment; its own attachments are
//! not listed. The same bytes always give the same indexes, so a FileReference
//! (`{file_ref_base}:{index}`) stays valid as long as the message file is unchanged.

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{Encoding, Message, MessagePart, MimeHeaders, PartType};

use super::parsed::Parsed;

/// AirSyncBase `Method` values easd produces (MS-ASAIRS 2.2.2.31.2). MIME has no OLE objects, so
/// value 6 never occurs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMethod {
    Normal = 1,
    EmbeddedMessage = 5,
}

/// What a client is told about an attachment in Sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub index: u32,
    pub name: String,
    pub content_type: String,
    /// Decoded size in bytes (for text parts: of the text as UTF-8).
    pub size: usize,
    pub method: AttachMethod,
    pub content_id: Option<String>,
    pub content_location: Option<String>,
    /// An image the HTML body shows through `cid:`.
    pub is_inline: bool,
}

/// One attachment's content, for ItemOperations Fetch and GetAttachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentData {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// `{file_ref_base}:{index}`.
pub fn file_reference(base: &str, index: u32) -> String {
    format!("{base}:{index}")
}

/// Splits a FileReference made by [`file_reference`] into its base and attachment index.
pub fn parse_file_reference(s: &str) -> Option<(&str, u32)> {
    let (base, index) = s.rsplit_once(':')?;
    if base.is_empty() || index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, index.parse().ok()?))
}

/// The attachments of a message; `html` is asked for only when some part has a Content-ID.
pub fn list<'h>(parsed: &Parsed<'_>, html: impl FnOnce() -> &'h str) -> Vec<AttachmentInfo> {
    let Some(message) = parsed.message() else {
        return Vec::new();
    };
    let root_is_body = parsed.orphan_root_text().is_some();
    let mut infos: Vec<AttachmentInfo> = message
        .attachments
        .iter()
        .zip(0u32..)
        .filter(|&(&id, _)| !(root_is_body && id == 0))
        .filter_map(|(&id, index)| {
            let part = message.part(id)?;
            Some(AttachmentInfo {
                index,
                name: name_of(part, index),
                content_type: content_type_of(part),
                size: decoded_size(part, parsed.raw()),
                method: if is_message(part) {
                    AttachMethod::EmbeddedMessage
                } else {
                    AttachMethod::Normal
                },
                content_id: part
                    .content_id()
                    .map(|id| id.trim().trim_matches(['<', '>']).to_string())
                    .filter(|id| !id.is_empty()),
                content_location: part
                    .content_location()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty()),
                is_inline: false,
            })
        })
        .collect();
    if infos.iter().any(|i| i.content_id.is_some()) {
        let html = html();
        for info in &mut infos {
            if let Some(id) = &info.content_id {
                info.is_inline = html.contains(&format!("cid:{id}"));
            }
        }
    }
    infos
}

/// The content of attachment `index` (see the module doc), or `None` if there is no such one.
pub fn attachment(raw: &[u8], index: u32) -> Option<AttachmentData> {
    let mut message = Parsed::new(raw).into_message()?;
    take(&mut message, raw, index)
}

/// Moves attachment `index` out of a parsed message: mail-parser's decoded buffer is handed over
/// instead of copied, and the part is left empty (other indexes stay valid).
pub fn take(message: &mut Message<'_>, raw: &[u8], index: u32) -> Option<AttachmentData> {
    let id = *message.attachments.get(index as usize)?;
    let part = message.parts.get_mut(id as usize)?;
    let name = name_of(part, index);
    let content_type = content_type_of(part);
    let data = match &part.body {
        PartType::Text(_) | PartType::Html(_) => text_bytes(part, raw),
        PartType::Message(_) if part.encoding == Encoding::None => part_slice(part, raw)?.to_vec(),
        PartType::Message(_) | PartType::Binary(_) | PartType::InlineBinary(_) => {
            match std::mem::take(&mut part.body) {
                PartType::Message(m) => m.raw_message.into_owned(),
                PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
                PartType::Text(_) | PartType::Html(_) | PartType::Multipart(_) => return None,
            }
        }
        PartType::Multipart(_) => return None,
    };
    Some(AttachmentData {
        name,
        content_type,
        data,
    })
}

fn is_message(part: &MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Message(_))
        || part.is_content_type("message", "rfc822")
        || part.is_content_type("message", "global")
}

/// The raw (still transfer-encoded) body bytes of a part.
fn part_slice<'r>(part: &MessagePart<'_>, raw: &'r [u8]) -> Option<&'r [u8]> {
    raw.get(part.offset_body as usize..part.offset_end as usize)
}

/// A text attachment as its original bytes (original charset), decoded from its transfer
/// encoding; mail-parser's UTF-8 rendering if the raw bytes cannot be decoded.
fn text_bytes(part: &MessagePart<'_>, raw: &[u8]) -> Vec<u8> {
    let decoded = part_slice(part, raw).and_then(|slice| match part.encoding {
        Encoding::Base64 => base64_decode(slice),
        Encoding::QuotedPrintable => quoted_printable_decode(slice),
        Encoding::None => Some(slice.to_vec()),
    });
    decoded.unwrap_or_else(|| match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
        _ => Vec::new(),
    })
}

fn decoded_size(part: &MessagePart<'_>, raw: &[u8]) -> usize {
    match &part.body {
        PartType::Message(_) if part.encoding == Encoding::None => {
            part_slice(part, raw).map_or(0, <[u8]>::len)
        }
        PartType::Message(m) => m.raw_message.len(),
        body => body.len(),
    }
}

fn content_type_of(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None if matches!(part.body, PartType::Message(_)) => "message/rfc822".to_string(),
        None if matches!(part.body, PartType::Text(_)) => "text/plain".to_string(),
        None => "application/octet-stream".to_string(),
    }
}

/// The name shown for an attachment: an attached message is named after its subject; other
/// parts use their file name, else a name made from the index and the content type.
fn name_of(part: &MessagePart<'_>, index: u32) -> String {
    if let PartType::Message(m) = &part.body
        && let Some(subject) = Message::subject(m).map(sanitize).filter(|s| !s.is_empty())
    {
        return format!("{subject}.eml");
    }
    if let Some(name) = part
        .attachment_name()
        .map(sanitize)
        .filter(|s| !s.is_empty())
    {
        return name;
    }
    let ext = extension(&content_type_of(part));
    if is_message(part) {
        return "message.eml".to_string();
    }
    format!("attachment-{}.{ext}", index + 1)
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/bmp" => "bmp",
        "image/tiff" => "tif",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "text/vcard" | "text/x-vcard" => "vcf",
        "application/pkcs7-signature" | "application/x-pkcs7-signature" => "p7s",
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => "p7m",
        "application/ms-tnef" => "dat",
        _ => "bin",
    }
}

/// File names come from the sender: no path separators, no control or reserved characters, and
/// a length phones can show.
fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let trimmed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = trimmed.trim_matches('.');
    crate::items::char_prefix(trimmed, 120).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &str = "From: a@x.org\r\nSubject: files\r\n\
        Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
        --outer\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n\
        --rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>see <img src=\"cid:logo@x\"></p>\r\n\
        --rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        iVBORw0KGgo=\r\n--rel--\r\n\
        --outer\r\nContent-Type: application/octet-stream; name=\"a/b.bin\"\r\n\
        Content-Disposition: attachment; filename=\"a/b.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        AAECAwQF\r\n\
        --outer\r\nContent-Type: text/plain; charset=iso-8859-1; name=notes.txt\r\n\
        Content-Disposition: attachment; filename=notes.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
        K=F6ln\r\n\
        --outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: Inner: note\r\nFrom: b@x.org\r\n\r\ninner body\r\n\
        --outer--\r\n";

    fn infos(raw: &str) -> Vec<AttachmentInfo> {
        let parsed = Parsed::new(raw.as_bytes());
        let html = super::super::body::Bodies::new(&parsed);
        list(&parsed, || html.html())
    }

    #[test]
    fn lists_in_stable_order_with_metadata() {
        let list = infos(MIXED);
        let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "attachment-1.png",
                "a_b.bin",
                "notes.txt",
                "Inner_ note.eml"
            ]
        );
        assert_eq!(
            list.iter().map(|i| i.index).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(list[0].content_id.as_deref(), Some("logo@x"));
        assert!(list[0].is_inline);
        assert!(!list[1].is_inline);
        assert_eq!(list[1].size, 6);
        assert_eq!(list[1].content_type, "application/octet-stream");
        assert_eq!(list[3].method, AttachMethod::EmbeddedMessage);
        assert_eq!(list[3].content_type, "message/rfc822");
        assert_eq!(infos(MIXED), list);
    }

    #[test]
    fn extracts_exact_bytes() {
        let raw = MIXED.as_bytes();
        let png = attachment(raw, 0).unwrap();
        assert_eq!(png.data, b"\x89PNG\r\n\x1a\n");
        assert_eq!(png.content_type, "image/png");
        assert_eq!(attachment(raw, 1).unwrap().data, [0, 1, 2, 3, 4, 5]);
        assert_eq!(attachment(raw, 2).unwrap().data, b"K\xf6ln");
        let eml = attachment(raw, 3).unwrap();
        assert_eq!(
            eml.data,
            b"Subject: Inner: note\r\nFrom: b@x.org\r\n\r\ninner body"
        );
        assert_eq!(infos(MIXED)[3].size, eml.data.len());
        assert!(attachment(raw, 4).is_none());
        assert!(attachment(b"", 0).is_none());
    }

    #[test]
    fn file_references_round_trip() {
        let r = file_reference("inbox:1234", 7);
        assert_eq!(parse_file_reference(&r), Some(("inbox:1234", 7)));
        assert_eq!(parse_file_reference("nocolon"), None);
        assert_eq!(parse_file_reference(":3"), None);
        assert_eq!(parse_file_reference("a:"), None);
        assert_eq!(parse_file_reference("a:-1"), None);
        assert_eq!(parse_file_reference("a:99999999999"), None);
    }

    #[test]
    fn names_are_sanitized() {
        assert_eq!(sanitize("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize(" a\tb \r\n"), "a b");
        assert_eq!(sanitize(&"x".repeat(500)).len(), 120);
    }
}
