//! The item options of Sync, GetItemEstimate and ItemOperations requests: FilterType,
//! BodyPreference (AirSyncBase), MIMESupport, the 2.5/12.x Truncation and MIMETruncation codes
//! and Conflict, parsed from and encoded to an `Options` element.

use super::fields::{self, ParseError};
use crate::ProtocolVersion;
use crate::collections::ItemClass;
use crate::collections::pim::OPEN_TASK;
use crate::items::email::{EmailOptions, MimeSupport, mime_truncation_limit, truncation_limit};
use crate::items::{BodyPreference, BodyType};
use crate::wbxml::tags::{airsync, airsyncbase};
use crate::wbxml::{Element, Tag};

/// What the client asked for in one `Options` element (tags of the AirSync namespace, except
/// the AirSyncBase BodyPreference).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ItemOptions {
    pub class: Option<String>,
    pub filter_type: Option<u8>,
    pub body_preferences: Vec<BodyPreference>,
    pub mime_support: Option<u8>,
    pub truncation: Option<u8>,
    pub mime_truncation: Option<u8>,
    /// 0 client wins, 1 server wins.
    pub conflict: Option<u8>,
}

/// FilterType values (MS-ASCMD 2.2.3.68.2) as a maximum age in days; 0 means no limit.
pub fn filter_days(filter: u8) -> Option<u32> {
    match filter {
        0 => Some(0),
        1 => Some(1),
        2 => Some(3),
        3 => Some(7),
        4 => Some(14),
        5 => Some(31),
        6 => Some(92),
        7 => Some(183),
        _ => None,
    }
}

/// The oldest received time wanted under `filter`, capped by the server's `max_days` (0 = none).
pub fn min_time(filter: u8, max_days: u32, now: u64) -> u64 {
    let asked = filter_days(filter).unwrap_or(0);
    let days = match (asked, max_days) {
        (0, m) => m,
        (a, 0) => a,
        (a, m) => a.min(m),
    };
    if days == 0 {
        0
    } else {
        now.saturating_sub(u64::from(days) * 86_400)
    }
}

/// FilterType 8: incomplete tasks only (MS-ASCMD 2.2.3.68.2).
pub const INCOMPLETE_TASKS: u8 = 8;

/// The oldest item time wanted in a collection of `class` under `filter`: mail by received
/// time (capped by `max_mail_days`), events by their last end (capped by `max_calendar_days`),
/// tasks by [`OPEN_TASK`] for "incomplete only"; contacts and notes are never filtered.
pub fn class_min_time(
    class: ItemClass,
    filter: u8,
    max_mail_days: u32,
    max_calendar_days: u32,
    now: u64,
) -> u64 {
    match class {
        ItemClass::Email => min_time(filter, max_mail_days, now),
        ItemClass::Calendar => min_time(filter, max_calendar_days, now),
        ItemClass::Tasks if filter == INCOMPLETE_TASKS => OPEN_TASK,
        ItemClass::Tasks | ItemClass::Contacts | ItemClass::Notes => 0,
    }
}

fn body_preference(el: &Element) -> Result<BodyPreference, ParseError> {
    let t: u8 = fields::value(el, airsyncbase::TYPE)?;
    Ok(BodyPreference {
        body_type: BodyType::try_from(t).map_err(|_| ParseError::BadValue(airsyncbase::TYPE))?,
        truncation_size: fields::opt_value(el, airsyncbase::TRUNCATION_SIZE)?,
        all_or_none: fields::opt_flag(el, airsyncbase::ALL_OR_NONE)?.unwrap_or(false),
        preview: fields::opt_value(el, airsyncbase::PREVIEW)?,
    })
}

fn encode_body_preference(p: &BodyPreference) -> Element {
    let mut el = Element::new(airsyncbase::BODY_PREFERENCE)
        .with_text(airsyncbase::TYPE, p.body_type.as_u8().to_string());
    if let Some(t) = p.truncation_size {
        el.push_text(airsyncbase::TRUNCATION_SIZE, t.to_string());
    }
    if p.all_or_none {
        el.push_text(airsyncbase::ALL_OR_NONE, "1");
    }
    if let Some(n) = p.preview {
        el.push_text(airsyncbase::PREVIEW, n.to_string());
    }
    el
}

