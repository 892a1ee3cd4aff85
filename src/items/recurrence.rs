//! EAS Recurrence (MS-ASCAL 2.2.2.37, MS-ASTASK 2.2.2.20) ⇄ RRULE. EAS
//! knows six patterns: daily (0), weekly (1), monthly on a day (2), monthly on
//! the nth weekday (3), yearly on a date (5), yearly on the nth weekday of a
//! month (6). RRULEs outside these are not sent as recurrences.

use super::eas_time;
use super::rrule::{ByDay, Freq, RRule};
use crate::ProtocolVersion;
use crate::wbxml::{Element, Tag, tags};
use jiff::Timestamp;
use jiff::civil::{DateTime, Weekday};

/// The recurrence tags of one class (Calendar and Tasks have their own).
#[derive(Clone, Copy, Debug)]
pub struct RecurrenceTags {
    pub recurrence: Tag,
    pub kind: Tag,
    pub interval: Tag,
    pub until: Tag,
    pub occurrences: Tag,
    pub day_of_week: Tag,
    pub day_of_month: Tag,
    pub week_of_month: Tag,
    pub month_of_year: Tag,
    pub first_day_of_week: Tag,
    /// Tasks only: compact times in Calendar, extended ones in Tasks.
    pub extended_dates: bool,
}

pub const CALENDAR: RecurrenceTags = RecurrenceTags {
    recurrence: tags::calendar::RECURRENCE,
    kind: tags::calendar::TYPE,
    interval: tags::calendar::INTERVAL,
    until: tags::calendar::UNTIL,
    occurrences: tags::calendar::OCCURRENCES,
    day_of_week: tags::calendar::DAY_OF_WEEK,
    day_of_month: tags::calendar::DAY_OF_MONTH,
    week_of_month: tags::calendar::WEEK_OF_MONTH,
    month_of_year: tags::calendar::MONTH_OF_YEAR,
    first_day_of_week: tags::calendar::FIRST_DAY_OF_WEEK,
    extended_dates: false,
};

pub const TASKS: RecurrenceTags = RecurrenceTags {
    recurrence: tags::tasks::RECURRENCE,
    kind: tags::tasks::TYPE,
    interval: tags::tasks::INTERVAL,
    until: tags::tasks::UNTIL,
    occurrences: tags::tasks::OCCURRENCES,
    day_of_week: tags::tasks::DAY_OF_WEEK,
    day_of_month: tags::tasks::DAY_OF_MONTH,
    week_of_month: tags::tasks::WEEK_OF_MONTH,
    month_of_year: tags::tasks::MONTH_OF_YEAR,
    first_day_of_week: tags::tasks::FIRST_DAY_OF_WEEK,
    extended_dates: true,
};

/// The EAS pattern types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    Daily = 0,
    Weekly = 1,
    Monthly = 2,
    MonthlyNth = 3,
    Yearly = 5,
    YearlyNth = 6,
}

impl Pattern {
    fn from_code(code: u8) -> Option<Pattern> {
        Some(match code {
            0 => Pattern::Daily,
            1 => Pattern::Weekly,
            2 => Pattern::Monthly,
            3 => Pattern::MonthlyNth,
            5 => Pattern::Yearly,
            6 => Pattern::YearlyNth,
            _ => return None,
        })
    }
}

/// DayOfWeek bit for each weekday (Sunday = 1 … Saturday = 64).
pub fn weekday_bit(w: Weekday) -> u8 {
    1 << w.to_sunday_zero_offset()
}

/// The "last day of the month" DayOfWeek value: every day.
const EVERY_DAY: u8 = 127;

/// One recurrence as EAS sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub pattern: Pattern,
    pub interval: u32,
    pub until: Option<Timestamp>,
    pub occurrences: Option<u32>,
    pub day_of_week: Option<u8>,
    pub day_of_month: Option<u8>,
    /// 1–4, 5 = last.
    pub week_of_month: Option<u8>,
    pub month_of_year: Option<u8>,
    /// 0 = Sunday … 6 = Saturday.
    pub first_day_of_week: Option<u8>,
}

