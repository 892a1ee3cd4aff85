//! iCalendar VEVENT ⇄ EAS Calendar (MS-ASCAL). A series is the VEVENT
//! without RECURRENCE-ID; its EXDATEs and overrides are the Exceptions. A
//! device's change is merged into the stored calendar: unknown properties,
//! other components and untouched lines keep their bytes.
//!
//! Mappings beyond the obvious: BusyStatus ⇄ TRANSP plus
//! X-MICROSOFT-CDO-BUSYSTATUS, Sensitivity ⇄ CLASS (Personal as
//! `X-PERSONAL`), DisallowNewTimeProposal ⇄ X-MICROSOFT-DISALLOW-COUNTER,
//! MeetingStatus from the attendees, the organizer (the user's own address
//! or not) and STATUS:CANCELLED.

mod attendees;
mod exceptions;
pub(crate) mod fields;
pub(crate) mod times;

use super::alarm;
use super::component::{Component, Document};
use super::contentline::Property;
use super::eas_time;
use super::ical_time::IcalTime;
use super::merge::Edits;
use super::pim::{ConvertOptions, ItemError, retain_supported};
use super::recurrence::{self, Recurrence};
use super::rrule::{Freq, RRule};
use super::tzinfo::TzInfo;
use super::uid::new_uid;
use super::zones::Zones;
use crate::ProtocolVersion;
use crate::wbxml::{Element, tags};
use jiff::Timestamp;
use times::{EventTimes, TimeForm};

use tags::calendar as cal;

fn calendar_of(doc: &Document) -> Result<usize, ItemError> {
    doc.components
        .iter()
        .position(|c| c.is("VCALENDAR"))
        .ok_or(ItemError::NoComponent("VCALENDAR"))
}

/// The series: the first VEVENT without RECURRENCE-ID, else the first VEVENT.
fn master_of(cal_comp: &Component) -> Option<usize> {
    let events = || {
        cal_comp
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is("VEVENT"))
    };
    events()
        .find(|(_, c)| c.prop("RECURRENCE-ID").is_none())
        .or_else(|| events().next())
        .map(|(i, _)| i)
}

fn rrule_of(ev: &Component) -> Option<RRule> {
    ev.prop("RRULE").and_then(|p| RRule::parse(&p.value))
}

fn this_year() -> i16 {
    Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .year()
}

/// The UNTIL of a rule as an instant: a DATE means that day at the series'
/// start time.
fn until_instant(rule: &RRule, times: &EventTimes, zones: &Zones) -> Option<Timestamp> {
    match IcalTime::parse(rule.until.as_deref()?, None)? {
        IcalTime::Date(d) => {
            let time = times.zone.to_datetime(times.start).time();
            times.zone.to_timestamp(d.to_datetime(time)).ok()
        }
        other => other.to_timestamp(zones, &times.zone),
    }
}

fn recurrence_of(ev: &Component, times: &EventTimes, zones: &Zones) -> Option<Recurrence> {
    let rule = rrule_of(ev)?;
    let until = until_instant(&rule, times, zones);
    Recurrence::from_rrule(&rule, times.zone.to_datetime(times.start), until)
}

/// Whether the recurring `series` (a master VEVENT) has a live occurrence originally starting at
/// `at`: its start, an RDATE or an instance of its RRULE, not deleted by an EXDATE.
pub fn series_has_occurrence(series: &Component, zones: &Zones, at: Timestamp) -> bool {
    times::read(series, zones, &jiff::tz::TimeZone::UTC, None)
        .is_some_and(|t| exceptions::is_occurrence(series, zones, &t, at))
}

