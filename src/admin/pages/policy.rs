//! The security-policy dialog, at any level (global, domain, user, device): the label saying
//! whether the level inherits (and from where) or is customised, every setting, "Save" (which
//! customises the level with what changed) and "Inherit" (back to the level above).

use super::super::actions::Action;
use super::super::form;
use super::super::html::{self, esc};
use super::super::{Ctx, web};
use crate::ProtocolVersion;
use crate::device::policy::levels::{self, Level, Source};
use crate::device::policy::{Kind, PolicyKey, Value};
use crate::http::Body;
use hyper::Response;
use std::collections::BTreeSet;
use std::fmt::Write;

const GROUPS: [&str; 6] = [
    "Password and encryption",
    "Synchronisation",
    "Device and server",
    "Device features",
    "S/MIME",
    "Applications",
];

fn group(key: PolicyKey) -> usize {
    let n = key.name();
    if n.contains("smime") {
        4
    } else if n.ends_with("application_list") {
        5
    } else if n.contains("password") || n.contains("encryption") || n.contains("inactivity") {
        0
    } else if matches!(
        key,
        PolicyKey::RefreshIntervalHours
            | PolicyKey::AllowNonProvisionable
            | PolicyKey::MaxProtocolVersion
            | PolicyKey::MaxDevices
    ) {
        2
    } else if n.starts_with("max_")
        || n.contains("html_email")
        || n.starts_with("attachments")
        || n.contains("roaming")
    {
        1
    } else {
        3
    }
}

/// The text an input shows for a value: empty for "none".
fn input_text(v: &Value) -> String {
    match v {
        Value::Number(None) | Value::Version(None) => String::new(),
        Value::List(l) => l.join(","),
        other => other.to_string(),
    }
}

