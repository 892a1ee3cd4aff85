//! An event's times: reading DTSTART/DTEND/DURATION into instants and the
//! EAS TimeZone, and choosing how to write a device's times back (keep the
//! file's TZID when its rules match, else an IANA zone, else a VTIMEZONE
//! built from the blob).

use crate::items::alarm::parse_duration;
use crate::items::component::Component;
use crate::items::contentline::Property;
use crate::items::ical_time::{IcalTime, format_local};
use crate::items::tzinfo::TzInfo;
use crate::items::vtimezone::to_vtimezone;
use crate::items::zones::{BlobZone, Zones, blob_for_zone, zone_for_blob};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// An event's start and end as EAS needs them.
#[derive(Clone, Debug)]
pub struct EventTimes {
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
    /// The zone the event's wall-clock times are in.
    pub zone: TimeZone,
    /// The TimeZone blob for the event.
    pub blob: TzInfo,
}

fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("UTC").to_string()
}

/// Reads DTSTART and DTEND (or DURATION) of `ev`. `year_hint` picks the year
/// whose rules the blob describes (a recurring series wants today's rules).
pub fn read(
    ev: &Component,
    zones: &Zones,
    default: &TimeZone,
    year_hint: Option<i16>,
) -> Option<EventTimes> {
    let start = IcalTime::from_prop(ev.prop("DTSTART")?)?;
    let all_day = start.is_date();
    let year = year_hint
        .unwrap_or(start.civil().year())
        .max(start.civil().year());
    let (zone, blob) = match &start {
        IcalTime::Zoned(dt, tzid) => match zones.resolve(tzid, dt.year()) {
            Some(tz) => {
                let blob = zones
                    .blob(tzid, year)
                    .unwrap_or_else(|| blob_for_zone(&zone_name(&tz), &tz, year));
                (tz, blob)
            }
            None => (
                default.clone(),
                blob_for_zone(&zone_name(default), default, year),
            ),
        },
        _ => (
            default.clone(),
            blob_for_zone(&zone_name(default), default, year),
        ),
    };
    let start_ts = start.to_timestamp(zones, &zone)?;
    let end_time = ev.prop("DTEND").and_then(IcalTime::from_prop);
    let end_ts = match (end_time, ev.prop("DURATION")) {
        (Some(end), _) => end.to_timestamp(zones, &zone).filter(|e| *e >= start_ts),
        (None, Some(d)) => parse_duration(&d.value)
            .filter(|d| !d.is_negative())
            .and_then(|d| {
                if all_day {
                    let days = (d.as_secs() / 86400).max(1);
                    let end_date = start
                        .civil()
                        .date()
                        .checked_add(jiff::Span::new().days(days))
                        .ok()?;
                    zone.to_timestamp(end_date.at(0, 0, 0, 0)).ok()
                } else {
                    start_ts.checked_add(d).ok()
                }
            }),
        (None, None) => None,
    };
    let end_ts = end_ts.unwrap_or_else(|| {
        if all_day {
            start
                .civil()
                .date()
                .tomorrow()
                .ok()
                .and_then(|d| zone.to_timestamp(d.at(0, 0, 0, 0)).ok())
                .unwrap_or(start_ts)
        } else {
            start_ts
        }
    });
    Some(EventTimes {
        start: start_ts,
        end: end_ts,
        all_day,
        zone,
        blob,
    })
}

/// How a device's times are written into the file.
#[derive(Clone, Debug)]
pub enum TimeForm {
    Utc,
    Zoned {
        tzid: String,
        zone: TimeZone,
        vtimezone: Option<Component>,
    },
}

impl TimeForm {
    pub fn zone(&self) -> TimeZone {
        match self {
            TimeForm::Utc => TimeZone::UTC,
            TimeForm::Zoned { zone, .. } => zone.clone(),
        }
    }

    /// A DATE-TIME (or DATE, for all-day events) property for `ts`. All-day
    /// starts take the local date (floor), ends the next midnight (ceiling).
    pub fn prop(&self, name: &str, ts: Timestamp, all_day: bool, is_end: bool) -> Property {
        let zone = self.zone();
        if all_day {
            return IcalTime::Date(local_date(ts, &zone, is_end)).to_prop(name);
        }
        match self {
            TimeForm::Utc => IcalTime::Utc(ts).to_prop(name),
            TimeForm::Zoned { tzid, zone, .. } => {
                Property::new(name, format_local(zone.to_datetime(ts))).with_param("TZID", tzid)
            }
        }
    }
}

/// The local date of `ts`; an end that is not a midnight rounds up.
pub fn local_date(ts: Timestamp, zone: &TimeZone, round_up: bool) -> Date {
    let dt = zone.to_datetime(ts);
    let midnight = dt.time() == jiff::civil::Time::midnight();
    if round_up && !midnight {
        dt.date().tomorrow().unwrap_or(dt.date())
    } else {
        dt.date()
    }
}

