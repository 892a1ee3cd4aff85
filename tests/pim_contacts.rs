//! vCard ⇄ EAS Contacts round trips on cards shaped like Apple's, Google's,
//! Outlook's and Thunderbird's, plus every vCard of the shared corpus.

mod pim_support;

use easd::ProtocolVersion;
use easd::items::contact::{contact_from_eas, contact_to_eas};
use easd::items::pim::ConvertOptions;
use easd::wbxml::{Element, tags};
use pim_support::{corpus, data, flatten, new_lines};

const CARDS: [&str; 4] = [
    "apple-ios.vcf",
    "google.vcf",
    "outlook.vcf",
    "thunderbird.vcf",
];

fn opts(v: ProtocolVersion) -> ConvertOptions {
    ConvertOptions::new(v)
}

#[test]
fn unchanged_cards_come_back_byte_for_byte() {
    for name in CARDS {
        let vcf = data(&format!("contacts/{name}"));
        for v in [
            ProtocolVersion::V2_5,
            ProtocolVersion::V14_1,
            ProtocolVersion::V16_1,
        ] {
            let app = contact_to_eas(&vcf, &opts(v)).unwrap();
            let back = contact_from_eas(&app, Some(&vcf), &opts(v)).unwrap();
            assert_eq!(back, vcf, "{name} {v}");
        }
    }
}

#[test]
fn eas_to_file_to_eas_is_identity() {
    for name in CARDS {
        let vcf = data(&format!("contacts/{name}"));
        let app = contact_to_eas(&vcf, &opts(ProtocolVersion::V14_1)).unwrap();
        let created = contact_from_eas(&app, None, &opts(ProtocolVersion::V14_1)).unwrap();
        let again = contact_to_eas(&created, &opts(ProtocolVersion::V14_1)).unwrap();
        assert_eq!(flatten(&again), flatten(&app), "{name}\n{created}");
    }
}

#[test]
fn apple_card_fields() {
    let vcf = data("contacts/apple-ios.vcf");
    let app = contact_to_eas(&vcf, &opts(ProtocolVersion::V14_1)).unwrap();
    let t = |tag| app.child_text(tag).unwrap_or("<none>").to_string();
    use tags::contacts as c;
    use tags::contacts2 as c2;
    assert_eq!(t(c::FIRST_NAME), "Johnny");
    assert_eq!(t(c::TITLE), "Dr.");
    assert_eq!(t(c::SUFFIX), "Jr.");
    assert_eq!(t(c::FILE_AS), "Dr. Johnny Q. Appleseed Jr.");
    assert_eq!(t(c::COMPANY_NAME), "Apple Inc.");
    assert_eq!(t(c::DEPARTMENT), "Engineering");
    assert_eq!(t(c::EMAIL3_ADDRESS), "jq@icloud.example");
    assert_eq!(t(c::MOBILE_PHONE_NUMBER), "+1 (408) 555-0100");
    assert_eq!(t(c2::COMPANY_MAIN_PHONE), "+1 (408) 996-1010");
    assert_eq!(t(c::ASSISTANT_PHONE_NUMBER), "+1 (408) 555-0107");
    assert_eq!(t(c::HOME_FAX_NUMBER), "+1 (408) 555-0104");
    assert_eq!(t(c::BUSINESS_ADDRESS_STREET), "One Apple Park Way");
    assert_eq!(t(c::HOME_ADDRESS_POSTAL_CODE), "95014");
    assert_eq!(t(c::WEB_PAGE), "https://www.apple.example");
    assert_eq!(t(c::BIRTHDAY), "1976-04-01T11:59:00.000Z");
    assert_eq!(t(c::ANNIVERSARY), "2004-06-15T11:59:00.000Z");
    assert_eq!(t(c::SPOUSE), "Jane Appleseed");
    assert_eq!(t(c2::MANAGER_NAME), "Tim");
    assert_eq!(t(c2::IM_ADDRESS), "johnny@jabber.example");
    assert_eq!(t(c::YOMI_FIRST_NAME), "Jonny");
    assert!(t(c::PICTURE).starts_with("/9j/4AAQ"));
    let kids: Vec<_> = app
        .first(c::CHILDREN)
        .unwrap()
        .all(c::CHILD)
        .map(|e| e.text_content().unwrap())
        .collect();
    assert_eq!(kids, ["Jack Appleseed"]);
    let body = app.first(tags::airsyncbase::BODY).unwrap();
    assert_eq!(
        body.child_text(tags::airsyncbase::DATA),
        Some("Met at WWDC.\nLikes apples.")
    );
}

