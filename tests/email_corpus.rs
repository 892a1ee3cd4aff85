//! Every message of the shared corpus (mail-parser's real-world, malformed and RFC samples)
//! converts for 2.5, 12.1, 14.1 and 16.1 under assorted client options without panicking, the
//! result survives a WBXML round trip, stays within the requested limits and carries Subject and
//! From where the message has them; every listed attachment can be fetched.

use std::path::{Path, PathBuf};

use easd::ProtocolVersion;
use easd::items::email::{
    EmailOptions, MessageMeta, MimeSupport, attachment, parse_file_reference, to_application_data,
};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::tags::{airsyncbase, email};
use easd::wbxml::{Element, decode, encode};

fn corpus_dir() -> PathBuf {
    let root = std::env::var_os("EASD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let mail = root.join("mail");
    assert!(
        mail.is_dir(),
        "test corpus missing at {} (set EASD_CORPUS)",
        mail.display()
    );
    mail
}

fn messages() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![corpus_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "eml") {
                found.push(path);
            }
        }
    }
    found.sort();
    assert!(found.len() > 50, "only {} corpus messages", found.len());
    found
}

fn pref(
    t: BodyType,
    trunc: Option<u32>,
    all_or_none: bool,
    preview: Option<u32>,
) -> BodyPreference {
    BodyPreference {
        body_type: t,
        truncation_size: trunc,
        all_or_none,
        preview,
    }
}

/// (version, options) pairs covering the body paths: 2.5 text and MIME, 12.1 HTML/plain/MIME,
/// 14.1 with AllOrNone and Preview, 16.1 with S/MIME-only MIME.
fn option_sets() -> Vec<EmailOptions> {
    use ProtocolVersion::*;
    let with = |version, prefs: Vec<BodyPreference>, mime_support, truncation, mime_truncation| {
        EmailOptions {
            version,
            body_preferences: prefs,
            mime_support,
            truncation,
            mime_truncation,
        }
    };
    vec![
        with(V2_5, vec![], MimeSupport::Never, Some(512), None),
        with(V2_5, vec![], MimeSupport::Always, None, Some(4096)),
        with(V2_5, vec![], MimeSupport::Never, None, None),
        with(
            V12_1,
            vec![pref(BodyType::Html, Some(1000), false, None)],
            MimeSupport::Never,
            None,
            None,
        ),
        with(
            V12_1,
            vec![pref(BodyType::PlainText, None, false, None)],
            MimeSupport::Never,
            None,
            None,
        ),
        with(
            V12_1,
            vec![pref(BodyType::Mime, Some(2000), false, None)],
            MimeSupport::Always,
            None,
            None,
        ),
        with(
            V14_1,
            vec![
                pref(BodyType::Html, Some(300), true, Some(255)),
                pref(BodyType::PlainText, Some(200), true, Some(255)),
            ],
            MimeSupport::Never,
            None,
            None,
        ),
        with(
            V14_1,
            vec![pref(BodyType::Rtf, Some(0), false, Some(100))],
            MimeSupport::Never,
            None,
            None,
        ),
        with(
            V16_1,
            vec![pref(BodyType::Html, None, false, Some(1000))],
            MimeSupport::Never,
            None,
            None,
        ),
        with(
            V16_1,
            vec![
                pref(BodyType::Mime, None, false, None),
                pref(BodyType::PlainText, Some(64), false, None),
            ],
            MimeSupport::SmimeOnly,
            None,
            None,
        ),
    ]
}

fn limit_of(opts: &EmailOptions, body_type: &str) -> Option<u32> {
    opts.body_preferences
        .iter()
        .find(|p| p.body_type.as_u8().to_string() == body_type)
        .or(opts.body_preferences.first())
        .and_then(|p| p.truncation_size)
}

