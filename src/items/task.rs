//! iCalendar VTODO ⇄ EAS Tasks (MS-ASTASK). Merged like events: only the
//! properties a field came from change.
//!
//! Importance ⇄ PRIORITY (1–4 high, 5 or none normal, 6–9 low); Complete ⇄
//! STATUS:COMPLETED with COMPLETED; reminders are the first VALARM's fire
//! time; a recurrence's Regenerate and DeadOccur, which iCalendar has no
//! words for, are `X-EAS-REGENERATE` and `X-EAS-DEADOCCUR`. Due and start
//! dates without a time (DATE values) are sent as local midnights and come
//! back as DATE values when the device's local time is midnight.

use super::alarm;
use super::component::{Component, Document};
use super::contentline::{Property, escape_text};
use super::eas_time;
use super::ical_time::IcalTime;
use super::merge::{Edits, Incoming};
use super::pim::{ConvertOptions, ItemError, class_value, retain_supported, sensitivity};
use super::pim_body::{self, LegacyBody};
use super::recurrence::{self, Recurrence};
use super::rrule::RRule;
use super::uid::new_uid;
use super::zones::Zones;
use crate::wbxml::{Element, Tag, tags};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use tags::tasks as t;

const LEGACY_BODY: LegacyBody = LegacyBody {
    body: t::BODY,
    size: Some(t::BODY_SIZE),
    truncated: t::BODY_TRUNCATED,
};

fn importance(todo: &Component) -> u8 {
    match todo
        .text("PRIORITY")
        .and_then(|p| p.trim().parse::<u8>().ok())
    {
        Some(1..=4) => 2,
        Some(6..=9) => 0,
        _ => 1,
    }
}

/// A task time: its instant and its wall-clock value in the task's zone.
struct TaskTime {
    utc: Timestamp,
    local: DateTime,
}

fn task_time(todo: &Component, name: &str, zones: &Zones, default: &TimeZone) -> Option<TaskTime> {
    let t = IcalTime::from_prop(todo.prop(name)?)?;
    let zone = t.zone(zones, default);
    let utc = t.to_timestamp(zones, default)?;
    Some(TaskTime {
        utc,
        local: zone.to_datetime(utc),
    })
}

