//! The Settings command's messages (MS-ASCMD 2.2.1.18) as types, parsed from and encoded to
//! WBXML trees in both directions: the server reads requests and writes responses, the test
//! client the other way round.

use crate::ProtocolVersion;
use crate::device::oof::{Audience, OofMessage, OofSettings, OofState};
use crate::device::registry::DeviceInfo;
use crate::device::time;
use crate::eas::provision::codes::SettingsStatus;
use crate::eas::provision::messages::MessageError;
use crate::wbxml::Element;
use crate::wbxml::tags::settings as s;

/// What an Oof section asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OofRequest {
    Get { body_type: String },
    Set(OofSettings),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingsRequest {
    pub oof: Option<OofRequest>,
    /// DevicePassword Set: the recovery password.
    pub device_password: Option<String>,
    pub device_information: Option<DeviceInfo>,
    pub user_information: bool,
    pub rights_management: bool,
}

fn text_of(e: &Element, tag: crate::wbxml::Tag) -> Option<String> {
    e.child_text(tag).map(String::from)
}

impl DeviceInfo {
    /// Reads a `DeviceInformation` element (its `Set` child holds the fields).
    pub fn from_element(e: &Element) -> DeviceInfo {
        let set = e.first(s::SET).unwrap_or(e);
        DeviceInfo {
            model: text_of(set, s::MODEL),
            imei: text_of(set, s::IMEI),
            friendly_name: text_of(set, s::FRIENDLY_NAME),
            os: text_of(set, s::OS),
            os_language: text_of(set, s::OS_LANGUAGE),
            phone_number: text_of(set, s::PHONE_NUMBER),
            user_agent: text_of(set, s::USER_AGENT),
            mobile_operator: text_of(set, s::MOBILE_OPERATOR),
            enable_outbound_sms: set
                .child_text(s::ENABLE_OUTBOUND_SMS)
                .map(|v| v.trim() == "1"),
        }
    }

    /// `<DeviceInformation><Set>...</Set></DeviceInformation>` with the fields `version` knows.
    pub fn to_element(&self, version: ProtocolVersion) -> Element {
        let mut set = Element::new(s::SET);
        let fields = [
            (s::MODEL, self.model.as_deref()),
            (s::IMEI, self.imei.as_deref()),
            (s::FRIENDLY_NAME, self.friendly_name.as_deref()),
            (s::OS, self.os.as_deref()),
            (s::OS_LANGUAGE, self.os_language.as_deref()),
            (s::PHONE_NUMBER, self.phone_number.as_deref()),
            (s::USER_AGENT, self.user_agent.as_deref()),
            (s::MOBILE_OPERATOR, self.mobile_operator.as_deref()),
        ];
        for (tag, value) in fields {
            if let Some(v) = value
                && tag.supported_in(version)
            {
                set.push_text(tag, v);
            }
        }
        if let Some(sms) = self.enable_outbound_sms
            && s::ENABLE_OUTBOUND_SMS.supported_in(version)
        {
            set.push_text(s::ENABLE_OUTBOUND_SMS, if sms { "1" } else { "0" });
        }
        Element::new(s::DEVICE_INFORMATION).with(set)
    }
}

fn audience_tag(a: Audience) -> crate::wbxml::Tag {
    match a {
        Audience::Internal => s::APPLIES_TO_INTERNAL,
        Audience::ExternalKnown => s::APPLIES_TO_EXTERNAL_KNOWN,
        Audience::ExternalUnknown => s::APPLIES_TO_EXTERNAL_UNKNOWN,
    }
}

/// The OofState/StartTime/EndTime/OofMessage children shared by Set requests and Get answers.
fn oof_children(mut e: Element, o: &OofSettings) -> Element {
    e.push_text(s::OOF_STATE, o.state.code().to_string());
    if let Some(t) = o.start {
        e.push_text(s::START_TIME, time::eas(t));
    }
    if let Some(t) = o.end {
        e.push_text(s::END_TIME, time::eas(t));
    }
    for m in &o.messages {
        e.push(
            Element::new(s::OOF_MESSAGE)
                .with(Element::new(audience_tag(m.audience)))
                .with_text(s::ENABLED, if m.enabled { "1" } else { "0" })
                .with_text(s::REPLY_MESSAGE, m.reply.as_str())
                .with_text(s::BODY_TYPE, m.body_type.as_str()),
        );
    }
    e
}

