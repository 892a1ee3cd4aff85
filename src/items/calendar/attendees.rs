//! ORGANIZER and ATTENDEE ⇄ OrganizerName/OrganizerEmail, Attendees,
//! MeetingStatus and ResponseType. Attendees are matched by address, so a
//! device's change keeps the parameters it does not know (RSVP, X-NUM-GUESTS…).

use crate::items::component::Component;
use crate::items::contentline::Property;
use crate::items::merge::{Edits, Incoming};
use crate::items::pim::{ConvertOptions, strip_mailto};
use crate::wbxml::{Element, tags};

use tags::calendar as cal;

/// AttendeeStatus (MS-ASCAL 2.2.2.5) ⇄ PARTSTAT.
fn status_code(partstat: Option<&str>) -> u8 {
    match partstat.map(str::to_ascii_uppercase).as_deref() {
        Some("TENTATIVE") => 2,
        Some("ACCEPTED") => 3,
        Some("DECLINED") => 4,
        Some("NEEDS-ACTION") | None => 5,
        _ => 0,
    }
}

fn partstat(code: &str) -> Option<&'static str> {
    match code.trim() {
        "2" => Some("TENTATIVE"),
        "3" => Some("ACCEPTED"),
        "4" => Some("DECLINED"),
        "5" => Some("NEEDS-ACTION"),
        _ => None,
    }
}

/// AttendeeType (MS-ASCAL 2.2.2.6): 1 required, 2 optional, 3 resource.
fn type_code(p: &Property) -> u8 {
    let cutype = p.param("CUTYPE").unwrap_or("").to_ascii_uppercase();
    if cutype == "RESOURCE" || cutype == "ROOM" {
        return 3;
    }
    match p.param("ROLE").map(str::to_ascii_uppercase).as_deref() {
        Some("OPT-PARTICIPANT") | Some("NON-PARTICIPANT") => 2,
        _ => 1,
    }
}

fn address(p: &Property) -> String {
    strip_mailto(&p.text_value()).to_string()
}

fn attendee_props(ev: &Component) -> impl Iterator<Item = (usize, &Property)> {
    ev.props
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is("ATTENDEE"))
}

/// The elements for organizer and attendees, in MS-ASCAL order.
pub struct Meeting {
    pub organizer_name: Option<String>,
    pub organizer_email: Option<String>,
    pub attendees: Option<Element>,
    pub meeting_status: u8,
    pub response_requested: Option<bool>,
    pub response_type: Option<u8>,
}

