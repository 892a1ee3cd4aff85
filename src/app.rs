//! The state one running server shares between connections: configuration, authenticator,
//! counters, the state database with its change index and sync states, the push hub, outbound
//! mail, and the users' mail stores. Built once at start-up and passed around in an `Arc`; there is no global state.

use crate::auth::Authenticator;
use crate::auth::throttle::Throttle;
use crate::config::Config;
use crate::device::{Devices, Environment};
use crate::outbound::{Outbound, QueueError};
use crate::push::Hub;
use crate::state::identity::{IdentityError, check_or_stamp};
use crate::state::index::{ChangeIndex, IndexError, IndexOptions};
use crate::state::open_db;
use crate::state::ping::PingCache;
use crate::state::sync::{SyncStateError, SyncStates};
use crate::state::sync_redb::RedbSyncStates;
use crate::store::vdir::{PimError, PimStore, Vdir, expand_root};
use crate::store::{MailStore, Maildir, StoreError, expand_template};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

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

/// Why the server's shared state could not be set up.
#[derive(Debug)]
pub enum AppError {
    /// The state file cannot be opened, or is not easd's.
    StateFile(PathBuf, IdentityError),
    Index(IndexError),
    SyncState(SyncStateError),
    Devices(crate::device::DeviceError),
    Outbound(QueueError),
    /// The web console's keys need system randomness.
    Console,
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::StateFile(path, e) => write!(
                f,
                "{}: {e}. It holds only easd's sync state, no mail or PIM data: to start afresh, \
                 stop easd and move the file away; phones then sync again from scratch",
                path.display()
            ),
            AppError::Index(e) => write!(f, "change index: {e}"),
            AppError::SyncState(e) => write!(f, "sync state: {e}"),
            AppError::Devices(e) => write!(f, "device registry: {e}"),
            AppError::Outbound(e) => write!(f, "outbound queue: {e}"),
            AppError::Console => f.write_str("web console: no system randomness for its keys"),
        }
    }
}

impl std::error::Error for AppError {}

/// One async lock per device, so two requests of the same phone (a retry racing the original,
/// a Sync racing a Ping) never interleave their state updates. Entries die with their last user.
#[derive(Default)]
struct DeviceLocks(Mutex<HashMap<String, Weak<smol::lock::Mutex<()>>>>);

impl DeviceLocks {
    async fn lock(&self, user: &str, device: &str) -> smol::lock::MutexGuardArc<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            map.retain(|_, w| w.strong_count() > 0);
            let key = format!("{user}\0{device}");
            match map.get(&key).and_then(Weak::upgrade) {
                Some(l) => l,
                None => {
                    let l = Arc::new(smol::lock::Mutex::new(()));
                    map.insert(key, Arc::downgrade(&l));
                    l
                }
            }
        };
        lock.lock_arc().await
    }
}

pub struct App {
    pub config: Config,
    pub auth: Authenticator,
    pub throttle: Throttle,
    pub stats: Stats,
    pub db: Arc<redb::Database>,
    pub index: ChangeIndex,
    pub sync_states: Box<dyn SyncStates>,
    pub hub: Arc<Hub>,
    pub ping_cache: PingCache,
    /// Mail leaving the server (auto-replies, later SendMail) through `[smtp]`, when configured.
    pub outbound: Arc<Outbound>,
    stores: Mutex<HashMap<String, Arc<Maildir>>>,
    pim_stores: Mutex<HashMap<String, Arc<Vdir>>>,
    device_locks: DeviceLocks,
    /// Device registry, policies, ABQ rules, Out-of-Office over `db`.
    pub devices: Devices,
    /// Sessions and CSRF key of the web console and user pages.
    pub console: crate::admin::Console,
    /// Keeps the mailbox-search word indexes caught up.
    pub search: crate::mailsearch::background::Indexer,
}

