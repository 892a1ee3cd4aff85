//! iCalendar ⇄ EAS Calendar: round trips on events shaped like Google's,
//! Apple's, Outlook's and Thunderbird's, time zones byte-checked and across
//! DST, all-day events and exceptions.

mod pim_support;

use easd::ProtocolVersion;
use easd::items::calendar::{
    event_delete_instance, event_from_eas, event_instance_from_eas, event_time_range, event_to_eas,
};
use easd::items::pim::ConvertOptions;
use easd::items::tzinfo::TzInfo;
use easd::wbxml::{Element, Tag, tags};
use pim_support::{data, flatten, new_lines};

use tags::calendar as cal;

const EVENTS: [&str; 6] = [
    "google.ics",
    "apple.ics",
    "outlook.ics",
    "thunderbird.ics",
    "kolkata.ics",
    "lordhowe.ics",
];

fn opts(v: ProtocolVersion) -> ConvertOptions {
    let mut o = ConvertOptions::new(v);
    o.time_zone = jiff::tz::db().get("Europe/Paris").unwrap();
    o.user_addresses = vec!["claire@example.fr".into()];
    o
}

fn with_field(app: &Element, tag: Tag, value: Option<&str>) -> Element {
    let mut out = Element::new(app.tag);
    for e in app.elements().filter(|e| e.tag != tag) {
        out.push(e.clone());
    }
    if let Some(v) = value {
        out.push_text(tag, v);
    }
    out
}

#[test]
fn unchanged_events_come_back_byte_for_byte() {
    for name in EVENTS {
        let ics = data(&format!("calendar/{name}"));
        for v in [
            ProtocolVersion::V2_5,
            ProtocolVersion::V12_1,
            ProtocolVersion::V14_1,
            ProtocolVersion::V16_1,
        ] {
            let app = event_to_eas(&ics, &opts(v)).unwrap();
            let back = event_from_eas(&app, Some(&ics), &opts(v)).unwrap();
            assert_eq!(back, ics, "{name} {v}");
        }
    }
}

#[test]
fn eas_to_file_to_eas_is_identity() {
    for name in EVENTS {
        for v in [ProtocolVersion::V14_1, ProtocolVersion::V16_1] {
            let ics = data(&format!("calendar/{name}"));
            let app = event_to_eas(&ics, &opts(v)).unwrap();
            let created = event_from_eas(&app, None, &opts(v)).unwrap();
            let again = event_to_eas(&created, &opts(v)).unwrap();
            let strip = |e: &Element| -> Vec<String> {
                // Exceptions only travel with Sync in 2.5–14.1; in 16.x the
                // device edits them one InstanceId at a time.
                flatten(e)
                    .into_iter()
                    .filter(|l| v < ProtocolVersion::V16_0 || !l.contains("Calendar:Exceptions"))
                    .collect()
            };
            assert_eq!(strip(&again), strip(&app), "{name} {v}\n{created}");
        }
    }
}

#[test]
fn google_event_fields() {
    let ics = data("calendar/google.ics");
    let app = event_to_eas(&ics, &opts(ProtocolVersion::V14_1)).unwrap();
    let t = |tag| app.child_text(tag).unwrap_or("<none>").to_string();
    assert_eq!(t(cal::START_TIME), "20240304T083000Z");
    assert_eq!(t(cal::END_TIME), "20240304T090000Z");
    assert_eq!(t(cal::SUBJECT), "Réunion d'équipe");
    assert_eq!(t(cal::LOCATION), "Salle Lumière");
    assert_eq!(t(cal::REMINDER), "10");
    assert_eq!(t(cal::MEETING_STATUS), "1");
    assert_eq!(t(cal::BUSY_STATUS), "2");
    let r = app.first(cal::RECURRENCE).unwrap();
    assert_eq!(r.child_text(cal::TYPE), Some("1"));
    assert_eq!(r.child_text(cal::DAY_OF_WEEK), Some("2"));
    assert_eq!(r.child_text(cal::UNTIL), Some("20240624T073000Z"));
    assert_eq!(r.child_text(cal::FIRST_DAY_OF_WEEK), Some("1"));
    let ex: Vec<_> = app
        .first(cal::EXCEPTIONS)
        .unwrap()
        .all(cal::EXCEPTION)
        .collect();
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].child_text(cal::DELETED), Some("1"));
    assert_eq!(
        ex[0].child_text(cal::EXCEPTION_START_TIME),
        Some("20240401T073000Z")
    );
    assert_eq!(ex[1].child_text(cal::START_TIME), Some("20240311T130000Z"));
    assert_eq!(
        ex[1].child_text(cal::SUBJECT),
        Some("Réunion d'équipe (décalée)")
    );
    let app16 = event_to_eas(&ics, &opts(ProtocolVersion::V16_1)).unwrap();
    let loc = app16.first(tags::airsyncbase::LOCATION).unwrap();
    assert_eq!(
        loc.child_text(tags::airsyncbase::DISPLAY_NAME),
        Some("Salle Lumière")
    );
    let ex16 = app16
        .first(cal::EXCEPTIONS)
        .unwrap()
        .first(cal::EXCEPTION)
        .unwrap();
    assert_eq!(
        ex16.child_text(tags::airsyncbase::INSTANCE_ID),
        Some("20240401T073000Z")
    );
}

