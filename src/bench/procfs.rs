//! The server's memory and CPU, read from /proc/<pid> (Linux): VmRSS and VmHWM from `status`,
//! utime+stime from `stat`. Only works when the bench runs on the server's machine.

use std::fmt;
use std::time::Instant;

#[derive(Debug)]
pub enum ProcError {
    Read(u32, std::io::Error),
    Format(u32, &'static str),
}

impl fmt::Display for ProcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcError::Read(pid, e) => write!(f, "reading /proc/{pid}: {e}"),
            ProcError::Format(pid, what) => write!(f, "/proc/{pid}: no {what}"),
        }
    }
}

impl std::error::Error for ProcError {}

/// One reading of the server process.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Snapshot {
    pub rss_kb: u64,
    pub hwm_kb: u64,
    /// User plus system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Seconds since the bench started.
    pub at_s: f64,
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// utime + stime in clock ticks, from the fields after the parenthesised command name.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

pub fn snapshot(pid: u32, since: Instant) -> Result<Snapshot, ProcError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| ProcError::Read(pid, e))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| ProcError::Read(pid, e))?;
    Ok(Snapshot {
        rss_kb: status_kb(&status, "VmRSS:").ok_or(ProcError::Format(pid, "VmRSS"))?,
        hwm_kb: status_kb(&status, "VmHWM:").ok_or(ProcError::Format(pid, "VmHWM"))?,
        cpu_s: stat_ticks(&stat).ok_or(ProcError::Format(pid, "utime/stime"))? as f64
            / clock_ticks_per_sec(),
        at_s: since.elapsed().as_secs_f64(),
    })
}

/// A named reading, e.g. "pings held".
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Mark {
    pub name: String,
    #[serde(flatten)]
    pub at: Snapshot,
}

/// What the report says about the server.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ServerFigures {
    pub pid: u32,
    /// The highest VmRSS seen by the periodic sampling and the marks.
    pub peak_rss_kb: u64,
    pub last: Snapshot,
    /// CPU seconds the server used during the run, and as a share of one core.
    pub cpu_s: f64,
    pub cpu_percent: f64,
    pub marks: Vec<Mark>,
}

/// The server's readings through a run: sampled periodically for the peak, and at named moments.
pub struct ServerWatch {
    pid: u32,
    since: Instant,
    first: Snapshot,
    last: Snapshot,
    peak_rss_kb: u64,
    marks: Vec<Mark>,
}

impl ServerWatch {
    pub fn start(pid: u32, since: Instant) -> Result<ServerWatch, ProcError> {
        let first = snapshot(pid, since)?;
        Ok(ServerWatch {
            pid,
            since,
            first,
            last: first,
            peak_rss_kb: first.rss_kb,
            marks: vec![Mark {
                name: "start".into(),
                at: first,
            }],
        })
    }

    /// The reading taken when the run began.
    pub fn first(&self) -> Snapshot {
        self.first
    }

    /// A periodic reading; `None` once the process is gone (its last reading stays).
    pub fn sample(&mut self) -> Option<Snapshot> {
        let s = snapshot(self.pid, self.since).ok()?;
        self.peak_rss_kb = self.peak_rss_kb.max(s.rss_kb);
        self.last = s;
        Some(s)
    }

    pub fn mark(&mut self, name: &str) -> Option<Snapshot> {
        let s = self.sample()?;
        self.marks.push(Mark {
            name: name.to_string(),
            at: s,
        });
        Some(s)
    }

    pub fn finish(&mut self) -> ServerFigures {
        self.mark("end");
        let cpu_s = self.last.cpu_s - self.first.cpu_s;
        let wall = (self.last.at_s - self.first.at_s).max(1e-3);
        ServerFigures {
            pid: self.pid,
            peak_rss_kb: self.peak_rss_kb,
            last: self.last,
            cpu_s,
            cpu_percent: cpu_s / wall * 100.0,
            marks: self.marks.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process() {
        let s = snapshot(std::process::id(), Instant::now()).unwrap();
        assert!(s.rss_kb > 0 && s.hwm_kb >= s.rss_kb);
        assert!(s.cpu_s >= 0.0);
        assert!(matches!(
            snapshot(u32::MAX, Instant::now()),
            Err(ProcError::Read(..))
        ));
    }

    #[test]
    fn parses_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(stat_ticks(stat), Some(300));
        assert_eq!(status_kb("VmRSS:\t  1234 kB\n", "VmRSS:"), Some(1234));
    }
}
