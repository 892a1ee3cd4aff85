//! The admin commands on device state (`easd device|abq|policy ...`): sent to the running server
//! through its control socket when one listens, otherwise run here on the database directly.
//! Either way `execute` does the work, so the output is the same.

use super::{Args, CliError};
use crate::device::{Devices, Environment, control};
use std::sync::Arc;

/// Flags that take a value in the admin commands.
pub const VALUE_FLAGS: &[&str] = &[
    "config",
    "user",
    "level",
    "on",
    "value",
    "action",
    "description",
];

/// `easd <group> ...` from the command line.
pub fn run(group: &str, rest: &[String]) -> Result<(), CliError> {
    let args = Args::parse(rest, VALUE_FLAGS)?;
    let config = args.load_config()?;
    let mut argv = vec![group.to_string()];
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--config" => {
                it.next();
            }
            s if s.starts_with("--config=") => {}
            _ => argv.push(a.clone()),
        }
    }
    let socket = control::socket_path(&config.server.data_dir);
    let failed = |e: String| CliError::Failed(e);
    let output = match control::request(&socket, &argv)
        .map_err(|e| failed(format!("control socket {}: {e}", socket.display())))?
    {
        Some(answer) => answer.map_err(failed)?,
        None => {
            let path = config.state_path();
            std::fs::create_dir_all(&config.server.data_dir)
                .map_err(|e| failed(format!("{}: {e}", config.server.data_dir.display())))?;
            let db = crate::state::open_db(&path, (config.state.cache_mib as usize) << 20)
                .map_err(|e| {
                    failed(format!(
                        "{}: {e} (is a server running without its control socket?)",
                        path.display()
                    ))
                })?;
            // The same check the server makes, so a file the CLI creates is stamped as easd's.
            crate::state::identity::check_or_stamp(&db)
                .map_err(|e| failed(format!("{}: {e}", path.display())))?;
            let devices = Devices::open(Arc::new(db), Environment::from_config(&config))
                .map_err(|e| failed(e.to_string()))?;
            execute(&devices, &argv)?
        }
    };
    print!("{output}");
    Ok(())
}

/// Runs one admin command (`["device", "list", ...]`) and returns what it prints.
pub fn execute(devices: &Devices, argv: &[String]) -> Result<String, CliError> {
    let Some((group, rest)) = argv.split_first() else {
        return Err(CliError::Usage("no command given".into()));
    };
    let args = Args::parse(rest, VALUE_FLAGS)?;
    match group.as_str() {
        "device" => super::device::execute(devices, &args),
        "abq" => super::abq::execute(devices, &args),
        "policy" => super::policy::execute(devices, &args),
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    }
}

/// Turns a device-management error into a CLI failure.
pub fn failed(e: crate::device::DeviceError) -> CliError {
    CliError::Failed(e.to_string())
}

/// The positional argument at `i`, or a usage error naming it.
pub fn positional<'a>(args: &'a Args, i: usize, what: &str) -> Result<&'a str, CliError> {
    args.positional
        .get(i)
        .map(String::as_str)
        .ok_or_else(|| CliError::Usage(format!("{what} is required")))
}

/// `key=value` arguments from position `from` on.
pub fn assignments(args: &Args, from: usize) -> Result<Vec<(String, String)>, CliError> {
    args.positional
        .iter()
        .skip(from)
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| CliError::Usage(format!("{a:?} is not key=value")))
        })
        .collect()
}