impl Recurrence {
    /// The EAS form of `rule` for a series starting at `start` (local time);
    /// `until` is the rule's UNTIL already resolved to an instant.
    pub fn from_rrule(
        rule: &RRule,
        start: DateTime,
        until: Option<Timestamp>,
    ) -> Option<Recurrence> {
        let unsupported = !rule.other.is_empty()
            || rule.by_month.len() > 1
            || rule.by_month_day.len() > 1
            || rule.by_set_pos.len() > 1;
        if unsupported {
            return None;
        }
        let mask = |days: &[ByDay]| days.iter().fold(0u8, |m, d| m | weekday_bit(d.weekday));
        let plain_days = rule.by_day.iter().all(|d| d.nth.is_none());
        let nth = |rule: &RRule| -> Option<u8> {
            let n = match (rule.by_day.as_slice(), rule.by_set_pos.first()) {
                ([ByDay { nth: Some(n), .. }], None) => i16::from(*n),
                (days, Some(&pos)) if !days.is_empty() && plain_days => pos,
                _ => return None,
            };
            match n {
                1..=4 => Some(n as u8),
                -1 => Some(5),
                _ => None,
            }
        };
        let mut r = Recurrence {
            pattern: Pattern::Daily,
            interval: rule.interval.max(1),
            until,
            occurrences: rule.count,
            day_of_week: None,
            day_of_month: None,
            week_of_month: None,
            month_of_year: None,
            first_day_of_week: rule.wkst.map(|w| w.to_sunday_zero_offset() as u8),
        };
        match rule.freq {
            Freq::Daily
                if rule.by_day.is_empty()
                    && rule.by_month_day.is_empty()
                    && rule.by_month.is_empty() => {}
            Freq::Daily if rule.interval == 1 && plain_days && rule.by_month_day.is_empty() => {
                r.pattern = Pattern::Weekly;
                r.day_of_week = Some(mask(&rule.by_day));
            }
            Freq::Weekly
                if plain_days && rule.by_month_day.is_empty() && rule.by_month.is_empty() =>
            {
                r.pattern = Pattern::Weekly;
                r.day_of_week = Some(if rule.by_day.is_empty() {
                    weekday_bit(start.weekday())
                } else {
                    mask(&rule.by_day)
                });
            }
            Freq::Monthly | Freq::Yearly => {
                let yearly = rule.freq == Freq::Yearly;
                if yearly {
                    r.month_of_year =
                        Some(rule.by_month.first().map_or(start.month(), |&m| m) as u8);
                } else if !rule.by_month.is_empty() {
                    return None;
                }
                match (rule.by_day.is_empty(), rule.by_month_day.first()) {
                    (true, None) => r.day_of_month = Some(start.day() as u8),
                    (true, Some(&d)) if d > 0 => r.day_of_month = Some(d as u8),
                    (true, Some(-1)) => {
                        r.day_of_week = Some(EVERY_DAY);
                        r.week_of_month = Some(5);
                    }
                    (false, None) => {
                        r.week_of_month = Some(nth(rule)?);
                        r.day_of_week = Some(mask(&rule.by_day));
                    }
                    _ => return None,
                }
                r.pattern = match (yearly, r.week_of_month.is_some()) {
                    (false, false) => Pattern::Monthly,
                    (false, true) => Pattern::MonthlyNth,
                    (true, false) => Pattern::Yearly,
                    (true, true) => Pattern::YearlyNth,
                };
            }
            _ => return None,
        }
        Some(r)
    }

