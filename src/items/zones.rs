//! Which time zone a TZID means (IANA name, possibly behind a vendor prefix;
//! Windows name; the file's own VTIMEZONE), and which zone an EAS TimeZone
//! blob means.

use super::component::Component;
use super::tzinfo::TzInfo;
use super::vtimezone::rules_for_year;
use super::windows_zones::{candidates, daylight_name, iana_to_windows, windows_to_iana};
use jiff::tz::TimeZone;

/// The VTIMEZONEs of one file, for TZIDs the IANA database does not know.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    custom: Vec<(String, Component)>,
}

/// What an EAS TimeZone blob turned out to be.
#[derive(Clone, Debug)]
pub enum BlobZone {
    /// An IANA zone with the same rules (in the year looked at).
    Iana(String, TimeZone),
    /// No known zone matches: the caller writes a VTIMEZONE for these rules.
    Custom(TzInfo),
}

impl Zones {
    /// Collects the VTIMEZONE children of a VCALENDAR.
    pub fn from_calendar(cal: &Component) -> Zones {
        Zones {
            custom: cal
                .children
                .iter()
                .filter(|c| c.is("VTIMEZONE"))
                .filter_map(|c| Some((c.prop("TZID")?.value.trim().to_string(), c.clone())))
                .collect(),
        }
    }

    fn vtimezone(&self, tzid: &str) -> Option<&Component> {
        self.custom
            .iter()
            .find(|(id, _)| id == tzid.trim())
            .map(|(_, c)| c)
    }

    /// The zone for `tzid` around `year`; `None` if nothing names it.
    pub fn resolve(&self, tzid: &str, year: i16) -> Option<TimeZone> {
        if let Some((_, tz)) = known_zone(tzid) {
            return Some(tz);
        }
        if let Some(rules) = self.vtimezone(tzid).and_then(|v| rules_for_year(v, year)) {
            return Some(rules.to_time_zone());
        }
        display_name_offset(tzid).map(|off| TzInfo::fixed(off).to_time_zone())
    }

    /// The blob for a TZID in `year`, named after its Windows or IANA zone.
    pub fn blob(&self, tzid: &str, year: i16) -> Option<TzInfo> {
        if let Some((name, tz)) = known_zone(tzid) {
            return Some(blob_for_zone(&name, &tz, year));
        }
        let mut info = self
            .vtimezone(tzid)
            .and_then(|v| rules_for_year(v, year))
            .or_else(|| display_name_offset(tzid).map(TzInfo::fixed))?;
        info.standard_name = tzid.chars().take(31).collect();
        info.daylight_name = info.standard_name.clone();
        Some(info)
    }
}

/// An IANA zone by name, also behind vendor prefixes such as
/// `/mozilla.org/20050126_1/Europe/Paris`, or a Windows zone name.
pub fn known_zone(tzid: &str) -> Option<(String, TimeZone)> {
    let tzid = tzid.trim().trim_matches('"');
    if tzid.is_empty() {
        return None;
    }
    if let Some(iana) = windows_to_iana(tzid) {
        return jiff::tz::db()
            .get(iana)
            .ok()
            .map(|tz| (iana.to_string(), tz));
    }
    let parts: Vec<&str> = tzid.split('/').collect();
    (0..parts.len()).find_map(|i| {
        let name = parts[i..].join("/");
        let first = parts[i];
        let plausible = i == 0 || first.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if name.is_empty() || !plausible {
            return None;
        }
        let tz = jiff::tz::db().get(&name).ok()?;
        let canonical = tz.iana_name().unwrap_or(&name).to_string();
        Some((canonical, tz))
    })
}

/// The TimeZone blob for an IANA zone in `year`: Windows names when the zone
/// has one (what Outlook-style clients show), else the IANA name, which lets
/// the blob that comes back be recognised exactly.
pub fn blob_for_zone(iana: &str, tz: &TimeZone, year: i16) -> TzInfo {
    let mut info = TzInfo::from_time_zone(tz, year);
    match iana_to_windows(iana) {
        Some(win) => {
            info.standard_name = win.to_string();
            info.daylight_name = daylight_name(win);
        }
        None => {
            info.standard_name = iana.chars().take(31).collect();
            info.daylight_name = info.standard_name.clone();
        }
    }
    info
}

