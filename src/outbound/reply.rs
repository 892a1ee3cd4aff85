//! SMTP replies: the three-digit code, the enhanced status code of RFC 3463 when the server gives
//! one, and the text, read from the raw reply lines with smtp-proto's parser.
//!
//! A reply is stored in the queue's envelope files as its one-line wire form
//! ("550 5.1.1 No such user"), so writing and reading it back go through the same parser.

use serde::{Deserialize, Serialize};
use smtp_proto::response::parser::ResponseReceiver;
use std::fmt;
use std::str::FromStr;

/// The first digit of an enhanced status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Transient,
    Permanent,
}

impl StatusClass {
    fn digit(self) -> u8 {
        match self {
            StatusClass::Success => 2,
            StatusClass::Transient => 4,
            StatusClass::Permanent => 5,
        }
    }

    fn from_digit(d: u8) -> Option<StatusClass> {
        match d {
            2 => Some(StatusClass::Success),
            4 => Some(StatusClass::Transient),
            5 => Some(StatusClass::Permanent),
            _ => None,
        }
    }
}

/// An RFC 3463 status code such as 5.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnhancedCode {
    class: StatusClass,
    subject: u16,
    detail: u16,
}

impl EnhancedCode {
    pub const fn new(class: StatusClass, subject: u16, detail: u16) -> EnhancedCode {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    pub fn class(self) -> StatusClass {
        self.class
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class.digit(), self.subject, self.detail)
    }
}

impl FromStr for EnhancedCode {
    type Err = String;

    fn from_str(s: &str) -> Result<EnhancedCode, String> {
        let bad = || format!("{s:?} is not an enhanced status code");
        let mut parts = s.split('.');
        let mut next = |max: usize| {
            parts
                .next()
                .filter(|p| {
                    !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
                })
                .and_then(|p| p.parse::<u16>().ok())
        };
        let (class, subject, detail) = (next(1), next(3), next(3));
        match (class, subject, detail, parts.next()) {
            (Some(c), Some(s), Some(d), None) => u8::try_from(c)
                .ok()
                .and_then(StatusClass::from_digit)
                .map(|class| EnhancedCode::new(class, s, d))
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for EnhancedCode {
    type Error = String;
    fn try_from(s: String) -> Result<EnhancedCode, String> {
        s.parse()
    }
}

impl From<EnhancedCode> for String {
    fn from(c: EnhancedCode) -> String {
        c.to_string()
    }
}

/// One complete reply from the server, with a code between 200 and 599.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Reply {
    code: u16,
    enhanced: Option<EnhancedCode>,
    /// The lines of the text joined by spaces, control characters replaced.
    text: String,
}

impl Reply {
    /// Parses the bytes of one complete reply, all its lines with their line ends.
    pub(crate) fn parse(raw: &[u8]) -> Result<Reply, String> {
        let mut bytes = raw.iter();
        let response = ResponseReceiver::default()
            .parse(&mut bytes)
            .map_err(|e| format!("malformed reply: {e:?}"))?;
        if !(200..=599).contains(&response.code) {
            return Err(format!("reply code {} out of range", response.code));
        }
        let [class, subject, detail] = response.esc;
        let enhanced = StatusClass::from_digit(class)
            .map(|class| EnhancedCode::new(class, subject.into(), detail.into()));
        let text: String = response
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Ok(Reply {
            code: response.code,
            enhanced,
            text: text.trim().to_string(),
        })
    }

    pub fn code(&self) -> u16 {
        self.code
    }

    pub fn enhanced(&self) -> Option<EnhancedCode> {
        self.enhanced
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        self.code / 100 == 4
    }

    /// 5xx: do not try again as it is.
    pub fn is_permanent(&self) -> bool {
        self.code / 100 == 5
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(e) = self.enhanced {
            write!(f, " {e}")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

impl TryFrom<String> for Reply {
    type Error = String;
    fn try_from(s: String) -> Result<Reply, String> {
        Reply::parse(format!("{s}\r\n").as_bytes())
    }
}

impl From<Reply> for String {
    fn from(r: Reply) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_enhanced_code() {
        let r = Reply::parse(b"550 5.1.1 <x@y>: no such user\r\n").unwrap();
        assert_eq!(r.code(), 550);
        assert_eq!(
            r.enhanced(),
            Some(EnhancedCode::new(StatusClass::Permanent, 1, 1))
        );
        assert_eq!(r.text(), "<x@y>: no such user");
        assert!(r.is_permanent() && !r.is_transient());
        assert_eq!(r.to_string(), "550 5.1.1 <x@y>: no such user");
    }

    #[test]
    fn multi_line_and_bare() {
        let r = Reply::parse(b"451-4.3.0 first\r\n451 4.3.0 second\r\n").unwrap();
        assert_eq!((r.code(), r.text()), (451, "first second"));
        let r = Reply::parse(b"250\r\n").unwrap();
        assert_eq!((r.code(), r.enhanced(), r.text()), (250, None, ""));
        let r = Reply::parse(b"354 End data with <CR><LF>.<CR><LF>\r\n").unwrap();
        assert_eq!(r.enhanced(), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Reply::parse(b"hello\r\n").is_err());
        assert!(Reply::parse(b"999 what\r\n").is_err());
        assert!(Reply::parse(b"").is_err());
    }

    #[test]
    fn round_trips_through_its_text_form() {
        let r = Reply::parse(b"421-4.7.0 slow\r\n421 4.7.0 down\r\n").unwrap();
        let s: String = r.clone().into();
        assert_eq!(Reply::try_from(s).unwrap(), r);
    }

    #[test]
    fn enhanced_code_text() {
        let c: EnhancedCode = "4.4.7".parse().unwrap();
        assert_eq!(c.to_string(), "4.4.7");
        for bad in [
            "", "5", "5.1", "3.1.1", "5.1.1.1", "5.x.1", "5.1000.1", "55.1.1",
        ] {
            assert!(bad.parse::<EnhancedCode>().is_err(), "{bad}");
        }
    }
}
