//! The notification datagram, one line of UTF-8 text (at most 512 bytes):
//!
//! ```text
//! [<secret> ]<email> [<folder>|*]
//! ```
//!
//! `<secret>` is present exactly when `push.udp_secret` is set. `<folder>` names what changed: `INBOX`, a mail
//! folder by its IMAP name (`Sent`, `Archive/2024`, or the Maildir++ form `.Archive.2024`), a PIM collection
//! as `dav:<collection>` (e.g. `dav:calendar`), or `*` / nothing for "anything of this user". Folder names with
//! spaces are written `Old+Mail` (`Old%20Mail` is read too).

use std::fmt;

pub const MAX_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everything,
    Folder(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub email: String,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatagramError {
    TooLong,
    NotText,
    Empty,
    BadSecret,
    TooManyFields,
    BadEmail,
    BadFolder,
}

impl fmt::Display for DatagramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatagramError::TooLong => "datagram longer than 512 bytes",
            DatagramError::NotText => "datagram is not UTF-8 text",
            DatagramError::Empty => "empty datagram",
            DatagramError::BadSecret => "missing or wrong shared secret",
            DatagramError::TooManyFields => "too many fields",
            DatagramError::BadEmail => "not an email address",
            DatagramError::BadFolder => "bad folder name",
        })
    }
}

impl std::error::Error for DatagramError {}

impl Notification {
    pub fn parse(data: &[u8], secret: Option<&str>) -> Result<Notification, DatagramError> {
        // The limit is on the line itself: `format` ends a full-length line with a newline.
        let data = data.strip_suffix(b"\n").unwrap_or(data);
        let data = data.strip_suffix(b"\r").unwrap_or(data);
        if data.len() > MAX_LEN {
            return Err(DatagramError::TooLong);
        }
        let text = std::str::from_utf8(data).map_err(|_| DatagramError::NotText)?;
        let mut fields = text.split_ascii_whitespace();
        if let Some(secret) = secret {
            let given = fields.next().ok_or(DatagramError::Empty)?;
            // Length and content compared without an early exit.
            let same = given.len() == secret.len()
                && given
                    .bytes()
                    .zip(secret.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
            if !same {
                return Err(DatagramError::BadSecret);
            }
        }
        let email = fields.next().ok_or(DatagramError::Empty)?;
        if !crate::config::valid_email(email) {
            return Err(DatagramError::BadEmail);
        }
        let scope = match fields.next() {
            None | Some("*") => Scope::Everything,
            Some(f) => Scope::Folder(
                crate::eas::query::percent_decode(f)
                    .filter(|f| !f.is_empty() && !f.chars().any(char::is_control))
                    .ok_or(DatagramError::BadFolder)?,
            ),
        };
        if fields.next().is_some() {
            return Err(DatagramError::TooManyFields);
        }
        Ok(Notification {
            email: email.to_string(),
            scope,
        })
    }

    pub fn format(&self, secret: Option<&str>) -> String {
        let folder = match &self.scope {
            Scope::Everything => "*".to_string(),
            // A folder named "*" must not read back as "everything".
            Scope::Folder(f) if f == "*" => "%2A".to_string(),
            Scope::Folder(f) => f
                .chars()
                // Never longer than the text it was parsed from: a space came from "+" or
                // "%20" and the other escaped characters from their own "%XX"; anything
                // else, non-ASCII whitespace included, was accepted raw.
                .map(|c| match c {
                    ' ' => "+".to_string(),
                    '%' | '+' => format!("%{:02X}", c as u32),
                    c if c.is_ascii_whitespace() => format!("%{:02X}", c as u32),
                    c => c.to_string(),
                })
                .collect(),
        };
        match secret {
            Some(s) => format!("{s} {} {folder}\n", self.email),
            None => format!("{} {folder}\n", self.email),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let n = Notification::parse(b"alice@example.com INBOX\n", None).unwrap();
        assert_eq!(n.scope, Scope::Folder("INBOX".into()));
        let n = Notification::parse(b"alice@example.com", None).unwrap();
        assert_eq!(n.scope, Scope::Everything);
        let n = Notification::parse(b"alice@example.com *", None).unwrap();
        assert_eq!(n.scope, Scope::Everything);
        let n = Notification::parse(b"s3 alice@example.com Old%20Mail", Some("s3")).unwrap();
        assert_eq!(n.scope, Scope::Folder("Old Mail".into()));
        assert_eq!(
            Notification::parse(n.format(Some("s3")).as_bytes(), Some("s3")).unwrap(),
            n
        );
    }

    #[test]
    fn format_and_parse_agree() {
        // Found by fuzz/push_datagram: "%+D" decoded to a carriage return, which format wrote
        // raw, so the formatted line had an extra field.
        let found = b"zooooooj@( +++++27+++++o*oo%+D1@(&++";
        assert_eq!(
            Notification::parse(found, None),
            Err(DatagramError::BadFolder)
        );
        for folder in ["Old Mail", "a+b%c", "*", "tab\u{a0}nbsp", "Ünïcode/Sub"] {
            let n = Notification {
                email: "alice@example.com".into(),
                scope: Scope::Folder(folder.into()),
            };
            for secret in [None, Some("s3cret")] {
                assert_eq!(
                    Notification::parse(n.format(secret).as_bytes(), secret),
                    Ok(n.clone())
                );
            }
        }
        assert_eq!(
            Notification::parse(b"alice@example.com Old%0DMail", None),
            Err(DatagramError::BadFolder)
        );
    }

    #[test]
    fn a_full_length_datagram_formats_to_one_that_parses() {
        // Found by fuzz/push_datagram: a 512-byte datagram parsed, and its formatted form, one
        // newline longer, was refused as too long. Spaces written as "%20" made it worse.
        let mut full = b"%@%\n".to_vec();
        full.extend(std::iter::repeat_n(b'+', MAX_LEN - full.len()));
        let n = Notification::parse(&full, None).unwrap();
        assert_eq!(Notification::parse(n.format(None).as_bytes(), None), Ok(n));
        let mut wide = b"a@b ".to_vec();
        wide.extend("\u{3000}x".repeat(127).bytes());
        let n = Notification::parse(&wide, None).unwrap();
        assert_eq!(n.format(None).len(), wide.len() + 1);
        assert_eq!(Notification::parse(n.format(None).as_bytes(), None), Ok(n));
        let mut over = full.clone();
        over.push(b'+');
        assert_eq!(
            Notification::parse(&over, None),
            Err(DatagramError::TooLong)
        );
    }

    #[test]
    fn refuses_junk() {
        let p = |d: &[u8], s| Notification::parse(d, s);
        assert_eq!(p(b"", None), Err(DatagramError::Empty));
        assert_eq!(p(b"\xff\xfe", None), Err(DatagramError::NotText));
        assert_eq!(p(&[b'a'; 600], None), Err(DatagramError::TooLong));
        assert_eq!(p(b"notanemail INBOX", None), Err(DatagramError::BadEmail));
        assert_eq!(p(b"a@b c d", None), Err(DatagramError::TooManyFields));
        assert_eq!(
            p(b"wrong a@b INBOX", Some("right")),
            Err(DatagramError::BadSecret)
        );
        assert_eq!(
            p(b"a@b INBOX", Some("right")),
            Err(DatagramError::BadSecret)
        );
        assert_eq!(p(b"a@b %zz", None), Err(DatagramError::BadFolder));
    }
}
