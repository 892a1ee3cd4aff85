//! /Microsoft-Server-ActiveSync over HTTP (MS-ASHTTP): OPTIONS, the POST pipeline (query, auth,
//! protocol version, body, WBXML) and the mapping of outcomes to HTTP responses.

use super::{Command, EasQuery, Reply, Request, dispatch};
use crate::ProtocolVersion;
use crate::app::App;
use crate::auth::{AuthError, Credentials, resolve_user};
use crate::device;
use crate::http::body::Incoming;
use crate::http::{self, Body, Peer, body};
use crate::wbxml;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const WBXML_TYPE: &str = "application/vnd.ms-sync.wbxml";

/// What OPTIONS advertises; also sent on every POST answer.
pub const SERVER_VERSION: &str = "16.1";

pub async fn handle(app: Arc<App>, req: hyper::Request<Incoming>, peer: Peer) -> Response<Body> {
    match *req.method() {
        Method::OPTIONS => options(&app, &req, peer).await,
        Method::POST => post(app, req, peer).await,
        // A browser check (the guide's troubleshooting) expects a login prompt here.
        Method::GET | Method::HEAD => match authenticate(&app, &req, peer).await {
            Ok(_) => http::with_body(
                200,
                "text/plain; charset=utf-8",
                "easd: the ActiveSync endpoint works. Add an Exchange account on the phone.\n",
            ),
            Err(e) => unauthorized(&e, peer, None),
        },
        _ => http::empty(405),
    }
}

fn protocol_headers(r: &mut Response<Body>) {
    let h = r.headers_mut();
    h.insert(
        "MS-Server-ActiveSync",
        HeaderValue::from_static(SERVER_VERSION),
    );
}

async fn options(app: &Arc<App>, req: &hyper::Request<Incoming>, peer: Peer) -> Response<Body> {
    // Credentials are optional for discovery, but wrong ones are refused: Android validates an
    // account with OPTIONS and must learn that the password is wrong.
    let mut highest = None;
    if req.headers().contains_key(header::AUTHORIZATION) {
        match authenticate(app, req, peer).await {
            Ok(user) => highest = highest_version(app, user).await,
            Err(e) => return unauthorized(&e, peer, None),
        }
    }
    let mut r = http::empty(200);
    let versions: Vec<&str> = ProtocolVersion::ALL
        .iter()
        .filter(|v| highest.is_none_or(|h| **v <= h))
        .map(|v| v.as_str())
        .collect();
    let commands = dispatch::IMPLEMENTED
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(",");
    let h = r.headers_mut();
    h.insert("Allow", HeaderValue::from_static("OPTIONS,POST"));
    h.insert("Public", HeaderValue::from_static("OPTIONS,POST"));
    if let Ok(v) = HeaderValue::from_str(&versions.join(",")) {
        h.insert("MS-ASProtocolVersions", v);
    }
    if let Ok(v) = HeaderValue::from_str(&commands) {
        h.insert("MS-ASProtocolCommands", v);
    }
    protocol_headers(&mut r);
    r
}

/// The policy's "highest protocol version" for the user (the guide's remedy for a device that
/// misbehaves with newer versions): OPTIONS then offers nothing above it.
async fn highest_version(app: &Arc<App>, user: String) -> Option<ProtocolVersion> {
    use device::policy::{Level, PolicyKey, levels};
    let app = app.clone();
    crate::work::unblock(move || {
        let base = app.devices.env().base_policy();
        let level = Level::User(user.to_ascii_lowercase());
        match levels::resolve(app.devices.db(), &base, &level) {
            Ok(r) => r.settings.version(PolicyKey::MaxProtocolVersion),
            Err(e) => {
                log::warn!("OPTIONS: {e}");
                None
            }
        }
    })
    .await
}

/// Checks the Basic credentials: recently verified ones straight from the cache (never throttled,
/// they are proven right), others through the failure throttle and then argon2.
pub(crate) async fn authenticate(
    app: &Arc<App>,
    req: &hyper::Request<Incoming>,
    peer: Peer,
) -> Result<String, AuthError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?;
    let creds = Credentials::from_header(value.as_bytes())?;
    authenticate_credentials(app, creds, peer).await
}

