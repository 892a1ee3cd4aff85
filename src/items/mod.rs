//! Conversions between what easd stores (Maildir messages, vCard/iCalendar files) and the EAS
//! `ApplicationData` of Sync/ItemOperations, plus the AirSyncBase body vocabulary they all share.

pub mod alarm;
pub mod calendar;
pub mod component;
pub mod contact;
pub mod contentline;
pub mod eas_time;
pub mod email;
pub mod ical_time;
pub mod imip;
pub mod imip_forward;
pub mod imip_reply;
pub mod merge;
pub mod note;
pub mod pim;
pub mod pim_body;
pub mod recurrence;
pub mod rrule;
pub mod task;
pub mod tzinfo;
pub mod uid;
pub mod vtimezone;
pub mod windows_zones;
pub mod zones;

use std::fmt;

/// AirSyncBase `Type` of a body (MS-ASAIRS 2.2.2.41).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyType {
    PlainText = 1,
    Html = 2,
    Rtf = 3,
    Mime = 4,
}

impl BodyType {
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

/// A body `Type` value outside 1..=4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownBodyType(pub u8);

impl fmt::Display for UnknownBodyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown AirSyncBase body type {}", self.0)
    }
}

impl std::error::Error for UnknownBodyType {}

impl TryFrom<u8> for BodyType {
    type Error = UnknownBodyType;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        match v {
            1 => Ok(Self::PlainText),
            2 => Ok(Self::Html),
            3 => Ok(Self::Rtf),
            4 => Ok(Self::Mime),
            other => Err(UnknownBodyType(other)),
        }
    }
}

/// One AirSyncBase `BodyPreference` of a request (MS-ASAIRS 2.2.2.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyPreference {
    pub body_type: BodyType,
    /// Bytes of `Data` the client accepts; `None` means the whole body.
    pub truncation_size: Option<u32>,
    /// When set, a body larger than `truncation_size` is not sent at all rather than cut.
    pub all_or_none: bool,
    /// Characters of plain-text `Preview` wanted (14.0+); the spec caps it at 255.
    pub preview: Option<u32>,
}

impl BodyPreference {
    /// A preference for the whole body of one type, without preview.
    pub const fn whole(body_type: BodyType) -> Self {
        Self {
            body_type,
            truncation_size: None,
            all_or_none: false,
            preview: None,
        }
    }
}

/// The longest prefix of `s` that is at most `max_bytes` long and ends on a character boundary,
/// so truncated bodies stay valid UTF-8.
pub fn utf8_prefix(s: &str, max_bytes: usize) -> &str {
    s.get(..s.floor_char_boundary(max_bytes))
        .unwrap_or_default()
}

/// The first `max_chars` characters of `s`.
pub fn char_prefix(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((end, _)) => s.get(..end).unwrap_or(s),
        None => s,
    }
}

/// MS-ASDTYPE dateTime as EAS sends it (`2009-11-12T00:45:06.000Z`) for Unix seconds.
pub fn eas_datetime(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_type_codes() {
        for t in [
            BodyType::PlainText,
            BodyType::Html,
            BodyType::Rtf,
            BodyType::Mime,
        ] {
            assert_eq!(BodyType::try_from(t.as_u8()), Ok(t));
        }
        assert_eq!(BodyType::try_from(0), Err(UnknownBodyType(0)));
        assert_eq!(BodyType::try_from(5), Err(UnknownBodyType(5)));
    }

    #[test]
    fn prefixes_respect_char_boundaries() {
        let s = "aé日本";
        assert_eq!(utf8_prefix(s, 0), "");
        assert_eq!(utf8_prefix(s, 2), "a");
        assert_eq!(utf8_prefix(s, 3), "aé");
        assert_eq!(utf8_prefix(s, 5), "aé");
        assert_eq!(utf8_prefix(s, 6), "aé日");
        assert_eq!(utf8_prefix(s, 100), s);
        assert_eq!(char_prefix(s, 3), "aé日");
        assert_eq!(char_prefix(s, 10), s);
    }

    #[test]
    fn datetimes() {
        assert_eq!(eas_datetime(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(eas_datetime(1_257_986_706), "2009-11-12T00:45:06.000Z");
        assert_eq!(eas_datetime(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(eas_datetime(-1), "1969-12-31T23:59:59.000Z");
    }
}
