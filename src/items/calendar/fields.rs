//! The fields a series and its exceptions share: times, subject, location,
//! body, busy status, sensitivity, categories and reminder, both ways.

use super::times::{EventTimes, TimeForm};
use crate::ProtocolVersion;
use crate::items::alarm::{self, fire_time, primary_alarm};
use crate::items::component::Component;
use crate::items::contentline::{Property, escape_text};
use crate::items::eas_time;
use crate::items::ical_time::IcalTime;
use crate::items::merge::{Edits, Incoming};
use crate::items::pim::{ConvertOptions, class_value, sensitivity};
use crate::items::pim_body::{self, LegacyBody};
use crate::wbxml::{Element, Tag, tags};
use jiff::{SignedDuration, Timestamp};

use tags::calendar as cal;

pub const LEGACY_BODY: LegacyBody = LegacyBody {
    body: cal::BODY,
    size: None,
    truncated: cal::BODY_TRUNCATED,
};

/// BusyStatus (MS-ASCAL 2.2.2.9) ⇄ X-MICROSOFT-CDO-BUSYSTATUS.
const BUSY: [(u8, &str); 5] = [
    (0, "FREE"),
    (1, "TENTATIVE"),
    (2, "BUSY"),
    (3, "OOF"),
    (4, "WORKINGELSEWHERE"),
];

/// Whether an absent field means "cleared" (a series) or "as the series"
/// (an exception).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Series,
    Exception,
}

pub(crate) fn busy_status(ev: &Component) -> u8 {
    if let Some(cdo) = ev.text("X-MICROSOFT-CDO-BUSYSTATUS")
        && let Some(&(code, _)) = BUSY
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(cdo.trim()))
    {
        return code;
    }
    match ev.text("TRANSP") {
        Some(t) if t.trim().eq_ignore_ascii_case("TRANSPARENT") => 0,
        _ => 2,
    }
}

/// Minutes before the start the device's alarm fires, if it fires before.
pub fn reminder_minutes(ev: &Component, times: &EventTimes) -> Option<u32> {
    let alarm = &ev.children[primary_alarm(ev)?];
    let at = fire_time(alarm, Some(times.start), Some(times.end))?;
    let before = times.start.duration_since(at).as_mins();
    u32::try_from(before).ok()
}

/// Appends the shared fields of `ev` to `out`.
pub fn to_eas(ev: &Component, times: &EventTimes, opts: &ConvertOptions, out: &mut Element) {
    let v = opts.version;
    out.push_text(cal::ALL_DAY_EVENT, if times.all_day { "1" } else { "0" });
    let html = ev
        .props_named("X-ALT-DESC")
        .find(|p| {
            p.param("FMTTYPE")
                .is_some_and(|f| f.eq_ignore_ascii_case("text/html"))
        })
        .map(Property::text_value);
    let text = ev.text("DESCRIPTION").unwrap_or_default();
    for body in pim_body::to_eas(&text, html.as_deref(), opts, Some(LEGACY_BODY)) {
        out.push(body);
    }
    let busy = busy_status(ev);
    let busy = if busy == 4 && v < ProtocolVersion::V16_0 {
        2
    } else {
        busy
    };
    out.push_text(cal::BUSY_STATUS, busy.to_string());
    out.push_text(cal::END_TIME, eas_time::compact(times.end));
    if let Some(loc) = ev.text("LOCATION") {
        if v >= ProtocolVersion::V16_0 {
            out.push(
                Element::new(tags::airsyncbase::LOCATION)
                    .with_text(tags::airsyncbase::DISPLAY_NAME, loc),
            );
        } else {
            out.push_text(cal::LOCATION, loc);
        }
    }
    if let Some(m) = reminder_minutes(ev, times) {
        out.push_text(cal::REMINDER, m.to_string());
    }
    out.push_text(cal::SENSITIVITY, sensitivity(ev).to_string());
    if let Some(s) = ev.text("SUMMARY") {
        out.push_text(cal::SUBJECT, s);
    }
    out.push_text(cal::START_TIME, eas_time::compact(times.start));
    let cats = ev.list("CATEGORIES");
    if !cats.is_empty() {
        let mut list = Element::new(cal::CATEGORIES);
        for c in cats {
            list.push_text(cal::CATEGORY, c);
        }
        out.push(list);
    }
}

/// A device's times, read from StartTime/EndTime/AllDayEvent.
pub struct DeviceTimes {
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub all_day: Option<bool>,
}

pub fn device_times(app: &Element) -> DeviceTimes {
    DeviceTimes {
        start: app.child_text(cal::START_TIME).and_then(eas_time::parse),
        end: app.child_text(cal::END_TIME).and_then(eas_time::parse),
        all_day: app.child_text(cal::ALL_DAY_EVENT).map(|v| v.trim() == "1"),
    }
}

/// What merging the shared fields produced: property edits, and the alarm
/// trigger to set (outer `None`: leave the alarm alone).
pub struct FieldEdits {
    pub edits: Edits,
    pub alarm: Option<Option<Property>>,
}