/// The same check for credentials from elsewhere (the /account login form), so both count
/// against the same throttle.
pub(crate) async fn authenticate_credentials(
    app: &Arc<App>,
    creds: Credentials,
    peer: Peer,
) -> Result<String, AuthError> {
    if let Some(email) = app.auth.cached(&app.config, &creds) {
        return Ok(email);
    }
    let ip = peer.addr.ip();
    let known = resolve_user(&app.config, &creds.username).map(str::to_string);
    app.throttle
        .check(ip, known.as_deref(), Instant::now())
        .map_err(AuthError::Throttled)?;
    // argon2 takes tens of milliseconds of CPU: keep it off the async threads.
    let verifier = app.clone();
    let result = crate::work::unblock(move || verifier.auth.verify(&verifier.config, &creds)).await;
    match &result {
        Ok(email) => app.throttle.succeeded(ip, email, Instant::now()),
        Err(_) => {
            for block in app.throttle.failed(ip, known.as_deref(), Instant::now()) {
                log::warn!(
                    "{}: {} failed logins for {}; refusing further attempts for {} s, doubling with each failure",
                    peer.addr,
                    block.failures,
                    block.scope,
                    block.retry_after_secs()
                );
            }
        }
    }
    result
}

pub(crate) fn unauthorized_response() -> Response<Body> {
    let mut r = http::empty(401);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"easd\""),
    );
    r
}

