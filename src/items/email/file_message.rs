//! The guide's "files" collection of GroupWare mail access: one file of the user's documents
//! folder written as a message with the file attached (the subject is its name, the date its
//! last change), for devices that only sync mail.

use super::compose::{encode_text, header, rfc5322_date};
use super::pim_message::{Part, text_with_attachments};
use crate::store::files::{FileContent, FileEntry};

/// The content type of a file from its extension; what a phone needs to pick a viewer.
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" | "log" | "md" => "text/plain",
        "csv" => "text/csv",
        "htm" | "html" => "text/html",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "ics" => "text/calendar",
        "vcf" => "text/vcard",
        _ => "application/octet-stream",
    }
}

/// A file as a message from and to `owner`. A file too large to attach is described in the
/// body instead.
pub fn file_message(entry: &FileEntry, content: &FileContent, owner: &str) -> Vec<u8> {
    let name = entry.name.as_str();
    let date = i64::try_from(entry.mtime).unwrap_or(0);
    let mut out = Vec::new();
    header(&mut out, "From", &format!("\"Files\" <{owner}>"));
    header(&mut out, "To", owner);
    header(&mut out, "Subject", &encode_text(name));
    header(&mut out, "Date", &rfc5322_date(date));
    header(&mut out, "MIME-Version", "1.0");
    let mut text = format!("{name}\r\n{} bytes\r\n", entry.size);
    let files: Vec<Part<'_>> = match content {
        FileContent::Bytes(data) => vec![Part {
            name,
            ctype: content_type(name),
            data,
        }],
        FileContent::TooLarge(_) => {
            text.push_str("\r\nToo large to attach; open it from the documents folder.\r\n");
            Vec::new()
        }
    };
    let boundary = format!("=_easd_file_{:x}", entry.mtime ^ entry.size);
    text_with_attachments(&mut out, &boundary, &text, &files);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::vdir::Href;
    use mail_parser::{MessageParser, MimeHeaders};

    fn entry(name: &str, size: u64) -> FileEntry {
        FileEntry {
            name: Href::parse(name).unwrap(),
            version: "v".into(),
            mtime: 1_767_323_045,
            size,
        }
    }

    #[test]
    fn a_file_is_attached_under_its_name() {
        let data = b"\x00\x01binary".to_vec();
        let raw = file_message(
            &entry("Relevé été.pdf", data.len() as u64),
            &FileContent::Bytes(data.clone()),
            "alice@example.com",
        );
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("Relevé été.pdf"));
        assert_eq!(m.from().unwrap().first().unwrap().name(), Some("Files"));
        let att = m.attachment(0).unwrap();
        assert_eq!(att.attachment_name(), Some("Relevé été.pdf"));
        assert_eq!(att.contents(), &data[..]);
        assert_eq!(att.content_type().unwrap().subtype(), Some("pdf"));
    }

    #[test]
    fn a_large_file_is_described() {
        let raw = file_message(
            &entry("backup.tar", 1 << 40),
            &FileContent::TooLarge(1 << 40),
            "alice@example.com",
        );
        let m = MessageParser::default().parse(&raw).unwrap();
        assert!(m.attachment(0).is_none());
        assert!(m.body_text(0).unwrap().contains("Too large to attach"));
        assert_eq!(
            content_type("x.DOCX"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
