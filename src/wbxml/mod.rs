//! WBXML as Exchange ActiveSync uses it (MS-ASWBXML over WBXML 1.3): the element tree,
//! the code page tables, and the codec between the two.

mod codepages;
mod element;
mod tag;

pub use codepages::{NAMESPACES, PageInfo, tags};
pub use element::{Element, Node};
pub use tag::Tag;