fn parse_oof(e: &Element) -> Result<OofSettings, MessageError> {
    let state = match e.child_text(s::OOF_STATE) {
        Some(code) => OofState::from_code(code).ok_or(MessageError::Bad("OofState"))?,
        None => OofState::Disabled,
    };
    let when = |tag| match e.child_text(tag) {
        Some(t) => time::parse_eas(t)
            .map(Some)
            .ok_or(MessageError::Bad("StartTime/EndTime")),
        None => Ok(None),
    };
    let mut messages = Vec::new();
    for m in e.all(s::OOF_MESSAGE) {
        let audience = [
            Audience::Internal,
            Audience::ExternalKnown,
            Audience::ExternalUnknown,
        ]
        .into_iter()
        .find(|a| m.first(audience_tag(*a)).is_some())
        .ok_or(MessageError::Missing("AppliesTo*"))?;
        messages.push(OofMessage {
            audience,
            enabled: m.child_text(s::ENABLED).is_some_and(|v| v.trim() == "1"),
            reply: m.child_text(s::REPLY_MESSAGE).unwrap_or("").to_string(),
            body_type: m.child_text(s::BODY_TYPE).unwrap_or("Text").to_string(),
        });
    }
    Ok(OofSettings {
        state,
        start: when(s::START_TIME)?,
        end: when(s::END_TIME)?,
        messages,
        generation: 0,
    })
}

impl SettingsRequest {
    pub fn parse(e: &Element) -> Result<SettingsRequest, MessageError> {
        if e.tag != s::SETTINGS {
            return Err(MessageError::Missing("Settings"));
        }
        let mut r = SettingsRequest::default();
        if let Some(oof) = e.first(s::OOF) {
            r.oof = Some(if let Some(get) = oof.first(s::GET) {
                OofRequest::Get {
                    body_type: get.child_text(s::BODY_TYPE).unwrap_or("Text").to_string(),
                }
            } else if let Some(set) = oof.first(s::SET) {
                OofRequest::Set(parse_oof(set)?)
            } else {
                return Err(MessageError::Missing("Oof Get or Set"));
            });
        }
        if let Some(dp) = e.first(s::DEVICE_PASSWORD) {
            let set = dp
                .first(s::SET)
                .ok_or(MessageError::Missing("DevicePassword Set"))?;
            r.device_password = Some(set.child_text(s::PASSWORD).unwrap_or("").to_string());
        }
        r.device_information = e.first(s::DEVICE_INFORMATION).map(DeviceInfo::from_element);
        r.user_information = e.first(s::USER_INFORMATION).is_some();
        r.rights_management = e.first(s::RIGHTS_MANAGEMENT_INFORMATION).is_some();
        Ok(r)
    }

    pub fn encode(&self, version: ProtocolVersion) -> Element {
        let mut e = Element::new(s::SETTINGS);
        match &self.oof {
            Some(OofRequest::Get { body_type }) => e.push(
                Element::new(s::OOF)
                    .with(Element::new(s::GET).with_text(s::BODY_TYPE, body_type.as_str())),
            ),
            Some(OofRequest::Set(o)) => {
                e.push(Element::new(s::OOF).with(oof_children(Element::new(s::SET), o)))
            }
            None => {}
        }
        if let Some(p) = &self.device_password {
            e.push(
                Element::new(s::DEVICE_PASSWORD)
                    .with(Element::new(s::SET).with_text(s::PASSWORD, p.as_str())),
            );
        }
        if let Some(info) = &self.device_information {
            e.push(info.to_element(version));
        }
        if self.user_information {
            e.push(Element::new(s::USER_INFORMATION).with(Element::new(s::GET)));
        }
        if self.rights_management {
            e.push(Element::new(s::RIGHTS_MANAGEMENT_INFORMATION).with(Element::new(s::GET)));
        }
        e
    }
}

/// The Oof part of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OofResponse {
    pub status: SettingsStatus,
    /// Present for a Get.
    pub get: Option<OofSettings>,
}

/// The UserInformation part of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInformation {
    pub status: SettingsStatus,
    pub display_name: String,
    pub addresses: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingsResponse {
    pub status: SettingsStatus,
    pub oof: Option<OofResponse>,
    pub device_password: Option<SettingsStatus>,
    pub device_information: Option<SettingsStatus>,
    pub user_information: Option<UserInformation>,
    pub rights_management: Option<SettingsStatus>,
}

fn status_of(e: &Element) -> Result<SettingsStatus, MessageError> {
    e.child_text(s::STATUS)
        .and_then(SettingsStatus::from_code)
        .ok_or(MessageError::Missing("Status"))
}

impl SettingsResponse {
    /// An answer with only the top-level status (protocol errors).
    pub fn status_only(status: SettingsStatus) -> SettingsResponse {
        SettingsResponse {
            status,
            oof: None,
            device_password: None,
            device_information: None,
            user_information: None,
            rights_management: None,
        }
    }

