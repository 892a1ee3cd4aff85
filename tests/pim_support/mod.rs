//! Helpers shared by the PIM conversion tests: test data, the shared corpus,
//! and an order-insensitive view of an ApplicationData tree.

#![allow(dead_code)]

use easd::wbxml::{Element, Node};
use std::path::PathBuf;

pub fn data(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/pim")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shared corpus: `EASD_CORPUS`, else `../shared/corpus`. Missing is a failure.
pub fn corpus(sub: &str) -> PathBuf {
    let base = std::env::var_os("EASD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let dir = base.join(sub);
    assert!(
        dir.is_dir(),
        "test corpus missing at {} (set EASD_CORPUS)",
        dir.display()
    );
    dir
}

/// Every leaf as "Namespace:Name/…=text", sorted, so two trees with the same
/// fields compare equal whatever their element order.
pub fn flatten(e: &Element) -> Vec<String> {
    let mut out = Vec::new();
    walk(e, String::new(), &mut out);
    out.sort();
    out
}

fn walk(e: &Element, prefix: String, out: &mut Vec<String>) {
    let path = format!("{prefix}/{}:{}", e.tag.namespace(), e.tag.name());
    let mut leaf = true;
    for child in &e.children {
        match child {
            Node::Element(c) => {
                leaf = false;
                walk(c, path.clone(), out);
            }
            Node::Text(t) => out.push(format!("{path}={t}")),
            Node::Opaque(b) => out.push(format!("{path}=[{} bytes]", b.len())),
        }
    }
    if leaf && e.children.is_empty() {
        out.push(path);
    }
}

/// The lines of `b` that are not in `a`.
pub fn new_lines(a: &str, b: &str) -> Vec<String> {
    let old: Vec<&str> = a.lines().collect();
    b.lines()
        .filter(|l| !old.contains(l))
        .map(str::to_string)
        .collect()
}
