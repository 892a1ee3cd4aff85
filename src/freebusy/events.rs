//! The busy periods of one iCalendar file inside a window: each VEVENT series with its
//! recurrences expanded, EXDATEs and RDATEs applied and RECURRENCE-ID overrides standing in for
//! the occurrences they replace; times read with their TZID (the file's VTIMEZONE when the
//! database does not know it), floating times and all-day events in the owner's zone.
//!
//! The level of an event: cancelled ones and those the owner declined take no time;
//! TRANSP:TRANSPARENT is free; otherwise the EAS BusyStatus the calendar conversion gives
//! (X-MICROSOFT-CDO-BUSYSTATUS, else busy), tentative when the event or the owner's answer is
//! tentative. MergedFreeBusy has no digit for "working elsewhere" (its 4 means "no data"): such
//! an event leaves the owner available, so it counts as free.

use super::occurrences::{self, Bounds};
use super::{Level, Period, Window};
use crate::items::calendar::fields::{busy_status, instant};
use crate::items::calendar::times::{self, EventTimes};
use crate::items::component::{Component, Document};
use crate::items::ical_time::IcalTime;
use crate::items::rrule::RRule;
use crate::items::zones::Zones;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use std::collections::HashMap;

/// Whose calendar it is and how much work one file may cost.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    /// The owner's address, to find their own ATTENDEE line.
    pub owner: &'a str,
    /// The zone of floating times and all-day events.
    pub zone: &'a TimeZone,
    pub window: Window,
    /// The most periods visited per recurring series.
    pub max_periods: usize,
}

