//! MeetingResponse (MS-ASCMD 2.2.1.11): the user accepts, tentatively accepts or declines a
//! meeting, named by its request mail in a mail folder or by its event in a calendar (by
//! CollectionId and RequestId, or by a Search result's LongId). The user's PARTSTAT is written
//! into the event in the calendar (the default calendar for a mail, created there from the
//! invitation when absent); a decline removes the event, or the one occurrence, which must be
//! one the series has. The request mail goes to Deleted Items, as Exchange does. In 16.x the
//! iMIP REPLY goes to the organizer when the request carries SendResponse (a COUNTER with the
//! proposed times when a 16.1 client proposes new ones); earlier clients send their own answer
//! with SendMail (MS-ASCMD 2.2.1.11), so none is sent for them.

use super::fields::{self, ParseError, status_element, status_enum};
use super::ids::{CollectionId, ServerId};
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::scheduling::SchedulingError;
use crate::collections::scheduling::{self, CalendarFolder, Found};
use crate::collections::{Account, BackendError, Folder, ItemBackend, ItemClass, Source};
use crate::items::eas_time;
use crate::items::imip::{self, Method};
use crate::items::imip_reply::{self, PartStat, Proposal};
use crate::state::index::{Item, Uid};
use crate::store::vdir::{Href, PimError};
use crate::wbxml::Element;
use crate::wbxml::tags::{airsyncbase, meetingresponse as mr, search};
use jiff::Timestamp;
use std::sync::Arc;

status_enum!(
    /// MeetingResponse Status (MS-ASCMD 2.2.3.177.9).
    MeetingStatus {
        Success = 1,
        InvalidMeetingRequest = 2,
        MailboxError = 3,
        ServerError = 4,
    }
);

/// UserResponse (MS-ASCMD 2.2.3.194).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserResponse {
    Accepted = 1,
    Tentative = 2,
    Declined = 3,
}

impl UserResponse {
    fn from_code(code: u8) -> Option<UserResponse> {
        match code {
            1 => Some(UserResponse::Accepted),
            2 => Some(UserResponse::Tentative),
            3 => Some(UserResponse::Declined),
            _ => None,
        }
    }

    fn partstat(self) -> PartStat {
        match self {
            UserResponse::Accepted => PartStat::Accepted,
            UserResponse::Tentative => PartStat::Tentative,
            UserResponse::Declined => PartStat::Declined,
        }
    }
}

/// SendResponse (16.x): send the answer, with this body text if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendResponse {
    /// airsyncbase:Body Type and Data.
    pub body: Option<(u8, String)>,
    /// 16.1 ProposedStartTime / ProposedEndTime, as sent.
    pub proposed_start: Option<String>,
    pub proposed_end: Option<String>,
}

/// One Request of the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseRequest {
    pub user_response: UserResponse,
    pub collection_id: Option<CollectionId>,
    /// The ServerId of the request mail or the event, as sent (checked when handled, so a bad
    /// one gets its own Status).
    pub request_id: Option<String>,
    pub long_id: Option<String>,
    /// 14.1+: the occurrence answered, a dateTime.
    pub instance_id: Option<String>,
    pub send_response: Option<SendResponse>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingResponseRequest {
    pub requests: Vec<ResponseRequest>,
}

/// One Result of the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingResult {
    pub request_id: Option<String>,
    pub status: MeetingStatus,
    /// The event's ServerId in its calendar, unless declined.
    pub calendar_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingResponseResponse {
    pub results: Vec<MeetingResult>,
}

