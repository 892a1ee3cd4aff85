//! `easd device ...`: list, show, allow / block / quarantine, remove, wipe, account-wipe, set
//! (folder options and filters), similar (a server ABQ rule from a device), log (its EAS trace).

use super::admin::{assignments, failed, positional};
use super::{Args, CliError};
use crate::ProtocolVersion;
use crate::device::abq::{self, Access, RuleOn};
use crate::device::registry::{self, Device, Txn, Wipe, WipeKind, Wiped};
use crate::device::{Devices, gate, time};
use std::fmt::Write;

pub fn execute(devices: &Devices, args: &Args) -> Result<String, CliError> {
    let db = devices.db();
    let action = positional(args, 0, "a device command")?;
    if action == "list" {
        return list(devices, args);
    }
    let id = positional(args, 1, "a device id")?;
    let device = registry::resolve(db, id).map_err(failed)?;
    let key = device.key().map_err(failed)?;
    let access = |a: Access| -> Result<String, CliError> {
        registry::modify(db, &key, |d| {
            d.admin_access = Some(a);
            d.access = a;
            d.access_reason = "set by the administrator".into();
        })
        .map_err(failed)?;
        Ok(format!("{key}: {a}\n"))
    };
    match action {
        "show" => Ok(show(&device)),
        "allow" => access(Access::Allow),
        "block" => access(Access::Block),
        "quarantine" => access(Access::Quarantine),
        "remove" => {
            registry::remove(db, &key).map_err(failed)?;
            Ok(format!(
                "{key}: removed; it will sync again from scratch (no mail or PIM data was touched)\n"
            ))
        }
        "wipe" | "account-wipe" => {
            let kind = if action == "wipe" {
                WipeKind::Full
            } else {
                WipeKind::AccountOnly
            };
            let txn = Txn::begin(db).map_err(failed)?;
            let mut d = txn
                .get(&key)
                .map_err(failed)?
                .ok_or_else(|| CliError::Failed(format!("no device {key}")))?;
            d.wipe = Wipe::Pending {
                kind,
                requested_at: time::now(),
                signals: 0,
            };
            txn.put(&d).map_err(failed)?;
            txn.commit().map_err(failed)?;
            let version = d.protocol.parse::<ProtocolVersion>().ok();
            let note = match version {
                Some(v) if !gate::wipe_reachable(kind, v) => format!(
                    " (not supported: the device speaks {v}; an account-only wipe needs 16.1)"
                ),
                _ => " (sent on the device's next request)".to_string(),
            };
            Ok(format!("{key}: {kind} pending{note}\n"))
        }
        "set" => {
            let changes = assignments(args, 2)?;
            if changes.is_empty() {
                return Ok(format!("{}\n", device.options));
            }
            let options = registry::modify(db, &key, |d| {
                let mut o = d.options.clone();
                for (k, v) in &changes {
                    o.set(k, v)?;
                }
                d.options = o.clone();
                Ok(o)
            })
            .map_err(failed)?
            .map_err(failed)?;
            Ok(format!("{options}\n"))
        }
        "similar" => {
            let on: RuleOn = args
                .value("on")
                .ok_or_else(|| CliError::Usage("--on os|model|type is required".into()))?
                .parse()
                .map_err(failed)?;
            let value = abq::similar(&device, on).map_err(failed)?;
            let action = match args.value("action") {
                Some(a) => a.parse().map_err(failed)?,
                None => device.access,
            };
            let description = args
                .value("description")
                .map_or_else(|| format!("similar to {key}"), String::from);
            let rule = abq::add(db, on, &value, action, &description).map_err(failed)?;
            Ok(format!("added {rule}\n"))
        }
        "log" => devices
            .trace()
            .read(key.id())
            .map_err(|e| CliError::Failed(format!("no trace for {key}: {e}"))),
        other => Err(CliError::Usage(format!("unknown device command {other:?}"))),
    }
}

fn list(devices: &Devices, args: &Args) -> Result<String, CliError> {
    let db = devices.db();
    let user = args.value("user");
    let all = registry::list(db, user).map_err(failed)?;
    let wiped: Vec<Wiped> = registry::wiped(db)
        .map_err(failed)?
        .into_iter()
        .filter(|w| user.is_none_or(|u| w.device.user.eq_ignore_ascii_case(u)))
        .collect();
    if args.switch("json") {
        let mut out: Vec<serde_json::Value> = all
            .iter()
            .map(|d| {
                let mut v = serde_json::to_value(d).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("wipe_status".into(), d.wipe_status().into());
                    o.insert("policy_status".into(), d.policy.status.to_string().into());
                    o.insert("visible_to_owner".into(), d.visible_to_owner().into());
                }
                v
            })
            .collect();
        for w in &wiped {
            let mut v = serde_json::to_value(&w.device).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("wipe_status".into(), format!("done ({})", w.kind).into());
                o.insert("wiped_at".into(), w.wiped_at.into());
            }
            out.push(v);
        }
        let mut text = serde_json::to_string_pretty(&out).unwrap_or_default();
        text.push('\n');
        return Ok(text);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<40} {:<12} {:<16} {:<16} {:<10} {:<22} {:<26} LAST SEEN",
        "DEVICE", "TYPE", "MODEL", "OS", "ACCESS", "POLICY", "REMOTE WIPE"
    );
    let row = |out: &mut String, d: &Device, wipe: &str, seen: u64| {
        let _ = writeln!(
            out,
            "{:<40} {:<12} {:<16} {:<16} {:<10} {:<22} {:<26} {}",
            format!("{}/{}", d.user, d.id),
            d.device_type,
            d.info.model.as_deref().unwrap_or("-"),
            d.info.os.as_deref().unwrap_or("-"),
            d.access.to_string(),
            d.policy.status.to_string(),
            wipe,
            time::eas(seen)
        );
    };
    for d in &all {
        row(&mut out, d, &d.wipe_status(), d.last_seen);
    }
    for w in &wiped {
        row(
            &mut out,
            &w.device,
            &format!("done ({})", w.kind),
            w.wiped_at,
        );
    }
    Ok(out)
}

fn show(d: &Device) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<20} {v}");
    };
    line("device", format!("{}/{}", d.user, d.id));
    line("type", d.device_type.clone());
    line("user agent", d.user_agent.clone());
    line("model", opt(&d.info.model));
    line("os", opt(&d.info.os));
    line("os language", opt(&d.info.os_language));
    line("imei", opt(&d.info.imei));
    line("friendly name", opt(&d.info.friendly_name));
    line("phone number", opt(&d.info.phone_number));
    line("mobile operator", opt(&d.info.mobile_operator));
    line("protocol", d.protocol.clone());
    line("first sync", time::eas(d.first_seen));
    line("last sync", time::eas(d.last_seen));
    line("access", format!("{} ({})", d.access, d.access_reason));
    line("policy", d.policy.status.to_string());
    line(
        "policy refreshed",
        if d.policy.provisioned_at == 0 {
            "-".into()
        } else {
            time::eas(d.policy.provisioned_at)
        },
    );
    line("remote wipe", d.wipe_status());
    line("recovery password", opt(&d.recovery_password));
    for l in d.options.to_string().lines() {
        if let Some((k, v)) = l.split_once('=') {
            line(&format!("option {k}"), v.to_string());
        }
    }
    out
}
