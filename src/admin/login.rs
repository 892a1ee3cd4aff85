//! Logging in and out. Admin accounts check their `[[admin.account]]` hash, users their mail
//! password through the same path as a phone's Basic auth; both go through the failure throttle
//! first (a blocked address or name gets 429 with Retry-After, without any hashing). The login form
//! has its CSRF token too, bound to a pre-login cookie, so another site cannot log a browser in
//! under the attacker's account.

use super::html::{self, esc};
use super::session::Role;
use super::web::{self, WebRequest};
use super::{Area, csrf};
use crate::app::App;
use crate::auth::throttle::Blocked;
use crate::auth::{AuthError, Credentials};
use crate::http::Body;
use hyper::Response;
use hyper::header::{self, HeaderValue};
use ring::rand::SecureRandom;
use std::sync::Arc;
use std::time::Instant;

const PRE_LOGIN_COOKIE: &str = "easd_login";
/// How long a login form stays usable.
const PRE_LOGIN_SECS: u64 = 3600;

fn binding(pre: &str) -> String {
    format!("login:{pre}")
}

/// The login page; makes a pre-login cookie when the browser has none.
pub fn form(
    app: &Arc<App>,
    req: &WebRequest,
    area: Area,
    error: Option<&str>,
    status: u16,
) -> Response<Body> {
    let existing = req
        .cookie(PRE_LOGIN_COOKIE)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string);
    let pre = match existing.clone() {
        Some(p) => p,
        None => {
            let mut raw = [0u8; 16];
            if app.console.rng.fill(&mut raw).is_err() {
                return web::html(503, "no system randomness".into());
            }
            csrf::hex(&raw)
        }
    };
    let token = app.console.csrf.token(&binding(&pre));
    let (name_label, hint) = match area {
        Area::Admin if app.config.admin.accounts.is_empty() => (
            "Administrator name",
            "<p class=\"muted\">No console login is configured yet: add an <code>[[admin.account]]</code> \
             with a name and a <code>password_hash</code> from <code>easd hash-password</code> to the \
             configuration, and restart easd.</p>",
        ),
        Area::Admin => ("Administrator name", ""),
        Area::Account => (
            "Email address",
            "<p class=\"muted\">Log in with your mail address and mail password to see your \
             mobile devices and wipe a lost one.</p>",
        ),
    };
    let error = error.map_or(String::new(), |e| {
        format!("<div class=\"flash error\" role=\"alert\">{}</div>", esc(e))
    });
    let body = format!(
        "{error}<section>{hint}<form method=\"post\" action=\"{base}/login\">{csrf}\
         <label for=\"f-name\">{name_label}</label>\
         <input type=\"text\" id=\"f-name\" name=\"name\" autocomplete=\"username\" autocapitalize=\"none\" \
         spellcheck=\"false\" required autofocus>\
         <label for=\"f-password\">Password</label>\
         <input type=\"password\" id=\"f-password\" name=\"password\" autocomplete=\"current-password\" required>\
         <p><button type=\"submit\">Log in</button></p></form></section>",
        base = area.base(),
        csrf = html::csrf_field(&token),
    );
    let page = html::page(
        html::Layout {
            area,
            title: "Log in",
            current: "",
            who: None,
            flash: None,
        },
        &body,
    );
    let mut resp = web::html(status, page);
    if existing.is_none() {
        web::set_cookie(
            &mut resp,
            PRE_LOGIN_COOKIE,
            &pre,
            area.base(),
            req.peer.tls,
            Some(PRE_LOGIN_SECS),
        );
    }
    resp
}

