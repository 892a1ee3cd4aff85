//! The Provision command (MS-ASPROV): the two-phase policy download (temporary key, then the final
//! key after the device acknowledges), and remote wipe delivery and acknowledgement.

pub mod codes;
pub mod messages;

use crate::ProtocolVersion;
use crate::device::gate::wipe_reachable;
use crate::device::notify::{self, Notice};
use crate::device::policy::{self, PolicyKey};
use crate::device::registry::{PolicyStatus as DevicePolicy, Txn, Wipe, Wiped};
use crate::device::{DeviceError, DeviceId, DeviceKey, Devices, time};
use crate::eas::{Reply, Request};
use codes::{AckStatus, PolicyStatus, ProvisionStatus, WipeAckStatus};
use messages::{POLICY_TYPE_WBXML, PolicyAnswer, ProvisionRequest, ProvisionResponse};
use ring::rand::SecureRandom;

pub fn handle(devices: &Devices, req: &Request) -> Reply {
    let parsed = match req.tree.as_ref().map(ProvisionRequest::parse) {
        Some(Ok(p)) => p,
        other => {
            if let Some(Err(e)) = other {
                log::info!("{} [{}] Provision: {e}", req.query.device_id, req.user);
            }
            return answer(
                req,
                ProvisionResponse::status_only(ProvisionStatus::ProtocolError),
            );
        }
    };
    match run(devices, req, parsed) {
        Ok(r) => answer(req, r),
        Err(e) => {
            log::error!("{} [{}] Provision: {e}", req.query.device_id, req.user);
            answer(
                req,
                ProvisionResponse::status_only(ProvisionStatus::ServerError),
            )
        }
    }
}

fn answer(req: &Request, r: ProvisionResponse) -> Reply {
    Reply::Wbxml(r.encode(req.version))
}

/// A fresh non-zero policy key (0 means "none" on the wire).
fn new_key() -> Result<u32, DeviceError> {
    let mut bytes = [0u8; 4];
    loop {
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| DeviceError::Io(std::io::Error::other("no randomness")))?;
        let k = u32::from_be_bytes(bytes);
        if k != 0 {
            return Ok(k);
        }
    }
}

