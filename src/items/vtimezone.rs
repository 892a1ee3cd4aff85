//! VTIMEZONE components ⇄ yearly rules ([`TzInfo`]): reading the STANDARD
//! and DAYLIGHT observances in force in a given year, and writing a
//! VTIMEZONE for a zone that only came as an EAS TimeZone blob.

use super::component::Component;
use super::contentline::Property;
use super::ical_time::{IcalTime, format_local};
use super::rrule::{ByDay, Freq, RRule};
use super::tzinfo::{TransitionRule, TzInfo};
use jiff::civil::DateTime;

struct Observance {
    daylight: bool,
    start: DateTime,
    offset_to: i32,
    rule: Option<RRule>,
    until_year: Option<i16>,
}

fn observances(vtz: &Component) -> Vec<Observance> {
    vtz.children
        .iter()
        .filter(|c| c.is("STANDARD") || c.is("DAYLIGHT"))
        .filter_map(|c| {
            let start = c
                .prop("DTSTART")
                .and_then(IcalTime::from_prop)
                .map(|t| t.civil())?;
            let offset_to = parse_offset(&c.prop("TZOFFSETTO")?.value)?;
            let rule = c.prop("RRULE").and_then(|p| RRule::parse(&p.value));
            let until_year = rule
                .as_ref()
                .and_then(|r| r.until.as_deref())
                .and_then(|u| IcalTime::parse(u, None))
                .map(|t| t.civil().year());
            Some(Observance {
                daylight: c.is("DAYLIGHT"),
                start,
                offset_to,
                rule,
                until_year,
            })
        })
        .collect()
}

/// `+0100`, `-0530`, `+013045` → minutes east of UTC.
pub fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let (sign, digits) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits.get(0..2)?.parse().ok()?;
    let m: i32 = digits.get(2..4)?.parse().ok()?;
    Some(sign * (h * 60 + m))
}

pub fn format_offset(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    format!("{sign}{:02}{:02}", m / 60, m % 60)
}

/// The observance of one kind in force in `year`: the latest one started by
/// then whose rule has not ended, else the latest one at all.
fn in_force(all: &[Observance], daylight: bool, year: i16) -> Option<&Observance> {
    let kind = || all.iter().filter(move |o| o.daylight == daylight);
    kind()
        .filter(|o| o.start.year() <= year)
        .filter(|o| match (&o.rule, o.until_year) {
            (Some(_), Some(u)) => u >= year,
            (Some(_), None) => true,
            (None, _) => o.start.year() == year,
        })
        .max_by_key(|o| o.start)
        .or_else(|| {
            kind()
                .filter(|o| o.start.year() <= year)
                .max_by_key(|o| o.start)
        })
        .or_else(|| kind().min_by_key(|o| o.start))
}

/// The rules a VTIMEZONE gives for `year`.
pub fn rules_for_year(vtz: &Component, year: i16) -> Option<TzInfo> {
    let all = observances(vtz);
    let std = in_force(&all, false, year);
    let dst = in_force(&all, true, year);
    let fixed = |o: &Observance| TzInfo::fixed(o.offset_to);
    let (std, dst) = match (std, dst) {
        (Some(s), Some(d)) => (s, d),
        (Some(one), None) | (None, Some(one)) => return Some(fixed(one)),
        (None, None) => return None,
    };
    let dst_applies =
        dst.rule.is_some() && dst.until_year.is_none_or(|u| u >= year) && dst.start.year() <= year
            || dst.start.year() == year;
    if !dst_applies || std.offset_to == dst.offset_to {
        return Some(fixed(std));
    }
    // Standard time is the smaller offset, whatever the file calls it.
    let (std, dst) = if std.offset_to > dst.offset_to {
        (dst, std)
    } else {
        (std, dst)
    };
    let (Some(std_rule), Some(dst_rule)) = (transition_rule(std, year), transition_rule(dst, year))
    else {
        return Some(fixed(std));
    };
    Some(TzInfo {
        bias: -std.offset_to,
        standard_date: std_rule,
        standard_bias: 0,
        daylight_date: dst_rule,
        daylight_bias: std.offset_to - dst.offset_to,
        ..TzInfo::default()
    })
}

fn transition_rule(o: &Observance, year: i16) -> Option<TransitionRule> {
    let time = |mut r: TransitionRule| {
        r.hour = o.start.hour() as u16;
        r.minute = o.start.minute() as u16;
        r.second = o.start.second() as u16;
        r
    };
    let Some(rule) = o.rule.as_ref().filter(|r| r.freq == Freq::Yearly) else {
        return Some(time(TransitionRule {
            year: year as u16,
            month: o.start.month() as u16,
            day: o.start.day() as u16,
            ..TransitionRule::default()
        }));
    };
    let month = rule.by_month.first().copied().unwrap_or(o.start.month());
    let weekday = |d: &ByDay| d.weekday.to_sunday_zero_offset() as u16;
    let (day_of_week, day) = match (rule.by_day.first(), rule.by_month_day.iter().min()) {
        (Some(d @ ByDay { nth: Some(n), .. }), _) => {
            (weekday(d), if *n < 0 { 5 } else { (*n).clamp(1, 5) as u16 })
        }
        // `BYDAY=SU;BYMONTHDAY=8,9,…,14` is the old way to say "second Sunday".
        (Some(d), Some(&first)) if first > 0 => (
            weekday(d),
            if first >= 22 && first + 7 > 28 {
                5
            } else {
                ((first - 1) / 7 + 1) as u16
            },
        ),
        (Some(d), Some(_)) => (weekday(d), 5),
        (None, Some(&dom)) if dom > 0 => {
            return Some(time(TransitionRule {
                year: year as u16,
                month: month as u16,
                day: dom as u16,
                ..TransitionRule::default()
            }));
        }
        _ => return None,
    };
    Some(time(TransitionRule {
        year: 0,
        month: month.clamp(1, 12) as u16,
        day_of_week,
        day,
        ..TransitionRule::default()
    }))
}

