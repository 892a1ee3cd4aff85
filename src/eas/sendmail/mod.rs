//! SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17, 2.2.1.19, 2.2.1.20): the message
//! a device sends leaves through [`crate::outbound`]. Local recipients get it in their INBOX
//! (waking their push), remote ones through the smarthost, deferred ones through the queue; a
//! copy goes to Sent when asked; SmartReply and SmartForward complete the message from the
//! original and mark it answered or forwarded.
//!
//! The answer is empty on success. Otherwise 14.0+ devices get the ComposeMail Status, older
//! ones an HTTP status, since their protocol has no body for the failure.

pub mod client_ids;
pub mod request;

pub use request::{
    ComposeBody, ComposeCommand, ComposeRequest, ComposeResponse, ComposeSource, ComposeStatus,
    Forwardee,
};

use super::ids::{CollectionId, ServerId};
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::scheduling::{self, CalendarFolder, SchedulingError};
use crate::collections::{Account, BackendError, Folder, FolderType, ItemBackend, ItemClass};
use crate::items::email::address::Mailbox;
use crate::items::email::{LastVerb, SmartError, SmartKind, reply_verb, smart_message};
use crate::items::imip_forward;
use crate::items::pim::ItemError;
use crate::outbound::{Permanent, PrepareError, SendError, SendOutcome, SmtpError};
use crate::state::index::{Item, Uid};
use crate::state::mail::collection_name;
use crate::store::vdir::{Href, PimError};
use crate::store::{FlagUpdate, Flags, FolderName};
use jiff::Timestamp;
use mail_parser::{HeaderName, MessageParser};
use std::sync::Arc;

/// A request that passed every check, with the message to send.
struct Ready {
    request: ComposeRequest,
    message: Vec<u8>,
    /// The message replied to or forwarded, to mark.
    original: Option<Original>,
}

/// A mail original and what was done with it.
struct Original {
    folder_id: u32,
    uid: u32,
    verb: LastVerb,
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let Some(command) = ComposeCommand::from_command(req.query.cmd) else {
        return Reply::Status(501);
    };
    let parsed = match &req.tree {
        Some(tree) => ComposeRequest::parse(tree).map_err(|e| e.to_string()),
        None => ComposeRequest::from_query(&req.query, &req.body)
            .ok_or_else(|| "not a mail command".to_string()),
    };
    let request = match parsed {
        Ok(r) => r,
        Err(e) => {
            log::info!("{} [{}] {command:?}: {e}", req.query.device_id, req.user);
            return answer(command, req.version, Some(ComposeStatus::InvalidXml));
        }
    };
    // A repeated request must see the ClientId its first copy recorded.
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let ready = {
        let (app, req) = (app.clone(), req.clone());
        crate::work::unblock(move || check_and_compose(&app, &req, request)).await
    };
    let ready = match ready {
        Ok(r) => r,
        Err(status) => return answer(command, req.version, Some(status)),
    };
    let env = app.devices.env();
    let sent = app
        .outbound
        .send(&req.user, &ready.message, |a| env.local_user(a).is_some())
        .await;
    let outcome = match sent {
        Ok(o) => o,
        Err(e) => {
            let status = send_status(&e);
            log::warn!(
                "{} [{}] {command:?}: not sent ({status}): {e}",
                req.query.device_id,
                req.user
            );
            return answer(command, req.version, Some(status));
        }
    };
    let status = {
        let (app, req) = (app.clone(), req.clone());
        crate::work::unblock(move || after_send(&app, &req, &ready, &outcome)).await
    };
    answer(command, req.version, status)
}