#[test]
fn outlook_event_fields() {
    let ics = data("calendar/outlook.ics");
    let mut o = opts(ProtocolVersion::V14_1);
    o.body_preferences = vec![(2, None)];
    let app = event_to_eas(&ics, &o).unwrap();
    assert_eq!(app.child_text(cal::BUSY_STATUS), Some("3"));
    assert_eq!(app.child_text(cal::SENSITIVITY), Some("2"));
    assert_eq!(app.child_text(cal::START_TIME), Some("20240412T090000Z"));
    assert_eq!(app.child_text(cal::DISALLOW_NEW_TIME_PROPOSAL), Some("0"));
    let body = app.first(tags::airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(tags::airsyncbase::TYPE), Some("2"));
    assert!(
        body.child_text(tags::airsyncbase::DATA)
            .unwrap()
            .contains("<b>besprechen</b>")
    );
    let tz = TzInfo::from_base64(app.child_text(cal::TIMEZONE).unwrap()).unwrap();
    assert_eq!(tz.standard_name, "W. Europe Standard Time");
    assert_eq!(
        (
            tz.bias,
            tz.daylight_bias,
            tz.daylight_date.month,
            tz.standard_date.month
        ),
        (-60, -60, 3, 10)
    );
}

#[test]
fn a_subject_edit_touches_only_its_line_and_the_stamp() {
    for name in EVENTS {
        let ics = data(&format!("calendar/{name}"));
        let o = opts(ProtocolVersion::V14_1);
        let app = event_to_eas(&ics, &o).unwrap();
        let edited = with_field(&app, cal::SUBJECT, Some("Nouveau titre"));
        let back = event_from_eas(&edited, Some(&ics), &o).unwrap();
        let added = new_lines(&ics, &back);
        assert!(
            added.iter().all(|l| l.starts_with("SUMMARY")
                || l.starts_with("DTSTAMP")
                || l.starts_with("LAST-MODIFIED")),
            "{name}: {added:?}"
        );
        assert!(
            back.contains("SUMMARY:Nouveau titre")
                || back.contains("SUMMARY;LANGUAGE=de:Nouveau titre"),
            "{name}"
        );
        assert_eq!(
            event_to_eas(&back, &o).unwrap().child_text(cal::SUBJECT),
            Some("Nouveau titre")
        );
    }
}

/// Each zone: the blob the device gets, and the local time it sends back.
#[test]
fn time_zones_keep_local_times_both_ways() {
    for (name, tzid, local, utc) in [
        (
            "kolkata.ics",
            "Asia/Kolkata",
            "20240615T173000",
            "20240615T120000Z",
        ),
        (
            "lordhowe.ics",
            "Australia/Lord_Howe",
            "20240929T090000",
            "20240928T223000Z",
        ),
        (
            "apple.ics",
            "America/New_York",
            "20250307T090000",
            "20250307T140000Z",
        ),
    ] {
        let o = opts(ProtocolVersion::V14_1);
        let app = event_to_eas(&data(&format!("calendar/{name}")), &o).unwrap();
        assert_eq!(app.child_text(cal::START_TIME), Some(utc), "{name}");
        let created = event_from_eas(&app, None, &o).unwrap();
        assert!(
            created.contains(&format!("DTSTART;TZID={tzid}:{local}")),
            "{name}\n{created}"
        );
        assert!(
            created.contains(&format!("TZID:{tzid}")),
            "a VTIMEZONE for {tzid}"
        );
    }
}

