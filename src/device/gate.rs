//! The device gate every authenticated EAS request passes before its command runs: it records the
//! device (first contact creates it, within the user's device limit), judges it by the ABQ rules,
//! delivers a pending remote wipe, demands provisioning, and holds a quarantined device to its
//! limits. Old protocol versions learn "provision first" from HTTP 449; 14.0 and later from a
//! Status in the command's own answer (MS-ASCMD 2.2.2).

use super::abq::{self, Access, Subject};
use super::notify::{self, Notice};
use super::policy::{self, PolicyKey, PolicySettings};
use super::registry::{self, Device, Txn, Wipe, WipeKind};
use super::{DeviceError, DeviceId, DeviceKey, Devices, time};
use crate::ProtocolVersion;
use crate::eas::{Command, Reply, Request};
use crate::wbxml::tags;
use crate::wbxml::{Element, Tag};

/// The MS-ASCMD common status codes the gate answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommonStatus {
    RemoteWipeRequested = 140,
    DeviceNotProvisioned = 142,
    PolicyRefresh = 143,
    InvalidPolicyKey = 144,
    MaximumDevicesReached = 177,
}

/// What the gate decided.
#[derive(Debug)]
pub enum Verdict {
    /// Run the command.
    Pass,
    /// Answer this instead.
    Answer(Reply),
}

/// Commands a quarantined device may use: default folders only, and nothing that fetches server
/// content outside Sync (whose handler sends nothing to a quarantined device).
const QUARANTINE_ALLOWED: &[Command] = &[
    Command::Provision,
    Command::Settings,
    Command::FolderSync,
    Command::Sync,
    Command::Ping,
    Command::GetItemEstimate,
    Command::SendMail,
    Command::SmartReply,
    Command::SmartForward,
    Command::MoveItems,
    Command::MeetingResponse,
];

/// Requests refused for want of a policy key before the owner and administrator are told that
/// the device does not take the policy (the first refusal is the normal start of provisioning).
const REFUSALS_BEFORE_NOTICE: u32 = 3;

/// The top element of a command's answer and its Status child, for the 14.0+ status answers.
fn answer_tags(cmd: Command) -> Option<(Tag, Tag)> {
    use tags::*;
    Some(match cmd {
        Command::Sync => (airsync::SYNC, airsync::STATUS),
        Command::FolderSync => (folderhierarchy::FOLDER_SYNC, folderhierarchy::STATUS),
        Command::FolderCreate => (folderhierarchy::FOLDER_CREATE, folderhierarchy::STATUS),
        Command::FolderDelete => (folderhierarchy::FOLDER_DELETE, folderhierarchy::STATUS),
        Command::FolderUpdate => (folderhierarchy::FOLDER_UPDATE, folderhierarchy::STATUS),
        Command::GetItemEstimate => (getitemestimate::GET_ITEM_ESTIMATE, getitemestimate::STATUS),
        Command::MoveItems => (move_::MOVE_ITEMS, move_::STATUS),
        Command::MeetingResponse => (meetingresponse::MEETING_RESPONSE, meetingresponse::STATUS),
        Command::Search => (search::SEARCH, search::STATUS),
        Command::Settings => (settings::SETTINGS, settings::STATUS),
        Command::Ping => (ping::PING, ping::STATUS),
        Command::ItemOperations => (itemoperations::ITEM_OPERATIONS, itemoperations::STATUS),
        Command::ResolveRecipients => (
            resolverecipients::RESOLVE_RECIPIENTS,
            resolverecipients::STATUS,
        ),
        Command::ValidateCert => (validatecert::VALIDATE_CERT, validatecert::STATUS),
        Command::SendMail => (composemail::SEND_MAIL, composemail::STATUS),
        Command::SmartReply => (composemail::SMART_REPLY, composemail::STATUS),
        Command::SmartForward => (composemail::SMART_FORWARD, composemail::STATUS),
        Command::Find => (find::FIND, find::STATUS),
        Command::Provision => (provision::PROVISION, provision::STATUS),
        Command::GetAttachment => return None,
    })
}

