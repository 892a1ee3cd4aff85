//! The EAS `TimeZone` value (MS-ASDTYPE 2.7.6): a 172-byte Windows
//! TIME_ZONE_INFORMATION structure, base64-encoded. It describes one yearly
//! rule, which is also what a POSIX TZ string describes, so a blob becomes a
//! `jiff` time zone through a POSIX string, and an IANA zone becomes a blob by
//! reading its transitions in one year.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use std::fmt;

/// Size of the packed structure.
pub const TZINFO_LEN: usize = 172;

/// A SYSTEMTIME used as a yearly transition rule: with `year == 0`, `day` is
/// the occurrence (1–4, 5 = last) of `day_of_week` (0 = Sunday) in `month`;
/// `month == 0` means the zone has no daylight saving time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransitionRule {
    pub year: u16,
    pub month: u16,
    pub day_of_week: u16,
    pub day: u16,
    pub hour: u16,
    pub minute: u16,
    pub second: u16,
    pub milliseconds: u16,
}

/// The decoded structure. Biases are minutes, `UTC = local + bias`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TzInfo {
    pub bias: i32,
    pub standard_name: String,
    pub standard_date: TransitionRule,
    pub standard_bias: i32,
    pub daylight_name: String,
    pub daylight_date: TransitionRule,
    pub daylight_bias: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TzInfoError {
    Base64,
    Length(usize),
}

impl fmt::Display for TzInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TzInfoError::Base64 => f.write_str("TimeZone is not valid base64"),
            TzInfoError::Length(n) => write!(f, "TimeZone has {n} bytes, expected {TZINFO_LEN}"),
        }
    }
}

impl std::error::Error for TzInfoError {}

