//! Hand-made messages (tests/data/mail) through the Email conversion: charsets, structure,
//! attachments, truncation, AllOrNone and Preview, checked element by element.

use easd::ProtocolVersion;
use easd::items::email::{
    EmailOptions, LastVerb, MessageMeta, MimeSupport, RecordedVerb, attachment,
    parse_file_reference, to_application_data,
};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::tags::{airsyncbase, email, email2};
use easd::wbxml::{Element, decode, encode};

fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn meta() -> MessageMeta {
    MessageMeta {
        received: 1_704_186_000,
        file_ref_base: "f1".into(),
        ..MessageMeta::default()
    }
}

fn convert(raw: &[u8], version: ProtocolVersion, prefs: Vec<BodyPreference>) -> Element {
    let opts = EmailOptions {
        body_preferences: prefs,
        ..EmailOptions::new(version)
    };
    let app = to_application_data(raw, &meta(), &opts);
    assert_eq!(decode(&encode(&app)).unwrap(), app);
    app
}

fn plain(raw: &[u8]) -> Element {
    convert(
        raw,
        ProtocolVersion::V16_1,
        vec![BodyPreference::whole(BodyType::PlainText)],
    )
}

fn body_data(app: &Element) -> String {
    let body = app.first(airsyncbase::BODY).expect("Body");
    let data = body.child_text(airsyncbase::DATA).unwrap_or_default();
    data.replace("\r\n", "\n").trim_end().to_string()
}

fn attachments(app: &Element) -> Vec<&Element> {
    app.first(airsyncbase::ATTACHMENTS)
        .map(|a| a.all(airsyncbase::ATTACHMENT).collect())
        .unwrap_or_default()
}

#[test]
fn multipart_alternative() {
    let raw = load("alternative.eml");
    let app = plain(&raw);
    assert_eq!(body_data(&app), "Shall we meet at noon?\nThe usual place.");
    assert_eq!(app.child_text(airsyncbase::NATIVE_BODY_TYPE), Some("2"));
    let html = convert(
        &raw,
        ProtocolVersion::V14_1,
        vec![BodyPreference::whole(BodyType::Html)],
    );
    assert!(body_data(&html).contains("<b>noon</b>"));
    assert!(attachments(&app).is_empty());
    assert_eq!(
        app.child_text(email::FROM),
        Some("\"Alice Example\" <alice@example.org>")
    );
}

#[test]
fn nested_mixed_with_inline_image() {
    let raw = load("nested-mixed.eml");
    let app = plain(&raw);
    assert_eq!(
        body_data(&app),
        "See the chart below and the attached report."
    );
    assert_eq!(
        app.child_text(email::CC),
        Some("\"Eve, the auditor\" <eve@example.net>")
    );
    let atts = attachments(&app);
    let names: Vec<_> = atts
        .iter()
        .map(|a| a.child_text(airsyncbase::DISPLAY_NAME).unwrap())
        .collect();
    assert_eq!(names, ["chart.png", "report.pdf", "notes.txt"]);
    assert_eq!(
        atts[0].child_text(airsyncbase::CONTENT_ID),
        Some("chart@example.org")
    );
    assert_eq!(atts[0].child_text(airsyncbase::IS_INLINE), Some("1"));
    assert_eq!(atts[1].child_text(airsyncbase::IS_INLINE), Some("0"));
    assert_eq!(atts[1].child_text(airsyncbase::METHOD), Some("1"));

    let png = load("nested-mixed.png.bin");
    let pdf = load("nested-mixed.pdf.bin");
    for (att, expected) in [(atts[0], &png), (atts[1], &pdf)] {
        let reference = att.child_text(airsyncbase::FILE_REFERENCE).unwrap();
        let (base, index) = parse_file_reference(reference).unwrap();
        assert_eq!(base, "f1");
        let data = attachment(&raw, index).unwrap();
        assert_eq!(&data.data, expected, "byte-exact {reference}");
        assert_eq!(
            att.child_text(airsyncbase::ESTIMATED_DATA_SIZE),
            Some(expected.len().to_string().as_str())
        );
    }
    let notes = attachment(&raw, 2).unwrap();
    assert_eq!(notes.data, b"Caf\xe9 notes");
    assert_eq!(notes.content_type, "text/plain");
    assert_eq!(attachment(&raw, 1).unwrap().content_type, "application/pdf");
}

