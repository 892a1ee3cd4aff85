//! A calendar item as the original of a SmartReply or SmartForward (MS-ASCMD 2.2.3.173 Source
//! naming an event, 2.2.3.92.2 InstanceId for one occurrence): the event becomes a message that
//! tells people what, when and where, carrying the invitation (RFC 5546 3.2.2 REQUEST, organizer
//! unchanged, as MS-ASCMD 3.1.5.7 asks of a forward) as a `text/calendar` attachment. The
//! SmartReply/SmartForward composer then quotes or forwards it like any message, and a
//! recipient's calendar program (easd's own iMIP reader among them) offers to accept it.
//!
//! Also writes the message a 16.0 SmartForward with Forwardees and a Body asks the server to
//! compose itself.

use super::component::{Component, Document};
use super::email::address::Mailbox;
use super::email::compose::{
    address_list, base64_lines, encode_text, header, quoted_printable, rfc5322_date,
};
use super::ical_time::IcalTime;
use super::imip_reply::{target_event, timezones_used};
use super::pim::{ItemError, strip_mailto};
use super::zones::Zones;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The event `ics` (the series, or its occurrence at `instance`) as a message: From the
/// organizer (else `fallback_from`), To the attendees, Subject the SUMMARY, a text body with the
/// times, place and description, and the REQUEST as `invite.ics`. `NoSuchInstance` when
/// `instance` is not an occurrence of the series.
pub fn event_message(
    ics: &str,
    instance: Option<Timestamp>,
    fallback_from: &Mailbox,
    now: Timestamp,
) -> Result<Vec<u8>, ItemError> {
    let mut doc = Document::parse(ics).into_calendar();
    let cal = doc
        .components
        .iter_mut()
        .find(|c| c.is("VCALENDAR"))
        .ok_or(ItemError::NoComponent("VCALENDAR"))?;
    // The event, or the occurrence (an override, or one made from the series when it has it).
    let (i, instance) = match instance {
        None => (target_event(cal, None)?, None),
        Some(at) => candidates(cal, at)
            .into_iter()
            .find_map(|t| target_event(cal, Some(t)).ok().map(|i| (i, Some(t))))
            .ok_or(ItemError::NoSuchInstance(at.to_string()))?,
    };
    let request = request_calendar(cal, i, instance.is_some());
    let zones = Zones::from_calendar(cal);
    let ev = &cal.children[i];

    let organizer = ev
        .prop("ORGANIZER")
        .map(|p| Mailbox {
            name: p.param("CN").map(str::to_string),
            address: strip_mailto(&p.text_value()).to_string(),
        })
        .filter(|m| !m.address.is_empty())
        .unwrap_or_else(|| fallback_from.clone());
    let attendees: Vec<Mailbox> = ev
        .props_named("ATTENDEE")
        .map(|p| Mailbox {
            name: p.param("CN").map(str::to_string),
            address: strip_mailto(&p.text_value()).to_string(),
        })
        .filter(|m| !m.address.is_empty())
        .collect();
    let summary = ev.text("SUMMARY").unwrap_or_default();
    let sent = ev
        .prop("DTSTAMP")
        .and_then(IcalTime::from_prop)
        .and_then(|t| t.to_timestamp(&zones, &TimeZone::UTC))
        .unwrap_or(now);

    let mut text = String::new();
    if let Some(when) = when(ev, &zones, &series_zone(cal, &zones)) {
        text.push_str(&format!("When: {when}\r\n"));
    }
    if let Some(place) = ev.text("LOCATION").filter(|l| !l.trim().is_empty()) {
        text.push_str(&format!("Where: {}\r\n", place.trim()));
    }
    text.push_str(&format!("Organizer: {}\r\n", organizer.formatted()));
    if let Some(d) = ev.text("DESCRIPTION").filter(|d| !d.trim().is_empty()) {
        text.push_str("\r\n");
        text.push_str(&d.replace("\r\n", "\n").replace('\n', "\r\n"));
        text.push_str("\r\n");
    }

    let mut out = Vec::new();
    header(&mut out, "From", &address_list(&[organizer]));
    if !attendees.is_empty() {
        header(&mut out, "To", &address_list(&attendees));
    }
    header(&mut out, "Subject", &encode_text(&summary));
    header(&mut out, "Date", &rfc5322_date(sent.as_second()));
    header(&mut out, "MIME-Version", "1.0");
    let boundary = format!("=_easd_event_{:x}", now.as_nanosecond());
    header(
        &mut out,
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    header(&mut out, "Content-Type", "text/plain; charset=utf-8");
    header(&mut out, "Content-Transfer-Encoding", "quoted-printable");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&quoted_printable(&text));
    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    header(
        &mut out,
        "Content-Type",
        "text/calendar; charset=utf-8; method=REQUEST; name=\"invite.ics\"",
    );
    header(
        &mut out,
        "Content-Disposition",
        "attachment; filename=\"invite.ics\"",
    );
    header(&mut out, "Content-Transfer-Encoding", "base64");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&base64_lines(request.as_bytes()));
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Ok(out)
}

