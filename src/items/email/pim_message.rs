//! The guide's "GroupWare mail access": a task (VTODO) or note (VJOURNAL) written as a message,
//! for devices that only sync mail. The details become a plain-text body, the categories the
//! sender's name (as the guide does), the last modification the date, and inline attachments
//! (`ATTACH;VALUE=BINARY`) real MIME attachments.

use super::compose::{base64_lines, encode_text, header, rfc5322_date};
use crate::items::component::{Component, Document};
use crate::items::ical_time::IcalTime;
use crate::items::zones::Zones;
use jiff::tz::TimeZone;

/// A message made from a task or note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PimMessage {
    pub raw: Vec<u8>,
    /// Unix seconds of the item's last change: the message's date and DateReceived.
    pub date: i64,
}

/// What the collection holds, for the sender name when the item has no category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PimSource {
    Task,
    Note,
}

fn component_of(doc: &Document, name: &str) -> Option<(Component, Zones)> {
    let cal = doc.components.iter().find(|c| c.is("VCALENDAR"))?;
    let comp = cal.children.iter().find(|c| c.is(name))?.clone();
    Some((comp, Zones::from_calendar(cal)))
}

fn instant(comp: &Component, name: &str, zones: &Zones) -> Option<i64> {
    IcalTime::from_prop(comp.prop(name)?)?
        .to_timestamp(zones, &TimeZone::UTC)
        .map(|t| t.as_second())
}

fn date_line(comp: &Component, name: &str, zones: &Zones) -> Option<String> {
    let t = IcalTime::from_prop(comp.prop(name)?)?;
    Some(match t {
        IcalTime::Date(d) => d.strftime("%Y-%m-%d").to_string(),
        other => other
            .to_timestamp(zones, &TimeZone::UTC)?
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
    })
}

/// One binary attachment: file name, content type, base64 data as stored.
struct Attached {
    name: String,
    ctype: String,
    data: Vec<u8>,
}

fn attachments(comp: &Component) -> (Vec<Attached>, Vec<String>) {
    use base64::Engine;
    let mut files = Vec::new();
    let mut links = Vec::new();
    for (i, p) in comp.props_named("ATTACH").enumerate() {
        let binary = p
            .param("VALUE")
            .is_some_and(|v| v.eq_ignore_ascii_case("BINARY"))
            || p.param("ENCODING")
                .is_some_and(|v| v.eq_ignore_ascii_case("BASE64"));
        if !binary {
            links.push(p.value.trim().to_string());
            continue;
        }
        let cleaned: String = p.value.chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(data) = base64::engine::general_purpose::STANDARD.decode(cleaned) else {
            continue;
        };
        let name = ["X-FILENAME", "FILENAME", "X-APPLE-FILENAME"]
            .iter()
            .find_map(|n| p.param(n))
            .map_or_else(|| format!("attachment-{}", i + 1), str::to_string);
        let ctype = p
            .param("FMTTYPE")
            .unwrap_or("application/octet-stream")
            .to_string();
        files.push(Attached { name, ctype, data });
    }
    (files, links)
}

/// The message for the first VTODO or VJOURNAL of `ics`, addressed to and "from" `owner`;
/// `mtime` (the file's) stands in for a missing LAST-MODIFIED. `None` when there is no such
/// component.
pub fn pim_message(ics: &str, source: PimSource, owner: &str, mtime: i64) -> Option<PimMessage> {
    let doc = Document::parse(ics).into_calendar();
    let wanted = match source {
        PimSource::Task => "VTODO",
        PimSource::Note => "VJOURNAL",
    };
    let (comp, zones) = component_of(&doc, wanted)?;
    let date = ["LAST-MODIFIED", "DTSTAMP", "CREATED"]
        .iter()
        .find_map(|n| instant(&comp, n, &zones))
        .unwrap_or(mtime);
    let categories = comp.list("CATEGORIES");
    let sender = if categories.is_empty() {
        match source {
            PimSource::Task => "Task".to_string(),
            PimSource::Note => "Note".to_string(),
        }
    } else {
        categories.join(", ")
    };
    let mut text = String::new();
    if source == PimSource::Task {
        let lines = [
            ("Start", date_line(&comp, "DTSTART", &zones)),
            ("Due", date_line(&comp, "DUE", &zones)),
            ("Completed", date_line(&comp, "COMPLETED", &zones)),
            ("Status", comp.text("STATUS")),
            ("Priority", comp.text("PRIORITY")),
            ("Percent complete", comp.text("PERCENT-COMPLETE")),
        ];
        for (label, value) in lines {
            if let Some(v) = value {
                text.push_str(&format!("{label}: {}\r\n", v.trim()));
            }
        }
    }
    if !categories.is_empty() {
        text.push_str(&format!("Categories: {}\r\n", categories.join(", ")));
    }
    let (files, links) = attachments(&comp);
    for link in &links {
        text.push_str(&format!("Attachment: {link}\r\n"));
    }
    if let Some(desc) = comp.text("DESCRIPTION") {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str(&desc.replace("\r\n", "\n").replace('\n', "\r\n"));
        text.push_str("\r\n");
    }

    let mut out = Vec::new();
    let sender = sender.replace(['"', '\\'], "");
    let display = if sender.is_ascii() {
        format!("\"{sender}\"")
    } else {
        encode_text(&sender)
    };
    header(&mut out, "From", &format!("{display} <{owner}>"));
    header(&mut out, "To", owner);
    let subject = comp.text("SUMMARY").unwrap_or_default();
    header(&mut out, "Subject", &encode_text(&subject));
    header(&mut out, "Date", &rfc5322_date(date));
    if let Some(uid) = comp.text("UID") {
        let clean: String = uid
            .chars()
            .filter(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(*c))
            .collect();
        header(&mut out, "Message-ID", &format!("<{clean}@groupware.easd>"));
    }
    header(&mut out, "MIME-Version", "1.0");
    let parts: Vec<Part<'_>> = files
        .iter()
        .map(|f| Part {
            name: &f.name,
            ctype: &f.ctype,
            data: &f.data,
        })
        .collect();
    text_with_attachments(&mut out, &format!("=_easd_pim_{date:x}"), &text, &parts);
    Some(PimMessage { raw: out, date })
}