#[test]
fn series_across_dst_keep_their_wall_clock() {
    // Daily 09:00 in New York from 7 March 2025: DST starts on the 9th.
    let ics = data("calendar/apple.ics");
    let o = opts(ProtocolVersion::V14_1);
    let app = event_to_eas(&ics, &o).unwrap();
    let tz = TzInfo::from_base64(app.child_text(cal::TIMEZONE).unwrap()).unwrap();
    let zone = tz.to_time_zone();
    for (day, utc_hour) in [(7, 14), (8, 14), (9, 13), (10, 13)] {
        let local = jiff::civil::date(2025, 3, day).at(9, 0, 0, 0);
        let ts = zone.to_timestamp(local).unwrap();
        assert_eq!(
            ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).hour(),
            utc_hour,
            "March {day}"
        );
    }
    // Lord Howe moves by half an hour on 6 October 2024.
    let howe = event_to_eas(&data("calendar/lordhowe.ics"), &o).unwrap();
    let zone = TzInfo::from_base64(howe.child_text(cal::TIMEZONE).unwrap())
        .unwrap()
        .to_time_zone();
    for (day, utc) in [
        (29, "2024-09-28T22:30:00Z"),
        (6, "2024-10-05T22:00:00Z"),
        (13, "2024-10-12T22:00:00Z"),
    ] {
        let month = if day == 29 { 9 } else { 10 };
        let ts = zone
            .to_timestamp(jiff::civil::date(2024, month, day).at(9, 0, 0, 0))
            .unwrap();
        assert_eq!(ts.to_string(), utc);
    }
    // A device edit after the change writes the same local wall-clock time.
    let moved = with_field(&app, cal::START_TIME, Some("20250310T140000Z"));
    let moved = with_field(&moved, cal::END_TIME, Some("20250310T150000Z"));
    let back = event_from_eas(&moved, Some(&ics), &o).unwrap();
    assert!(
        back.contains("DTSTART;TZID=America/New_York:20250310T100000"),
        "{back}"
    );
}

#[test]
fn all_day_events_stay_on_their_day() {
    let ics = data("calendar/thunderbird.ics");
    for zone in [
        "Europe/Paris",
        "Pacific/Honolulu",
        "Pacific/Kiritimati",
        "Asia/Kolkata",
    ] {
        let mut o = opts(ProtocolVersion::V14_1);
        o.time_zone = jiff::tz::db().get(zone).unwrap();
        let app = event_to_eas(&ics, &o).unwrap();
        assert_eq!(app.child_text(cal::ALL_DAY_EVENT), Some("1"));
        let back = event_from_eas(&app, Some(&ics), &o).unwrap();
        assert_eq!(back, ics, "{zone}");
        let created = event_from_eas(&app, None, &o).unwrap();
        assert!(
            created.contains("DTSTART;VALUE=DATE:20240518"),
            "{zone}\n{created}"
        );
        assert!(created.contains("DTEND;VALUE=DATE:20240519"), "{zone}");
    }
}

