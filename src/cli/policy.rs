//! `easd policy show|set|inherit --level global|domain:D|user:U|device:ID [key=value ...]`.

use super::admin::{assignments, failed, positional};
use super::{Args, CliError};
use crate::device::Devices;
use crate::device::policy::PolicyKey;
use crate::device::policy::levels::{self, Level, Source};
use std::fmt::Write;

pub fn execute(devices: &Devices, args: &Args) -> Result<String, CliError> {
    let db = devices.db();
    let base = devices.env().base_policy();
    if positional(args, 0, "a policy command")? == "keys" {
        return Ok(keys());
    }
    let level_text = args.value("level").ok_or_else(|| {
        CliError::Usage("--level global|domain:D|user:U|device:ID is required".into())
    })?;
    let level = Level::parse(level_text, db).map_err(failed)?;
    match positional(args, 0, "a policy command")? {
        "show" => show(db, &base, &level),
        "set" => {
            let changes = assignments(args, 1)?;
            if changes.is_empty() {
                return Err(CliError::Usage(
                    "policy set needs key=value arguments".into(),
                ));
            }
            levels::set(db, &base, &level, &changes).map_err(failed)?;
            show(db, &base, &level)
        }
        "inherit" => {
            let was = levels::inherit(db, &level).map_err(failed)?;
            let mut out = if was {
                format!("{level}: now inherits\n")
            } else {
                format!("{level}: already inherited\n")
            };
            out.push_str(&show(db, &base, &level)?);
            Ok(out)
        }
        other => Err(CliError::Usage(format!("unknown policy command {other:?}"))),
    }
}

/// Every key with its default and what it means.
fn keys() -> String {
    let mut out = String::new();
    for key in PolicyKey::ALL {
        let _ = writeln!(
            out,
            "{:<46} {:<8} {}",
            key.name(),
            key.default_value().to_string(),
            key.help()
        );
    }
    out
}

fn show(
    db: &redb::Database,
    base: &crate::device::policy::PolicySettings,
    level: &Level,
) -> Result<String, CliError> {
    let r = levels::resolve(db, base, level).map_err(failed)?;
    let mut out = format!("level {level}: {}\n", r.source);
    let origin = match &r.source {
        Source::Customised => "customised".to_string(),
        other => other.to_string(),
    };
    for (key, value) in r.settings.iter() {
        let _ = writeln!(out, "{:<46} {:<12} {origin}", key.name(), value.to_string());
    }
    Ok(out)
}