/// One attached file of a message written here.
pub(super) struct Part<'a> {
    pub name: &'a str,
    pub ctype: &'a str,
    pub data: &'a [u8],
}

/// Ends a message's headers with its body: the text alone, or the text and `files` as a
/// multipart/mixed under `boundary`. A name that is not ASCII is an RFC 2047 encoded word,
/// which mail clients read in parameters too.
pub(super) fn text_with_attachments(
    out: &mut Vec<u8>,
    boundary: &str,
    text: &str,
    files: &[Part<'_>],
) {
    let body = |out: &mut Vec<u8>| {
        header(out, "Content-Type", "text/plain; charset=utf-8");
        header(out, "Content-Transfer-Encoding", "base64");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&base64_lines(text.as_bytes()));
    };
    if files.is_empty() {
        body(out);
        return;
    }
    header(
        out,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body(out);
    for f in files {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let name = f.name.replace(['"', '\\', '\r', '\n'], "");
        let name = if name.is_ascii() {
            name
        } else {
            encode_text(&name)
        };
        header(
            out,
            "Content-Type",
            &format!("{}; name=\"{name}\"", f.ctype),
        );
        header(
            out,
            "Content-Disposition",
            &format!("attachment; filename=\"{name}\""),
        );
        header(out, "Content-Transfer-Encoding", "base64");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&base64_lines(f.data));
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    #[test]
    fn task_with_details_categories_and_attachment() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VTODO\r\nUID:t1@x\r\n\
            DTSTAMP:20260101T000000Z\r\nLAST-MODIFIED:20260102T030405Z\r\nSUMMARY:File taxes\r\n\
            DUE;VALUE=DATE:20260415\r\nPRIORITY:1\r\nSTATUS:NEEDS-ACTION\r\nCATEGORIES:Home,Money\r\n\
            DESCRIPTION:Forms are in the drawer.\\nCall Ann.\r\n\
            ATTACH;VALUE=BINARY;ENCODING=BASE64;FMTTYPE=text/plain;X-FILENAME=list.txt:aGVsbG8=\r\n\
            ATTACH:https://example.org/form.pdf\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        let m = pim_message(ics, PimSource::Task, "alice@example.com", 0).unwrap();
        assert_eq!(m.date, 1_767_323_045);
        let parsed = MessageParser::default().parse(&m.raw).unwrap();
        assert_eq!(parsed.subject(), Some("File taxes"));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Home, Money"));
        assert_eq!(from.address(), Some("alice@example.com"));
        let body = parsed.body_text(0).unwrap();
        assert!(body.contains("Due: 2026-04-15"), "{body}");
        assert!(body.contains("Priority: 1"));
        assert!(body.contains("Categories: Home, Money"));
        assert!(body.contains("Attachment: https://example.org/form.pdf"));
        assert!(body.contains("Forms are in the drawer.\r\nCall Ann."));
        let att = parsed.attachment(0).unwrap();
        assert_eq!(att.attachment_name(), Some("list.txt"));
        assert_eq!(att.contents(), b"hello");
    }

    #[test]
    fn note_without_category() {
        let ics = "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nUID:n1\r\nSUMMARY:Ideas\r\n\
            DESCRIPTION:Plant tomatoes\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n";
        let m = pim_message(ics, PimSource::Note, "bob@example.com", 1_700_000_000).unwrap();
        assert_eq!(m.date, 1_700_000_000);
        let parsed = MessageParser::default().parse(&m.raw).unwrap();
        assert_eq!(parsed.from().unwrap().first().unwrap().name(), Some("Note"));
        assert_eq!(parsed.body_text(0).unwrap().trim(), "Plant tomatoes");
        assert!(pim_message(ics, PimSource::Task, "bob@example.com", 0).is_none());
    }
}
