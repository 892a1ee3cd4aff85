//! HTTP ⇄ EAS.
use crate::app::App;
use crate::http::{self, Body, Peer};
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::sync::Arc;
pub async fn handle(_app: Arc<App>, _req: Request<Incoming>, _peer: Peer) -> Response<Body> {
    http::empty(501)
}
