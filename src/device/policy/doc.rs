//! The EASProvisionDoc (MS-ASPROV 2.2.2.28) a device receives: every setting its protocol version
//! knows, with unset optional values sent as empty elements so a device drops an earlier limit.

use super::{PolicyKey, PolicySettings, Value};
use crate::ProtocolVersion;
use crate::wbxml::Element;
use crate::wbxml::tags::provision as p;

/// MS-ASPROV 2.2.2.36: values of 9999 seconds and more mean "no limit".
const INACTIVITY_UNLIMITED: i64 = 9999;

pub fn provision_doc(settings: &PolicySettings, version: ProtocolVersion) -> Element {
    let mut doc = Element::new(p::EAS_PROVISION_DOC);
    for (key, value) in settings.iter() {
        let Some(tag) = key.element() else {
            continue;
        };
        if !tag.supported_in(version) {
            continue;
        }
        let element = match (key, value) {
            (PolicyKey::MaxInactivityTimeMinutes, Value::Number(Some(minutes))) => {
                // The guide counts minutes (9999 = none); the element counts seconds, where 9999
                // and above already mean none, so real limits stay just below it.
                let secs = if minutes >= INACTIVITY_UNLIMITED {
                    INACTIVITY_UNLIMITED
                } else {
                    (minutes * 60).min(INACTIVITY_UNLIMITED - 1)
                };
                Element::text(tag, secs.to_string())
            }
            (PolicyKey::UnapprovedInRomApplicationList, Value::List(names)) => {
                names.iter().fold(Element::new(tag), |e, n| {
                    e.with_text(p::APPLICATION_NAME, n.as_str())
                })
            }
            (PolicyKey::ApprovedApplicationList, Value::List(hashes)) => hashes
                .iter()
                .fold(Element::new(tag), |e, h| e.with_text(p::HASH, h.as_str())),
            (_, Value::Bool(b)) => Element::text(tag, if b { "1" } else { "0" }),
            (_, Value::Number(Some(n))) => Element::text(tag, n.to_string()),
            (_, Value::Number(None) | Value::List(_) | Value::Version(_)) => Element::new(tag),
        };
        doc.push(element);
    }
    doc
}

/// Reads a received EASProvisionDoc back into settings (the test client's view of what it got).
pub fn parse_doc(doc: &Element) -> PolicySettings {
    let mut s = PolicySettings::default();
    for key in PolicyKey::ALL {
        let Some(tag) = key.element() else {
            continue;
        };
        let Some(e) = doc.first(tag) else {
            continue;
        };
        let value = match key {
            PolicyKey::UnapprovedInRomApplicationList | PolicyKey::ApprovedApplicationList => {
                Value::List(
                    e.elements()
                        .filter_map(|c| c.text_content().map(String::from))
                        .collect(),
                )
            }
            PolicyKey::MaxInactivityTimeMinutes => match e.text_content() {
                Some(t) => match t.parse::<i64>() {
                    Ok(n) if n >= INACTIVITY_UNLIMITED => Value::Number(Some(INACTIVITY_UNLIMITED)),
                    Ok(n) => Value::Number(Some(n / 60)),
                    Err(_) => continue,
                },
                None => Value::Number(None),
            },
            _ => match (e.text_content(), key.kind()) {
                (Some(t), super::Kind::Bool) => Value::Bool(t == "1"),
                (Some(t), _) => match t.parse::<i64>() {
                    Ok(n) => Value::Number(Some(n)),
                    Err(_) => continue,
                },
                (None, _) => Value::Number(None),
            },
        };
        s.set(*key, value);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doc_round_trips_and_respects_versions() {
        let mut s = PolicySettings::default();
        for (k, v) in [
            ("password_required", "true"),
            ("min_password_length", "6"),
            ("max_inactivity_time_minutes", "15"),
            ("allow_camera", "false"),
            ("allow_bluetooth", "1"),
            ("unapproved_in_rom_application_list", "Browser,Camera"),
        ] {
            let key = PolicyKey::from_name(k).unwrap();
            s.set(key, key.parse_value(v).unwrap());
        }
        let doc = provision_doc(&s, ProtocolVersion::V14_1);
        assert_eq!(
            doc.child_text(p::MAX_INACTIVITY_TIME_DEVICE_LOCK),
            Some("900")
        );
        assert_eq!(doc.child_text(p::DEVICE_PASSWORD_ENABLED), Some("1"));
        assert!(
            doc.first(p::MAX_ATTACHMENT_SIZE)
                .is_some_and(Element::is_empty)
        );
        let back = parse_doc(&doc);
        for k in PolicyKey::ALL.iter().filter(|k| k.element().is_some()) {
            assert_eq!(back.get(*k), s.get(*k), "{}", k.name());
        }
        // 12.0 knows only the first password settings.
        let old = provision_doc(&s, ProtocolVersion::V12_0);
        assert!(old.first(p::ALLOW_CAMERA).is_none());
        assert!(old.first(p::MIN_DEVICE_PASSWORD_LENGTH).is_some());
        let mut long = PolicySettings::default();
        long.set(
            PolicyKey::MaxInactivityTimeMinutes,
            Value::Number(Some(600)),
        );
        let doc = provision_doc(&long, ProtocolVersion::V14_1);
        assert_eq!(
            doc.child_text(p::MAX_INACTIVITY_TIME_DEVICE_LOCK),
            Some("9998")
        );
    }
}
