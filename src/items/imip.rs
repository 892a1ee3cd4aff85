//! iMIP (RFC 6047): the `text/calendar` part of a scheduling message, its METHOD, and what the
//! Email class makes of it — the MessageClass (`IPM.Schedule.Meeting.*`) and, for a REQUEST or
//! CANCEL, the MeetingRequest element (MS-ASEMAIL 2.2.2.48). TNEF invitations (`winmail.dat`)
//! carry no `text/calendar` part and stay plain mail, as the guide says.

use super::calendar::event_to_eas;
use super::component::Document;
use super::eas_time;
use super::pim::ConvertOptions;
use super::recurrence::{self, Recurrence};
use crate::ProtocolVersion;
use crate::wbxml::{Element, tags};
use base64::Engine;
use mail_parser::{Message, MimeHeaders};

use tags::calendar as cal;
use tags::email;

/// The iTIP method of a scheduling message (RFC 5546 1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
    Reply,
    /// PUBLISH, COUNTER, REFRESH, ADD, DECLINECOUNTER: shown as plain mail.
    Other,
}

impl Method {
    fn parse(s: &str) -> Method {
        match s.trim().to_ascii_uppercase().as_str() {
            "REQUEST" => Method::Request,
            "CANCEL" => Method::Cancel,
            "REPLY" => Method::Reply,
            _ => Method::Other,
        }
    }
}

/// The scheduling object a message carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    pub method: Method,
    /// The whole iCalendar object, as sent.
    pub ics: String,
}

fn is_calendar(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_type().is_some_and(|ct| {
        let sub = ct.subtype().unwrap_or_default();
        (ct.ctype().eq_ignore_ascii_case("text") && sub.eq_ignore_ascii_case("calendar"))
            || (ct.ctype().eq_ignore_ascii_case("application") && sub.eq_ignore_ascii_case("ics"))
    })
}

/// The first calendar part of `message` with a METHOD (from the Content-Type parameter or the
/// VCALENDAR's METHOD property), if any.
pub fn find(message: &Message<'_>) -> Option<Invitation> {
    message
        .parts
        .iter()
        .filter(|p| is_calendar(p))
        .find_map(|part| {
            let ics = String::from_utf8_lossy(part.contents()).into_owned();
            let from_header = part
                .content_type()
                .and_then(|ct| ct.attribute("method"))
                .map(Method::parse);
            let doc = Document::parse(&ics).into_calendar();
            let from_body = doc
                .components
                .iter()
                .find(|c| c.is("VCALENDAR"))
                .and_then(|c| c.text("METHOD"))
                .map(|m| Method::parse(&m));
            let method = from_body.or(from_header)?;
            doc.components
                .iter()
                .any(|c| c.children.iter().any(|e| e.is("VEVENT")))
                .then_some(Invitation { method, ics })
        })
}

/// The MessageClass (MS-ASEMAIL 2.2.2.50) of a message carrying `inv`, when it is a scheduling
/// message a device knows.
pub fn message_class(inv: &Invitation) -> Option<&'static str> {
    match inv.method {
        Method::Request => Some("IPM.Schedule.Meeting.Request"),
        Method::Cancel => Some("IPM.Schedule.Meeting.Canceled"),
        Method::Reply => Some(match reply_partstat(&inv.ics).as_deref() {
            Some("ACCEPTED") => "IPM.Schedule.Meeting.Resp.Pos",
            Some("TENTATIVE") => "IPM.Schedule.Meeting.Resp.Tent",
            _ => "IPM.Schedule.Meeting.Resp.Neg",
        }),
        Method::Other => None,
    }
}

/// The PARTSTAT of the (single) attendee of a REPLY.
fn reply_partstat(ics: &str) -> Option<String> {
    let doc = Document::parse(ics).into_calendar();
    let cal_comp = doc.components.iter().find(|c| c.is("VCALENDAR"))?;
    let ev = cal_comp.children.iter().find(|c| c.is("VEVENT"))?;
    ev.prop("ATTENDEE")?
        .param("PARTSTAT")
        .map(str::to_ascii_uppercase)
}

/// The class id every GlobalObjId starts with (MS-ASEMAIL 2.2.2.37, MS-OXOCAL 2.2.1.27).
const GLOBAL_OBJ_CLASS: [u8; 16] = [
    0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00, 0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08,
];