/// The ApplicationData of the event in `ics`.
pub fn event_to_eas(ics: &str, opts: &ConvertOptions) -> Result<Element, ItemError> {
    let doc = Document::parse(ics).into_calendar();
    let cal_comp = &doc.components[calendar_of(&doc)?];
    let master = &cal_comp.children[master_of(cal_comp).ok_or(ItemError::NoComponent("VEVENT"))?];
    let zones = Zones::from_calendar(cal_comp);
    let open_ended = rrule_of(master).is_some_and(|r| r.until.is_none() && r.count.is_none());
    let year_hint = open_ended.then(this_year);
    let times = times::read(master, &zones, &opts.time_zone, year_hint)
        .ok_or(ItemError::Unusable("the event has no valid DTSTART"))?;

    let mut app = Element::new(tags::airsync::APPLICATION_DATA);
    app.push_text(cal::TIMEZONE, times.blob.to_base64());
    fields::to_eas(master, &times, opts, &mut app);
    let meeting = attendees::to_eas(master, opts);
    let stamp = ["DTSTAMP", "LAST-MODIFIED", "CREATED"]
        .iter()
        .find_map(|n| IcalTime::from_prop(master.prop(n)?)?.to_timestamp(&zones, &times.zone))
        .unwrap_or_else(Timestamp::now);
    app = app
        .with_opt_text(cal::ORGANIZER_NAME, meeting.organizer_name)
        .with_opt_text(cal::ORGANIZER_EMAIL, meeting.organizer_email)
        .with_text(cal::DT_STAMP, eas_time::compact(stamp))
        .with_opt_text(cal::UID, master.text("UID"))
        .with_text(cal::MEETING_STATUS, meeting.meeting_status.to_string());
    if let Some(list) = meeting.attendees {
        app.push(list);
    }
    if let Some(r) = recurrence_of(master, &times, &zones) {
        app.push(r.to_element(&recurrence::CALENDAR, opts.version));
        if let Some(list) = exceptions::to_eas(cal_comp, master, &times, &zones, opts) {
            app.push(list);
        }
    }
    if let Some(rsvp) = meeting.response_requested {
        app.push_text(cal::RESPONSE_REQUESTED, if rsvp { "1" } else { "0" });
    }
    if let Some(rt) = meeting.response_type {
        app.push_text(cal::RESPONSE_TYPE, rt.to_string());
    }
    if let Some(v) = master.text("X-MICROSOFT-DISALLOW-COUNTER") {
        app.push_text(
            cal::DISALLOW_NEW_TIME_PROPOSAL,
            if v.eq_ignore_ascii_case("TRUE") {
                "1"
            } else {
                "0"
            },
        );
    }
    retain_supported(&mut app, opts.version);
    Ok(app)
}

/// The calendar after a device's Add or Change: merged into `existing`, or a
/// new VCALENDAR whose UID is the device's (UID or ClientUid) or a fresh one.
pub fn event_from_eas(
    app: &Element,
    existing: Option<&str>,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    let (mut doc, cal_idx) = open_calendar(existing);
    let cal_comp = &mut doc.components[cal_idx];
    let master_idx = match master_of(cal_comp) {
        Some(i) => i,
        None => {
            let uid = [cal::UID, cal::CLIENT_UID]
                .iter()
                .find_map(|t| app.child_text(*t).map(str::trim).filter(|u| !u.is_empty()))
                .map_or_else(new_uid, str::to_string);
            let mut ev = Component::new("VEVENT");
            ev.props
                .push(Property::new("UID", super::contentline::escape_text(&uid)));
            ev.props.push(Property::new(
                "DTSTAMP",
                eas_time::compact(device_stamp(app)),
            ));
            cal_comp.children.push(ev);
            cal_comp.children.len() - 1
        }
    };
    let zones = Zones::from_calendar(cal_comp);
    let master = cal_comp.children[master_idx].clone();
    let current = times::read(&master, &zones, &opts.time_zone, None);
    let blob = app
        .child_text(cal::TIMEZONE)
        .and_then(|b| TzInfo::from_base64(b).ok());
    let device = fields::device_times(app);
    let year = device
        .start
        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).year())
        .or(current.as_ref().map(|c| c.zone.to_datetime(c.start).year()))
        .unwrap_or_else(this_year);
    let form = times::choose_form(
        blob.as_ref(),
        master.prop("DTSTART"),
        &zones,
        &opts.time_zone,
        year,
    );

    let mut f = fields::merge(
        &master,
        app,
        opts,
        fields::Mode::Series,
        &form,
        current.as_ref(),
    );
    attendees::merge(&master, app, opts, &mut f.edits);
    let all_day = device
        .all_day
        .or(current.as_ref().map(|c| c.all_day))
        .unwrap_or(false);
    merge_recurrence(
        &master,
        app,
        opts,
        &form,
        all_day,
        current.as_ref(),
        &zones,
        &mut f.edits,
    );
    if let Some(v) = app.child_text(cal::DISALLOW_NEW_TIME_PROPOSAL) {
        let disallow = v.trim() == "1";
        let stored = master
            .text("X-MICROSOFT-DISALLOW-COUNTER")
            .map(|o| o.eq_ignore_ascii_case("TRUE"));
        if stored != Some(disallow) {
            let value = if disallow { "TRUE" } else { "FALSE" };
            f.edits.set_prop(
                &master,
                Property::new("X-MICROSOFT-DISALLOW-COUNTER", value),
            );
        }
    }
    let times_written = device.start.is_some()
        && current.as_ref().is_none_or(|c| {
            Some(c.start) != device.start || Some(c.end) != device.end || c.all_day != all_day
        });
    let changed = !f.edits.is_empty() || f.alarm.is_some();
    if changed {
        stamp(&master, app, &mut f.edits);
    }
    let target = &mut cal_comp.children[master_idx];
    f.edits.apply(target);
    if let Some(trigger) = f.alarm {
        alarm::set_primary(target, trigger);
    }
    if opts.version < ProtocolVersion::V16_0 {
        exceptions::merge(cal_comp, master_idx, app, opts, &zones, &form);
    }
    if times_written {
        times::ensure_vtimezone(cal_comp, &form, year);
    }
    Ok(doc.write())
}

