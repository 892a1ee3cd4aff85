//! An attendee's answer to an invitation: the PARTSTAT written into the stored event (for the
//! whole series or one occurrence), the occurrence removed on a decline, and the iMIP REPLY
//! (RFC 6047, RFC 5546 3.2.3) mailed to the organizer, or the COUNTER (RFC 5546 3.2.7) when the
//! attendee proposes new times.

use super::calendar::series_has_occurrence;
use super::component::{Component, Document};
use super::contentline::Property;
use super::email::compose::{base64_lines, encode_text, header, rfc5322_date};
use super::ical_time::IcalTime;
use super::pim::{ItemError, strip_mailto};
use super::zones::Zones;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The attendee's answer (MeetingResponse UserResponse 1, 2, 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartStat {
    Accepted,
    Tentative,
    Declined,
}

impl PartStat {
    pub fn as_str(self) -> &'static str {
        match self {
            PartStat::Accepted => "ACCEPTED",
            PartStat::Tentative => "TENTATIVE",
            PartStat::Declined => "DECLINED",
        }
    }

    /// The subject prefix Outlook and most clients use for the reply.
    fn subject_prefix(self) -> &'static str {
        match self {
            PartStat::Accepted => "Accepted",
            PartStat::Tentative => "Tentative",
            PartStat::Declined => "Declined",
        }
    }
}

/// The user answering: the address the invitation names and the display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attendee {
    pub address: String,
    pub name: Option<String>,
}

fn calendar_of(doc: &mut Document) -> Result<&mut Component, ItemError> {
    doc.components
        .iter_mut()
        .find(|c| c.is("VCALENDAR"))
        .ok_or(ItemError::NoComponent("VCALENDAR"))
}

fn is_address(p: &Property, addresses: &[String]) -> bool {
    let a = strip_mailto(&p.text_value()).to_string();
    addresses.iter().any(|u| u.eq_ignore_ascii_case(&a))
}

/// The instant of an event's RECURRENCE-ID.
fn recurrence_instant(ev: &Component, zones: &Zones) -> Option<Timestamp> {
    IcalTime::from_prop(ev.prop("RECURRENCE-ID")?)?.to_timestamp(zones, &TimeZone::UTC)
}

/// The organizer's address of the invitation's event.
pub fn organizer(ics: &str) -> Option<String> {
    let doc = Document::parse(ics).into_calendar();
    doc.components
        .iter()
        .flat_map(|c| c.children.iter())
        .filter(|c| c.is("VEVENT"))
        .find_map(|e| e.prop("ORGANIZER"))
        .map(|p| strip_mailto(&p.text_value()).to_string())
        .filter(|a| !a.is_empty())
}

/// The UID of the invitation's event.
pub fn event_uid(ics: &str) -> Option<String> {
    let doc = Document::parse(ics).into_calendar();
    doc.components
        .iter()
        .flat_map(|c| c.children.iter())
        .filter(|c| c.is("VEVENT"))
        .find_map(|e| e.text("UID"))
}

/// A value like DTSTART's (DATE for an all-day series, else UTC) for `at`.
fn like_start(master: &Component, at: Timestamp, name: &str) -> Property {
    let is_date = master
        .prop("DTSTART")
        .and_then(IcalTime::from_prop)
        .is_some_and(|t| t.is_date());
    if is_date {
        IcalTime::Date(at.to_zoned_datetime(TimeZone::UTC).date()).to_prop(name)
    } else {
        IcalTime::Utc(at).to_prop(name)
    }
}

