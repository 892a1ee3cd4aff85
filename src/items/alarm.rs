//! VALARM ⇄ EAS reminders: Calendar's Reminder (minutes before the start)
//! and Tasks' ReminderTime (an instant). Only the first display or audio
//! alarm is the device's; further alarms are left alone.

use super::component::Component;
use super::contentline::Property;
use super::ical_time::IcalTime;
use jiff::{SignedDuration, Timestamp};

/// Parses an RFC 5545 DURATION (`-PT15M`, `P1DT2H`, `P2W`).
pub fn parse_duration(s: &str) -> Option<SignedDuration> {
    let s = s.trim();
    let (neg, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut secs: i64 = 0;
    let mut num = String::new();
    let mut seen = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => num.push(c),
            'T' => {}
            unit @ ('W' | 'D' | 'H' | 'M' | 'S') => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                seen = true;
                let factor = match unit {
                    'W' => 7 * 86400,
                    'D' => 86400,
                    'H' => 3600,
                    'M' => 60,
                    _ => 1,
                };
                secs = secs.checked_add(n.checked_mul(factor)?)?;
            }
            _ => return None,
        }
    }
    (seen && num.is_empty()).then(|| SignedDuration::from_secs(if neg { -secs } else { secs }))
}

pub fn format_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    if s == 0 {
        return "PT0S".to_string();
    }
    if s.is_multiple_of(86400) {
        return format!("{sign}P{}D", s / 86400);
    }
    if s.is_multiple_of(60) {
        format!("{sign}PT{}M", s / 60)
    } else {
        format!("{sign}PT{}S", s)
    }
}

/// The index (among the children) of the device's alarm.
pub fn primary_alarm(comp: &Component) -> Option<usize> {
    comp.children.iter().position(|c| {
        c.is("VALARM")
            && c.prop("ACTION").is_none_or(|a| {
                matches!(
                    a.value.trim().to_ascii_uppercase().as_str(),
                    "DISPLAY" | "AUDIO"
                )
            })
    })
}

/// When the alarm fires, given the item's start and end instants.
pub fn fire_time(
    alarm: &Component,
    start: Option<Timestamp>,
    end: Option<Timestamp>,
) -> Option<Timestamp> {
    let trigger = alarm.prop("TRIGGER")?;
    if trigger
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"))
        || trigger.value.trim().ends_with(['Z', 'z'])
    {
        return match IcalTime::parse(&trigger.value, None)? {
            IcalTime::Utc(ts) => Some(ts),
            _ => None,
        };
    }
    let offset = parse_duration(&trigger.value)?;
    let base = if trigger
        .param("RELATED")
        .is_some_and(|r| r.eq_ignore_ascii_case("END"))
    {
        end.or(start)?
    } else {
        start?
    };
    base.checked_add(offset).ok()
}

/// A display alarm firing `before` ahead of the start.
pub fn new_alarm(trigger: Property) -> Component {
    let mut a = Component::new("VALARM");
    a.props.push(Property::new("ACTION", "DISPLAY"));
    a.props.push(Property::text("DESCRIPTION", "Reminder"));
    a.props.push(trigger);
    a
}

pub fn relative_trigger(before: SignedDuration) -> Property {
    Property::new("TRIGGER", format_duration(-before))
}

pub fn absolute_trigger(at: Timestamp) -> Property {
    Property::new("TRIGGER", at.strftime("%Y%m%dT%H%M%SZ").to_string())
        .with_param("VALUE", "DATE-TIME")
}

/// Puts `trigger` on the device's alarm (creating one), or removes that
/// alarm when `trigger` is `None`. Other alarms stay.
pub fn set_primary(comp: &mut Component, trigger: Option<Property>) {
    match (primary_alarm(comp), trigger) {
        (Some(i), Some(t)) => {
            let alarm = &mut comp.children[i];
            if let Some(old) = alarm.prop_mut("TRIGGER") {
                if old.value != t.value || old.params != t.params {
                    *old = t;
                }
            } else {
                alarm.props.push(t);
            }
        }
        (None, Some(t)) => comp.children.push(new_alarm(t)),
        (Some(i), None) => {
            comp.children.remove(i);
        }
        (None, None) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::component::Document;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("-PT15M"),
            Some(SignedDuration::from_mins(-15))
        );
        assert_eq!(
            parse_duration("P1DT2H"),
            Some(SignedDuration::from_hours(26))
        );
        assert_eq!(parse_duration("P2W"), Some(SignedDuration::from_hours(336)));
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("P1X"), None);
        assert_eq!(format_duration(SignedDuration::from_mins(-15)), "-PT15M");
        assert_eq!(format_duration(SignedDuration::from_hours(-24)), "-P1D");
    }

    #[test]
    fn triggers() {
        let doc = Document::parse(
            "BEGIN:VEVENT\nBEGIN:VALARM\nACTION:EMAIL\nTRIGGER:-PT1H\nEND:VALARM\n\
             BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER;RELATED=END:-PT5M\nEND:VALARM\nEND:VEVENT\n",
        );
        let ev = &doc.components[0];
        let i = primary_alarm(ev).unwrap();
        assert_eq!(i, 1);
        let start = Timestamp::from_second(1_000_000).unwrap();
        let end = Timestamp::from_second(1_003_600).unwrap();
        assert_eq!(
            fire_time(&ev.children[i], Some(start), Some(end)),
            Timestamp::from_second(1_003_300).ok()
        );
        let mut ev = ev.clone();
        set_primary(
            &mut ev,
            Some(relative_trigger(SignedDuration::from_mins(10))),
        );
        assert_eq!(ev.children[1].text("TRIGGER").as_deref(), Some("-PT10M"));
        set_primary(&mut ev, None);
        assert_eq!(ev.children.len(), 1);
    }
}
