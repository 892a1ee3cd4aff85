//! EAS date-time strings (MS-ASDTYPE 2.3): the compact `20091112T004506Z`
//! form of the Calendar class and the `2009-11-12T00:45:06.000Z` form of
//! Contacts, Tasks and Notes. Parsing accepts either, since clients mix them.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// `yyyymmddThhmmssZ`, as Calendar StartTime, EndTime, DtStamp, Until use.
pub fn compact(ts: Timestamp) -> String {
    ts.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// `yyyy-mm-ddThh:mm:ss.fffZ`, as Contacts, Tasks and Notes use.
pub fn extended(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// Parses either form; the time is UTC whether or not a `Z` is present.
pub fn parse(s: &str) -> Option<Timestamp> {
    let s = s.trim().trim_end_matches(['Z', 'z']);
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    let (date_part, frac) = match s.split_once('.') {
        Some((d, f)) => (d, f),
        None => (s, ""),
    };
    let date_digits: String = date_part.chars().filter(|c| c.is_ascii_digit()).collect();
    if date_digits.len() != 8 && date_digits.len() != 14 {
        return (digits.len() == 8)
            .then(|| date_at_midnight(&digits))
            .flatten();
    }
    let num = |r: std::ops::Range<usize>| date_digits.get(r)?.parse::<i16>().ok();
    let date = Date::new(num(0..4)?, num(4..6)? as i8, num(6..8)? as i8).ok()?;
    let (h, m, sec) = if date_digits.len() == 14 {
        (num(8..10)?, num(10..12)?, num(12..14)?)
    } else {
        (0, 0, 0)
    };
    let millis: i32 = frac
        .chars()
        .take_while(char::is_ascii_digit)
        .chain("000".chars())
        .take(3)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    let dt = DateTime::new(
        date.year(),
        date.month(),
        date.day(),
        h as i8,
        m as i8,
        sec.min(59) as i8,
        millis * 1_000_000,
    )
    .ok()?;
    TimeZone::UTC.to_timestamp(dt).ok()
}

fn date_at_midnight(digits: &str) -> Option<Timestamp> {
    let num = |r: std::ops::Range<usize>| digits.get(r)?.parse::<i16>().ok();
    let date = Date::new(num(0..4)?, num(4..6)? as i8, num(6..8)? as i8).ok()?;
    TimeZone::UTC.to_timestamp(date.at(0, 0, 0, 0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let ts = parse("20091112T004506Z").unwrap();
        assert_eq!(compact(ts), "20091112T004506Z");
        assert_eq!(extended(ts), "2009-11-12T00:45:06.000Z");
        assert_eq!(parse("2009-11-12T00:45:06.000Z"), Some(ts));
        assert_eq!(parse("2009-11-12T00:45:06Z"), Some(ts));
        assert_eq!(
            parse("2009-11-12T00:45:06.5Z").map(extended).as_deref(),
            Some("2009-11-12T00:45:06.500Z")
        );
        assert_eq!(
            parse("2009-11-12").map(compact).as_deref(),
            Some("20091112T000000Z")
        );
    }

    #[test]
    fn garbage_is_none() {
        for s in ["", "x", "2009-13-40T00:00:00Z", "20091112T99", "९९९९"] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