/// Replaces (or adds) one text field of an ApplicationData.
fn with_field(app: &Element, tag: easd::wbxml::Tag, value: Option<&str>) -> Element {
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
fn a_phone_edit_touches_only_its_line() {
    use tags::contacts as c;
    for name in CARDS {
        let vcf = data(&format!("contacts/{name}"));
        let o = opts(ProtocolVersion::V14_1);
        let app = contact_to_eas(&vcf, &o).unwrap();
        let edited = with_field(&app, c::MOBILE_PHONE_NUMBER, Some("+1 555 0199"));
        let back = contact_from_eas(&edited, Some(&vcf), &o).unwrap();
        let added = new_lines(&vcf, &back);
        let removed = new_lines(&back, &vcf);
        assert!(
            added
                .iter()
                .all(|l| l.contains("+1 555 0199") || l.starts_with("REV:")),
            "{name}: {added:?}"
        );
        assert!(removed.len() <= 2, "{name}: {removed:?}");
        let again = contact_to_eas(&back, &o).unwrap();
        assert_eq!(
            again.child_text(c::MOBILE_PHONE_NUMBER),
            Some("+1 555 0199")
        );
    }
}

#[test]
fn deleting_a_field_removes_its_property_and_label() {
    use tags::contacts as c;
    let vcf = data("contacts/apple-ios.vcf");
    let o = opts(ProtocolVersion::V14_1);
    let app = contact_to_eas(&vcf, &o).unwrap();
    let edited = with_field(&app, c::EMAIL3_ADDRESS, None);
    let back = contact_from_eas(&edited, Some(&vcf), &o).unwrap();
    assert!(!back.contains("jq@icloud.example"));
    assert!(!back.contains("_$!<Other>!$_"));
    assert!(
        back.contains("fourth@example.com"),
        "a fourth e-mail never reached the phone"
    );
    assert!(
        back.contains("+1 (408) 555-0101"),
        "a second mobile never reached the phone"
    );
    assert!(back.contains("X-SOCIALPROFILE"));
}

#[test]
fn ghosted_fields_are_kept() {
    use tags::contacts as c;
    let vcf = data("contacts/google.vcf");
    let mut o = opts(ProtocolVersion::V14_1);
    o.supported = Some(vec![c::FIRST_NAME, c::LAST_NAME]);
    let app = Element::new(tags::airsync::APPLICATION_DATA)
        .with_text(c::FIRST_NAME, "Maria")
        .with_text(c::LAST_NAME, "García");
    let back = contact_from_eas(&app, Some(&vcf), &o).unwrap();
    assert!(back.contains("N:García;Maria;;;"), "{back}");
    assert!(back.contains("TEL;TYPE=CELL:+34 600 000 001"));
    assert!(back.contains("NOTE:Cumpleaños en Nochebuena"));
}

#[test]
fn a_new_contact_gets_a_uid_and_a_full_card() {
    use tags::contacts as c;
    let app = Element::new(tags::airsync::APPLICATION_DATA)
        .with_text(c::FIRST_NAME, "Ann")
        .with_text(c::LAST_NAME, "Lee")
        .with_text(c::EMAIL1_ADDRESS, "\"Ann Lee\" <ann@example.org>")
        .with_text(c::BIRTHDAY, "1990-01-01T22:00:00.000Z");
    let vcf = contact_from_eas(&app, None, &opts(ProtocolVersion::V14_1)).unwrap();
    assert!(vcf.contains("UID:"));
    assert!(vcf.contains("FN:Ann Lee"));
    assert!(vcf.contains("EMAIL;TYPE=INTERNET:ann@example.org"));
    assert!(vcf.contains("BDAY;VALUE=date:1990-01-02"), "{vcf}");
}

#[test]
fn every_corpus_vcard_converts() {
    let dir = corpus("vcard");
    let mut unusable = Vec::new();
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        total += 1;
        let o = opts(ProtocolVersion::V14_1);
        match contact_to_eas(&text, &o) {
            Ok(app) => {
                let back = contact_from_eas(&app, Some(&text), &o).unwrap();
                assert!(!back.is_empty());
            }
            Err(_) => unusable.push(path.file_name().unwrap().to_string_lossy().into_owned()),
        }
    }
    unusable.sort();
    println!(
        "{} of {total} vCards unusable: {unusable:?}",
        unusable.len()
    );
    assert!(total > 200);
    assert!(unusable.len() <= 10, "{unusable:?}");
}

#[test]
fn birthdays_do_not_shift_for_devices_at_utc_minus_10_and_plus_14() {
    use tags::contacts as c;
    let vcf = data("contacts/google.vcf");
    for offset in [-600, 840] {
        let mut o = opts(ProtocolVersion::V14_1);
        o.device_utc_offset = Some(offset);
        let app = contact_to_eas(&vcf, &o).unwrap();
        let sent = app.child_text(c::BIRTHDAY).unwrap().to_string();
        // The device shows its local date of the instant.
        let ts: jiff::Timestamp = sent.parse().unwrap();
        let local = ts
            .checked_add(jiff::SignedDuration::from_mins(i64::from(offset)))
            .unwrap();
        assert_eq!(
            local.to_string().get(..10),
            Some("1985-12-24"),
            "{offset}: {sent}"
        );
        let created = contact_from_eas(&app, None, &o).unwrap();
        assert!(
            created.contains("BDAY;VALUE=date:1985-12-24"),
            "{offset}\n{created}"
        );
        assert_eq!(contact_from_eas(&app, Some(&vcf), &o).unwrap(), vcf);
    }
}