#[test]
fn exceptions_from_a_14_device() {
    let ics = data("calendar/google.ics");
    let o = opts(ProtocolVersion::V14_1);
    let app = event_to_eas(&ics, &o).unwrap();
    let mut list = app.first(cal::EXCEPTIONS).unwrap().clone();
    list.push(
        Element::new(cal::EXCEPTION)
            .with_text(cal::DELETED, "1")
            .with_text(cal::EXCEPTION_START_TIME, "20240408T073000Z"),
    );
    list.push(
        Element::new(cal::EXCEPTION)
            .with_text(cal::EXCEPTION_START_TIME, "20240415T073000Z")
            .with_text(cal::SUBJECT, "Exceptionnel")
            .with_text(cal::START_TIME, "20240415T120000Z")
            .with_text(cal::END_TIME, "20240415T123000Z"),
    );
    let mut edited = Element::new(app.tag);
    for e in app.elements().filter(|e| e.tag != cal::EXCEPTIONS) {
        edited.push(e.clone());
    }
    edited.push(list);
    let back = event_from_eas(&edited, Some(&ics), &o).unwrap();
    assert!(
        back.contains("EXDATE;TZID=Europe/Paris:20240401T093000,20240408T093000"),
        "{back}"
    );
    assert!(back.contains("RECURRENCE-ID;TZID=Europe/Paris:20240415T093000"));
    assert!(back.contains("SUMMARY:Exceptionnel"));
    assert!(back.contains("DTSTART;TZID=Europe/Paris:20240415T140000"));
    assert!(
        back.contains("X-GOOGLE-CONFERENCE"),
        "the override copies the series"
    );
    let again = event_to_eas(&back, &o).unwrap();
    assert_eq!(
        again
            .first(cal::EXCEPTIONS)
            .unwrap()
            .all(cal::EXCEPTION)
            .count(),
        4
    );
}

#[test]
fn instance_edits_of_a_16_device() {
    let ics = data("calendar/google.ics");
    let o = opts(ProtocolVersion::V16_1);
    let change = Element::new(tags::airsync::APPLICATION_DATA)
        .with_text(cal::SUBJECT, "Une seule fois")
        .with_text(cal::START_TIME, "20240506T080000Z")
        .with_text(cal::END_TIME, "20240506T083000Z");
    let back = event_instance_from_eas(&ics, "20240506T073000Z", &change, &o).unwrap();
    assert!(
        back.contains("RECURRENCE-ID;TZID=Europe/Paris:20240506T093000"),
        "{back}"
    );
    assert!(back.contains("SUMMARY:Une seule fois"));
    let deleted = event_delete_instance(&back, "20240513T073000Z", &o).unwrap();
    assert!(
        deleted.contains("EXDATE;TZID=Europe/Paris:20240401T093000,20240513T093000"),
        "{deleted}"
    );
    let gone = event_delete_instance(&deleted, "20240506T073000Z", &o).unwrap();
    assert!(!gone.contains("Une seule fois"));
    assert!(event_delete_instance(&data("calendar/kolkata.ics"), "20240615T120000Z", &o).is_err());
}

#[test]
fn a_new_event_from_a_device() {
    let o = opts(ProtocolVersion::V14_1);
    let paris = TzInfo::from_time_zone(&o.time_zone, 2024);
    let app = Element::new(tags::airsync::APPLICATION_DATA)
        .with_text(cal::TIMEZONE, paris.to_base64())
        .with_text(cal::START_TIME, "20240701T080000Z")
        .with_text(cal::END_TIME, "20240701T090000Z")
        .with_text(cal::SUBJECT, "Dentiste")
        .with_text(cal::REMINDER, "30")
        .with_text(cal::UID, "device-uid-1")
        .with(
            Element::new(cal::RECURRENCE)
                .with_text(cal::TYPE, "3")
                .with_text(cal::INTERVAL, "1")
                .with_text(cal::WEEK_OF_MONTH, "5")
                .with_text(cal::DAY_OF_WEEK, "32")
                .with_text(cal::OCCURRENCES, "6"),
        );
    let ics = event_from_eas(&app, None, &o).unwrap();
    assert!(ics.contains("UID:device-uid-1"));
    assert!(
        ics.contains("DTSTART;TZID=Europe/Paris:20240701T100000"),
        "{ics}"
    );
    assert!(ics.contains("RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=-1FR"));
    assert!(ics.contains("TRIGGER:-PT30M"));
    assert!(ics.contains("BEGIN:VTIMEZONE"));
}

#[test]
fn time_ranges() {
    let (s, e) = event_time_range(&data("calendar/kolkata.ics")).unwrap();
    assert_eq!(e - s, 3600);
    let (_, e) = event_time_range(&data("calendar/google.ics")).unwrap();
    assert_eq!(
        e,
        "2024-06-24T08:00:00Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    );
    let (_, e) = event_time_range(&data("calendar/thunderbird.ics")).unwrap();
    assert_eq!(e, i64::MAX);
    assert_eq!(event_time_range("not a calendar"), None);
}
