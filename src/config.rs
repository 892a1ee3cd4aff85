//! The one TOML configuration file: parsing, defaults and validation.
//!
//! Unknown keys and bad values are errors that name the key and the line, never silent defaults,
//! because a typo in a mail server's config otherwise surfaces weeks later as "push doesn't work".

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The whole configuration, as read from the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub push: PushConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub dav: DavConfig,
    #[serde(default)]
    pub state: StateConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub demo: DemoConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub devices: DevicesConfig,
    #[serde(default)]
    pub autodiscover: crate::autodiscover::AutodiscoverConfig,
    #[serde(default)]
    pub acme: crate::acme::AcmeSettings,
    #[serde(default)]
    pub gal: crate::gal::GalSettings,
    /// The smarthost for mail to non-local recipients; without it only local delivery works.
    #[serde(default)]
    pub smtp: Option<crate::outbound::SmtpConfig>,
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// `users` by lower-cased address: every request and every push datagram looks its user up,
    /// and a scan of a thousand users cost more than the rest of handling a datagram.
    #[serde(skip)]
    user_index: std::collections::HashMap<String, usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Plain-HTTP listeners (LAN, or behind a reverse proxy).
    #[serde(default)]
    pub listen: Vec<SocketAddr>,
    /// TLS listeners; they need `tls_cert` and `tls_key`.
    #[serde(default)]
    pub tls_listen: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Public host name, used in autodiscover answers and URLs.
    pub hostname: Spanned<String>,
    pub data_dir: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    #[serde(default = "default_udp_listen")]
    pub udp_listen: SocketAddr,
    /// Optional shared secret a notification datagram must carry.
    pub udp_secret: Option<String>,
    #[serde(default = "default_min_heartbeat")]
    pub min_heartbeat_secs: Spanned<u32>,
    #[serde(default = "default_max_heartbeat")]
    pub max_heartbeat_secs: Spanned<u32>,
    /// Most folders one Ping may watch.
    #[serde(default = "default_max_ping_folders")]
    pub max_folders: u32,
    /// How often directories are checked for changes made without a notification.
    #[serde(default = "default_fallback_scan")]
    pub fallback_scan_secs: u32,
}

fn default_udp_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 32002))
}
fn default_min_heartbeat() -> Spanned<u32> {
    Spanned::new(0..0, 60)
}
fn default_max_heartbeat() -> Spanned<u32> {
    Spanned::new(0..0, 1800)
}
fn default_max_ping_folders() -> u32 {
    300
}
fn default_fallback_scan() -> u32 {
    20
}

impl Default for PushConfig {
    fn default() -> Self {
        PushConfig {
            udp_listen: default_udp_listen(),
            udp_secret: None,
            min_heartbeat_secs: default_min_heartbeat(),
            max_heartbeat_secs: default_max_heartbeat(),
            max_folders: default_max_ping_folders(),
            fallback_scan_secs: default_fallback_scan(),
        }
    }
}

/// Protective limits of the HTTP layer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Time allowed to send the request line and headers.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_secs: u32,
    /// Time allowed to send the whole request body.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_secs: u32,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Cap on the FilterType age a device may ask for, in days (0 = no cap).
    #[serde(default)]
    pub max_mail_age_days: u32,
    /// Failed logins one client address may make within `auth_window_secs` before it is slowed
    /// down (see `auth::throttle`).
    #[serde(default = "default_auth_failures_per_ip")]
    pub auth_failures_per_ip: u32,
    /// Failed logins on one user's name, from all addresses together, before that user is slowed
    /// down for addresses it never logged in from.
    #[serde(default = "default_auth_failures_per_user")]
    pub auth_failures_per_user: u32,
    /// How long a failed login is remembered.
    #[serde(default = "default_auth_window")]
    pub auth_window_secs: u32,
    /// Most threads running blocking work (file and database access, password hashing). Idle ones
    /// are kept, each with its stack and malloc arena, so the cap is also what they may cost.
    #[serde(default = "default_blocking_threads")]
    pub blocking_threads: u32,
    /// glibc malloc arenas (0: glibc's own choice, eight per core). Each arena keeps its own free
    /// memory, so with many threads the default holds far more than the heap in use.
    #[serde(default = "default_malloc_arenas")]
    pub malloc_arenas: u32,
}