pub fn to_eas(ev: &Component, opts: &ConvertOptions) -> Meeting {
    let organizer = ev.prop("ORGANIZER");
    let organizer_email = organizer.map(address).filter(|s| !s.is_empty());
    let organizer_name = organizer.and_then(|p| p.param("CN")).map(str::to_string);
    let mut list = Element::new(cal::ATTENDEES);
    let mut rsvp = false;
    let mut own_status = None;
    for (_, p) in attendee_props(ev) {
        let email = address(p);
        let name = p
            .param("CN")
            .map(str::to_string)
            .unwrap_or_else(|| email.clone());
        if email.is_empty() && name.is_empty() {
            continue;
        }
        rsvp |= p
            .param("RSVP")
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
        let status = status_code(p.param("PARTSTAT"));
        if opts.is_user(&email) {
            own_status = Some(status);
        }
        list.push(
            Element::new(cal::ATTENDEE)
                .with_text(cal::EMAIL, email)
                .with_text(cal::NAME, name)
                .with_text(cal::ATTENDEE_STATUS, status.to_string())
                .with_text(cal::ATTENDEE_TYPE, type_code(p).to_string()),
        );
    }
    let has_attendees = !list.is_empty();
    let cancelled = ev
        .text("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
    let organised_by_user = organizer_email
        .as_deref()
        .is_none_or(|o| opts.is_user(o) || opts.user_addresses.is_empty());
    let meeting_status = match (has_attendees, organised_by_user, cancelled) {
        (false, _, _) => 0,
        (true, true, false) => 1,
        (true, false, false) => 3,
        (true, true, true) => 5,
        (true, false, true) => 7,
    };
    let response_type = match (has_attendees, organised_by_user) {
        (false, _) => None,
        (true, true) if !opts.user_addresses.is_empty() => Some(1),
        (true, _) => own_status.map(|s| if s == 0 { 5 } else { s }),
    };
    Meeting {
        organizer_name,
        organizer_email,
        attendees: has_attendees.then_some(list),
        meeting_status,
        response_requested: has_attendees.then_some(rsvp),
        response_type,
    }
}

/// Merges a device's organizer, attendees and MeetingStatus into `ev`.
pub fn merge(ev: &Component, app: &Element, opts: &ConvertOptions, edits: &mut Edits) {
    merge_organizer(ev, app, opts, edits);
    let incoming = match app.first(cal::ATTENDEES) {
        Some(list) => list.all(cal::ATTENDEE).collect::<Vec<_>>(),
        None if opts.is_ghosted(cal::ATTENDEES) => return merge_status(ev, app, opts, edits),
        None => Vec::new(),
    };
    let rsvp = app
        .child_text(cal::RESPONSE_REQUESTED)
        .is_none_or(|v| v.trim() != "0");
    let mut matched = Vec::new();
    for a in &incoming {
        let email = a
            .child_text(cal::EMAIL)
            .map(|e| strip_mailto(e).to_string())
            .unwrap_or_default();
        let name = a.child_text(cal::NAME).unwrap_or("").trim().to_string();
        if email.is_empty() && name.is_empty() {
            continue;
        }
        let existing = attendee_props(ev)
            .find(|(i, p)| !matched.contains(i) && address(p).eq_ignore_ascii_case(&email));
        let mut p = match existing {
            Some((i, p)) => {
                matched.push(i);
                p.clone()
            }
            None => {
                let mut p = Property::new("ATTENDEE", format!("mailto:{email}"));
                p.set_param("PARTSTAT", "NEEDS-ACTION");
                if rsvp {
                    p.set_param("RSVP", "TRUE");
                }
                p
            }
        };
        if !name.is_empty() && name != email && p.param("CN") != Some(name.as_str()) {
            p.set_param("CN", &name);
        }
        if let Some(stat) = a.child_text(cal::ATTENDEE_STATUS).and_then(partstat)
            && status_code(p.param("PARTSTAT")) != status_code(Some(stat))
        {
            p.set_param("PARTSTAT", stat);
        }
        if let Some(kind) = a.child_text(cal::ATTENDEE_TYPE).map(str::trim)
            && kind != type_code(&p).to_string()
        {
            match kind {
                "3" => p.set_param("CUTYPE", "RESOURCE"),
                "2" => p.set_param("ROLE", "OPT-PARTICIPANT"),
                _ => p.set_param("ROLE", "REQ-PARTICIPANT"),
            }
            if kind != "3"
                && p.param("CUTYPE")
                    .is_some_and(|c| c.eq_ignore_ascii_case("RESOURCE"))
            {
                p.remove_param("CUTYPE");
            }
        }
        match existing {
            Some((i, old)) if *old != p => edits.update(i, p),
            Some(_) => {}
            None => edits.append(p),
        }
    }
    for (i, _) in attendee_props(ev).filter(|(i, _)| !matched.contains(i)) {
        edits.remove(i);
    }
    merge_status(ev, app, opts, edits);
}

fn merge_organizer(ev: &Component, app: &Element, opts: &ConvertOptions, edits: &mut Edits) {
    let index = ev.props.iter().position(|p| p.is("ORGANIZER"));
    let email = Incoming::read(app, cal::ORGANIZER_EMAIL, opts);
    let name = Incoming::read(app, cal::ORGANIZER_NAME, opts);
    let old = index.map(|i| &ev.props[i]);
    let email = email.resolve(&old.map(address).unwrap_or_default());
    let name = name.resolve(old.and_then(|p| p.param("CN")).unwrap_or(""));
    match (index, email.is_empty()) {
        (Some(i), true) => edits.remove(i),
        (Some(i), false) => {
            let mut p = ev.props[i].clone();
            if address(&p) != email {
                p.set_value(format!("mailto:{email}"));
            }
            if name.is_empty() {
                p.remove_param("CN");
            } else if p.param("CN") != Some(name.as_str()) {
                p.set_param("CN", &name);
            }
            if p != ev.props[i] {
                edits.update(i, p);
            }
        }
        (None, false) => {
            let mut p = Property::new("ORGANIZER", format!("mailto:{email}"));
            if !name.is_empty() {
                p.set_param("CN", &name);
            }
            edits.append(p);
        }
        (None, true) => {}
    }
}

/// MeetingStatus 5/7/13/15 mean cancelled (MS-ASCAL 2.2.2.28).
fn merge_status(ev: &Component, app: &Element, opts: &ConvertOptions, edits: &mut Edits) {
    let cancelled = match Incoming::read(app, cal::MEETING_STATUS, opts) {
        Incoming::Set(v) => matches!(v.trim(), "5" | "7" | "13" | "15"),
        Incoming::Keep => return,
        Incoming::Clear => false,
    };
    let index = ev.props.iter().position(|p| p.is("STATUS"));
    let was = index.is_some_and(|i| ev.props[i].value.trim().eq_ignore_ascii_case("CANCELLED"));
    match (cancelled, was, index) {
        (true, false, Some(i)) => edits.update(i, Property::new("STATUS", "CANCELLED")),
        (true, false, None) => edits.append(Property::new("STATUS", "CANCELLED")),
        (false, true, Some(i)) => edits.remove(i),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolVersion;
    use crate::items::component::Document;

    const EV: &str = "BEGIN:VEVENT\nORGANIZER;CN=Boss:mailto:boss@example.org\n\
        ATTENDEE;CN=Me;PARTSTAT=ACCEPTED;RSVP=TRUE;X-NUM-GUESTS=0:mailto:me@example.org\n\
        ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:opt@example.org\n\
        ATTENDEE;CUTYPE=ROOM;CN=Room 1:mailto:room@example.org\nEND:VEVENT\n";

    fn opts() -> ConvertOptions {
        let mut o = ConvertOptions::new(ProtocolVersion::V14_1);
        o.user_addresses = vec!["me@example.org".into()];
        o
    }

    #[test]
    fn reads_a_received_meeting() {
        let ev = Document::parse(EV).components.remove(0);
        let m = to_eas(&ev, &opts());
        assert_eq!(m.meeting_status, 3);
        assert_eq!(m.response_type, Some(3));
        assert_eq!(m.organizer_name.as_deref(), Some("Boss"));
        let list = m.attendees.unwrap();
        let types: Vec<_> = list
            .all(cal::ATTENDEE)
            .map(|a| a.child_text(cal::ATTENDEE_TYPE).unwrap().to_string())
            .collect();
        assert_eq!(types, ["1", "2", "3"]);
        assert_eq!(
            list.all(cal::ATTENDEE)
                .nth(1)
                .unwrap()
                .child_text(cal::ATTENDEE_STATUS),
            Some("5")
        );
    }

    #[test]
    fn merge_keeps_unknown_parameters() {
        let ev = Document::parse(EV).components.remove(0);
        let m = to_eas(&ev, &opts());
        let mut app = Element::new(tags::airsync::APPLICATION_DATA)
            .with_text(cal::ORGANIZER_NAME, "Boss")
            .with_text(cal::ORGANIZER_EMAIL, "boss@example.org")
            .with_text(cal::MEETING_STATUS, "3");
        let mut list = m.attendees.unwrap();
        list.children.remove(1);
        app.push(list);
        let mut edits = Edits::default();
        merge(&ev, &app, &opts(), &mut edits);
        let mut ev2 = ev.clone();
        edits.apply(&mut ev2);
        let mut text = String::new();
        ev2.write(&mut text, "\n");
        assert!(text.contains("X-NUM-GUESTS=0"), "{text}");
        assert!(!text.contains("opt@example.org"));
        assert!(text.contains("room@example.org"));
    }
}