impl MeetingResponseRequest {
    pub fn parse(el: &Element) -> Result<MeetingResponseRequest, ParseError> {
        let el = fields::root(el, mr::MEETING_RESPONSE)?;
        let requests = el
            .all(mr::REQUEST)
            .map(|r| {
                let code: u8 = fields::value(r, mr::USER_RESPONSE)?;
                let send_response = r.first(mr::SEND_RESPONSE).map(|s| SendResponse {
                    body: s.first(airsyncbase::BODY).map(|b| {
                        (
                            b.child_text(airsyncbase::TYPE)
                                .and_then(|t| t.trim().parse().ok())
                                .unwrap_or(1),
                            b.child_text(airsyncbase::DATA).unwrap_or("").to_string(),
                        )
                    }),
                    proposed_start: fields::opt_text(s, mr::PROPOSED_START_TIME)
                        .map(str::to_string),
                    proposed_end: fields::opt_text(s, mr::PROPOSED_END_TIME).map(str::to_string),
                });
                Ok(ResponseRequest {
                    user_response: UserResponse::from_code(code)
                        .ok_or(ParseError::BadValue(mr::USER_RESPONSE))?,
                    collection_id: fields::opt_id(r, mr::COLLECTION_ID, CollectionId::parse)?,
                    request_id: fields::opt_text(r, mr::REQUEST_ID).map(str::to_string),
                    long_id: fields::opt_text(r, search::LONG_ID).map(str::to_string),
                    instance_id: fields::opt_text(r, mr::INSTANCE_ID).map(str::to_string),
                    send_response,
                })
            })
            .collect::<Result<Vec<_>, ParseError>>()?;
        if requests.is_empty() {
            return Err(ParseError::Missing(mr::REQUEST));
        }
        Ok(MeetingResponseRequest { requests })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(mr::MEETING_RESPONSE);
        for r in &self.requests {
            let mut req = Element::new(mr::REQUEST)
                .with_text(mr::USER_RESPONSE, (r.user_response as u8).to_string())
                .with_opt_text(
                    mr::COLLECTION_ID,
                    r.collection_id.as_ref().map(CollectionId::as_str),
                )
                .with_opt_text(mr::REQUEST_ID, r.request_id.clone())
                .with_opt_text(search::LONG_ID, r.long_id.clone())
                .with_opt_text(mr::INSTANCE_ID, r.instance_id.clone());
            if let Some(s) = &r.send_response {
                let mut send = Element::new(mr::SEND_RESPONSE);
                if let Some((kind, data)) = &s.body {
                    send.push(
                        Element::new(airsyncbase::BODY)
                            .with_text(airsyncbase::TYPE, kind.to_string())
                            .with_text(airsyncbase::DATA, data.clone()),
                    );
                }
                send = send
                    .with_opt_text(mr::PROPOSED_START_TIME, s.proposed_start.clone())
                    .with_opt_text(mr::PROPOSED_END_TIME, s.proposed_end.clone());
                req.push(send);
            }
            el.push(req);
        }
        el
    }
}

impl MeetingResponseResponse {
    pub fn encode(&self) -> Element {
        let mut el = Element::new(mr::MEETING_RESPONSE);
        for r in &self.results {
            el.push(
                Element::new(mr::RESULT)
                    .with_opt_text(mr::REQUEST_ID, r.request_id.clone())
                    .with(status_element(mr::STATUS, r.status))
                    .with_opt_text(mr::CALENDAR_ID, r.calendar_id.clone()),
            );
        }
        el
    }

