//! Codec properties over the whole vocabulary: every tag of every code page survives
//! encode/decode and XML, random trees round-trip, and no input makes the decoder panic.

use easd::wbxml::{Element, NAMESPACES, Node, Tag, decode, encode, from_xml, to_xml};
use proptest::prelude::*;

#[test]
fn every_tag_of_every_page_round_trips() {
    for page in NAMESPACES {
        let tags: Vec<Tag> = Tag::all().filter(|t| t.page() == page.page).collect();
        let Some(&first) = tags.first() else {
            assert_eq!(page.name, "AirNotify", "only page 3 has no tags");
            continue;
        };
        // Each tag once empty, once with text, once with opaque data, and nested once.
        let mut root = Element::new(first);
        for &t in &tags {
            root.push(Element::new(t));
            root.push(Element::text(t, t.name()));
            root.push(Element::opaque(t, t.name().as_bytes().to_vec()));
            root.push(Element::new(t).with(Element::new(first)));
        }
        let bytes = encode(&root);
        assert_eq!(decode(&bytes).as_ref(), Ok(&root), "page {}", page.name);
        let for_xml = without_opaque(&root);
        assert_eq!(
            from_xml(&to_xml(&for_xml)),
            Ok(for_xml),
            "page {}",
            page.name
        );
        for &t in &tags {
            assert_eq!(Tag::lookup(page.xmlns, t.name()), Some(t));
            assert_eq!(t.namespace(), page.name);
        }
    }
}

fn without_opaque(e: &Element) -> Element {
    let children = e
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Element(c) => Some(Node::Element(without_opaque(c))),
            Node::Text(t) => Some(Node::Text(t.clone())),
            Node::Opaque(_) => None,
        })
        .collect();
    Element {
        tag: e.tag,
        children,
    }
}

fn any_tag() -> impl Strategy<Value = Tag> {
    let all: Vec<Tag> = Tag::all().collect();
    proptest::sample::select(all)
}

/// Trees as the decoder produces them: adjacent text nodes merged.
fn normalised(tag: Tag, children: Vec<Node>) -> Element {
    let mut out: Vec<Node> = Vec::with_capacity(children.len());
    for n in children {
        match (out.last_mut(), n) {
            (Some(Node::Text(prev)), Node::Text(t)) => prev.push_str(&t),
            (_, n) => out.push(n),
        }
    }
    Element { tag, children: out }
}

fn any_tree() -> impl Strategy<Value = Element> {
    let leaf = prop_oneof![
        any_tag().prop_map(Element::new),
        (any_tag(), any::<String>()).prop_map(|(t, s)| Element::text(t, s)),
        (any_tag(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(t, d)| Element::opaque(t, d)),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        let node = prop_oneof![
            4 => inner.prop_map(Node::Element),
            1 => any::<String>().prop_map(Node::Text),
            1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Node::Opaque),
        ];
        (any_tag(), proptest::collection::vec(node, 0..8)).prop_map(|(t, c)| normalised(t, c))
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(i, x) => {
                if let Some(b) = bytes.get_mut(i % len) {
                    *b ^= x;
                }
            }
            Mutation::Insert(i, x) => bytes.insert(i % (bytes.len() + 1), x),
            Mutation::Remove(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % len);
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Whatever decodes must re-encode to something that decodes to the same tree.
fn check_stable(bytes: &[u8]) {
    if let Ok(tree) = decode(bytes) {
        assert_eq!(decode(&encode(&tree)), Ok(tree));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_trees_round_trip(tree in any_tree()) {
        prop_assert_eq!(decode(&encode(&tree)), Ok(tree));
    }

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200), raw in any::<bool>()) {
        let mut bytes = if raw { Vec::new() } else { vec![0x03, 0x01, 0x6A, 0x00] };
        bytes.extend_from_slice(&body);
        check_stable(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(
        tree in any_tree(),
        mutations in proptest::collection::vec(any_mutation(), 1..6),
    ) {
        check_stable(&mutate(encode(&tree), &mutations));
    }
}
