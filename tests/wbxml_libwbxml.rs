//! Cross-check of the codec and its code page tables against an independent WBXML
//! implementation: Debian's libwbxml tools (package `libwbxml2-utils`), run as
//! subprocesses on temporary files. For every code page libwbxml knows (0-24):
//! our encoding, read by `wbxml2xml -l ACTIVESYNC`, must name the same page:token
//! elements with the same content; and XML in libwbxml's naming, written by
//! `xml2wbxml -a -n`, must decode to our tree. Comparison is by page and token; the
//! names libwbxml spells its own way are listed explicitly below.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use easd::wbxml::{Element, NAMESPACES, Node, Tag, decode, encode};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

/// (page, token, libwbxml's name) where libwbxml 0.11 departs from MS-ASWBXML's name.
const LIBWBXML_NAMES: &[(u8, u8, &str)] = &[
    (1, 0x07, "AssistantTelephoneNumber"),
    (1, 0x0D, "BusinessCity"),
    (1, 0x0E, "BusinessCountry"),
    (1, 0x0F, "BusinessPostalCode"),
    (1, 0x10, "BusinessState"),
    (1, 0x11, "BusinessStreet"),
    (1, 0x21, "HomeCity"),
    (1, 0x22, "HomeCountry"),
    (1, 0x23, "HomePostalCode"),
    (1, 0x24, "HomeState"),
    (1, 0x25, "HomeStreet"),
    (1, 0x2D, "OtherCity"),
    (1, 0x2E, "OtherCountry"),
    (1, 0x2F, "OtherPostalCode"),
    (1, 0x30, "OtherState"),
    (1, 0x31, "OtherStreet"),
    (2, 0x09, "AttOId"),
    (2, 0x19, "Reply-To"),
    (2, 0x1D, "DTStamp"),
    (2, 0x29, "Recurrence_Type"),
    (2, 0x2A, "Recurrence_Until"),
    (2, 0x2B, "Recurrence_Occurrences"),
    (2, 0x2C, "Recurrence_Interval"),
    (2, 0x2D, "Recurrence_DayOfWeek"),
    (2, 0x2E, "Recurrence_DayOfMonth"),
    (2, 0x2F, "Recurrence_WeekOfMonth"),
    (2, 0x30, "Recurrence_MonthOfYear"),
    (2, 0x3B, "FlagStatus"),
    (4, 0x05, "TimeZone"),
    (4, 0x09, "Attendee_Email"),
    (4, 0x0A, "Attendee_Name"),
    (4, 0x11, "DTStamp"),
    (4, 0x15, "Exception_Deleted"),
    (4, 0x16, "Exception_StartTime"),
    (4, 0x19, "Organizer_Email"),
    (4, 0x1A, "Organizer_Name"),
    (4, 0x1C, "Recurrence_Type"),
    (4, 0x1D, "Recurrence_Until"),
    (4, 0x1E, "Recurrence_Occurrences"),
    (4, 0x1F, "Recurrence_Interval"),
    (4, 0x20, "Recurrence_DayOfWeek"),
    (4, 0x21, "Recurrence_DayOfMonth"),
    (4, 0x22, "Recurrence_WeekOfMonth"),
    (4, 0x23, "Recurrence_MonthOfYear"),
    (4, 0x29, "Attendee_Status"),
    (4, 0x2A, "Attendee_Type"),
    (9, 0x0D, "UTCDueDate"),
    (9, 0x10, "Recurrence_Type"),
    (9, 0x11, "Recurrence_Start"),
    (9, 0x12, "Recurrence_Until"),
    (9, 0x13, "Recurrence_Occurrences"),
    (9, 0x14, "Recurrence_Interval"),
    (9, 0x15, "Recurrence_DayOfMonth"),
    (9, 0x16, "Recurrence_DayOfWeek"),
    (9, 0x17, "Recurrence_WeekOfMonth"),
    (9, 0x18, "Recurrence_MonthOfYear"),
    (9, 0x19, "Recurrence_Regenerate"),
    (9, 0x1A, "Recurrence_DeadOccur"),
    (9, 0x1F, "UTCStartDate"),
    (14, 0x10, "DeviceEncryptionEnabled"),
    (18, 0x1F, "SmtpAddress"),
    (18, 0x2B, "ihsManagementInformation"),
    (21, 0x10, "MIME"),
    (21, 0x17, "ForwardeeName"),
    (21, 0x18, "ForwardeeEmail"),
    (24, 0x12, "RMOwner"),
    (24, 0x18, "RemoveRightsManagementDistribution"),
];