fn device_stamp(app: &Element) -> Timestamp {
    app.child_text(cal::DT_STAMP)
        .and_then(eas_time::parse)
        .unwrap_or_else(Timestamp::now)
}

fn open_calendar(existing: Option<&str>) -> (Document, usize) {
    let parsed = existing.map(|e| Document::parse(e).into_calendar());
    if let Some(doc) = parsed
        && let Ok(i) = calendar_of(&doc)
    {
        return (doc, i);
    }
    let mut cal_comp = Component::new("VCALENDAR");
    cal_comp.props.push(Property::new("VERSION", "2.0"));
    cal_comp.props.push(Property::new("PRODID", "-//easd//EN"));
    let doc = Document {
        components: vec![cal_comp],
        eol: "\r\n",
    };
    (doc, 0)
}

/// DTSTAMP and LAST-MODIFIED (if the file keeps one) become the device's
/// DtStamp, or now.
fn stamp(ev: &Component, app: &Element, edits: &mut Edits) {
    let now = eas_time::compact(device_stamp(app));
    edits.set_prop(ev, Property::new("DTSTAMP", now.clone()));
    if ev.prop("LAST-MODIFIED").is_some() {
        edits.set_prop(ev, Property::new("LAST-MODIFIED", now));
    }
}

#[allow(clippy::too_many_arguments)]
fn merge_recurrence(
    master: &Component,
    app: &Element,
    opts: &ConvertOptions,
    form: &TimeForm,
    all_day: bool,
    current: Option<&EventTimes>,
    zones: &Zones,
    edits: &mut Edits,
) {
    let stored = current.and_then(|c| recurrence_of(master, c, zones));
    let index = master.props.iter().position(|p| p.is("RRULE"));
    match app.first(cal::RECURRENCE) {
        Some(e) => {
            let Some(mut r) = Recurrence::from_element(e, &recurrence::CALENDAR) else {
                return;
            };
            if opts.version < ProtocolVersion::V14_1 {
                r.first_day_of_week = stored.as_ref().and_then(|s| s.first_day_of_week);
            }
            if stored.as_ref() == Some(&r) {
                return;
            }
            let until = r.until.map(|ts| {
                if all_day {
                    times::local_date(ts, &form.zone(), false)
                        .strftime("%Y%m%d")
                        .to_string()
                } else {
                    eas_time::compact(ts)
                }
            });
            let mut rule = r.to_rrule(until);
            if let Some(old) = index.and_then(|i| RRule::parse(&master.props[i].value)) {
                rule.other = old.other;
            }
            edits.set_prop(master, Property::new("RRULE", rule.to_value()));
        }
        None if opts.is_ghosted(cal::RECURRENCE) => {}
        None => {
            // A rule the device never saw (not expressible in EAS) stays.
            if let Some(i) = index.filter(|_| stored.is_some()) {
                edits.remove(i);
                for (j, _) in master
                    .props
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.is("EXDATE") || p.is("RDATE"))
                {
                    edits.remove(j);
                }
            }
        }
    }
}

