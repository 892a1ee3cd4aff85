//! Device-management steps for the simulated phone: Provision in both phases, Settings, and a
//! look at a user's INBOX, all through the typed messages the server itself uses.

use super::run;
use easd::ProtocolVersion;
use easd::client::Device;
use easd::device::registry::DeviceInfo;
use easd::device::registry::WipeKind;
use easd::eas::Command;
use easd::eas::provision::codes::{AckStatus, PolicyStatus, ProvisionStatus, WipeAckStatus};
use easd::eas::provision::messages::{POLICY_TYPE_WBXML, ProvisionRequest, ProvisionResponse};
use easd::eas::settings::messages::{SettingsRequest, SettingsResponse};
use std::path::Path;

/// The outcome of one request as the tests judge it: the HTTP status and, for a WBXML answer,
/// the top-level Status.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Outcome {
    pub http: u16,
    pub status: Option<u16>,
}

pub fn outcome(reply: &easd::client::Reply) -> Outcome {
    let status = if reply.is_wbxml() {
        reply.tree().ok().and_then(|t| {
            t.elements()
                .find(|e| e.tag.name() == "Status")
                .and_then(|e| e.text_content())
                .and_then(|s| s.parse().ok())
        })
    } else {
        None
    };
    Outcome {
        http: reply.status,
        status,
    }
}

/// Sends a Settings request and returns the raw outcome.
pub fn settings_outcome(dev: &mut Device, req: &SettingsRequest) -> Outcome {
    let body = req.encode(dev.version);
    outcome(&run(dev.command(Command::Settings, Some(&body))).unwrap())
}

/// A harmless probe: Settings UserInformation Get. 200 with Status 1 means full service.
pub fn probe(dev: &mut Device) -> Outcome {
    settings_outcome(
        dev,
        &SettingsRequest {
            user_information: true,
            ..SettingsRequest::default()
        },
    )
}

pub fn settings(dev: &mut Device, req: &SettingsRequest) -> SettingsResponse {
    let body = req.encode(dev.version);
    let tree = run(dev.call(Command::Settings, &body)).unwrap();
    SettingsResponse::parse(&tree).unwrap()
}

pub fn provision_request(dev: &mut Device, req: &ProvisionRequest) -> ProvisionResponse {
    let body = req.encode(dev.version);
    let tree = run(dev.call(Command::Provision, &body)).unwrap();
    ProvisionResponse::parse(&tree).unwrap()
}

/// Phase one: download the policy (the device's key is reset to 0 as MS-ASPROV requires).
pub fn download(dev: &mut Device, info: Option<DeviceInfo>) -> ProvisionResponse {
    dev.policy_key = None;
    provision_request(
        dev,
        &ProvisionRequest::Download {
            device_info: info,
            policy_type: Some(POLICY_TYPE_WBXML.into()),
        },
    )
}

/// Phase two: acknowledge with `status`; on success the device keeps the final key.
pub fn acknowledge(dev: &mut Device, temp: u32, status: AckStatus) -> ProvisionResponse {
    dev.policy_key = Some(temp);
    let r = provision_request(
        dev,
        &ProvisionRequest::Acknowledge {
            policy_type: POLICY_TYPE_WBXML.into(),
            policy_key: Some(temp),
            status,
        },
    );
    if let Some(p) = &r.policy
        && p.status == PolicyStatus::Success
    {
        dev.policy_key = p.policy_key;
    }
    r
}

/// Both phases, applying everything; returns the downloaded response.
pub fn provision(dev: &mut Device) -> ProvisionResponse {
    let first = download(dev, None);
    assert_eq!(first.status, ProvisionStatus::Success);
    let policy = first.policy.clone().expect("a policy");
    assert_eq!(policy.status, PolicyStatus::Success);
    let temp = policy.policy_key.expect("a temporary key");
    let second = acknowledge(dev, temp, AckStatus::Applied);
    assert_eq!(second.status, ProvisionStatus::Success);
    let fin = second.policy.expect("a policy answer");
    assert_eq!(fin.status, PolicyStatus::Success);
    assert_ne!(fin.policy_key, Some(temp));
    first
}

pub fn wipe_ack(dev: &mut Device, kind: WipeKind) -> ProvisionResponse {
    provision_request(
        dev,
        &ProvisionRequest::WipeAck {
            kind,
            status: WipeAckStatus::Wiped,
        },
    )
}

/// The messages in a Maildir's INBOX (new/ and cur/).
pub fn inbox(maildir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            for e in entries.flatten() {
                out.push(String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned());
            }
        }
    }
    out
}

pub fn at(version: ProtocolVersion, mut dev: Device) -> Device {
    dev.version = version;
    dev
}