    pub fn parse(el: &Element) -> Result<MeetingResponseResponse, ParseError> {
        let el = fields::root(el, mr::MEETING_RESPONSE)?;
        let results = el
            .all(mr::RESULT)
            .map(|r| {
                Ok(MeetingResult {
                    request_id: fields::opt_text(r, mr::REQUEST_ID).map(str::to_string),
                    status: fields::status(r, mr::STATUS)?,
                    calendar_id: fields::opt_text(r, mr::CALENDAR_ID).map(str::to_string),
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(MeetingResponseResponse { results })
    }
}

/// Why one Request failed: the client's (Status 2) or the server's (Status 3).
enum Failure {
    Invalid(String),
    Mailbox(String),
}

/// The invitation a Request names: where it is and what it says.
struct Target<'a, 'f> {
    folder: &'f Folder,
    item: Item,
    /// The invitation (a mail) or the event (a calendar item).
    ics: String,
    /// For a calendar item: its calendar and file.
    calendar: Option<(CalendarFolder<'a>, Href)>,
}

fn find_item(app: &App, folder: &Folder, id: &ServerId) -> Result<Option<Item>, Failure> {
    match id.numbers() {
        Some((c, u)) if c == folder.id => app
            .index
            .item(folder.coll, Uid(u))
            .map_err(|e| Failure::Mailbox(e.to_string())),
        _ => Ok(None),
    }
}

fn invalid<T>(why: impl Into<String>) -> Result<T, Failure> {
    Err(Failure::Invalid(why.into()))
}

/// The folder and item a Request names: a Search result's LongId (which is the item's ServerId,
/// so it carries its folder), or CollectionId and RequestId. MS-ASCMD 2.2.3.150.2: with a LongId
/// the other two MUST NOT be present.
fn named(r: &ResponseRequest) -> Result<(u32, ServerId), Failure> {
    match (&r.long_id, &r.collection_id, &r.request_id) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            invalid("LongId with CollectionId or RequestId")
        }
        (Some(long), None, None) => match ServerId::parse(long.trim()) {
            Ok(id) => match id.numbers() {
                Some((folder, _)) => Ok((folder, id)),
                None => invalid(format!("bad LongId {long:?}")),
            },
            Err(_) => invalid(format!("bad LongId {long:?}")),
        },
        (None, Some(cid), Some(rid)) => {
            let Some(folder) = cid.number() else {
                return invalid(format!("no folder {}", cid.as_str()));
            };
            match ServerId::parse(rid) {
                Ok(id) => Ok((folder, id)),
                Err(_) => invalid(format!("bad RequestId {rid:?}")),
            }
        }
        (None, _, _) => invalid("no LongId, nor CollectionId and RequestId"),
    }
}

/// The meeting request mail or event a Request names.
fn target<'a, 'f>(
    app: &'a App,
    account: &Account<'a>,
    folders: &'f [Folder],
    r: &ResponseRequest,
) -> Result<Target<'a, 'f>, Failure> {
    let (folder_id, rid) = named(r)?;
    let Some(folder) = folders.iter().find(|f| f.id == folder_id) else {
        return invalid(format!("no folder {folder_id}"));
    };
    match folder.kind.class() {
        ItemClass::Email if matches!(folder.source, Source::Mail(_)) => {
            let backend = account.backend();
            backend
                .refresh(folder)
                .map_err(|e| Failure::Mailbox(e.to_string()))?;
            let Some(item) = find_item(app, folder, &rid)? else {
                return invalid(format!("no item {}", rid.as_str()));
            };
            let raw = match backend.raw(folder, &item) {
                Ok(raw) => raw,
                Err(BackendError::NotFound) => return invalid("the message is gone"),
                Err(e) => return Err(Failure::Mailbox(e.to_string())),
            };
            let parsed = mail_parser::MessageParser::default().parse(&raw);
            match parsed.as_ref().and_then(imip::find) {
                Some(inv) if inv.method == Method::Request => Ok(Target {
                    folder,
                    item,
                    ics: inv.ics,
                    calendar: None,
                }),
                _ => invalid("the message is not a meeting request"),
            }
        }
        ItemClass::Calendar => {
            let Source::Dav(name, _) = &folder.source else {
                return invalid("the folder holds no meeting requests");
            };
            let Some(item) = find_item(app, folder, &rid)? else {
                return invalid(format!("no item {}", rid.as_str()));
            };
            let store = app
                .pim_store(account.user)
                .map_err(|e| Failure::Mailbox(e.to_string()))?;
            let calendar = CalendarFolder::open(app, account.user, store, name.clone())
                .map_err(|e| Failure::Mailbox(e.to_string()))?;
            let Ok(href) = Href::parse(&item.key) else {
                return invalid(format!("no event {}", rid.as_str()));
            };
            let ics = match calendar.read(&href) {
                Ok(text) => text,
                Err(SchedulingError::Pim(PimError::ItemNotFound(_))) => {
                    return invalid("the event is gone");
                }
                Err(e) => return Err(Failure::Mailbox(e.to_string())),
            };
            Ok(Target {
                folder,
                item,
                ics,
                calendar: Some((calendar, href)),
            })
        }
        _ => invalid("the folder holds no meeting requests"),
    }
}

/// Handles one Request.
fn respond_one(
    app: &App,
    account: &Account<'_>,
    folders: &[Folder],
    user: &str,
    version: ProtocolVersion,
    r: &ResponseRequest,
) -> Result<Option<ServerId>, Failure> {
    let instance = match &r.instance_id {
        Some(_) if version < ProtocolVersion::V14_1 => {
            return invalid("InstanceId needs protocol 14.1 or later");
        }
        Some(s) => match eas_time::parse(s) {
            Some(t) => Some(t),
            None => return invalid(format!("bad InstanceId {s:?}")),
        },
        None => None,
    };
    let proposal = proposal(r)?;
    let target = target(app, account, folders, r)?;
    let Some(uid) = imip_reply::event_uid(&target.ics) else {
        return invalid("the invitation's event has no UID");
    };
    let Some(organizer) = imip_reply::organizer(&target.ics) else {
        return invalid("the meeting has no organizer");
    };
    if organizer.eq_ignore_ascii_case(user) {
        return invalid("the user organises this meeting");
    }
    let me = scheduling::attendee(app, user);
    let addresses = [user.to_string()];
    let stat = r.user_response.partstat();
    let (calendar, stored) = match target.calendar {
        Some((calendar, href)) => {
            let found = Found {
                href,
                text: target.ics.clone(),
            };
            (calendar, Some(found))
        }
        None => {
            let calendar =
                CalendarFolder::default(app, user).map_err(|e| Failure::Mailbox(e.to_string()))?;
            let stored = calendar
                .find(&uid)
                .map_err(|e| Failure::Mailbox(e.to_string()))?;
            (calendar, stored)
        }
    };
    let base = stored
        .as_ref()
        .map_or(target.ics.as_str(), |f| f.text.as_str());
    let calendar_id = store_answer(
        &calendar,
        stored.as_ref(),
        base,
        &uid,
        &me,
        &addresses,
        stat,
        instance,
    )?;

    if version >= ProtocolVersion::V16_0
        && let Some(send) = &r.send_response
    {
        let answer = Answer {
            me: &me,
            addresses: &addresses,
            stat,
            instance,
            proposal,
        };
        send_reply(app, user, &answer, &organizer, base, send);
    }
    if target.folder.kind.class() == ItemClass::Email
        && let Err(e) = account.backend().delete(target.folder, &target.item, true)
    {
        log::warn!("{user}: meeting request not moved to Deleted Items: {e}");
    }
    Ok(calendar_id)
}

/// Writes the answer into the calendar; returns the event's ServerId unless it was declined.
#[allow(clippy::too_many_arguments)]
fn store_answer(
    calendar: &CalendarFolder<'_>,
    stored: Option<&Found>,
    base: &str,
    uid: &str,
    me: &imip_reply::Attendee,
    addresses: &[String],
    stat: PartStat,
    instance: Option<Timestamp>,
) -> Result<Option<ServerId>, Failure> {
    let mailbox = |e: scheduling::SchedulingError| Failure::Mailbox(e.to_string());
    let item = |e: crate::items::pim::ItemError| Failure::Invalid(e.to_string());
    match (stat, instance, stored) {
        (PartStat::Declined, None, Some(found)) => {
            calendar.remove(&found.href).map_err(mailbox)?;
            Ok(None)
        }
        (PartStat::Declined, None, None) => Ok(None),
        (PartStat::Declined, Some(at), Some(found)) => {
            let text = imip_reply::decline_occurrence(&found.text, at).map_err(item)?;
            calendar
                .save(Some(&found.href), uid, &text)
                .map_err(mailbox)?;
            Ok(None)
        }
        (PartStat::Declined, Some(_), None) => Ok(None),
        (_, _, stored) => {
            let text = imip_reply::respond(base, me, addresses, stat, instance).map_err(item)?;
            calendar
                .save(stored.map(|f| &f.href), uid, &text)
                .map_err(mailbox)
        }
    }
}

/// The 16.1 counter-proposal of a Request: ProposedStartTime and ProposedEndTime (Compact
/// DateTime, MS-ASCMD 2.2.3.140 and 2.2.3.141), the end only with a start and not before it.
fn proposal(r: &ResponseRequest) -> Result<Option<Proposal>, Failure> {
    let Some(send) = &r.send_response else {
        return Ok(None);
    };
    let parse = |s: &String| {
        eas_time::parse(s).map_or_else(|| invalid(format!("bad proposed time {s:?}")), Ok)
    };
    match (&send.proposed_start, &send.proposed_end) {
        (None, None) => Ok(None),
        (None, Some(_)) => invalid("ProposedEndTime without ProposedStartTime"),
        (Some(start), end) => {
            let start = parse(start)?;
            let end = end.as_ref().map(parse).transpose()?;
            if end.is_some_and(|e| e < start) {
                return invalid("the proposed end is before the proposed start");
            }
            Ok(Some(Proposal { start, end }))
        }
    }
}

/// The user's answer as the organizer is told it.
struct Answer<'a> {
    me: &'a imip_reply::Attendee,
    addresses: &'a [String],
    stat: PartStat,
    instance: Option<Timestamp>,
    /// New times proposed: the answer goes as an iTIP COUNTER instead of a REPLY.
    proposal: Option<Proposal>,
}

/// Mails the iMIP REPLY, or the COUNTER when new times are proposed, to the organizer. A
/// failure is logged: the answer is recorded in the calendar either way, and deferred mail is
/// retried by the outbound queue.
fn send_reply(
    app: &App,
    user: &str,
    answer: &Answer<'_>,
    organizer: &str,
    base: &str,
    send: &SendResponse,
) {
    let now = Timestamp::now();
    let Answer {
        me,
        addresses,
        stat,
        instance,
        proposal,
    } = *answer;
    let calendar = match proposal {
        Some(p) => imip_reply::counter_calendar(base, me, addresses, stat, instance, p, now),
        None => imip_reply::reply_calendar(base, me, addresses, stat, instance, now),
    };
    let calendar = match calendar {
        Ok(c) => c,
        Err(e) => {
            log::warn!("{user}: no meeting reply sent: {e}");
            return;
        }
    };
    let summary = crate::items::component::Document::parse(base)
        .into_calendar()
        .components
        .iter()
        .flat_map(|c| c.children.iter())
        .find(|c| c.is("VEVENT"))
        .and_then(|e| e.text("SUMMARY"));
    let comment = send.body.as_ref().map(|(kind, data)| match kind {
        2 => crate::items::pim_body::html_to_text(data),
        _ => data.clone(),
    });
    let message = match proposal {
        Some(p) => imip_reply::counter_message(
            me,
            organizer,
            summary.as_deref(),
            stat,
            p,
            comment.as_deref(),
            &calendar,
            now,
        ),
        None => imip_reply::reply_message(
            me,
            organizer,
            summary.as_deref(),
            stat,
            comment.as_deref(),
            &calendar,
            now,
        ),
    };
    let kind = if proposal.is_some() {
        "counter-proposal"
    } else {
        "reply"
    };
    match crate::delivery::send_from(app, user, organizer, &message) {
        Ok(to) => log::info!("{user}: meeting {kind} ({}) sent to {to}", stat.as_str()),
        Err(e) => log::warn!("{user}: meeting reply to {organizer} not sent: {e}"),
    }
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(MeetingResponseRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            log::info!(
                "{} [{}] MeetingResponse: {e}",
                req.query.device_id,
                req.user
            );
            return Reply::Status(400);
        }
        None => return Reply::Status(400),
    };
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let (a, r) = (app.clone(), req.clone());
    crate::work::unblock(move || {
        let user = r.user.as_str();
        let device = r.query.device_id.as_str();
        let setup = || -> Result<(Account<'_>, Vec<Folder>), String> {
            let account = Account::open(&a, user).map_err(|e| e.to_string())?;
            let limits = DeviceLimits::load(&a, user, device).map_err(|e| e.to_string())?;
            let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
            Ok((account, folders))
        };
        let (account, folders) = match setup() {
            Ok(s) => s,
            Err(e) => {
                log::error!("{device} [{user}] MeetingResponse: {e}");
                return Reply::Status(500);
            }
        };
        let results = parsed
            .requests
            .iter()
            .map(|q| {
                let (status, calendar_id) =
                    match respond_one(&a, &account, &folders, user, r.version, q) {
                        Ok(id) => (MeetingStatus::Success, id),
                        Err(Failure::Invalid(why)) => {
                            log::info!("{device} [{user}] MeetingResponse: {why}");
                            (MeetingStatus::InvalidMeetingRequest, None)
                        }
                        Err(Failure::Mailbox(why)) => {
                            log::error!("{device} [{user}] MeetingResponse: {why}");
                            (MeetingStatus::MailboxError, None)
                        }
                    };
                MeetingResult {
                    request_id: q.request_id.clone(),
                    status,
                    calendar_id: calendar_id.map(|id| id.as_str().to_string()),
                }
            })
            .collect();
        Reply::Wbxml(MeetingResponseResponse { results }.encode())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let req = MeetingResponseRequest {
            requests: vec![
                ResponseRequest {
                    user_response: UserResponse::Accepted,
                    collection_id: Some(CollectionId::from_number(1)),
                    request_id: Some("1:7".into()),
                    long_id: None,
                    instance_id: Some("2026-03-17T09:00:00.000Z".into()),
                    send_response: Some(SendResponse {
                        body: Some((1, "See you".into())),
                        proposed_start: None,
                        proposed_end: None,
                    }),
                },
                ResponseRequest {
                    user_response: UserResponse::Declined,
                    collection_id: None,
                    request_id: None,
                    long_id: Some("RgAAAA".into()),
                    instance_id: None,
                    send_response: Some(SendResponse::default()),
                },
            ],
        };
        assert_eq!(MeetingResponseRequest::parse(&req.encode()), Ok(req));
        let resp = MeetingResponseResponse {
            results: vec![
                MeetingResult {
                    request_id: Some("1:7".into()),
                    status: MeetingStatus::Success,
                    calendar_id: Some("4:1".into()),
                },
                MeetingResult {
                    request_id: None,
                    status: MeetingStatus::InvalidMeetingRequest,
                    calendar_id: None,
                },
            ],
        };
        assert_eq!(MeetingResponseResponse::parse(&resp.encode()), Ok(resp));
    }

    #[test]
    fn bad_requests_are_refused() {
        let empty = Element::new(mr::MEETING_RESPONSE);
        assert!(MeetingResponseRequest::parse(&empty).is_err());
        let bad = Element::new(mr::MEETING_RESPONSE)
            .with(Element::new(mr::REQUEST).with_text(mr::USER_RESPONSE, "4"));
        assert!(MeetingResponseRequest::parse(&bad).is_err());
    }
}
