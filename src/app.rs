//! The state one running server shares between connections: configuration, authenticator, counters.
//! Built once at start-up and passed around in an `Arc`; there is no global state.

use crate::auth::Authenticator;
use crate::config::Config;
use crate::device::Devices;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Live counters, readable by tests and the admin through /debug/stats on loopback.
#[derive(Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub requests: AtomicU64,
    pub held_pings: AtomicUsize,
}

impl Stats {
    pub fn to_json(&self) -> String {
        format!(
            "{{\"connections\":{},\"requests\":{},\"held_pings\":{}}}",
            self.connections.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed),
            self.held_pings.load(Ordering::Relaxed),
        )
    }
}

pub struct App {
    pub config: Config,
    pub auth: Authenticator,
    pub stats: Stats,
    /// Device registry, policies, ABQ rules over the state database (`devices.db()`).
    pub devices: Devices,
}

impl App {
    pub fn new(config: Config, devices: Devices) -> App {
        App {
            config,
            auth: Authenticator::new(),
            stats: Stats::default(),
            devices,
        }
    }
}
