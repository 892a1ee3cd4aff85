//! Which handler a command goes to, and which commands OPTIONS advertises.

use super::{
    Command, Reply, Request, find, foldersync, getattachment, getitemestimate, itemoperations,
    moveitems, resolverecipients, search, sync, validatecert,
};
use crate::app::App;
use std::sync::Arc;

/// Commands with a handler, in the order OPTIONS lists them.
pub const IMPLEMENTED: &[Command] = &[
    Command::Sync,
    Command::GetAttachment,
    Command::FolderSync,
    Command::MoveItems,
    Command::GetItemEstimate,
    Command::ItemOperations,
    Command::Search,
    Command::ResolveRecipients,
    Command::ValidateCert,
    Command::Find,
];

pub async fn dispatch(app: Arc<App>, req: Arc<Request>) -> Reply {
    match req.query.cmd {
        Command::Sync => sync::handle(app, req).await,
        Command::FolderSync => foldersync::handle(app, req).await,
        Command::MoveItems => moveitems::handle(app, req).await,
        Command::GetItemEstimate => getitemestimate::handle(app, req).await,
        Command::ItemOperations => itemoperations::handle(app, req).await,
        Command::GetAttachment => getattachment::handle(app, req).await,
        Command::Search => search::handle(app, req).await,
        Command::Find => find::handle(app, req).await,
        Command::ResolveRecipients => resolverecipients::handle(app, req).await,
        Command::ValidateCert => validatecert::handle(app, req).await,
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
