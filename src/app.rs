//! The state one running server shares between connections: configuration, authenticator, the state
//! database and change index, the push hub, counters. Built once at start-up and passed around in an
//! `Arc`; there is no global state.

use crate::auth::Authenticator;
use crate::config::Config;
use crate::push::Hub;
use crate::state::index::{ChangeIndex, IndexOptions};
use crate::store::{Maildir, StoreError};
use std::fmt;
use std::sync::Arc;
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

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    State(String),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::State(e) => write!(f, "state database: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

pub struct App {
    pub config: Config,
    pub auth: Authenticator,
    pub stats: Stats,
    pub db: Arc<redb::Database>,
    pub index: Arc<ChangeIndex>,
    pub hub: Arc<Hub>,
}

impl App {
    /// Opens (or creates) the state database under `data_dir`.
    pub fn open(config: Config) -> Result<App, StartError> {
        let path = config.state_path();
        let cache = config.state.cache_mib as usize * 1024 * 1024;
        let db = crate::state::open_db(&path, cache)
            .map_err(|e| StartError::State(format!("{}: {e}", path.display())))?;
        let db = Arc::new(db);
        let index = ChangeIndex::open(db.clone(), IndexOptions::default())
            .map_err(|e| StartError::State(format!("{}: {e}", path.display())))?;
        Ok(App {
            config,
            auth: Authenticator::new(),
            stats: Stats::default(),
            db,
            index: Arc::new(index),
            hub: Hub::new(),
        })
    }

    /// The Maildir++ store of a configured user, from the `mail.maildir` template.
    pub fn mail_store(&self, user: &str) -> Result<Maildir, StoreError> {
        maildir_for(&self.config, user)
    }
}

/// A user's Maildir from the configuration alone (the CLI uses it without a running server).
pub fn maildir_for(config: &Config, user: &str) -> Result<Maildir, StoreError> {
    let template = config
        .mail
        .maildir
        .replace("{data_dir}", &config.server.data_dir.to_string_lossy());
    crate::store::expand_template(&template, user).map(Maildir::new)
}
