//! The start instants of a recurring series (RFC 5545 3.3.10) inside a span: FREQ with
//! INTERVAL, COUNT and UNTIL, BYMONTH, BYMONTHDAY, BYDAY (with ordinals in monthly and yearly
//! rules), BYSETPOS and WKST, expanded in the wall-clock time of the series' zone so a weekly
//! 09:00 meeting stays at 09:00 across a DST change. Parts no calendar client writes for events
//! (BYYEARDAY, BYWEEKNO, BYHOUR, BYMINUTE, BYSECOND) are not interpreted.

use crate::items::rrule::{Freq, RRule};
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

/// The span of interest and the work allowed.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Occurrences starting before this are not wanted (but still counted for COUNT).
    pub from: Timestamp,
    /// Occurrences starting at or after this are not wanted.
    pub before: Timestamp,
    /// The most periods (years, months, weeks, days…) visited for this series.
    pub max_periods: usize,
}

/// The occurrences of `rule` from `dtstart` (wall clock in `zone`) within `bounds`, sorted.
/// DTSTART is always the first occurrence. `until` is the rule's UNTIL as an instant.
pub fn occurrences(
    rule: &RRule,
    dtstart: DateTime,
    zone: &TimeZone,
    until: Option<Timestamp>,
    bounds: &Bounds,
) -> Vec<Timestamp> {
    let Ok(first) = zone.to_timestamp(dtstart) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let wanted = |ts: Timestamp| ts >= bounds.from && ts < bounds.before;
    if wanted(first) {
        out.push(first);
    }
    let mut counted: u32 = 1;
    if rule.count.is_some_and(|c| counted >= c) {
        return out;
    }
    let interval = i64::from(rule.interval.max(1));
    // Without COUNT nothing before the span matters: start a few periods before it.
    let skip = if rule.count.is_none() {
        periods_before(rule.freq, dtstart, zone, bounds.from) / interval
    } else {
        0
    };
    let skip = (skip - 1).max(0);
    for k in 0..bounds.max_periods as i64 {
        let Some(index) = (skip + k).checked_mul(interval) else {
            break;
        };
        let Some(candidates) = period_candidates(rule, dtstart, index) else {
            break;
        };
        let mut past_end = candidates.is_empty()
            && period_start_past(rule.freq, dtstart, index, zone, bounds, until);
        for dt in candidates {
            let Ok(ts) = zone.to_timestamp(dt) else {
                continue;
            };
            if ts <= first {
                continue;
            }
            if until.is_some_and(|u| ts > u) || ts >= bounds.before {
                past_end = true;
                break;
            }
            counted += 1;
            if wanted(ts) {
                out.push(ts);
            }
            if rule.count.is_some_and(|c| counted >= c) {
                return out;
            }
        }
        if past_end {
            break;
        }
    }
    out
}

/// Whether a period without candidates already lies past the end, so iteration can stop.
fn period_start_past(
    freq: Freq,
    dtstart: DateTime,
    index: i64,
    zone: &TimeZone,
    bounds: &Bounds,
    until: Option<Timestamp>,
) -> bool {
    let Some(start) = period_start(freq, dtstart, index) else {
        return true;
    };
    match zone.to_timestamp(start) {
        Ok(ts) => ts >= bounds.before || until.is_some_and(|u| ts > u),
        Err(_) => true,
    }
}

/// How many whole periods lie between DTSTART and `from` (0 when `from` is earlier).
fn periods_before(freq: Freq, dtstart: DateTime, zone: &TimeZone, from: Timestamp) -> i64 {
    let target = zone.to_datetime(from);
    if target <= dtstart {
        return 0;
    }
    let days = || i64::from((target.date() - dtstart.date()).get_days());
    let secs = || {
        zone.to_timestamp(dtstart)
            .map(|s| s.duration_until(from).as_secs())
            .unwrap_or(0)
    };
    match freq {
        Freq::Yearly => i64::from(target.year() - dtstart.year()),
        Freq::Monthly => {
            i64::from(target.year() - dtstart.year()) * 12
                + i64::from(target.month() - dtstart.month())
        }
        Freq::Weekly => days() / 7,
        Freq::Daily => days(),
        Freq::Hourly => secs() / 3600,
        Freq::Minutely => secs() / 60,
        Freq::Secondly => secs(),
    }
}

