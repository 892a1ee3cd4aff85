//! Autodiscover (the guide's SmartDiscover): a phone or Outlook given only an address and a password
//! finds the ActiveSync URL, and clients that know them find the box's other protocols too.
//!
//! Served on /autodiscover/autodiscover.xml (POST with a request body, or GET, any letter case, on any
//! host name including autodiscover.<domain>) behind Basic auth, in the mobilesync or outlook response
//! schema; and on /autodiscover/autodiscover.json (v2, no credentials). Malformed requests get the
//! MS-OXDSCLI error answers (600, 601) with HTTP 200, as Exchange sends them.

pub mod json;
pub mod request;
pub mod response;
pub mod services;
pub mod xml;

pub use request::{Request, Schema};
pub use response::{ErrorCode, Response, Settings};
pub use services::{AutodiscoverConfig, autodiscover_url, mobilesync_url};

use crate::app::App;
use crate::eas::endpoint::{authenticate, unauthorized};
use crate::http::body::Incoming;
use crate::http::{self, Body, Peer, body};
use hyper::{Method, Response as HttpResponse};
use std::sync::Arc;
use std::time::Duration;

/// Requests are a few hundred bytes; anything much larger is not an autodiscover request.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;
const XML_TYPE: &str = "text/xml; charset=utf-8";

/// /autodiscover/autodiscover.xml
pub async fn handle_xml(
    app: Arc<App>,
    req: hyper::Request<Incoming>,
    peer: Peer,
) -> HttpResponse<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::POST) {
        return http::empty(405);
    }
    let user = match authenticate(&app, &req, peer).await {
        Ok(u) => u,
        Err(e) => return unauthorized(&e, peer, None),
    };
    let parsed = if req.method() == Method::POST {
        let limits = &app.config.limits;
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let timeout = Duration::from_secs(limits.body_timeout_secs.into());
        match body::read(req.into_body(), declared, MAX_REQUEST_BYTES, timeout).await {
            Ok(b) => Request::parse(&b),
            Err(e) => {
                log::info!("{}: autodiscover [{user}]: {e}", peer.addr);
                return http::empty(e.http_status());
            }
        }
    } else {
        Ok(Request {
            email: None,
            schema: Schema::MobileSync,
        })
    };
    let answer = answer(&app, &user, parsed);
    if let Response::Error { code, .. } = &answer {
        log::info!(
            "{}: autodiscover [{user}]: error {}",
            peer.addr,
            code.code()
        );
    } else {
        log::info!("{}: autodiscover [{user}]: settings sent", peer.addr);
    }
    http::with_body(200, XML_TYPE, answer.to_xml())
}

/// The answer for an authenticated user.
pub fn answer(app: &App, user: &str, parsed: Result<Request, request::RequestError>) -> Response {
    let request = match parsed {
        Ok(r) => r,
        Err(e) => {
            let code = match e {
                request::RequestError::Invalid(_) => ErrorCode::InvalidRequest,
                request::RequestError::SchemaNotAvailable(_) => ErrorCode::SchemaNotAvailable,
            };
            return Response::Error {
                schema: Schema::MobileSync,
                code,
            };
        }
    };
    let asked_other = request
        .email
        .as_deref()
        .is_some_and(|e| !e.eq_ignore_ascii_case(user));
    let account = app.config.user(user);
    match account {
        Some(account) if !asked_other => {
            let name = account.name.trim();
            Response::Settings {
                schema: request.schema,
                settings: Settings {
                    display_name: if name.is_empty() { user } else { name }.to_string(),
                    email: account.email.get_ref().clone(),
                    mobilesync_url: mobilesync_url(&app.config),
                    services: app.config.autodiscover.protocols.clone(),
                },
            }
        }
        // Answering for another address would tell one user about another's account.
        _ => Response::Error {
            schema: request.schema,
            code: ErrorCode::AddressNotFound,
        },
    }
}

/// /autodiscover/autodiscover.json and /autodiscover/autodiscover.json/v1.0/<address>
pub fn handle_json(app: &App, req: &hyper::Request<Incoming>) -> HttpResponse<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return http::empty(405);
    }
    let json_type = "application/json; charset=utf-8";
    match json::Request::parse(req.uri().path(), req.uri().query().unwrap_or("")) {
        Ok(r) => {
            let url = match r.protocol {
                json::Protocol::ActiveSync => mobilesync_url(&app.config),
                json::Protocol::AutodiscoverV1 => autodiscover_url(&app.config),
            };
            let answer = json::Answer {
                protocol: r.protocol,
                url,
            };
            http::with_body(200, json_type, answer.to_json())
        }
        Err(e) => {
            log::info!("autodiscover v2: {e}");
            http::with_body(400, json_type, e.to_json())
        }
    }
}