impl Reader<'_> {
    /// Appends the periods of `ics` that share time with the window to `out`.
    pub fn read(&self, ics: &str, out: &mut Vec<Period>) {
        let doc = Document::parse(ics).into_calendar();
        for cal in doc.components.iter().filter(|c| c.is("VCALENDAR")) {
            let zones = Zones::from_calendar(cal);
            // One exported file can hold a whole calendar: group by UID once.
            let mut series: HashMap<Option<String>, (Vec<&Component>, Vec<&Component>)> =
                HashMap::new();
            let mut order = Vec::new();
            for ev in cal.children.iter().filter(|c| c.is("VEVENT")) {
                let uid = ev.text("UID");
                let entry = series.entry(uid.clone()).or_insert_with(|| {
                    order.push(uid);
                    (Vec::new(), Vec::new())
                });
                if ev.prop("RECURRENCE-ID").is_some() {
                    entry.1.push(ev);
                } else {
                    entry.0.push(ev);
                }
            }
            for uid in order {
                let Some((masters, overrides)) = series.get(&uid) else {
                    continue;
                };
                match masters.as_slice() {
                    // Overrides without their series (an invitation to one occurrence) are
                    // events of their own.
                    [] => {
                        for o in overrides {
                            self.series(o, &[], &zones, out);
                        }
                    }
                    [master, rest @ ..] => {
                        self.series(master, overrides, &zones, out);
                        for other in rest {
                            self.series(other, &[], &zones, out);
                        }
                    }
                }
            }
        }
    }

    fn series(
        &self,
        ev: &Component,
        overrides: &[&Component],
        zones: &Zones,
        out: &mut Vec<Period>,
    ) {
        let Some(times) = times::read(ev, zones, self.zone, None) else {
            return;
        };
        let level = self.level(ev);
        let rule = ev.prop("RRULE").and_then(|p| RRule::parse(&p.value));
        let mut starts = vec![times.start];
        if let Some(rule) = &rule {
            starts = self.expand(ev, rule, &times, zones);
        }
        for p in ev.props_named("RDATE") {
            if p.param("VALUE")
                .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"))
            {
                continue;
            }
            starts.extend(
                p.value
                    .split(',')
                    .filter_map(|v| instant(v, p.param("TZID"), zones, &times.zone)),
            );
        }
        let removed: Vec<Timestamp> = ev
            .props_named("EXDATE")
            .flat_map(|p| {
                p.value
                    .split(',')
                    .filter_map(|v| instant(v, p.param("TZID"), zones, &times.zone))
                    .collect::<Vec<_>>()
            })
            .chain(overrides.iter().filter_map(|o| {
                let p = o.prop("RECURRENCE-ID")?;
                instant(&p.value, p.param("TZID"), zones, &times.zone)
            }))
            .collect();
        starts.sort();
        starts.dedup();
        if let Some(level) = level {
            for start in starts.into_iter().filter(|s| !removed.contains(s)) {
                if let Some(end) = occurrence_end(&times, start) {
                    self.push(start, end, level, out);
                }
            }
        }
        for o in overrides {
            let (Some(t), Some(level)) = (times::read(o, zones, self.zone, None), self.level(o))
            else {
                continue;
            };
            self.push(t.start, t.end, level, out);
        }
    }

    /// The occurrence starts of a series that may reach into the window.
    fn expand(
        &self,
        ev: &Component,
        rule: &RRule,
        times: &EventTimes,
        zones: &Zones,
    ) -> Vec<Timestamp> {
        let Some(dtstart) = ev.prop("DTSTART").and_then(IcalTime::from_prop) else {
            return Vec::new();
        };
        // Expansion happens in the wall clock of DTSTART: UTC for a UTC start.
        let zone = dtstart.zone(zones, self.zone);
        let wall = zone.to_datetime(times.start);
        let until = rule
            .until
            .as_deref()
            .and_then(|u| match IcalTime::parse(u, None)? {
                IcalTime::Date(d) => zone.to_timestamp(d.to_datetime(wall.time())).ok(),
                other => other.to_timestamp(zones, &zone),
            });
        let length = times.start.duration_until(times.end);
        let bounds = Bounds {
            from: self
                .window
                .start()
                .checked_sub(length)
                .unwrap_or(self.window.start()),
            before: self.window.end(),
            max_periods: self.max_periods,
        };
        occurrences::occurrences(rule, wall, &zone, until, &bounds)
    }

    fn push(&self, start: Timestamp, end: Timestamp, level: Level, out: &mut Vec<Period>) {
        if level > Level::Free && self.window.overlaps(start, end) {
            out.push(Period { start, end, level });
        }
    }

    /// The level of one VEVENT; `None` when it takes no time.
    fn level(&self, ev: &Component) -> Option<Level> {
        let status = ev.text("STATUS").map(|s| s.trim().to_ascii_uppercase());
        if status.as_deref() == Some("CANCELLED") {
            return None;
        }
        let answer = self.owner_answer(ev);
        if answer.as_deref() == Some("DECLINED") {
            return None;
        }
        if ev
            .text("TRANSP")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("TRANSPARENT"))
        {
            return Some(Level::Free);
        }
        let explicit = ev.prop("X-MICROSOFT-CDO-BUSYSTATUS").is_some();
        let level = match busy_status(ev) {
            0 | 4 => Level::Free,
            1 => Level::Tentative,
            3 => Level::OutOfOffice,
            _ => Level::Busy,
        };
        let tentative = status.as_deref() == Some("TENTATIVE")
            || matches!(answer.as_deref(), Some("TENTATIVE" | "NEEDS-ACTION"));
        Some(if level == Level::Busy && !explicit && tentative {
            Level::Tentative
        } else {
            level
        })
    }

    /// The owner's PARTSTAT when they are an attendee and not the organizer.
    fn owner_answer(&self, ev: &Component) -> Option<String> {
        let is_owner = |v: &str| {
            let v = v.trim();
            let addr = v
                .get(..7)
                .filter(|p| p.eq_ignore_ascii_case("mailto:"))
                .map_or(v, |_| &v[7..]);
            addr.eq_ignore_ascii_case(self.owner)
        };
        if ev.prop("ORGANIZER").is_some_and(|o| is_owner(&o.value)) {
            return None;
        }
        ev.props_named("ATTENDEE")
            .find(|a| is_owner(&a.value))
            .map(|a| {
                a.param("PARTSTAT")
                    .unwrap_or("NEEDS-ACTION")
                    .trim()
                    .to_ascii_uppercase()
            })
    }
}

