//! `easd abq ...`: the ABQ rules. `list`; `global --action A`; `add --on os|model|type|domain|user
//! --value V --action allow|block|quarantine [--description D] [--disabled]`; `edit ID [--on O] [--value V]
//! [--action A] [--description D]`; `rm|enable|disable ID`.

use super::admin::{failed, positional};
use super::{Args, CliError};
use crate::device::Devices;
use crate::device::abq::{self, Access, RuleOn};
use std::fmt::Write;

fn action(args: &Args) -> Result<Access, CliError> {
    args.value("action")
        .ok_or_else(|| CliError::Usage("--action allow|block|quarantine is required".into()))?
        .parse()
        .map_err(failed)
}

fn rule_id(args: &Args) -> Result<u64, CliError> {
    positional(args, 1, "a rule id")?
        .parse()
        .map_err(|_| CliError::Usage("a rule id is a number".into()))
}

pub fn execute(devices: &Devices, args: &Args) -> Result<String, CliError> {
    let db = devices.db();
    match positional(args, 0, "an abq command")? {
        "list" => {
            let mut out = format!("global rule: {}\n", abq::global(db).map_err(failed)?);
            let _ = writeln!(
                out,
                "{:<4} {:<8} {:<7} {:<24} {:<10} DESCRIPTION",
                "ID", "ENABLED", "ON", "VALUE", "ACTION"
            );
            for r in abq::rules(db).map_err(failed)? {
                let _ = writeln!(
                    out,
                    "{:<4} {:<8} {:<7} {:<24} {:<10} {}",
                    r.id,
                    if r.enabled { "yes" } else { "no" },
                    r.on.to_string(),
                    r.value,
                    r.action.to_string(),
                    r.description
                );
            }
            Ok(out)
        }
        "global" => {
            let a = action(args)?;
            abq::set_global(db, a).map_err(failed)?;
            Ok(format!("global rule: {a}\n"))
        }
        "add" => {
            let on: RuleOn = args
                .value("on")
                .ok_or_else(|| {
                    CliError::Usage("--on os|model|type|domain|user is required".into())
                })?
                .parse()
                .map_err(failed)?;
            let value = args
                .value("value")
                .ok_or_else(|| CliError::Usage("--value is required".into()))?;
            let rule = abq::add(
                db,
                on,
                value,
                action(args)?,
                args.value("description").unwrap_or(""),
            )
            .map_err(failed)?;
            if args.switch("disabled") {
                abq::set_enabled(db, rule.id, false).map_err(failed)?;
                return Ok(format!("added {rule}, disabled\n"));
            }
            Ok(format!("added {rule}\n"))
        }
        "edit" => {
            let id = rule_id(args)?;
            let mut rule = abq::rules(db)
                .map_err(failed)?
                .into_iter()
                .find(|r| r.id == id)
                .ok_or_else(|| failed(crate::device::DeviceError::UnknownRule(id)))?;
            if let Some(on) = args.value("on") {
                rule.on = on.parse().map_err(failed)?;
            }
            if let Some(value) = args.value("value") {
                rule.value = value.to_string();
            }
            if args.value("action").is_some() {
                rule.action = action(args)?;
            }
            if let Some(d) = args.value("description") {
                rule.description = d.to_string();
            }
            let rule = abq::update(db, &rule).map_err(failed)?;
            Ok(format!("changed {rule}\n"))
        }
        "rm" => {
            let id = rule_id(args)?;
            abq::remove(db, id).map_err(failed)?;
            Ok(format!("removed rule {id}\n"))
        }
        cmd @ ("enable" | "disable") => {
            let id = rule_id(args)?;
            abq::set_enabled(db, id, cmd == "enable").map_err(failed)?;
            Ok(format!("rule {id} {cmd}d\n"))
        }
        other => Err(CliError::Usage(format!("unknown abq command {other:?}"))),
    }
}
