//! The Provision command's messages (MS-ASPROV 2.2.2) as types, parsed from and encoded to WBXML
//! trees in both directions: the server reads requests and writes responses, the test client the
//! other way round.

use super::codes::{AckStatus, PolicyStatus, ProvisionStatus, WipeAckStatus};
use crate::ProtocolVersion;
use crate::device::policy::PolicySettings;
use crate::device::policy::doc::{parse_doc, provision_doc};
use crate::device::registry::{DeviceInfo, WipeKind};
use crate::wbxml::Element;
use crate::wbxml::tags::{provision as p, settings as s};
use std::fmt;

/// The policy format of 12.0 and later (MS-ASPROV 2.2.2.43).
pub const POLICY_TYPE_WBXML: &str = "MS-EAS-Provisioning-WBXML";

/// Why a message did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageError {
    Missing(&'static str),
    Bad(&'static str),
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageError::Missing(what) => write!(f, "missing {what}"),
            MessageError::Bad(what) => write!(f, "bad {what}"),
        }
    }
}

impl std::error::Error for MessageError {}

/// The four request forms of MS-ASPROV 3.1.5.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProvisionRequest {
    /// Initial request: download the policy (`policy_type` is `None` when the device left it out).
    Download {
        device_info: Option<DeviceInfo>,
        policy_type: Option<String>,
    },
    /// Acknowledgement of a downloaded policy with the temporary key.
    Acknowledge {
        policy_type: String,
        /// `None` when the key is not a number, so it matches nothing.
        policy_key: Option<u32>,
        status: AckStatus,
    },
    /// Acknowledgement of a remote wipe.
    WipeAck {
        kind: WipeKind,
        status: WipeAckStatus,
    },
    /// The empty request a device sends after a "wipe requested" status.
    Empty,
}

fn wipe_tag(kind: WipeKind) -> crate::wbxml::Tag {
    match kind {
        WipeKind::Full => p::REMOTE_WIPE,
        WipeKind::AccountOnly => p::ACCOUNT_ONLY_REMOTE_WIPE,
    }
}

impl ProvisionRequest {
    pub fn parse(e: &Element) -> Result<ProvisionRequest, MessageError> {
        if e.tag != p::PROVISION {
            return Err(MessageError::Missing("Provision"));
        }
        for kind in [WipeKind::Full, WipeKind::AccountOnly] {
            if let Some(w) = e.first(wipe_tag(kind)) {
                let status = w
                    .child_text(p::STATUS)
                    .and_then(WipeAckStatus::from_code)
                    .ok_or(MessageError::Bad("RemoteWipe Status"))?;
                return Ok(ProvisionRequest::WipeAck { kind, status });
            }
        }
        let device_info = e.first(s::DEVICE_INFORMATION).map(DeviceInfo::from_element);
        let Some(policy) = e.first(p::POLICIES).and_then(|ps| ps.first(p::POLICY)) else {
            return Ok(match device_info {
                Some(_) => ProvisionRequest::Download {
                    device_info,
                    policy_type: None,
                },
                None => ProvisionRequest::Empty,
            });
        };
        let policy_type = policy.child_text(p::POLICY_TYPE).map(String::from);
        match policy.child_text(p::STATUS) {
            Some(status) => Ok(ProvisionRequest::Acknowledge {
                policy_type: policy_type.ok_or(MessageError::Missing("PolicyType"))?,
                policy_key: policy
                    .child_text(p::POLICY_KEY)
                    .and_then(|k| k.trim().parse().ok()),
                status: AckStatus::from_code(status).ok_or(MessageError::Bad("Policy Status"))?,
            }),
            None => Ok(ProvisionRequest::Download {
                device_info,
                policy_type,
            }),
        }
    }

    pub fn encode(&self, version: ProtocolVersion) -> Element {
        let mut e = Element::new(p::PROVISION);
        match self {
            ProvisionRequest::Download {
                device_info,
                policy_type,
            } => {
                if let Some(info) = device_info
                    && version >= ProtocolVersion::V14_1
                {
                    e.push(info.to_element(version));
                }
                let policy =
                    Element::new(p::POLICY).with_opt_text(p::POLICY_TYPE, policy_type.as_deref());
                e.push(Element::new(p::POLICIES).with(policy));
            }
            ProvisionRequest::Acknowledge {
                policy_type,
                policy_key,
                status,
            } => {
                // MS-ASPROV 2.2.2.41: PolicyKey before Status.
                let policy = Element::new(p::POLICY)
                    .with_text(p::POLICY_TYPE, policy_type.as_str())
                    .with_text(p::POLICY_KEY, policy_key.unwrap_or(0).to_string())
                    .with_text(p::STATUS, status.code().to_string());
                e.push(Element::new(p::POLICIES).with(policy));
            }
            ProvisionRequest::WipeAck { kind, status } => {
                e.push(
                    Element::new(wipe_tag(*kind)).with_text(p::STATUS, status.code().to_string()),
                );
            }
            ProvisionRequest::Empty => {}
        }
        e
    }
}

/// One Policy element of a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyAnswer {
    pub policy_type: String,
    pub status: PolicyStatus,
    pub policy_key: Option<u32>,
    /// The settings (initial download only).
    pub settings: Option<PolicySettings>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionResponse {
    pub status: ProvisionStatus,
    /// Status of the DeviceInformation the request carried (14.1+).
    pub device_info_status: Option<u8>,
    pub policy: Option<PolicyAnswer>,
    pub remote_wipe: Option<WipeKind>,
}