/// The message the client would have written for a 16.0 SmartForward with Forwardees: from the
/// user to the forwardees, `Fw:` and the event's subject, the Body's text or HTML. The composer
/// then adds the event.
pub fn forward_message(
    from: &Mailbox,
    to: &[Mailbox],
    subject: &str,
    body: &str,
    html: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    header(&mut out, "From", &address_list(std::slice::from_ref(from)));
    header(&mut out, "To", &address_list(to));
    let subject = subject.trim();
    let subject = if subject.is_empty() {
        "Fw:".to_string()
    } else {
        format!("Fw: {subject}")
    };
    header(&mut out, "Subject", &encode_text(&subject));
    header(&mut out, "MIME-Version", "1.0");
    let subtype = if html { "html" } else { "plain" };
    header(
        &mut out,
        "Content-Type",
        &format!("text/{subtype}; charset=utf-8"),
    );
    header(&mut out, "Content-Transfer-Encoding", "quoted-printable");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&quoted_printable(body));
    out
}

/// The instants a client may mean by `at`: itself, or for an all-day series the day at midnight
/// UTC — as the stored RECURRENCE-IDs are written — when `at` is midnight UTC or local midnight
/// (up to 14 hours earlier), since devices send either.
fn candidates(cal: &Component, at: Timestamp) -> Vec<Timestamp> {
    let all_day = cal
        .children
        .iter()
        .find(|c| c.is("VEVENT"))
        .and_then(|e| e.prop("DTSTART"))
        .and_then(IcalTime::from_prop)
        .is_some_and(|t| t.is_date());
    if !all_day {
        return vec![at];
    }
    let midnight = |t: Timestamp| {
        let day = TimeZone::UTC.to_datetime(t).date();
        TimeZone::UTC.to_timestamp(day.at(0, 0, 0, 0)).ok()
    };
    let late = at.checked_add(jiff::SignedDuration::from_hours(14)).ok();
    let mut out: Vec<Timestamp> = [Some(at), late]
        .into_iter()
        .flatten()
        .filter_map(midnight)
        .collect();
    out.dedup();
    out
}

/// The REQUEST to send: the VTIMEZONEs the event uses and the event — the whole series with its
/// overrides, or only the occurrence — without the user's own alarms.
fn request_calendar(cal: &Component, i: usize, only_occurrence: bool) -> String {
    let mut out = Component::new("VCALENDAR");
    out.props.push(super::contentline::Property::new(
        "PRODID",
        "-//easd//forwarded invitation//EN",
    ));
    out.props
        .push(super::contentline::Property::new("VERSION", "2.0"));
    out.props
        .push(super::contentline::Property::new("METHOD", "REQUEST"));
    let uid = cal.children[i].text("UID");
    let events: Vec<Component> = cal
        .children
        .iter()
        .enumerate()
        .filter(|(j, c)| {
            c.is("VEVENT")
                && if only_occurrence {
                    *j == i
                } else {
                    c.text("UID") == uid
                }
        })
        .map(|(_, c)| {
            let mut ev = c.clone();
            ev.children.retain(|a| !a.is("VALARM"));
            ev
        })
        .collect();
    out.children.extend(timezones_used(cal, &events));
    out.children.extend(events);
    let mut text = String::new();
    out.write(&mut text, "\r\n");
    text
}

/// "Tue, 10 Mar 2026 10:00 – 11:00 (Europe/Paris)", or the day of an all-day event. Times are
/// shown in the zone of the series' start (`shown_in`: its zone and TZID), since an occurrence
/// made from the series carries UTC times.
fn when(ev: &Component, zones: &Zones, shown_in: &(TimeZone, Option<String>)) -> Option<String> {
    let start = ev.prop("DTSTART").and_then(IcalTime::from_prop)?;
    if start.is_date() {
        return Some(format!(
            "{} (all day)",
            start.civil().strftime("%a, %-d %b %Y")
        ));
    }
    let (zone, name) = shown_in;
    let local = |t: &IcalTime| match t.to_timestamp(zones, zone) {
        Some(ts) => zone.to_datetime(ts),
        None => t.civil(),
    };
    let s = local(&start);
    let mut out = s.strftime("%a, %-d %b %Y %H:%M").to_string();
    if let Some(end) = ev.prop("DTEND").and_then(IcalTime::from_prop) {
        let e = local(&end);
        let format = if e.date() == s.date() {
            "%H:%M"
        } else {
            "%a, %-d %b %Y %H:%M"
        };
        out.push_str(&format!(" – {}", e.strftime(format)));
    }
    if let Some(name) = name {
        out.push_str(&format!(" ({name})"));
    }
    Some(out)
}