/// The index of the VEVENT for occurrence `instance` (an override, made from the series when
/// there is none yet), or of the series when `instance` is `None`.
pub(super) fn target_event(
    cal: &mut Component,
    instance: Option<Timestamp>,
) -> Result<usize, ItemError> {
    let zones = Zones::from_calendar(cal);
    let events: Vec<usize> = (0..cal.children.len())
        .filter(|&i| cal.children[i].is("VEVENT"))
        .collect();
    let master = events
        .iter()
        .copied()
        .find(|&i| cal.children[i].prop("RECURRENCE-ID").is_none());
    let Some(at) = instance else {
        return master
            .or(events.first().copied())
            .ok_or(ItemError::NoComponent("VEVENT"));
    };
    if let Some(i) = events
        .iter()
        .copied()
        .find(|&i| recurrence_instant(&cal.children[i], &zones) == Some(at))
    {
        return Ok(i);
    }
    let Some(m) = master.filter(|&m| {
        cal.children[m].prop("RRULE").is_some()
            && series_has_occurrence(&cal.children[m], &zones, at)
    }) else {
        return Err(ItemError::NoSuchInstance(at.to_string()));
    };
    let series = &cal.children[m];
    let utc = TimeZone::UTC;
    let start = series
        .prop("DTSTART")
        .and_then(IcalTime::from_prop)
        .and_then(|t| t.to_timestamp(&zones, &utc));
    let end = series
        .prop("DTEND")
        .and_then(IcalTime::from_prop)
        .and_then(|t| t.to_timestamp(&zones, &utc));
    let mut occurrence = series.clone();
    occurrence
        .props
        .retain(|p| !["RRULE", "RDATE", "EXDATE", "DTSTART", "DTEND"].contains(&p.name.as_str()));
    occurrence
        .props
        .push(like_start(series, at, "RECURRENCE-ID"));
    occurrence.props.push(like_start(series, at, "DTSTART"));
    if let (Some(s), Some(e)) = (start, end)
        && let Ok(length) = s.until(e)
        && let Ok(new_end) = at.checked_add(length)
    {
        occurrence.props.push(like_start(series, new_end, "DTEND"));
    }
    cal.children.push(occurrence);
    Ok(cal.children.len() - 1)
}

/// Sets the user's PARTSTAT in `ev`, adding the user as an attendee when the invitation did
/// not name one of `addresses` (a message sent to an alias or a list).
fn set_partstat(ev: &mut Component, me: &Attendee, addresses: &[String], stat: PartStat) {
    match ev
        .props
        .iter_mut()
        .find(|p| p.is("ATTENDEE") && is_address(p, addresses))
    {
        Some(p) => {
            p.set_param("PARTSTAT", stat.as_str());
            p.remove_param("RSVP");
        }
        None => {
            let mut p = Property::new("ATTENDEE", format!("mailto:{}", me.address))
                .with_param("PARTSTAT", stat.as_str());
            if let Some(name) = &me.name {
                p.set_param("CN", name);
            }
            ev.props.push(p);
        }
    }
}

/// Sets the busy status Outlook's X-MICROSOFT-CDO-BUSYSTATUS shows: TENTATIVE while the user
/// has not answered or answered tentatively, else what the organizer intended (or none, so
/// TRANSP decides).
fn set_busy(ev: &mut Component, tentative: bool) {
    let intended = ev.text("X-MICROSOFT-CDO-INTENDEDSTATUS");
    ev.props.retain(|p| !p.is("X-MICROSOFT-CDO-BUSYSTATUS"));
    let status = if tentative {
        Some("TENTATIVE".to_string())
    } else {
        intended
    };
    if let Some(s) = status {
        ev.props
            .push(Property::new("X-MICROSOFT-CDO-BUSYSTATUS", s.trim()));
    }
}

/// The calendar object to store when an invitation arrives: the event as the organizer sent
/// it, without METHOD, shown tentative until the user answers.
pub fn tentative(ics: &str) -> Result<String, ItemError> {
    let mut doc = Document::parse(ics).into_calendar();
    let cal = calendar_of(&mut doc)?;
    cal.props.retain(|p| !p.is("METHOD"));
    let mut any = false;
    for ev in cal.children.iter_mut().filter(|c| c.is("VEVENT")) {
        set_busy(ev, true);
        any = true;
    }
    if !any {
        return Err(ItemError::NoComponent("VEVENT"));
    }
    Ok(doc.write())
}

