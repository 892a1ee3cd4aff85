//! XML views of the tree: `to_xml` renders a document for logs and test failures the
//! way MS-ASCMD's examples look; `from_xml` parses such XML so tests can write requests
//! readably.
//!
//! `to_xml` shows opaque data as `[opaque N bytes]` (logs must not dump MIME bodies),
//! so its output only parses back when the tree holds no opaque nodes. `from_xml` maps
//! namespaces through the code page tables (with or without the trailing colon),
//! refuses unknown elements and attributes, and drops whitespace-only text between
//! elements (so `<a> </a>` parses as an empty element).

use std::fmt::{self, Write as _};

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::codepages;
use super::element::{Element, Node};
use super::tag::Tag;

/// Render `root` as indented XML with spec names: the root's page is the default
/// namespace, every other page used gets an `xmlns:prefix` declaration on the root.
pub fn to_xml(root: &Element) -> String {
    let mut pages = Vec::new();
    collect_pages(root, &mut pages);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let root_page = root.tag.page();
    let _ = write!(out, "<{} xmlns=\"{}\"", root.tag.name(), xmlns(root_page));
    for &p in pages.iter().filter(|&&p| p != root_page) {
        let _ = write!(out, " xmlns:{}=\"{}\"", prefix(p), xmlns(p));
    }
    if root.is_empty() {
        out.push_str("/>\n");
    } else {
        out.push('>');
        children(&mut out, root, root_page, 0);
        let _ = writeln!(out, "</{}>", root.tag.name());
    }
    out
}

fn collect_pages(e: &Element, pages: &mut Vec<u8>) {
    if !pages.contains(&e.tag.page()) {
        pages.push(e.tag.page());
    }
    for c in e.elements() {
        collect_pages(c, pages);
    }
}

fn xmlns(page: u8) -> &'static str {
    codepages::page(page).map_or("Unknown:", |p| p.info.xmlns)
}

fn prefix(page: u8) -> &'static str {
    codepages::page(page).map_or("unknown", |p| p.info.prefix)
}

fn qname(tag: Tag, root_page: u8) -> String {
    if tag.page() == root_page {
        tag.name().to_owned()
    } else {
        format!("{}:{}", prefix(tag.page()), tag.name())
    }
}

fn element(out: &mut String, e: &Element, root_page: u8, depth: usize) {
    indent(out, depth);
    let name = qname(e.tag, root_page);
    if e.is_empty() {
        let _ = writeln!(out, "<{name}/>");
    } else {
        let _ = write!(out, "<{name}>");
        children(out, e, root_page, depth);
        let _ = writeln!(out, "</{name}>");
    }
}

/// Leaf content stays on the element's line; element children go one per line.
fn children(out: &mut String, e: &Element, root_page: u8, depth: usize) {
    if e.elements().next().is_none() {
        for c in &e.children {
            leaf(out, c);
        }
        return;
    }
    out.push('\n');
    for c in &e.children {
        match c {
            Node::Element(child) => element(out, child, root_page, depth + 1),
            other => {
                indent(out, depth + 1);
                leaf(out, other);
                out.push('\n');
            }
        }
    }
    indent(out, depth);
}

fn leaf(out: &mut String, n: &Node) {
    match n {
        Node::Text(t) => escape(out, t),
        Node::Opaque(d) => {
            let _ = write!(out, "[opaque {} bytes]", d.len());
        }
        Node::Element(_) => {}
    }
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn escape(out: &mut String, t: &str) {
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "&#x{:X};", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Why `from_xml` refused its input; positions are byte offsets into the XML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed XML (quick-xml's message).
    Syntax { position: u64, message: String },
    /// An element in no namespace, or with an undeclared prefix.
    NoNamespace { position: u64, name: String },
    /// A namespace that is not an EAS code page.
    UnknownNamespace { position: u64, namespace: String },
    /// A name the code page does not have.
    UnknownElement {
        position: u64,
        namespace: String,
        name: String,
    },
    /// An attribute other than a namespace declaration.
    Attribute { position: u64, name: String },
    /// An entity reference other than the XML predefined ones and character references.
    UnknownEntity { position: u64, name: String },
    /// Non-whitespace text outside the root element.
    TextOutsideRoot { position: u64 },
    /// A second top-level element.
    MultipleRoots { position: u64 },
    /// No element at all, or the input ended inside one.
    Incomplete,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { position, message } => {
                write!(f, "XML syntax error at {position}: {message}")
            }
            Self::NoNamespace { position, name } => {
                write!(f, "element {name:?} at {position} has no EAS namespace")
            }
            Self::UnknownNamespace {
                position,
                namespace,
            } => {
                write!(
                    f,
                    "namespace {namespace:?} at {position} is not an EAS code page"
                )
            }
            Self::UnknownElement {
                position,
                namespace,
                name,
            } => {
                write!(f, "{namespace:?} has no element {name:?} (at {position})")
            }
            Self::Attribute { position, name } => {
                write!(
                    f,
                    "attribute {name:?} at {position}: EAS XML has no attributes"
                )
            }
            Self::UnknownEntity { position, name } => {
                write!(f, "unknown entity &{name}; at {position}")
            }
            Self::TextOutsideRoot { position } => {
                write!(f, "text outside the root element at {position}")
            }
            Self::MultipleRoots { position } => write!(f, "second root element at {position}"),
            Self::Incomplete => f.write_str("XML document has no complete root element"),
        }
    }
}

