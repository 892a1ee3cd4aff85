//! The device window: what the device reported, its access with allow / block / quarantine /
//! remove, its folder options and filters, its policy (device level) and its owner's, the rule for
//! similar devices, its EAS log, and hard or account-only wipe behind a confirmation page.

use super::super::actions::Action;
use super::super::html::{self, esc};
use super::super::{Ctx, web};
use crate::device::abq::{Access, RuleOn};
use crate::device::options::{GroupwareFolders, MailFolders};
use crate::device::registry::{self, Device, WipeKind};
use crate::device::{DeviceKey, time};
use crate::http::Body;
use hyper::Response;
use std::fmt::Write;

/// How much of a device's trace the log page shows.
const LOG_SHOWN_BYTES: usize = 256 * 1024;

fn load(ctx: &Ctx, key: &DeviceKey) -> Result<Device, Box<Response<Body>>> {
    match registry::get(ctx.app.devices.db(), key) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(Box::new(super::not_found(ctx.area))),
        Err(e) => Err(Box::new(super::failed(ctx.area, &e))),
    }
}

fn info(d: &Device) -> String {
    let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or("-"));
    format!(
        "<dl><dt>Device ID</dt><dd>{}</dd><dt>User</dt><dd>{}</dd><dt>Model</dt><dd>{}</dd>\
         <dt>Type</dt><dd>{}</dd><dt>OS</dt><dd>{}</dd><dt>Name</dt><dd>{}</dd>\
         <dt>IMEI</dt><dd>{}</dd><dt>Phone number</dt><dd>{}</dd><dt>User agent</dt><dd>{}</dd>\
         <dt>Protocol</dt><dd>{}</dd><dt>First sync</dt><dd>{}</dd><dt>Last sync</dt><dd>{}</dd>\
         <dt>Access</dt><dd>{} {} ({})</dd><dt>Policy</dt><dd>{}</dd><dt>Remote wipe</dt><dd>{}</dd></dl>",
        esc(&d.id),
        esc(&d.user),
        opt(&d.info.model),
        esc(&d.device_type),
        opt(&d.info.os),
        opt(&d.info.friendly_name),
        opt(&d.info.imei),
        opt(&d.info.phone_number),
        esc(&d.user_agent),
        esc(&d.protocol),
        time::eas(d.first_seen),
        time::eas(d.last_seen),
        html::access_icon(d.access),
        d.access,
        esc(&d.access_reason),
        d.policy.status,
        esc(&d.wipe_status()),
    )
}

fn number(v: Option<impl ToString>) -> String {
    v.map_or(String::new(), |n| n.to_string())
}

fn options_form(ctx: &Ctx, d: &Device, path: &str) -> String {
    let o = &d.options;
    let groupware = match o.groupware {
        GroupwareFolders::DefaultOnly => "default",
        GroupwareFolders::All => "all",
        GroupwareFolders::AllAsMail => "all-as-mail",
    };
    let mail = match o.mail_folders {
        MailFolders::DefaultOnly => "default",
        MailFolders::All => "all",
    };
    format!(
        "<form method=\"post\" action=\"{path}\">{}{}<div class=\"grid\"><div>{}{}{}{}{}</div><div>{}{}{}{}{}{}</div></div>\
         <p><button type=\"submit\">Save folder options</button></p></form>",
        html::csrf_field(&ctx.token),
        html::hidden("op", "options"),
        html::select(
            "groupware",
            "GroupWare folders",
            &[
                ("default", "Default folders only"),
                ("all", "All folders"),
                ("all-as-mail", "All folders, GroupWare as mail")
            ],
            groupware
        ),
        html::select(
            "mail_folders",
            "Mail folders",
            &[("default", "Default folders only"), ("all", "All folders")],
            mail
        ),
        html::checkbox("archives", "Archives", o.archives),
        html::checkbox("public", "Public folders", o.public),
        html::checkbox("shared", "Shared folders", o.shared),
        html::text_input(
            "mail_sync_days",
            "Mail sync period (days)",
            &number(o.mail_sync_days),
            "Empty: no limit."
        ),
        html::text_input(
            "calendar_days",
            "Calendar sync period (days)",
            &number(o.calendar_days),
            "Empty: no limit."
        ),
        html::text_input(
            "truncation",
            "Truncate messages at (bytes)",
            &o.truncation.unwrap_or(-1).to_string(),
            "-1: never, 0: headers only."
        ),
        html::checkbox("html", "HTML mail", o.html),
        html::checkbox("attachments", "Attachments", o.attachments),
        html::text_input(
            "max_attachment_bytes",
            "Largest attachment (bytes)",
            &number(o.max_attachment_bytes),
            "Empty: no limit."
        ),
    )
}