/// Tags whose content libwbxml shows in XML as base64 (it treats them as binary):
/// `wbxml2xml` base64-encodes their content and `xml2wbxml` decodes it back to OPAQUE.
const BASE64_IN_LIBWBXML: &[(u8, u8)] = &[
    (10, 0x1C), // ResolveRecipients:Data
    (15, 0x20), // Search:ConversationId
    (16, 0x12), // Gal:Data
    (17, 0x1F), // AirSyncBase:Content
    (20, 0x18), // ItemOperations:ConversationId
    (21, 0x10), // ComposeMail:Mime
    (22, 0x09), // Email2:ConversationId
    (22, 0x0A), // Email2:ConversationIndex
];

/// Tags libwbxml 0.11 does not have (all 16.1 additions); it prints them as "unknown".
const NOT_IN_LIBWBXML: &[(u8, u8)] = &[(8, 0x10), (8, 0x11), (14, 0x3B)];

fn libwbxml_name(tag: Tag) -> &'static str {
    LIBWBXML_NAMES
        .iter()
        .find(|&&(p, t, _)| (p, t) == (tag.page(), tag.token()))
        .map_or(tag.name(), |&(_, _, n)| n)
}

fn tag_from_libwbxml(namespace: &str, name: &str) -> Option<Tag> {
    let page = NAMESPACES.iter().find(|p| p.xmlns == namespace)?;
    LIBWBXML_NAMES
        .iter()
        .find(|&&(p, _, n)| p == page.page && n == name)
        .map(|&(p, t, _)| Tag::new(p, t))
        .or_else(|| Tag::lookup(page.xmlns, name))
}

/// Element structure reduced to what both sides can represent: tag, content bytes
/// (text or opaque, concatenated), child elements.
#[derive(Debug, PartialEq)]
struct Shape {
    tag: Tag,
    content: Vec<u8>,
    children: Vec<Shape>,
}

/// Where two shapes first differ, for a readable failure.
fn difference(ours: &Shape, theirs: &Shape, path: &str) -> Option<String> {
    let path = format!("{path}/{}", ours.tag);
    if ours.tag != theirs.tag {
        return Some(format!("{path}: libwbxml has {}", theirs.tag));
    }
    if ours.content != theirs.content {
        let (a, b) = (
            String::from_utf8_lossy(&ours.content),
            String::from_utf8_lossy(&theirs.content),
        );
        return Some(format!("{path}: content {a:?} vs libwbxml {b:?}"));
    }
    if ours.children.len() != theirs.children.len() {
        return Some(format!(
            "{path}: {} children vs libwbxml {}",
            ours.children.len(),
            theirs.children.len()
        ));
    }
    ours.children
        .iter()
        .zip(&theirs.children)
        .find_map(|(a, b)| difference(a, b, &path))
}

fn base64_in_libwbxml(tag: Tag) -> bool {
    BASE64_IN_LIBWBXML.contains(&(tag.page(), tag.token()))
}

fn shape(e: &Element) -> Shape {
    let mut content = Vec::new();
    let mut children = Vec::new();
    for n in &e.children {
        match n {
            Node::Element(c) => children.push(shape(c)),
            Node::Text(t) => content.extend_from_slice(t.as_bytes()),
            Node::Opaque(d) => content.extend_from_slice(d),
        }
    }
    Shape {
        tag: e.tag,
        content,
        children,
    }
}

/// Parse libwbxml's XML output into shapes, mapping its names back to tokens.
fn shape_from_libwbxml(xml: &str) -> Shape {
    let mut reader = NsReader::from_str(xml);
    let mut stack: Vec<Shape> = Vec::new();
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .expect("libwbxml wrote well-formed XML");
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let ResolveResult::Bound(ns) = ns else {
                    panic!("no namespace in {xml}")
                };
                let ns = String::from_utf8_lossy(ns.as_ref()).into_owned();
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let tag =
                    tag_from_libwbxml(&ns, &name).unwrap_or_else(|| panic!("unmapped {ns}{name}"));
                stack.push(Shape {
                    tag,
                    content: Vec::new(),
                    children: Vec::new(),
                });
                if matches!(event, Event::Empty(_)) {
                    let done = stack.pop().expect("just pushed");
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return done,
                    }
                }
            }
            Event::End(_) => {
                let mut done = stack.pop().expect("balanced");
                if base64_in_libwbxml(done.tag) {
                    done.content = BASE64.decode(&done.content).expect("libwbxml base64");
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return done,
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.content
                        .extend_from_slice(t.decode().expect("utf-8").as_bytes());
                }
            }
            Event::GeneralRef(r) => {
                let c = r
                    .resolve_char_ref()
                    .expect("char ref")
                    .map(String::from)
                    .unwrap_or_else(|| {
                        let name = r.decode().expect("utf-8");
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .expect("predefined entity")
                            .to_owned()
                    });
                if let Some(top) = stack.last_mut() {
                    top.content.extend_from_slice(c.as_bytes());
                }
            }
            Event::Eof => panic!("libwbxml XML ended early: {xml}"),
            _ => {}
        }
    }
}