/// The reply for a status: empty on success; a Status element from 14.0, an HTTP status before.
fn answer(
    command: ComposeCommand,
    version: ProtocolVersion,
    status: Option<ComposeStatus>,
) -> Reply {
    let Some(status) = status else {
        return Reply::Empty;
    };
    if version >= ProtocolVersion::V14_0 {
        return ComposeResponse {
            command,
            status: Some(status),
        }
        .encode()
        .map_or(Reply::Empty, Reply::Wbxml);
    }
    Reply::Status(match status {
        ComposeStatus::InvalidContent
        | ComposeStatus::InvalidWbxml
        | ComposeStatus::InvalidXml
        | ComposeStatus::InvalidDateTime
        | ComposeStatus::InvalidCombinationOfIds
        | ComposeStatus::InvalidMime
        | ComposeStatus::MessageRecipientUnresolved
        | ComposeStatus::MessageHasNoRecipient
        | ComposeStatus::InvalidAccountId => 400,
        ComposeStatus::ItemNotFound => 404,
        ComposeStatus::AttachmentIsTooLarge => 413,
        ComposeStatus::ServerErrorRetryLater => 503,
        _ => 500,
    })
}

/// The spec's status for a message the outbound engine would not take.
fn send_status(e: &SendError) -> ComposeStatus {
    match e {
        SendError::Prepare(PrepareError::NoHeaders) => ComposeStatus::InvalidMime,
        SendError::Prepare(PrepareError::NoRecipients) => ComposeStatus::MessageHasNoRecipient,
        SendError::Prepare(PrepareError::BadRecipient(_)) => {
            ComposeStatus::MessageRecipientUnresolved
        }
        SendError::Prepare(PrepareError::BadSender(_)) => ComposeStatus::ServerError,
        SendError::Prepare(PrepareError::Random) => ComposeStatus::ServerErrorRetryLater,
        SendError::TooLarge { .. } => ComposeStatus::AttachmentIsTooLarge,
        SendError::Rejected(SmtpError::Permanent(Permanent::TooLarge { .. })) => {
            ComposeStatus::AttachmentIsTooLarge
        }
        SendError::NoSmarthost { .. } | SendError::Refused(_) | SendError::Rejected(_) => {
            ComposeStatus::MailSubmissionFailed
        }
        SendError::Queue(_) => ComposeStatus::ServerErrorRetryLater,
    }
}