impl std::error::Error for XmlError {}

/// Parse EAS XML into a tree.
pub fn from_xml(xml: &str) -> Result<Element, XmlError> {
    let mut reader = NsReader::from_str(xml);
    let mut parser = Parser {
        stack: Vec::new(),
        text: String::new(),
        root: None,
    };
    loop {
        let position = reader.buffer_position();
        let syntax = |e: quick_xml::Error| XmlError::Syntax {
            position,
            message: e.to_string(),
        };
        let (ns, event) = reader.read_resolved_event().map_err(syntax)?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let tag = resolve(&ns, s, position)?;
                parser.open(tag, position)?;
                if matches!(event, Event::Empty(_)) {
                    parser.close(position)?;
                }
            }
            Event::End(_) => parser.close(position)?,
            Event::Text(t) => parser
                .text
                .push_str(&t.decode().map_err(|e| syntax(e.into()))?),
            Event::CData(t) => parser
                .text
                .push_str(&t.decode().map_err(|e| syntax(e.into()))?),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| syntax(e.into()))?;
                if let Some(c) = r.resolve_char_ref().map_err(syntax)? {
                    parser.text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&name) {
                    parser.text.push_str(s);
                } else {
                    return Err(XmlError::UnknownEntity {
                        position,
                        name: name.into_owned(),
                    });
                }
            }
            Event::Eof => return parser.finish(position),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
}

fn resolve(ns: &ResolveResult<'_>, start: &BytesStart<'_>, position: u64) -> Result<Tag, XmlError> {
    let qname = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Syntax {
            position,
            message: e.to_string(),
        })?;
        if attr.key.as_namespace_binding().is_none() {
            let name = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
            return Err(XmlError::Attribute { position, name });
        }
    }
    let ResolveResult::Bound(namespace) = ns else {
        return Err(XmlError::NoNamespace {
            position,
            name: qname,
        });
    };
    let namespace = String::from_utf8_lossy(namespace.as_ref()).into_owned();
    let page =
        codepages::page_by_namespace(&namespace).ok_or_else(|| XmlError::UnknownNamespace {
            position,
            namespace: namespace.clone(),
        })?;
    let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    Tag::lookup(page.info.name, &local).ok_or(XmlError::UnknownElement {
        position,
        namespace,
        name: local,
    })
}

/// Tree building state: open elements (innermost last) and text not yet attached.
struct Parser {
    stack: Vec<Element>,
    text: String,
    root: Option<Element>,
}

impl Parser {
    fn flush_text(&mut self, position: u64) -> Result<(), XmlError> {
        if self.text.trim().is_empty() {
            self.text.clear();
            return Ok(());
        }
        let text = std::mem::take(&mut self.text);
        let parent = self
            .stack
            .last_mut()
            .ok_or(XmlError::TextOutsideRoot { position })?;
        match parent.children.last_mut() {
            Some(Node::Text(prev)) => prev.push_str(&text),
            _ => parent.children.push(Node::Text(text)),
        }
        Ok(())
    }

    fn open(&mut self, tag: Tag, position: u64) -> Result<(), XmlError> {
        self.flush_text(position)?;
        if self.stack.is_empty() && self.root.is_some() {
            return Err(XmlError::MultipleRoots { position });
        }
        self.stack.push(Element::new(tag));
        Ok(())
    }

    fn close(&mut self, position: u64) -> Result<(), XmlError> {
        self.flush_text(position)?;
        let done = self.stack.pop().ok_or(XmlError::Incomplete)?;
        match self.stack.last_mut() {
            Some(parent) => parent.push(done),
            None => self.root = Some(done),
        }
        Ok(())
    }

