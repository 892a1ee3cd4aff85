//! Autodiscover v2, the JSON form Outlook mobile asks first:
//! `GET /autodiscover/autodiscover.json?Email=a@b&Protocol=ActiveSync` (or
//! `/autodiscover/autodiscover.json/v1.0/a@b?Protocol=ActiveSync`) answers
//! `{"Protocol":"ActiveSync","Url":"https://host/Microsoft-Server-ActiveSync"}`. Like Exchange it needs
//! no credentials, and it answers the same for every well-formed address so it cannot be used to learn
//! which accounts exist.

use crate::config::valid_email;
use crate::eas::query::percent_decode;
use std::fmt;

/// The protocols a v2 client may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    ActiveSync,
    /// Where the XML autodiscover service is.
    AutodiscoverV1,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::ActiveSync => "ActiveSync",
            Protocol::AutodiscoverV1 => "AutodiscoverV1",
        }
    }

    fn from_name(s: &str) -> Option<Protocol> {
        [Protocol::ActiveSync, Protocol::AutodiscoverV1]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub email: String,
    pub protocol: Protocol,
}

/// Refusals, answered with HTTP 400 and Exchange's error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    InvalidUser(String),
    InvalidProtocol(String),
}

impl RequestError {
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidUser(_) => "InvalidUser",
            RequestError::InvalidProtocol(_) => "InvalidProtocol",
        }
    }

    pub fn to_json(&self) -> String {
        format!(
            "{{\"ErrorCode\":{},\"ErrorMessage\":{}}}",
            json_string(self.code()),
            json_string(&self.to_string())
        )
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidUser(e) => write!(f, "The given user '{e}' is invalid."),
            RequestError::InvalidProtocol(p) => write!(
                f,
                "The given protocol value '{p}' is invalid. Supported values are 'ActiveSync,AutodiscoverV1'"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

impl Request {
    /// Reads the path (either form) and the query string.
    pub fn parse(path: &str, query: &str) -> Result<Request, RequestError> {
        let mut email = None;
        let mut protocol = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = percent_decode(v).unwrap_or_default();
            if k.eq_ignore_ascii_case("Email") {
                email = Some(v);
            } else if k.eq_ignore_ascii_case("Protocol") {
                protocol = Some(v);
            }
        }
        let in_path = path
            .trim_end_matches('/')
            .rsplit_once('/')
            .filter(|(dir, _)| dir.to_ascii_lowercase().ends_with("/v1.0"))
            .and_then(|(_, e)| percent_decode(e));
        let email = in_path.or(email).unwrap_or_default();
        if !valid_email(&email) {
            return Err(RequestError::InvalidUser(email));
        }
        let protocol = protocol.unwrap_or_default();
        let protocol =
            Protocol::from_name(&protocol).ok_or(RequestError::InvalidProtocol(protocol))?;
        Ok(Request { email, protocol })
    }

    /// The path and query a client sends for this request.
    pub fn to_uri(&self) -> String {
        format!(
            "/autodiscover/autodiscover.json?Email={}&Protocol={}",
            crate::eas::query::percent_encode(&self.email),
            self.protocol.name()
        )
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub protocol: Protocol,
    pub url: String,
}

impl Answer {
    pub fn to_json(&self) -> String {
        format!(
            "{{\"Protocol\":{},\"Url\":{}}}",
            json_string(self.protocol.name()),
            json_string(&self.url)
        )
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Keeps a hostile value from closing a <script> when the JSON is shown in a page.
            '<' | '>' | '&' | '\'' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/autodiscover/autodiscover.json";

    #[test]
    fn both_forms() {
        let r = Request::parse(
            PATH,
            "Email=alice%40example.com&Protocol=ActiveSync&RedirectCount=1",
        )
        .unwrap();
        assert_eq!(r.email, "alice@example.com");
        assert_eq!(r.protocol, Protocol::ActiveSync);
        let r = Request::parse(
            "/AutoDiscover/AutoDiscover.json/v1.0/bob@example.com",
            "protocol=autodiscoverv1",
        )
        .unwrap();
        assert_eq!(
            (r.email.as_str(), r.protocol),
            ("bob@example.com", Protocol::AutodiscoverV1)
        );
        let r = Request {
            email: "a+b@example.com".into(),
            protocol: Protocol::ActiveSync,
        };
        let uri = r.to_uri();
        let (path, query) = uri.split_once('?').unwrap();
        assert_eq!(Request::parse(path, query), Ok(r));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            Request::parse(PATH, "Protocol=ActiveSync"),
            Err(RequestError::InvalidUser(String::new()))
        );
        let e = Request::parse(PATH, "Email=a@b.c&Protocol=Ews<x>").unwrap_err();
        assert_eq!(e, RequestError::InvalidProtocol("Ews<x>".into()));
        let json = e.to_json();
        assert!(json.starts_with("{\"ErrorCode\":\"InvalidProtocol\",\"ErrorMessage\":\"The given protocol value \\u0027Ews\\u003cx\\u003e\\u0027 is invalid."), "{json}");
    }

    #[test]
    fn answer_json() {
        let a = Answer {
            protocol: Protocol::ActiveSync,
            url: "https://h/Microsoft-Server-ActiveSync".into(),
        };
        assert_eq!(
            a.to_json(),
            "{\"Protocol\":\"ActiveSync\",\"Url\":\"https://h/Microsoft-Server-ActiveSync\"}"
        );
    }
}
