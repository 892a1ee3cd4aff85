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

/// Every arm but the two that hold (Ping, Sync with Wait) is boxed: the connection keeps this future
/// for the whole life of a held Ping, and unboxed it would be the size of the largest arm (9 KB in a
/// debug build), paid by each of thousands of held Pings.
pub async fn dispatch(app: Arc<App>, req: Arc<Request>) -> Reply {
    match req.query.cmd {
        Command::Sync => sync::handle(app, req).await,
        Command::Ping => crate::push::ping::handle(app, req).await,
        Command::FolderSync => Box::pin(foldersync::handle(app, req)).await,
        Command::FolderCreate => Box::pin(foldercreate::handle(app, req)).await,
        Command::FolderUpdate => Box::pin(folderupdate::handle(app, req)).await,
        Command::FolderDelete => Box::pin(folderdelete::handle(app, req)).await,
        Command::MoveItems => Box::pin(moveitems::handle(app, req)).await,
        Command::GetItemEstimate => Box::pin(getitemestimate::handle(app, req)).await,
        Command::ItemOperations => Box::pin(itemoperations::handle(app, req)).await,
        Command::GetAttachment => Box::pin(getattachment::handle(app, req)).await,
        // Both touch the state database and may deliver a notice: off the async threads.
        Command::Provision => {
            crate::work::unblock(move || provision::handle(&app.devices, &req)).await
        }
        Command::Settings => {
            crate::work::unblock(move || settings::handle(&app.devices, &req)).await
        }
        Command::Search => Box::pin(search::handle(app, req)).await,
        Command::Find => Box::pin(find::handle(app, req)).await,
        Command::ResolveRecipients => Box::pin(resolverecipients::handle(app, req)).await,
        Command::ValidateCert => Box::pin(validatecert::handle(app, req)).await,
        Command::MeetingResponse => Box::pin(meetingresponse::handle(app, req)).await,
        Command::SendMail | Command::SmartReply | Command::SmartForward => {
            Box::pin(sendmail::handle(app, req)).await
        }
    }
}