    fn finish(mut self, position: u64) -> Result<Element, XmlError> {
        self.flush_text(position)?;
        match (self.stack.is_empty(), self.root) {
            (true, Some(root)) => Ok(root),
            _ => Err(XmlError::Incomplete),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::fixtures::spec_example_tree;
    use crate::wbxml::tags::{airsync, folderhierarchy, ping};

    const SPEC_EXAMPLE_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Sync xmlns="AirSync:" xmlns:airsyncbase="AirSyncBase:" xmlns:contacts="Contacts:">
  <Collections>
    <Collection>
      <Class>Contacts</Class>
      <SyncKey>2</SyncKey>
      <CollectionId>2</CollectionId>
      <Status>1</Status>
      <Commands>
        <Add>
          <ServerId>2:1</ServerId>
          <ApplicationData>
            <airsyncbase:Body>
              <airsyncbase:Type>1</airsyncbase:Type>
              <airsyncbase:EstimatedDataSize>0</airsyncbase:EstimatedDataSize>
              <airsyncbase:Truncated>1</airsyncbase:Truncated>
            </airsyncbase:Body>
            <contacts:FileAs>Funk, Don</contacts:FileAs>
            <contacts:FirstName>Don</contacts:FirstName>
            <contacts:LastName>Funk</contacts:LastName>
            <airsyncbase:NativeBodyType>1</airsyncbase:NativeBodyType>
          </ApplicationData>
        </Add>
      </Commands>
    </Collection>
  </Collections>
</Sync>
"#;

    #[test]
    fn renders_like_the_spec_example() {
        assert_eq!(to_xml(&spec_example_tree()), SPEC_EXAMPLE_XML);
        assert_eq!(from_xml(SPEC_EXAMPLE_XML), Ok(spec_example_tree()));
    }

    #[test]
    fn parses_the_spec_s_own_spelling() {
        // MS-ASWBXML section 3 writes namespaces without colons and prefixes freely.
        let xml = r#"<Sync xmlns="AirSync" xmlns:x="GAL"><Collections/></Sync>"#;
        let want = Element::new(airsync::SYNC).with(Element::new(airsync::COLLECTIONS));
        assert_eq!(from_xml(xml), Ok(want));
    }

    #[test]
    fn text_entities_and_whitespace() {
        let xml = "<FolderSync xmlns=\"FolderHierarchy:\">\n  <SyncKey>a &amp; &#x42;<![CDATA[<c>]]></SyncKey>\n  <Status> </Status>\n</FolderSync>";
        let want = Element::new(folderhierarchy::FOLDER_SYNC)
            .with_text(folderhierarchy::SYNC_KEY, "a & B<c>")
            .with(Element::new(folderhierarchy::STATUS));
        assert_eq!(from_xml(xml), Ok(want.clone()));
        let escaped = Element::text(ping::PING, "<&>\u{1}");
        assert!(to_xml(&escaped).contains("<Ping xmlns=\"Ping:\">&lt;&amp;&gt;&#x1;</Ping>"));
        assert_eq!(from_xml(&to_xml(&escaped)), Ok(escaped));
    }

    #[test]
    fn opaque_is_summarised() {
        let e = Element::opaque(airsync::SYNC_KEY, vec![1, 2, 3]);
        assert!(to_xml(&e).contains("<SyncKey xmlns=\"AirSync:\">[opaque 3 bytes]</SyncKey>"));
        assert!(to_xml(&Element::new(ping::PING)).ends_with("<Ping xmlns=\"Ping:\"/>\n"));
    }

    #[test]
    fn errors() {
        let cases = [
            ("<Sync/>", "NoNamespace"),
            ("<a:Sync xmlns=\"AirSync:\"/>", "NoNamespace"),
            ("<Sync xmlns=\"Bogus\"/>", "UnknownNamespace"),
            ("<Snyc xmlns=\"AirSync\"/>", "UnknownElement"),
            ("<Sync xmlns=\"AirSync\" id=\"1\"/>", "Attribute"),
            ("<Sync xmlns=\"AirSync\">&nbsp;</Sync>", "UnknownEntity"),
            ("x<Sync xmlns=\"AirSync\"/>", "TextOutsideRoot"),
            (
                "<Sync xmlns=\"AirSync\"/><Sync xmlns=\"AirSync\"/>",
                "MultipleRoots",
            ),
            ("<Sync xmlns=\"AirSync\">", "Incomplete"),
            ("", "Incomplete"),
            ("<Sync xmlns=\"AirSync\"></Ping>", "Syntax"),
        ];
        for (xml, want) in cases {
            let err = from_xml(xml).expect_err(xml);
            assert!(format!("{err:?}").starts_with(want), "{xml}: {err:?}");
            assert!(!err.to_string().is_empty());
        }
    }
}