fn check_limits(app: &Element, opts: &EmailOptions, name: &str) {
    if opts.version == ProtocolVersion::V2_5 {
        if let (Some(body), Some(limit)) = (app.first(email::BODY), opts.truncation) {
            assert!(
                body.data().unwrap().len() <= limit as usize,
                "{name}: Body over limit"
            );
        }
        if let (Some(mime), Some(limit)) = (app.first(email::MIME_DATA), opts.mime_truncation) {
            assert!(
                mime.data().unwrap().len() <= limit as usize,
                "{name}: MIMEData over limit"
            );
        }
        return;
    }
    let body = app
        .first(airsyncbase::BODY)
        .unwrap_or_else(|| panic!("{name}: no Body"));
    let body_type = body.child_text(airsyncbase::TYPE).unwrap();
    assert_ne!(body_type, "3", "{name}: RTF produced");
    if let (Some(data), Some(limit)) = (body.first(airsyncbase::DATA), limit_of(opts, body_type)) {
        assert!(
            data.data().unwrap().len() <= limit as usize,
            "{name}: Data over limit"
        );
    }
    if let Some(preview) = body.child_text(airsyncbase::PREVIEW) {
        assert!(preview.chars().count() <= 255, "{name}: Preview too long");
    }
}

#[test]
fn every_corpus_message_converts() {
    let meta = MessageMeta {
        read: true,
        received: 1_700_000_000,
        file_ref_base: "c".into(),
        ..MessageMeta::default()
    };
    let sets = option_sets();
    for path in messages() {
        let name = path.display().to_string();
        let raw = std::fs::read(&path).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&raw);
        let has_subject = parsed
            .as_ref()
            .and_then(|m| m.subject())
            .is_some_and(|s| !s.is_empty());
        let has_from = parsed.as_ref().and_then(|m| m.from()).is_some_and(|f| {
            f.iter()
                .any(|a| a.address().is_some_and(|a| !a.trim().is_empty()))
        });
        for opts in &sets {
            let app = to_application_data(&raw, &meta, opts);
            let bytes = encode(&app);
            assert_eq!(decode(&bytes).unwrap(), app, "{name}: WBXML round trip");
            if has_subject {
                assert!(
                    app.first(email::SUBJECT).is_some(),
                    "{name}: Subject missing"
                );
            }
            if has_from {
                assert!(app.first(email::FROM).is_some(), "{name}: From missing");
            }
            check_limits(&app, opts, &name);
        }
        let app = to_application_data(&raw, &meta, &sets[4]);
        for att in app
            .first(airsyncbase::ATTACHMENTS)
            .iter()
            .flat_map(|a| a.elements())
        {
            let reference = att.child_text(airsyncbase::FILE_REFERENCE).unwrap();
            let (_, index) = parse_file_reference(reference).unwrap();
            assert!(
                attachment(&raw, index).is_some(),
                "{name}: attachment {index} not fetchable"
            );
        }
    }
}

mod mutated {
    //! Corpus messages with random byte edits: conversion and attachment lookup never panic and
    //! always give an encodable tree.

    use super::*;
    use proptest::prelude::*;

    fn edit(raw: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
        let mut out = raw.to_vec();
        for &(pos, kind, byte) in edits {
            if out.is_empty() {
                out.push(byte);
                continue;
            }
            let at = pos % out.len();
            match kind % 3 {
                0 => out[at] = byte,
                1 => out.insert(at, byte),
                _ => {
                    out.remove(at);
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn edited_messages_convert(
            which in any::<usize>(),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), prop_oneof![
                Just(b'\r'), Just(b'\n'), Just(b'-'), Just(b':'), Just(b'='), Just(b'"'),
                Just(b';'), Just(b'<'), Just(b'>'), Just(0xC3), Just(0x00), any::<u8>(),
            ]), 1..20),
            set in 0usize..10,
        ) {
            let paths = messages();
            let raw = std::fs::read(&paths[which % paths.len()]).unwrap();
            let raw = edit(&raw, &edits);
            let opts = &option_sets()[set];
            let app = to_application_data(&raw, &MessageMeta::default(), opts);
            prop_assert_eq!(decode(&encode(&app)).unwrap(), app);
            for index in 0..4 {
                let _ = attachment(&raw, index);
            }
        }
    }
}