/// EAS writes local times with a `Z` too (MS-ASTASK DueDate, StartDate).
fn local_string(dt: DateTime) -> String {
    dt.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

fn todo_of(doc: &Document) -> Option<(usize, usize)> {
    doc.components.iter().enumerate().find_map(|(ci, c)| {
        let ti = c.children.iter().position(|k| k.is("VTODO"))?;
        Some((ci, ti))
    })
}

/// The ApplicationData of the first task in `ics`.
pub fn task_to_eas(ics: &str, opts: &ConvertOptions) -> Result<Element, ItemError> {
    let doc = Document::parse(ics).into_calendar();
    let (ci, ti) = todo_of(&doc).ok_or(ItemError::NoComponent("VTODO"))?;
    let cal_comp = &doc.components[ci];
    let todo = &cal_comp.children[ti];
    let zones = Zones::from_calendar(cal_comp);
    let zone = &opts.time_zone;
    let mut app = Element::new(tags::airsync::APPLICATION_DATA);
    let text = todo.text("DESCRIPTION").unwrap_or_default();
    for body in pim_body::to_eas(&text, None, opts, Some(LEGACY_BODY)) {
        app.push(body);
    }
    let completed = todo
        .text("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("COMPLETED"))
        || todo.prop("COMPLETED").is_some();
    app.push_text(t::COMPLETE, if completed { "1" } else { "0" });
    if completed {
        let done = task_time(todo, "COMPLETED", &zones, zone)
            .map(|c| c.utc)
            .or_else(|| task_time(todo, "LAST-MODIFIED", &zones, zone).map(|c| c.utc))
            .unwrap_or_else(Timestamp::now);
        app.push_text(t::DATE_COMPLETED, eas_time::extended(done));
    }
    let due = task_time(todo, "DUE", &zones, zone);
    let start = task_time(todo, "DTSTART", &zones, zone);
    if let Some(d) = &due {
        app.push_text(t::DUE_DATE, local_string(d.local));
        app.push_text(t::UTC_DUE_DATE, eas_time::extended(d.utc));
    }
    app.push_text(t::IMPORTANCE, importance(todo).to_string());
    if let Some(rule) = todo.prop("RRULE").and_then(|p| RRule::parse(&p.value))
        && let Some(anchor) = start.as_ref().or(due.as_ref())
    {
        let until = rule
            .until
            .as_deref()
            .and_then(|u| IcalTime::parse(u, None))
            .and_then(|u| u.to_timestamp(&zones, zone));
        if let Some(r) = Recurrence::from_rrule(&rule, anchor.local, until) {
            let mut e = r.to_element(&recurrence::TASKS, opts.version);
            e.push_text(t::START, local_string(anchor.local));
            let flag = |name: &str| todo.text(name).is_some_and(|v| v.trim() == "1");
            e.push_text(
                t::REGENERATE,
                if flag("X-EAS-REGENERATE") { "1" } else { "0" },
            );
            e.push_text(
                t::DEAD_OCCUR,
                if flag("X-EAS-DEADOCCUR") { "1" } else { "0" },
            );
            app.push(e);
        }
    }
    let reminder = alarm::primary_alarm(todo).and_then(|i| {
        alarm::fire_time(
            &todo.children[i],
            start.as_ref().map(|s| s.utc),
            due.as_ref().map(|d| d.utc),
        )
    });
    app.push_text(t::REMINDER_SET, if reminder.is_some() { "1" } else { "0" });
    if let Some(at) = reminder {
        app.push_text(t::REMINDER_TIME, eas_time::extended(at));
    }
    app.push_text(t::SENSITIVITY, sensitivity(todo).to_string());
    if let Some(s) = &start {
        app.push_text(t::START_DATE, local_string(s.local));
        app.push_text(t::UTC_START_DATE, eas_time::extended(s.utc));
    }
    if let Some(s) = todo.text("SUMMARY") {
        app.push_text(t::SUBJECT, s);
    }
    let cats = todo.list("CATEGORIES");
    if !cats.is_empty() {
        let mut list = Element::new(t::CATEGORIES);
        for c in cats {
            list.push_text(t::CATEGORY, c);
        }
        app.push(list);
    }
    if todo.text("SUMMARY").is_none() && text.is_empty() && due.is_none() {
        return Err(ItemError::Unusable(
            "the task has no summary, description or due date",
        ));
    }
    retain_supported(&mut app, opts.version);
    Ok(app)
}

/// The calendar after a device's change to a task, merged into `existing`
/// or new (with a fresh UID).
pub fn task_from_eas(
    app: &Element,
    existing: Option<&str>,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    let mut doc = existing
        .map(|e| Document::parse(e).into_calendar())
        .filter(|d| d.components.iter().any(|c| c.is("VCALENDAR")))
        .unwrap_or_else(new_calendar);
    let (ci, ti) = match todo_of(&doc) {
        Some(found) => found,
        None => {
            let ci = doc
                .components
                .iter()
                .position(|c| c.is("VCALENDAR"))
                .unwrap_or(0);
            let mut todo = Component::new("VTODO");
            todo.props.push(Property::new("UID", new_uid()));
            todo.props.push(Property::new(
                "DTSTAMP",
                eas_time::compact(Timestamp::now()),
            ));
            let cal_comp = doc
                .components
                .get_mut(ci)
                .ok_or(ItemError::NoComponent("VCALENDAR"))?;
            cal_comp.children.push(todo);
            (ci, cal_comp.children.len() - 1)
        }
    };
    let cal_comp = &mut doc.components[ci];
    let zones = Zones::from_calendar(cal_comp);
    let todo = cal_comp.children[ti].clone();
    let zone = &opts.time_zone;
    let mut edits = Edits::default();
    let read = |tag: Tag| Incoming::read(app, tag, opts);

    edits.set_text(&todo, "SUMMARY", read(t::SUBJECT));
    if let Incoming::Set(v) = read(t::SENSITIVITY)
        && sensitivity(&todo).to_string() != v.trim()
    {
        edits.set_prop(&todo, Property::new("CLASS", class_value(v)));
    }
    if let Incoming::Set(v) = read(t::IMPORTANCE)
        && importance(&todo).to_string() != v.trim()
    {
        let priority = match v.trim() {
            "2" => "1",
            "0" => "9",
            _ => "5",
        };
        edits.set_prop(&todo, Property::new("PRIORITY", priority));
    }
    merge_body(&todo, app, opts, &mut edits);
    merge_categories(&todo, app, opts, &mut edits);
    merge_time(
        &todo,
        "DUE",
        app.child_text(t::UTC_DUE_DATE),
        app.child_text(t::DUE_DATE),
        read(t::UTC_DUE_DATE),
        &zones,
        zone,
        &mut edits,
    );
    merge_time(
        &todo,
        "DTSTART",
        app.child_text(t::UTC_START_DATE),
        app.child_text(t::START_DATE),
        read(t::UTC_START_DATE),
        &zones,
        zone,
        &mut edits,
    );
    merge_completion(&todo, app, opts, &mut edits);
    merge_recurrence(&todo, app, opts, &zones, zone, &mut edits);

    let start = task_time(&todo, "DTSTART", &zones, zone).map(|s| s.utc);
    let due = task_time(&todo, "DUE", &zones, zone).map(|d| d.utc);
    let stored_reminder =
        alarm::primary_alarm(&todo).and_then(|i| alarm::fire_time(&todo.children[i], start, due));
    let wanted = match read(t::REMINDER_SET) {
        Incoming::Set(v) if v.trim() == "1" => Some(
            app.child_text(t::REMINDER_TIME)
                .and_then(eas_time::parse)
                .or(stored_reminder),
        ),
        Incoming::Keep => None,
        _ => Some(None),
    };
    let alarm_change = wanted.filter(|w| *w != stored_reminder);

    if edits.is_empty() && alarm_change.is_none() {
        return Ok(doc.write());
    }
    edits.set_prop(
        &todo,
        Property::new("DTSTAMP", eas_time::compact(Timestamp::now())),
    );
    if todo.prop("LAST-MODIFIED").is_some() {
        edits.set_prop(
            &todo,
            Property::new("LAST-MODIFIED", eas_time::compact(Timestamp::now())),
        );
    }
    let target = &mut cal_comp.children[ti];
    edits.apply(target);
    if let Some(at) = alarm_change {
        alarm::set_primary(target, at.map(alarm::absolute_trigger));
    }
    Ok(doc.write())
}

fn new_calendar() -> Document {
    let mut cal_comp = Component::new("VCALENDAR");
    cal_comp.props.push(Property::new("VERSION", "2.0"));
    cal_comp.props.push(Property::new("PRODID", "-//easd//EN"));
    Document {
        components: vec![cal_comp],
        eol: "\r\n",
    }
}

fn merge_body(todo: &Component, app: &Element, opts: &ConvertOptions, edits: &mut Edits) {
    let stored = todo.text("DESCRIPTION").unwrap_or_default();
    let ghosted = opts.is_ghosted(tags::airsyncbase::BODY) && opts.is_ghosted(t::BODY);
    let text = match pim_body::from_eas(app, Some(LEGACY_BODY)) {
        Some(text) => text,
        None if ghosted => return,
        None => String::new(),
    };
    if text == stored || pim_body::is_truncated_echo(&stored, &text) {
        return;
    }
    let incoming = if text.is_empty() {
        Incoming::Clear
    } else {
        Incoming::Set(&text)
    };
    edits.set_text(todo, "DESCRIPTION", incoming);
}

fn merge_categories(todo: &Component, app: &Element, opts: &ConvertOptions, edits: &mut Edits) {
    let new: Vec<String> = match app.first(t::CATEGORIES) {
        Some(list) => list
            .all(t::CATEGORY)
            .filter_map(|e| e.text_content())
            .map(str::to_string)
            .collect(),
        None if opts.is_ghosted(t::CATEGORIES) => return,
        None => Vec::new(),
    };
    if new == todo.list("CATEGORIES") {
        return;
    }
    for (i, _) in todo
        .props
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is("CATEGORIES"))
    {
        edits.remove(i);
    }
    if !new.is_empty() {
        let value = new
            .iter()
            .map(|s| escape_text(s))
            .collect::<Vec<_>>()
            .join(",");
        edits.append(Property::new("CATEGORIES", value));
    }
}

/// DUE or DTSTART from the device's UTC and local forms. A local midnight
/// with no stored time of day becomes a DATE value.
#[allow(clippy::too_many_arguments)]
fn merge_time(
    todo: &Component,
    name: &str,
    utc: Option<&str>,
    local: Option<&str>,
    incoming: Incoming<'_>,
    zones: &Zones,
    zone: &TimeZone,
    edits: &mut Edits,
) {
    let index = todo.props.iter().position(|p| p.is(name));
    let stored = task_time(todo, name, zones, zone);
    let stored_is_date = index
        .and_then(|i| IcalTime::from_prop(&todo.props[i]))
        .is_some_and(|t| t.is_date());
    let utc = utc.and_then(eas_time::parse);
    let local = local
        .and_then(eas_time::parse)
        .map(|l| TimeZone::UTC.to_datetime(l));
    let Some(instant) = utc.or_else(|| local.and_then(|l| zone.to_timestamp(l).ok())) else {
        if matches!(incoming, Incoming::Clear)
            && let Some(i) = index
        {
            edits.remove(i);
        }
        return;
    };
    if stored.as_ref().is_some_and(|s| s.utc == instant) {
        return;
    }
    let local_dt = local.unwrap_or_else(|| zone.to_datetime(instant));
    let midnight = local_dt.time() == jiff::civil::Time::midnight();
    let prop = if midnight && (stored_is_date || index.is_none()) {
        IcalTime::Date(local_dt.date()).to_prop(name)
    } else {
        match index
            .and_then(|i| todo.props[i].param("TZID"))
            .and_then(|tzid| Some((tzid, zones.resolve(tzid, local_dt.year())?)))
        {
            Some((tzid, tz)) => {
                IcalTime::Zoned(tz.to_datetime(instant), tzid.to_string()).to_prop(name)
            }
            None => IcalTime::Utc(instant).to_prop(name),
        }
    };
    match index {
        Some(i) => edits.update(i, prop),
        None => edits.append(prop),
    }
}

fn merge_completion(todo: &Component, app: &Element, opts: &ConvertOptions, edits: &mut Edits) {
    let done = match Incoming::read(app, t::COMPLETE, opts) {
        Incoming::Set(v) => v.trim() == "1",
        Incoming::Keep => return,
        Incoming::Clear => false,
    };
    let was = todo
        .text("STATUS")
        .is_some_and(|s| s.eq_ignore_ascii_case("COMPLETED"))
        || todo.prop("COMPLETED").is_some();
    if done == was {
        return;
    }
    let index = |name: &str| todo.props.iter().position(|p| p.is(name));
    if done {
        let at = app
            .child_text(t::DATE_COMPLETED)
            .and_then(eas_time::parse)
            .unwrap_or_else(Timestamp::now);
        edits.set_prop(todo, Property::new("STATUS", "COMPLETED"));
        edits.set_prop(todo, IcalTime::Utc(at).to_prop("COMPLETED"));
        if index("PERCENT-COMPLETE").is_some() {
            edits.set_prop(todo, Property::new("PERCENT-COMPLETE", "100"));
        }
    } else {
        edits.set_prop(todo, Property::new("STATUS", "NEEDS-ACTION"));
        if let Some(i) = index("COMPLETED") {
            edits.remove(i);
        }
        if let Some(i) = index("PERCENT-COMPLETE") {
            edits.remove(i);
        }
    }
}

fn merge_recurrence(
    todo: &Component,
    app: &Element,
    opts: &ConvertOptions,
    zones: &Zones,
    zone: &TimeZone,
    edits: &mut Edits,
) {
    let index = todo.props.iter().position(|p| p.is("RRULE"));
    let anchor =
        task_time(todo, "DTSTART", zones, zone).or_else(|| task_time(todo, "DUE", zones, zone));
    let stored_rule = index.and_then(|i| RRule::parse(&todo.props[i].value));
    let stored = stored_rule
        .as_ref()
        .zip(anchor.as_ref())
        .and_then(|(rule, a)| {
            let until = rule
                .until
                .as_deref()
                .and_then(|u| IcalTime::parse(u, None))
                .and_then(|u| u.to_timestamp(zones, zone));
            Recurrence::from_rrule(rule, a.local, until)
        });
    let Some(e) = app.first(t::RECURRENCE) else {
        if !opts.is_ghosted(t::RECURRENCE)
            && stored.is_some()
            && let Some(i) = index
        {
            edits.remove(i);
        }
        return;
    };
    for (name, tag) in [
        ("X-EAS-REGENERATE", t::REGENERATE),
        ("X-EAS-DEADOCCUR", t::DEAD_OCCUR),
    ] {
        let on = e.child_text(tag).is_some_and(|v| v.trim() == "1");
        let was = todo.text(name).is_some_and(|v| v.trim() == "1");
        match (on, was) {
            (true, false) => edits.set_prop(todo, Property::new(name, "1")),
            (false, true) => {
                if let Some(i) = todo.props.iter().position(|p| p.is(name)) {
                    edits.remove(i);
                }
            }
            _ => {}
        }
    }
    let Some(r) = Recurrence::from_element(e, &recurrence::TASKS) else {
        return;
    };
    if stored.as_ref() == Some(&r) {
        return;
    }
    let mut rule = r.to_rrule(r.until.map(eas_time::compact));
    if let Some(old) = stored_rule {
        rule.other = old.other;
    }
    edits.set_prop(todo, Property::new("RRULE", rule.to_value()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolVersion;

    const TODO: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Nextcloud Tasks v0.16//EN\r\nBEGIN:VTODO\r\n\
        UID:task-1\r\nDTSTAMP:20240301T100000Z\r\nSUMMARY:Steuererklärung\r\nDESCRIPTION:Belege sammeln\r\n\
        DUE;VALUE=DATE:20240531\r\nPRIORITY:1\r\nCATEGORIES:Finanzen\r\nX-APPLE-SORT-ORDER:12\r\n\
        BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;VALUE=DATE-TIME:20240530T070000Z\r\nEND:VALARM\r\n\
        END:VTODO\r\nEND:VCALENDAR\r\n";

    fn opts() -> ConvertOptions {
        let mut o = ConvertOptions::new(ProtocolVersion::V14_1);
        o.time_zone = jiff::tz::db().get("Europe/Berlin").unwrap();
        o
    }

    #[test]
    fn fields_out() {
        let app = task_to_eas(TODO, &opts()).unwrap();
        assert_eq!(app.child_text(t::SUBJECT), Some("Steuererklärung"));
        assert_eq!(app.child_text(t::IMPORTANCE), Some("2"));
        assert_eq!(
            app.child_text(t::DUE_DATE),
            Some("2024-05-31T00:00:00.000Z")
        );
        assert_eq!(
            app.child_text(t::UTC_DUE_DATE),
            Some("2024-05-30T22:00:00.000Z")
        );
        assert_eq!(
            app.child_text(t::REMINDER_TIME),
            Some("2024-05-30T07:00:00.000Z")
        );
        assert_eq!(app.child_text(t::COMPLETE), Some("0"));
    }

    #[test]
    fn round_trips() {
        let o = opts();
        let app = task_to_eas(TODO, &o).unwrap();
        assert_eq!(task_from_eas(&app, Some(TODO), &o).unwrap(), TODO);
        let created = task_from_eas(&app, None, &o).unwrap();
        assert!(created.contains("DUE;VALUE=DATE:20240531"), "{created}");
        let again = task_to_eas(&created, &o).unwrap();
        assert_eq!(again, app);
    }

    #[test]
    fn completing_a_task() {
        let o = opts();
        let mut app = task_to_eas(TODO, &o).unwrap();
        app.children
            .retain(|n| !matches!(n, crate::wbxml::Node::Element(e) if e.tag == t::COMPLETE));
        app.push_text(t::COMPLETE, "1");
        app.push_text(t::DATE_COMPLETED, "2024-05-02T09:00:00.000Z");
        let back = task_from_eas(&app, Some(TODO), &o).unwrap();
        assert!(back.contains("STATUS:COMPLETED"));
        assert!(back.contains("COMPLETED:20240502T090000Z"));
        assert!(back.contains("X-APPLE-SORT-ORDER:12"));
    }

    #[test]
    fn recurring_task() {
        let o = opts();
        let ics = TODO.replace(
            "PRIORITY:1\r\n",
            "PRIORITY:1\r\nRRULE:FREQ=MONTHLY;BYMONTHDAY=31\r\nX-EAS-REGENERATE:1\r\n",
        );
        let app = task_to_eas(&ics, &o).unwrap();
        let r = app.first(t::RECURRENCE).unwrap();
        assert_eq!(r.child_text(t::TYPE), Some("2"));
        assert_eq!(r.child_text(t::START), Some("2024-05-31T00:00:00.000Z"));
        assert_eq!(r.child_text(t::REGENERATE), Some("1"));
        assert_eq!(task_from_eas(&app, Some(&ics), &o).unwrap(), ics);
    }
}