impl ItemOptions {
    /// Reads an Options element; `mime_support_tag` differs only in name between commands.
    pub fn parse(el: &Element) -> Result<ItemOptions, ParseError> {
        Ok(ItemOptions {
            class: fields::opt_text(el, airsync::CLASS).map(str::to_string),
            filter_type: fields::opt_value(el, airsync::FILTER_TYPE)?,
            body_preferences: el
                .all(airsyncbase::BODY_PREFERENCE)
                .map(body_preference)
                .collect::<Result<_, _>>()?,
            mime_support: fields::opt_value(el, airsync::MIME_SUPPORT)?,
            truncation: fields::opt_value(el, airsync::TRUNCATION)?,
            mime_truncation: fields::opt_value(el, airsync::MIME_TRUNCATION)?,
            conflict: fields::opt_value(el, airsync::CONFLICT)?,
        })
    }

    /// The Options element under `tag` (AirSync or ItemOperations `Options`).
    pub fn encode(&self, tag: Tag) -> Element {
        let mut el = Element::new(tag);
        if let Some(c) = &self.class {
            el.push_text(airsync::CLASS, c.as_str());
        }
        if let Some(f) = self.filter_type {
            el.push_text(airsync::FILTER_TYPE, f.to_string());
        }
        for p in &self.body_preferences {
            el.push(encode_body_preference(p));
        }
        for (tag, v) in [
            (airsync::MIME_SUPPORT, self.mime_support),
            (airsync::TRUNCATION, self.truncation),
            (airsync::MIME_TRUNCATION, self.mime_truncation),
            (airsync::CONFLICT, self.conflict),
        ] {
            if let Some(v) = v {
                el.push_text(tag, v.to_string());
            }
        }
        el
    }

    /// The email converter's options; unknown codes are protocol errors.
    pub fn email(&self, version: ProtocolVersion) -> Result<EmailOptions, ParseError> {
        let mut o = EmailOptions::new(version);
        o.body_preferences = self.body_preferences.clone();
        if let Some(m) = self.mime_support {
            o.mime_support = MimeSupport::try_from(m)
                .map_err(|_| ParseError::BadValue(airsync::MIME_SUPPORT))?;
        }
        if let Some(t) = self.truncation {
            o.truncation =
                truncation_limit(t).map_err(|_| ParseError::BadValue(airsync::TRUNCATION))?;
        }
        if let Some(t) = self.mime_truncation {
            o.mime_truncation = mime_truncation_limit(t)
                .map_err(|_| ParseError::BadValue(airsync::MIME_TRUNCATION))?;
        }
        Ok(o)
    }

    /// Server wins unless the client asked otherwise (MS-ASCMD 2.2.3.34).
    pub fn server_wins(&self) -> bool {
        self.conflict != Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_and_convert() {
        let o = ItemOptions {
            class: Some("Email".into()),
            filter_type: Some(3),
            body_preferences: vec![BodyPreference {
                body_type: BodyType::PlainText,
                truncation_size: Some(5120),
                all_or_none: true,
                preview: Some(100),
            }],
            mime_support: Some(2),
            truncation: Some(4),
            mime_truncation: Some(8),
            conflict: Some(0),
        };
        let el = o.encode(airsync::OPTIONS);
        assert_eq!(ItemOptions::parse(&el), Ok(o.clone()));
        let e = o.email(ProtocolVersion::V14_1).unwrap();
        assert_eq!(e.mime_support, MimeSupport::Always);
        assert_eq!(e.truncation, Some(5120));
        assert_eq!(e.mime_truncation, None);
        assert!(!o.server_wins());
        let bad = ItemOptions {
            mime_support: Some(7),
            ..ItemOptions::default()
        };
        assert!(bad.email(ProtocolVersion::V12_1).is_err());
    }

    #[test]
    fn filter_ages_are_capped() {
        let now = 1_000_000_000;
        assert_eq!(min_time(0, 0, now), 0);
        assert_eq!(min_time(3, 0, now), now - 7 * 86_400);
        assert_eq!(min_time(0, 30, now), now - 30 * 86_400);
        assert_eq!(min_time(5, 7, now), now - 7 * 86_400);
        assert_eq!(min_time(1, 7, now), now - 86_400);
    }
}
