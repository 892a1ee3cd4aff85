//! The web console (`/admin`) and the users' self-service pages (`/account`): server-rendered HTML
//! forms over the device management of `crate::device`, every change made by the CLI's own code
//! (`actions`). No JavaScript, nothing loaded from elsewhere.
//!
//! Both areas are served only where passwords do not cross the network in clear: on TLS listeners
//! and on plain listeners bound to a loopback address, unless `admin.allow_plain_http` says the
//! plain listeners sit behind a TLS proxy. Sessions live in HttpOnly, SameSite=Strict cookies
//! (Secure on TLS); every form carries a CSRF token; logins count against the same throttle as
//! the phones' Basic auth.

pub mod actions;
pub mod csrf;
pub mod form;
pub mod html;
mod login;
mod pages;
pub mod session;
pub mod web;

use crate::app::App;
use crate::http::body::Incoming;
use crate::http::{Body, Peer};
use hyper::Response;
use ring::rand::SystemRandom;
use session::{Flash, Role, Session, Sessions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use web::WebRequest;

/// The two sets of pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `/admin`: `[[admin.account]]` logins.
    Admin,
    /// `/account`: each user with their mail password.
    Account,
}

impl Area {
    pub fn base(self) -> &'static str {
        match self {
            Area::Admin => "/admin",
            Area::Account => "/account",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Area::Admin => "administration",
            Area::Account => "account",
        }
    }

    /// The session cookie; its Path keeps it to its own area.
    fn cookie(self) -> &'static str {
        match self {
            Area::Admin => "easd_admin",
            Area::Account => "easd_account",
        }
    }
}

/// The console's share of the server state: sessions and the CSRF key.
pub struct Console {
    rng: SystemRandom,
    pub sessions: Sessions,
    pub csrf: csrf::Csrf,
}

impl Console {
    pub fn new(config: &crate::config::Config) -> Result<Console, ring::error::Unspecified> {
        let rng = SystemRandom::new();
        let csrf = csrf::Csrf::new(&rng)?;
        Ok(Console {
            rng,
            sessions: Sessions::new(Duration::from_secs(
                (*config.admin.session_idle_secs.get_ref()).into(),
            )),
            csrf,
        })
    }
}

/// Whether this connection may see the pages: TLS, a plain listener bound to loopback, or any plain
/// listener when the configuration says a TLS proxy is in front.
pub fn served_on(config: &crate::config::Config, peer: &Peer) -> bool {
    peer.tls || peer.listener.ip().to_canonical().is_loopback() || config.admin.allow_plain_http
}

/// Everything a page needs about the logged-in request.
pub struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub area: Area,
    pub req: &'a WebRequest,
    pub session: Session,
    /// The CSRF token of this session's forms.
    pub token: String,
}

impl Ctx<'_> {
    pub fn console(&self) -> &Console {
        &self.app.console
    }

    /// The name shown in the header and the log.
    pub fn who(&self) -> &str {
        match &self.session.role {
            Role::Admin(n) | Role::User(n) => n,
        }
    }

    /// Sets the message the next page shows.
    pub fn flash(&self, result: Result<String, String>) {
        let (ok, text) = match result {
            Ok(t) => (true, t),
            Err(t) => (false, t),
        };
        self.console()
            .sessions
            .set_flash(&self.session.id, Flash { ok, text });
    }

    pub fn page(&self, title: &str, current: &str, body: &str) -> Response<Body> {
        let flash = self.console().sessions.take_flash(&self.session.id);
        web::html(
            200,
            html::page(
                html::Layout {
                    area: self.area,
                    title,
                    current,
                    who: Some((self.who(), &self.token)),
                    flash,
                },
                body,
            ),
        )
    }
}

/// Answers a request under `/admin` or `/account`.
pub async fn handle(
    app: Arc<App>,
    req: hyper::Request<Incoming>,
    peer: Peer,
    area: Area,
) -> Response<Body> {
    let mut resp = respond(app, req, peer, area).await;
    web::secure_headers(&mut resp);
    resp
}

async fn respond(
    app: Arc<App>,
    req: hyper::Request<Incoming>,
    peer: Peer,
    area: Area,
) -> Response<Body> {
    if !served_on(&app.config, &peer) {
        log::info!(
            "{}: {} refused on the plain-HTTP listener {} (loopback and TLS listeners only; see admin.allow_plain_http)",
            peer.addr,
            area.base(),
            peer.listener
        );
        return pages::refused(area);
    }
    let timeout = Duration::from_secs(app.config.limits.body_timeout_secs.into());
    let req = match WebRequest::read(req, peer, area.base(), timeout).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match req.segs().as_slice() {
        ["style.css"] => {
            return crate::http::with_body(200, "text/css; charset=utf-8", pages::CSS);
        }
        ["login"] if req.is_post() => return login::submit(&app, &req, area).await,
        ["login"] => return login::form(&app, &req, area, None, 200),
        _ => {}
    }
    let Some(session) = req
        .cookie(area.cookie())
        .and_then(|id| app.console.sessions.get(id, Instant::now()))
        .filter(|s| {
            matches!(
                (&s.role, area),
                (Role::Admin(_), Area::Admin) | (Role::User(_), Area::Account)
            )
        })
    else {
        return web::redirect(&format!("{}/login", area.base()));
    };
    let token = app.console.csrf.token(&session.id);
    if req.is_post()
        && !app
            .console
            .csrf
            .check(&session.id, req.form.text(csrf::FIELD))
    {
        log::warn!(
            "{}: {}: form without a valid CSRF token refused",
            peer.addr,
            area.base()
        );
        return pages::csrf_refused(area);
    }
    if req.is_post() && req.segs() == ["logout"] {
        return login::logout(&app, &req, area, &session);
    }
    crate::work::unblock(move || {
        let ctx = Ctx {
            app: &app,
            area,
            req: &req,
            session,
            token,
        };
        match area {
            Area::Admin => pages::admin(&ctx),
            Area::Account => pages::account::route(&ctx),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(extra: &str) -> crate::config::Config {
        crate::config::Config::parse(
            &format!(
                "[server]\nlisten = [\"0.0.0.0:8080\"]\nhostname = \"h\"\ndata_dir = \"/tmp\"\n{extra}"
            ),
            Path::new("t"),
        )
        .unwrap()
    }

    fn peer(listener: &str, tls: bool) -> Peer {
        Peer {
            addr: "192.0.2.7:5000".parse().unwrap(),
            tls,
            listener: listener.parse().unwrap(),
        }
    }

    #[test]
    fn served_on_loopback_and_tls_listeners_only() {
        let c = config("");
        assert!(served_on(&c, &peer("127.0.0.1:8081", false)));
        assert!(served_on(&c, &peer("[::1]:8081", false)));
        assert!(served_on(&c, &peer("[::ffff:127.0.0.1]:8081", false)));
        assert!(served_on(&c, &peer("0.0.0.0:443", true)));
        assert!(!served_on(&c, &peer("0.0.0.0:8080", false)));
        assert!(!served_on(&c, &peer("[::]:8080", false)));
        assert!(!served_on(&c, &peer("192.0.2.1:8080", false)));
        let open = config("[admin]\nallow_plain_http = true\n");
        assert!(served_on(&open, &peer("0.0.0.0:8080", false)));
    }
}