/// Picks the form for a device's times: the blob it sent (keeping the
/// file's TZID if that zone has the same rules), else the file's own TZID,
/// else the account's zone.
pub fn choose_form(
    blob: Option<&TzInfo>,
    existing: Option<&Property>,
    zones: &Zones,
    default: &TimeZone,
    year: i16,
) -> TimeForm {
    let existing_tzid = existing
        .and_then(|p| p.param("TZID"))
        .map(str::to_string)
        .filter(|t| zones.resolve(t, year).is_some());
    let existing_utc = existing.is_some_and(|p| p.value.trim().ends_with(['Z', 'z']));
    if let Some(info) = blob {
        if let Some(tzid) = &existing_tzid
            && zones.blob(tzid, year).is_some_and(|b| b.same_rules(info))
            && let Some(zone) = zones.resolve(tzid, year)
        {
            return TimeForm::Zoned {
                tzid: tzid.clone(),
                zone,
                vtimezone: None,
            };
        }
        if existing_utc && info.standard_offset() == 0 && !info.has_dst() {
            return TimeForm::Utc;
        }
        return match zone_for_blob(info, year, Some(default)) {
            BlobZone::Iana(name, zone) => TimeForm::Zoned {
                tzid: name,
                zone,
                vtimezone: None,
            },
            BlobZone::Custom(info) => {
                let tzid = custom_tzid(&info);
                let vtimezone = Some(to_vtimezone(&tzid, &info));
                TimeForm::Zoned {
                    tzid,
                    zone: info.to_time_zone(),
                    vtimezone,
                }
            }
        };
    }
    if let Some(tzid) = existing_tzid
        && let Some(zone) = zones.resolve(&tzid, year)
    {
        return TimeForm::Zoned {
            tzid,
            zone,
            vtimezone: None,
        };
    }
    if existing_utc {
        return TimeForm::Utc;
    }
    match default.iana_name() {
        Some(name) if name != "UTC" && name != "Etc/UTC" => TimeForm::Zoned {
            tzid: name.to_string(),
            zone: default.clone(),
            vtimezone: None,
        },
        _ => TimeForm::Utc,
    }
}

/// A TZID for rules no known zone has: the blob's own name if it has one.
fn custom_tzid(info: &TzInfo) -> String {
    let name: String = info
        .standard_name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, ';' | ':' | ',' | '"'))
        .collect();
    if !name.trim().is_empty() {
        return name.trim().to_string();
    }
    let off = info.standard_offset();
    let sign = if off < 0 { '-' } else { '+' };
    format!(
        "UTC{sign}{:02}:{:02}{}",
        off.abs() / 60,
        off.abs() % 60,
        if info.has_dst() { " DST" } else { "" }
    )
}

/// Adds a VTIMEZONE for `tzid` to the calendar unless one is there: built from
/// the blob for custom zones, from the IANA rules of `year` otherwise.
pub fn ensure_vtimezone(cal: &mut Component, form: &TimeForm, year: i16) {
    let TimeForm::Zoned {
        tzid,
        zone,
        vtimezone,
    } = form
    else {
        return;
    };
    let present = cal
        .children
        .iter()
        .any(|c| c.is("VTIMEZONE") && c.prop("TZID").is_some_and(|p| p.value.trim() == tzid));
    if present {
        return;
    }
    let vtz = vtimezone
        .clone()
        .unwrap_or_else(|| to_vtimezone(tzid, &TzInfo::from_time_zone(zone, year)));
    let at = cal
        .children
        .iter()
        .position(|c| !c.is("VTIMEZONE"))
        .unwrap_or(cal.children.len());
    cal.children.insert(at, vtz);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::component::Document;

    fn event(text: &str) -> (Zones, Component) {
        let doc = Document::parse(text);
        let cal = &doc.components[0];
        let ev = cal.child("VEVENT").unwrap().clone();
        (Zones::from_calendar(cal), ev)
    }

    #[test]
    fn reads_zoned_and_all_day() {
        let (z, ev) = event(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=America/New_York:20250309T013000\n\
             DURATION:PT1H\nEND:VEVENT\nEND:VCALENDAR\n",
        );
        let t = read(&ev, &z, &TimeZone::UTC, None).unwrap();
        // 01:30 EST is 06:30Z; an hour later the clocks have jumped to EDT.
        assert_eq!(t.start.to_string(), "2025-03-09T06:30:00Z");
        assert_eq!(t.end.to_string(), "2025-03-09T07:30:00Z");
        assert_eq!(t.blob.bias, 300);
        let (z, ev) = event(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20240301\nEND:VEVENT\nEND:VCALENDAR\n",
        );
        let paris = jiff::tz::db().get("Europe/Paris").unwrap();
        let t = read(&ev, &z, &paris, None).unwrap();
        assert!(t.all_day);
        assert_eq!(t.start.to_string(), "2024-02-29T23:00:00Z");
        assert_eq!(t.end.to_string(), "2024-03-01T23:00:00Z");
    }

    #[test]
    fn forms() {
        let z = Zones::default();
        let paris = jiff::tz::db().get("Europe/Paris").unwrap();
        let blob = TzInfo::from_time_zone(&paris, 2024);
        let existing = Property::new("DTSTART", "20240101T100000")
            .with_param("TZID", "W. Europe Standard Time");
        let form = choose_form(Some(&blob), Some(&existing), &z, &TimeZone::UTC, 2024);
        assert!(matches!(&form, TimeForm::Zoned { tzid, .. } if tzid == "W. Europe Standard Time"));
        let form = choose_form(Some(&blob), None, &z, &TimeZone::UTC, 2024);
        let ts: Timestamp = "2024-07-01T08:00:00Z".parse().unwrap();
        assert_eq!(
            form.prop("DTSTART", ts, false, false).value,
            "20240701T100000"
        );
        let odd = TzInfo {
            bias: -17,
            ..TzInfo::default()
        };
        let form = choose_form(Some(&odd), None, &z, &TimeZone::UTC, 2024);
        let mut cal = Component::new("VCALENDAR");
        ensure_vtimezone(&mut cal, &form, 2024);
        assert_eq!(cal.children[0].text("TZID").as_deref(), Some("UTC+00:17"));
        let end = form.prop("DTEND", ts, true, true);
        assert_eq!(end.value, "20240702");
    }
}
