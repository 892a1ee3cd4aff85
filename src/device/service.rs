//! The device-management service one server (or one CLI run) holds: the state database and what
//! it needs from the configuration.

use super::policy::{PolicyKey, PolicySettings, Value};
use super::trace::TraceLog;
use super::{DeviceError, tables};
use crate::config::Config;
use std::path::PathBuf;
use std::sync::Arc;

/// The parts of the configuration device management uses.
#[derive(Clone, Debug)]
pub struct Environment {
    pub hostname: String,
    pub data_dir: PathBuf,
    /// `mail.maildir`, placeholders unexpanded.
    pub maildir_template: String,
    pub admin_email: Option<String>,
    /// (address, display name) of every configured user.
    pub users: Vec<(String, String)>,
    pub max_per_user: Option<u32>,
}

impl Environment {
    pub fn from_config(c: &Config) -> Environment {
        Environment {
            hostname: c.server.hostname.get_ref().clone(),
            data_dir: c.server.data_dir.clone(),
            maildir_template: c.mail.maildir.clone(),
            admin_email: c.admin.email.as_ref().map(|e| e.get_ref().clone()),
            users: c
                .users
                .iter()
                .map(|u| (u.email.get_ref().clone(), u.name.clone()))
                .collect(),
            max_per_user: c.devices.max_per_user,
        }
    }

    /// The default policy level: no constraints, and the configured device limit.
    pub fn base_policy(&self) -> PolicySettings {
        let mut p = PolicySettings::default();
        p.set(
            PolicyKey::MaxDevices,
            Value::Number(self.max_per_user.map(i64::from)),
        );
        p
    }

    /// The configured spelling of a local address, or `None` for a stranger.
    pub fn local_user(&self, email: &str) -> Option<&(String, String)> {
        self.users
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(email))
    }

    /// A local user's Maildir++ root.
    pub fn maildir_of(&self, email: &str) -> Result<PathBuf, DeviceError> {
        let template = self
            .maildir_template
            .replace("{data_dir}", &self.data_dir.to_string_lossy());
        Ok(crate::store::maildir::expand_template(&template, email)?)
    }
}

/// Device management over one open state database.
pub struct Devices {
    db: Arc<redb::Database>,
    env: Environment,
    trace: TraceLog,
}

impl Devices {
    /// Creates the tables when missing.
    pub fn open(db: Arc<redb::Database>, env: Environment) -> Result<Devices, DeviceError> {
        tables::ensure(&db)?;
        let trace = TraceLog::new(env.data_dir.join("logs"));
        Ok(Devices { db, env, trace })
    }

    pub fn db(&self) -> &redb::Database {
        &self.db
    }

    pub fn env(&self) -> &Environment {
        &self.env
    }

    pub fn trace(&self) -> &TraceLog {
        &self.trace
    }
}