/// Where the occurrence starting at `start` ends: all-day events keep their number of days in
/// the wall clock (a day can be 23 or 25 hours), others their exact length.
fn occurrence_end(times: &EventTimes, start: Timestamp) -> Option<Timestamp> {
    if times.all_day {
        let first = times.zone.to_datetime(times.start).date();
        let last = times.zone.to_datetime(times.end).date();
        let days = (last - first).get_days();
        let day = times.zone.to_datetime(start).date();
        let end = day.checked_add(Span::new().days(days)).ok()?;
        return times
            .zone
            .to_timestamp(end.to_datetime(jiff::civil::Time::midnight()))
            .ok();
    }
    start
        .checked_add(times.start.duration_until(times.end))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freebusy::merge;

    const OWNER: &str = "bob@example.com";

    fn paris() -> TimeZone {
        jiff::tz::db().get("Europe/Paris").unwrap()
    }

    /// The MergedFreeBusy of `events` (VEVENT bodies) over `[start, end)`.
    fn digits(events: &[&str], start: &str, end: &str) -> String {
        let window = Window::new(start.parse().unwrap(), end.parse().unwrap()).unwrap();
        let zone = paris();
        let reader = Reader {
            owner: OWNER,
            zone: &zone,
            window,
            max_periods: 5_000,
        };
        let mut periods = Vec::new();
        for body in events {
            let ics = format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}END:VCALENDAR\r\n",
                body.replace('\n', "\r\n")
            );
            reader.read(&ics, &mut periods);
        }
        merge(&window, &periods)
    }

    #[test]
    fn levels_and_overlaps() {
        let got = digits(
            &[
                // 08:00–09:00Z (09:00 Paris) busy by default.
                "BEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Paris:20260302T090000\nDTEND;TZID=Europe/Paris:20260302T100000\nEND:VEVENT\n",
                // 08:30–10:00Z tentative: the half hour shared with the busy one stays busy.
                "BEGIN:VEVENT\nUID:b\nDTSTART:20260302T083000Z\nDTEND:20260302T100000Z\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\nEND:VEVENT\n",
                // Out of office 10:00–10:30Z; transparent and cancelled ones take nothing.
                "BEGIN:VEVENT\nUID:c\nDTSTART:20260302T100000Z\nDURATION:PT30M\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\nEND:VEVENT\n",
                "BEGIN:VEVENT\nUID:d\nDTSTART:20260302T103000Z\nDTEND:20260302T113000Z\nTRANSP:TRANSPARENT\nEND:VEVENT\n",
                "BEGIN:VEVENT\nUID:e\nDTSTART:20260302T103000Z\nDTEND:20260302T113000Z\nSTATUS:CANCELLED\nEND:VEVENT\n",
                // An invitation Bob has not answered is tentative; one he declined is free.
                "BEGIN:VEVENT\nUID:f\nDTSTART:20260302T113000Z\nDTEND:20260302T120000Z\nORGANIZER:mailto:carol@example.com\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:Bob@Example.com\nEND:VEVENT\n",
                "BEGIN:VEVENT\nUID:g\nDTSTART:20260302T120000Z\nDTEND:20260302T123000Z\nORGANIZER:mailto:carol@example.com\nATTENDEE;PARTSTAT=DECLINED:mailto:bob@example.com\nEND:VEVENT\n",
                // Working elsewhere leaves Bob available.
                "BEGIN:VEVENT\nUID:h\nDTSTART:20260302T123000Z\nDTEND:20260302T130000Z\nX-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE\nEND:VEVENT\n",
            ],
            "2026-03-02T07:30:00Z",
            "2026-03-02T13:00:00Z",
        );
        // 07:30Z 08:00 08:30 09:00 09:30 10:00 10:30 11:00 11:30 12:00 12:30
        assert_eq!(got, "02211300100");
    }

    #[test]
    fn weekly_series_with_an_exception_and_an_exdate() {
        let series = "BEGIN:VEVENT\nUID:weekly\nDTSTART;TZID=Europe/Paris:20260302T100000\nDTEND;TZID=Europe/Paris:20260302T110000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260401T000000Z\nEXDATE;TZID=Europe/Paris:20260304T100000\nEND:VEVENT\nBEGIN:VEVENT\nUID:weekly\nRECURRENCE-ID;TZID=Europe/Paris:20260309T100000\nDTSTART;TZID=Europe/Paris:20260309T140000\nDTEND;TZID=Europe/Paris:20260309T143000\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\nEND:VEVENT\n";
        // 09:00Z to 14:00Z (10:00–15:00 Paris) of single days, to keep the strings readable.
        let day = |d: &str| {
            digits(
                &[series],
                &format!("2026-03-{d}T09:00:00Z"),
                &format!("2026-03-{d}T14:00:00Z"),
            )
        };
        assert_eq!(day("02"), "2200000000");
        assert_eq!(day("04"), "0000000000", "EXDATE");
        assert_eq!(day("09"), "0000000010", "moved to 14:00 and tentative");
        assert_eq!(day("11"), "2200000000");
    }

    #[test]
    fn dst_change_in_europe_paris() {
        // A daily 09:00 Paris stand-up: 08:00Z before 29 March 2026, 07:00Z after.
        let standup = "BEGIN:VEVENT\nUID:s\nDTSTART;TZID=Europe/Paris:20260323T090000\nDTEND;TZID=Europe/Paris:20260323T093000\nRRULE:FREQ=DAILY\nEND:VEVENT\n";
        let before = digits(&[standup], "2026-03-28T06:00:00Z", "2026-03-28T09:00:00Z");
        let after = digits(&[standup], "2026-03-30T06:00:00Z", "2026-03-30T09:00:00Z");
        assert_eq!(before, "000020");
        assert_eq!(after, "002000");
    }

    #[test]
    fn all_day_events_in_the_owner_zone() {
        // Two all-day days of holiday, over the DST night (a 23-hour day), marked OOF.
        let holiday = "BEGIN:VEVENT\nUID:h\nDTSTART;VALUE=DATE:20260328\nDTEND;VALUE=DATE:20260330\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\nEND:VEVENT\n";
        // From 22:00Z on the 27th (23:00 Paris) to 23:00Z on the 29th (01:00 Paris on the 30th).
        let got = digits(&[holiday], "2026-03-27T22:00:00Z", "2026-03-29T23:00:00Z");
        let expect = format!("00{}00", "3".repeat(2 * 47));
        assert_eq!(got, expect);
        // A yearly all-day birthday, transparent by default in most clients: free.
        let birthday = "BEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:19800328\nRRULE:FREQ=YEARLY\nTRANSP:TRANSPARENT\nEND:VEVENT\n";
        assert_eq!(
            digits(&[birthday], "2026-03-28T00:00:00Z", "2026-03-28T02:00:00Z"),
            "0000"
        );
    }

    #[test]
    fn broken_files_take_no_time() {
        assert_eq!(
            digits(
                &[
                    "BEGIN:VEVENT\nUID:x\nDTSTART:garbage\nEND:VEVENT\n",
                    "BEGIN:VEVENT\nUID:y\nDTSTART:20260302T080000Z\nDTEND:20260302T070000Z\nRRULE:FREQ=BOGUS\nEND:VEVENT\n",
                ],
                "2026-03-02T07:00:00Z",
                "2026-03-02T09:00:00Z"
            ),
            "0000"
        );
    }
}