pub(crate) fn unauthorized(e: &AuthError, peer: Peer, user: Option<&str>) -> Response<Body> {
    match e {
        AuthError::Missing => log::debug!("{}: no credentials", peer.addr),
        // Logged once when the block began; every refused attempt would flood the log.
        AuthError::Throttled(b) => {
            log::debug!("{}: {e}", peer.addr);
            let mut r = http::empty(503);
            if let Ok(v) = HeaderValue::from_str(&b.retry_after_secs().to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        _ => log::info!(
            "{}: authentication failed for {:?}: {e}",
            peer.addr,
            user.unwrap_or("?")
        ),
    }
    unauthorized_response()
}

async fn post(app: Arc<App>, req: hyper::Request<Incoming>, peer: Peer) -> Response<Body> {
    let query = match EasQuery::parse(req.uri().query().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => {
            log::info!("{}: bad request URI: {e}", peer.addr);
            let status = match e {
                super::query::QueryError::UnknownCommand(_) => 501,
                _ => 400,
            };
            return http::empty(status);
        }
    };
    let user = match authenticate(&app, &req, peer).await {
        Ok(u) => u,
        Err(e) => return unauthorized(&e, peer, query.user.as_deref()),
    };
    if let Some(url) = app.config.user(&user).and_then(|u| u.redirect.as_ref()) {
        log::info!(
            "{} [{user}] {}: mailbox moved, 451 to {}",
            query.device_id,
            query.cmd,
            url.get_ref()
        );
        let mut r = http::empty(451);
        if let Ok(v) = HeaderValue::from_str(url.get_ref()) {
            r.headers_mut().insert("X-MS-Location", v);
        }
        return r;
    }
    let header_str = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let version = match (query.version, header_str("MS-ASProtocolVersion")) {
        (Some(v), _) => v,
        (None, Some(h)) => match h.parse::<ProtocolVersion>() {
            Ok(v) => v,
            Err(e) => {
                log::info!("{} {}: {e}", query.device_id, user);
                return http::empty(400);
            }
        },
        (None, None) => ProtocolVersion::V2_5,
    };
    let policy_key = query
        .policy_key
        .or_else(|| header_str("X-MS-PolicyKey").and_then(|k| k.parse::<u32>().ok()));
    let user_agent = header_str("User-Agent")
        .unwrap_or("")
        .chars()
        .take(256)
        .collect();
    let content_type = header_str("Content-Type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let declared = header_str("Content-Length").and_then(|n| n.parse::<u64>().ok());
    let limits = &app.config.limits;
    let body = match body::read(
        req.into_body(),
        declared,
        limits.max_body_bytes,
        Duration::from_secs(limits.body_timeout_secs.into()),
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            log::info!("{} [{user}] {}: {e}", query.device_id, query.cmd);
            return http::empty(e.http_status());
        }
    };
    let tree = if !body.is_empty() && carries_wbxml(query.cmd, version, &content_type) {
        match wbxml::decode(&body) {
            Ok(t) => Some(t),
            Err(e) => {
                log::info!(
                    "{} [{user}] {}: malformed WBXML: {e}",
                    query.device_id,
                    query.cmd
                );
                return http::empty(400);
            }
        }
    } else {
        None
    };
    let request = Arc::new(Request {
        query,
        version,
        policy_key,
        user,
        user_agent,
        body,
        tree,
    });
    trace_request(&app, &request);
    let gate = {
        let (app, request) = (app.clone(), request.clone());
        // The gate reads and writes the state database: off the async threads.
        crate::work::unblock(move || device::gate::check(&app.devices, &request)).await
    };
    // A phone has one conversation at a time: its new request ends any request it still has held
    // (a Ping it gave up on), so abandoned long-polls never pile up.
    app.hub.supersede(&request.user, &request.query.device_id);
    let reply = match gate {
        device::gate::Verdict::Pass => dispatch::dispatch(app.clone(), request.clone()).await,
        device::gate::Verdict::Answer(reply) => reply,
    };
    to_response(&app, &request, reply)
}

/// SendMail, SmartReply and SmartForward before 14.0 carry a raw MIME message instead of WBXML.
fn carries_wbxml(cmd: Command, version: ProtocolVersion, content_type: &str) -> bool {
    let mime_form = matches!(
        cmd,
        Command::SendMail | Command::SmartReply | Command::SmartForward
    ) && (version < ProtocolVersion::V14_0
        || content_type.starts_with("message/rfc822"));
    !mime_form
}

fn to_response(app: &App, req: &Request, reply: Reply) -> Response<Body> {
    let (mut r, tree) = match reply {
        Reply::Wbxml(tree) => (
            http::with_body(200, WBXML_TYPE, wbxml::encode(&tree)),
            Some(tree),
        ),
        Reply::Empty => (http::empty(200), None),
        Reply::Status(code) => (http::empty(code), None),
        Reply::Raw { content_type, body } => (http::with_body(200, &content_type, body), None),
    };
    trace_response(app, req, r.status().as_u16(), tree);
    protocol_headers(&mut r);
    r
}

/// The request as the trace shows it: decoded XML, or the size of a body that is not WBXML.
fn request_body(req: &Request) -> String {
    req.tree
        .as_ref()
        .map_or_else(|| format!("[{} bytes]", req.body.len()), wbxml::to_xml)
}

/// Logs the request at debug level and queues it for the device's own trace (`easd device log`).
fn trace_request(app: &App, req: &Arc<Request>) {
    let q = &req.query;
    let head = format!(
        "{} [{}] {} <<< {}",
        q.device_id,
        req.user,
        crate::logger::clock(),
        q.cmd
    );
    if log::log_enabled!(target: "easd::trace", log::Level::Debug) {
        log::debug!(target: "easd::trace", "{head}\n{}", request_body(req));
    }
    let req = req.clone();
    device_trace(app, &q.device_id, move || {
        format!(
            "{head} v{} ua={:?}\n{}",
            req.version,
            req.user_agent,
            request_body(&req)
        )
    });
}

fn trace_response(app: &App, req: &Request, status: u16, tree: Option<wbxml::Element>) {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let head = format!(
        "{} [{}] {} >>> {status} {reason}",
        req.query.device_id,
        req.user,
        crate::logger::clock()
    );
    let body = move || tree.as_ref().map(wbxml::to_xml).unwrap_or_default();
    if log::log_enabled!(target: "easd::trace", log::Level::Debug) {
        log::debug!(target: "easd::trace", "{head}\n{}", body());
    }
    device_trace(app, &req.query.device_id, move || {
        format!("{head}\n{}", body())
    });
}

/// Queues an entry for the device's trace when `log.device_trace` is on; `render` runs on the
/// trace's writer thread.
fn device_trace(app: &App, device_id: &str, render: impl FnOnce() -> String + Send + 'static) {
    if !app.config.log.device_trace {
        return;
    }
    if let Ok(id) = device::DeviceId::parse(device_id) {
        app.devices.trace().record(id, render);
    }
}
