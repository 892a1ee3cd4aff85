//! What follows a local delivery: the recipient's Out-of-Office auto-reply, sent into a local
//! sender's INBOX or through the smarthost. It needs the state database, which the running server
//! owns, so `easd deliver` asks the server over the control socket ([`CONTROL_COMMAND`]) and
//! runs it itself only when no server is running.

use crate::app::App;
use crate::device::oof::{self, AutoReply};
use crate::device::{DeviceError, notify};
use crate::outbound::SendError;
use crate::state::mail::collection_name;
use crate::store::{Flags, FolderName, MessageKey, MessageRef, StoreError};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The control-socket command: `["delivered", <user>, <folder on disk>, <message key>]`.
pub const CONTROL_COMMAND: &str = "delivered";

#[derive(Debug)]
pub enum DeliveryError {
    /// The control command's arguments are not a user, a folder and a key.
    Usage(String),
    UnknownUser(String),
    Store(StoreError),
    Device(DeviceError),
    Send(SendError),
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Usage(m) => f.write_str(m),
            DeliveryError::UnknownUser(u) => write!(f, "{u}: no such user"),
            DeliveryError::Store(e) => e.fmt(f),
            DeliveryError::Device(e) => e.fmt(f),
            DeliveryError::Send(e) => write!(f, "auto-reply not sent: {e}"),
        }
    }
}

impl std::error::Error for DeliveryError {}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        DeliveryError::Store(e)
    }
}

impl From<DeviceError> for DeliveryError {
    fn from(e: DeviceError) -> Self {
        DeliveryError::Device(e)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The control command's arguments for a message just delivered.
pub fn control_args(user: &str, folder: &FolderName, key: &MessageKey) -> Vec<String> {
    vec![
        CONTROL_COMMAND.to_string(),
        user.to_string(),
        folder.as_str().to_string(),
        key.as_str().to_string(),
    ]
}

/// Runs the control command (arguments after its name); answers what was done.
pub fn control(app: &App, args: &[String]) -> Result<String, DeliveryError> {
    let [user, folder, key] = args else {
        return Err(DeliveryError::Usage(format!(
            "{CONTROL_COMMAND} needs a user, a folder and a message key"
        )));
    };
    let folder = FolderName::parse(folder)?;
    let key = MessageKey::parse(key)?;
    Ok(match after_delivery(app, user, &folder, &key)? {
        Some(to) => format!("auto-reply sent to {to}\n"),
        None => String::new(),
    })
}

/// Sends the recipient's auto-reply to the message `key` just delivered into `folder` of `user`,
/// if one is due; returns its recipient.
pub fn after_delivery(
    app: &App,
    user: &str,
    folder: &FolderName,
    key: &MessageKey,
) -> Result<Option<String>, DeliveryError> {
    let Some(account) = app.config.user(user) else {
        return Err(DeliveryError::UnknownUser(user.to_string()));
    };
    let user = account.email.get_ref().as_str();
    let store = app.mail_store(user)?;
    let raw = store.read(
        folder,
        &MessageRef {
            key: key.clone(),
            flags: Flags::EMPTY,
        },
    )?;
    // The new message gets into the search index before anyone searches for it.
    app.search.sweep(user);
    if folder == &FolderName::inbox() {
        schedule(app, user, &raw);
    }
    let env = app.devices.env();
    match oof::auto_reply_for(&app.db, env, user, &raw, false, now())? {
        Some(reply) => send_reply(app, user, reply).map(Some),
        None => Ok(None),
    }
}

/// Puts an invitation that arrived in the Inbox into the user's calendar. A failure is logged:
/// the message is delivered either way and still syncs with its MeetingRequest.
fn schedule(app: &App, user: &str, raw: &[u8]) {
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return;
    };
    match crate::collections::scheduling::on_delivery(app, user, &message) {
        Ok(Some(done)) => log::info!("{user}: invitation delivered: {done}"),
        Ok(None) => {}
        Err(e) => log::warn!("{user}: invitation not put into the calendar: {e}"),
    }
}

/// Delivers an auto-reply from `user`: into the INBOX of a local recipient (waking its devices),
/// otherwise through the smarthost.
fn send_reply(app: &App, user: &str, reply: AutoReply) -> Result<String, DeliveryError> {
    send_from(app, user, &reply.to, &reply.message)
}

/// Sends a message easd wrote on `user`'s behalf (an auto-reply, a meeting answer) to one
/// recipient `to`: into a local user's INBOX, waking their devices, else through the smarthost
/// (queued when deferred). Returns the recipient as delivered to.
pub fn send_from(app: &App, user: &str, to: &str, message: &[u8]) -> Result<String, DeliveryError> {
    let env = app.devices.env();
    if let Some((local, _)) = env.local_user(to) {
        notify::deliver(env, local, message)?;
        schedule(app, local, message);
        if let Ok(Some(inbox)) = app
            .index
            .find_collection(local, &collection_name(&FolderName::inbox()))
        {
            app.hub.notify(local, Some(inbox.id().0));
        }
        return Ok(local.clone());
    }
    let is_local = |a: &str| env.local_user(a).is_some();
    smol::block_on(app.outbound.send(user, message, is_local)).map_err(DeliveryError::Send)?;
    Ok(to.to_string())
}
