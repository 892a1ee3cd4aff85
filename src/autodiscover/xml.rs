//! A small namespace-aware XML tree for autodiscover bodies: read with quick-xml into `Node`s
//! (namespace, local name, text, children), and write them back with each namespace declared where it
//! changes. Attributes other than namespace declarations carry nothing autodiscover needs and are
//! dropped.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use std::fmt;

/// Deeper documents are refused: autodiscover needs five levels, and recursion must stay bounded.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The resolved namespace URI ("" when none is in scope).
    pub namespace: String,
    pub name: String,
    /// Character data directly inside the element, whitespace-trimmed.
    pub text: String,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    Syntax(String),
    TooDeep,
    NoRoot,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XmlError::Syntax(m) => write!(f, "malformed XML: {m}"),
            XmlError::TooDeep => write!(f, "XML nested deeper than {MAX_DEPTH} levels"),
            XmlError::NoRoot => f.write_str("no root element"),
        }
    }
}

impl std::error::Error for XmlError {}

impl Node {
    pub fn new(namespace: &str, name: &str) -> Node {
        Node {
            namespace: namespace.to_string(),
            name: name.to_string(),
            ..Node::default()
        }
    }

    /// A child element in the same namespace.
    pub fn with(mut self, name: &str, build: impl FnOnce(Node) -> Node) -> Node {
        let child = build(Node::new(&self.namespace, name));
        self.children.push(child);
        self
    }

    /// A text child in the same namespace.
    pub fn with_text(self, name: &str, text: impl Into<String>) -> Node {
        let text = text.into();
        self.with(name, |mut n| {
            n.text = text;
            n
        })
    }

    pub fn push(&mut self, child: Node) {
        self.children.push(child);
    }

    /// The first child whose local name matches, ignoring case (clients vary it).
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }

    /// Serializes the tree as a UTF-8 document.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        // Writing to a Vec cannot fail.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)));
        write_node(&mut w, self, None);
        let mut out = w.into_inner();
        out.push(b'\n');
        out
    }
}

fn write_node(w: &mut Writer<Vec<u8>>, node: &Node, parent_ns: Option<&str>) {
    let mut start = BytesStart::new(node.name.as_str());
    if parent_ns != Some(node.namespace.as_str()) {
        start.push_attribute(("xmlns", node.namespace.as_str()));
    }
    if node.children.is_empty() && node.text.is_empty() {
        let _ = w.write_event(Event::Empty(start));
        return;
    }
    let _ = w.write_event(Event::Start(start));
    if !node.text.is_empty() {
        let _ = w.write_event(Event::Text(BytesText::new(&node.text)));
    }
    for c in &node.children {
        write_node(w, c, Some(&node.namespace));
    }
    let _ = w.write_event(Event::End(BytesEnd::new(node.name.as_str())));
}

/// Parses a document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Node, XmlError> {
    let mut reader = NsReader::from_reader(bytes);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    let syntax = |e: &dyn fmt::Display| XmlError::Syntax(e.to_string());
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(|e| syntax(&e))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(XmlError::Syntax("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                let namespace = match ns {
                    ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                    ResolveResult::Unbound => String::new(),
                    ResolveResult::Unknown(p) => {
                        return Err(XmlError::Syntax(format!(
                            "undeclared prefix {}",
                            String::from_utf8_lossy(&p)
                        )));
                    }
                };
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                stack.push(Node {
                    namespace,
                    name,
                    ..Node::default()
                });
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root);
                }
            }
            Event::End(_) => close(&mut stack, &mut root),
            Event::Text(t) => {
                let text = t.decode().map_err(|e| syntax(&e))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| syntax(&e))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| syntax(&e))?;
                let resolved = match r.resolve_char_ref().map_err(|e| syntax(&e))? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| XmlError::Syntax(format!("unknown entity &{name};")))?
                        .to_string(),
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("unclosed element".into()));
    }
    root.ok_or(XmlError::NoRoot)
}

fn push_text(stack: &mut [Node], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(n) => {
            n.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Syntax("text outside the root element".into())),
    }
}

fn close(stack: &mut Vec<Node>, root: &mut Option<Node>) {
    if let Some(mut node) = stack.pop() {
        node.text = node.text.trim().to_string();
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None => *root = Some(node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_prefixes_and_entities() {
        let doc = br#"<?xml version="1.0"?>
<a:Autodiscover xmlns:a="urn:one" xmlns="urn:two">
  <a:Request><EMailAddress> x&amp;y&#64;z </EMailAddress><![CDATA[c]]></a:Request>
</a:Autodiscover>"#;
        let root = parse(doc).unwrap();
        assert_eq!(
            (root.namespace.as_str(), root.name.as_str()),
            ("urn:one", "Autodiscover")
        );
        let req = root.child("request").unwrap();
        assert_eq!(req.namespace, "urn:one");
        assert_eq!(req.text, "c");
        let email = req.child("EmailAddress").unwrap();
        assert_eq!(email.namespace, "urn:two");
        assert_eq!(email.text, "x&y@z");
    }

    #[test]
    fn bad_documents_are_errors() {
        for bad in [
            &b""[..],
            b"   ",
            b"<a><b></a>",
            b"<a>",
            b"<a/><b/>",
            b"<p:a/>",
            b"<a>&bogus;</a>",
            b"text",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert_eq!(parse(deep.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn writes_what_it_reads() {
        let tree = Node::new("urn:outer", "Root").with("Inner", |n| {
            let mut n = n.with_text("Leaf", "a < b & c");
            n.push(Node::new("urn:other", "Foreign").with_text("X", "1"));
            n
        });
        let xml = tree.to_xml();
        let text = String::from_utf8(xml.clone()).unwrap();
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "{text}"
        );
        assert!(text.contains("a &lt; b &amp; c"), "{text}");
        assert_eq!(parse(&xml).unwrap(), tree);
    }
}