#[test]
fn iso_8859_1_body_and_subject() {
    let app = plain(&load("latin1.eml"));
    assert_eq!(app.child_text(email::SUBJECT), Some("Réunion à Noël"));
    assert_eq!(
        app.child_text(email::FROM),
        Some("\"François\" <francois@example.fr>")
    );
    assert_eq!(
        body_data(&app),
        "La réunion est déplacée à jeudi. À bientôt, François."
    );
}

#[test]
fn windows_1252_body() {
    let app = plain(&load("windows1252.eml"));
    assert_eq!(body_data(&app), "“Price” is 20€ – that’s all…");
}

#[test]
fn iso_2022_jp_body_and_subject() {
    let app = plain(&load("iso2022jp.eml"));
    assert_eq!(app.child_text(email::SUBJECT), Some("会議の件"));
    assert_eq!(body_data(&app), "こんにちは、世界。会議は明日です。");
}

#[test]
fn gb18030_body_and_subject() {
    let app = plain(&load("gb18030.eml"));
    assert_eq!(app.child_text(email::SUBJECT), Some("测试"));
    assert_eq!(body_data(&app), "你好,这是一个测试邮件。€");
}

#[test]
fn rfc2047_encoded_words() {
    let app = plain(&load("rfc2047-subjects.eml"));
    assert_eq!(
        app.child_text(email::SUBJECT),
        Some("Grüße aus Köln and 😂")
    );
    assert_eq!(
        app.child_text(email::FROM),
        Some("\"Jürgen Müller\" <jm@example.de>")
    );
    assert_eq!(app.child_text(email::DISPLAY_TO), Some("Zoë"));
}

#[test]
fn broken_headers_still_convert() {
    let raw = load("broken-headers.eml");
    for version in ProtocolVersion::ALL {
        let app = convert(&raw, version, vec![]);
        assert!(app.first(email::DATE_RECEIVED).is_some());
        assert!(app.first(email::SUBJECT).is_some());
    }
    let app = plain(&raw);
    assert!(body_data(&app).contains("never sees its boundary"));
    assert!(app.first(email::TO).is_none());
}

#[test]
fn rfc822_attachment() {
    let raw = load("rfc822-attachment.eml");
    let app = plain(&raw);
    assert_eq!(body_data(&app), "Forwarding this.");
    let atts = attachments(&app);
    assert_eq!(atts.len(), 1);
    assert_eq!(
        atts[0].child_text(airsyncbase::DISPLAY_NAME),
        Some("Quarterly numbers.eml")
    );
    assert_eq!(atts[0].child_text(airsyncbase::METHOD), Some("5"));
    let eml = attachment(&raw, 0).unwrap();
    assert_eq!(eml.content_type, "message/rfc822");
    assert!(eml.data.starts_with(b"From: Original Sender"));
    assert!(
        eml.data.ends_with(b"The numbers are in.\r\n")
            || eml.data.ends_with(b"The numbers are in.")
    );
    assert_eq!(
        atts[0].child_text(airsyncbase::ESTIMATED_DATA_SIZE),
        Some(eml.data.len().to_string().as_str())
    );
}

#[test]
fn smime_signed_class_and_mime_only_for_smime() {
    let raw = load("smime-signed.eml");
    let prefs = vec![
        BodyPreference::whole(BodyType::PlainText),
        BodyPreference::whole(BodyType::Mime),
    ];
    let opts = EmailOptions {
        body_preferences: prefs.clone(),
        mime_support: MimeSupport::SmimeOnly,
        ..EmailOptions::new(ProtocolVersion::V14_1)
    };
    let app = to_application_data(&raw, &meta(), &opts);
    assert_eq!(
        app.child_text(email::MESSAGE_CLASS),
        Some("IPM.Note.SMIME.MultipartSigned")
    );
    let body = app.first(airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(airsyncbase::TYPE), Some("4"));
    assert_eq!(
        body.first(airsyncbase::DATA).unwrap().data().unwrap(),
        raw.as_slice()
    );
    let other = load("alternative.eml");
    let app = to_application_data(&other, &meta(), &opts);
    let body = app.first(airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(airsyncbase::TYPE), Some("1"));
}