/// Merges the shared fields of `app` into `ev`. `current` are the event's
/// times as stored (for keeping untouched DTSTART/DTEND lines).
pub fn merge(
    ev: &Component,
    app: &Element,
    opts: &ConvertOptions,
    mode: Mode,
    form: &TimeForm,
    current: Option<&EventTimes>,
) -> FieldEdits {
    let mut f = FieldEdits {
        edits: Edits::default(),
        alarm: None,
    };
    let incoming = |tag: Tag| match (Incoming::read(app, tag, opts), mode) {
        (Incoming::Clear, Mode::Exception) if app.first(tag).is_none() => Incoming::Keep,
        (i, _) => i,
    };
    let index = |name: &str| ev.props.iter().position(|p| p.is(name));

    let dev = device_times(app);
    let all_day = dev.all_day.or(current.map(|c| c.all_day)).unwrap_or(false);
    if let Some(start) = dev.start {
        let end = dev.end.filter(|e| *e >= start).unwrap_or(start);
        let unchanged =
            current.is_some_and(|c| c.start == start && c.end == end && c.all_day == all_day);
        if !unchanged {
            f.edits
                .set_prop(ev, form.prop("DTSTART", start, all_day, false));
            f.edits
                .set_prop(ev, form.prop("DTEND", end.max(start), all_day, true));
            if let Some(i) = index("DURATION") {
                f.edits.remove(i);
            }
        }
    }

    f.edits.set_text(ev, "SUMMARY", incoming(cal::SUBJECT));
    let location = if opts.version >= ProtocolVersion::V16_0 {
        match app.first(tags::airsyncbase::LOCATION) {
            Some(l) => match l.child_text(tags::airsyncbase::DISPLAY_NAME) {
                Some(n) if !n.trim().is_empty() => Incoming::Set(n),
                _ => Incoming::Clear,
            },
            None => incoming(tags::airsyncbase::LOCATION),
        }
    } else {
        incoming(cal::LOCATION)
    };
    f.edits.set_text(ev, "LOCATION", location);

    match incoming(cal::SENSITIVITY) {
        Incoming::Set(v) if sensitivity(ev).to_string() != v.trim() => {
            f.edits.set_prop(ev, Property::new("CLASS", class_value(v)));
        }
        Incoming::Clear if mode == Mode::Series && sensitivity(ev) != 0 => {
            if let Some(i) = index("CLASS") {
                f.edits.remove(i);
            }
        }
        _ => {}
    }

    if let Incoming::Set(v) = incoming(cal::BUSY_STATUS)
        && busy_status(ev).to_string() != v.trim()
    {
        let code: u8 = v.trim().parse().unwrap_or(2);
        let transp = if code == 0 { "TRANSPARENT" } else { "OPAQUE" };
        f.edits.set_prop(ev, Property::new("TRANSP", transp));
        let cdo = BUSY
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("BUSY", |(_, n)| *n);
        if code == 1 || code >= 3 || index("X-MICROSOFT-CDO-BUSYSTATUS").is_some() {
            f.edits
                .set_prop(ev, Property::new("X-MICROSOFT-CDO-BUSYSTATUS", cdo));
        }
    }

    let body = pim_body::from_eas(app, Some(LEGACY_BODY));
    let ghosted = opts.is_ghosted(tags::airsyncbase::BODY) && opts.is_ghosted(cal::BODY);
    let stored = ev.text("DESCRIPTION").unwrap_or_default();
    let body = match (body, mode) {
        (Some(t), _) if t == stored || pim_body::is_truncated_echo(&stored, &t) => None,
        (Some(t), _) => Some(t),
        (None, Mode::Series) if !ghosted => Some(String::new()),
        (None, _) => None,
    };
    if let Some(text) = body {
        f.edits.set_text(
            ev,
            "DESCRIPTION",
            if text.is_empty() {
                Incoming::Clear
            } else {
                Incoming::Set(&text)
            },
        );
        for (i, _) in ev
            .props
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is("X-ALT-DESC"))
        {
            f.edits.remove(i);
        }
    }

    let cats: Option<Vec<String>> = match app.first(cal::CATEGORIES) {
        Some(list) => Some(
            list.all(cal::CATEGORY)
                .filter_map(|e| e.text_content())
                .map(str::to_string)
                .collect(),
        ),
        None if mode == Mode::Exception || opts.is_ghosted(cal::CATEGORIES) => None,
        None => Some(Vec::new()),
    };
    if let Some(new) = cats.filter(|n| *n != ev.list("CATEGORIES")) {
        for (i, _) in ev
            .props
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is("CATEGORIES"))
        {
            f.edits.remove(i);
        }
        if !new.is_empty() {
            let value = new
                .iter()
                .map(|s| escape_text(s))
                .collect::<Vec<_>>()
                .join(",");
            f.edits.append(Property::new("CATEGORIES", value));
        }
    }

    f.alarm = match incoming(cal::REMINDER) {
        Incoming::Set(v) => {
            let minutes: i64 = v.trim().parse().unwrap_or(15);
            let same = current
                .and_then(|c| reminder_minutes(ev, c))
                .is_some_and(|m| i64::from(m) == minutes);
            (!same).then(|| Some(alarm::relative_trigger(SignedDuration::from_mins(minutes))))
        }
        Incoming::Clear => primary_alarm(ev).map(|_| None),
        Incoming::Keep => None,
    };
    f
}

/// The instant of a RECURRENCE-ID or EXDATE value, with its own TZID.
pub fn instant(
    value: &str,
    tzid: Option<&str>,
    zones: &crate::items::zones::Zones,
    zone: &jiff::tz::TimeZone,
) -> Option<Timestamp> {
    IcalTime::parse(value, tzid)?.to_timestamp(zones, zone)
}
