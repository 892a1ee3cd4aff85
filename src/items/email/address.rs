//! RFC 5322 mailboxes as the Email class writes them: `"Name" <addr>` lists for To/Cc/From/ReplyTo
//! and the semicolon-separated display names of DisplayTo.

use mail_parser::{Addr, Address};

/// One mailbox with a usable address; group syntax is flattened into its members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Mailbox {
    fn from_addr(addr: &Addr<'_>) -> Option<Self> {
        let address = clean(addr.address.as_deref()?);
        if address.is_empty() {
            return None;
        }
        let name = addr
            .name
            .as_deref()
            .map(clean)
            .map(|n| unquote(&n).to_string())
            .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&address));
        Some(Self { name, address })
    }

    /// `"Name" <addr>`, or the bare address when there is no display name.
    pub fn formatted(&self) -> String {
        match &self.name {
            Some(name) => {
                let mut out = String::with_capacity(name.len() + self.address.len() + 6);
                out.push('"');
                for c in name.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push_str("\" <");
                out.push_str(&self.address);
                out.push('>');
                out
            }
            None => self.address.clone(),
        }
    }

    /// What a list of recipients shows: the display name, else the address.
    pub fn display(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.address)
    }
}

/// The mailboxes of a parsed address header, in header order.
pub fn mailboxes(address: Option<&Address<'_>>) -> Vec<Mailbox> {
    match address {
        Some(Address::List(list)) => list.iter().filter_map(Mailbox::from_addr).collect(),
        Some(Address::Group(groups)) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .filter_map(Mailbox::from_addr)
            .collect(),
        None => Vec::new(),
    }
}

/// Formatted mailboxes joined by `separator`; `None` for an empty list so the element is left out.
pub fn join(list: &[Mailbox], separator: &str) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    Some(
        list.iter()
            .map(Mailbox::formatted)
            .collect::<Vec<_>>()
            .join(separator),
    )
}

/// DisplayTo: display names separated by semicolons (MS-ASEMAIL 2.2.2.29).
pub fn display_names(list: &[Mailbox]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    Some(
        list.iter()
            .map(|m| m.display().replace(';', ","))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// Some mailers put quotes around a name that mail-parser then keeps: 'John' or "John".
fn unquote(name: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = name.strip_prefix(q).and_then(|n| n.strip_suffix(q)) {
            return inner.trim();
        }
    }
    name
}

/// Header text can carry folding and control characters; EAS strings should not.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn to_of(header: &str) -> Vec<Mailbox> {
        let raw = format!("To: {header}\r\nSubject: x\r\n\r\nbody\r\n");
        let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
        mailboxes(msg.to())
    }

    #[test]
    fn formats_names_and_bare_addresses() {
        let list = to_of("\"Doe, John\" <john@example.com>, jane@example.com");
        assert_eq!(
            join(&list, ", ").unwrap(),
            "\"Doe, John\" <john@example.com>, jane@example.com"
        );
        assert_eq!(display_names(&list).unwrap(), "Doe, John; jane@example.com");
    }

    #[test]
    fn escapes_quotes_and_flattens_groups() {
        let list = to_of("Team: \"A \\\"B\\\"\" <a@x.org>, c@x.org;");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].formatted(), "\"A \\\"B\\\"\" <a@x.org>");
    }

    #[test]
    fn decodes_encoded_words_and_drops_empty() {
        let list = to_of("=?ISO-8859-1?Q?Andr=E9?= <andre@example.com>, undisclosed-recipients:;");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].name.as_deref(), Some("André"));
        assert!(join(&[], ", ").is_none());
    }

    #[test]
    fn name_equal_to_address_is_dropped() {
        let list = to_of("\"bob@example.com\" <bob@example.com>");
        assert_eq!(list[0].formatted(), "bob@example.com");
    }
}