fn run(
    devices: &Devices,
    req: &Request,
    parsed: ProvisionRequest,
) -> Result<ProvisionResponse, DeviceError> {
    let key = DeviceKey::new(&req.user, DeviceId::parse(&req.query.device_id)?);
    let db = devices.db();
    let env = devices.env();
    let now = time::now();
    let settings = policy::levels::for_device(db, &env.base_policy(), &key)?;
    let txn = Txn::begin(db)?;
    let Some(mut device) = txn.get(&key)? else {
        // The gate records every device before its command runs; it was removed since.
        return Ok(ProvisionResponse::status_only(ProvisionStatus::ServerError));
    };
    let device_info_status = match &parsed {
        ProvisionRequest::Download {
            device_info: Some(_),
            ..
        } if req.version >= ProtocolVersion::V14_1 => Some(1),
        _ => None,
    };
    let pending_wipe = match device.wipe {
        Wipe::Pending { kind, .. } if wipe_reachable(kind, req.version) => Some(kind),
        _ => None,
    };

    if let ProvisionRequest::WipeAck { kind, status } = parsed {
        let Some(pending) = pending_wipe.filter(|p| *p == kind) else {
            return Ok(ProvisionResponse::status_only(ProvisionStatus::Success));
        };
        if status == WipeAckStatus::Failed {
            log::warn!("{key}: the device reports that the {pending} failed; asking again");
            return Ok(ProvisionResponse {
                remote_wipe: Some(pending),
                ..ProvisionResponse::status_only(ProvisionStatus::ProtocolError)
            });
        }
        txn.remove(&key)?;
        txn.record_wiped(&Wiped {
            device: device.clone(),
            kind: pending,
            wiped_at: now,
        })?;
        txn.commit()?;
        log::info!("{key}: {pending} acknowledged; device removed");
        notify::send(env, &Notice::Wiped(&device, pending));
        return Ok(ProvisionResponse::status_only(ProvisionStatus::Success));
    }
    if let Some(kind) = pending_wipe {
        log::info!("{key}: sending the {kind}");
        return Ok(ProvisionResponse {
            device_info_status,
            remote_wipe: Some(kind),
            ..ProvisionResponse::status_only(ProvisionStatus::Success)
        });
    }

    let mut notify_refusal = false;
    let response = match parsed {
        ProvisionRequest::Empty
        | ProvisionRequest::Download {
            policy_type: None, ..
        } => ProvisionResponse::status_only(ProvisionStatus::ProtocolError),
        ProvisionRequest::Download {
            policy_type: Some(policy_type),
            ..
        } => {
            // 2.5 devices ask for the XML form, which easd does not produce: they stay
            // non-provisionable.
            if policy_type != POLICY_TYPE_WBXML || req.version < ProtocolVersion::V12_0 {
                ProvisionResponse {
                    device_info_status,
                    policy: Some(PolicyAnswer {
                        policy_type,
                        status: PolicyStatus::UnknownPolicyType,
                        policy_key: None,
                        settings: None,
                    }),
                    ..ProvisionResponse::status_only(ProvisionStatus::Success)
                }
            } else {
                let temp = new_key()?;
                device.policy.pending_key = Some(temp);
                device.policy.pending_fingerprint = settings.fingerprint();
                if device.policy.status == DevicePolicy::NotProvisioned {
                    device.policy.status = DevicePolicy::Pending;
                }
                ProvisionResponse {
                    device_info_status,
                    policy: Some(PolicyAnswer {
                        policy_type,
                        status: PolicyStatus::Success,
                        policy_key: Some(temp),
                        settings: Some(settings.clone()),
                    }),
                    ..ProvisionResponse::status_only(ProvisionStatus::Success)
                }
            }
        }
        ProvisionRequest::Acknowledge {
            policy_type,
            policy_key,
            status,
        } => {
            let wrong_key = policy_key.is_none() || policy_key != device.policy.pending_key;
            let allowed_anyway = settings.flag(PolicyKey::AllowNonProvisionable);
            if wrong_key {
                ProvisionResponse {
                    policy: Some(PolicyAnswer {
                        policy_type,
                        status: PolicyStatus::WrongPolicyKey,
                        policy_key: None,
                        settings: None,
                    }),
                    ..ProvisionResponse::status_only(ProvisionStatus::Success)
                }
            } else if status == AckStatus::Applied || allowed_anyway {
                let final_key = new_key()?;
                let p = &mut device.policy;
                p.status = match status {
                    AckStatus::Applied => DevicePolicy::Applied,
                    AckStatus::Partial => DevicePolicy::Partial,
                    AckStatus::NotApplied | AckStatus::External => DevicePolicy::Refused,
                };
                p.key = Some(final_key);
                p.fingerprint = p.pending_fingerprint;
                p.pending_key = None;
                p.provisioned_at = now;
                p.refusals = 0;
                p.refusal_notified = false;
                log::info!("{key}: policy {} (key issued)", p.status);
                ProvisionResponse {
                    policy: Some(PolicyAnswer {
                        policy_type,
                        status: PolicyStatus::Success,
                        policy_key: Some(final_key),
                        settings: None,
                    }),
                    ..ProvisionResponse::status_only(ProvisionStatus::Success)
                }
            } else {
                let p = &mut device.policy;
                p.status = if status == AckStatus::Partial {
                    DevicePolicy::Partial
                } else {
                    DevicePolicy::Refused
                };
                p.pending_key = None;
                p.key = None;
                notify_refusal = !p.refusal_notified;
                p.refusal_notified = true;
                log::info!("{key}: policy {}: refused entry", p.status);
                ProvisionResponse::status_only(ProvisionStatus::NotFullyProvisionable)
            }
        }
        ProvisionRequest::WipeAck { .. } => {
            ProvisionResponse::status_only(ProvisionStatus::Success)
        }
    };
    txn.put(&device)?;
    txn.commit()?;
    if notify_refusal {
        notify::send(env, &Notice::PolicyRefused(&device));
    }
    Ok(response)
}