/// Our tree as XML in libwbxml's naming, one `xmlns` per page change like its output.
fn libwbxml_xml(e: &Element, parent_page: Option<u8>, out: &mut String) {
    let name = libwbxml_name(e.tag);
    out.push('<');
    out.push_str(name);
    if parent_page != Some(e.tag.page()) {
        let ns = NAMESPACES
            .iter()
            .find(|p| p.page == e.tag.page())
            .expect("known page");
        out.push_str(&format!(" xmlns=\"{}\"", ns.xmlns));
    }
    out.push('>');
    for n in &e.children {
        match n {
            Node::Element(c) => libwbxml_xml(c, Some(e.tag.page()), out),
            Node::Text(t) if base64_in_libwbxml(e.tag) => out.push_str(&BASE64.encode(t)),
            Node::Text(t) => out.push_str(&t.replace('&', "&amp;").replace('<', "&lt;")),
            Node::Opaque(_) => panic!("opaque data has no XML form"),
        }
    }
    out.push_str(&format!("</{name}>"));
}

fn run(tool: &str, args: &[&str], dir: &Path) {
    let out = Command::new(tool).args(args).current_dir(dir).output().unwrap_or_else(|e| {
        panic!("cannot run {tool} ({e}): install libwbxml2-utils (apt-get install -y libwbxml2-utils)")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every tag of `page` libwbxml knows, as children of the page's first tag: each once
/// with text (including characters XML must escape) and once empty, plus one nesting.
fn page_document(page: u8) -> Option<Element> {
    let tags: Vec<Tag> = Tag::all()
        .filter(|t| t.page() == page && !NOT_IN_LIBWBXML.contains(&(t.page(), t.token())))
        .collect();
    let &first = tags.first()?;
    let mut root = Element::new(first);
    for &t in &tags {
        root.push(Element::text(
            t,
            format!("{} <&> é {}", t.name(), t.token()),
        ));
        root.push(Element::new(t));
    }
    root.push(Element::new(first).with(Element::text(first, "nested")));
    Some(root)
}

#[test]
fn libwbxml_agrees_on_pages_0_to_24() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut checked = 0;
    for page in 0..=24u8 {
        let Some(tree) = page_document(page) else {
            continue;
        };

        std::fs::write(dir.path().join("ours.wbxml"), encode(&tree)).expect("write");
        run(
            "wbxml2xml",
            &[
                "-l",
                "ACTIVESYNC",
                "-m",
                "0",
                "-o",
                "theirs.xml",
                "ours.wbxml",
            ],
            dir.path(),
        );
        let xml = std::fs::read_to_string(dir.path().join("theirs.xml")).expect("read");
        if let Some(d) = difference(&shape(&tree), &shape_from_libwbxml(&xml), "") {
            panic!("wbxml2xml reading page {page}: {d}");
        }

        // The DOCTYPE is how xml2wbxml picks its ActiveSync tables for any root element.
        let mut xml = String::from(concat!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
            "<!DOCTYPE ActiveSync PUBLIC \"-//MICROSOFT//DTD ActiveSync//EN\" \"http://www.microsoft.com/\">\n"
        ));
        libwbxml_xml(&tree, None, &mut xml);
        std::fs::write(dir.path().join("ours.xml"), xml).expect("write");
        run(
            "xml2wbxml",
            &["-a", "-n", "-o", "theirs.wbxml", "ours.xml"],
            dir.path(),
        );
        let bytes = std::fs::read(dir.path().join("theirs.wbxml")).expect("read");
        let decoded = decode(&bytes).unwrap_or_else(|e| panic!("page {page}: {e}"));
        if let Some(d) = difference(&shape(&tree), &shape(&decoded), "") {
            panic!("xml2wbxml writing page {page}: {d}");
        }
        checked += 1;
    }
    assert_eq!(checked, 24, "pages 0-24 except the empty page 3");
}
