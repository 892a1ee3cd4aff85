//! The Devices tab: every device with its ABQ icon, a filter, and per device "Manage" (the device
//! window), allow, block and remove; "Global policies" leads to the policy dialog.

use super::super::actions::Action;
use super::super::form::{self, Form};
use super::super::html::{self, esc};
use super::super::{Ctx, web};
use crate::device::abq::Access;
use crate::device::registry::{self, Device};
use crate::device::time;
use crate::http::Body;
use hyper::Response;
use std::fmt::Write;

/// Whether a device matches the filter text (any of user, id, type, model, OS, case-insensitive)
/// and the access filter.
fn matches(d: &Device, text: &str, access: &str) -> bool {
    let text = text.to_lowercase();
    let fields = [
        d.user.as_str(),
        d.id.as_str(),
        d.device_type.as_str(),
        d.info.model.as_deref().unwrap_or(""),
        d.info.os.as_deref().unwrap_or(""),
        d.info.friendly_name.as_deref().unwrap_or(""),
    ];
    (text.is_empty() || fields.iter().any(|f| f.to_lowercase().contains(&text)))
        && (access.is_empty() || d.access.to_string() == access)
}

/// This page's URL with the current filter, to come back to after an action.
fn back(q: &str, access: &str) -> String {
    let mut f = Form::default();
    if !q.is_empty() {
        f.push("q", q);
    }
    if !access.is_empty() {
        f.push("access", access);
    }
    match f.encode() {
        e if e.is_empty() => "/admin/devices".to_string(),
        e => format!("/admin/devices?{e}"),
    }
}

pub fn list(ctx: &Ctx) -> Response<Body> {
    let db = ctx.app.devices.db();
    let (all, wiped) = match (registry::list(db, None), registry::wiped(db)) {
        (Ok(a), Ok(w)) => (a, w),
        (Err(e), _) | (_, Err(e)) => return super::failed(ctx.area, &e),
    };
    let q = ctx.req.query.text("q");
    let access = ctx.req.query.text("access");
    let shown: Vec<&Device> = all.iter().filter(|d| matches(d, q, access)).collect();
    let t = &ctx.token;
    let mut body = format!(
        "<section aria-labelledby=\"h-filter\"><h2 id=\"h-filter\">Filter</h2>\
         <form method=\"get\" action=\"/admin/devices\" role=\"search\">{}{}\
         <div class=\"actions\"><button type=\"submit\">Refresh</button>\
         <a class=\"button secondary\" href=\"/admin/devices\">Clear</a>\
         <a class=\"button secondary\" href=\"/admin/policy?level=global\">Global policies…</a></div>\
         </form></section>",
        html::text_input("q", "Device, user, type, model or OS contains", q, ""),
        html::select(
            "access",
            "Access",
            &[
                ("", "Any"),
                ("allow", "Allowed"),
                ("block", "Blocked"),
                ("quarantine", "Quarantined")
            ],
            access
        ),
    );
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-devices\"><h2 id=\"h-devices\">Devices ({} of {})</h2>",
        shown.len(),
        all.len()
    );
    if shown.is_empty() {
        body.push_str("<p class=\"muted\">No device matches.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table class=\"cards\"><thead><tr>\
             <th scope=\"col\">Access</th><th scope=\"col\">Device</th><th scope=\"col\">Type</th>\
             <th scope=\"col\">Model</th><th scope=\"col\">OS</th><th scope=\"col\">Policy</th>\
             <th scope=\"col\">Remote wipe</th><th scope=\"col\">Last sync</th>\
             <th scope=\"col\">Actions</th></tr></thead><tbody>",
        );
        let back = back(q, access);
        for d in shown {
            let key = format!("{}/{}", d.user, d.id);
            let path = format!(
                "/admin/devices/{}/{}",
                form::encode(&d.user),
                form::encode(&d.id)
            );
            let fields = [("device", key.as_str()), ("back", back.as_str())];
            let mut buttons = String::new();
            if d.access != Access::Allow {
                buttons.push_str(&html::button_form(
                    "/admin/devices",
                    t,
                    "allow",
                    &fields,
                    "Allow",
                    "secondary",
                ));
            }
            if d.access != Access::Block {
                buttons.push_str(&html::button_form(
                    "/admin/devices",
                    t,
                    "block",
                    &fields,
                    "Block",
                    "secondary",
                ));
            }
            buttons.push_str(&html::button_form(
                "/admin/devices",
                t,
                "remove",
                &fields,
                "Remove",
                "danger",
            ));
            let _ = write!(
                body,
                "<tr data-device=\"{k}\"><td data-label=\"Access\">{} {}</td>\
                 <td data-label=\"Device\"><a href=\"{path}\">{k}</a></td><td data-label=\"Type\">{}</td>\
                 <td data-label=\"Model\">{}</td><td data-label=\"OS\">{}</td>\
                 <td data-label=\"Policy\">{}</td><td data-label=\"Remote wipe\">{}</td>\
                 <td data-label=\"Last sync\">{}</td><td><div class=\"actions\">\
                 <a class=\"button\" href=\"{path}\">Manage<span class=\"sr-only\"> {k}</span></a>{buttons}</div></td></tr>",
                html::access_icon(d.access),
                d.access,
                esc(&d.device_type),
                esc(d.info.model.as_deref().unwrap_or("-")),
                esc(d.info.os.as_deref().unwrap_or("-")),
                d.policy.status,
                esc(&d.wipe_status()),
                time::eas(d.last_seen),
                k = esc(&key),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str("</section>");
    if !wiped.is_empty() {
        body.push_str(
            "<section aria-labelledby=\"h-wiped\"><h2 id=\"h-wiped\">Wiped devices</h2><ul>",
        );
        for w in &wiped {
            let _ = write!(
                body,
                "<li>{}/{} ({}): {} done {}</li>",
                esc(&w.device.user),
                esc(&w.device.id),
                esc(&w.device.device_type),
                w.kind,
                time::eas(w.wiped_at)
            );
        }
        body.push_str("</ul></section>");
    }
    ctx.page("Devices", "devices", &body)
}

pub fn post(ctx: &Ctx) -> Response<Body> {
    let f = &ctx.req.form;
    let back = match f.text("back") {
        b if b.starts_with("/admin/devices") => b.to_string(),
        _ => "/admin/devices".to_string(),
    };
    let device = match f
        .text("device")
        .split_once('/')
        .map(|(u, i)| super::device_key(u, i))
    {
        Some(Ok(k)) => k,
        Some(Err(e)) => {
            ctx.flash(Err(e.to_string()));
            return web::redirect(&back);
        }
        None => {
            ctx.flash(Err("no device given".into()));
            return web::redirect(&back);
        }
    };
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
        "remove" => Action::Remove { device },
        other => {
            ctx.flash(Err(format!("unknown operation {other:?}")));
            return web::redirect(&back);
        }
    };
    super::act(ctx, action, &back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceId, DeviceKey};

    #[test]
    fn filter() {
        let key = DeviceKey::new("alice@example.com", DeviceId::parse("Appl123").unwrap());
        let mut d = Device::new(&key, "iPhone", "Apple-iPhone/1", 0);
        d.info.model = Some("iPhone15,2".into());
        assert!(matches(&d, "", ""));
        assert!(matches(&d, "IPHONE15", ""));
        assert!(matches(&d, "alice", "allow"));
        assert!(!matches(&d, "bob", ""));
        assert!(!matches(&d, "", "block"));
        assert_eq!(back("a b", ""), "/admin/devices?q=a%20b");
    }
}