/// "Go and provision" (or "wipe", or "too many devices") in the form the version understands.
pub fn status_answer(cmd: Command, version: ProtocolVersion, status: CommonStatus) -> Reply {
    let old_form = if status == CommonStatus::MaximumDevicesReached {
        403
    } else {
        449
    };
    match answer_tags(cmd) {
        Some((top, st)) if version >= ProtocolVersion::V14_0 && top.supported_in(version) => {
            Reply::Wbxml(Element::new(top).with_text(st, (status as u16).to_string()))
        }
        _ => Reply::Status(old_form),
    }
}

/// Whether a wipe of `kind` can be sent to a device speaking `version`: AccountOnlyRemoteWipe
/// exists only in 16.1 (MS-ASPROV 2.2.2.1); older devices show it as not supported.
pub fn wipe_reachable(kind: WipeKind, version: ProtocolVersion) -> bool {
    kind == WipeKind::Full || version >= ProtocolVersion::V16_1
}

/// Runs the gate for one request.
pub fn check(devices: &Devices, req: &Request) -> Verdict {
    match check_device(devices, req) {
        Ok(v) => v,
        Err(DeviceError::BadDeviceId(id)) => {
            log::info!("[{}] bad DeviceId {id:?}", req.user);
            Verdict::Answer(Reply::Status(400))
        }
        Err(e) => {
            log::error!("{} [{}] device gate: {e}", req.query.device_id, req.user);
            Verdict::Answer(Reply::Status(503))
        }
    }
}

/// Last-seen times younger than this are not written again: most requests then need no write.
const SEEN_GRANULARITY_SECS: u64 = 60;

/// Everything the gate reads besides the device record.
struct Context<'a> {
    req: &'a Request,
    key: DeviceKey,
    policy: PolicySettings,
    rules: Vec<abq::Rule>,
    global: Access,
    info: Option<super::registry::DeviceInfo>,
    now: u64,
}

/// The gate's judgement of one request against one state of the device record.
struct Judged {
    device: Device,
    verdict: Verdict,
    notices: Vec<NoticeKind>,
    /// Only the last-seen time and protocol version moved (bookkeeping a crash may lose).
    only_seen: bool,
}

fn check_device(devices: &Devices, req: &Request) -> Result<Verdict, DeviceError> {
    let db = devices.db();
    let env = devices.env();
    let key = DeviceKey::new(&req.user, DeviceId::parse(&req.query.device_id)?);
    let cx = Context {
        policy: policy::levels::for_device(db, &env.base_policy(), &key)?,
        rules: abq::rules(db)?,
        global: abq::global(db)?,
        info: crate::eas::settings::device_info_in(req.query.cmd, req.tree.as_ref()),
        now: time::now(),
        key,
        req,
    };
    // The usual request changes nothing worth writing: judge it on a read snapshot first.
    if let Some(existing) = registry::get(db, &cx.key)? {
        let recent = cx.now.saturating_sub(existing.last_seen) < SEEN_GRANULARITY_SECS
            && existing.protocol == req.version.as_str();
        let judged = judge(&cx, Some(existing));
        if judged.only_seen && recent && judged.notices.is_empty() {
            return Ok(judged.verdict);
        }
    }
    let mut txn = Txn::begin(db)?;
    let existing = txn.get(&cx.key)?;
    if existing.is_none() {
        if let Some(max) = cx.policy.number(PolicyKey::MaxDevices) {
            let have = registry::count(&txn.devices()?, cx.key.user())?;
            if i64::try_from(have).unwrap_or(i64::MAX) >= max {
                log::info!(
                    "{} [{}] refused: the user already has {have} devices (limit {max})",
                    cx.key.id(),
                    cx.key.user()
                );
                return Ok(Verdict::Answer(status_answer(
                    req.query.cmd,
                    req.version,
                    CommonStatus::MaximumDevicesReached,
                )));
            }
        }
        txn.forget_wiped(&cx.key)?;
        log::info!(
            "{} [{}] new device ({})",
            cx.key.id(),
            cx.key.user(),
            req.query.device_type
        );
    }
    let judged = judge(&cx, existing);
    if judged.only_seen {
        txn.relax()?;
    }
    txn.put(&judged.device)?;
    txn.commit()?;
    for n in judged.notices {
        let notice = match n {
            NoticeKind::Quarantined => Notice::Quarantined(&judged.device),
            NoticeKind::PolicyRefused => Notice::PolicyRefused(&judged.device),
        };
        notify::send(env, &notice);
    }
    Ok(judged.verdict)
}

