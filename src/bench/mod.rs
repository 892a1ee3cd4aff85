//! `easd bench`: simulated phones against any /Microsoft-Server-ActiveSync URL, over real sockets
//! with easd's own client and WBXML types. Each scenario is its own module; they share the
//! phone (`session`), the counters and report (`report`, `latency`) and the server readings from
//! /proc (`procfs`).

pub mod initial_sync;
pub mod latency;
pub mod mixed;
pub mod ping_hold;
pub mod procfs;
pub mod push_latency;
pub mod report;
pub mod session;

use crate::ProtocolVersion;
use crate::client::{Device, Target};
use procfs::ServerWatch;
use report::{Report, Tally};
use session::Phone;
use smol::{LocalExecutor, Timer};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::str::FromStr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    InitialSync,
    PingHold,
    PushLatency,
    Mixed,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::InitialSync,
        Scenario::PingHold,
        Scenario::PushLatency,
        Scenario::Mixed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::InitialSync => "initial-sync",
            Scenario::PingHold => "ping-hold",
            Scenario::PushLatency => "push-latency",
            Scenario::Mixed => "mixed",
        }
    }

    /// How long a run lasts at most when `--duration` is not given.
    pub fn default_duration(self) -> Duration {
        Duration::from_secs(match self {
            Scenario::InitialSync => 600,
            Scenario::PingHold => 30,
            Scenario::PushLatency => 120,
            Scenario::Mixed => 60,
        })
    }
}

impl FromStr for Scenario {
    type Err = BenchError;
    fn from_str(s: &str) -> Result<Scenario, BenchError> {
        Scenario::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| BenchError::Usage(format!("unknown scenario {s:?}")))
    }
}

#[derive(Debug)]
pub enum BenchError {
    Usage(String),
    Setup(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Usage(m) | BenchError::Setup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BenchError {}

/// One account the devices log in with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: String,
    pub password: String,
}

/// How the push-latency scenario makes a change happen in each round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// The server's UDP notification listener.
    pub addr: SocketAddr,
    pub secret: Option<String>,
    /// Datagrams per second; as fast as one socket sends them when `None` (the burst).
    pub rate: Option<u32>,
}

/// Everything a run needs; `easd bench`'s flags map onto it one to one.
#[derive(Clone, Debug)]
pub struct Settings {
    pub scenario: Scenario,
    pub url: String,
    pub insecure: bool,
    /// Device n logs in as `accounts[n % accounts.len()]`.
    pub accounts: Vec<Account>,
    pub devices: usize,
    pub version: ProtocolVersion,
    /// The bound of the whole run.
    pub duration: Duration,
    pub server_pid: Option<u32>,
    /// The mail folder to work on, by display name; the Inbox when `None`.
    pub folder: Option<String>,
    pub heartbeat: Option<u32>,
    /// ping-hold: how long to watch the held Pings; until the end of the run when `None`.
    pub hold: Option<Duration>,
    pub window: u32,
    pub truncation: u32,
    /// How many devices set up (FolderSync, priming) at the same time.
    pub concurrency: usize,
    pub device_prefix: String,
    /// The bound of one request (a Ping's is its heartbeat plus this).
    pub timeout: Duration,
    pub rounds: u32,
    pub round_timeout: Duration,
    /// Run untimed before each round (e.g. drop a message into every Maildir).
    pub prepare: Option<String>,
    /// Run timed in each round: the time to Status 2 counts from its start.
    pub trigger: Option<String>,
    /// Instead of (or after) a trigger: send each user's datagram and time from it.
    pub notify: Option<Notify>,
    /// Where mixed's SendMail goes; the sending user's own address when `None`.
    pub sink: Option<String>,
    pub search_word: String,
    /// Mean think time between a mixed device's requests.
    pub think: Duration,
}

impl Settings {
    /// Defaults for everything but the target and the accounts.
    pub fn new(scenario: Scenario, url: &str, accounts: Vec<Account>) -> Settings {
        Settings {
            scenario,
            url: url.to_string(),
            insecure: false,
            accounts,
            devices: 1,
            version: ProtocolVersion::V14_1,
            duration: scenario.default_duration(),
            server_pid: None,
            folder: None,
            heartbeat: None,
            hold: None,
            window: 100,
            truncation: 5120,
            concurrency: 64,
            device_prefix: "easdbench".into(),
            timeout: Duration::from_secs(60),
            rounds: 5,
            round_timeout: Duration::from_secs(10),
            prepare: None,
            trigger: None,
            notify: None,
            sink: None,
            search_word: "meeting".into(),
            think: Duration::from_millis(1000),
        }
    }

    fn users(&self) -> usize {
        self.accounts.len().min(self.devices)
    }

    /// The heartbeat of held Pings: outlasting the run, within the 60 s – 30 min that EAS
    /// servers commonly allow.
    pub fn ping_heartbeat(&self) -> u32 {
        self.heartbeat
            .unwrap_or_else(|| (self.duration.as_secs() + 60).clamp(60, 1800) as u32)
    }
}

/// What a scenario adds to the report beyond the shared counters.
#[derive(Debug, Default)]
pub struct Outcome {
    pub items_per_s: Option<f64>,
    pub figures: BTreeMap<String, f64>,
    pub notes: Vec<String>,
}