/// Everything that can be decided before sending: the request's own checks, a repeated
/// ClientId, the original message, and the message to send.
fn check_and_compose(
    app: &App,
    req: &Request,
    request: ComposeRequest,
) -> Result<Ready, ComposeStatus> {
    let (user, device) = (req.user.as_str(), req.query.device_id.as_str());
    let log_prefix = format!("{device} [{user}] {:?}", request.command);
    if let Some(account) = &request.account_id
        && !account.eq_ignore_ascii_case(user)
    {
        log::info!("{log_prefix}: AccountId {account:?} is not the user's");
        return Err(ComposeStatus::InvalidAccountId);
    }
    if request.template_id.is_some() {
        log::info!("{log_prefix}: IRM TemplateID given, but rights management is not offered");
        return Err(ComposeStatus::IrmFeatureDisabled);
    }
    if let Some(id) = &request.client_id {
        if !client_ids::is_valid(id) {
            log::info!("{log_prefix}: unusable ClientId {id:?}");
            return Err(ComposeStatus::InvalidXml);
        }
        match client_ids::seen(&app.db, user, device, id) {
            Ok(true) => {
                log::info!("{log_prefix}: ClientId {id:?} was already sent, not sending again");
                return Err(ComposeStatus::MessagePreviouslySent);
            }
            Ok(false) => {}
            Err(e) => {
                log::error!("{log_prefix}: {e}");
                return Err(ComposeStatus::ServerError);
            }
        }
    }
    if request.forwardees.is_empty() && !starts_with_a_field(&request.mime) {
        log::info!("{log_prefix}: the message does not start with a header field");
        return Err(ComposeStatus::InvalidMime);
    }
    let kind = match request.command {
        ComposeCommand::SendMail => None,
        ComposeCommand::SmartReply => Some(SmartKind::Reply),
        ComposeCommand::SmartForward => Some(SmartKind::Forward),
    };
    let Some(kind) = kind else {
        let message = request.mime.clone();
        return Ok(Ready {
            request,
            message,
            original: None,
        });
    };
    let source = request.source.clone().unwrap_or_default();
    let (mail, original) = match find_original(app, user, device, &source, &log_prefix)? {
        Source::Mail(folder_id, uid, raw) => (Some((folder_id, uid)), raw),
        Source::Event(raw) => (None, raw),
    };
    // 16.0 Forwardees: the server writes the message the client would have sent.
    let client = if request.forwardees.is_empty() {
        request.mime.clone()
    } else {
        let me = scheduling::attendee(app, user);
        let to: Vec<Mailbox> = request
            .forwardees
            .iter()
            .map(|f| Mailbox {
                name: f.name.clone().filter(|n| !n.is_empty()),
                address: f.email.clone(),
            })
            .collect();
        let subject = MessageParser::new()
            .parse_headers(&original)
            .and_then(|m| m.subject().map(str::to_string))
            .unwrap_or_default();
        let body = request.body.clone().unwrap_or(ComposeBody {
            html: false,
            data: String::new(),
        });
        imip_forward::forward_message(
            &Mailbox {
                name: me.name,
                address: me.address,
            },
            &to,
            &subject,
            &body.data,
            body.html,
        )
    };
    let message = match smart_message(kind, &client, &original, request.replace_mime) {
        Ok(m) => m,
        Err(SmartError::NotAMessage) => {
            log::info!("{log_prefix}: the client's message has no header");
            return Err(ComposeStatus::InvalidMime);
        }
        Err(e @ SmartError::Random) => {
            log::error!("{log_prefix}: {e}");
            return Err(ComposeStatus::ServerErrorRetryLater);
        }
    };
    let verb = match kind {
        SmartKind::Forward => LastVerb::Forward,
        SmartKind::Reply => reply_verb(&client, &original, |a| a.eq_ignore_ascii_case(user)),
    };
    Ok(Ready {
        request,
        message,
        // An event has no answered or forwarded flag to set.
        original: mail.map(|(folder_id, uid)| Original {
            folder_id,
            uid,
            verb,
        }),
    })
}

/// Whether `raw` begins with an RFC 5322 header field (a name of printable characters and a
/// colon), which mail-parser alone does not insist on.
fn starts_with_a_field(raw: &[u8]) -> bool {
    let name_len = raw
        .iter()
        .take_while(|&&b| b.is_ascii_graphic() && b != b':')
        .count();
    name_len > 0 && raw.get(name_len) == Some(&b':')
}

/// Whether `s` is an EAS DateTime (`2024-01-31T10:00:00.000Z`, MS-ASDTYPE 2.3).
fn is_eas_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// What a SmartReply or SmartForward refers to.
enum Source {
    /// A message: its folder id, uid and bytes.
    Mail(u32, u32, Vec<u8>),
    /// A calendar item (16.0+), as the message standing for it.
    Event(Vec<u8>),
}