/// Updates the record with what the request tells and decides what the request gets.
fn judge(cx: &Context, existing: Option<Device>) -> Judged {
    let req = cx.req;
    let mut device = existing
        .clone()
        .unwrap_or_else(|| Device::new(&cx.key, &req.query.device_type, &req.user_agent, cx.now));
    device.device_type = req.query.device_type.to_string();
    device.user_agent.clone_from(&req.user_agent);
    device.protocol = req.version.to_string();
    device.last_seen = cx.now;
    if let Some(info) = &cx.info {
        device.info.merge(info);
    }

    let decision = abq::evaluate(&cx.rules, cx.global, &Subject::of(&device));
    let (access, reason) = match device.admin_access {
        Some(a) => (a, "set by the administrator".to_string()),
        None => (decision.access, decision.reason),
    };
    device.access = access;
    device.access_reason = reason;

    let mut notices = Vec::new();
    if access == Access::Quarantine && !device.quarantine_notified {
        device.quarantine_notified = true;
        notices.push(NoticeKind::Quarantined);
    } else if access != Access::Quarantine {
        device.quarantine_notified = false;
    }
    let verdict = decide(&mut device, req, &cx.policy, cx.now, &mut notices);
    let only_seen = existing.as_ref().is_some_and(|old| {
        let mut same = old.clone();
        same.last_seen = device.last_seen;
        same.protocol.clone_from(&device.protocol);
        same == device
    });
    Judged {
        device,
        verdict,
        notices,
        only_seen,
    }
}

enum NoticeKind {
    Quarantined,
    PolicyRefused,
}

fn decide(
    device: &mut Device,
    req: &Request,
    policy: &PolicySettings,
    now: u64,
    notices: &mut Vec<NoticeKind>,
) -> Verdict {
    let cmd = req.query.cmd;
    // A pending wipe comes first: neither a block nor a skipped Provision may hide it.
    if let Wipe::Pending { kind, signals, .. } = &mut device.wipe
        && wipe_reachable(*kind, req.version)
    {
        if cmd == Command::Provision {
            return Verdict::Pass;
        }
        *signals = signals.saturating_add(1);
        log::info!("{} [{}] {kind} pending: signalled", device.id, device.user);
        return Verdict::Answer(status_answer(
            cmd,
            req.version,
            CommonStatus::RemoteWipeRequested,
        ));
    }
    if device.access == Access::Block {
        return Verdict::Answer(Reply::Status(403));
    }
    if !matches!(cmd, Command::Provision | Command::Ping)
        && let Some(status) = provisioning_needed(device, req.policy_key, policy, now)
    {
        if status == CommonStatus::DeviceNotProvisioned {
            device.policy.refusals = device.policy.refusals.saturating_add(1);
            if device.policy.refusals >= REFUSALS_BEFORE_NOTICE && !device.policy.refusal_notified {
                device.policy.refusal_notified = true;
                notices.push(NoticeKind::PolicyRefused);
            }
        }
        return Verdict::Answer(status_answer(cmd, req.version, status));
    }
    if device.access == Access::Quarantine && !QUARANTINE_ALLOWED.contains(&cmd) {
        return Verdict::Answer(Reply::Status(403));
    }
    Verdict::Pass
}

