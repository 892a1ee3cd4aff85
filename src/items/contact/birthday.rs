//! Birthday and anniversary dates. vCard has a calendar date; EAS has an
//! instant, which devices fill with *their* local midnight in UTC
//! (1980-05-04T22:00:00.000Z from a UTC+2 device means 5 May), or a fixed
//! UTC time such as T00:00:00 or T11:59:00. The rule, in order:
//!
//! 1. If the file already has a date D and the instant is a possible local
//!    midnight of D (D 00:00 UTC minus 14 h to plus 12 h, every real offset),
//!    D is kept: an untouched birthday echoed back never moves.
//! 2. If the device's UTC offset is known, the date is the device's local date.
//! 3. Otherwise an instant on a quarter hour is read as a local midnight:
//!    before 11:00 UTC it belongs to the same UTC date (offsets −11 h to 0),
//!    from 11:00 on to the next date (offsets +1 h to +13 h). Anything else
//!    (T11:59:00, odd seconds) is a "noon" convention: its UTC date.
//!
//! Sent dates are the device's local midnight when its offset is known, else
//! 11:59 UTC, which shows the same date for every offset from −11:59 to +12 h
//! and, being off the quarter hour, reads back as its own UTC date.

use crate::items::eas_time;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The EAS value for `date`.
pub fn to_eas(date: Date, device_offset: Option<i32>) -> String {
    let instant = match device_offset {
        Some(off) => TimeZone::UTC
            .to_timestamp(date.at(0, 0, 0, 0))
            .ok()
            .map(|t| t - SignedDuration::from_mins(i64::from(off))),
        None => TimeZone::UTC.to_timestamp(date.at(11, 59, 0, 0)).ok(),
    };
    instant.map(eas_time::extended).unwrap_or_default()
}

/// The calendar date an EAS birthday instant means (see the module rule).
pub fn from_eas(ts: Timestamp, existing: Option<Date>, device_offset: Option<i32>) -> Date {
    if let Some(d) = existing
        && let Ok(midnight) = TimeZone::UTC.to_timestamp(d.at(0, 0, 0, 0))
    {
        let delta = ts.duration_since(midnight);
        if delta >= SignedDuration::from_hours(-14) && delta <= SignedDuration::from_hours(12) {
            return d;
        }
    }
    let utc = TimeZone::UTC.to_datetime(ts);
    if let Some(off) = device_offset {
        let local = ts + SignedDuration::from_mins(i64::from(off));
        return TimeZone::UTC.to_datetime(local).date();
    }
    let on_quarter = utc.minute() % 15 == 0 && utc.second() == 0 && utc.subsec_nanosecond() == 0;
    if on_quarter && utc.hour() >= 11 {
        utc.date().tomorrow().unwrap_or(utc.date())
    } else {
        utc.date()
    }
}

/// Reads a vCard date: `1980-05-04`, `19800504`, `--0504` (no year: Apple's
/// 1604 placeholder), with or without a time part.
pub fn parse_vcard_date(value: &str) -> Option<Date> {
    let v = value.trim();
    let (no_year, v) = match v.strip_prefix("--") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let date_part = v.split(['T', 't']).next().unwrap_or("");
    let digits: String = date_part.chars().filter(char::is_ascii_digit).collect();
    let num = |r: std::ops::Range<usize>| digits.get(r)?.parse::<i16>().ok();
    if no_year {
        return Date::new(1604, num(0..2)? as i8, num(2..4)? as i8).ok();
    }
    Date::new(num(0..4)?, num(4..6)? as i8, num(6..8)? as i8).ok()
}

/// Writes a date the way the card already writes them (dashes or not).
pub fn format_vcard_date(date: Date, dashed: bool) -> String {
    if dashed {
        date.strftime("%Y-%m-%d").to_string()
    } else {
        date.strftime("%Y%m%d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> Date {
        Date::new(y, m, day).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        eas_time::parse(s).unwrap()
    }

    #[test]
    fn devices_at_every_offset_keep_the_day() {
        let birthday = d(1980, 5, 5);
        for offset in [-10 * 60, -5 * 60, 0, 2 * 60, 330, 14 * 60] {
            let sent = to_eas(birthday, Some(offset));
            assert_eq!(
                from_eas(ts(&sent), None, Some(offset)),
                birthday,
                "{offset}"
            );
            assert_eq!(
                from_eas(ts(&sent), Some(birthday), None),
                birthday,
                "{offset}"
            );
        }
    }

    #[test]
    fn utc_minus_10_and_plus_14_devices() {
        // Local midnight of 5 May on each device.
        let hawaii = ts("1980-05-05T10:00:00.000Z");
        let kiribati = ts("1980-05-04T10:00:00.000Z");
        assert_eq!(from_eas(hawaii, None, Some(-600)), d(1980, 5, 5));
        assert_eq!(from_eas(kiribati, None, Some(840)), d(1980, 5, 5));
        // Without the offset, an unchanged date is still recognised.
        assert_eq!(from_eas(hawaii, Some(d(1980, 5, 5)), None), d(1980, 5, 5));
        assert_eq!(from_eas(kiribati, Some(d(1980, 5, 5)), None), d(1980, 5, 5));
    }

    #[test]
    fn heuristics_without_offset() {
        assert_eq!(
            from_eas(ts("1980-05-04T22:00:00.000Z"), None, None),
            d(1980, 5, 5)
        );
        assert_eq!(
            from_eas(ts("1980-05-05T00:00:00.000Z"), None, None),
            d(1980, 5, 5)
        );
        assert_eq!(
            from_eas(ts("1980-05-05T11:59:00.000Z"), None, None),
            d(1980, 5, 5)
        );
        assert_eq!(
            from_eas(ts("1980-05-04T18:30:00.000Z"), None, None),
            d(1980, 5, 5)
        );
        assert_eq!(
            from_eas(ts("1980-05-05T05:00:00.000Z"), None, None),
            d(1980, 5, 5)
        );
        // A changed date is not mistaken for the stored one.
        assert_eq!(
            from_eas(ts("1980-05-05T22:00:00.000Z"), Some(d(1980, 5, 5)), None),
            d(1980, 5, 6)
        );
        assert_eq!(to_eas(d(1980, 5, 5), None), "1980-05-05T11:59:00.000Z");
        assert_eq!(
            from_eas(ts(&to_eas(d(1980, 5, 5), None)), None, None),
            d(1980, 5, 5)
        );
    }

    #[test]
    fn vcard_dates() {
        assert_eq!(parse_vcard_date("1980-05-04"), Some(d(1980, 5, 4)));
        assert_eq!(parse_vcard_date("19800504T000000Z"), Some(d(1980, 5, 4)));
        assert_eq!(parse_vcard_date("--0504"), Some(d(1604, 5, 4)));
        assert_eq!(parse_vcard_date("garbage"), None);
        assert_eq!(format_vcard_date(d(1980, 5, 4), true), "1980-05-04");
    }
}
