//! Which handler a command goes to, and which commands OPTIONS advertises.

use super::{Command, Reply, Request, provision, settings};
use crate::app::App;
use std::sync::Arc;

/// Commands with a handler, in the order OPTIONS lists them.
pub const IMPLEMENTED: &[Command] = &[Command::Settings, Command::Provision];

pub async fn dispatch(app: Arc<App>, req: Arc<Request>) -> Reply {
    match req.query.cmd {
        // Both touch the state database and may deliver a notice: off the async threads.
        Command::Provision => smol::unblock(move || provision::handle(&app.devices, &req)).await,
        Command::Settings => smol::unblock(move || settings::handle(&app.devices, &req)).await,
        _ => {
            log::info!(
                "{} [{}] {}: not implemented",
                req.query.device_id,
                req.user,
                req.query.cmd
            );
            Reply::Status(501)
        }
    }
}