    pub fn encode(&self, version: ProtocolVersion) -> Element {
        let status =
            |tag, st: SettingsStatus| Element::new(tag).with_text(s::STATUS, st.code().to_string());
        let mut e = Element::new(s::SETTINGS).with_text(s::STATUS, self.status.code().to_string());
        if let Some(oof) = &self.oof {
            let mut o = status(s::OOF, oof.status);
            if let Some(get) = &oof.get {
                o.push(oof_children(Element::new(s::GET), get));
            }
            e.push(o);
        }
        if let Some(st) = self.device_password {
            e.push(status(s::DEVICE_PASSWORD, st));
        }
        if let Some(st) = self.device_information {
            e.push(status(s::DEVICE_INFORMATION, st));
        }
        if let Some(ui) = &self.user_information {
            let mut u = status(s::USER_INFORMATION, ui.status);
            if ui.status == SettingsStatus::Success {
                // 14.1 replaced the flat address list with per-account entries.
                let get = if version >= ProtocolVersion::V14_1 {
                    let addresses = ui.addresses.iter().enumerate().fold(
                        Element::new(s::EMAIL_ADDRESSES),
                        |acc, (i, a)| {
                            let tag = if i == 0 {
                                s::PRIMARY_SMTP_ADDRESS
                            } else {
                                s::SMTP_ADDRESS
                            };
                            acc.with_text(tag, a.as_str())
                        },
                    );
                    Element::new(s::GET).with(
                        Element::new(s::ACCOUNTS).with(
                            Element::new(s::ACCOUNT)
                                .with_text(s::USER_DISPLAY_NAME, ui.display_name.as_str())
                                .with(addresses),
                        ),
                    )
                } else {
                    Element::new(s::GET).with(
                        ui.addresses
                            .iter()
                            .fold(Element::new(s::EMAIL_ADDRESSES), |acc, a| {
                                acc.with_text(s::SMTP_ADDRESS, a.as_str())
                            }),
                    )
                };
                u.push(get);
            }
            e.push(u);
        }
        if let Some(st) = self.rights_management {
            let mut r = status(s::RIGHTS_MANAGEMENT_INFORMATION, st);
            if s::RIGHTS_MANAGEMENT_INFORMATION.supported_in(version) {
                r.push(Element::new(s::GET));
            }
            e.push(r);
        }
        e
    }

    pub fn parse(e: &Element) -> Result<SettingsResponse, MessageError> {
        if e.tag != s::SETTINGS {
            return Err(MessageError::Missing("Settings"));
        }
        let mut r = SettingsResponse::status_only(status_of(e)?);
        if let Some(o) = e.first(s::OOF) {
            r.oof = Some(OofResponse {
                status: status_of(o)?,
                get: o.first(s::GET).map(parse_oof).transpose()?,
            });
        }
        r.device_password = e.first(s::DEVICE_PASSWORD).map(status_of).transpose()?;
        r.device_information = e.first(s::DEVICE_INFORMATION).map(status_of).transpose()?;
        r.rights_management = e
            .first(s::RIGHTS_MANAGEMENT_INFORMATION)
            .map(status_of)
            .transpose()?;
        if let Some(u) = e.first(s::USER_INFORMATION) {
            let get = u.first(s::GET);
            let account = get
                .and_then(|g| g.first(s::ACCOUNTS))
                .and_then(|a| a.first(s::ACCOUNT));
            let list = account.or(get).and_then(|g| g.first(s::EMAIL_ADDRESSES));
            let addresses = list
                .map(|l| {
                    l.elements()
                        .filter_map(|a| a.text_content().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            r.user_information = Some(UserInformation {
                status: status_of(u)?,
                display_name: account
                    .and_then(|a| a.child_text(s::USER_DISPLAY_NAME))
                    .unwrap_or("")
                    .to_string(),
                addresses,
            });
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let req = SettingsRequest {
            oof: Some(OofRequest::Set(OofSettings {
                state: OofState::TimeBased,
                start: Some(1_751_364_000),
                end: Some(1_751_450_400),
                messages: vec![OofMessage {
                    audience: Audience::ExternalKnown,
                    enabled: true,
                    reply: "away".into(),
                    body_type: "Text".into(),
                }],
                generation: 0,
            })),
            device_password: Some("r3cover".into()),
            device_information: Some(DeviceInfo {
                model: Some("iPhone15,2".into()),
                os: Some("iOS 17.1".into()),
                enable_outbound_sms: Some(false),
                ..DeviceInfo::default()
            }),
            user_information: true,
            rights_management: true,
        };
        let tree = req.encode(ProtocolVersion::V16_1);
        let bytes = crate::wbxml::encode(&tree);
        let back = SettingsRequest::parse(&crate::wbxml::decode(&bytes).unwrap()).unwrap();
        assert_eq!(back, req);
        assert!(SettingsRequest::parse(&Element::new(s::OOF)).is_err());
    }

    #[test]
    fn responses_round_trip_in_both_address_forms() {
        for v in [ProtocolVersion::V12_1, ProtocolVersion::V14_1] {
            let resp = SettingsResponse {
                user_information: Some(UserInformation {
                    status: SettingsStatus::Success,
                    display_name: if v >= ProtocolVersion::V14_1 {
                        "Alice".into()
                    } else {
                        String::new()
                    },
                    addresses: vec!["alice@example.com".into()],
                }),
                device_information: Some(SettingsStatus::Success),
                oof: Some(OofResponse {
                    status: SettingsStatus::Success,
                    get: Some(OofSettings::default()),
                }),
                ..SettingsResponse::status_only(SettingsStatus::Success)
            };
            let back = SettingsResponse::parse(&resp.encode(v)).unwrap();
            assert_eq!(back, resp, "{v}");
        }
    }
}
