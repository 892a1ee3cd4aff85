//! Exceptions of a recurring series: EXDATE (deleted occurrences) and
//! RECURRENCE-ID overrides ⇄ the Exceptions element (ExceptionStartTime up to
//! 14.1, AirSyncBase InstanceId from 16.0), and the 16.x single-occurrence
//! edits a device makes with an InstanceId.

use super::fields::{self, Mode, instant};
use super::times::{self, EventTimes, TimeForm};
use crate::ProtocolVersion;
use crate::freebusy::occurrences::{Bounds, occurrences};
use crate::items::alarm;
use crate::items::component::Component;
use crate::items::eas_time;
use crate::items::merge::Edits;
use crate::items::pim::ConvertOptions;
use crate::items::zones::Zones;
use crate::wbxml::{Element, tags};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use tags::calendar as cal;

/// MS-ASCAL allows at most 256 Exception elements.
const MAX_EXCEPTIONS: usize = 256;

/// The EXDATE instants of a master.
pub fn exdates(master: &Component, zones: &Zones, zone: &TimeZone) -> Vec<Timestamp> {
    master
        .props_named("EXDATE")
        .flat_map(|p| {
            p.value
                .split(',')
                .filter_map(|v| instant(v, p.param("TZID"), zones, zone))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn recurrence_id(ev: &Component, zones: &Zones, zone: &TimeZone) -> Option<Timestamp> {
    let p = ev.prop("RECURRENCE-ID")?;
    instant(&p.value, p.param("TZID"), zones, zone)
}

/// The overrides of the series `uid` among the calendar's children, with
/// their child index and original start.
pub fn overrides(
    cal_comp: &Component,
    uid: Option<&str>,
    zones: &Zones,
    zone: &TimeZone,
) -> Vec<(usize, Timestamp)> {
    cal_comp
        .children
        .iter()
        .enumerate()
        .filter(|(_, c)| c.is("VEVENT") && c.prop("RECURRENCE-ID").is_some())
        .filter(|(_, c)| uid.is_none() || c.text("UID").as_deref() == uid)
        .filter_map(|(i, c)| Some((i, recurrence_id(c, zones, zone)?)))
        .collect()
}

fn original_tag(version: ProtocolVersion) -> crate::wbxml::Tag {
    if version >= ProtocolVersion::V16_0 {
        tags::airsyncbase::INSTANCE_ID
    } else {
        cal::EXCEPTION_START_TIME
    }
}

pub fn to_eas(
    cal_comp: &Component,
    master: &Component,
    times: &EventTimes,
    zones: &Zones,
    opts: &ConvertOptions,
) -> Option<Element> {
    let orig = original_tag(opts.version);
    let mut list = Element::new(cal::EXCEPTIONS);
    for ts in exdates(master, zones, &times.zone) {
        list.push(
            Element::new(cal::EXCEPTION)
                .with_text(cal::DELETED, "1")
                .with_text(orig, eas_time::compact(ts)),
        );
    }
    let uid = master.text("UID");
    for (i, ts) in overrides(cal_comp, uid.as_deref(), zones, &times.zone) {
        let ev = &cal_comp.children[i];
        let mut e = Element::new(cal::EXCEPTION);
        if ev
            .text("STATUS")
            .is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"))
        {
            e.push_text(cal::DELETED, "1");
            e.push_text(orig, eas_time::compact(ts));
        } else {
            e.push_text(cal::DELETED, "0");
            e.push_text(orig, eas_time::compact(ts));
            let Some(t) = times::read(ev, zones, &times.zone, None) else {
                continue;
            };
            fields::to_eas(ev, &t, opts, &mut e);
        }
        list.push(e);
    }
    list.children.truncate(MAX_EXCEPTIONS);
    (!list.is_empty()).then_some(list)
}

/// Makes the calendar's exceptions those of a device's Exceptions element
/// (2.5–14.1). Without the element the stored exceptions stay: a device that
/// omits it has not necessarily removed them.
pub fn merge(
    cal_comp: &mut Component,
    master_idx: usize,
    app: &Element,
    opts: &ConvertOptions,
    zones: &Zones,
    form: &TimeForm,
) {
    let Some(list) = app.first(cal::EXCEPTIONS) else {
        return;
    };
    let Some(master) = cal_comp.children.get(master_idx).cloned() else {
        return;
    };
    let Some(times) = times::read(&master, zones, &form.zone(), None) else {
        return;
    };
    let incoming: Vec<(Timestamp, bool, &Element)> = list
        .all(cal::EXCEPTION)
        .filter_map(|e| {
            let ts = e
                .child_text(cal::EXCEPTION_START_TIME)
                .and_then(eas_time::parse)?;
            let deleted = e.child_text(cal::DELETED).is_some_and(|d| d.trim() == "1");
            Some((ts, deleted, e))
        })
        .collect();
    let deleted: Vec<Timestamp> = incoming
        .iter()
        .filter(|(_, d, _)| *d)
        .map(|(t, _, _)| *t)
        .collect();
    set_exdates(cal_comp, master_idx, &master, &deleted, zones, &times, form);
    let uid = master.text("UID");
    let kept: Vec<Timestamp> = incoming
        .iter()
        .filter(|(_, d, _)| !*d)
        .map(|(t, _, _)| *t)
        .collect();
    let stale: Vec<usize> = overrides(cal_comp, uid.as_deref(), zones, &times.zone)
        .into_iter()
        .filter(|(_, ts)| !kept.contains(ts))
        .map(|(i, _)| i)
        .collect();
    for (ts, _, e) in incoming.iter().filter(|(_, d, _)| !*d) {
        apply_override(cal_comp, &master, &times, *ts, e, opts, zones, form);
    }
    for i in stale.into_iter().rev() {
        cal_comp.children.remove(i);
    }
}

fn set_exdates(
    cal_comp: &mut Component,
    master_idx: usize,
    master: &Component,
    deleted: &[Timestamp],
    zones: &Zones,
    times: &EventTimes,
    form: &TimeForm,
) {
    let mut old = exdates(master, zones, &times.zone);
    let mut new = deleted.to_vec();
    old.sort();
    new.sort();
    new.dedup();
    if old == new {
        return;
    }
    let mut edits = Edits::default();
    for (i, _) in master
        .props
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is("EXDATE"))
    {
        edits.remove(i);
    }
    if let Some(first) = new.first() {
        let mut p = form.prop("EXDATE", *first, times.all_day, false);
        let values: Vec<String> = new
            .iter()
            .map(|ts| form.prop("EXDATE", *ts, times.all_day, false).value)
            .collect();
        p.value = values.join(",");
        edits.append(p);
    }
    if let Some(m) = cal_comp.children.get_mut(master_idx) {
        edits.apply(m);
    }
}

/// Creates or updates the override of the occurrence originally at `orig`.
#[allow(clippy::too_many_arguments)]
fn apply_override(
    cal_comp: &mut Component,
    master: &Component,
    times: &EventTimes,
    orig: Timestamp,
    e: &Element,
    opts: &ConvertOptions,
    zones: &Zones,
    form: &TimeForm,
) {
    let uid = master.text("UID");
    let found = overrides(cal_comp, uid.as_deref(), zones, &times.zone)
        .into_iter()
        .find(|(_, ts)| *ts == orig)
        .map(|(i, _)| i);
    let index = match found {
        Some(i) => i,
        None => {
            cal_comp
                .children
                .push(new_override(master, times, orig, form));
            cal_comp.children.len() - 1
        }
    };
    let Some(ev) = cal_comp.children.get(index).cloned() else {
        return;
    };
    let current = times::read(&ev, zones, &times.zone, None);
    let f = fields::merge(&ev, e, opts, Mode::Exception, form, current.as_ref());
    let Some(target) = cal_comp.children.get_mut(index) else {
        return;
    };
    f.edits.apply(target);
    if let Some(trigger) = f.alarm {
        alarm::set_primary(target, trigger);
    }
}

/// A copy of the master for one occurrence, at its original time.
fn new_override(
    master: &Component,
    times: &EventTimes,
    orig: Timestamp,
    form: &TimeForm,
) -> Component {
    let mut ev = master.clone();
    // An EAS exception without Reminder inherits the series' one; an
    // override only has the alarms it states.
    ev.children.retain(|c| !c.is("VALARM"));
    ev.props.retain(|p| {
        ![
            "RRULE",
            "RDATE",
            "EXDATE",
            "RECURRENCE-ID",
            "DTSTART",
            "DTEND",
            "DURATION",
        ]
        .iter()
        .any(|n| p.is(n))
    });
    let length = times.end.duration_since(times.start);
    let end = orig.checked_add(length).unwrap_or(orig);
    ev.props
        .push(form.prop("RECURRENCE-ID", orig, times.all_day, false));
    ev.props
        .push(form.prop("DTSTART", orig, times.all_day, false));
    ev.props.push(form.prop("DTEND", end, times.all_day, true));
    ev
}

/// A 16.x change of one occurrence (`app` Some) or its deletion (`None`).
pub fn apply_instance(
    cal_comp: &mut Component,
    master_idx: usize,
    orig: Timestamp,
    app: Option<&Element>,
    opts: &ConvertOptions,
    zones: &Zones,
    form: &TimeForm,
) -> bool {
    let Some(master) = cal_comp.children.get(master_idx).cloned() else {
        return false;
    };
    if master.prop("RRULE").is_none() && master.prop("RDATE").is_none() {
        return false;
    }
    let Some(times) = times::read(&master, zones, &form.zone(), None) else {
        return false;
    };
    let uid = master.text("UID");
    let overridden = overrides(cal_comp, uid.as_deref(), zones, &times.zone)
        .iter()
        .any(|(_, ts)| *ts == orig);
    if !overridden && !is_occurrence(&master, zones, &times, orig) {
        return false;
    }
    match app {
        Some(e) => apply_override(cal_comp, &master, &times, orig, e, opts, zones, form),
        None => {
            let mut deleted = exdates(&master, zones, &times.zone);
            deleted.push(orig);
            set_exdates(cal_comp, master_idx, &master, &deleted, zones, &times, form);
            if let Some((i, _)) = overrides(cal_comp, uid.as_deref(), zones, &times.zone)
                .into_iter()
                .find(|(_, ts)| *ts == orig)
            {
                cal_comp.children.remove(i);
            }
        }
    }
    true
}

/// The most periods (days, weeks…) walked to find one occurrence: a daily series' 270 years.
const MAX_PERIODS: usize = 100_000;

/// Whether the series `master` has an occurrence starting at `at` that was not deleted: its
/// start, an RDATE, or an instance of its RRULE, and not an EXDATE.
pub fn is_occurrence(master: &Component, zones: &Zones, times: &EventTimes, at: Timestamp) -> bool {
    if at < times.start || exdates(master, zones, &times.zone).contains(&at) {
        return false;
    }
    if at == times.start {
        return true;
    }
    let rdate = master.props_named("RDATE").any(|p| {
        p.value
            .split(',')
            .any(|v| instant(v, p.param("TZID"), zones, &times.zone) == Some(at))
    });
    if rdate {
        return true;
    }
    let Some(rule) = super::rrule_of(master) else {
        return false;
    };
    let until = super::until_instant(&rule, times, zones);
    let Ok(before) = at.checked_add(jiff::SignedDuration::from_secs(1)) else {
        return false;
    };
    let bounds = Bounds {
        from: at,
        before,
        max_periods: MAX_PERIODS,
    };
    let wall = times.zone.to_datetime(times.start);
    occurrences(&rule, wall, &times.zone, until, &bounds).contains(&at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::component::Document;

    #[test]
    fn exdates_with_lists_and_zones() {
        let doc = Document::parse(
            "BEGIN:VEVENT\nDTSTART;TZID=Europe/Paris:20240101T100000\nRRULE:FREQ=DAILY\n\
             EXDATE;TZID=Europe/Paris:20240102T100000,20240103T100000\nEXDATE:20240105T090000Z\nEND:VEVENT\n",
        );
        let z = Zones::default();
        let got = exdates(&doc.components[0], &z, &TimeZone::UTC);
        let s: Vec<String> = got.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            s,
            [
                "2024-01-02T09:00:00Z",
                "2024-01-03T09:00:00Z",
                "2024-01-05T09:00:00Z"
            ]
        );
    }

    #[test]
    fn occurrences_of_a_series() {
        let doc = Document::parse(
            "BEGIN:VEVENT\nDTSTART;TZID=Europe/Paris:20240325T100000\n\
             DTEND;TZID=Europe/Paris:20240325T110000\nRRULE:FREQ=WEEKLY;COUNT=4\n\
             EXDATE;TZID=Europe/Paris:20240408T100000\nRDATE:20240501T120000Z\nEND:VEVENT\n",
        );
        let master = &doc.components[0];
        let z = Zones::default();
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let times = times::read(master, &z, &paris, None).unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        // Across the DST change the occurrence stays at 10:00 Paris: 08:00Z from April.
        assert!(is_occurrence(
            master,
            &z,
            &times,
            at("2024-03-25T09:00:00Z")
        ));
        assert!(is_occurrence(
            master,
            &z,
            &times,
            at("2024-04-01T08:00:00Z")
        ));
        assert!(!is_occurrence(
            master,
            &z,
            &times,
            at("2024-04-01T09:00:00Z")
        ));
        assert!(
            !is_occurrence(master, &z, &times, at("2024-04-08T08:00:00Z")),
            "deleted"
        );
        assert!(is_occurrence(
            master,
            &z,
            &times,
            at("2024-04-15T08:00:00Z")
        ));
        assert!(
            !is_occurrence(master, &z, &times, at("2024-04-22T08:00:00Z")),
            "past COUNT"
        );
        assert!(
            is_occurrence(master, &z, &times, at("2024-05-01T12:00:00Z")),
            "RDATE"
        );
        assert!(!is_occurrence(
            master,
            &z,
            &times,
            at("2024-03-18T09:00:00Z")
        ));
    }
}
