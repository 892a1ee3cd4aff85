//! The recurrence expansion behind free/busy, checked on the shared corpus: every RRULE of every
//! VEVENT is expanded by easd and by python-dateutil (tests/resolverecipients_rrule.py; the
//! package comes with Radicale) over a window at the start of the series and one three years
//! in, and the two lists must agree. Wall-clock times are compared in UTC so that only the rule
//! logic is under test (zone handling has its own tests). Every corpus file also goes through
//! the free/busy reader without a panic and with one digit per slot.

mod pim_support;

use easd::freebusy::events::Reader;
use easd::freebusy::occurrences::{Bounds, occurrences};
use easd::freebusy::{Window, merge};
use easd::items::calendar::event_time_range;
use easd::items::component::Document;
use easd::items::ical_time::IcalTime;
use easd::items::rrule::RRule;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use pim_support::corpus;
use std::io::Write;
use std::process::{Command, Stdio};

/// The rule parts easd does not interpret (see freebusy/occurrences.rs).
const UNSUPPORTED: [&str; 5] = ["BYYEARDAY", "BYWEEKNO", "BYHOUR", "BYMINUTE", "BYSECOND"];

struct Case {
    file: String,
    rule: String,
    dtstart: DateTime,
    from: DateTime,
    before: DateTime,
}

fn iso(dt: DateTime) -> String {
    dt.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

fn utc(dt: DateTime) -> Timestamp {
    TimeZone::UTC.to_timestamp(dt).unwrap()
}

/// The rule text with UNTIL as a floating date-time both sides read alike: a UTC `Z` dropped,
/// a DATE given DTSTART's time of day.
fn normalised_rule(value: &str, dtstart: DateTime) -> String {
    value
        .split(';')
        .map(|part| match part.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("UNTIL") => {
                let v = v.trim().trim_end_matches(['Z', 'z']);
                if v.len() == 8 {
                    format!("UNTIL={v}T{}", dtstart.strftime("%H%M%S"))
                } else {
                    format!("UNTIL={v}")
                }
            }
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(corpus("ical"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let doc = Document::parse(&text).into_calendar();
        for cal in doc.components.iter().filter(|c| c.is("VCALENDAR")) {
            for ev in cal.children.iter().filter(|c| c.is("VEVENT")) {
                let (Some(rrule), Some(start)) = (
                    ev.prop("RRULE"),
                    ev.prop("DTSTART").and_then(IcalTime::from_prop),
                ) else {
                    continue;
                };
                let dtstart = start.civil();
                let rule = normalised_rule(&rrule.value, dtstart);
                let Some(parsed) = RRule::parse(&rule) else {
                    continue;
                };
                if parsed
                    .other
                    .iter()
                    .any(|(k, _)| UNSUPPORTED.contains(&k.as_str()))
                    || !(1900..=2200).contains(&dtstart.year())
                {
                    continue;
                }
                let file = path.file_name().unwrap().to_string_lossy().into_owned();
                let later = dtstart
                    .checked_add(SignedDuration::from_hours(1000 * 24))
                    .unwrap();
                for (from, before) in [
                    (
                        dtstart,
                        dtstart
                            .checked_add(SignedDuration::from_hours(400 * 24))
                            .unwrap(),
                    ),
                    (
                        later,
                        later
                            .checked_add(SignedDuration::from_hours(42 * 24))
                            .unwrap(),
                    ),
                ] {
                    out.push(Case {
                        file: file.clone(),
                        rule: rule.clone(),
                        dtstart,
                        from,
                        before,
                    });
                }
            }
        }
    }
    out
}

fn dateutil(cases: &[Case]) -> Vec<Option<Vec<String>>> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/resolverecipients_rrule.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with dateutil (apt-get install python3-dateutil)");
    let mut input = String::new();
    for c in cases {
        let line = serde_json::json!({
            "rule": c.rule,
            "dtstart": iso(c.dtstart),
            "from": iso(c.from),
            "before": iso(c.before),
        });
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn corpus_recurrences_agree_with_dateutil() {
    let cases = cases();
    let expected = dateutil(&cases);
    assert_eq!(expected.len(), cases.len());
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for (case, want) in cases.iter().zip(expected) {
        let Some(want) = want else {
            continue;
        };
        let rule = RRule::parse(&case.rule).unwrap();
        let until = rule
            .until
            .as_deref()
            .and_then(|u| IcalTime::parse(u, None))
            .map(|u| utc(u.civil()));
        let bounds = Bounds {
            from: utc(case.from),
            before: utc(case.before),
            max_periods: 200_000,
        };
        let got: Vec<String> = occurrences(&rule, case.dtstart, &TimeZone::UTC, until, &bounds)
            .into_iter()
            .take(2000)
            .map(|t| iso(TimeZone::UTC.to_datetime(t)))
            .collect();
        compared += 1;
        if got != want {
            mismatches.push(format!(
                "{} {} from {}: easd {:?}… dateutil {:?}…",
                case.file,
                case.rule,
                iso(case.from),
                &got[..got.len().min(3)],
                &want[..want.len().min(3)]
            ));
        }
    }
    assert!(compared > 3000, "only {compared} rules compared");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_corpus_calendar_gives_one_digit_per_slot() {
    let zone = jiff::tz::db().get("Europe/Paris").unwrap();
    let mut busy_files = 0;
    let mut files = 0;
    for entry in std::fs::read_dir(corpus("ical")).unwrap() {
        let path = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        files += 1;
        // A week from the file's first event, so that most files have something to show.
        let start = event_time_range(&text)
            .and_then(|(s, _)| Timestamp::from_second(s).ok())
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let Ok(window) = Window::new(start, start + SignedDuration::from_hours(7 * 24)) else {
            continue;
        };
        let reader = Reader {
            owner: "bob@example.com",
            zone: &zone,
            window,
            max_periods: 5_000,
        };
        let mut periods = Vec::new();
        reader.read(&text, &mut periods);
        let digits = merge(&window, &periods);
        assert_eq!(digits.len(), 7 * 48, "{}", path.display());
        assert!(
            digits.chars().all(|c| ('0'..='3').contains(&c)),
            "{}",
            path.display()
        );
        if digits.contains(['1', '2', '3']) {
            busy_files += 1;
        }
    }
    assert!(files > 900, "{files} files");
    assert!(
        busy_files > 300,
        "only {busy_files} of {files} files show busy time"
    );
}