#[test]
fn html_only_to_plain_text() {
    let app = plain(&load("html-only.eml"));
    assert_eq!(
        body_data(&app),
        "News & Views\nCafé opens today.\n• One\n• Two"
    );
    assert_eq!(app.child_text(airsyncbase::NATIVE_BODY_TYPE), Some("2"));
}

#[test]
fn truncation_on_char_boundaries() {
    let raw = load("iso2022jp.eml");
    let full = plain(&raw)
        .first(airsyncbase::BODY)
        .unwrap()
        .child_text(airsyncbase::DATA)
        .unwrap()
        .to_string();
    for limit in 0..=full.len() as u32 + 1 {
        let app = convert(
            &raw,
            ProtocolVersion::V14_1,
            vec![BodyPreference {
                truncation_size: Some(limit),
                ..BodyPreference::whole(BodyType::PlainText)
            }],
        );
        let body = app.first(airsyncbase::BODY).unwrap();
        let data = body.child_text(airsyncbase::DATA).unwrap_or_default();
        assert!(data.len() <= limit as usize);
        assert!(full.starts_with(data));
        let cut = data.len() < full.len();
        if cut && limit > 0 {
            assert!(limit as usize - data.len() < 3, "cut too short at {limit}");
        }
        assert_eq!(
            body.child_text(airsyncbase::TRUNCATED),
            Some(if cut { "1" } else { "0" })
        );
        assert_eq!(
            body.child_text(airsyncbase::ESTIMATED_DATA_SIZE),
            Some(full.len().to_string().as_str())
        );
    }
}

#[test]
fn all_or_none() {
    let raw = load("alternative.eml");
    let tight = BodyPreference {
        truncation_size: Some(10),
        all_or_none: true,
        ..BodyPreference::whole(BodyType::Html)
    };
    let app = convert(&raw, ProtocolVersion::V14_1, vec![tight]);
    let body = app.first(airsyncbase::BODY).unwrap();
    assert!(body.first(airsyncbase::DATA).is_none());
    assert_eq!(body.child_text(airsyncbase::TRUNCATED), Some("1"));
    let roomy = BodyPreference {
        truncation_size: Some(10_000),
        all_or_none: true,
        ..BodyPreference::whole(BodyType::PlainText)
    };
    let app = convert(&raw, ProtocolVersion::V14_1, vec![tight, roomy]);
    let body = app.first(airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(airsyncbase::TYPE), Some("1"));
    assert_eq!(body.child_text(airsyncbase::TRUNCATED), Some("0"));
}

#[test]
fn preview_only_from_14_0_and_capped() {
    let raw = load("nested-mixed.eml");
    let pref = BodyPreference {
        truncation_size: Some(0),
        preview: Some(10),
        ..BodyPreference::whole(BodyType::Html)
    };
    let app = convert(&raw, ProtocolVersion::V14_0, vec![pref]);
    let body = app.first(airsyncbase::BODY).unwrap();
    assert_eq!(body.child_text(airsyncbase::PREVIEW), Some("See the ch"));
    assert!(body.first(airsyncbase::DATA).is_none());
    let app = convert(&raw, ProtocolVersion::V12_1, vec![pref]);
    assert!(
        app.first(airsyncbase::BODY)
            .unwrap()
            .first(airsyncbase::PREVIEW)
            .is_none()
    );
    let big = BodyPreference {
        preview: Some(100_000),
        ..pref
    };
    let app = convert(&raw, ProtocolVersion::V16_1, vec![big]);
    let preview = app
        .first(airsyncbase::BODY)
        .unwrap()
        .child_text(airsyncbase::PREVIEW)
        .unwrap();
    assert!(preview.chars().count() <= 255);
}