/// The first wall-clock moment of period `index` (0 holds DTSTART).
fn period_start(freq: Freq, dtstart: DateTime, index: i64) -> Option<DateTime> {
    let date = dtstart.date();
    let span = match freq {
        Freq::Yearly => {
            return Date::new(i16::try_from(i64::from(date.year()) + index).ok()?, 1, 1)
                .ok()
                .map(|d| d.at(0, 0, 0, 0));
        }
        Freq::Monthly => {
            let first = date.first_of_month();
            return first
                .checked_add(Span::new().try_months(index).ok()?)
                .ok()
                .map(|d| d.at(0, 0, 0, 0));
        }
        Freq::Weekly => Span::new().try_weeks(index).ok()?,
        Freq::Daily => Span::new().try_days(index).ok()?,
        Freq::Hourly => Span::new().try_hours(index).ok()?,
        Freq::Minutely => Span::new().try_minutes(index).ok()?,
        Freq::Secondly => Span::new().try_seconds(index).ok()?,
    };
    dtstart.checked_add(span).ok()
}

/// The candidate start times of period `index`, sorted, after BYSETPOS; `None` past the
/// calendar's range.
fn period_candidates(rule: &RRule, dtstart: DateTime, index: i64) -> Option<Vec<DateTime>> {
    let time = dtstart.time();
    let start = period_start(rule.freq, dtstart, index)?;
    let mut dates: Vec<Date> = match rule.freq {
        Freq::Yearly => year_dates(rule, dtstart.date(), start.year()),
        Freq::Monthly => {
            if month_allowed(rule, start.month()) {
                month_dates(rule, dtstart.date(), start.year(), start.month())
            } else {
                Vec::new()
            }
        }
        Freq::Weekly => week_dates(rule, dtstart.date(), start.date()),
        Freq::Daily => vec![start.date()]
            .into_iter()
            .filter(|d| day_allowed(rule, *d))
            .collect(),
        Freq::Hourly | Freq::Minutely | Freq::Secondly => {
            return Some(if day_allowed(rule, start.date()) {
                vec![start]
            } else {
                Vec::new()
            });
        }
    };
    dates.sort();
    dates.dedup();
    let dates = set_positions(&rule.by_set_pos, dates);
    Some(dates.into_iter().map(|d| d.to_datetime(time)).collect())
}

fn month_allowed(rule: &RRule, month: i8) -> bool {
    rule.by_month.is_empty() || rule.by_month.contains(&month)
}

/// The BYMONTH, BYMONTHDAY and BYDAY limits of DAILY (and shorter) rules.
fn day_allowed(rule: &RRule, d: Date) -> bool {
    month_allowed(rule, d.month())
        && (rule.by_month_day.is_empty()
            || rule
                .by_month_day
                .iter()
                .any(|&n| month_day(d.year(), d.month(), n) == Some(d)))
        && (rule.by_day.is_empty() || rule.by_day.iter().any(|b| b.weekday == d.weekday()))
}

/// Day `n` of a month; negative counts from the end (-1 is the last day).
fn month_day(year: i16, month: i8, n: i8) -> Option<Date> {
    let first = Date::new(year, month, 1).ok()?;
    let len = first.days_in_month();
    let day = match n {
        1..=31 if n <= len => n,
        -31..=-1 if -n <= len => len + n + 1,
        _ => return None,
    };
    Date::new(year, month, day).ok()
}