/// What the scenarios share while they run.
pub struct Ctx {
    pub settings: Settings,
    pub target: Target,
    pub tally: Rc<RefCell<Tally>>,
    pub watch: Option<Rc<RefCell<ServerWatch>>>,
    pub ex: Rc<LocalExecutor<'static>>,
    pub start: Instant,
    pub deadline: Instant,
}

impl Ctx {
    /// Device number `n`, on its own connection.
    pub fn phone(&self, n: usize) -> Phone {
        let account = &self.settings.accounts[n % self.settings.accounts.len()];
        let mut dev = Device::new(
            self.target.clone(),
            &account.user,
            &account.password,
            &format!("{}{n:05}", self.settings.device_prefix),
        );
        dev.version = self.settings.version;
        dev.device_type = "EasdBench".into();
        dev.user_agent = format!("easd-bench/{}", env!("CARGO_PKG_VERSION"));
        Phone::new(dev, self.tally.clone(), self.settings.timeout)
    }

    /// A server reading at a named moment; `None` without `--server-pid`.
    pub fn mark(&self, name: &str) -> Option<procfs::Snapshot> {
        self.watch.as_ref().and_then(|w| w.borrow_mut().mark(name))
    }

    pub fn count(&self, what: &str, n: u64) {
        self.tally.borrow_mut().count(what, n);
    }

    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// Raises the soft limit of open files to the hard one: each device holds a connection.
/// Returns the soft limit in force.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct they are given.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur as u64;
            }
        }
        lim.rlim_cur as u64
    }
}

/// Runs a shell command to completion off the async thread, with EASD_BENCH_ROUND set;
/// `Err` says why it failed.
pub async fn shell(cmd: &str, round: u32) -> Result<(), String> {
    let cmd = cmd.to_string();
    smol::unblock(move || {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .env("EASD_BENCH_ROUND", round.to_string())
            // Its output must not mix with the report on stdout (--json).
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| format!("running {cmd:?}: {e}"))?;
        match status.success() {
            true => Ok(()),
            false => Err(format!("{cmd:?} exited with {status}")),
        }
    })
    .await
}

pub fn run(settings: Settings) -> Result<Report, BenchError> {
    if settings.accounts.is_empty() {
        return Err(BenchError::Usage("no user to log in as".into()));
    }
    if settings.devices == 0 {
        return Err(BenchError::Usage("--devices must be at least 1".into()));
    }
    let target = Target::from_url(&settings.url, settings.insecure).map_err(BenchError::Usage)?;
    let nofile = raise_nofile();
    let start = Instant::now();
    let watch = match settings.server_pid {
        Some(pid) => Some(Rc::new(RefCell::new(
            ServerWatch::start(pid, start).map_err(|e| BenchError::Setup(e.to_string()))?,
        ))),
        None => None,
    };
    let ctx = Rc::new(Ctx {
        deadline: start + settings.duration,
        settings,
        target,
        tally: Rc::new(RefCell::new(Tally::default())),
        watch,
        ex: Rc::new(LocalExecutor::new()),
        start,
    });
    let done = Rc::new(Cell::new(false));
    let sampler = ctx.watch.clone().map(|w| {
        let done = done.clone();
        ctx.ex.spawn(async move {
            while !done.get() {
                Timer::after(Duration::from_millis(250)).await;
                w.borrow_mut().sample();
            }
        })
    });
    let ex = ctx.ex.clone();
    let mut outcome = smol::block_on(ex.run(async {
        let outcome = match ctx.settings.scenario {
            Scenario::InitialSync => initial_sync::run(ctx.clone()).await,
            Scenario::PingHold => ping_hold::run(ctx.clone()).await,
            Scenario::PushLatency => push_latency::run(ctx.clone()).await,
            Scenario::Mixed => mixed::run(ctx.clone()).await,
        };
        done.set(true);
        if let Some(s) = sampler {
            s.await;
        }
        outcome
    }));
    let per_device = match ctx.settings.scenario {
        Scenario::Mixed => 2,
        _ => 1,
    };
    if (ctx.settings.devices * per_device + 64) as u64 > nofile {
        outcome.notes.push(format!(
            "open-file limit {nofile} is below what {} devices need: raise it (ulimit -n)",
            ctx.settings.devices
        ));
    }
    let elapsed_s = ctx.start.elapsed().as_secs_f64();
    let server = ctx.watch.as_ref().map(|w| w.borrow_mut().finish());
    let tally = ctx.tally.borrow();
    Ok(Report {
        scenario: ctx.settings.scenario.name().into(),
        url: ctx.settings.url.clone(),
        version: ctx.settings.version.to_string(),
        devices: ctx.settings.devices,
        users: ctx.settings.users(),
        elapsed_s,
        counts: tally.counts.clone(),
        errors: tally.errors.clone(),
        error_total: tally.errors.values().sum(),
        latency_ms: tally.latencies.summaries(),
        items: tally.items,
        items_per_s: outcome.items_per_s,
        figures: outcome.figures,
        server,
        notes: outcome.notes,
    })
}