impl LimitsConfig {
    pub fn throttle(&self) -> crate::auth::throttle::ThrottleLimits {
        crate::auth::throttle::ThrottleLimits {
            per_ip: self.auth_failures_per_ip.max(1),
            per_user: self.auth_failures_per_user.max(1),
            window: std::time::Duration::from_secs(self.auth_window_secs.max(1).into()),
        }
    }
}

fn default_header_timeout() -> u32 {
    30
}
fn default_body_timeout() -> u32 {
    300
}
fn default_max_body() -> u64 {
    64 << 20
}
fn default_max_connections() -> u32 {
    20_000
}
fn default_auth_failures_per_ip() -> u32 {
    10
}
fn default_auth_failures_per_user() -> u32 {
    30
}
fn default_auth_window() -> u32 {
    900
}
fn default_blocking_threads() -> u32 {
    32
}
fn default_malloc_arenas() -> u32 {
    2
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            header_timeout_secs: default_header_timeout(),
            body_timeout_secs: default_body_timeout(),
            max_body_bytes: default_max_body(),
            max_connections: default_max_connections(),
            max_mail_age_days: 0,
            auth_failures_per_ip: default_auth_failures_per_ip(),
            auth_failures_per_user: default_auth_failures_per_user(),
            auth_window_secs: default_auth_window(),
            blocking_threads: default_blocking_threads(),
            malloc_arenas: default_malloc_arenas(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Where a user's Maildir++ root is: `{data_dir}`, `{email}`, `{domain}`, `{local}` are replaced.
    #[serde(default = "default_maildir")]
    pub maildir: String,
}

fn default_maildir() -> String {
    "{data_dir}/mail/{email}".to_string()
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            maildir: default_maildir(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DavConfig {
    /// Where a user's vdir collections are: `{data_dir}`, `{email}` (or `{user}`, Radicale's
    /// login), `{domain}`, `{local}` are replaced. A Radicale tree is
    /// `<filesystem_folder>/collection-root/{user}`.
    #[serde(default = "default_dav_root")]
    pub root: String,
    /// The IANA zone of floating times and all-day events in the files (what Radicale's
    /// clients mean by "local"); the box's own zone when unset.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The user's documents folder, offered as the "Files" mail folder to devices with
    /// GroupWare mail access (one message per file, the file attached) when it exists. The
    /// same placeholders as `root`.
    #[serde(default = "default_files_root")]
    pub files: String,
}

impl DavConfig {
    /// The zone of floating times; UTC when neither the setting nor the system names one.
    pub fn zone(&self) -> jiff::tz::TimeZone {
        match &self.time_zone {
            Some(name) => jiff::tz::db().get(name).unwrap_or(jiff::tz::TimeZone::UTC),
            None => jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
        }
    }
}

fn default_dav_root() -> String {
    "{data_dir}/dav/{email}".to_string()
}

fn default_files_root() -> String {
    "{data_dir}/files/{email}".to_string()
}

impl Default for DavConfig {
    fn default() -> Self {
        DavConfig {
            root: default_dav_root(),
            time_zone: None,
            files: default_files_root(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// redb page cache; its own default (1 GiB) is far too much for a small board.
    #[serde(default = "default_cache_mib")]
    pub cache_mib: u32,
    /// Messages and PIM items whose key and version the change index keeps in memory, over all
    /// collections (about 100 bytes each), so a rescan diffs in memory instead of reading redb.
    #[serde(default = "default_index_cache_items")]
    pub index_cache_items: u32,
}

fn default_cache_mib() -> u32 {
    16
}

fn default_index_cache_items() -> u32 {
    100_000
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            cache_mib: default_cache_mib(),
            index_cache_items: default_index_cache_items(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// error, warn, info, debug or trace; `EASD_LOG` overrides it.
    #[serde(default)]
    pub level: Option<Spanned<String>>,
    /// Keep each device's EAS trace (`easd device log`, the console's log page) under
    /// `data_dir/logs`. Off spares an SD card two writes per request.
    #[serde(default = "default_device_trace")]
    pub device_trace: bool,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            level: None,
            device_trace: default_device_trace(),
        }
    }
}

fn default_device_trace() -> bool {
    true
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// Seed a user's missing Maildir with a few welcome messages.
    #[serde(default)]
    pub seed: bool,
}

/// Who hears about device events (wipes, refused policies), and the web console (/admin) and
/// user pages (/account).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// The administrator's address; notices land in its INBOX when it is a configured user.
    pub email: Option<Spanned<String>>,
    /// Serve /admin and /account on plain-HTTP listeners bound to non-loopback addresses too
    /// (behind a TLS-terminating reverse proxy). Off: only loopback and TLS listeners serve them.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// A web session ends after this many seconds without a request.
    #[serde(default = "default_session_idle")]
    pub session_idle_secs: Spanned<u32>,
    /// Accounts that may log in to /admin.
    #[serde(default, rename = "account")]
    pub accounts: Vec<AdminAccount>,
}

fn default_session_idle() -> Spanned<u32> {
    Spanned::new(0..0, 900)
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            email: None,
            allow_plain_http: false,
            session_idle_secs: default_session_idle(),
            accounts: Vec::new(),
        }
    }
}

/// One `[[admin.account]]`: a console login, separate from the mail users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminAccount {
    pub name: Spanned<String>,
    /// An argon2id PHC string, as printed by `easd hash-password`.
    pub password_hash: Spanned<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DevicesConfig {
    /// Most devices one user may sync (the default under the policy's `max_devices`); none when unset.
    pub max_per_user: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub email: Spanned<String>,
    #[serde(default)]
    pub name: String,
    /// An argon2id PHC string, as printed by `easd hash-password`.
    pub password_hash: Spanned<String>,
    /// The mailbox has moved: EAS requests get HTTP 451 with this URL in X-MS-Location
    /// (MS-ASHTTP), so the phone re-points itself.
    #[serde(default)]
    pub redirect: Option<Spanned<String>>,
}

/// Why a configuration could not be used.
#[derive(Debug)]
pub enum ConfigError {
    Read(PathBuf, std::io::Error),
    /// Syntax errors, unknown keys and wrongly typed values, with toml's own position.
    Parse(PathBuf, String),
    /// A value that parsed but makes no sense.
    Invalid {
        file: PathBuf,
        key: &'static str,
        line: Option<usize>,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read(p, e) => write!(f, "{}: {e}", p.display()),
            ConfigError::Parse(p, e) => write!(f, "{}: {}", p.display(), e.trim_end()),
            ConfigError::Invalid {
                file,
                key,
                line: Some(line),
                message,
            } => write!(f, "{}:{line}: {key}: {message}", file.display()),
            ConfigError::Invalid {
                file,
                key,
                line: None,
                message,
            } => write!(f, "{}: {key}: {message}", file.display()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_path_buf(), e))?;
        Config::parse(&text, path)
    }

    /// Parses and validates `text`; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse(path.to_path_buf(), e.to_string()))?;
        for (i, u) in config.users.iter().enumerate() {
            config
                .user_index
                .entry(u.email.get_ref().to_ascii_lowercase())
                .or_insert(i);
        }
        config.validate(text, path)?;
        Ok(config)
    }

    fn validate(&self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let invalid =
            |key: &'static str, span: Option<Range<usize>>, message: String| ConfigError::Invalid {
                file: path.to_path_buf(),
                key,
                line: span.filter(|s| s.end > 0).map(|s| line_of(text, s.start)),
                message,
            };
        let s = &self.server;
        if s.listen.is_empty() && s.tls_listen.is_empty() {
            return Err(invalid(
                "server.listen",
                None,
                "no listener: set server.listen or server.tls_listen".into(),
            ));
        }
        if !s.tls_listen.is_empty()
            && !self.acme.enabled
            && (s.tls_cert.is_none() || s.tls_key.is_none())
        {
            return Err(invalid(
                "server.tls_cert",
                None,
                "server.tls_listen needs both server.tls_cert and server.tls_key, or [acme] enabled"
                    .into(),
            ));
        }
        if let Err((key, message)) = self.acme.validate(self) {
            return Err(invalid(key, None, message));
        }
        let host = s.hostname.get_ref();
        if host.is_empty() || host.contains(['/', ' ', ':']) {
            return Err(invalid(
                "server.hostname",
                Some(s.hostname.span()),
                format!("{host:?} is not a host name"),
            ));
        }
        let (min, max) = (&self.push.min_heartbeat_secs, &self.push.max_heartbeat_secs);
        if *min.get_ref() == 0 || min.get_ref() > max.get_ref() {
            return Err(invalid(
                "push.min_heartbeat_secs",
                Some(min.span()),
                format!(
                    "must be at least 1 and at most push.max_heartbeat_secs ({})",
                    max.get_ref()
                ),
            ));
        }
        if !(4..=10_000).contains(&self.limits.blocking_threads) {
            return Err(invalid(
                "limits.blocking_threads",
                None,
                "must be between 4 and 10000: fewer would let one slow password check or first \
                 search hold up every other request"
                    .into(),
            ));
        }
        if *max.get_ref() > 3540 {
            return Err(invalid(
                "push.max_heartbeat_secs",
                Some(max.span()),
                "EAS allows at most 3540 seconds".into(),
            ));
        }
        let m = &self.mail.maildir;
        let names_user = m.contains("{email}") || (m.contains("{local}") && m.contains("{domain}"));
        if !names_user {
            return Err(invalid(
                "mail.maildir",
                None,
                "the template must contain {email}, or both {local} and {domain}".into(),
            ));
        }
        let d = &self.dav.root;
        let names_user = ["{email}", "{user}"].iter().any(|p| d.contains(p))
            || (d.contains("{local}") && d.contains("{domain}"));
        if !names_user {
            return Err(invalid(
                "dav.root",
                None,
                "the template must contain {email} or {user}, or both {local} and {domain}".into(),
            ));
        }
        if let Some(zone) = &self.dav.time_zone
            && jiff::tz::db().get(zone).is_err()
        {
            return Err(invalid(
                "dav.time_zone",
                None,
                format!("{zone:?} is not an IANA time zone name"),
            ));
        }
        if let Some(level) = &self.log.level
            && level.get_ref().parse::<log::LevelFilter>().is_err()
        {
            return Err(invalid(
                "log.level",
                Some(level.span()),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    level.get_ref()
                ),
            ));
        }
        if let Some(admin) = &self.admin.email
            && !valid_email(admin.get_ref())
        {
            return Err(invalid(
                "admin.email",
                Some(admin.span()),
                format!(
                    "{:?} is not an address like name@example.com",
                    admin.get_ref()
                ),
            ));
        }
        self.validate_admin(&invalid)?;
        let mut seen = std::collections::HashSet::new();
        for user in &self.users {
            let email = user.email.get_ref();
            if !valid_email(email) {
                return Err(invalid(
                    "user.email",
                    Some(user.email.span()),
                    format!("{email:?} is not an address like name@example.com"),
                ));
            }
            if !seen.insert(email.to_ascii_lowercase()) {
                return Err(invalid(
                    "user.email",
                    Some(user.email.span()),
                    format!("{email} is configured twice"),
                ));
            }
            if let Some(r) = &user.redirect
                && !(r.get_ref().starts_with("https://") || r.get_ref().starts_with("http://"))
            {
                return Err(invalid(
                    "user.redirect",
                    Some(r.span()),
                    format!("{:?} is not an http(s) URL", r.get_ref()),
                ));
            }
            if let Err(e) = crate::auth::check_phc(user.password_hash.get_ref()) {
                return Err(invalid(
                    "user.password_hash",
                    Some(user.password_hash.span()),
                    e.to_string(),
                ));
            }
        }
        Ok(())
    }

    fn validate_admin(
        &self,
        invalid: &impl Fn(&'static str, Option<Range<usize>>, String) -> ConfigError,
    ) -> Result<(), ConfigError> {
        let idle = &self.admin.session_idle_secs;
        if *idle.get_ref() == 0 {
            return Err(invalid(
                "admin.session_idle_secs",
                Some(idle.span()),
                "must be at least 1".into(),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for account in &self.admin.accounts {
            let name = account.name.get_ref();
            if name.is_empty()
                || name.len() > 64
                || name.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(invalid(
                    "admin.account.name",
                    Some(account.name.span()),
                    format!("{name:?} is not a login name (1 to 64 characters, no spaces)"),
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(invalid(
                    "admin.account.name",
                    Some(account.name.span()),
                    format!("{name} is configured twice"),
                ));
            }
            if let Err(e) = crate::auth::check_phc(account.password_hash.get_ref()) {
                return Err(invalid(
                    "admin.account.password_hash",
                    Some(account.password_hash.span()),
                    e.to_string(),
                ));
            }
        }
        Ok(())
    }

    pub fn user(&self, email: &str) -> Option<&UserConfig> {
        let i = match self.user_index.get(email) {
            Some(i) => *i,
            None => *self.user_index.get(&email.to_ascii_lowercase())?,
        };
        self.users.get(i)
    }

    pub fn state_path(&self) -> PathBuf {
        self.server.data_dir.join("state.redb")
    }
}

/// Addresses we accept as user names: one '@', both sides non-empty and free of path and space characters,
/// since the address also names the user's directories.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let bad = |p: &str| {
        p.is_empty()
            || p == "."
            || p == ".."
            || p.len() > 128
            || p.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '@' | '{' | '}')
            })
    };
    !bad(local) && !bad(domain)
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3eKx5jQ2F4Qe6vvxgvBfhzfItdR1dWiXxzLXpCbrJoE";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("t.toml"))
    }

    fn base() -> String {
        format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"mail.example.com\"\ndata_dir = \"/tmp/x\"\n\n[[user]]\nemail = \"alice@example.com\"\nname = \"Alice\"\npassword_hash = \"{HASH}\"\n"
        )
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(&base()).unwrap();
        assert_eq!(c.push.udp_listen, "127.0.0.1:32002".parse().unwrap());
        assert_eq!(*c.push.max_heartbeat_secs.get_ref(), 1800);
        assert_eq!(c.limits.max_body_bytes, 64 << 20);
        assert!(c.user("ALICE@example.com").is_some());
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let text = base().replace("hostname", "hostnme = \"x\"\nhostname");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("hostnme"), "{e}");
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn bad_value_names_key_and_line() {
        let text = base().replace("alice@example.com", "alice");
        let e = parse(&text).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.toml:7: user.email: \"alice\" is not an address like name@example.com"
        );
        let text = base().replace(HASH, "plaintext");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with("t.toml:9: user.password_hash:"), "{e}");
        let text = format!("{}\n[push]\nmax_heartbeat_secs = 30\n", base());
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("push.min_heartbeat_secs"), "{e}");
    }

    #[test]
    fn memory_bounds_have_defaults_and_limits() {
        let c = parse(&base()).unwrap();
        assert_eq!(c.limits.blocking_threads, 32);
        assert_eq!(c.limits.malloc_arenas, 2);
        assert_eq!(c.state.index_cache_items, 100_000);
        let with = |t: &str| parse(&format!("{}\n{t}", base()));
        let c =
            with("[limits]\nblocking_threads = 8\n[state]\nindex_cache_items = 5000\n").unwrap();
        assert_eq!(c.limits.blocking_threads, 8);
        assert_eq!(c.state.index_cache_items, 5000);
        for bad in [0, 3, 10_001] {
            let e = with(&format!("[limits]\nblocking_threads = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("limits.blocking_threads"), "{e}");
        }
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let text = base().replace("hostname", "tls_listen = [\"0.0.0.0:443\"]\nhostname");
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.contains("server.tls_cert"), "{e}");
    }

    #[test]
    fn example_config_is_valid() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/easd.toml"));
        let c = Config::load(path).unwrap();
        assert!(c.demo.seed);
        assert!(c.user("demo@example.com").is_some());
    }

    #[test]
    fn admin_accounts_are_checked() {
        let with = |t: &str| parse(&format!("{}\n[admin]\n{t}", base()));
        let c = with(&format!(
            "session_idle_secs = 60\n[[admin.account]]\nname = \"root\"\npassword_hash = \"{HASH}\"\n"
        ))
        .unwrap();
        assert_eq!(c.admin.accounts[0].name.get_ref(), "root");
        assert!(!c.admin.allow_plain_http);
        let e = with("session_idle_secs = 0\n").unwrap_err().to_string();
        assert!(e.contains("admin.session_idle_secs"), "{e}");
        let e = with("[[admin.account]]\nname = \"a b\"\npassword_hash = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("admin.account.name"), "{e}");
        let e = with("[[admin.account]]\nname = \"root\"\npassword_hash = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("admin.account.password_hash"), "{e}");
        assert_eq!(
            parse(&base()).unwrap().admin.session_idle_secs.get_ref(),
            &900
        );
    }

    #[test]
    fn email_validation() {
        assert!(valid_email("a@b.c"));
        for bad in [
            "", "a", "@b", "a@", "a/b@c", "../x@y", "a@b@c", "a b@c", "a@..",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
