//! ABQ rules: the global rule, the list with allow / block / quarantine icons, and the rule window
//! to add or edit one; delete, and enable / disable without deleting (the guide's check box).

use super::super::actions::Action;
use super::super::html::{self, esc};
use super::super::{Ctx, web};
use crate::device::abq::{self, Access, Rule, RuleOn};
use crate::http::Body;
use hyper::Response;
use std::fmt::Write;

const ACCESS: &[(&str, &str)] = &[
    ("allow", "Allow"),
    ("block", "Block"),
    ("quarantine", "Quarantine"),
];
const ON: &[(&str, &str)] = &[
    ("os", "OS"),
    ("model", "Model"),
    ("type", "Type"),
    ("domain", "Domain"),
    ("user", "User"),
];
const BACK: &str = "/admin/abq";

pub fn list(ctx: &Ctx) -> Response<Body> {
    let db = ctx.app.devices.db();
    let (rules, global) = match (abq::rules(db), abq::global(db)) {
        (Ok(r), Ok(g)) => (r, g),
        (Err(e), _) | (_, Err(e)) => return super::failed(ctx.area, &e),
    };
    let t = &ctx.token;
    let mut body = format!(
        "<section aria-labelledby=\"h-global\"><h2 id=\"h-global\">Global rule</h2>\
         <form method=\"post\" action=\"{BACK}\">{}{}{}\
         <p class=\"help\">For devices no rule below matches.</p>\
         <p><button type=\"submit\">Save global rule</button></p></form></section>",
        html::csrf_field(t),
        html::hidden("op", "global"),
        html::select("action", "Global rule", ACCESS, &global.to_string()),
    );
    body.push_str(
        "<section aria-labelledby=\"h-rules\"><h2 id=\"h-rules\">Rules</h2>\
         <p class=\"help\">Checked in this order: user, domain, then OS, model and type (a \
         case-sensitive prefix of what the device reports; the longest wins), then the global rule.</p>\
         <p><a class=\"button\" href=\"/admin/abq/new\">Add rule</a></p>",
    );
    if rules.is_empty() {
        body.push_str("<p class=\"muted\">No rules yet.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table class=\"cards\"><thead><tr><th scope=\"col\">Action</th>\
             <th scope=\"col\">Active</th><th scope=\"col\">On</th><th scope=\"col\">Value</th>\
             <th scope=\"col\">Description</th><th scope=\"col\">Change</th></tr></thead><tbody>",
        );
        for r in &rules {
            let id = r.id.to_string();
            let toggle = if r.enabled {
                html::button_form(BACK, t, "disable", &[("id", &id)], "Disable", "secondary")
            } else {
                html::button_form(BACK, t, "enable", &[("id", &id)], "Enable", "secondary")
            };
            let _ = write!(
                body,
                "<tr><td data-label=\"Action\">{} {}</td><td data-label=\"Active\">{}</td>\
                 <td data-label=\"On\">{}</td><td data-label=\"Value\">{}</td>\
                 <td data-label=\"Description\">{}</td><td><div class=\"actions\">\
                 <a class=\"button secondary\" href=\"/admin/abq/{id}\">Edit<span class=\"sr-only\"> rule {id}</span></a>\
                 {toggle}{}</div></td></tr>",
                html::access_icon(r.action),
                r.action,
                if r.enabled { "yes" } else { "no" },
                r.on,
                esc(&r.value),
                esc(&r.description),
                html::button_form(BACK, t, "delete", &[("id", &id)], "Delete", "danger"),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str("</section>");
    ctx.page("ABQ rules", "abq", &body)
}

/// The rule window, empty for a new rule.
pub fn edit_form(ctx: &Ctx, id: Option<u64>) -> Response<Body> {
    let rule = match id {
        None => None,
        Some(id) => match abq::rules(ctx.app.devices.db()) {
            Ok(rules) => match rules.into_iter().find(|r| r.id == id) {
                Some(r) => Some(r),
                None => return super::not_found(ctx.area),
            },
            Err(e) => return super::failed(ctx.area, &e),
        },
    };
    let r = rule.unwrap_or(Rule {
        id: 0,
        on: RuleOn::Os,
        value: String::new(),
        action: Access::Allow,
        enabled: true,
        description: String::new(),
    });
    let (title, op) = match id {
        Some(_) => ("Edit ABQ rule", "edit"),
        None => ("Add ABQ rule", "add"),
    };
    let body = format!(
        "<section><form method=\"post\" action=\"{BACK}\">{}{}{}{}{}{}{}{}\
         <p><button type=\"submit\">Save</button> <a class=\"button secondary\" href=\"{BACK}\">Cancel</a></p>\
         </form></section>",
        html::csrf_field(&ctx.token),
        html::hidden("op", op),
        html::hidden("id", &r.id.to_string()),
        html::checkbox("enabled", "Active", r.enabled),
        html::text_input("description", "Description", &r.description, ""),
        html::select("on", "Characteristic", ON, &r.on.to_string()),
        html::text_input(
            "value",
            "Value",
            &r.value,
            "OS, model, type: the start of what the device reports (\"iOS\", \"Pixel\"); domain: \
             example.com; user: an address."
        ),
        html::select("action", "Action", ACCESS, &r.action.to_string()),
    );
    ctx.page(title, "abq", &body)
}

fn parse<T: std::str::FromStr<Err = crate::device::DeviceError>>(
    ctx: &Ctx,
    name: &str,
) -> Result<T, String> {
    ctx.req
        .form
        .text(name)
        .parse()
        .map_err(|e: crate::device::DeviceError| e.to_string())
}

fn id(ctx: &Ctx) -> Result<u64, String> {
    ctx.req
        .form
        .text("id")
        .parse()
        .map_err(|_| "no rule id".to_string())
}

/// The form's action, or why the form makes no sense.
fn action(ctx: &Ctx) -> Result<Vec<Action>, String> {
    let f = &ctx.req.form;
    Ok(match f.text("op") {
        "global" => vec![Action::AbqGlobal(parse(ctx, "action")?)],
        "delete" => vec![Action::AbqRemove(id(ctx)?)],
        "enable" => vec![Action::AbqEnable {
            id: id(ctx)?,
            enabled: true,
        }],
        "disable" => vec![Action::AbqEnable {
            id: id(ctx)?,
            enabled: false,
        }],
        op @ ("add" | "edit") => {
            let on = parse(ctx, "on")?;
            let value = f.text("value").to_string();
            let access = parse(ctx, "action")?;
            let description = f.text("description").to_string();
            let enabled = f.get("enabled") == Some("true");
            if op == "add" {
                return Ok(vec![Action::AbqAdd {
                    on,
                    value,
                    access,
                    description,
                    enabled,
                }]);
            }
            let id = id(ctx)?;
            vec![
                Action::AbqEdit {
                    id,
                    on,
                    value,
                    access,
                    description,
                },
                Action::AbqEnable { id, enabled },
            ]
        }
        other => return Err(format!("unknown operation {other:?}")),
    })
}

pub fn post(ctx: &Ctx) -> Response<Body> {
    let actions = match action(ctx) {
        Ok(a) => a,
        Err(e) => {
            ctx.flash(Err(e));
            return web::redirect(BACK);
        }
    };
    let mut out = String::new();
    for a in actions {
        match a.run(ctx.app, ctx.who()) {
            Ok(text) => out.push_str(&text),
            Err(e) => {
                ctx.flash(Err(e));
                return web::redirect(BACK);
            }
        }
    }
    ctx.flash(Ok(out));
    web::redirect(BACK)
}