/// The zone an EAS blob stands for: the zone its names say if the rules
/// agree, else `preferred` (the account's zone) if it agrees, else the first
/// well-known zone with the same rules in `year`.
pub fn zone_for_blob(info: &TzInfo, year: i16, preferred: Option<&TimeZone>) -> BlobZone {
    let matches = |name: &str| -> Option<BlobZone> {
        let (canonical, tz) = known_zone(name)?;
        TzInfo::from_time_zone(&tz, year)
            .same_rules(info)
            .then_some(BlobZone::Iana(canonical, tz))
    };
    let named = [info.standard_name.as_str(), info.daylight_name.as_str()];
    if let Some(found) = named
        .iter()
        .filter(|n| !n.is_empty())
        .find_map(|n| matches(n))
    {
        return found;
    }
    if let Some(name) = preferred.and_then(TimeZone::iana_name)
        && let Some(found) = matches(name)
    {
        return found;
    }
    if let Some(found) = candidates().find_map(matches) {
        return found;
    }
    let offset = info.standard_offset();
    if !info.has_dst() && offset % 60 == 0 && (-12 * 60..=14 * 60).contains(&offset) {
        // Etc/GMT signs are inverted: Etc/GMT-5 is five hours east.
        let name = format!("Etc/GMT{:+}", -offset / 60);
        if let Some(found) = matches(&name) {
            return found;
        }
    }
    BlobZone::Custom(info.clone())
}

/// `(UTC+05:30) Chennai…` or `GMT-0800`: Outlook display names and bare
/// offsets. Only the offset can be read from them.
fn display_name_offset(tzid: &str) -> Option<i32> {
    let t = tzid.trim().trim_start_matches('(');
    let rest = t.strip_prefix("UTC").or_else(|| t.strip_prefix("GMT"))?;
    let sign = match rest.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let digits: String = rest[1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ':')
        .filter(char::is_ascii_digit)
        .collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 | 4 => {
            let split = digits.len() - 2;
            (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
        }
        _ => return None,
    };
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::component::Document;

    #[test]
    fn resolves_names() {
        let z = Zones::default();
        for id in [
            "Europe/Paris",
            "/mozilla.org/20050126_1/Europe/Paris",
            "Romance Standard Time",
            "/freeassociation.sourceforge.net/Tzfile/Europe/Paris",
        ] {
            let (name, _) = known_zone(id).unwrap();
            assert_eq!(name, "Europe/Paris", "{id}");
        }
        assert!(z.resolve("Nowhere", 2024).is_none());
        assert_eq!(
            display_name_offset("(UTC+05:30) Chennai, Kolkata"),
            Some(330)
        );
        assert_eq!(display_name_offset("GMT-0800"), Some(-480));
        assert!(z.resolve("(UTC-03:00) Brasilia", 2024).is_some());
    }

    #[test]
    fn custom_vtimezone_is_used() {
        let cal = Document::parse(
            "BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:My Zone\nBEGIN:STANDARD\nDTSTART:19700101T000000\n\
             TZOFFSETFROM:+0300\nTZOFFSETTO:+0300\nEND:STANDARD\nEND:VTIMEZONE\nEND:VCALENDAR\n",
        );
        let z = Zones::from_calendar(&cal.components[0]);
        let tz = z.resolve("My Zone", 2024).unwrap();
        assert_eq!(
            tz.to_offset(jiff::Timestamp::UNIX_EPOCH).seconds(),
            3 * 3600
        );
        assert_eq!(z.blob("My Zone", 2024).unwrap().bias, -180);
    }

    #[test]
    fn blobs_find_their_zone() {
        for (iana, year) in [
            ("Europe/Paris", 2024),
            ("America/New_York", 2025),
            ("Asia/Kolkata", 2024),
            ("Australia/Lord_Howe", 2024),
        ] {
            let tz = jiff::tz::db().get(iana).unwrap();
            let mut info = blob_for_zone(iana, &tz, year);
            match zone_for_blob(&info, year, None) {
                BlobZone::Iana(name, _) => assert_eq!(name, iana),
                other => panic!("{other:?}"),
            }
            info.standard_name.clear();
            info.daylight_name.clear();
            assert!(
                matches!(zone_for_blob(&info, year, None), BlobZone::Iana(..)),
                "{iana}"
            );
        }
        let odd = TzInfo {
            bias: -17,
            ..TzInfo::default()
        };
        assert!(matches!(
            zone_for_blob(&odd, 2024, None),
            BlobZone::Custom(_)
        ));
        let paris = jiff::tz::db().get("Europe/Paris").unwrap();
        let unnamed = TzInfo::from_time_zone(&paris, 2024);
        assert!(
            matches!(zone_for_blob(&unnamed, 2024, Some(&paris)), BlobZone::Iana(n, _) if n == "Europe/Paris")
        );
        let plus5 = TzInfo::fixed(300);
        match zone_for_blob(&plus5, 2024, None) {
            BlobZone::Iana(name, _) => assert_eq!(name, "Asia/Tashkent"),
            other => panic!("{other:?}"),
        }
    }
}