/// The SEQUENCE of the first VEVENT (0 when absent).
pub fn sequence(ics: &str) -> u32 {
    let doc = Document::parse(ics).into_calendar();
    doc.components
        .iter()
        .flat_map(|c| c.children.iter())
        .find(|c| c.is("VEVENT"))
        .and_then(|e| e.text("SEQUENCE"))
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// The RECURRENCE-ID of an iTIP message about one occurrence only (every VEVENT in it has one).
pub fn only_occurrence(ics: &str) -> Option<Timestamp> {
    let doc = Document::parse(ics).into_calendar();
    let cal = doc.components.iter().find(|c| c.is("VCALENDAR"))?;
    let zones = Zones::from_calendar(cal);
    let mut events = cal.children.iter().filter(|c| c.is("VEVENT"));
    let first = events.next()?;
    let at = recurrence_instant(first, &zones)?;
    events
        .all(|e| e.prop("RECURRENCE-ID").is_some())
        .then_some(at)
}

/// The stored event after the organizer cancelled it: every VEVENT gets STATUS:CANCELLED.
pub fn cancelled(ics: &str) -> Result<String, ItemError> {
    let mut doc = Document::parse(ics).into_calendar();
    let cal = calendar_of(&mut doc)?;
    for ev in cal.children.iter_mut().filter(|c| c.is("VEVENT")) {
        match ev.prop_mut("STATUS") {
            Some(p) => p.set_value("CANCELLED"),
            None => ev.props.push(Property::new("STATUS", "CANCELLED")),
        }
    }
    Ok(doc.write())
}

/// The organizer's stored event after an attendee's REPLY: that attendee's PARTSTAT (on the
/// series, or on the occurrence the reply names) as the reply says. `None` when the reply names
/// no attendee of the event or no answer.
pub fn apply_reply(stored: &str, reply: &str) -> Result<Option<String>, ItemError> {
    let answer = Document::parse(reply).into_calendar();
    let Some(ev) = answer
        .components
        .iter()
        .flat_map(|c| c.children.iter())
        .find(|c| c.is("VEVENT"))
    else {
        return Err(ItemError::NoComponent("VEVENT"));
    };
    let Some(attendee) = ev.prop("ATTENDEE") else {
        return Ok(None);
    };
    let Some(stat) = attendee.param("PARTSTAT").map(str::to_ascii_uppercase) else {
        return Ok(None);
    };
    let address = strip_mailto(&attendee.text_value()).to_string();
    let instance = only_occurrence(reply);
    let mut doc = Document::parse(stored).into_calendar();
    let cal = calendar_of(&mut doc)?;
    let i = target_event(cal, instance)?;
    let Some(p) = cal.children[i]
        .props
        .iter_mut()
        .find(|p| p.is("ATTENDEE") && is_address(p, std::slice::from_ref(&address)))
    else {
        return Ok(None);
    };
    p.set_param("PARTSTAT", &stat);
    p.remove_param("RSVP");
    Ok(Some(doc.write()))
}

/// The calendar object to store after answering: `ics` (the stored event, or the invitation
/// for a first answer) with the user's PARTSTAT set on the series or on occurrence `instance`,
/// and without the iTIP METHOD (a calendar collection holds no scheduling messages).
pub fn respond(
    ics: &str,
    me: &Attendee,
    addresses: &[String],
    stat: PartStat,
    instance: Option<Timestamp>,
) -> Result<String, ItemError> {
    let mut doc = Document::parse(ics).into_calendar();
    let cal = calendar_of(&mut doc)?;
    cal.props.retain(|p| !p.is("METHOD"));
    let i = target_event(cal, instance)?;
    set_partstat(&mut cal.children[i], me, addresses, stat);
    set_busy(&mut cal.children[i], stat == PartStat::Tentative);
    Ok(doc.write())
}

/// The stored event after the user declined occurrence `instance`: the occurrence is dropped
/// from the series (EXDATE) and any override of it removed.
pub fn decline_occurrence(ics: &str, instance: Timestamp) -> Result<String, ItemError> {
    let mut doc = Document::parse(ics).into_calendar();
    let cal = calendar_of(&mut doc)?;
    let zones = Zones::from_calendar(cal);
    let before = cal.children.len();
    cal.children
        .retain(|c| !(c.is("VEVENT") && recurrence_instant(c, &zones) == Some(instance)));
    let overridden = cal.children.len() < before;
    let master = cal
        .children
        .iter_mut()
        .find(|c| c.is("VEVENT") && c.prop("RECURRENCE-ID").is_none() && c.prop("RRULE").is_some())
        .filter(|m| overridden || series_has_occurrence(m, &zones, instance))
        .ok_or_else(|| ItemError::NoSuchInstance(instance.to_string()))?;
    let exdate = like_start(master, instance, "EXDATE");
    master.props.push(exdate);
    Ok(doc.write())
}

/// The REPLY object for `stat` to the invitation `ics`, about the series or one occurrence.
pub fn reply_calendar(
    ics: &str,
    me: &Attendee,
    addresses: &[String],
    stat: PartStat,
    instance: Option<Timestamp>,
    now: Timestamp,
) -> Result<String, ItemError> {
    answer_calendar(ics, me, addresses, stat, instance, None, now)
}

/// New times an attendee proposes for the meeting (MeetingResponse 16.1 ProposedStartTime and
/// ProposedEndTime); without an end the meeting keeps its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// The iTIP COUNTER (RFC 5546 3.2.7) for the series or occurrence `instance`: the event as the
/// organizer sent it (so the organizer's program can show what changes) with the proposed
/// DTSTART and DTEND, and the attendee with `stat`.
pub fn counter_calendar(
    ics: &str,
    me: &Attendee,
    addresses: &[String],
    stat: PartStat,
    instance: Option<Timestamp>,
    proposal: Proposal,
    now: Timestamp,
) -> Result<String, ItemError> {
    answer_calendar(ics, me, addresses, stat, instance, Some(proposal), now)
}

/// The length of `ev` from its DTSTART to its DTEND (or its DURATION).
fn length_of(ev: &Component, zones: &Zones) -> Option<jiff::SignedDuration> {
    let utc = TimeZone::UTC;
    let start = IcalTime::from_prop(ev.prop("DTSTART")?)?.to_timestamp(zones, &utc)?;
    if let Some(end) = ev.prop("DTEND").and_then(IcalTime::from_prop) {
        return Some(start.duration_until(end.to_timestamp(zones, &utc)?));
    }
    let span: jiff::Span = ev.text("DURATION")?.trim().parse().ok()?;
    let end = start
        .to_zoned_datetime(utc)
        .checked_add(span)
        .ok()?
        .timestamp();
    Some(start.duration_until(end))
}

fn answer_calendar(
    ics: &str,
    me: &Attendee,
    addresses: &[String],
    stat: PartStat,
    instance: Option<Timestamp>,
    proposal: Option<Proposal>,
    now: Timestamp,
) -> Result<String, ItemError> {
    let mut doc = Document::parse(ics).into_calendar();
    let eol = "\r\n";
    let cal = calendar_of(&mut doc)?;
    let zones = Zones::from_calendar(cal);
    let i = target_event(cal, instance)?;
    let source = cal.children[i].clone();
    let mut ev = Component::new("VEVENT");
    let copy: &[&str] = match proposal {
        None => &["UID", "RECURRENCE-ID", "SEQUENCE", "ORGANIZER", "SUMMARY"],
        Some(_) => &[
            "UID",
            "RECURRENCE-ID",
            "SEQUENCE",
            "ORGANIZER",
            "SUMMARY",
            "LOCATION",
            "DESCRIPTION",
            "RRULE",
            "EXDATE",
        ],
    };
    for name in copy {
        for p in source.props_named(name) {
            if instance.is_some() && matches!(*name, "RRULE" | "EXDATE") {
                continue;
            }
            ev.props.push(p.clone());
        }
    }
    match proposal {
        Some(p) => {
            let end = match p.end {
                Some(end) => end,
                None => {
                    let length = length_of(&source, &zones)
                        .ok_or(ItemError::Unusable("the meeting has no valid DTSTART"))?;
                    p.start
                        .checked_add(length)
                        .map_err(|_| ItemError::Unusable("the proposed end is out of range"))?
                }
            };
            if end < p.start {
                return Err(ItemError::Unusable("the proposed end is before its start"));
            }
            ev.props.push(IcalTime::Utc(p.start).to_prop("DTSTART"));
            ev.props.push(IcalTime::Utc(end).to_prop("DTEND"));
        }
        None if instance.is_none() => {
            for name in ["DTSTART", "DTEND", "DURATION"] {
                if let Some(p) = source.prop(name) {
                    ev.props.push(p.clone());
                }
            }
        }
        None => {}
    }
    ev.props.push(IcalTime::Utc(now).to_prop("DTSTAMP"));
    let mut attendee = source
        .props
        .iter()
        .find(|p| p.is("ATTENDEE") && is_address(p, addresses))
        .cloned()
        .unwrap_or_else(|| Property::new("ATTENDEE", format!("mailto:{}", me.address)));
    attendee.set_param("PARTSTAT", stat.as_str());
    attendee.remove_param("RSVP");
    if attendee.param("CN").is_none()
        && let Some(name) = &me.name
    {
        attendee.set_param("CN", name);
    }
    ev.props.push(attendee);
    let mut out = Component::new("VCALENDAR");
    out.props
        .push(Property::new("PRODID", "-//easd//iMIP reply//EN"));
    out.props.push(Property::new("VERSION", "2.0"));
    let method = if proposal.is_some() {
        "COUNTER"
    } else {
        "REPLY"
    };
    out.props.push(Property::new("METHOD", method));
    out.children
        .extend(timezones_used(cal, std::slice::from_ref(&ev)));
    out.children.push(ev);
    let mut text = String::new();
    out.write(&mut text, eol);
    Ok(text)
}

/// The VTIMEZONEs of `cal` that `events` name in a TZID, for an iTIP object carrying them.
pub(super) fn timezones_used(cal: &Component, events: &[Component]) -> Vec<Component> {
    let used: Vec<String> = events
        .iter()
        .flat_map(|e| e.props.iter())
        .filter_map(|p| p.param("TZID").map(str::to_string))
        .collect();
    cal.children
        .iter()
        .filter(|c| c.is("VTIMEZONE") && c.text("TZID").is_some_and(|t| used.contains(&t)))
        .cloned()
        .collect()
}

/// The reply as a message from `me` to `organizer`: a short text for people and the REPLY
/// object as `text/calendar; method=REPLY` for their calendar program.
pub fn reply_message(
    me: &Attendee,
    organizer: &str,
    summary: Option<&str>,
    stat: PartStat,
    comment: Option<&str>,
    calendar: &str,
    now: Timestamp,
) -> Vec<u8> {
    answer_message(me, organizer, summary, stat, None, comment, calendar, now)
}

/// The counter-proposal as a message from `me` to `organizer`: the REPLY's text with the
/// proposed times, and the COUNTER object as `text/calendar; method=COUNTER`.
#[allow(clippy::too_many_arguments)]
pub fn counter_message(
    me: &Attendee,
    organizer: &str,
    summary: Option<&str>,
    stat: PartStat,
    proposal: Proposal,
    comment: Option<&str>,
    calendar: &str,
    now: Timestamp,
) -> Vec<u8> {
    answer_message(
        me,
        organizer,
        summary,
        stat,
        Some(proposal),
        comment,
        calendar,
        now,
    )
}

#[allow(clippy::too_many_arguments)]
fn answer_message(
    me: &Attendee,
    organizer: &str,
    summary: Option<&str>,
    stat: PartStat,
    proposal: Option<Proposal>,
    comment: Option<&str>,
    calendar: &str,
    now: Timestamp,
) -> Vec<u8> {
    let mut out = Vec::new();
    let from = match &me.name {
        Some(name) if name.is_ascii() => {
            format!("\"{}\" <{}>", name.replace(['"', '\\'], ""), me.address)
        }
        Some(name) => format!("{} <{}>", encode_text(name), me.address),
        None => me.address.clone(),
    };
    header(&mut out, "From", &from);
    header(&mut out, "To", organizer);
    // Outlook's prefix for a counter-proposal, whatever the answer.
    let prefix = match proposal {
        Some(_) => "New Time Proposed",
        None => stat.subject_prefix(),
    };
    let subject = match summary {
        Some(s) => format!("{prefix}: {s}"),
        None => prefix.to_string(),
    };
    header(&mut out, "Subject", &encode_text(&subject));
    header(&mut out, "Date", &rfc5322_date(now.as_second()));
    header(&mut out, "MIME-Version", "1.0");
    let boundary = format!("=_easd_reply_{:x}", now.as_nanosecond());
    header(
        &mut out,
        "Content-Type",
        &format!("multipart/alternative; boundary=\"{boundary}\""),
    );
    out.extend_from_slice(b"\r\n");
    let who = me.name.as_deref().unwrap_or(&me.address);
    let verb = match stat {
        PartStat::Accepted => "accepted",
        PartStat::Tentative => "tentatively accepted",
        PartStat::Declined => "declined",
    };
    let mut text = format!("{who} has {verb} this invitation.\r\n");
    if let Some(p) = proposal {
        let when = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
        text.push_str(&format!("{who} proposes a new time: {}", when(p.start)));
        if let Some(end) = p.end {
            text.push_str(&format!(" to {}", when(end)));
        }
        text.push_str(".\r\n");
    }
    let method = if proposal.is_some() {
        "COUNTER"
    } else {
        "REPLY"
    };
    let calendar_type = format!("text/calendar; charset=utf-8; method={method}");
    if let Some(c) = comment.map(str::trim).filter(|c| !c.is_empty()) {
        text.push_str("\r\n");
        text.push_str(c);
        text.push_str("\r\n");
    }
    let parts = [
        ("text/plain; charset=utf-8", text.as_str()),
        (calendar_type.as_str(), calendar),
    ];
    for (ctype, body) in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        header(&mut out, "Content-Type", ctype);
        header(&mut out, "Content-Transfer-Encoding", "base64");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&base64_lines(body.as_bytes()));
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:u1@example.org\r\nSEQUENCE:3\r\nDTSTAMP:20260101T090000Z\r\n\
DTSTART;TZID=Europe/Paris:20260310T100000\r\nDTEND;TZID=Europe/Paris:20260310T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Planning\r\nX-KEEP:yes\r\n\
ORGANIZER;CN=Olga:mailto:olga@example.org\r\n\
ATTENDEE;CN=Alice;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ALICE@example.com\r\n\
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

    fn alice() -> (Attendee, Vec<String>) {
        (
            Attendee {
                address: "alice@example.com".into(),
                name: Some("Alice A".into()),
            },
            vec!["alice@example.com".into()],
        )
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn accept_sets_partstat_and_drops_method() {
        let (me, addrs) = alice();
        let out = respond(EVENT, &me, &addrs, PartStat::Accepted, None).unwrap();
        assert!(!out.contains("METHOD"));
        assert!(out.contains("ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:ALICE@example.com"));
        assert!(out.contains("ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED:mailto:bob@example.com"));
        assert!(out.contains("X-KEEP:yes"));
        assert_eq!(event_uid(&out).as_deref(), Some("u1@example.org"));
    }

    #[test]
    fn arriving_invitation_is_tentative_until_answered() {
        let (me, addrs) = alice();
        let stored = tentative(EVENT).unwrap();
        assert!(!stored.contains("METHOD"));
        assert!(stored.contains("X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE"));
        let app = crate::items::calendar::event_to_eas(
            &stored,
            &crate::items::pim::ConvertOptions::new(crate::ProtocolVersion::V14_1),
        )
        .unwrap();
        assert_eq!(
            app.child_text(crate::wbxml::tags::calendar::BUSY_STATUS),
            Some("1")
        );
        let accepted = respond(&stored, &me, &addrs, PartStat::Accepted, None).unwrap();
        assert!(!accepted.contains("X-MICROSOFT-CDO-BUSYSTATUS"));
        assert_eq!(sequence(&accepted), 3);
        let gone = cancelled(&accepted).unwrap();
        assert!(gone.contains("STATUS:CANCELLED"));
        assert_eq!(only_occurrence(EVENT), None);
    }

    #[test]
    fn organizer_applies_a_reply() {
        let (me, addrs) = alice();
        let now = at("2026-02-01T12:00:00Z");
        let reply = reply_calendar(EVENT, &me, &addrs, PartStat::Accepted, None, now).unwrap();
        let updated = apply_reply(EVENT, &reply).unwrap().unwrap();
        assert!(updated.contains("ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:ALICE@example.com"));
        let one = reply_calendar(
            EVENT,
            &me,
            &addrs,
            PartStat::Declined,
            Some(at("2026-03-24T09:00:00Z")),
            now,
        )
        .unwrap();
        let updated = apply_reply(EVENT, &one).unwrap().unwrap();
        assert_eq!(Document::parse(&updated).components[0].children.len(), 3);
        let stranger = reply.replace("ALICE@example.com", "zed@example.com");
        assert_eq!(apply_reply(EVENT, &stranger).unwrap(), None);
    }

    #[test]
    fn counter_proposes_new_times() {
        let (me, addrs) = alice();
        let now = at("2026-02-01T12:00:00Z");
        let proposal = Proposal {
            start: at("2026-03-10T13:00:00Z"),
            end: None,
        };
        let c =
            counter_calendar(EVENT, &me, &addrs, PartStat::Tentative, None, proposal, now).unwrap();
        assert!(c.contains("METHOD:COUNTER\r\n"), "{c}");
        // Without an end the hour-long meeting keeps its length.
        assert!(
            c.contains("DTSTART:20260310T130000Z\r\nDTEND:20260310T140000Z\r\n"),
            "{c}"
        );
        assert!(c.contains("RRULE:FREQ=WEEKLY;COUNT=4\r\n"));
        assert!(c.contains("ORGANIZER;CN=Olga:mailto:olga@example.org"));
        assert!(c.contains("ATTENDEE;CN=Alice;PARTSTAT=TENTATIVE:mailto:ALICE@example.com"));
        assert!(!c.contains("TZID=Europe/Paris:20260310T100000"));
        // One occurrence: its RECURRENCE-ID, no rule; an end before the start is refused.
        let one = Proposal {
            start: at("2026-03-17T15:00:00Z"),
            end: Some(at("2026-03-17T15:30:00Z")),
        };
        let c = counter_calendar(
            EVENT,
            &me,
            &addrs,
            PartStat::Declined,
            Some(at("2026-03-17T09:00:00Z")),
            one,
            now,
        )
        .unwrap();
        assert!(c.contains("RECURRENCE-ID"), "{c}");
        assert!(!c.contains("RRULE"));
        assert!(c.contains("DTEND:20260317T153000Z"));
        let backwards = Proposal {
            start: one.start,
            end: Some(at("2026-03-17T14:00:00Z")),
        };
        assert!(
            counter_calendar(EVENT, &me, &addrs, PartStat::Declined, None, backwards, now).is_err()
        );
        let msg = counter_message(
            &me,
            "olga@example.org",
            Some("Planning"),
            PartStat::Declined,
            one,
            None,
            &c,
            now,
        );
        let parsed = mail_parser::MessageParser::default().parse(&msg).unwrap();
        assert_eq!(parsed.subject(), Some("New Time Proposed: Planning"));
        let text = parsed.body_text(0).unwrap();
        assert!(
            text.contains("2026-03-17 15:00 UTC to 2026-03-17 15:30 UTC"),
            "{text}"
        );
        assert!(String::from_utf8_lossy(&msg).contains("method=COUNTER"));
    }

    #[test]
    fn unnamed_user_is_added() {
        let me = Attendee {
            address: "carol@example.com".into(),
            name: None,
        };
        let out = respond(
            EVENT,
            &me,
            std::slice::from_ref(&me.address),
            PartStat::Tentative,
            None,
        )
        .unwrap();
        assert!(out.contains("ATTENDEE;PARTSTAT=TENTATIVE:mailto:carol@example.com"));
    }

    #[test]
    fn one_occurrence_gets_an_override() {
        let (me, addrs) = alice();
        let second = at("2026-03-17T09:00:00Z");
        let out = respond(EVENT, &me, &addrs, PartStat::Tentative, Some(second)).unwrap();
        let doc = Document::parse(&out);
        let events: Vec<_> = doc.components[0]
            .children
            .iter()
            .filter(|c| c.is("VEVENT"))
            .collect();
        assert_eq!(events.len(), 2);
        let ov = events[1];
        assert_eq!(
            ov.text("RECURRENCE-ID").as_deref(),
            Some("20260317T090000Z")
        );
        assert_eq!(ov.text("DTEND").as_deref(), Some("20260317T100000Z"));
        assert!(ov.prop("RRULE").is_none());
        assert!(
            ov.props_named("ATTENDEE")
                .any(|p| p.param("PARTSTAT") == Some("TENTATIVE"))
        );
        assert!(
            events[0]
                .props_named("ATTENDEE")
                .any(|p| p.param("PARTSTAT") == Some("NEEDS-ACTION"))
        );
        let again = respond(&out, &me, &addrs, PartStat::Accepted, Some(second)).unwrap();
        assert_eq!(Document::parse(&again).components[0].children.len(), 3);
        // A Wednesday is no occurrence of this Tuesday series.
        assert!(matches!(
            respond(
                EVENT,
                &me,
                &addrs,
                PartStat::Accepted,
                Some(at("2026-03-18T09:00:00Z"))
            ),
            Err(ItemError::NoSuchInstance(_))
        ));
        assert!(matches!(
            decline_occurrence(EVENT, at("2026-03-18T09:00:00Z")),
            Err(ItemError::NoSuchInstance(_))
        ));
        let declined = decline_occurrence(&out, second).unwrap();
        assert!(declined.contains("EXDATE:20260317T090000Z"));
        assert_eq!(
            Document::parse(&declined).components[0]
                .children
                .iter()
                .filter(|c| c.is("VEVENT"))
                .count(),
            1
        );
    }

    #[test]
    fn reply_object_and_message() {
        let (me, addrs) = alice();
        let now = at("2026-02-01T12:00:00Z");
        let ics = reply_calendar(EVENT, &me, &addrs, PartStat::Declined, None, now).unwrap();
        assert!(ics.contains("METHOD:REPLY\r\n"));
        assert!(ics.contains("UID:u1@example.org\r\n"));
        assert!(ics.contains("SEQUENCE:3\r\n"));
        assert!(ics.contains("DTSTAMP:20260201T120000Z\r\n"));
        assert!(ics.contains("ATTENDEE;CN=Alice;PARTSTAT=DECLINED:mailto:ALICE@example.com\r\n"));
        assert!(!ics.contains("bob@example.com"));
        assert!(ics.contains("BEGIN:VTIMEZONE"));
        assert_eq!(organizer(EVENT).as_deref(), Some("olga@example.org"));
        let msg = reply_message(
            &me,
            "olga@example.org",
            Some("Planning"),
            PartStat::Declined,
            Some("Sorry"),
            &ics,
            now,
        );
        let parsed = mail_parser::MessageParser::default().parse(&msg).unwrap();
        assert_eq!(parsed.subject(), Some("Declined: Planning"));
        let inv = super::super::imip::find(&parsed).unwrap();
        assert_eq!(inv.method, super::super::imip::Method::Reply);
        assert_eq!(inv.ics, ics);
        assert!(parsed.body_text(0).unwrap().contains("Sorry"));
    }
}
