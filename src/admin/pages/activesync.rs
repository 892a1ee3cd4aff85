//! The ActiveSync tab: the URL phones use and the state database's details (the guide's
//! "Paramètres BD": here there is nothing to tune while running, so it says what there is).

use super::super::Ctx;
use super::super::html::esc;
use crate::device::{abq, registry};
use crate::http::Body;
use hyper::Response;
use std::fmt::Write;

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

pub fn page(ctx: &Ctx) -> Response<Body> {
    let app = ctx.app;
    let config = &app.config;
    let db = app.devices.db();
    let (devices, wiped, rules, global) = match (
        registry::list(db, None),
        registry::wiped(db),
        abq::rules(db),
        abq::global(db),
    ) {
        (Ok(d), Ok(w), Ok(r), Ok(g)) => (d, w, r, g),
        (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), _) | (.., Err(e)) => {
            return super::failed(ctx.area, &e);
        }
    };
    let path = config.state_path();
    let file_size = std::fs::metadata(&path).map_or_else(|e| e.to_string(), |m| size(m.len()));
    let url = crate::autodiscover::mobilesync_url(config);
    let mut body = String::new();
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-info\"><h2 id=\"h-info\">General information</h2><dl>\
         <dt>URL</dt><dd><code>{}</code></dd>\
         <dt>Server name</dt><dd>{}</dd>\
         <dt>Users</dt><dd>{}</dd></dl>\
         <p class=\"help\">Phones need only the server name (and the port when it is not the \
         scheme's default); the path is fixed by Microsoft and is shown for reading logs.</p></section>",
        esc(&url),
        esc(config.server.hostname.get_ref()),
        config.users.len(),
    );
    let listeners: Vec<String> = config
        .server
        .listen
        .iter()
        .map(|a| format!("http://{a}"))
        .chain(
            config
                .server
                .tls_listen
                .iter()
                .map(|a| format!("https://{a}")),
        )
        .collect();
    let _ = write!(
        body,
        "<section aria-labelledby=\"h-db\"><h2 id=\"h-db\">State database</h2><dl>\
         <dt>File</dt><dd><code>{}</code></dd>\
         <dt>Size</dt><dd>{}</dd>\
         <dt>Page cache</dt><dd>{} MiB (<code>state.cache_mib</code>)</dd>\
         <dt>Schema version</dt><dd>{}</dd>\
         <dt>Devices</dt><dd>{}</dd>\
         <dt>Wiped devices kept for the record</dt><dd>{}</dd>\
         <dt>ABQ rules</dt><dd>{} (global rule: {global})</dd>\
         <dt>Listeners</dt><dd>{}</dd></dl>\
         <p class=\"help\">The database holds only what phones need to sync (devices, sync keys, \
         policies, rules); mail and PIM data stay in their Maildir and vdir folders. To start \
         afresh, stop easd and move the file away: phones then sync again from scratch.</p></section>",
        esc(&path.display().to_string()),
        esc(&file_size),
        config.state.cache_mib,
        crate::state::identity::SCHEMA,
        devices.len(),
        wiped.len(),
        rules.len(),
        esc(&listeners.join(", ")),
    );
    ctx.page("ActiveSync", "activesync", &body)
}