impl App {
    /// Opens (creating when missing) `data_dir/state.redb` with the configured cache size.
    pub fn open(config: Config) -> Result<App, AppError> {
        let path = config.server.data_dir.join("state.redb");
        let cache = usize::try_from(config.state.cache_mib)
            .unwrap_or(usize::MAX)
            .saturating_mul(1 << 20);
        let db = open_db(&path, cache)
            .map_err(|e| AppError::StateFile(path.clone(), IdentityError::State(e)))?;
        check_or_stamp(&db).map_err(|e| AppError::StateFile(path.clone(), e))?;
        let db = Arc::new(db);
        let index_options = IndexOptions {
            cache_entries: usize::try_from(config.state.index_cache_items).unwrap_or(usize::MAX),
            ..IndexOptions::default()
        };
        let index = ChangeIndex::open(db.clone(), index_options).map_err(AppError::Index)?;
        let sync_states = Box::new(RedbSyncStates::open(db.clone()).map_err(AppError::SyncState)?);
        let ping_cache = PingCache::open(db.clone())
            .map_err(|e| AppError::StateFile(path.clone(), IdentityError::State(e)))?;
        let devices = Devices::open(db.clone(), Environment::from_config(&config))
            .map_err(AppError::Devices)?;
        let outbound = Outbound::new(
            config.smtp.clone(),
            &config.server.data_dir,
            config.server.hostname.get_ref(),
        )
        .map_err(AppError::Outbound)?;
        let throttle = Throttle::new(config.limits.throttle());
        let console = crate::admin::Console::new(&config).map_err(|_| AppError::Console)?;
        Ok(App {
            config,
            auth: Authenticator::new(),
            throttle,
            stats: Stats::default(),
            db,
            index,
            sync_states,
            hub: Hub::new(),
            ping_cache,
            outbound: Arc::new(outbound),
            stores: Mutex::new(HashMap::new()),
            pim_stores: Mutex::new(HashMap::new()),
            device_locks: DeviceLocks::default(),
            devices,
            console,
            search: Default::default(),
        })
    }

    /// The Maildir++ root of `user`, from `mail.maildir`.
    pub fn mail_root(config: &Config, user: &str) -> Result<PathBuf, StoreError> {
        let data_dir = config.server.data_dir.to_string_lossy();
        let template = config.mail.maildir.replace("{data_dir}", &data_dir);
        expand_template(&template, user)
    }

    /// The user's mail store; the default folders are created on first use.
    pub fn mail_store(&self, user: &str) -> Result<Arc<dyn MailStore>, StoreError> {
        if let Some(s) = self
            .stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
        {
            return Ok(s.clone());
        }
        let store = Arc::new(Maildir::new(App::mail_root(&self.config, user)?));
        store.ensure_default_folders()?;
        self.stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.to_string(), store.clone());
        Ok(store)
    }

    /// The vdir root of `user`, from `dav.root`.
    pub fn dav_root(config: &Config, user: &str) -> Result<PathBuf, PimError> {
        let data_dir = config.server.data_dir.to_string_lossy();
        expand_root(&config.dav.root.replace("{data_dir}", &data_dir), user)
    }

    /// The user's documents folder for GroupWare mail access (`dav.files`).
    pub fn files_root(config: &Config, user: &str) -> Result<PathBuf, PimError> {
        let data_dir = config.server.data_dir.to_string_lossy();
        expand_root(&config.dav.files.replace("{data_dir}", &data_dir), user)
    }

    /// The user's PIM store; the default collections are created on first use.
    pub fn pim_store(&self, user: &str) -> Result<Arc<dyn PimStore>, PimError> {
        if let Some(s) = self
            .pim_stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
        {
            return Ok(s.clone());
        }
        let store = Arc::new(Vdir::new(App::dav_root(&self.config, user)?));
        store.ensure_defaults()?;
        self.pim_stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.to_string(), store.clone());
        Ok(store)
    }

    /// Serialises the requests of one device; hold the guard while reading and writing its state.
    pub async fn lock_device(&self, user: &str, device: &str) -> smol::lock::MutexGuardArc<()> {
        self.device_locks.lock(user, device).await
    }
}
