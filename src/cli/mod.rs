//! The `easd` command line: a subcommand, then `--flag value` pairs and positional arguments.

mod abq;
mod admin;
mod bench;
mod deliver;
mod device;
mod doctor;
mod notify;
mod policy;
mod serve;

/// Runs one `easd device|abq|policy` command on open device state: the web console's actions
/// go through it too.
pub use admin::execute as execute_admin;

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;

pub const HELP: &str = "\
easd — Exchange ActiveSync server for Maildir and vdir data

Usage:
  easd serve --config FILE           run the server
  easd check-config --config FILE    validate a configuration file and exit
  easd doctor --config FILE          check DNS, certificate, listeners and setup; say what to fix
  easd hash-password                 read a password on stdin, print its argon2id hash
  easd notify --config F EMAIL [FOLDER]
                                     wake the user's Direct Push (FOLDER: INBOX, Sent, dav:calendar, * ...)
  easd deliver --config FILE EMAIL [--folder NAME]
                                     store the message on stdin in EMAIL's Maildir
  easd bench initial-sync|ping-hold|push-latency|mixed --url URL --user U --password P
             [--devices N] [--version 14.1] [--duration S] [--server-pid PID] [--json]
                                     simulated phones against any EAS server; see the README, Measuring
             [--users-file F] [--insecure] [--folder NAME] [--heartbeat S] [--concurrency N]
             [--window N] [--truncation BYTES] [--timeout S] [--device-prefix P]
             ping-hold: [--hold S]
             push-latency: [--trigger CMD] [--prepare CMD] [--notify HOST:PORT
             [--notify-secret S] [--notify-rate PER_SEC]] [--rounds N] [--round-timeout S]
             mixed: [--sink EMAIL] [--search WORD] [--think-ms MS]

Device management (through the running server's control socket, or on the database when it is
stopped; ID is a DeviceId, or USER/ID when several users have it):
  easd device list --config F [--user U] [--json]
  easd device show|log --config F ID
  easd device allow|block|quarantine|remove|wipe|account-wipe --config F ID
  easd device set --config F ID [key=value ...]
                                     folder options and filters: groupware=default|all|all-as-mail
                                     mail_folders=default|all archives= public= shared= html=
                                     attachments= (true|false) mail_sync_days= calendar_days=
                                     max_attachment_bytes= (N|none) truncation=-1|0|N
  easd device similar --config F ID --on os|model|type [--action A]
                                     ABQ rule for devices like this one
  easd abq list --config F
  easd abq global --config F --action allow|block|quarantine
  easd abq add --config F --on os|model|type|domain|user --value V
                --action allow|block|quarantine [--description D] [--disabled]
  easd abq edit --config F RULE [--on O] [--value V] [--action A] [--description D]
  easd abq rm|enable|disable --config F RULE
  easd policy show|inherit --config F --level global|domain:D|user:U|device:ID
  easd policy set --config F --level LEVEL key=value ...
  easd policy keys --config F        every key, its default (no constraint) and meaning

  easd --version                     print the version
  easd help                          this text
";

#[derive(Debug)]
pub enum CliError {
    Usage(String),
    Failed(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => write!(f, "{m}\n\n{HELP}"),
            CliError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

/// Parsed arguments after the subcommand.
pub struct Args {
    flags: HashMap<String, String>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// `value_flags` take a value (`--config F` or `--config=F`); any other `--x` is a switch.
    pub fn parse(args: &[String], value_flags: &[&str]) -> Result<Args, CliError> {
        let mut out = Args {
            flags: HashMap::new(),
            switches: Vec::new(),
            positional: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if value_flags.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| CliError::Usage(format!("--{name} needs a value")))?,
                    };
                    out.flags.insert(name.to_string(), v);
                } else {
                    out.switches.push(name.to_string());
                }
            } else {
                out.positional.push(a.clone());
            }
        }
        Ok(out)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags.get(name).map(String::as_str)
    }

    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn config_path(&self) -> Result<PathBuf, CliError> {
        self.value("config")
            .map(PathBuf::from)
            .ok_or_else(|| CliError::Usage("--config FILE is required".into()))
    }

    pub fn load_config(&self) -> Result<crate::config::Config, CliError> {
        crate::config::Config::load(&self.config_path()?)
            .map_err(|e| CliError::Failed(e.to_string()))
    }
}

pub fn run(argv: &[String]) -> Result<(), CliError> {
    let Some((cmd, rest)) = argv.split_first() else {
        return Err(CliError::Usage("no command given".into()));
    };
    match cmd.as_str() {
        "serve" => serve::run(&Args::parse(rest, &["config"])?),
        "notify" => notify::run(&Args::parse(rest, &["config"])?),
        "deliver" => deliver::run(&Args::parse(rest, &["config", "folder"])?),
        group @ ("device" | "abq" | "policy") => admin::run(group, rest),
        "doctor" => doctor::run(&Args::parse(rest, &["config"])?),
        "bench" => bench::run(&Args::parse(rest, bench::VALUE_FLAGS)?),
        "check-config" => {
            let args = Args::parse(rest, &["config"])?;
            let path = args.config_path()?;
            args.load_config()?;
            println!("{}: ok", path.display());
            Ok(())
        }
        "hash-password" => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .map_err(|e| CliError::Failed(format!("reading stdin: {e}")))?;
            let password = input.strip_suffix('\n').unwrap_or(&input);
            let password = password.strip_suffix('\r').unwrap_or(password);
            if password.is_empty() {
                return Err(CliError::Failed("empty password on stdin".into()));
            }
            let hash = crate::auth::hash_password(password)
                .map_err(|e| CliError::Failed(e.to_string()))?;
            println!("{hash}");
            Ok(())
        }
        "--version" | "-V" | "version" => {
            println!("easd {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(CliError::Usage(format!("unknown command {other:?}"))),
    }
}