/// The message or calendar item a SmartReply or SmartForward refers to.
fn find_original(
    app: &App,
    user: &str,
    device: &str,
    source: &ComposeSource,
    log_prefix: &str,
) -> Result<Source, ComposeStatus> {
    let internal = |e: String| {
        log::error!("{log_prefix}: {e}");
        ComposeStatus::ServerError
    };
    if let Some(instance) = &source.instance_id
        && !is_eas_datetime(instance.trim())
    {
        log::info!("{log_prefix}: InstanceId {instance:?} is not a DateTime");
        return Err(ComposeStatus::InvalidDateTime);
    }
    // A LongId names the message by itself; with an ItemId too the request is ambiguous.
    let id = match (&source.long_id, &source.item_id) {
        (Some(_), Some(_)) => return Err(ComposeStatus::InvalidCombinationOfIds),
        (Some(long), None) => long,
        (None, Some(item)) => item,
        (None, None) => {
            log::info!("{log_prefix}: Source names no message");
            return Err(ComposeStatus::ItemNotFound);
        }
    };
    let not_found = || {
        log::info!(
            "{log_prefix}: no message {id:?} (folder {:?})",
            source.folder_id
        );
        ComposeStatus::ItemNotFound
    };
    let (coll_id, uid) = ServerId::parse(id.trim())
        .ok()
        .and_then(|s| s.numbers())
        .ok_or_else(not_found)?;
    if let Some(f) = &source.folder_id
        && source.long_id.is_none()
        && CollectionId::parse(f.trim()).ok().and_then(|c| c.number()) != Some(coll_id)
    {
        return Err(not_found());
    }
    let account = Account::open(app, user).map_err(|e| internal(e.to_string()))?;
    let limits = DeviceLimits::load(app, user, device).map_err(|e| internal(e.to_string()))?;
    let folders = limits.visible(account.folders().map_err(|e| internal(e.to_string()))?);
    let Some(folder) = folders.iter().find(|f| f.id == coll_id) else {
        return Err(not_found());
    };
    if folder.kind.class() == ItemClass::Calendar {
        return find_event(app, user, folder, uid, source, log_prefix).map(Source::Event);
    }
    if folder.kind.class() != ItemClass::Email {
        log::info!(
            "{log_prefix}: {id:?} is a {} item, neither a message nor an event",
            folder.kind.class().name()
        );
        return Err(ComposeStatus::ItemNotFound);
    }
    let backend = account.backend();
    backend
        .refresh(folder)
        .map_err(|e| internal(e.to_string()))?;
    let item = app
        .index
        .item(folder.coll, Uid(uid))
        .map_err(|e| internal(e.to_string()))?
        .ok_or_else(not_found)?;
    match backend.raw(folder, &item) {
        Ok(raw) => Ok(Source::Mail(coll_id, uid, raw)),
        Err(BackendError::NotFound) => Err(not_found()),
        Err(e) => Err(internal(e.to_string())),
    }
}

/// The event `uid` of the calendar `folder` (or its occurrence at the Source's InstanceId) as
/// the message standing for it.
fn find_event(
    app: &App,
    user: &str,
    folder: &Folder,
    uid: u32,
    source: &ComposeSource,
    log_prefix: &str,
) -> Result<Vec<u8>, ComposeStatus> {
    let internal = |e: String| {
        log::error!("{log_prefix}: {e}");
        ComposeStatus::ServerError
    };
    let not_found = |why: String| {
        log::info!("{log_prefix}: {why}");
        ComposeStatus::ItemNotFound
    };
    let crate::collections::Source::Dav(name, _) = &folder.source else {
        return Err(not_found(format!("folder {} holds no events", folder.id)));
    };
    let item = app
        .index
        .item(folder.coll, Uid(uid))
        .map_err(|e| internal(e.to_string()))?
        .ok_or_else(|| not_found(format!("no event {}:{uid}", folder.id)))?;
    let href = Href::parse(&item.key).map_err(|e| internal(e.to_string()))?;
    let store = app.pim_store(user).map_err(|e| internal(e.to_string()))?;
    let calendar = CalendarFolder::open(app, user, store, name.clone())
        .map_err(|e| internal(e.to_string()))?;
    let ics = match calendar.read(&href) {
        Ok(text) => text,
        Err(SchedulingError::Pim(PimError::ItemNotFound(_))) => {
            return Err(not_found(format!("event {}:{uid} is gone", folder.id)));
        }
        Err(e) => return Err(internal(e.to_string())),
    };
    let instance = match source.instance_id.as_deref().map(str::trim) {
        Some(i) => Some(
            i.parse::<Timestamp>()
                .map_err(|_| ComposeStatus::InvalidDateTime)?,
        ),
        None => None,
    };
    let me = scheduling::attendee(app, user);
    let fallback = Mailbox {
        name: me.name,
        address: me.address,
    };
    match imip_forward::event_message(&ics, instance, &fallback, Timestamp::now()) {
        Ok(raw) => Ok(raw),
        Err(ItemError::NoSuchInstance(at)) => Err(not_found(format!(
            "event {}:{uid} has no occurrence at {at}",
            folder.id
        ))),
        Err(e) => {
            log::warn!("{log_prefix}: event {}:{uid} unusable: {e}", folder.id);
            Err(ComposeStatus::ItemNotFound)
        }
    }
}

