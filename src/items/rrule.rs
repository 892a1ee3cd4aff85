//! RRULE values (RFC 5545 3.3.10) as a struct: the parts EAS recurrences
//! and VTIMEZONE rules use are typed, anything else is kept as text.

use jiff::civil::Weekday;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freq {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

/// A BYDAY entry: an optional ordinal (`-1SU`, `2MO`) and a weekday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByDay {
    pub nth: Option<i8>,
    pub weekday: Weekday,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRule {
    pub freq: Freq,
    pub interval: u32,
    pub count: Option<u32>,
    /// The UNTIL value as written (a DATE or DATE-TIME).
    pub until: Option<String>,
    pub by_day: Vec<ByDay>,
    pub by_month_day: Vec<i8>,
    pub by_month: Vec<i8>,
    pub by_set_pos: Vec<i16>,
    pub wkst: Option<Weekday>,
    /// Parts this module does not interpret, in order, as written.
    pub other: Vec<(String, String)>,
}

const DAYS: [(&str, Weekday); 7] = [
    ("SU", Weekday::Sunday),
    ("MO", Weekday::Monday),
    ("TU", Weekday::Tuesday),
    ("WE", Weekday::Wednesday),
    ("TH", Weekday::Thursday),
    ("FR", Weekday::Friday),
    ("SA", Weekday::Saturday),
];

pub fn weekday_code(w: Weekday) -> &'static str {
    DAYS.iter().find(|(_, d)| *d == w).map_or("MO", |(c, _)| c)
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    DAYS.iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(s))
        .map(|&(_, d)| d)
}

impl RRule {
    pub fn new(freq: Freq) -> RRule {
        RRule {
            freq,
            interval: 1,
            count: None,
            until: None,
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_month: Vec::new(),
            by_set_pos: Vec::new(),
            wkst: None,
            other: Vec::new(),
        }
    }

    /// Parses an RRULE value; `None` without a valid FREQ.
    pub fn parse(value: &str) -> Option<RRule> {
        let mut freq = None;
        let mut rule = RRule::new(Freq::Daily);
        for part in value.trim().split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let list = || v.split(',').map(str::trim).filter(|s| !s.is_empty());
            match k.trim().to_ascii_uppercase().as_str() {
                "FREQ" => {
                    freq = Some(match v.trim().to_ascii_uppercase().as_str() {
                        "SECONDLY" => Freq::Secondly,
                        "MINUTELY" => Freq::Minutely,
                        "HOURLY" => Freq::Hourly,
                        "DAILY" => Freq::Daily,
                        "WEEKLY" => Freq::Weekly,
                        "MONTHLY" => Freq::Monthly,
                        "YEARLY" => Freq::Yearly,
                        _ => return None,
                    })
                }
                "INTERVAL" => rule.interval = v.trim().parse().ok().filter(|&n| n > 0)?,
                "COUNT" => rule.count = v.trim().parse().ok(),
                "UNTIL" => rule.until = Some(v.trim().to_string()),
                "BYDAY" => {
                    for d in list() {
                        let split = d.len().checked_sub(2)?;
                        let (n, day) = (d.get(..split)?, d.get(split..)?);
                        let weekday = parse_weekday(day)?;
                        let nth = if n.is_empty() {
                            None
                        } else {
                            Some(n.trim_start_matches('+').parse::<i8>().ok()?)
                        };
                        rule.by_day.push(ByDay { nth, weekday });
                    }
                }
                "BYMONTHDAY" => rule.by_month_day = list().filter_map(|s| s.parse().ok()).collect(),
                "BYMONTH" => rule.by_month = list().filter_map(|s| s.parse().ok()).collect(),
                "BYSETPOS" => rule.by_set_pos = list().filter_map(|s| s.parse().ok()).collect(),
                "WKST" => rule.wkst = parse_weekday(v.trim()),
                other => rule.other.push((other.to_string(), v.to_string())),
            }
        }
        rule.freq = freq?;
        Some(rule)
    }

    pub fn to_value(&self) -> String {
        let freq = match self.freq {
            Freq::Secondly => "SECONDLY",
            Freq::Minutely => "MINUTELY",
            Freq::Hourly => "HOURLY",
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        };
        let mut s = format!("FREQ={freq}");
        if self.interval > 1 {
            let _ = write!(s, ";INTERVAL={}", self.interval);
        }
        if let Some(c) = self.count {
            let _ = write!(s, ";COUNT={c}");
        }
        if let Some(u) = &self.until {
            let _ = write!(s, ";UNTIL={u}");
        }
        let join = |v: Vec<String>| v.join(",");
        if !self.by_day.is_empty() {
            let days = self
                .by_day
                .iter()
                .map(|d| match d.nth {
                    Some(n) => format!("{n}{}", weekday_code(d.weekday)),
                    None => weekday_code(d.weekday).to_string(),
                })
                .collect();
            let _ = write!(s, ";BYDAY={}", join(days));
        }
        if !self.by_month_day.is_empty() {
            let _ = write!(
                s,
                ";BYMONTHDAY={}",
                join(self.by_month_day.iter().map(i8::to_string).collect())
            );
        }
        if !self.by_month.is_empty() {
            let _ = write!(
                s,
                ";BYMONTH={}",
                join(self.by_month.iter().map(i8::to_string).collect())
            );
        }
        if !self.by_set_pos.is_empty() {
            let _ = write!(
                s,
                ";BYSETPOS={}",
                join(self.by_set_pos.iter().map(i16::to_string).collect())
            );
        }
        if let Some(w) = self.wkst {
            let _ = write!(s, ";WKST={}", weekday_code(w));
        }
        for (k, v) in &self.other {
            let _ = write!(s, ";{k}={v}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes() {
        let r =
            RRule::parse("FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR,+2MO;UNTIL=20250101T000000Z;X-FOO=1")
                .unwrap();
        assert_eq!(r.freq, Freq::Monthly);
        assert_eq!(r.interval, 2);
        assert_eq!(
            r.by_day[0],
            ByDay {
                nth: Some(-1),
                weekday: Weekday::Friday
            }
        );
        assert_eq!(r.by_day[1].nth, Some(2));
        assert_eq!(
            r.to_value(),
            "FREQ=MONTHLY;INTERVAL=2;UNTIL=20250101T000000Z;BYDAY=-1FR,2MO;X-FOO=1"
        );
        assert_eq!(RRule::parse(&r.to_value()), Some(r));
    }

    #[test]
    fn rejects_nonsense() {
        for v in [
            "",
            "FREQ=SOMETIMES",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=WEEKLY;BYDAY=X",
            "BYDAY=MO",
        ] {
            assert_eq!(RRule::parse(v), None, "{v}");
        }
    }
}
