//! Parsing a request head (request line and header fields) with httparse into the `http` crate's
//! request parts, and deciding how the body is framed and whether the connection stays open.

use super::chunked::Chunked;
use super::socket::Remaining;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Uri, Version};
use std::fmt;

/// Largest request head accepted (431 beyond). EAS heads are under 1 KiB; browsers' cookies for the
/// web pages are small too.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields accepted (431 beyond), as many as hyper allowed.
pub const MAX_HEADERS: usize = 100;

#[derive(Debug)]
pub enum HeadError {
    Syntax(httparse::Error),
    TooLarge,
    TooManyHeaders,
    Version,
    BadTarget,
    BadField,
    BadLength,
    /// Transfer-Encoding on an HTTP/1.0 request, or both Transfer-Encoding and Content-Length.
    AmbiguousFraming,
    /// A transfer coding other than chunked.
    UnsupportedCoding,
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Syntax(e) => write!(f, "malformed request head: {e}"),
            HeadError::TooLarge => write!(f, "request head larger than {MAX_HEAD} bytes"),
            HeadError::TooManyHeaders => write!(f, "more than {MAX_HEADERS} header fields"),
            HeadError::Version => f.write_str("unsupported HTTP version"),
            HeadError::BadTarget => f.write_str("malformed request target"),
            HeadError::BadField => f.write_str("malformed header field"),
            HeadError::BadLength => f.write_str("malformed Content-Length"),
            HeadError::AmbiguousFraming => f.write_str("ambiguous body framing"),
            HeadError::UnsupportedCoding => f.write_str("unsupported transfer coding"),
        }
    }
}

impl std::error::Error for HeadError {}

impl HeadError {
    pub fn http_status(&self) -> u16 {
        match self {
            HeadError::TooLarge | HeadError::TooManyHeaders => 431,
            HeadError::Version => 505,
            HeadError::UnsupportedCoding => 501,
            _ => 400,
        }
    }
}

/// A parsed head.
#[derive(Debug)]
pub struct Head {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Remaining,
    /// Whether the client lets the connection carry another request after this one.
    pub keep_alive: bool,
    pub expects_continue: bool,
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is incomplete, else the head and its
/// length in bytes.
pub fn parse(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) => return Err(HeadError::Version),
        Err(e) => return Err(HeadError::Syntax(e)),
    };
    if len > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let method = Method::from_bytes(req.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Syntax(httparse::Error::Token))?;
    let uri: Uri = req
        .path
        .unwrap_or("")
        .parse()
        .map_err(|_| HeadError::BadTarget)?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(HeadError::Version),
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HeadError::BadField)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HeadError::BadField)?;
        headers.append(name, value);
    }
    let body = framing(&headers, version)?;
    let keep_alive = match version {
        Version::HTTP_11 => !has_token(&headers, &header::CONNECTION, "close"),
        _ => has_token(&headers, &header::CONNECTION, "keep-alive"),
    };
    let expects_continue = version == Version::HTTP_11
        && headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    Ok(Some((
        Head {
            method,
            uri,
            version,
            headers,
            body,
            keep_alive,
            expects_continue,
        },
        len,
    )))
}

/// How the body is delimited (RFC 9112 section 6.3); anything ambiguous is refused, since a
/// proxy in front of easd might read it the other way.
fn framing(headers: &HeaderMap, version: Version) -> Result<Remaining, HeadError> {
    let codings: Vec<String> = headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    let mut length = None;
    for v in headers.get_all(header::CONTENT_LENGTH) {
        for part in v.to_str().map_err(|_| HeadError::BadLength)?.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HeadError::BadLength);
            }
            let n: u64 = part.parse().map_err(|_| HeadError::BadLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::BadLength);
            }
            length = Some(n);
        }
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if version != Version::HTTP_11 || length.is_some() {
            return Err(HeadError::AmbiguousFraming);
        }
        return match codings.last().map(String::as_str) {
            Some("chunked") if codings.len() == 1 => Ok(Remaining::Chunked(Chunked::default())),
            Some("chunked") => Err(HeadError::UnsupportedCoding),
            _ => Err(HeadError::AmbiguousFraming),
        };
    }
    Ok(match length {
        None | Some(0) => Remaining::Done,
        Some(n) => Remaining::Length(n),
    })
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Result<Option<(Head, usize)>, HeadError> {
        parse(raw.as_bytes())
    }

    #[test]
    fn parses_an_eas_post() {
        let raw = "POST /Microsoft-Server-ActiveSync?Cmd=Ping&User=a HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nMS-ASProtocolVersion: 14.1\r\n\r\nBODY";
        let (h, n) = head(raw).unwrap().unwrap();
        assert_eq!(&raw[n..], "BODY");
        assert_eq!(h.method, Method::POST);
        assert_eq!(h.uri.path(), "/Microsoft-Server-ActiveSync");
        assert_eq!(h.uri.query(), Some("Cmd=Ping&User=a"));
        assert_eq!(h.headers["ms-asprotocolversion"], "14.1");
        assert!(matches!(h.body, Remaining::Length(12)));
        assert!(h.keep_alive);
        assert!(!h.expects_continue);
    }

    #[test]
    fn incomplete_heads_wait_for_more() {
        assert!(head("GET / HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        assert!(head("GE").unwrap().is_none());
    }

    #[test]
    fn connection_persistence_follows_the_version() {
        let ka = |raw: &str| head(raw).unwrap().unwrap().0.keep_alive;
        assert!(!ka("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n"));
        assert!(!ka("GET / HTTP/1.0\r\n\r\n"));
        assert!(ka("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(ka("GET / HTTP/1.1\r\n\r\n"));
    }

    #[test]
    fn body_framing() {
        let body = |raw: &str| head(raw).map(|h| h.unwrap().0.body);
        assert!(matches!(
            body("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Ok(Remaining::Chunked(_))
        ));
        assert!(matches!(
            body("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
            Ok(Remaining::Done)
        ));
        assert!(matches!(
            body("POST / HTTP/1.1\r\nContent-Length: 7, 7\r\n\r\n"),
            Ok(Remaining::Length(7))
        ));
        assert!(matches!(
            body("POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n"),
            Err(HeadError::BadLength)
        ));
        assert!(matches!(
            body("POST / HTTP/1.1\r\nContent-Length: +7\r\n\r\n"),
            Err(HeadError::BadLength)
        ));
        assert!(matches!(
            body("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HeadError::AmbiguousFraming)
        ));
        assert!(matches!(
            body("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(HeadError::AmbiguousFraming)
        ));
        let gzip = head("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap_err();
        assert_eq!(gzip.http_status(), 501);
        assert!(
            head("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n")
                .unwrap()
                .unwrap()
                .0
                .expects_continue
        );
    }

    #[test]
    fn limits_and_garbage() {
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        let e = head(&format!("GET / HTTP/1.1\r\n{many}\r\n")).unwrap_err();
        assert_eq!(e.http_status(), 431);
        let big = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(head(&big).unwrap_err().http_status(), 431);
        assert_eq!(
            head("GET / HTTP/2.0\r\n\r\n").unwrap_err().http_status(),
            505
        );
        assert_eq!(
            head("\x16\x03\x01\x02\x00\r\n\r\n")
                .unwrap_err()
                .http_status(),
            400
        );
        assert_eq!(
            head("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n")
                .unwrap_err()
                .http_status(),
            400
        );
    }
}