pub fn window(ctx: &Ctx, key: &DeviceKey) -> Response<Body> {
    let d = match load(ctx, key) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let path = super::device_path(key);
    let t = &ctx.token;
    let mut access = String::new();
    for (op, label, class) in [
        ("allow", "Allow", "secondary"),
        ("block", "Block", "secondary"),
        ("quarantine", "Quarantine", "secondary"),
        ("remove", "Remove device", "danger"),
    ] {
        access.push_str(&html::button_form(&path, t, op, &[], label, class));
    }
    let level = super::super::form::encode(&format!("device:{key}"));
    let user_level = super::super::form::encode(&format!("user:{}", key.user()));
    let mut body = format!(
        "<p><a href=\"/admin/devices\">← Devices</a></p>\
         <section aria-labelledby=\"h-info\"><h2 id=\"h-info\">Device</h2>{}\
         <div class=\"actions\">{access}</div></section>",
        info(&d)
    );
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-opts\"><h2 id=\"h-opts\">Folders and filters</h2>{}</section>\
         <section aria-labelledby=\"h-pol\"><h2 id=\"h-pol\">Security policy</h2><div class=\"actions\">\
         <a class=\"button\" href=\"/admin/policy?level={level}\">Device policy…</a>\
         <a class=\"button secondary\" href=\"/admin/policy?level={user_level}\">Policy of {}…</a></div></section>",
        options_form(ctx, &d, &path),
        esc(key.user()),
    );
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-similar\"><h2 id=\"h-similar\">Rule for similar devices</h2>\
         <form method=\"post\" action=\"{path}\">{}{}<div class=\"grid\"><div>{}</div><div>{}</div></div>\
         <p><button type=\"submit\">Create rule</button></p></form></section>",
        html::csrf_field(t),
        html::hidden("op", "similar"),
        html::select(
            "on",
            "Devices with the same",
            &[("os", "OS"), ("model", "Model"), ("type", "Type")],
            "model"
        ),
        html::select(
            "action",
            "Action",
            &[
                ("allow", "Allow"),
                ("block", "Block"),
                ("quarantine", "Quarantine")
            ],
            &d.access.to_string()
        ),
    );
    let account_only = if d.supports(WipeKind::AccountOnly) {
        format!(
            "<a class=\"button secondary\" href=\"{path}/wipe?kind=account\">Account-only wipe…</a>"
        )
    } else {
        "<span class=\"muted\">Account-only wipe needs protocol 16.1.</span>".to_string()
    };
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-log\"><h2 id=\"h-log\">Logs and wipe</h2><div class=\"actions\">\
         <a class=\"button secondary\" href=\"{path}/log\">Logs</a>\
         <a class=\"button\" href=\"{path}/wipe?kind=full\">Hard wipe…</a>{account_only}</div></section>",
    );
    ctx.page(&format!("Device {}", key.id()), "devices", &body)
}

pub fn log(ctx: &Ctx, key: &DeviceKey) -> Response<Body> {
    let text = match ctx.app.devices.trace().read(key.id()) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => format!("(cannot read the log: {e})"),
    };
    // The trace keeps up to about a megabyte; a page shows its most recent part.
    let mut start = text.len().saturating_sub(LOG_SHOWN_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = if start > 0 {
        format!(
            "<p class=\"help\">The last {} KiB of the trace; <code>easd device log</code> prints all of it.</p>",
            LOG_SHOWN_BYTES / 1024
        )
    } else {
        String::new()
    };
    let text = text.get(start..).unwrap_or("");
    let shown = if text.is_empty() {
        "<p class=\"muted\">No EAS request logged for this device yet.</p>".to_string()
    } else {
        format!("{cut}<pre class=\"log\" tabindex=\"0\">{}</pre>", esc(text))
    };
    let body = format!(
        "<p><a href=\"{}\">← Device {}</a></p><section>{shown}</section>",
        super::device_path(key),
        esc(key.id().as_str())
    );
    ctx.page(&format!("EAS log of {}", key.id()), "devices", &body)
}

