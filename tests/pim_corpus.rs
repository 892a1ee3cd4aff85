//! Every iCalendar file of the shared corpus converts without a panic, as an
//! event, a task or a note, and back into itself; the files with nothing
//! usable are few and listed.

mod pim_support;

use easd::ProtocolVersion;
use easd::items::calendar::{event_from_eas, event_time_range, event_to_eas};
use easd::items::note::{note_from_eas, note_to_eas};
use easd::items::pim::ConvertOptions;
use easd::items::task::{task_from_eas, task_to_eas};
use pim_support::corpus;

#[test]
fn every_corpus_calendar_converts() {
    let dir = corpus("ical");
    let mut unusable = Vec::new();
    let mut no_item = Vec::new();
    let mut total = 0;
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        total += 1;
        let mut usable = false;
        for v in [
            ProtocolVersion::V2_5,
            ProtocolVersion::V14_1,
            ProtocolVersion::V16_1,
        ] {
            let o = ConvertOptions::new(v);
            let _ = event_time_range(&text);
            if let Ok(app) = event_to_eas(&text, &o) {
                usable = true;
                assert_eq!(
                    event_from_eas(&app, Some(&text), &o).unwrap(),
                    event_from_eas(&app, Some(&text), &o).unwrap()
                );
            }
            if let Ok(app) = task_to_eas(&text, &o) {
                usable = true;
                task_from_eas(&app, Some(&text), &o).unwrap();
            }
            if let Ok(app) = note_to_eas(&text, &o) {
                usable = true;
                note_from_eas(&app, Some(&text), &o).unwrap();
            }
        }
        if !usable {
            let upper = text.to_ascii_uppercase();
            let has_item = ["BEGIN:VEVENT", "BEGIN:VTODO", "BEGIN:VJOURNAL"]
                .iter()
                .any(|b| upper.contains(b));
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if has_item {
                unusable.push(name)
            } else {
                no_item.push(name)
            }
        }
    }
    println!(
        "{} of {total} calendar files have no VEVENT, VTODO or VJOURNAL: {no_item:?}",
        no_item.len()
    );
    println!(
        "{} have one without a start, due date or text (invalid iCalendar): {unusable:?}",
        unusable.len()
    );
    assert!(total > 900);
    assert!(no_item.len() <= 150, "{no_item:?}");
    assert!(unusable.len() <= 70, "{unusable:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Arbitrary text never makes a conversion panic.
    #[test]
    fn arbitrary_text_never_panics(body in "(BEGIN:(VCARD|VCALENDAR|VEVENT|VTODO|VJOURNAL|VALARM|VTIMEZONE|STANDARD|DAYLIGHT)\n|(DTSTART|DTEND|DUE|RRULE|EXDATE|RECURRENCE-ID|TRIGGER|BDAY|TEL|ADR|N|TZOFFSETTO|DURATION|PHOTO)(;(TZID|VALUE|TYPE|RELATED|ENCODING)=[A-Za-z/=_-]{0,10})?:[0-9TZPWDHMS;=,A-Z+-]{0,24}\n|[A-Z;=:,\"\\\\.-]{0,12}[\\x20-\\x7e\u{e9}]{0,20}\n| [a-z]{0,5}\n|END:V[A-Z]{2,8}\n){0,40}") {
        let o = ConvertOptions::new(ProtocolVersion::V14_1);
        if let Ok(app) = easd::items::contact::contact_to_eas(&body, &o) {
            easd::items::contact::contact_from_eas(&app, Some(&body), &o).unwrap();
        }
        if let Ok(app) = event_to_eas(&body, &o) {
            event_from_eas(&app, Some(&body), &o).unwrap();
        }
        let _ = event_time_range(&body);
        let _ = task_to_eas(&body, &o);
        let _ = note_to_eas(&body, &o);
        let _ = easd::items::uid::item_uid(&body);
    }
}