/// The GlobalObjId of an event UID: Outlook's own ids (hex of a GlobalObjId) are decoded, any
/// other UID is wrapped in the "vCal-Uid" form. INSTDATE and NOW are zero, so every message about
/// the same meeting carries the same id.
pub fn global_obj_id(uid: &str) -> Vec<u8> {
    let prefix: String = GLOBAL_OBJ_CLASS
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    if uid.len() > prefix.len()
        && uid.len().is_multiple_of(2)
        && uid.to_ascii_uppercase().starts_with(&prefix)
    {
        let decoded: Option<Vec<u8>> = (0..uid.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(uid.get(i..i + 2)?, 16).ok())
            .collect();
        if let Some(bytes) = decoded {
            return bytes;
        }
    }
    let mut data = b"vCal-Uid".to_vec();
    data.extend_from_slice(&[1, 0, 0, 0]);
    data.extend_from_slice(uid.as_bytes());
    data.push(0);
    let mut out = GLOBAL_OBJ_CLASS.to_vec();
    out.extend_from_slice(&[0; 4 + 8 + 8]);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// MeetingMessageType (MS-ASEMAIL 2.2.2.49): 0 for a cancellation, 1 for a first request, 2 for
/// a full update (SEQUENCE above 0).
fn meeting_message_type(inv: &Invitation) -> &'static str {
    if inv.method == Method::Cancel {
        return "0";
    }
    let doc = Document::parse(&inv.ics).into_calendar();
    let sequence = doc
        .components
        .iter()
        .flat_map(|c| c.children.iter())
        .find(|c| c.is("VEVENT"))
        .and_then(|ev| ev.text("SEQUENCE"))
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if sequence > 0 { "2" } else { "1" }
}

/// The email Recurrence (MS-ASEMAIL 2.2.2.60), in the Email schema's order.
fn email_recurrence(r: &Recurrence, version: ProtocolVersion) -> Element {
    let mut e = Element::new(email::RECURRENCE)
        .with_text(email::TYPE, (r.pattern as u8).to_string())
        .with_text(email::INTERVAL, r.interval.to_string())
        .with_opt_text(
            email::UNTIL,
            r.until
                .filter(|_| r.occurrences.is_none())
                .map(eas_time::compact),
        )
        .with_opt_text(email::OCCURRENCES, r.occurrences.map(|n| n.to_string()))
        .with_opt_text(email::WEEK_OF_MONTH, r.week_of_month.map(|n| n.to_string()))
        .with_opt_text(email::DAY_OF_MONTH, r.day_of_month.map(|n| n.to_string()))
        .with_opt_text(email::DAY_OF_WEEK, r.day_of_week.map(|n| n.to_string()))
        .with_opt_text(email::MONTH_OF_YEAR, r.month_of_year.map(|n| n.to_string()));
    if version >= ProtocolVersion::V14_0 {
        e.push_text(tags::email2::CALENDAR_TYPE, "0");
        e.push_text(tags::email2::IS_LEAP_MONTH, "0");
    }
    if version >= ProtocolVersion::V14_1
        && let Some(first) = r.first_day_of_week
    {
        e.push_text(tags::email2::FIRST_DAY_OF_WEEK, first.to_string());
    }
    e
}