impl ProvisionResponse {
    pub fn status_only(status: ProvisionStatus) -> ProvisionResponse {
        ProvisionResponse {
            status,
            device_info_status: None,
            policy: None,
            remote_wipe: None,
        }
    }

    pub fn encode(&self, version: ProtocolVersion) -> Element {
        let mut e = Element::new(p::PROVISION);
        if let Some(st) = self.device_info_status {
            e.push(Element::new(s::DEVICE_INFORMATION).with_text(s::STATUS, st.to_string()));
        }
        e.push_text(p::STATUS, self.status.code().to_string());
        if let Some(policy) = &self.policy {
            let mut pe = Element::new(p::POLICY)
                .with_text(p::POLICY_TYPE, policy.policy_type.as_str())
                .with_text(p::STATUS, policy.status.code().to_string())
                .with_opt_text(p::POLICY_KEY, policy.policy_key.map(|k| k.to_string()));
            if let Some(settings) = &policy.settings {
                pe.push(Element::new(p::DATA).with(provision_doc(settings, version)));
            }
            e.push(Element::new(p::POLICIES).with(pe));
        }
        if let Some(kind) = self.remote_wipe {
            e.push(Element::new(wipe_tag(kind)));
        }
        e
    }

    pub fn parse(e: &Element) -> Result<ProvisionResponse, MessageError> {
        if e.tag != p::PROVISION {
            return Err(MessageError::Missing("Provision"));
        }
        let status = e
            .child_text(p::STATUS)
            .and_then(ProvisionStatus::from_code)
            .ok_or(MessageError::Bad("Provision Status"))?;
        let device_info_status = e
            .first(s::DEVICE_INFORMATION)
            .and_then(|d| d.child_text(s::STATUS))
            .and_then(|t| t.trim().parse().ok());
        let policy = match e.first(p::POLICIES).and_then(|ps| ps.first(p::POLICY)) {
            Some(pe) => Some(PolicyAnswer {
                policy_type: pe.child_text(p::POLICY_TYPE).unwrap_or("").to_string(),
                status: pe
                    .child_text(p::STATUS)
                    .and_then(PolicyStatus::from_code)
                    .ok_or(MessageError::Bad("Policy Status"))?,
                policy_key: pe
                    .child_text(p::POLICY_KEY)
                    .map(|k| k.trim().parse().map_err(|_| MessageError::Bad("PolicyKey")))
                    .transpose()?,
                settings: pe
                    .first(p::DATA)
                    .and_then(|d| d.first(p::EAS_PROVISION_DOC))
                    .map(parse_doc),
            }),
            None => None,
        };
        let remote_wipe = [WipeKind::Full, WipeKind::AccountOnly]
            .into_iter()
            .find(|k| e.first(wipe_tag(*k)).is_some());
        Ok(ProvisionResponse {
            status,
            device_info_status,
            policy,
            remote_wipe,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::policy::{PolicyKey, Value};

    fn round_trip_request(r: &ProvisionRequest) {
        let bytes = crate::wbxml::encode(&r.encode(ProtocolVersion::V16_1));
        let back = ProvisionRequest::parse(&crate::wbxml::decode(&bytes).unwrap()).unwrap();
        assert_eq!(&back, r);
    }

    #[test]
    fn requests_round_trip() {
        round_trip_request(&ProvisionRequest::Download {
            device_info: Some(DeviceInfo {
                model: Some("Pixel 8".into()),
                ..DeviceInfo::default()
            }),
            policy_type: Some(POLICY_TYPE_WBXML.into()),
        });
        round_trip_request(&ProvisionRequest::Acknowledge {
            policy_type: POLICY_TYPE_WBXML.into(),
            policy_key: Some(123456),
            status: AckStatus::Partial,
        });
        round_trip_request(&ProvisionRequest::WipeAck {
            kind: WipeKind::AccountOnly,
            status: WipeAckStatus::Wiped,
        });
        round_trip_request(&ProvisionRequest::Empty);
        let bad =
            Element::new(p::PROVISION).with(Element::new(p::REMOTE_WIPE).with_text(p::STATUS, "9"));
        assert!(ProvisionRequest::parse(&bad).is_err());
    }

    #[test]
    fn responses_round_trip() {
        let mut settings = PolicySettings::default();
        settings.set(PolicyKey::PasswordRequired, Value::Bool(true));
        let resp = ProvisionResponse {
            status: ProvisionStatus::Success,
            device_info_status: Some(1),
            policy: Some(PolicyAnswer {
                policy_type: POLICY_TYPE_WBXML.into(),
                status: PolicyStatus::Success,
                policy_key: Some(42),
                settings: Some(settings),
            }),
            remote_wipe: None,
        };
        let tree = resp.encode(ProtocolVersion::V14_1);
        assert_eq!(ProvisionResponse::parse(&tree).unwrap(), resp);
        let wipe = ProvisionResponse {
            remote_wipe: Some(WipeKind::Full),
            ..ProvisionResponse::status_only(ProvisionStatus::Success)
        };
        assert_eq!(
            ProvisionResponse::parse(&wipe.encode(ProtocolVersion::V12_1)).unwrap(),
            wipe
        );
    }
}