fn kind_of(text: &str) -> Option<WipeKind> {
    match text {
        "full" => Some(WipeKind::Full),
        "account" => Some(WipeKind::AccountOnly),
        _ => None,
    }
}

/// The confirmation step before a wipe, shared with the user pages.
pub fn confirm_body(token: &str, post_to: &str, back: &str, label: &str, kind: WipeKind) -> String {
    let (what, value) = match kind {
        WipeKind::Full => (
            "The device will be reset to its factory settings the next time it connects: all \
             its data, not only this account's, is erased.",
            "full",
        ),
        WipeKind::AccountOnly => (
            "This account's mail, contacts and calendars will be removed from the device the next \
             time it connects; the rest of the device is left alone.",
            "account",
        ),
    };
    format!(
        "<section role=\"alertdialog\" aria-labelledby=\"h-confirm\" aria-describedby=\"p-confirm\">\
         <h2 id=\"h-confirm\">{} of {}?</h2><p id=\"p-confirm\">{what}</p>\
         <form method=\"post\" action=\"{}\">{}{}{}{}<div class=\"actions\">\
         <button type=\"submit\" class=\"danger\">Yes, wipe the device</button>\
         <a class=\"button secondary\" href=\"{}\">Cancel</a></div></form></section>",
        match kind {
            WipeKind::Full => "Hard wipe",
            WipeKind::AccountOnly => "Account-only wipe",
        },
        esc(label),
        esc(post_to),
        html::csrf_field(token),
        html::hidden("op", "wipe"),
        html::hidden("kind", value),
        html::hidden("confirm", "yes"),
        esc(back),
    )
}

pub fn confirm_wipe(ctx: &Ctx, key: &DeviceKey) -> Response<Body> {
    let d = match load(ctx, key) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let Some(kind) = kind_of(ctx.req.query.text("kind")) else {
        return super::not_found(ctx.area);
    };
    let path = super::device_path(key);
    let body = confirm_body(&ctx.token, &path, &path, &d.label(), kind);
    ctx.page("Confirm remote wipe", "devices", &body)
}

/// The folder-option changes in the form, as `easd device set` takes them.
fn option_changes(ctx: &Ctx) -> Vec<(String, String)> {
    crate::device::options::KEYS
        .iter()
        .filter_map(|k| {
            ctx.req
                .form
                .get(k)
                .map(|v| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

pub fn post(ctx: &Ctx, key: &DeviceKey) -> Response<Body> {
    let path = super::device_path(key);
    let f = &ctx.req.form;
    let device = key.clone();
    let action = match f.text("op") {
        "allow" => Action::Access {
            device,
            access: Access::Allow,
        },
        "block" => Action::Access {
            device,
            access: Access::Block,
        },
        "quarantine" => Action::Access {
            device,
            access: Access::Quarantine,
        },
        "remove" => return super::act(ctx, Action::Remove { device }, "/admin/devices"),
        "options" => Action::SetOptions {
            device,
            options: option_changes(ctx),
        },
        "similar" => {
            let on: Result<RuleOn, _> = f.text("on").parse();
            let access: Result<Access, _> = f.text("action").parse();
            match (on, access) {
                (Ok(on), Ok(access)) => Action::Similar { device, on, access },
                (Err(e), _) | (_, Err(e)) => {
                    ctx.flash(Err(e.to_string()));
                    return web::redirect(&path);
                }
            }
        }
        "wipe" => {
            let Some(kind) = kind_of(f.text("kind")) else {
                ctx.flash(Err("no wipe kind given".into()));
                return web::redirect(&path);
            };
            if f.text("confirm") != "yes" {
                return web::redirect(&format!("{path}/wipe?kind={}", f.text("kind")));
            }
            Action::Wipe { device, kind }
        }
        other => {
            ctx.flash(Err(format!("unknown operation {other:?}")));
            return web::redirect(&path);
        }
    };
    super::act(ctx, action, &path)
}
