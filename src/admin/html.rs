//! HTML building blocks: escaping, the page layout (header, navigation, flash message), and the
//! small widgets every page repeats (CSRF field, ABQ icons, buttons). Every text that comes from
//! a device, a user or the configuration goes through `esc`.

use super::Area;
use super::session::Flash;
use crate::device::abq::Access;
use std::fmt::Write;

/// Escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the header shows about the page.
pub struct Layout<'a> {
    pub area: Area,
    pub title: &'a str,
    /// The navigation entry to mark as current.
    pub current: &'a str,
    /// Who is logged in, with the CSRF token for the logout form.
    pub who: Option<(&'a str, &'a str)>,
    pub flash: Option<Flash>,
}

/// The navigation of each area: (path under the area, label).
fn nav(area: Area) -> &'static [(&'static str, &'static str)] {
    match area {
        Area::Admin => &[
            ("activesync", "ActiveSync"),
            ("abq", "ABQ rules"),
            ("devices", "Devices"),
            ("policy", "Security policy"),
        ],
        Area::Account => &[("", "My devices")],
    }
}

pub fn page(layout: Layout, body: &str) -> String {
    let base = layout.area.base();
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · easd</title><link rel=\"stylesheet\" href=\"{base}/style.css\"></head><body>\
         <header><span class=\"brand\">easd {}</span>",
        esc(layout.title),
        layout.area.label()
    );
    if let Some((who, token)) = layout.who {
        out.push_str("<nav aria-label=\"Main\">");
        for (path, label) in nav(layout.area) {
            let current = if *path == layout.current {
                " aria-current=\"page\""
            } else {
                ""
            };
            let href = if path.is_empty() {
                base.to_string()
            } else {
                format!("{base}/{path}")
            };
            let _ = write!(out, "<a href=\"{href}\"{current}>{label}</a>");
        }
        let _ = write!(
            out,
            "</nav><form method=\"post\" action=\"{base}/logout\">{}\
             <span class=\"muted\">{}</span> <button class=\"secondary\" type=\"submit\">Log out</button></form>",
            csrf_field(token),
            esc(who)
        );
    }
    let _ = write!(out, "</header><main><h1>{}</h1>", esc(layout.title));
    if let Some(f) = layout.flash {
        let (class, role) = if f.ok {
            ("ok", "status")
        } else {
            ("error", "alert")
        };
        let _ = write!(
            out,
            "<div class=\"flash {class}\" role=\"{role}\">{}</div>",
            esc(f.text.trim_end())
        );
    }
    out.push_str(body);
    out.push_str("</main></body></html>\n");
    out
}

pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        super::csrf::FIELD,
        esc(token)
    )
}

/// A hidden field.
pub fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        esc(name),
        esc(value)
    )
}

/// A one-button form posting `op` (and extra hidden fields) to `action`.
pub fn button_form(
    action: &str,
    token: &str,
    op: &str,
    fields: &[(&str, &str)],
    label: &str,
    class: &str,
) -> String {
    let mut out = format!(
        "<form method=\"post\" action=\"{}\">{}{}",
        esc(action),
        csrf_field(token),
        hidden("op", op)
    );
    for (k, v) in fields {
        out.push_str(&hidden(k, v));
    }
    let _ = write!(
        out,
        "<button type=\"submit\" class=\"{class}\">{}</button></form>",
        esc(label)
    );
    out
}

/// The guide's list icons: allowed, blocked, quarantined. Inline SVG (no font has to carry the
/// symbol, nothing is fetched), named for screen readers.
pub fn access_icon(a: Access) -> String {
    let (text, shape) = match a {
        Access::Allow => (
            "allowed",
            "<circle cx=\"8\" cy=\"8\" r=\"7\" fill=\"#1d7a3a\"/><path d=\"M4.5 8.2l2.3 2.3 4.7-4.8\" \
             stroke=\"#fff\" stroke-width=\"1.8\" fill=\"none\"/>",
        ),
        Access::Block => (
            "blocked",
            "<circle cx=\"8\" cy=\"8\" r=\"7\" fill=\"#b3261e\"/><rect x=\"3.5\" y=\"7\" width=\"9\" \
             height=\"2\" fill=\"#fff\"/>",
        ),
        Access::Quarantine => (
            "quarantined",
            "<path d=\"M8 1l7 13H1z\" fill=\"#9a6400\"/><rect x=\"7.1\" y=\"5\" width=\"1.8\" \
             height=\"5\" fill=\"#fff\"/><rect x=\"7.1\" y=\"11\" width=\"1.8\" height=\"1.8\" fill=\"#fff\"/>",
        ),
    };
    format!(
        "<svg class=\"icon {a}\" role=\"img\" aria-label=\"{text}\" width=\"16\" height=\"16\" \
         viewBox=\"0 0 16 16\"><title>{text}</title>{shape}</svg>"
    )
}

/// A `<select>` with a label; `options` are (value, text).
pub fn select(name: &str, label: &str, options: &[(&str, &str)], selected: &str) -> String {
    let mut out = format!(
        "<label for=\"f-{n}\">{}</label><select id=\"f-{n}\" name=\"{n}\">",
        esc(label),
        n = esc(name)
    );
    for (value, text) in options {
        let sel = if *value == selected { " selected" } else { "" };
        let _ = write!(
            out,
            "<option value=\"{}\"{sel}>{}</option>",
            esc(value),
            esc(text)
        );
    }
    out.push_str("</select>");
    out
}

/// A labelled text input.
pub fn text_input(name: &str, label: &str, value: &str, help: &str) -> String {
    let mut out = format!(
        "<label for=\"f-{n}\">{}</label><input type=\"text\" id=\"f-{n}\" name=\"{n}\" value=\"{}\"",
        esc(label),
        esc(value),
        n = esc(name)
    );
    if help.is_empty() {
        out.push('>');
    } else {
        let _ = write!(
            out,
            " aria-describedby=\"h-{n}\"><p class=\"help\" id=\"h-{n}\">{}</p>",
            esc(help),
            n = esc(name)
        );
    }
    out
}

/// A checkbox that always submits a value: a hidden "false" before it, which a ticked box
/// overrides (the form parser keeps the last value).
pub fn checkbox(name: &str, label: &str, checked: bool) -> String {
    format!(
        "<input type=\"hidden\" name=\"{n}\" value=\"false\"><label class=\"check\"><input type=\"checkbox\" \
         name=\"{n}\" value=\"true\"{}> {}</label>",
        if checked { " checked" } else { "" },
        esc(label),
        n = esc(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_layout() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let html = page(
            Layout {
                area: Area::Admin,
                title: "T<1>",
                current: "abq",
                who: Some(("root<", "tok")),
                flash: Some(Flash {
                    ok: false,
                    text: "<b>no</b>".into(),
                }),
            },
            "<p>body</p>",
        );
        assert!(html.contains("<title>T&lt;1&gt; · easd</title>"));
        assert!(html.contains("href=\"/admin/abq\" aria-current=\"page\""));
        assert!(html.contains("role=\"alert\">&lt;b&gt;no&lt;/b&gt;"));
        assert!(html.contains("root&lt;"));
        assert!(html.contains("name=\"csrf\" value=\"tok\""));
        assert!(html.contains("name=\"viewport\""));
    }
}