fn field(key: PolicyKey, value: &Value) -> String {
    let name = key.name();
    let label = format!("{} ({name})", capitalise(key.help()));
    match (key.kind(), value) {
        (Kind::Bool, Value::Bool(b)) => html::checkbox(name, &label, *b),
        (Kind::Version, v) => {
            let current = input_text(v);
            let mut options: Vec<(&str, &str)> = vec![("", "No limit")];
            options.extend(
                ProtocolVersion::ALL
                    .iter()
                    .map(|v| (v.as_str(), v.as_str())),
            );
            html::select(name, &label, &options, &current)
        }
        (Kind::Range { min, max, optional }, v) => html::text_input(
            name,
            &label,
            &input_text(v),
            &format!(
                "{min} to {max}{}",
                if optional { "; empty: no limit" } else { "" }
            ),
        ),
        (Kind::OneOf(allowed), v) => html::text_input(
            name,
            &label,
            &input_text(v),
            &format!(
                "one of {}",
                allowed
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (_, v) => html::text_input(name, &label, &input_text(v), "comma-separated"),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The guide's label at the top of the dialog.
pub fn label(source: &Source) -> String {
    match source {
        Source::Customised => "These policies are specific to this level. To take the policies of \
             the level above again, click \"Inherit\"."
            .to_string(),
        Source::Inherited(Some(l)) => format!("The policies are inherited from level {l}."),
        Source::Inherited(None) => {
            "The policies are inherited from the default level (no constraints).".to_string()
        }
    }
}

fn level_of(ctx: &Ctx) -> Result<Level, String> {
    let text = match ctx.req.is_post() {
        true => ctx.req.form.text("level"),
        false => ctx.req.query.text("level"),
    };
    let text = if text.is_empty() { "global" } else { text };
    Level::parse(text, ctx.app.devices.db()).map_err(|e| e.to_string())
}

fn level_link(l: &str, current: &Level) -> String {
    let attr = if current.to_string() == l {
        " aria-current=\"page\""
    } else {
        ""
    };
    format!(
        "<a href=\"/admin/policy?level={}\"{attr}>{}</a>",
        form::encode(l),
        esc(l)
    )
}

fn url(level: &Level) -> String {
    format!("/admin/policy?level={}", form::encode(&level.to_string()))
}

pub fn page(ctx: &Ctx) -> Response<Body> {
    let level = match level_of(ctx) {
        Ok(l) => l,
        Err(e) => {
            ctx.flash(Err(e));
            return web::redirect("/admin/policy?level=global");
        }
    };
    let base = ctx.app.devices.env().base_policy();
    let resolved = match levels::resolve(ctx.app.devices.db(), &base, &level) {
        Ok(r) => r,
        Err(e) => return super::failed(ctx.area, &e),
    };
    let users: Vec<String> = ctx
        .app
        .config
        .users
        .iter()
        .map(|u| u.email.get_ref().to_ascii_lowercase())
        .collect();
    let domains: BTreeSet<&str> = users
        .iter()
        .filter_map(|u| u.rsplit_once('@').map(|(_, d)| d))
        .collect();
    let mut body = String::from(
        "<nav aria-labelledby=\"h-levels\" class=\"card\"><h2 id=\"h-levels\">Levels</h2><p>",
    );
    body.push_str(&level_link("global", &level));
    for d in &domains {
        body.push_str(" · ");
        body.push_str(&level_link(&format!("domain:{d}"), &level));
    }
    body.push_str("</p><p>");
    for (i, u) in users.iter().enumerate() {
        if i > 0 {
            body.push_str(" · ");
        }
        body.push_str(&level_link(&format!("user:{u}"), &level));
    }
    body.push_str(
        "</p><p class=\"help\">Device levels are reached from each device's window.</p></nav>",
    );
    let customised = resolved.source == Source::Customised;
    let _ = write!(
        body,
        "<p class=\"label\" id=\"inheritance\" role=\"status\">{}</p>",
        esc(&label(&resolved.source))
    );
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/admin/policy\">{}{}{}\
         <button type=\"submit\" class=\"secondary\"{}>Inherit</button></form>",
        html::csrf_field(&ctx.token),
        html::hidden("op", "inherit"),
        html::hidden("level", &level.to_string()),
        if customised { "" } else { " disabled" },
    );
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/admin/policy\">{}{}{}",
        html::csrf_field(&ctx.token),
        html::hidden("op", "set"),
        html::hidden("level", &level.to_string()),
    );
    for (g, title) in GROUPS.iter().enumerate() {
        let _ = write!(
            body,
            "<fieldset><legend>{title}</legend><div class=\"grid\">"
        );
        for (key, value) in resolved.settings.iter().filter(|(k, _)| group(*k) == g) {
            let _ = write!(body, "<div>{}</div>", field(key, &value));
        }
        body.push_str("</div></fieldset>");
    }
    let _ = write!(
        body,
        "<div class=\"actions\"><button type=\"submit\">Save</button>\
         <a class=\"button secondary\" href=\"{}\">Cancel</a></div></form>",
        url(&level)
    );
    ctx.page(&format!("Security policy: {level}"), "policy", &body)
}

pub fn post(ctx: &Ctx) -> Response<Body> {
    let level = match level_of(ctx) {
        Ok(l) => l,
        Err(e) => {
            ctx.flash(Err(e));
            return web::redirect("/admin/policy?level=global");
        }
    };
    let back = url(&level);
    match ctx.req.form.text("op") {
        "inherit" => super::act(ctx, Action::PolicyInherit(level), &back),
        "set" => {
            let base = ctx.app.devices.env().base_policy();
            let resolved = match levels::resolve(ctx.app.devices.db(), &base, &level) {
                Ok(r) => r,
                Err(e) => return super::failed(ctx.area, &e),
            };
            // Only what differs from the settings in force: saving an untouched inherited level
            // leaves it inheriting. Unparsable values go through, for the CLI to name them.
            let changes: Vec<(String, String)> = PolicyKey::ALL
                .iter()
                .filter_map(|key| {
                    let text = ctx.req.form.get(key.name())?.trim();
                    match key.parse_value(text) {
                        Ok(v) if v == resolved.settings.get(*key) => None,
                        _ => Some((key.name().to_string(), text.to_string())),
                    }
                })
                .collect();
            if changes.is_empty() {
                ctx.flash(Ok(format!("Nothing changed. {}", label(&resolved.source))));
                return web::redirect(&back);
            }
            super::act(ctx, Action::PolicySet { level, changes }, &back)
        }
        other => {
            ctx.flash(Err(format!("unknown operation {other:?}")));
            web::redirect(&back)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_group_and_a_field() {
        for key in PolicyKey::ALL {
            assert!(group(*key) < GROUPS.len());
            let f = field(*key, &key.default_value());
            assert!(f.contains(&format!("name=\"{}\"", key.name())), "{f}");
        }
        assert_eq!(group(PolicyKey::PasswordRequired), 0);
        assert_eq!(group(PolicyKey::MaxEmailAgeFilter), 1);
        assert_eq!(group(PolicyKey::AllowCamera), 3);
        assert!(
            label(&Source::Inherited(Some(Level::Global))).contains("inherited from level global")
        );
    }
}
