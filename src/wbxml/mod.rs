//! WBXML as Exchange ActiveSync uses it (MS-ASWBXML over WBXML 1.3): the element tree,
//! the code page tables, and the codec between the two.

mod codepages;
mod decode;
mod element;
mod encode;
#[cfg(test)]
mod fixtures;
mod tag;
mod xml;

pub use codepages::{NAMESPACES, PageInfo, tags};
pub use decode::{DecodeError, Limits, decode, decode_with};
pub use element::{Element, Node};
pub use encode::encode;
pub use tag::Tag;
pub use xml::{XmlError, from_xml, to_xml};
