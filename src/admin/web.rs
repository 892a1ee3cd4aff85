//! One web request as the pages see it (method, decoded path segments, query, form body, cookies,
//! peer) and the responses they give: HTML with the security headers, redirects, cookies.

use super::form::{self, Form};
use crate::http::body::Incoming;
use crate::http::{self, Body, Peer, body};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response};
use std::time::Duration;

/// Largest form body accepted: the policy dialog is the biggest form, a few KiB.
const MAX_FORM_BYTES: u64 = 64 * 1024;

pub struct WebRequest {
    pub method: Method,
    /// The path after `/admin` or `/account`, split on '/', percent-decoded, empty parts dropped.
    pub segments: Vec<String>,
    pub query: Form,
    /// The urlencoded body of a POST.
    pub form: Form,
    cookies: String,
    pub peer: Peer,
}

impl WebRequest {
    /// Reads the request; a body that is too big or too slow is answered here.
    pub async fn read(
        req: hyper::Request<Incoming>,
        peer: Peer,
        base: &str,
        body_timeout: Duration,
    ) -> Result<WebRequest, Response<Body>> {
        let (parts, incoming) = req.into_parts();
        let path = parts.uri.path();
        let rest = path.get(base.len()..).unwrap_or("");
        let segments = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(form::decode)
            .collect();
        let query = Form::parse(parts.uri.query().unwrap_or(""));
        let cookies = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join("; ");
        let form = if parts.method == Method::POST {
            let declared = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            match body::read(incoming, declared, MAX_FORM_BYTES, body_timeout).await {
                Ok(bytes) => Form::parse(&String::from_utf8_lossy(&bytes)),
                Err(e) => {
                    log::info!("{}: {base}: {e}", peer.addr);
                    return Err(http::empty(e.http_status()));
                }
            }
        } else {
            Form::default()
        };
        Ok(WebRequest {
            method: parts.method,
            segments,
            query,
            form,
            cookies,
            peer,
        })
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        form::cookie(&self.cookies, name)
    }

    pub fn is_post(&self) -> bool {
        self.method == Method::POST
    }

    pub fn segs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }
}

pub fn html(status: u16, body: String) -> Response<Body> {
    http::with_body(status, "text/html; charset=utf-8", body)
}

/// 303 See Other: the answer to every successful POST, so a reload does not repeat it.
pub fn redirect(location: &str) -> Response<Body> {
    let mut r = http::empty(303);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Adds a Set-Cookie: HttpOnly and SameSite=Strict always, Secure on TLS; `max_age` 0 deletes.
pub fn set_cookie(
    r: &mut Response<Body>,
    name: &str,
    value: &str,
    path: &str,
    secure: bool,
    max_age: Option<u64>,
) {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Headers every console response carries: no caching of pages with device data, no framing,
/// nothing loaded from elsewhere (the box may be offline, and injected markup must stay inert).
pub fn secure_headers(r: &mut Response<Body>) {
    let h = r.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
}