#[test]
fn email2_elements() {
    let raw = load("alternative.eml");
    let m = MessageMeta {
        forwarded: true,
        last_verb: Some(RecordedVerb {
            verb: LastVerb::Forward,
            at: 1_704_200_000,
        }),
        ..meta()
    };
    let opts = EmailOptions::new(ProtocolVersion::V14_1);
    let app = to_application_data(&raw, &m, &opts);
    assert_eq!(app.child_text(email2::LAST_VERB_EXECUTED), Some("3"));
    assert_eq!(
        app.child_text(email2::LAST_VERB_EXECUTION_TIME),
        Some("2024-01-02T12:53:20.000Z")
    );
    // A reply to all, recorded after the forward, shows while R is set too.
    let both = MessageMeta {
        answered: true,
        forwarded: true,
        last_verb: Some(RecordedVerb {
            verb: LastVerb::ReplyToAll,
            at: 1_704_300_000,
        }),
        ..meta()
    };
    let app = to_application_data(&raw, &both, &opts);
    assert_eq!(app.child_text(email2::LAST_VERB_EXECUTED), Some("2"));
    // A recorded reply whose R flag was cleared elsewhere falls back to the flags, timeless.
    let stale = MessageMeta {
        forwarded: true,
        last_verb: Some(RecordedVerb {
            verb: LastVerb::ReplyToAll,
            at: 1_704_300_000,
        }),
        ..meta()
    };
    let app = to_application_data(&raw, &stale, &opts);
    assert_eq!(app.child_text(email2::LAST_VERB_EXECUTED), Some("3"));
    assert!(app.first(email2::LAST_VERB_EXECUTION_TIME).is_none());
    assert_eq!(
        app.first(email2::CONVERSATION_INDEX)
            .unwrap()
            .data()
            .unwrap()
            .len(),
        5
    );
    let app = to_application_data(&raw, &m, &EmailOptions::new(ProtocolVersion::V12_1));
    assert!(app.first(email2::CONVERSATION_ID).is_none());
}

#[test]
fn draft_round_trip_through_sync() {
    use easd::items::email::{DraftInput, draft_to_mime};
    use easd::wbxml::tags::airsync;
    let app = Element::new(airsync::APPLICATION_DATA)
        .with_text(email::TO, "\"Zoë\" <zoe@example.de>")
        .with_text(email2::BCC, "hidden@example.de")
        .with_text(email::SUBJECT, "Entwurf")
        .with(
            Element::new(airsyncbase::BODY)
                .with_text(airsyncbase::TYPE, "1")
                .with_text(airsyncbase::DATA, "Noch nicht fertig."),
        )
        .with(
            Element::new(airsyncbase::ATTACHMENTS).with(
                Element::new(airsyncbase::ADD)
                    .with_text(airsyncbase::CLIENT_ID, "client-1")
                    .with(Element::opaque(airsyncbase::CONTENT, vec![0, 255, 1]))
                    .with_text(airsyncbase::DISPLAY_NAME, "data.bin")
                    .with_text(airsyncbase::METHOD, "1"),
            ),
        );
    let draft = draft_to_mime(
        &app,
        &DraftInput {
            from: "me@example.de",
            date: 1_704_186_000,
            existing: None,
        },
    )
    .unwrap();
    assert_eq!(draft.added, vec![("client-1".to_string(), 0)]);
    let m = MessageMeta {
        draft: true,
        ..meta()
    };
    let opts = EmailOptions {
        body_preferences: vec![BodyPreference::whole(BodyType::PlainText)],
        ..EmailOptions::new(ProtocolVersion::V16_1)
    };
    let synced = to_application_data(&draft.mime, &m, &opts);
    assert_eq!(synced.child_text(email2::IS_DRAFT), Some("1"));
    assert_eq!(synced.child_text(email2::BCC), Some("hidden@example.de"));
    assert_eq!(
        synced.child_text(email::TO),
        Some("\"Zoë\" <zoe@example.de>")
    );
    assert_eq!(body_data(&synced), "Noch nicht fertig.");
    let att = attachments(&synced)[0];
    assert_eq!(att.child_text(airsyncbase::FILE_REFERENCE), Some("f1:0"));
    assert_eq!(attachment(&draft.mime, 0).unwrap().data, [0, 255, 1]);
}