fn throttled(app: &Arc<App>, req: &WebRequest, area: Area, b: &Blocked) -> Response<Body> {
    let secs = b.retry_after_secs();
    let mut resp = form(
        app,
        req,
        area,
        Some(&format!(
            "Too many failed logins. Try again in {secs} seconds."
        )),
        429,
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Checks an administrator's name and password, counting failures in the throttle under
/// `admin:NAME` (kept apart from mail users of the same name).
async fn check_admin(
    app: &Arc<App>,
    req: &WebRequest,
    name: &str,
    password: String,
) -> Result<String, AuthError> {
    let ip = req.peer.addr.ip();
    let account = app
        .config
        .admin
        .accounts
        .iter()
        .find(|a| a.name.get_ref() == name);
    let scope = account.map(|a| format!("admin:{}", a.name.get_ref()));
    app.throttle
        .check(ip, scope.as_deref(), Instant::now())
        .map_err(AuthError::Throttled)?;
    let ok = match account {
        Some(a) => {
            let hash = a.password_hash.get_ref().clone();
            let verifier = app.clone();
            crate::work::unblock(move || verifier.auth.verify_phc(&hash, &password)).await
        }
        None => false,
    };
    let now = Instant::now();
    match (ok, &scope) {
        (true, Some(s)) => {
            app.throttle.succeeded(ip, s, now);
            Ok(name.to_string())
        }
        _ => {
            for block in app.throttle.failed(ip, scope.as_deref(), now) {
                log::warn!(
                    "{}: {} failed console logins for {}; refusing further attempts for {} s",
                    req.peer.addr,
                    block.failures,
                    block.scope,
                    block.retry_after_secs()
                );
            }
            Err(if account.is_some() {
                AuthError::WrongPassword
            } else {
                AuthError::UnknownUser
            })
        }
    }
}

pub async fn submit(app: &Arc<App>, req: &WebRequest, area: Area) -> Response<Body> {
    let pre = req.cookie(PRE_LOGIN_COOKIE).unwrap_or("");
    if pre.is_empty()
        || !app
            .console
            .csrf
            .check(&binding(pre), req.form.text(csrf::FIELD))
    {
        log::warn!(
            "{}: {} login without a valid CSRF token refused",
            req.peer.addr,
            area.base()
        );
        return form(
            app,
            req,
            area,
            Some("The login form had expired. Please try again."),
            403,
        );
    }
    let name = req.form.text("name").to_string();
    let password = req.form.get("password").unwrap_or("").to_string();
    if name.is_empty() || password.is_empty() {
        return form(app, req, area, Some("Enter a name and a password."), 400);
    }
    let result = match area {
        Area::Admin => check_admin(app, req, &name, password)
            .await
            .map(Role::Admin),
        Area::Account => crate::eas::endpoint::authenticate_credentials(
            app,
            Credentials {
                username: name.clone(),
                password,
            },
            req.peer,
        )
        .await
        .map(Role::User),
    };
    let role = match result {
        Ok(role) => role,
        Err(AuthError::Throttled(b)) => return throttled(app, req, area, &b),
        Err(e) => {
            log::info!(
                "{}: {} login failed for {name:?}: {e}",
                req.peer.addr,
                area.base()
            );
            return form(app, req, area, Some("Wrong name or password."), 401);
        }
    };
    let Some(session) = app
        .console
        .sessions
        .create(&app.console.rng, role, Instant::now())
    else {
        return web::html(503, "no system randomness".into());
    };
    log::info!("{}: {} login: {name}", req.peer.addr, area.base());
    let mut resp = web::redirect(area.base());
    web::set_cookie(
        &mut resp,
        area.cookie(),
        &session.id,
        area.base(),
        req.peer.tls,
        None,
    );
    web::set_cookie(
        &mut resp,
        PRE_LOGIN_COOKIE,
        "",
        area.base(),
        req.peer.tls,
        Some(0),
    );
    resp
}

pub fn logout(
    app: &Arc<App>,
    req: &WebRequest,
    area: Area,
    session: &super::session::Session,
) -> Response<Body> {
    app.console.sessions.remove(&session.id);
    let mut resp = web::redirect(&format!("{}/login", area.base()));
    web::set_cookie(
        &mut resp,
        area.cookie(),
        "",
        area.base(),
        req.peer.tls,
        Some(0),
    );
    resp
}
