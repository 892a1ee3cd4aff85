//! iCalendar DATE and DATE-TIME values (RFC 5545 3.3.4, 3.3.5): reading them
//! with their TZID and turning them into instants, and writing them back.

use super::contentline::Property;
use super::zones::Zones;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// A DATE or DATE-TIME as written in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IcalTime {
    Date(Date),
    Floating(DateTime),
    Utc(Timestamp),
    Zoned(DateTime, String),
}

impl IcalTime {
    /// Reads the value of a DTSTART-like property. Lenient: accepts ISO-8601
    /// separators, missing seconds and a DATE without `VALUE=DATE`.
    pub fn from_prop(prop: &Property) -> Option<IcalTime> {
        let value = prop.value.split(',').next().unwrap_or("");
        IcalTime::parse(value, prop.param("TZID"))
    }

    pub fn parse(value: &str, tzid: Option<&str>) -> Option<IcalTime> {
        let v = value.trim();
        let utc = v.ends_with(['Z', 'z']);
        let digits: String = v
            .trim_end_matches(['Z', 'z'])
            .chars()
            .filter(|c| c.is_ascii_digit())
            .collect();
        let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<i16>().ok());
        let date = Date::new(num(0..4)?, num(4..6)? as i8, num(6..8)? as i8).ok()?;
        if digits.len() == 8 && !v.contains(['T', 't']) {
            return Some(IcalTime::Date(date));
        }
        let (h, m) = (num(8..10)?, num(10..12)?);
        let s = num(12..14).unwrap_or(0).min(59);
        let dt = DateTime::new(
            date.year(),
            date.month(),
            date.day(),
            h as i8,
            m as i8,
            s as i8,
            0,
        )
        .ok()?;
        Some(match tzid.map(str::trim).filter(|t| !t.is_empty()) {
            _ if utc => IcalTime::Utc(TimeZone::UTC.to_timestamp(dt).ok()?),
            Some(tz) => IcalTime::Zoned(dt, tz.to_string()),
            None => IcalTime::Floating(dt),
        })
    }

    pub fn is_date(&self) -> bool {
        matches!(self, IcalTime::Date(_))
    }

    /// The wall-clock value, whatever the zone.
    pub fn civil(&self) -> DateTime {
        match self {
            IcalTime::Date(d) => d.at(0, 0, 0, 0),
            IcalTime::Floating(dt) | IcalTime::Zoned(dt, _) => *dt,
            IcalTime::Utc(ts) => TimeZone::UTC.to_datetime(*ts),
        }
    }

    /// The zone the value is in: its TZID resolved through `zones`, else
    /// `default` (for floating times and dates, and unknown TZIDs).
    pub fn zone(&self, zones: &Zones, default: &TimeZone) -> TimeZone {
        match self {
            IcalTime::Utc(_) => TimeZone::UTC,
            IcalTime::Zoned(dt, tzid) => zones
                .resolve(tzid, dt.year())
                .unwrap_or_else(|| default.clone()),
            _ => default.clone(),
        }
    }

    pub fn to_timestamp(&self, zones: &Zones, default: &TimeZone) -> Option<Timestamp> {
        match self {
            IcalTime::Utc(ts) => Some(*ts),
            other => other.zone(zones, default).to_timestamp(other.civil()).ok(),
        }
    }

    /// A property `name` holding this value, with VALUE=DATE or TZID as needed.
    pub fn to_prop(&self, name: &str) -> Property {
        match self {
            IcalTime::Date(d) => {
                Property::new(name, d.strftime("%Y%m%d").to_string()).with_param("VALUE", "DATE")
            }
            IcalTime::Floating(dt) => Property::new(name, format_local(*dt)),
            IcalTime::Utc(ts) => Property::new(name, ts.strftime("%Y%m%dT%H%M%SZ").to_string()),
            IcalTime::Zoned(dt, tzid) => {
                Property::new(name, format_local(*dt)).with_param("TZID", tzid)
            }
        }
    }
}

pub fn format_local(dt: DateTime) -> String {
    dt.strftime("%Y%m%dT%H%M%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::contentline::parse;

    #[test]
    fn reads_all_forms() {
        let p = &parse("DTSTART;TZID=Europe/Paris:20240330T100000\n")[0];
        let t = IcalTime::from_prop(p).unwrap();
        assert_eq!(
            t,
            IcalTime::Zoned(
                Date::new(2024, 3, 30).unwrap().at(10, 0, 0, 0),
                "Europe/Paris".into()
            )
        );
        let zones = Zones::default();
        let ts = t.to_timestamp(&zones, &TimeZone::UTC).unwrap();
        assert_eq!(ts.to_string(), "2024-03-30T09:00:00Z");
        assert!(IcalTime::parse("20240330", None).unwrap().is_date());
        assert!(matches!(
            IcalTime::parse("20240330T100000Z", Some("X")),
            Some(IcalTime::Utc(_))
        ));
        assert!(matches!(
            IcalTime::parse("2024-03-30T10:00", None),
            Some(IcalTime::Floating(_))
        ));
        assert_eq!(IcalTime::parse("2024", None), None);
        assert_eq!(IcalTime::parse("20241340", None), None);
        assert_eq!(IcalTime::parse("20240101T250000", None), None);
    }

    #[test]
    fn writes_back() {
        for v in ["20240330T100000Z", "20240330T100000", "20240330"] {
            let t = IcalTime::parse(v, None).unwrap();
            assert_eq!(t.to_prop("DTSTART").value, v);
        }
        let t = IcalTime::parse("20240330T100000", Some("Asia/Kolkata")).unwrap();
        assert_eq!(t.to_prop("DUE").param("TZID"), Some("Asia/Kolkata"));
    }
}