/// The raw Bcc fields of `raw`, which the Sent copy keeps although recipients never see them.
fn bcc_fields(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(parsed) = MessageParser::new().parse_headers(raw) else {
        return out;
    };
    for h in parsed.root_part().headers() {
        if h.name == HeaderName::Bcc
            && let Some(field) = raw.get(h.offset_field as usize..h.offset_end as usize)
        {
            out.extend_from_slice(field);
        }
    }
    out
}

/// What follows a send the outbound engine accepted: local delivery, the ClientId, the bounce
/// for refused recipients, the Sent copy and the original's flag. Only a message that reached
/// nobody is a failure; the rest is logged.
fn after_send(
    app: &App,
    req: &Request,
    ready: &Ready,
    outcome: &SendOutcome,
) -> Option<ComposeStatus> {
    let (user, device) = (req.user.as_str(), req.query.device_id.as_str());
    let log_prefix = format!("{device} [{user}] {:?}", ready.request.command);
    let delivered_locally = deliver_local(app, &outcome.local, &outcome.message.bytes, &log_prefix);
    let went_out = !outcome.sent.is_empty() || !outcome.queued.is_empty();
    if delivered_locally == 0 && !went_out {
        log::error!("{log_prefix}: delivered to nobody");
        return Some(ComposeStatus::ServerError);
    }
    log::info!(
        "{log_prefix}: message {} to {} local, {} sent, {} queued, {} refused",
        outcome.message.message_id,
        delivered_locally,
        outcome.sent.len(),
        outcome.queued.len(),
        outcome.refused.len()
    );
    if let Some(id) = &ready.request.client_id
        && let Err(e) = client_ids::record(&app.db, user, device, id)
    {
        log::error!("{log_prefix}: {e}");
    }
    if let Some(bounce) =
        app.outbound
            .refusal_bounce(user, &outcome.message.bytes, &outcome.refused)
    {
        deliver_local(app, &[user.to_string()], &bounce, &log_prefix);
    }
    let account = match Account::open(app, user) {
        Ok(a) => a,
        Err(e) => {
            log::error!("{log_prefix}: after sending: {e}");
            return None;
        }
    };
    if ready.request.save_in_sent_items {
        let mut copy = bcc_fields(&ready.message);
        copy.extend_from_slice(&outcome.message.bytes);
        if let Err(e) = save_sent(app, &account, &copy) {
            log::error!("{log_prefix}: no copy in Sent: {e}");
        }
    }
    if let Some(original) = &ready.original
        && let Err(e) = mark_original(app, &account, original)
    {
        log::warn!("{log_prefix}: original not marked: {e}");
    }
    None
}

/// Puts `message` into the INBOX of each local recipient and wakes their devices; returns how
/// many got it.
fn deliver_local(app: &App, recipients: &[String], message: &[u8], log_prefix: &str) -> usize {
    let env = app.devices.env();
    let inbox = FolderName::inbox();
    let mut delivered = 0;
    for r in recipients {
        let Some((local, _)) = env.local_user(r) else {
            continue;
        };
        let key = env
            .maildir_of(local)
            .map_err(|e| e.to_string())
            .and_then(|root| {
                crate::store::maildir::deliver(&root, &inbox, message).map_err(|e| e.to_string())
            });
        match key {
            Ok(key) => {
                delivered += 1;
                if let Ok(Some(coll)) = app.index.find_collection(local, &collection_name(&inbox)) {
                    app.hub.notify(local, Some(coll.id().0));
                }
                // The recipient's Out-of-Office reply, as for mail arriving from outside.
                if let Err(e) = crate::delivery::after_delivery(app, local, &inbox, &key) {
                    log::warn!("{log_prefix}: after delivery to {local}: {e}");
                }
            }
            Err(e) => log::error!("{log_prefix}: delivery to {local} failed: {e}"),
        }
    }
    delivered
}