/// The MeetingRequest element for a REQUEST or CANCEL, `None` for other methods or an event
/// that cannot be read (the message then syncs as plain mail).
pub fn meeting_request(inv: &Invitation, version: ProtocolVersion) -> Option<Element> {
    if !matches!(inv.method, Method::Request | Method::Cancel) {
        return None;
    }
    let opts = ConvertOptions::new(version);
    let cal_app = match event_to_eas(&inv.ics, &opts) {
        Ok(app) => app,
        Err(e) => {
            log::info!("invitation without a usable event: {e}");
            return None;
        }
    };
    let time = |tag| {
        cal_app
            .child_text(tag)
            .and_then(eas_time::parse)
            .map(eas_time::extended)
    };
    let mut mr = Element::new(email::MEETING_REQUEST)
        .with_opt_text(email::ALL_DAY_EVENT, cal_app.child_text(cal::ALL_DAY_EVENT))
        .with_opt_text(email::START_TIME, time(cal::START_TIME));
    mr.push_text(
        email::DT_STAMP,
        time(cal::DT_STAMP).unwrap_or_else(|| eas_time::extended(jiff::Timestamp::now())),
    );
    let rid = super::imip_reply::only_occurrence(&inv.ics);
    mr = mr
        .with_opt_text(email::END_TIME, time(cal::END_TIME))
        .with_text(
            email::INSTANCE_TYPE,
            match (&rid, cal_app.first(cal::RECURRENCE)) {
                (Some(_), _) => "3",
                (None, Some(_)) => "1",
                (None, None) => "0",
            },
        );
    if let Some(loc) = cal_app.first(tags::airsyncbase::LOCATION) {
        mr.push(loc.clone());
    } else if let Some(loc) = cal_app.child_text(cal::LOCATION) {
        mr.push_text(email::LOCATION, loc);
    }
    let organizer = match (
        cal_app.child_text(cal::ORGANIZER_NAME),
        cal_app.child_text(cal::ORGANIZER_EMAIL),
    ) {
        (Some(name), Some(addr)) => Some(format!("\"{}\" <{addr}>", name.replace('"', ""))),
        (None, Some(addr)) => Some(addr.to_string()),
        _ => None,
    };
    mr = mr
        .with_opt_text(email::ORGANIZER, organizer)
        .with_opt_text(email::RECURRENCE_ID, rid.map(eas_time::extended))
        .with_opt_text(
            email::REMINDER,
            cal_app
                .child_text(cal::REMINDER)
                .and_then(|m| m.trim().parse::<u64>().ok())
                .map(|m| (m * 60).to_string()),
        )
        .with_text(
            email::RESPONSE_REQUESTED,
            cal_app.child_text(cal::RESPONSE_REQUESTED).unwrap_or("1"),
        );
    if let Some(r) = cal_app
        .first(cal::RECURRENCE)
        .and_then(|e| Recurrence::from_element(e, &recurrence::CALENDAR))
    {
        mr.push(Element::new(email::RECURRENCES).with(email_recurrence(&r, version)));
    }
    mr = mr
        .with_text(
            email::SENSITIVITY,
            cal_app.child_text(cal::SENSITIVITY).unwrap_or("0"),
        )
        .with_text(
            email::BUSY_STATUS,
            cal_app.child_text(cal::BUSY_STATUS).unwrap_or("2"),
        )
        .with_opt_text(email::TIME_ZONE, cal_app.child_text(cal::TIMEZONE));
    let uid = cal_app.child_text(cal::UID);
    if version <= ProtocolVersion::V14_1
        && let Some(uid) = uid
    {
        mr.push_text(
            email::GLOBAL_OBJ_ID,
            base64::engine::general_purpose::STANDARD.encode(global_obj_id(uid)),
        );
    }
    if version >= ProtocolVersion::V14_0 {
        mr.push_text(
            email::DISALLOW_NEW_TIME_PROPOSAL,
            cal_app
                .child_text(cal::DISALLOW_NEW_TIME_PROPOSAL)
                .unwrap_or("0"),
        );
    }
    if version >= ProtocolVersion::V14_1 {
        mr.push_text(
            tags::email2::MEETING_MESSAGE_TYPE,
            meeting_message_type(inv),
        );
    }
    if version >= ProtocolVersion::V16_0 {
        mr = mr.with_opt_text(cal::UID, uid);
    }
    Some(mr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    pub const INVITE: &str = "From: Olga Organizer <olga@example.org>\r\n\
To: alice@example.com\r\nSubject: Planning\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nPlease come.\r\n--x\r\n\
Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n\r\n\
BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VEVENT\r\nUID:plan-42@example.org\r\nDTSTAMP:20260101T090000Z\r\n\
DTSTART;TZID=Europe/Paris:20260310T100000\r\nDTEND;TZID=Europe/Paris:20260310T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Planning\r\nLOCATION:Room 1\r\n\
ORGANIZER;CN=Olga Organizer:mailto:olga@example.org\r\n\
ATTENDEE;CN=Alice;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.com\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n--x--\r\n";

    fn invitation(raw: &str) -> Option<Invitation> {
        find(&MessageParser::default().parse(raw.as_bytes()).unwrap())
    }

    #[test]
    fn request_becomes_meeting_request() {
        let inv = invitation(INVITE).unwrap();
        assert_eq!(inv.method, Method::Request);
        assert_eq!(message_class(&inv), Some("IPM.Schedule.Meeting.Request"));
        let mr = meeting_request(&inv, ProtocolVersion::V14_1).unwrap();
        assert_eq!(
            mr.child_text(email::START_TIME),
            Some("2026-03-10T09:00:00.000Z")
        );
        assert_eq!(
            mr.child_text(email::END_TIME),
            Some("2026-03-10T10:00:00.000Z")
        );
        assert_eq!(
            mr.child_text(email::DT_STAMP),
            Some("2026-01-01T09:00:00.000Z")
        );
        assert_eq!(mr.child_text(email::INSTANCE_TYPE), Some("1"));
        assert_eq!(mr.child_text(email::LOCATION), Some("Room 1"));
        assert_eq!(
            mr.child_text(email::ORGANIZER),
            Some("\"Olga Organizer\" <olga@example.org>")
        );
        assert_eq!(mr.child_text(email::REMINDER), Some("900"));
        assert_eq!(mr.child_text(email::RESPONSE_REQUESTED), Some("1"));
        let r = mr
            .first(email::RECURRENCES)
            .and_then(|r| r.first(email::RECURRENCE))
            .unwrap();
        assert_eq!(r.child_text(email::TYPE), Some("1"));
        assert_eq!(r.child_text(email::OCCURRENCES), Some("4"));
        assert_eq!(r.child_text(email::DAY_OF_WEEK), Some("4"));
        assert!(mr.child_text(email::TIME_ZONE).is_some());
        let goid = base64::engine::general_purpose::STANDARD
            .decode(mr.child_text(email::GLOBAL_OBJ_ID).unwrap())
            .unwrap();
        assert!(goid.starts_with(&GLOBAL_OBJ_CLASS));
        assert!(goid.ends_with(b"vCal-Uid\x01\0\0\0plan-42@example.org\0"));
        assert_eq!(mr.child_text(tags::email2::MEETING_MESSAGE_TYPE), Some("1"));
        let v16 = meeting_request(&inv, ProtocolVersion::V16_1).unwrap();
        assert!(v16.first(email::GLOBAL_OBJ_ID).is_none());
        assert!(v16.first(email::LOCATION).is_none());
        assert_eq!(v16.child_text(cal::UID), Some("plan-42@example.org"));
        assert!(v16.first(tags::airsyncbase::LOCATION).is_some());
        let v25 = meeting_request(&inv, ProtocolVersion::V2_5).unwrap();
        assert!(v25.first(tags::email2::MEETING_MESSAGE_TYPE).is_none());
        assert!(v25.first(email::DISALLOW_NEW_TIME_PROPOSAL).is_none());
    }

    #[test]
    fn cancel_reply_and_plain_mail() {
        let cancel = INVITE
            .replace("method=REQUEST", "method=CANCEL")
            .replace("METHOD:REQUEST", "METHOD:CANCEL");
        let inv = invitation(&cancel).unwrap();
        assert_eq!(message_class(&inv), Some("IPM.Schedule.Meeting.Canceled"));
        let mr = meeting_request(&inv, ProtocolVersion::V14_1).unwrap();
        assert_eq!(mr.child_text(tags::email2::MEETING_MESSAGE_TYPE), Some("0"));
        let reply = INVITE
            .replace("method=REQUEST", "method=REPLY")
            .replace("METHOD:REQUEST", "METHOD:REPLY")
            .replace("PARTSTAT=NEEDS-ACTION", "PARTSTAT=TENTATIVE");
        let inv = invitation(&reply).unwrap();
        assert_eq!(message_class(&inv), Some("IPM.Schedule.Meeting.Resp.Tent"));
        assert!(meeting_request(&inv, ProtocolVersion::V14_1).is_none());
        let tnef = "From: a@b\r\nTo: c@d\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n\
            --y\r\nContent-Type: text/plain\r\n\r\nhi\r\n--y\r\nContent-Type: application/ms-tnef; \
            name=winmail.dat\r\nContent-Transfer-Encoding: base64\r\n\r\neJ8+IgAA\r\n--y--\r\n";
        assert_eq!(invitation(tnef), None);
    }

    #[test]
    fn outlook_uid_is_its_own_global_obj_id() {
        let hex = "040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5060700000000000000001000000011223344556677889900AABBCCDDEEFF";
        let id = global_obj_id(hex);
        assert_eq!(id.len(), hex.len() / 2);
        assert_eq!(id[..16], GLOBAL_OBJ_CLASS);
    }

    #[test]
    fn single_occurrence_update() {
        let one = INVITE.replace(
            "RRULE:FREQ=WEEKLY;COUNT=4\r\n",
            "RECURRENCE-ID;TZID=Europe/Paris:20260317T100000\r\nSEQUENCE:2\r\n",
        );
        let inv = invitation(&one).unwrap();
        let mr = meeting_request(&inv, ProtocolVersion::V14_1).unwrap();
        assert_eq!(mr.child_text(email::INSTANCE_TYPE), Some("3"));
        assert!(mr.child_text(email::RECURRENCE_ID).is_some());
        assert_eq!(mr.child_text(tags::email2::MEETING_MESSAGE_TYPE), Some("2"));
    }
}