    /// The RRULE for this recurrence; `until` is the UNTIL text to write.
    pub fn to_rrule(&self, until: Option<String>) -> RRule {
        let freq = match self.pattern {
            Pattern::Daily => Freq::Daily,
            Pattern::Weekly => Freq::Weekly,
            Pattern::Monthly | Pattern::MonthlyNth => Freq::Monthly,
            Pattern::Yearly | Pattern::YearlyNth => Freq::Yearly,
        };
        let mut rule = RRule::new(freq);
        rule.interval = self.interval.max(1);
        rule.count = self.occurrences;
        rule.until = until;
        let days = |mask: u8| -> Vec<Weekday> {
            (0..7)
                .filter(|i| mask & (1 << i) != 0)
                .filter_map(super::tzinfo::weekday_from_sunday0)
                .collect()
        };
        let mask = self.day_of_week.unwrap_or(0);
        match self.pattern {
            Pattern::Daily => {}
            Pattern::Weekly => {
                rule.by_day = days(mask)
                    .into_iter()
                    .map(|weekday| ByDay { nth: None, weekday })
                    .collect();
            }
            Pattern::Monthly | Pattern::Yearly => {
                rule.by_month_day = self.day_of_month.map(|d| vec![d as i8]).unwrap_or_default();
            }
            Pattern::MonthlyNth | Pattern::YearlyNth => {
                let week = self.week_of_month.unwrap_or(1);
                let n: i8 = if week >= 5 { -1 } else { week as i8 };
                if mask == EVERY_DAY && n == -1 {
                    rule.by_month_day = vec![-1];
                } else if mask.count_ones() == 1 {
                    rule.by_day = days(mask)
                        .into_iter()
                        .map(|weekday| ByDay {
                            nth: Some(n),
                            weekday,
                        })
                        .collect();
                } else {
                    rule.by_day = days(mask)
                        .into_iter()
                        .map(|weekday| ByDay { nth: None, weekday })
                        .collect();
                    rule.by_set_pos = vec![i16::from(n)];
                }
            }
        }
        if matches!(self.pattern, Pattern::Yearly | Pattern::YearlyNth) {
            rule.by_month = self
                .month_of_year
                .map(|m| vec![m as i8])
                .unwrap_or_default();
        }
        rule.wkst = self
            .first_day_of_week
            .and_then(|d| super::tzinfo::weekday_from_sunday0(u16::from(d)));
        rule
    }

    pub fn to_element(&self, t: &RecurrenceTags, version: ProtocolVersion) -> Element {
        let mut e = Element::new(t.recurrence).with_text(t.kind, (self.pattern as u8).to_string());
        let date = |ts: Timestamp| {
            if t.extended_dates {
                eas_time::extended(ts)
            } else {
                eas_time::compact(ts)
            }
        };
        e = e
            .with_opt_text(t.occurrences, self.occurrences.map(|n| n.to_string()))
            .with_text(t.interval, self.interval.to_string())
            .with_opt_text(t.week_of_month, self.week_of_month.map(|n| n.to_string()))
            .with_opt_text(t.day_of_week, self.day_of_week.map(|n| n.to_string()))
            .with_opt_text(t.month_of_year, self.month_of_year.map(|n| n.to_string()))
            .with_opt_text(
                t.until,
                self.until.filter(|_| self.occurrences.is_none()).map(date),
            )
            .with_opt_text(t.day_of_month, self.day_of_month.map(|n| n.to_string()));
        if version >= ProtocolVersion::V14_1 {
            e = e.with_opt_text(
                t.first_day_of_week,
                self.first_day_of_week.map(|n| n.to_string()),
            );
        }
        e
    }

