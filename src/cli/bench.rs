//! `easd bench <scenario> --url URL --user U --password P [...]`: the load generator's flags,
//! turned into `bench::Settings`; the report goes to stdout as a table or, with --json, as one
//! JSON object.

use super::{Args, CliError};
use crate::bench::{self, Account, BenchError, Notify, Scenario, Settings};
use std::time::Duration;

pub const VALUE_FLAGS: &[&str] = &[
    "url",
    "user",
    "password",
    "devices",
    "version",
    "duration",
    "server-pid",
    "users-file",
    "folder",
    "heartbeat",
    "hold",
    "window",
    "truncation",
    "concurrency",
    "device-prefix",
    "timeout",
    "rounds",
    "round-timeout",
    "prepare",
    "trigger",
    "notify",
    "notify-secret",
    "notify-rate",
    "sink",
    "search",
    "think-ms",
];

fn number<T: std::str::FromStr>(args: &Args, name: &str) -> Result<Option<T>, CliError> {
    args.value(name)
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| CliError::Usage(format!("--{name}: {v:?} is not a number")))
        })
        .transpose()
}

fn secs(args: &Args, name: &str) -> Result<Option<Duration>, CliError> {
    Ok(number::<f64>(args, name)?
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64))
}

/// `--users-file`: one account a line, `email [password]` (the password defaults to
/// --password); blank lines and `#` comments are skipped.
fn read_users(path: &str, password: Option<&str>) -> Result<Vec<Account>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Failed(format!("reading {path}: {e}")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, pw) = match line.split_once(char::is_whitespace) {
            Some((u, p)) => (u, Some(p.trim())),
            None => (line, password),
        };
        let pw = pw.ok_or_else(|| {
            CliError::Usage(format!(
                "{path}:{}: no password on the line and no --password",
                i + 1
            ))
        })?;
        out.push(Account {
            user: user.to_string(),
            password: pw.to_string(),
        });
    }
    Ok(out)
}

pub fn settings(args: &Args) -> Result<Settings, CliError> {
    let scenario: Scenario = match args.positional.as_slice() {
        [s] => s
            .parse()
            .map_err(|e: BenchError| CliError::Usage(e.to_string()))?,
        _ => {
            return Err(CliError::Usage(
                "usage: easd bench initial-sync|ping-hold|push-latency|mixed --url URL --user U --password P ..."
                    .into(),
            ));
        }
    };
    let url = args
        .value("url")
        .ok_or_else(|| CliError::Usage("--url is required".into()))?;
    let accounts = match (
        args.value("users-file"),
        args.value("user"),
        args.value("password"),
    ) {
        (Some(f), _, pw) => read_users(f, pw)?,
        (None, Some(u), Some(p)) => vec![Account {
            user: u.to_string(),
            password: p.to_string(),
        }],
        _ => {
            return Err(CliError::Usage(
                "--user U --password P (or --users-file F) are required".into(),
            ));
        }
    };
    let mut s = Settings::new(scenario, url, accounts);
    s.insecure = args.switch("insecure");
    if let Some(n) = number(args, "devices")? {
        s.devices = n;
    }
    if let Some(v) = args.value("version") {
        s.version = v
            .parse()
            .map_err(|_| CliError::Usage(format!("--version: unknown EAS version {v:?}")))?;
    }
    if let Some(d) = secs(args, "duration")? {
        s.duration = d;
    }
    s.server_pid = number(args, "server-pid")?;
    s.folder = args.value("folder").map(str::to_string);
    s.heartbeat = number(args, "heartbeat")?;
    s.hold = secs(args, "hold")?;
    if let Some(w) = number(args, "window")? {
        s.window = w;
    }
    if let Some(t) = number(args, "truncation")? {
        s.truncation = t;
    }
    if let Some(c) = number(args, "concurrency")? {
        s.concurrency = c;
    }
    if let Some(p) = args.value("device-prefix") {
        s.device_prefix = p.to_string();
    }
    if let Some(t) = secs(args, "timeout")? {
        s.timeout = t;
    }
    if let Some(r) = number(args, "rounds")? {
        s.rounds = r;
    }
    if let Some(t) = secs(args, "round-timeout")? {
        s.round_timeout = t;
    }
    s.prepare = args.value("prepare").map(str::to_string);
    s.trigger = args.value("trigger").map(str::to_string);
    if let Some(addr) = args.value("notify") {
        s.notify = Some(Notify {
            addr: addr
                .parse()
                .map_err(|_| CliError::Usage(format!("--notify: {addr:?} is not HOST:PORT")))?,
            secret: args.value("notify-secret").map(str::to_string),
            rate: number::<u32>(args, "notify-rate")?.filter(|r| *r > 0),
        });
    }
    s.sink = args.value("sink").map(str::to_string);
    if let Some(w) = args.value("search") {
        s.search_word = w.to_string();
    }
    if let Some(ms) = number::<u64>(args, "think-ms")? {
        s.think = Duration::from_millis(ms);
    }
    if scenario == Scenario::PushLatency && s.trigger.is_none() && s.notify.is_none() {
        return Err(CliError::Usage(
            "push-latency needs --trigger 'shell command' or --notify HOST:PORT".into(),
        ));
    }
    Ok(s)
}

pub fn run(args: &Args) -> Result<(), CliError> {
    let settings = settings(args)?;
    let report = bench::run(settings).map_err(|e| match e {
        BenchError::Usage(m) => CliError::Usage(m),
        BenchError::Setup(m) => CliError::Failed(m),
    })?;
    if args.switch("json") {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}