fn save_sent(app: &App, account: &Account<'_>, copy: &[u8]) -> Result<(), String> {
    let sent = account
        .special(FolderType::SentItems)
        .map_err(|e| e.to_string())?
        .ok_or("the account has no Sent folder")?;
    account
        .backend()
        .append(&sent, copy, Flags::SEEN)
        .map_err(|e| e.to_string())?;
    app.hub.notify(account.user, Some(sent.id));
    Ok(())
}

fn mark_original(app: &App, account: &Account<'_>, original: &Original) -> Result<(), String> {
    let flag = match original.verb {
        LastVerb::Forward => Flags::PASSED,
        LastVerb::ReplyToSender | LastVerb::ReplyToAll => Flags::REPLIED,
    };
    let folder: Folder = account
        .folder(original.folder_id)
        .map_err(|e| e.to_string())?
        .ok_or("its folder is gone")?;
    let item: Item = app
        .index
        .item(folder.coll, Uid(original.uid))
        .map_err(|e| e.to_string())?
        .ok_or("it is gone")?;
    // The time first, so a Sync that sees the flag also sees when.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let recorded = crate::state::verb_times::record(
        &app.db,
        account.user,
        &item.key,
        original.verb.code(),
        now,
    )
    .map_err(|e| e.to_string())?;
    if recorded.prune_due() {
        match account.backend().prune_verb_times() {
            Ok(gone) => log::debug!(
                "{}: {gone} reply times of gone messages pruned",
                account.user
            ),
            Err(e) => log::warn!("{}: reply times not pruned: {e}", account.user),
        }
    }
    account
        .backend()
        .update_flags(
            &folder,
            &item,
            FlagUpdate {
                set: flag,
                clear: Flags::EMPTY,
            },
        )
        .map_err(|e| e.to_string())?;
    app.hub.notify(account.user, Some(folder.id));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_and_bcc() {
        assert!(is_eas_datetime("2024-01-31T10:00:00.000Z"));
        assert!(!is_eas_datetime("2024-01-31T10:00:00Z"));
        assert!(!is_eas_datetime("20240131T100000Z"));
        assert!(starts_with_a_field(b"To: a@x\r\n\r\n"));
        assert!(!starts_with_a_field(b"no header at all"));
        assert!(!starts_with_a_field(b": empty name"));
        let raw = b"To: a@x\r\nBcc: b@x,\r\n c@x\r\nSubject: s\r\n\r\nBcc: body\r\n";
        assert_eq!(bcc_fields(raw), b"Bcc: b@x,\r\n c@x\r\n");
    }

    #[test]
    fn old_devices_get_http_statuses() {
        let v12 = ProtocolVersion::V12_1;
        let cmd = ComposeCommand::SendMail;
        assert!(matches!(answer(cmd, v12, None), Reply::Empty));
        assert!(matches!(
            answer(cmd, v12, Some(ComposeStatus::MailSubmissionFailed)),
            Reply::Status(500)
        ));
        assert!(matches!(
            answer(cmd, v12, Some(ComposeStatus::InvalidMime)),
            Reply::Status(400)
        ));
        assert!(matches!(
            answer(
                cmd,
                ProtocolVersion::V14_0,
                Some(ComposeStatus::InvalidMime)
            ),
            Reply::Wbxml(_)
        ));
    }
}