/// Why the device must provision before this request, if it must.
fn provisioning_needed(
    device: &Device,
    sent: Option<u32>,
    policy: &PolicySettings,
    now: u64,
) -> Option<CommonStatus> {
    match sent.filter(|k| *k != 0) {
        // A device that sends no key does not take part in provisioning.
        None if policy.flag(PolicyKey::AllowNonProvisionable) => None,
        None => Some(CommonStatus::DeviceNotProvisioned),
        Some(k) if Some(k) == device.policy.key => {
            let changed = device.policy.fingerprint != policy.fingerprint();
            let refresh_due = policy
                .number(PolicyKey::RefreshIntervalHours)
                .and_then(|h| u64::try_from(h).ok())
                .is_some_and(|h| now.saturating_sub(device.policy.provisioned_at) >= h * 3600);
            (changed || refresh_due).then_some(CommonStatus::PolicyRefresh)
        }
        Some(_) => Some(CommonStatus::InvalidPolicyKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::policy::Value;

    fn device() -> Device {
        let key = DeviceKey::new("a@x.org", DeviceId::parse("d").unwrap());
        Device::new(&key, "t", "ua", 0)
    }

    #[test]
    fn provisioning_rules() {
        let mut policy = PolicySettings::default();
        let mut d = device();
        assert_eq!(provisioning_needed(&d, None, &policy, 10), None);
        policy.set(PolicyKey::AllowNonProvisionable, Value::Bool(false));
        assert_eq!(
            provisioning_needed(&d, Some(0), &policy, 10),
            Some(CommonStatus::DeviceNotProvisioned)
        );
        assert_eq!(
            provisioning_needed(&d, Some(7), &policy, 10),
            Some(CommonStatus::InvalidPolicyKey)
        );
        d.policy.key = Some(7);
        d.policy.fingerprint = policy.fingerprint();
        d.policy.provisioned_at = 10;
        assert_eq!(provisioning_needed(&d, Some(7), &policy, 20), None);
        policy.set(PolicyKey::RefreshIntervalHours, Value::Number(Some(1)));
        d.policy.fingerprint = policy.fingerprint();
        assert_eq!(provisioning_needed(&d, Some(7), &policy, 3000), None);
        assert_eq!(
            provisioning_needed(&d, Some(7), &policy, 3610),
            Some(CommonStatus::PolicyRefresh)
        );
        policy.set(PolicyKey::PasswordRequired, Value::Bool(true));
        assert_eq!(
            provisioning_needed(&d, Some(7), &policy, 20),
            Some(CommonStatus::PolicyRefresh)
        );
    }

    #[test]
    fn answers_by_version() {
        let r = status_answer(
            Command::FolderSync,
            ProtocolVersion::V14_1,
            CommonStatus::DeviceNotProvisioned,
        );
        let Reply::Wbxml(e) = r else { panic!() };
        assert_eq!(e.tag, tags::folderhierarchy::FOLDER_SYNC);
        assert_eq!(e.child_text(tags::folderhierarchy::STATUS), Some("142"));
        assert!(matches!(
            status_answer(
                Command::Sync,
                ProtocolVersion::V12_1,
                CommonStatus::PolicyRefresh
            ),
            Reply::Status(449)
        ));
        assert!(matches!(
            status_answer(
                Command::SendMail,
                ProtocolVersion::V14_0,
                CommonStatus::RemoteWipeRequested
            ),
            Reply::Wbxml(_)
        ));
        assert!(matches!(
            status_answer(
                Command::Find,
                ProtocolVersion::V14_1,
                CommonStatus::DeviceNotProvisioned
            ),
            Reply::Status(449)
        ));
        assert!(matches!(
            status_answer(
                Command::Sync,
                ProtocolVersion::V12_1,
                CommonStatus::MaximumDevicesReached
            ),
            Reply::Status(403)
        ));
        assert!(wipe_reachable(WipeKind::Full, ProtocolVersion::V12_1));
        assert!(!wipe_reachable(
            WipeKind::AccountOnly,
            ProtocolVersion::V16_0
        ));
    }
}