    /// Reads a Recurrence element; `None` if its Type is missing or unknown.
    pub fn from_element(e: &Element, t: &RecurrenceTags) -> Option<Recurrence> {
        let num = |tag: Tag| e.child_text(tag).and_then(|s| s.trim().parse::<u32>().ok());
        let small = |tag: Tag| num(tag).and_then(|n| u8::try_from(n).ok());
        Some(Recurrence {
            pattern: Pattern::from_code(small(t.kind)?)?,
            interval: num(t.interval).filter(|&n| n > 0).unwrap_or(1),
            until: e.child_text(t.until).and_then(eas_time::parse),
            occurrences: num(t.occurrences).filter(|&n| n > 0),
            day_of_week: small(t.day_of_week).map(|d| d & EVERY_DAY),
            day_of_month: small(t.day_of_month).filter(|d| (1..=31).contains(d)),
            week_of_month: small(t.week_of_month).filter(|w| (1..=5).contains(w)),
            month_of_year: small(t.month_of_year).filter(|m| (1..=12).contains(m)),
            first_day_of_week: small(t.first_day_of_week).filter(|d| *d <= 6),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml::tags::calendar as cal;

    fn start() -> DateTime {
        DateTime::constant(2024, 3, 12, 9, 0, 0, 0)
    }

    fn round_trip(rrule: &str) -> (Recurrence, String) {
        let rule = RRule::parse(rrule).unwrap();
        let r = Recurrence::from_rrule(&rule, start(), None).unwrap();
        let e = r.to_element(&CALENDAR, ProtocolVersion::V16_1);
        let back = Recurrence::from_element(&e, &CALENDAR).unwrap();
        assert_eq!(back, r);
        (r, back.to_rrule(rule.until.clone()).to_value())
    }

    #[test]
    fn every_pattern() {
        for (rrule, pattern) in [
            ("FREQ=DAILY;INTERVAL=2;COUNT=10", Pattern::Daily),
            ("FREQ=WEEKLY;BYDAY=MO,WE,FR", Pattern::Weekly),
            ("FREQ=MONTHLY;BYMONTHDAY=15", Pattern::Monthly),
            ("FREQ=MONTHLY;BYDAY=2TU", Pattern::MonthlyNth),
            ("FREQ=MONTHLY;BYDAY=-1FR", Pattern::MonthlyNth),
            (
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                Pattern::MonthlyNth,
            ),
            ("FREQ=MONTHLY;BYMONTHDAY=-1", Pattern::MonthlyNth),
            ("FREQ=YEARLY;BYMONTHDAY=12;BYMONTH=3", Pattern::Yearly),
            ("FREQ=YEARLY;BYDAY=4TH;BYMONTH=11", Pattern::YearlyNth),
        ] {
            let (r, back) = round_trip(rrule);
            assert_eq!(r.pattern, pattern, "{rrule}");
            assert_eq!(back, rrule, "{rrule}");
        }
    }

    #[test]
    fn implicit_days_come_from_the_start() {
        let (r, _) = round_trip("FREQ=WEEKLY;WKST=MO");
        assert_eq!(r.day_of_week, Some(weekday_bit(Weekday::Tuesday)));
        assert_eq!(r.first_day_of_week, Some(1));
        let (r, _) = round_trip("FREQ=YEARLY");
        assert_eq!((r.month_of_year, r.day_of_month), (Some(3), Some(12)));
        let (r, _) = round_trip("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR");
        assert_eq!((r.pattern, r.day_of_week), (Pattern::Weekly, Some(62)));
    }

    #[test]
    fn unsupported_rules_are_none() {
        for rrule in [
            "FREQ=HOURLY",
            "FREQ=MONTHLY;BYMONTHDAY=1,15",
            "FREQ=YEARLY;BYWEEKNO=20",
            "FREQ=MONTHLY;BYDAY=3MO,1TU",
        ] {
            let rule = RRule::parse(rrule).unwrap();
            assert_eq!(
                Recurrence::from_rrule(&rule, start(), None),
                None,
                "{rrule}"
            );
        }
    }

    #[test]
    fn bad_elements() {
        let e = Element::new(cal::RECURRENCE).with_text(cal::TYPE, "4");
        assert_eq!(Recurrence::from_element(&e, &CALENDAR), None);
        let e = Element::new(cal::RECURRENCE)
            .with_text(cal::TYPE, "1")
            .with_text(cal::DAY_OF_WEEK, "x");
        assert_eq!(
            Recurrence::from_element(&e, &CALENDAR).unwrap().day_of_week,
            None
        );
    }
}