/// The dates of `weekday` in `[first, last]`, or only the nth one (negative from the end).
fn weekdays_between(first: Date, last: Date, weekday: Weekday, nth: Option<i8>) -> Vec<Date> {
    let mut all = Vec::new();
    let mut d = first;
    while d <= last {
        if d.weekday() == weekday {
            all.push(d);
        }
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    match nth {
        None => all,
        Some(n) if n > 0 => all.get(n as usize - 1).copied().into_iter().collect(),
        Some(n) => all
            .len()
            .checked_sub(n.unsigned_abs() as usize)
            .and_then(|i| all.get(i).copied())
            .into_iter()
            .collect(),
    }
}

/// The dates of a month the rule picks (BYMONTHDAY, limited by BYDAY when both are given; BYDAY
/// alone expands; neither means DTSTART's day).
fn month_dates(rule: &RRule, dtstart: Date, year: i16, month: i8) -> Vec<Date> {
    let Ok(first) = Date::new(year, month, 1) else {
        return Vec::new();
    };
    if !rule.by_month_day.is_empty() {
        return rule
            .by_month_day
            .iter()
            .filter_map(|&n| month_day(year, month, n))
            .filter(|d| {
                rule.by_day.is_empty() || rule.by_day.iter().any(|b| b.weekday == d.weekday())
            })
            .collect();
    }
    if !rule.by_day.is_empty() {
        let last = first.last_of_month();
        return rule
            .by_day
            .iter()
            .flat_map(|b| weekdays_between(first, last, b.weekday, b.nth))
            .collect();
    }
    month_day(year, month, dtstart.day()).into_iter().collect()
}

fn year_dates(rule: &RRule, dtstart: Date, year: i16) -> Vec<Date> {
    if !rule.by_month.is_empty() {
        return rule
            .by_month
            .iter()
            .filter(|m| (1..=12).contains(*m))
            .flat_map(|&m| month_dates(rule, dtstart, year, m))
            .collect();
    }
    if !rule.by_month_day.is_empty() {
        return (1..=12)
            .flat_map(|m| month_dates(rule, dtstart, year, m))
            .collect();
    }
    if !rule.by_day.is_empty() {
        let (Ok(first), Ok(last)) = (Date::new(year, 1, 1), Date::new(year, 12, 31)) else {
            return Vec::new();
        };
        return rule
            .by_day
            .iter()
            .flat_map(|b| weekdays_between(first, last, b.weekday, b.nth))
            .collect();
    }
    month_day(year, dtstart.month(), dtstart.day())
        .into_iter()
        .collect()
}

/// The week (from WKST, Monday by default) holding `day`, as the BYDAY weekdays or DTSTART's.
fn week_dates(rule: &RRule, dtstart: Date, day: Date) -> Vec<Date> {
    let wkst = rule.wkst.unwrap_or(Weekday::Monday);
    let back = i64::from(day.weekday().since(wkst));
    let Ok(week_start) = day.checked_sub(Span::new().days(back)) else {
        return Vec::new();
    };
    let weekdays: Vec<Weekday> = if rule.by_day.is_empty() {
        vec![dtstart.weekday()]
    } else {
        rule.by_day.iter().map(|b| b.weekday).collect()
    };
    weekdays
        .into_iter()
        .filter_map(|w| {
            week_start
                .checked_add(Span::new().days(i64::from(w.since(wkst))))
                .ok()
        })
        .filter(|d| month_allowed(rule, d.month()))
        .collect()
}

/// BYSETPOS: the 1-based (negative from the end) positions of a period's sorted set.
fn set_positions(positions: &[i16], dates: Vec<Date>) -> Vec<Date> {
    if positions.is_empty() {
        return dates;
    }
    let len = dates.len() as i64;
    let mut picked: Vec<Date> = positions
        .iter()
        .filter_map(|&p| {
            let i = match i64::from(p) {
                p if p > 0 => p - 1,
                p if p < 0 => len + p,
                _ => return None,
            };
            usize::try_from(i).ok().and_then(|i| dates.get(i).copied())
        })
        .collect();
    picked.sort();
    picked.dedup();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris() -> TimeZone {
        jiff::tz::db().get("Europe/Paris").unwrap()
    }

    fn bounds(from: &str, before: &str) -> Bounds {
        Bounds {
            from: from.parse().unwrap(),
            before: before.parse().unwrap(),
            max_periods: 10_000,
        }
    }

    fn utc_strings(v: &[Timestamp]) -> Vec<String> {
        v.iter()
            .map(|t| t.strftime("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    }

    fn run(rule: &str, dtstart: &str, from: &str, before: &str) -> Vec<String> {
        let rule = RRule::parse(rule).unwrap();
        let until = rule
            .until
            .as_deref()
            .and_then(crate::items::eas_time::parse);
        utc_strings(&occurrences(
            &rule,
            dtstart.parse().unwrap(),
            &paris(),
            until,
            &bounds(from, before),
        ))
    }

    #[test]
    fn weekly_keeps_wall_clock_across_dst() {
        // Europe/Paris leaves summer time on 2026-10-25: 09:00 is 07:00Z before, 08:00Z after.
        assert_eq!(
            run(
                "FREQ=WEEKLY;BYDAY=TH",
                "2026-01-01T09:00",
                "2026-10-15T00:00Z",
                "2026-11-06T00:00Z"
            ),
            [
                "2026-10-15T07:00Z",
                "2026-10-22T07:00Z",
                "2026-10-29T08:00Z",
                "2026-11-05T08:00Z"
            ]
        );
    }

    #[test]
    fn count_until_and_interval() {
        // COUNT counts from DTSTART even when the span starts later.
        assert_eq!(
            run(
                "FREQ=DAILY;COUNT=5",
                "2026-03-01T10:00",
                "2026-03-04T00:00Z",
                "2026-04-01T00:00Z"
            ),
            ["2026-03-04T09:00Z", "2026-03-05T09:00Z"]
        );
        assert_eq!(
            run(
                "FREQ=DAILY;INTERVAL=2;UNTIL=20260307T090000Z",
                "2026-03-01T10:00",
                "2026-03-01T00:00Z",
                "2026-04-01T00:00Z"
            ),
            [
                "2026-03-01T09:00Z",
                "2026-03-03T09:00Z",
                "2026-03-05T09:00Z",
                "2026-03-07T09:00Z"
            ]
        );
    }

    #[test]
    fn monthly_and_yearly_rules() {
        // The last Friday of each month.
        assert_eq!(
            run(
                "FREQ=MONTHLY;BYDAY=-1FR",
                "2026-01-30T14:00",
                "2026-01-01T00:00Z",
                "2026-04-01T00:00Z"
            ),
            [
                "2026-01-30T13:00Z",
                "2026-02-27T13:00Z",
                "2026-03-27T13:00Z"
            ]
        );
        // The 31st skips short months; the last weekday by BYSETPOS.
        assert_eq!(
            run(
                "FREQ=MONTHLY;BYMONTHDAY=31",
                "2026-01-31T08:00",
                "2026-01-01T00:00Z",
                "2026-06-01T00:00Z"
            ),
            [
                "2026-01-31T07:00Z",
                "2026-03-31T06:00Z",
                "2026-05-31T06:00Z"
            ]
        );
        assert_eq!(
            run(
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                "2026-01-30T08:00",
                "2026-02-01T00:00Z",
                "2026-06-01T00:00Z"
            ),
            [
                "2026-02-27T07:00Z",
                "2026-03-31T06:00Z",
                "2026-04-30T06:00Z",
                "2026-05-29T06:00Z"
            ]
        );
        // A birthday from long ago, found without visiting every year before.
        assert_eq!(
            run(
                "FREQ=YEARLY",
                "1950-06-15T12:00",
                "2026-01-01T00:00Z",
                "2027-01-01T00:00Z"
            ),
            ["2026-06-15T10:00Z"]
        );
        assert_eq!(
            run(
                "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
                "2025-11-27T18:00",
                "2026-01-01T00:00Z",
                "2027-01-01T00:00Z"
            ),
            ["2026-11-26T17:00Z"]
        );
    }

    #[test]
    fn work_is_bounded() {
        let rule = RRule::parse("FREQ=SECONDLY;COUNT=100000000").unwrap();
        let mut b = bounds("2026-03-01T00:00Z", "2026-03-02T00:00Z");
        b.max_periods = 1000;
        let got = occurrences(
            &rule,
            "2026-03-01T00:00".parse().unwrap(),
            &paris(),
            None,
            &b,
        );
        assert!(got.len() <= 1001, "{}", got.len());
    }
}