impl TransitionRule {
    fn write(&self, out: &mut Vec<u8>) {
        for v in [
            self.year,
            self.month,
            self.day_of_week,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.milliseconds,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn read(b: &[u8]) -> TransitionRule {
        let w = |i: usize| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
        TransitionRule {
            year: w(0),
            month: w(1),
            day_of_week: w(2),
            day: w(3),
            hour: w(4),
            minute: w(5),
            second: w(6),
            milliseconds: w(7),
        }
    }

    pub fn is_set(&self) -> bool {
        self.month != 0
    }

    /// Seconds after local midnight; Windows writes "end of day" as 23:59:59.999.
    fn seconds_of_day(&self) -> i32 {
        let ms = i32::from(self.milliseconds.min(999));
        i32::from(self.hour.min(167)) * 3600
            + i32::from(self.minute.min(59)) * 60
            + i32::from(self.second.min(59))
            + i32::from(ms >= 500)
    }

    /// The POSIX `Mm.w.d/time` (or `Jn/time` for a fixed date) form.
    fn posix(&self) -> String {
        let secs = self.seconds_of_day();
        let time = format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
        if self.year != 0 {
            let day = Date::new(2001, self.month as i8, self.day as i8)
                .map(|d| d.day_of_year())
                .unwrap_or(1);
            return format!("J{day}/{time}");
        }
        format!(
            "M{}.{}.{}/{time}",
            self.month.clamp(1, 12),
            self.day.clamp(1, 5),
            self.day_of_week.min(6)
        )
    }

    /// The date this rule falls on in `year`.
    pub fn date_in(&self, year: i16) -> Option<Date> {
        let month = i8::try_from(self.month).ok()?;
        if self.year != 0 {
            return Date::new(year, month, i8::try_from(self.day).ok()?).ok();
        }
        let weekday = weekday_from_sunday0(self.day_of_week)?;
        let first = Date::new(year, month, 1).ok()?;
        let nth = i8::try_from(self.day.clamp(1, 5)).ok()?;
        let found = if nth == 5 {
            first.last_of_month().nth_weekday_of_month(-1, weekday)
        } else {
            first.nth_weekday_of_month(nth, weekday)
        };
        found.ok()
    }
}

/// Windows numbers weekdays from Sunday = 0.
pub fn weekday_from_sunday0(n: u16) -> Option<Weekday> {
    match n {
        0 => Some(Weekday::Sunday),
        1..=6 => Weekday::from_monday_one_offset(n as i8).ok(),
        _ => None,
    }
}

impl TzInfo {
    /// A zone with a fixed offset from UTC, in minutes (east positive).
    pub fn fixed(offset_minutes: i32) -> TzInfo {
        TzInfo {
            bias: -offset_minutes,
            ..TzInfo::default()
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TZINFO_LEN);
        out.extend_from_slice(&self.bias.to_le_bytes());
        write_name(&mut out, &self.standard_name);
        self.standard_date.write(&mut out);
        out.extend_from_slice(&self.standard_bias.to_le_bytes());
        write_name(&mut out, &self.daylight_name);
        self.daylight_date.write(&mut out);
        out.extend_from_slice(&self.daylight_bias.to_le_bytes());
        out
    }

    pub fn from_bytes(b: &[u8]) -> Result<TzInfo, TzInfoError> {
        if b.len() != TZINFO_LEN {
            return Err(TzInfoError::Length(b.len()));
        }
        let long = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Ok(TzInfo {
            bias: long(0),
            standard_name: read_name(&b[4..68]),
            standard_date: TransitionRule::read(&b[68..84]),
            standard_bias: long(84),
            daylight_name: read_name(&b[88..152]),
            daylight_date: TransitionRule::read(&b[152..168]),
            daylight_bias: long(168),
        })
    }

    pub fn to_base64(&self) -> String {
        BASE64.encode(self.to_bytes())
    }

    pub fn from_base64(s: &str) -> Result<TzInfo, TzInfoError> {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let bytes = BASE64
            .decode(compact.as_bytes())
            .map_err(|_| TzInfoError::Base64)?;
        TzInfo::from_bytes(&bytes)
    }

    pub fn has_dst(&self) -> bool {
        self.standard_date.is_set() && self.daylight_date.is_set() && self.daylight_bias != 0
    }

    /// UTC offset in standard time, minutes east.
    pub fn standard_offset(&self) -> i32 {
        -(self.bias
            + if self.has_dst() {
                self.standard_bias
            } else {
                0
            })
    }

    /// UTC offset in daylight time, minutes east.
    pub fn daylight_offset(&self) -> i32 {
        -(self.bias + self.daylight_bias)
    }

    /// Same rules, whatever the names say.
    pub fn same_rules(&self, other: &TzInfo) -> bool {
        if self.has_dst() != other.has_dst() {
            return false;
        }
        if !self.has_dst() {
            return self.standard_offset() == other.standard_offset();
        }
        self.standard_offset() == other.standard_offset()
            && self.daylight_offset() == other.daylight_offset()
            && self.standard_date == other.standard_date
            && self.daylight_date == other.daylight_date
    }

    /// The equivalent POSIX TZ string (POSIX offsets are west-positive).
    pub fn posix(&self) -> String {
        let mut s = format!("STD{}", posix_offset(-self.standard_offset()));
        if self.has_dst() {
            s.push_str("DST");
            s.push_str(&posix_offset(-self.daylight_offset()));
            s.push(',');
            s.push_str(&self.daylight_date.posix());
            s.push(',');
            s.push_str(&self.standard_date.posix());
        }
        s
    }

    /// A `jiff` zone following these rules in every year.
    pub fn to_time_zone(&self) -> TimeZone {
        TimeZone::posix(&self.posix()).unwrap_or_else(|_| fixed_zone(self.standard_offset()))
    }

    /// The rules `tz` follows in `year`. Standard time is the smaller of the
    /// two offsets, as Windows has it (tzdb marks Irish winter time as DST).
    /// The transition times are local wall-clock times before each change.
    pub fn from_time_zone(tz: &TimeZone, year: i16) -> TzInfo {
        let Some((start, end)) = year_bounds(year) else {
            return TzInfo::fixed(0);
        };
        let mid = Date::new(year, 7, 1)
            .ok()
            .and_then(|d| tz.to_timestamp(d.at(12, 0, 0, 0)).ok())
            .unwrap_or(start);
        let mut changes: Vec<(Timestamp, i32, i32)> = Vec::new();
        for t in tz.following(start) {
            let at = t.timestamp();
            if at >= end || changes.len() > 8 {
                break;
            }
            let before = tz
                .to_offset(at - jiff::SignedDuration::from_secs(1))
                .seconds()
                / 60;
            let after = t.offset().seconds() / 60;
            if before != after {
                changes.push((at, before, after));
            }
        }
        let to_dst = changes.iter().find(|(_, b, a)| a > b);
        let to_std = changes.iter().find(|(_, b, a)| a < b);
        let (Some(&(dst_at, std_off, dst_off)), Some(&(std_at, _, _))) = (to_dst, to_std) else {
            return TzInfo::fixed(tz.to_offset(mid).seconds() / 60);
        };
        TzInfo {
            bias: -std_off,
            standard_date: rule_at(std_at, dst_off),
            standard_bias: 0,
            daylight_date: rule_at(dst_at, std_off),
            daylight_bias: std_off - dst_off,
            ..TzInfo::default()
        }
    }
}

fn fixed_zone(offset_minutes: i32) -> TimeZone {
    jiff::tz::Offset::from_seconds(offset_minutes.clamp(-25 * 60, 25 * 60) * 60)
        .map(TimeZone::fixed)
        .unwrap_or(TimeZone::UTC)
}

fn year_bounds(year: i16) -> Option<(Timestamp, Timestamp)> {
    let start = Date::new(year, 1, 1).ok()?.at(0, 0, 0, 0);
    let end = Date::new(year.checked_add(1)?, 1, 1).ok()?.at(0, 0, 0, 0);
    Some((
        TimeZone::UTC.to_timestamp(start).ok()? - jiff::SignedDuration::from_hours(15),
        TimeZone::UTC.to_timestamp(end).ok()? - jiff::SignedDuration::from_hours(15),
    ))
}

/// The yearly rule for a transition at `at`, seen on a clock at `offset`.
fn rule_at(at: Timestamp, offset_minutes: i32) -> TransitionRule {
    let local = fixed_zone(offset_minutes).to_datetime(at);
    let date = local.date();
    let occurrence = if date.day() + 7 > date.days_in_month() {
        5
    } else {
        (date.day() - 1) / 7 + 1
    };
    TransitionRule {
        year: 0,
        month: date.month() as u16,
        day_of_week: date.weekday().to_sunday_zero_offset() as u16,
        day: occurrence as u16,
        hour: local.hour() as u16,
        minute: local.minute() as u16,
        second: local.second() as u16,
        milliseconds: 0,
    }
}

fn posix_offset(west_minutes: i32) -> String {
    let sign = if west_minutes < 0 { "-" } else { "" };
    let m = west_minutes.unsigned_abs();
    if m.is_multiple_of(60) {
        format!("{sign}{}", m / 60)
    } else {
        format!("{sign}{}:{:02}", m / 60, m % 60)
    }
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    let mut units: Vec<u16> = name.encode_utf16().take(31).collect();
    units.resize(32, 0);
    for u in units {
        out.extend_from_slice(&u.to_le_bytes());
    }
}

fn read_name(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        jiff::tz::db().get(name).unwrap()
    }

    /// Builds the expected 172 bytes field by field.
    fn blob(
        bias: i32,
        std_name: &str,
        std: [u16; 8],
        std_bias: i32,
        dst_name: &str,
        dst: [u16; 8],
        dst_bias: i32,
    ) -> Vec<u8> {
        let mut v = bias.to_le_bytes().to_vec();
        let name = |v: &mut Vec<u8>, n: &str| {
            let mut u: Vec<u16> = n.encode_utf16().collect();
            u.resize(32, 0);
            u.iter().for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
        };
        name(&mut v, std_name);
        std.iter()
            .for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
        v.extend_from_slice(&std_bias.to_le_bytes());
        name(&mut v, dst_name);
        dst.iter()
            .for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
        v.extend_from_slice(&dst_bias.to_le_bytes());
        v
    }

    #[test]
    fn paris_blob_bytes() {
        let mut info = TzInfo::from_time_zone(&zone("Europe/Paris"), 2024);
        info.standard_name = "Romance Standard Time".into();
        info.daylight_name = "Romance Daylight Time".into();
        // CET = UTC+1: bias -60; back to standard on the last (5) Sunday (0)
        // of October at 03:00 summer time; summer time from the last Sunday of
        // March at 02:00, 60 minutes ahead.
        let expected = blob(
            -60,
            "Romance Standard Time",
            [0, 10, 0, 5, 3, 0, 0, 0],
            0,
            "Romance Daylight Time",
            [0, 3, 0, 5, 2, 0, 0, 0],
            -60,
        );
        assert_eq!(info.to_bytes(), expected);
        assert_eq!(info.to_bytes().len(), TZINFO_LEN);
        assert_eq!(&expected[0..4], &[0xC4, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn new_york_blob_bytes() {
        let info = TzInfo::from_time_zone(&zone("America/New_York"), 2025);
        // EST = UTC-5: bias 300; DST ends on the first Sunday of November at
        // 02:00 EDT, starts on the second Sunday of March at 02:00 EST.
        let expected = blob(
            300,
            "",
            [0, 11, 0, 1, 2, 0, 0, 0],
            0,
            "",
            [0, 3, 0, 2, 2, 0, 0, 0],
            -60,
        );
        assert_eq!(info.to_bytes(), expected);
        assert_eq!(&expected[0..4], &[0x2C, 0x01, 0, 0]);
    }

    #[test]
    fn kolkata_blob_bytes() {
        let info = TzInfo::from_time_zone(&zone("Asia/Kolkata"), 2024);
        // IST = UTC+5:30 all year: bias -330, no transition dates.
        assert_eq!(info.to_bytes(), blob(-330, "", [0; 8], 0, "", [0; 8], 0));
        assert!(!info.has_dst());
    }

    #[test]
    fn lord_howe_blob_bytes() {
        let info = TzInfo::from_time_zone(&zone("Australia/Lord_Howe"), 2024);
        // UTC+10:30, half an hour of DST: from the first Sunday of October at
        // 02:00 standard time to the first Sunday of April at 02:00 DST.
        let expected = blob(
            -630,
            "",
            [0, 4, 0, 1, 2, 0, 0, 0],
            0,
            "",
            [0, 10, 0, 1, 2, 0, 0, 0],
            -30,
        );
        assert_eq!(info.to_bytes(), expected);
    }

    #[test]
    fn blob_round_trips_through_base64_and_posix() {
        for name in [
            "Europe/Paris",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Lord_Howe",
            "America/Sao_Paulo",
            "Europe/Dublin",
        ] {
            let info = TzInfo::from_time_zone(&zone(name), 2024);
            let back = TzInfo::from_base64(&info.to_base64()).unwrap();
            assert_eq!(back, info);
            let again = TzInfo::from_time_zone(&back.to_time_zone(), 2024);
            assert!(again.same_rules(&info), "{name}: {info:?} vs {again:?}");
            for year in [2023, 2024, 2030] {
                for (m, d) in [
                    (1, 15),
                    (3, 31),
                    (4, 7),
                    (7, 1),
                    (10, 6),
                    (10, 27),
                    (11, 3),
                    (12, 31),
                ] {
                    let dt = Date::new(year, m, d).unwrap().at(12, 0, 0, 0);
                    let ts = zone(name).to_timestamp(dt).unwrap();
                    assert_eq!(
                        back.to_time_zone().to_offset(ts),
                        zone(name).to_offset(ts),
                        "{name} {dt}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_blobs_are_errors() {
        assert_eq!(TzInfo::from_base64("!!"), Err(TzInfoError::Base64));
        assert_eq!(TzInfo::from_base64("AAAA"), Err(TzInfoError::Length(3)));
        let mut odd = vec![0xFFu8; TZINFO_LEN];
        odd[0] = 0x7F;
        let info = TzInfo::from_bytes(&odd).unwrap();
        let _ = info.to_time_zone();
        let _ = info.standard_date.date_in(2024);
    }

    #[test]
    fn rule_dates() {
        let last_sunday_march = TransitionRule {
            month: 3,
            day: 5,
            hour: 2,
            ..Default::default()
        };
        assert_eq!(last_sunday_march.date_in(2024), Date::new(2024, 3, 31).ok());
        let second_sunday = TransitionRule {
            month: 3,
            day: 2,
            ..Default::default()
        };
        assert_eq!(second_sunday.date_in(2025), Date::new(2025, 3, 9).ok());
    }
}