/// A VTIMEZONE called `tzid` that follows `info` from 1970 on.
pub fn to_vtimezone(tzid: &str, info: &TzInfo) -> Component {
    let mut vtz = Component::new("VTIMEZONE");
    vtz.props.push(Property::new("TZID", tzid));
    if !info.has_dst() {
        let off = info.standard_offset();
        vtz.children.push(observance(
            "STANDARD",
            DateTime::constant(1970, 1, 1, 0, 0, 0, 0),
            off,
            off,
            None,
        ));
        return vtz;
    }
    let (std, dst) = (info.standard_offset(), info.daylight_offset());
    for (name, rule, from, to) in [
        ("STANDARD", &info.standard_date, dst, std),
        ("DAYLIGHT", &info.daylight_date, std, dst),
    ] {
        let year = if rule.year != 0 {
            rule.year as i16
        } else {
            1970
        };
        let start = rule
            .date_in(year)
            .map(|d| {
                d.at(
                    rule.hour.min(23) as i8,
                    rule.minute.min(59) as i8,
                    rule.second.min(59) as i8,
                    0,
                )
            })
            .unwrap_or(DateTime::constant(1970, 1, 1, 0, 0, 0, 0));
        let rrule = (rule.year == 0).then(|| {
            let mut r = RRule::new(Freq::Yearly);
            r.by_month = vec![rule.month as i8];
            let nth = if rule.day >= 5 { -1 } else { rule.day as i8 };
            r.by_day = super::tzinfo::weekday_from_sunday0(rule.day_of_week)
                .map(|weekday| {
                    vec![ByDay {
                        nth: Some(nth),
                        weekday,
                    }]
                })
                .unwrap_or_default();
            r
        });
        vtz.children.push(observance(name, start, from, to, rrule));
    }
    vtz
}

fn observance(name: &str, start: DateTime, from: i32, to: i32, rule: Option<RRule>) -> Component {
    let mut c = Component::new(name);
    c.props.push(Property::new("DTSTART", format_local(start)));
    if let Some(r) = rule {
        c.props.push(Property::new("RRULE", r.to_value()));
    }
    c.props
        .push(Property::new("TZOFFSETFROM", format_offset(from)));
    c.props.push(Property::new("TZOFFSETTO", format_offset(to)));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::component::Document;

    const NY: &str = "BEGIN:VTIMEZONE\r\nTZID:Eastern\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:19870405T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T070000Z\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\n\
        BEGIN:DAYLIGHT\r\nDTSTART:20070311T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\n\
        BEGIN:STANDARD\r\nDTSTART:19671029T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029T060000Z\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n\
        BEGIN:STANDARD\r\nDTSTART:20071104T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\n\
        END:VTIMEZONE\r\n";

    fn vtz(text: &str) -> Component {
        Document::parse(text).components.remove(0)
    }

    #[test]
    fn picks_the_rules_of_the_year() {
        let v = vtz(NY);
        let now = rules_for_year(&v, 2024).unwrap();
        let ny = TzInfo::from_time_zone(&jiff::tz::db().get("America/New_York").unwrap(), 2024);
        assert!(now.same_rules(&ny), "{now:?}");
        let old = rules_for_year(&v, 2005).unwrap();
        assert_eq!((old.daylight_date.month, old.daylight_date.day), (4, 1));
        assert_eq!((old.standard_date.month, old.standard_date.day), (10, 5));
    }

    #[test]
    fn writes_and_reads_back() {
        for name in [
            "Europe/Paris",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "America/Sao_Paulo",
        ] {
            let info = TzInfo::from_time_zone(&jiff::tz::db().get(name).unwrap(), 2024);
            let v = to_vtimezone(name, &info);
            let mut text = String::new();
            v.write(&mut text, "\r\n");
            let back = rules_for_year(&vtz(&text), 2024).unwrap();
            assert!(back.same_rules(&info), "{name}: {text}");
        }
    }

    #[test]
    fn old_style_month_day_ranges() {
        let text = "BEGIN:VTIMEZONE\nTZID:x\nBEGIN:DAYLIGHT\nDTSTART:20070311T020000\n\
            RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=SU;BYMONTHDAY=8,9,10,11,12,13,14\nTZOFFSETFROM:-0500\nTZOFFSETTO:-0400\nEND:DAYLIGHT\n\
            BEGIN:STANDARD\nDTSTART:20071104T020000\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=SU;BYMONTHDAY=1,2,3,4,5,6,7\n\
            TZOFFSETFROM:-0400\nTZOFFSETTO:-0500\nEND:STANDARD\nEND:VTIMEZONE\n";
        let info = rules_for_year(&vtz(text), 2024).unwrap();
        assert_eq!((info.daylight_date.month, info.daylight_date.day), (3, 2));
        assert_eq!((info.standard_date.month, info.standard_date.day), (11, 1));
        assert_eq!(parse_offset("+0530"), Some(330));
        assert_eq!(parse_offset("junk"), None);
        assert_eq!(format_offset(-630), "-1030");
    }
}
