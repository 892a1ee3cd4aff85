//! A small `log` backend: plain lines on stderr, or, when systemd started us (JOURNAL_STREAM is set),
//! lines with `<N>` syslog priority prefixes that journald turns into proper log levels.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

struct Logger {
    journald: bool,
    level: LevelFilter,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level && !noisy(metadata.target(), metadata.level())
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = if self.journald {
            let prio = match record.level() {
                Level::Error => 3,
                Level::Warn => 4,
                Level::Info => 6,
                Level::Debug | Level::Trace => 7,
            };
            format!("<{prio}>{}\n", record.args())
        } else {
            format!("{} {:5} {}\n", clock(), record.level(), record.args())
        };
        // One write per line so lines from different threads never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Dependencies' debug chatter (hyper, rustls, redb) drowns the EAS trace; keep only their warnings.
fn noisy(target: &str, level: Level) -> bool {
    level > Level::Info && !target.starts_with("easd")
}

/// `HH:MM:SS` in UTC, the format of the guide's EAS trace.
pub fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// Installs the logger once; `EASD_LOG` (error..trace) overrides the configured level.
pub fn init(configured: Option<&str>) {
    let level = std::env::var("EASD_LOG")
        .ok()
        .or(configured.map(str::to_string))
        .and_then(|l| l.parse().ok())
        .unwrap_or(LevelFilter::Info);
    let logger = Logger {
        journald: std::env::var_os("JOURNAL_STREAM").is_some(),
        level,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
}
