//! The in-memory document tree that WBXML decodes to and encodes from, with the
//! builder and query helpers command handlers use.

use std::borrow::Cow;

use super::tag::Tag;

/// One child of an element.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Node {
    Element(Element),
    /// Character data; the decoder merges adjacent strings into one node.
    Text(String),
    /// WBXML OPAQUE data (MIME bodies, attachment content, ConversationId...).
    Opaque(Vec<u8>),
}

/// An element: its tag and its children in document order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Element {
    pub tag: Tag,
    pub children: Vec<Node>,
}

impl Element {
    /// An element with no children (encoded as the spec's empty tag).
    pub fn new(tag: Tag) -> Element {
        Element {
            tag,
            children: Vec::new(),
        }
    }

    /// `<tag>text</tag>`.
    pub fn text(tag: Tag, text: impl Into<String>) -> Element {
        Element {
            tag,
            children: vec![Node::Text(text.into())],
        }
    }

    /// `<tag>[opaque]</tag>`.
    pub fn opaque(tag: Tag, data: Vec<u8>) -> Element {
        Element {
            tag,
            children: vec![Node::Opaque(data)],
        }
    }

    /// Builder: append `child`.
    pub fn with(mut self, child: Element) -> Element {
        self.push(child);
        self
    }

    /// Builder: append `<tag>text</tag>`.
    pub fn with_text(self, tag: Tag, text: impl Into<String>) -> Element {
        self.with(Element::text(tag, text))
    }

    /// Builder: append `<tag>text</tag>` only when `text` is `Some`.
    pub fn with_opt_text(self, tag: Tag, text: Option<impl Into<String>>) -> Element {
        match text {
            Some(text) => self.with_text(tag, text),
            None => self,
        }
    }

    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    pub fn push_text(&mut self, tag: Tag, text: impl Into<String>) {
        self.push(Element::text(tag, text));
    }

    /// The first child element with `tag`.
    pub fn first(&self, tag: Tag) -> Option<&Element> {
        self.elements().find(|e| e.tag == tag)
    }

    pub fn first_mut(&mut self, tag: Tag) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.tag == tag => Some(e),
            _ => None,
        })
    }

    /// All child elements with `tag`, in order.
    pub fn all(&self, tag: Tag) -> impl Iterator<Item = &Element> {
        self.elements().filter(move |e| e.tag == tag)
    }

    /// All child elements, in order (text and opaque children skipped).
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    /// The text when the element holds exactly one text node, else `None`
    /// (so `<SyncKey/>` gives `None`, `<SyncKey>0</SyncKey>` gives `Some("0")`).
    pub fn text_content(&self) -> Option<&str> {
        match self.children.as_slice() {
            [Node::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// `first(tag)?.text_content()`.
    pub fn child_text(&self, tag: Tag) -> Option<&str> {
        self.first(tag)?.text_content()
    }

    /// The content as bytes when the element holds only text and opaque nodes (at least
    /// one): borrowed for a single node, concatenated otherwise. `None` when it has
    /// child elements or no children.
    pub fn data(&self) -> Option<Cow<'_, [u8]>> {
        fn bytes(n: &Node) -> Option<&[u8]> {
            match n {
                Node::Text(t) => Some(t.as_bytes()),
                Node::Opaque(d) => Some(d),
                Node::Element(_) => None,
            }
        }
        match self.children.as_slice() {
            [] => None,
            [only] => bytes(only).map(Cow::Borrowed),
            many => {
                let mut out = Vec::new();
                for n in many {
                    out.extend_from_slice(bytes(n)?);
                }
                Some(Cow::Owned(out))
            }
        }
    }

    /// No children at all.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags::{airsync, airsyncbase};

    fn sample() -> Element {
        Element::new(airsync::COLLECTION)
            .with_text(airsync::SYNC_KEY, "5")
            .with_text(airsync::COLLECTION_ID, "1")
            .with_opt_text(airsync::CLASS, None::<String>)
            .with(Element::new(airsync::GET_CHANGES))
            .with_text(airsync::COLLECTION_ID, "2")
    }

    #[test]
    fn builder_and_queries() {
        let mut c = sample();
        assert_eq!(c.child_text(airsync::SYNC_KEY), Some("5"));
        assert_eq!(c.first(airsync::CLASS), None);
        let ids: Vec<_> = c
            .all(airsync::COLLECTION_ID)
            .filter_map(Element::text_content)
            .collect();
        assert_eq!(ids, ["1", "2"]);
        assert_eq!(c.elements().count(), 4);
        assert!(c.first(airsync::GET_CHANGES).is_some_and(Element::is_empty));
        assert_eq!(c.child_text(airsync::GET_CHANGES), None);
        if let Some(k) = c.first_mut(airsync::SYNC_KEY) {
            *k = Element::text(airsync::SYNC_KEY, "6");
        }
        c.push_text(airsync::STATUS, "1");
        assert_eq!(c.child_text(airsync::SYNC_KEY), Some("6"));
        assert_eq!(c.child_text(airsync::STATUS), Some("1"));
        assert_eq!(c.text_content(), None);
    }

    #[test]
    fn data_views() {
        let d = airsyncbase::DATA;
        assert_eq!(
            Element::opaque(d, vec![1, 2]).data().as_deref(),
            Some(&[1u8, 2][..])
        );
        assert_eq!(Element::text(d, "ab").data().as_deref(), Some(&b"ab"[..]));
        let mixed = Element {
            tag: d,
            children: vec![Node::Text("a".into()), Node::Opaque(vec![b'b'])],
        };
        assert!(matches!(mixed.data(), Some(Cow::Owned(v)) if v == b"ab"));
        assert_eq!(Element::new(d).data(), None);
        assert_eq!(sample().data(), None);
    }
}
