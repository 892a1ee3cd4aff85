//! Writing a response head: status line, the handler's fields, and the framing fields the connection
//! owns (Content-Length, Date, Connection).

use super::Body;
use hyper::header::{self, HeaderMap};
use hyper::{Response, StatusCode};

/// How the connection frames this response.
pub struct Framing {
    /// The request was HEAD: the body's length is announced but the body is not sent.
    pub head_only: bool,
    /// The connection closes after this response.
    pub close: bool,
    /// An HTTP/1.0 client asked for keep-alive and gets it: it must be told so.
    pub keep_alive_10: bool,
}

/// Whether the handler asked for the connection to close after its response.
pub fn wants_close(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("close"))
}

/// Whether a response with this status carries a body at all (RFC 9110 sections 6.4.1, 15.3.5,
/// 15.4.5).
pub fn has_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// The head bytes of `resp`.
pub fn encode_head(resp: &Response<Body>, framing: &Framing, date: &str) -> Vec<u8> {
    let status = resp.status();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in resp.headers() {
        if matches!(
            *name,
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION | header::DATE
        ) {
            continue;
        }
        field(&mut out, name.as_str(), value.as_bytes());
    }
    if has_body(status) {
        field(
            &mut out,
            "content-length",
            resp.body().len().to_string().as_bytes(),
        );
    }
    field(&mut out, "date", date.as_bytes());
    if framing.close {
        field(&mut out, "connection", b"close");
    } else if framing.keep_alive_10 {
        field(&mut out, "connection", b"keep-alive");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The current time as an HTTP date ("Mon, 07 Dec 2026 14:00:00 GMT").
pub fn date_now() -> String {
    jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::now())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(resp: &Response<Body>, framing: Framing) -> String {
        String::from_utf8(encode_head(resp, &framing, "Mon, 07 Dec 2026 14:00:00 GMT")).unwrap()
    }

    #[test]
    fn framing_fields_are_the_connections() {
        let mut r = super::super::with_body(200, "text/plain", "hello");
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, "999".parse().unwrap());
        r.headers_mut()
            .insert(header::CONNECTION, "close".parse().unwrap());
        assert!(wants_close(r.headers()));
        let t = text(
            &r,
            Framing {
                head_only: false,
                close: true,
                keep_alive_10: false,
            },
        );
        assert_eq!(
            t,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\
             date: Mon, 07 Dec 2026 14:00:00 GMT\r\nconnection: close\r\n\r\n"
        );
        let t = text(
            &super::super::empty(204),
            Framing {
                head_only: false,
                close: false,
                keep_alive_10: true,
            },
        );
        assert_eq!(
            t,
            "HTTP/1.1 204 No Content\r\ndate: Mon, 07 Dec 2026 14:00:00 GMT\r\nconnection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn dates_are_imf_fixdate() {
        let d = date_now();
        assert!(d.ends_with(" GMT") && d.len() == 29, "{d}");
    }
}
