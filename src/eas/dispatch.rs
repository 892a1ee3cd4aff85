//! Which handler a command goes to, and which commands OPTIONS advertises.

use super::{Command, Reply, Request};
use crate::app::App;
use std::sync::Arc;

/// Commands with a handler, in the order OPTIONS lists them.
pub const IMPLEMENTED: &[Command] = &[];

pub async fn dispatch(_app: Arc<App>, req: Arc<Request>) -> Reply {
    log::info!(
        "{} [{}] {}: not implemented",
        req.query.device_id,
        req.user,
        req.query.cmd
    );
    Reply::Status(501)
}
