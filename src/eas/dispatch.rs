//! Which handler a command goes to, and which commands OPTIONS advertises.

use super::{
    Command, Reply, Request, find, foldercreate, folderdelete, foldersync, folderupdate,
    getattachment, getitemestimate, itemoperations, meetingresponse, moveitems, provision,
    resolverecipients, search, sendmail, settings, sync, validatecert,
};
use crate::app::App;
use std::sync::Arc;

/// Commands with a handler, in the order OPTIONS lists them.
pub const IMPLEMENTED: &[Command] = &[
    Command::Sync,
    Command::SendMail,
    Command::SmartForward,
    Command::SmartReply,
    Command::GetAttachment,
    Command::FolderSync,
    Command::FolderCreate,
    Command::FolderDelete,
    Command::FolderUpdate,
    Command::MoveItems,
    Command::GetItemEstimate,
    Command::Settings,
    Command::Ping,
    Command::ItemOperations,
    Command::Provision,
    Command::Search,
    Command::ResolveRecipients,
    Command::ValidateCert,
    Command::Find,
    Command::MeetingResponse,
];

pub async fn dispatch(app: Arc<App>, req: Arc<Request>) -> Reply {
    match req.query.cmd {
        Command::Sync => sync::handle(app, req).await,
        Command::Ping => crate::push::ping::handle(app, req).await,
        Command::FolderSync => foldersync::handle(app, req).await,
        Command::FolderCreate => foldercreate::handle(app, req).await,
        Command::FolderUpdate => folderupdate::handle(app, req).await,
        Command::FolderDelete => folderdelete::handle(app, req).await,
        Command::MoveItems => moveitems::handle(app, req).await,
        Command::GetItemEstimate => getitemestimate::handle(app, req).await,
        Command::ItemOperations => itemoperations::handle(app, req).await,
        Command::GetAttachment => getattachment::handle(app, req).await,
        // Both touch the state database and may deliver a notice: off the async threads.
        Command::Provision => smol::unblock(move || provision::handle(&app.devices, &req)).await,
        Command::Settings => smol::unblock(move || settings::handle(&app.devices, &req)).await,
        Command::Search => search::handle(app, req).await,
        Command::Find => find::handle(app, req).await,
        Command::ResolveRecipients => resolverecipients::handle(app, req).await,
        Command::ValidateCert => validatecert::handle(app, req).await,
        Command::MeetingResponse => meetingresponse::handle(app, req).await,
        Command::SendMail | Command::SmartReply | Command::SmartForward => {
            sendmail::handle(app, req).await
        }
    }
}
