//! The user's own page (`/account`), as the guide promises: their devices (model, last sync,
//! status), some items of the security policy they are under, and remote wipe of a lost device
//! behind a confirmation step. Blocked and quarantined devices are not listed to their owner, as
//! in the administrator's tools.

use super::super::Ctx;
use super::super::actions::Action;
use super::super::form;
use super::super::html::esc;
use super::super::session::Role;
use crate::device::policy::PolicyKey;
use crate::device::policy::levels::{self, Level};
use crate::device::registry::{self, Device, WipeKind};
use crate::device::{DeviceId, DeviceKey, time};
use crate::http::Body;
use hyper::Response;
use std::fmt::Write;

/// The policy items a user is shown.
const SHOWN: &[PolicyKey] = &[
    PolicyKey::PasswordRequired,
    PolicyKey::MinPasswordLength,
    PolicyKey::AlphanumericPasswordRequired,
    PolicyKey::MaxInactivityTimeMinutes,
    PolicyKey::MaxPasswordFailedAttempts,
    PolicyKey::RequireDeviceEncryption,
    PolicyKey::MaxEmailAgeFilter,
    PolicyKey::MaxDevices,
];

/// A value as a user reads it.
fn shown(v: &crate::device::policy::Value) -> String {
    use crate::device::policy::Value;
    match v {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(None) | Value::Version(None) => "no limit".into(),
        other => other.to_string(),
    }
}

fn user<'a>(ctx: &'a Ctx) -> &'a str {
    match &ctx.session.role {
        Role::User(u) | Role::Admin(u) => u,
    }
}

/// One of this user's devices that they may see, by its DeviceId.
fn own_device(ctx: &Ctx, id: &str) -> Result<Device, Box<Response<Body>>> {
    let key = match DeviceId::parse(id) {
        Ok(id) => DeviceKey::new(user(ctx), id),
        Err(_) => return Err(Box::new(super::not_found(ctx.area))),
    };
    match registry::get(ctx.app.devices.db(), &key) {
        Ok(Some(d)) if d.visible_to_owner() => Ok(d),
        Ok(_) => Err(Box::new(super::not_found(ctx.area))),
        Err(e) => Err(Box::new(super::failed(ctx.area, &e))),
    }
}

fn wipe_path(d: &Device) -> String {
    format!("/account/devices/{}/wipe", form::encode(&d.id))
}