/// The zone and name the series' start is written in: its TZID, UTC, or none for floating.
fn series_zone(cal: &Component, zones: &Zones) -> (TimeZone, Option<String>) {
    let start = cal
        .children
        .iter()
        .filter(|c| c.is("VEVENT"))
        .find(|c| c.prop("RECURRENCE-ID").is_none())
        .or_else(|| cal.children.iter().find(|c| c.is("VEVENT")))
        .and_then(|e| e.prop("DTSTART"))
        .and_then(IcalTime::from_prop);
    match &start {
        Some(t @ IcalTime::Zoned(_, tzid)) => (t.zone(zones, &TimeZone::UTC), Some(tzid.clone())),
        Some(IcalTime::Utc(_)) => (TimeZone::UTC, Some("UTC".to_string())),
        _ => (TimeZone::UTC, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::imip;

    const SERIES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
BEGIN:VEVENT\r\nUID:weekly@example.org\r\nDTSTAMP:20260101T090000Z\r\n\
DTSTART;TZID=Europe/Paris:20260303T100000\r\nDTEND;TZID=Europe/Paris:20260303T110000\r\n\
RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID=Europe/Paris:20260317T100000\r\n\
SUMMARY:Planning\r\nLOCATION:Room 4\r\nDESCRIPTION:Bring numbers.\r\n\
ORGANIZER;CN=Olga:mailto:olga@example.org\r\n\
ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n\
BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

    fn alice() -> Mailbox {
        Mailbox {
            name: Some("Alice".into()),
            address: "alice@example.com".into(),
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn invitation(raw: &[u8]) -> imip::Invitation {
        let msg = mail_parser::MessageParser::new().parse(raw).unwrap();
        imip::find(&msg).expect("an invitation")
    }

    #[test]
    fn the_series_becomes_a_message_with_its_request() {
        let now = at("2026-02-01T00:00:00Z");
        let raw = event_message(SERIES, None, &alice(), now).unwrap();
        let msg = mail_parser::MessageParser::new().parse(&raw).unwrap();
        assert_eq!(msg.subject(), Some("Planning"));
        assert_eq!(
            msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("olga@example.org")
        );
        let text = msg.body_text(0).unwrap();
        assert!(
            text.contains("When: Tue, 3 Mar 2026 10:00 – 11:00 (Europe/Paris)"),
            "{text}"
        );
        assert!(text.contains("Where: Room 4"), "{text}");
        assert!(text.contains("Bring numbers."), "{text}");
        let inv = invitation(&raw);
        assert_eq!(inv.method, imip::Method::Request);
        assert!(inv.ics.contains("RRULE:FREQ=WEEKLY;COUNT=6"));
        assert!(
            inv.ics
                .contains("ORGANIZER;CN=Olga:mailto:olga@example.org")
        );
        assert!(inv.ics.contains("BEGIN:VTIMEZONE"));
        assert!(!inv.ics.contains("VALARM"), "the user's alarm stays home");
    }

    #[test]
    fn one_occurrence_is_sent_alone_and_must_exist() {
        let now = at("2026-02-01T00:00:00Z");
        // 10 March 10:00 Paris is 09:00 UTC.
        let raw = event_message(SERIES, Some(at("2026-03-10T09:00:00Z")), &alice(), now).unwrap();
        let inv = invitation(&raw);
        assert!(inv.ics.contains("RECURRENCE-ID"), "{}", inv.ics);
        assert!(!inv.ics.contains("RRULE"), "{}", inv.ics);
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(text.contains("Tue, 10 Mar 2026"), "{text}");
        for missing in [
            "2026-03-17T09:00:00Z", // excluded by EXDATE
            "2026-03-10T10:00:00Z", // not the series' time
            "2026-04-14T08:00:00Z", // after COUNT (DST: 10:00 Paris is 08:00 UTC)
        ] {
            assert!(
                matches!(
                    event_message(SERIES, Some(at(missing)), &alice(), now),
                    Err(ItemError::NoSuchInstance(_))
                ),
                "{missing}"
            );
        }
        // The last one, after the DST change, exists.
        assert!(event_message(SERIES, Some(at("2026-04-07T08:00:00Z")), &alice(), now).is_ok());
    }

    #[test]
    fn a_forward_written_by_the_server() {
        let to = [Mailbox {
            name: Some("Dan".into()),
            address: "dan@example.org".into(),
        }];
        let raw = forward_message(&alice(), &to, "Planning", "Join us", false);
        let msg = mail_parser::MessageParser::new().parse(&raw).unwrap();
        assert_eq!(msg.subject(), Some("Fw: Planning"));
        assert_eq!(
            msg.body_text(0).as_deref().map(str::trim_end),
            Some("Join us")
        );
    }
}
