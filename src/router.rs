//! Which handler a request path goes to.

use crate::app::App;
use crate::http::body::Incoming;
use crate::http::{self, Body, Peer};
use hyper::{Request, Response};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Every asynchronous arm is boxed: this future lives inside the connection's task for as long as
/// the connection does, and unboxed it would be the size of the largest arm (the admin console's),
/// paid by each of thousands of held Pings.
pub async fn route(app: Arc<App>, req: Request<Incoming>, peer: Peer) -> Response<Body> {
    app.stats.requests.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().trim_end_matches('/').to_ascii_lowercase();
    match path.as_str() {
        "/microsoft-server-activesync" => {
            Box::pin(crate::eas::endpoint::handle(app, req, peer)).await
        }
        "/autodiscover/autodiscover.xml" => {
            Box::pin(crate::autodiscover::handle_xml(app, req, peer)).await
        }
        p if p == "/autodiscover/autodiscover.json"
            || p.starts_with("/autodiscover/autodiscover.json/") =>
        {
            crate::autodiscover::handle_json(&app, &req)
        }
        p if p == "/admin" || p.starts_with("/admin/") => {
            Box::pin(crate::admin::handle(
                app,
                req,
                peer,
                crate::admin::Area::Admin,
            ))
            .await
        }
        p if p == "/account" || p.starts_with("/account/") => {
            Box::pin(crate::admin::handle(
                app,
                req,
                peer,
                crate::admin::Area::Account,
            ))
            .await
        }
        "/debug/stats" if peer.addr.ip().is_loopback() && !peer.tls => {
            http::with_body(200, "application/json", app.stats.to_json())
        }
        _ => http::empty(404),
    }
}