/// The span an event covers, in Unix seconds, for the Sync FilterType: from
/// its first start to its last end; an open-ended series ends at `i64::MAX`.
/// COUNT-limited series are bounded generously (every period used up).
pub fn event_time_range(ics: &str) -> Option<(i64, i64)> {
    let doc = Document::parse(ics).into_calendar();
    let cal_comp = &doc.components[calendar_of(&doc).ok()?];
    let zones = Zones::from_calendar(cal_comp);
    let utc = jiff::tz::TimeZone::UTC;
    let mut range: Option<(i64, i64)> = None;
    for ev in cal_comp.children.iter().filter(|c| c.is("VEVENT")) {
        let Some(t) = times::read(ev, &zones, &utc, None) else {
            continue;
        };
        let length = t.end.as_second() - t.start.as_second();
        let mut end = t.end.as_second();
        if let Some(rule) = rrule_of(ev) {
            end = match (until_instant(&rule, &t, &zones), rule.count) {
                (Some(u), _) => u.as_second().saturating_add(length),
                (None, Some(n)) => {
                    let period: i64 = match rule.freq {
                        Freq::Secondly => 1,
                        Freq::Minutely => 60,
                        Freq::Hourly => 3600,
                        Freq::Daily => 86_400,
                        Freq::Weekly => 7 * 86_400,
                        Freq::Monthly => 31 * 86_400,
                        Freq::Yearly => 366 * 86_400,
                    };
                    t.start
                        .as_second()
                        .saturating_add(
                            period
                                .saturating_mul(i64::from(rule.interval))
                                .saturating_mul(i64::from(n)),
                        )
                        .saturating_add(length)
                }
                (None, None) => i64::MAX,
            };
        }
        for p in ev.props_named("RDATE") {
            for v in p.value.split(',') {
                if let Some(ts) = fields::instant(v, p.param("TZID"), &zones, &t.zone) {
                    end = end.max(ts.as_second().saturating_add(length));
                }
            }
        }
        let start = t.start.as_second();
        range = Some(match range {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
    }
    range
}

/// A 16.x change to one occurrence of a series (Sync Change with an
/// AirSyncBase InstanceId): the occurrence originally at `instance_id`
/// (compact UTC) gets its own override VEVENT.
pub fn event_instance_from_eas(
    existing: &str,
    instance_id: &str,
    app: &Element,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    edit_instance(existing, instance_id, Some(app), opts)
}

/// A 16.x deletion of one occurrence (Sync Delete with an InstanceId).
pub fn event_delete_instance(
    existing: &str,
    instance_id: &str,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    edit_instance(existing, instance_id, None, opts)
}

fn edit_instance(
    existing: &str,
    instance_id: &str,
    app: Option<&Element>,
    opts: &ConvertOptions,
) -> Result<String, ItemError> {
    let no_such = || ItemError::NoSuchInstance(instance_id.to_string());
    let orig = eas_time::parse(instance_id).ok_or_else(no_such)?;
    let mut doc = Document::parse(existing).into_calendar();
    let cal_idx = calendar_of(&doc)?;
    let cal_comp = &mut doc.components[cal_idx];
    let master_idx = master_of(cal_comp).ok_or(ItemError::NoComponent("VEVENT"))?;
    let zones = Zones::from_calendar(cal_comp);
    let master = &cal_comp.children[master_idx];
    let year = orig.to_zoned_datetime(jiff::tz::TimeZone::UTC).year();
    let form = times::choose_form(None, master.prop("DTSTART"), &zones, &opts.time_zone, year);
    if !exceptions::apply_instance(cal_comp, master_idx, orig, app, opts, &zones, &form) {
        return Err(no_such());
    }
    Ok(doc.write())
}