fn overview(ctx: &Ctx) -> Response<Body> {
    let me = user(ctx);
    let db = ctx.app.devices.db();
    let (devices, wiped) = match (registry::list(db, Some(me)), registry::wiped(db)) {
        (Ok(d), Ok(w)) => (d, w),
        (Err(e), _) | (_, Err(e)) => return super::failed(ctx.area, &e),
    };
    let mine: Vec<&Device> = devices.iter().filter(|d| d.visible_to_owner()).collect();
    let mut body =
        String::from("<section aria-labelledby=\"h-devices\"><h2 id=\"h-devices\">My devices</h2>");
    if mine.is_empty() {
        body.push_str("<p class=\"muted\">No device has synced with this account yet.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table class=\"cards\"><thead><tr><th scope=\"col\">Device</th>\
             <th scope=\"col\">Model</th><th scope=\"col\">Last sync</th><th scope=\"col\">Status</th>\
             <th scope=\"col\">Remote wipe</th></tr></thead><tbody>",
        );
        for d in mine {
            let name = d
                .info
                .friendly_name
                .clone()
                .unwrap_or_else(|| d.device_type.clone());
            let wipe = match d.wipe {
                registry::Wipe::None => {
                    let mut links = format!(
                        "<a class=\"button danger\" href=\"{}?kind=full\">Wipe…<span class=\"sr-only\"> {}</span></a>",
                        wipe_path(d),
                        esc(&d.id)
                    );
                    if d.supports(WipeKind::AccountOnly) {
                        let _ = write!(
                            links,
                            " <a class=\"button secondary\" href=\"{}?kind=account\">Remove this account only…</a>",
                            wipe_path(d)
                        );
                    }
                    links
                }
                registry::Wipe::Pending { .. } => esc(&d.wipe_status()),
            };
            let _ = write!(
                body,
                "<tr data-device=\"{}\"><td data-label=\"Device\">{}<br><span class=\"muted\">{}</span></td>\
                 <td data-label=\"Model\">{}</td><td data-label=\"Last sync\">{}</td>\
                 <td data-label=\"Status\">{}; policy {}</td><td data-label=\"Remote wipe\">{wipe}</td></tr>",
                esc(&d.id),
                esc(&name),
                esc(&d.id),
                esc(d.info.model.as_deref().unwrap_or("-")),
                time::eas(d.last_seen),
                if d.wipe == registry::Wipe::None {
                    "syncing"
                } else {
                    "wipe pending"
                },
                d.policy.status,
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let done: Vec<_> = wiped
        .iter()
        .filter(|w| w.device.user.eq_ignore_ascii_case(me))
        .collect();
    if !done.is_empty() {
        body.push_str("<h3>Wiped</h3><ul>");
        for w in done {
            let _ = write!(
                body,
                "<li>{} ({}): {} done {}</li>",
                esc(&w.device.id),
                esc(w
                    .device
                    .info
                    .model
                    .as_deref()
                    .unwrap_or(&w.device.device_type)),
                w.kind,
                time::eas(w.wiped_at)
            );
        }
        body.push_str("</ul>");
    }
    body.push_str("</section>");
    let base = ctx.app.devices.env().base_policy();
    match levels::resolve(db, &base, &Level::User(me.to_ascii_lowercase())) {
        Ok(r) => {
            body.push_str(
                "<section aria-labelledby=\"h-policy\"><h2 id=\"h-policy\">Security policy</h2>\
                 <p class=\"help\">Set by your administrator; your devices apply it when they sync.</p><dl>",
            );
            for key in SHOWN {
                let _ = write!(
                    body,
                    "<dt>{}</dt><dd data-key=\"{}\">{}</dd>",
                    esc(key.help()),
                    key.name(),
                    esc(&shown(&r.settings.get(*key)))
                );
            }
            body.push_str("</dl></section>");
        }
        Err(e) => log::error!("account page of {me}: {e}"),
    }
    ctx.page("My account", "", &body)
}

fn kind_of(text: &str) -> Option<WipeKind> {
    match text {
        "full" => Some(WipeKind::Full),
        "account" => Some(WipeKind::AccountOnly),
        _ => None,
    }
}

fn wipe(ctx: &Ctx, id: &str) -> Response<Body> {
    let d = match own_device(ctx, id) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let post = ctx.req.is_post();
    let kind_text = if post {
        ctx.req.form.text("kind")
    } else {
        ctx.req.query.text("kind")
    };
    let Some(kind) = kind_of(kind_text) else {
        return super::not_found(ctx.area);
    };
    if !post || ctx.req.form.text("confirm") != "yes" {
        let label = format!(
            "{} ({})",
            d.info.model.as_deref().unwrap_or(&d.device_type),
            d.id
        );
        let body =
            super::device::confirm_body(&ctx.token, &wipe_path(&d), "/account", &label, kind);
        return ctx.page("Confirm remote wipe", "", &body);
    }
    let device = match d.key() {
        Ok(k) => k,
        Err(e) => return super::failed(ctx.area, &e),
    };
    super::act(ctx, Action::Wipe { device, kind }, "/account")
}

pub fn route(ctx: &Ctx) -> Response<Body> {
    match ctx.req.segs().as_slice() {
        [] if !ctx.req.is_post() => overview(ctx),
        ["devices", id, "wipe"] => wipe(ctx, id),
        _ => super::not_found(ctx.area),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_kinds() {
        assert_eq!(kind_of("full"), Some(WipeKind::Full));
        assert_eq!(kind_of("account"), Some(WipeKind::AccountOnly));
        assert_eq!(kind_of("x"), None);
    }
}
