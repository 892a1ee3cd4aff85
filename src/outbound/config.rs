//! The `[smtp]` section of the configuration: which smarthost to submit to, how to secure and
//! authenticate the connection, and how long the queue keeps trying.
//!
//! The TOML form is read into a loose shape and then checked into [`SmtpConfig`], so that
//! combinations that make no sense (a user name without a password, a CA file together with
//! "accept any certificate") cannot exist past start-up.

use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the smarthost is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TlsMode {
    /// Plain text; only sensible on loopback or a trusted LAN.
    #[serde(rename = "none")]
    None,
    /// Plain connect, then STARTTLS, which the server must offer.
    #[default]
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte ("submissions", port 465).
    #[serde(rename = "implicit")]
    Implicit,
}

impl TlsMode {
    fn default_port(self) -> u16 {
        match self {
            TlsMode::None => 25,
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
        }
    }
}

/// Which server certificates are believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertTrust {
    /// The system bundle, plus the certificates in `extra_ca` (for a private CA or a self-signed
    /// smarthost).
    Verify { extra_ca: Option<PathBuf> },
    /// Any certificate at all: encryption without authentication, for a LAN smarthost whose
    /// certificate cannot be fixed.
    AcceptInvalid,
}

/// AUTH PLAIN/LOGIN credentials; `Debug` leaves the password out so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// When the queue tries again and when it gives up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Waits before the 2nd, 3rd, ... attempt; the last one repeats. Never empty.
    delays: Vec<Duration>,
    /// Age after which a message that still has undelivered recipients is bounced.
    pub max_age: Duration,
}

impl RetryPolicy {
    /// `None` when `delays` is empty or contains a zero, which would make the worker spin.
    pub fn new(delays: Vec<Duration>, max_age: Duration) -> Option<RetryPolicy> {
        if delays.is_empty() || delays.iter().any(Duration::is_zero) || max_age.is_zero() {
            return None;
        }
        Some(RetryPolicy { delays, max_age })
    }

    /// How long to wait after the `attempts`-th failed attempt (counting from 1).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.delays
            .get(index)
            .or(self.delays.last())
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

/// The checked `[smtp]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawSmtpConfig")]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub credentials: Option<Credentials>,
    /// Name given in EHLO; [`crate::outbound::Outbound`] fills in the server's host name when
    /// the file leaves it out.
    pub helo_name: Option<String>,
    /// Limit for each step of a session: connecting, every command, every block of DATA.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Largest message accepted from a device, in bytes.
    pub max_message_bytes: u64,
    /// Directory of the queue, relative to the server's data_dir.
    pub queue_dir: String,
    pub trust: CertTrust,
}

impl SmtpConfig {
    pub fn ehlo_name(&self) -> &str {
        self.helo_name.as_deref().unwrap_or("localhost")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtpConfig {
    host: String,
    port: Option<u16>,
    #[serde(default)]
    tls: TlsMode,
    username: Option<String>,
    password: Option<String>,
    helo_name: Option<String>,
    #[serde(default = "default_timeout_secs")]
    timeout_secs: u64,
    #[serde(default = "default_retry_secs")]
    retry_secs: Vec<u64>,
    #[serde(default = "default_max_age_hours")]
    max_age_hours: u64,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: u64,
    #[serde(default = "default_queue_dir")]
    queue_dir: String,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    accept_invalid_certs: bool,
}

fn default_timeout_secs() -> u64 {
    60
}
fn default_retry_secs() -> Vec<u64> {
    vec![60, 300, 900, 3600, 4 * 3600]
}
fn default_max_age_hours() -> u64 {
    48
}
fn default_max_message_bytes() -> u64 {
    25 << 20
}
fn default_queue_dir() -> String {
    "queue".to_string()
}

/// A `[smtp]` section that parsed but cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    EmptyHost,
    UsernameWithoutPassword,
    PasswordWithoutUsername,
    ZeroTimeout,
    BadRetry,
    BadHeloName(String),
    BadQueueDir(String),
    ConflictingTrust,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::EmptyHost => f.write_str("smtp.host is empty"),
            ConfigError::UsernameWithoutPassword => {
                f.write_str("smtp.username is set but smtp.password is not")
            }
            ConfigError::PasswordWithoutUsername => {
                f.write_str("smtp.password is set but smtp.username is not")
            }
            ConfigError::ZeroTimeout => f.write_str("smtp.timeout_secs must be at least 1"),
            ConfigError::BadRetry => f.write_str(
                "smtp.retry_secs must list at least one delay, none of them 0, and smtp.max_age_hours must be at least 1",
            ),
            ConfigError::BadHeloName(n) => write!(f, "smtp.helo_name {n:?} is not a host name"),
            ConfigError::BadQueueDir(d) => {
                write!(f, "smtp.queue_dir {d:?} must be one plain directory name")
            }
            ConfigError::ConflictingTrust => {
                f.write_str("smtp.ca_file and smtp.accept_invalid_certs exclude each other")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl TryFrom<RawSmtpConfig> for SmtpConfig {
    type Error = ConfigError;

    fn try_from(raw: RawSmtpConfig) -> Result<SmtpConfig, ConfigError> {
        if raw.host.trim().is_empty() {
            return Err(ConfigError::EmptyHost);
        }
        let credentials = match (raw.username, raw.password) {
            (Some(username), Some(password)) => Some(Credentials { username, password }),
            (Some(_), None) => return Err(ConfigError::UsernameWithoutPassword),
            (None, Some(_)) => return Err(ConfigError::PasswordWithoutUsername),
            (None, None) => None,
        };
        if raw.timeout_secs == 0 {
            return Err(ConfigError::ZeroTimeout);
        }
        let retry = RetryPolicy::new(
            raw.retry_secs
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            Duration::from_secs(raw.max_age_hours.saturating_mul(3600)),
        )
        .ok_or(ConfigError::BadRetry)?;
        if let Some(name) = &raw.helo_name
            && (name.is_empty()
                || !name.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
                }))
        {
            return Err(ConfigError::BadHeloName(name.clone()));
        }
        let q = &raw.queue_dir;
        if q.is_empty() || q == "." || q == ".." || q.contains(['/', '\\', '\0']) {
            return Err(ConfigError::BadQueueDir(q.clone()));
        }
        let trust = match (raw.ca_file, raw.accept_invalid_certs) {
            (Some(_), true) => return Err(ConfigError::ConflictingTrust),
            (extra_ca, false) => CertTrust::Verify { extra_ca },
            (None, true) => CertTrust::AcceptInvalid,
        };
        Ok(SmtpConfig {
            host: raw.host,
            port: raw.port.unwrap_or(raw.tls.default_port()),
            tls: raw.tls,
            credentials,
            helo_name: raw.helo_name,
            timeout: Duration::from_secs(raw.timeout_secs),
            retry,
            max_message_bytes: raw.max_message_bytes,
            queue_dir: raw.queue_dir,
            trust,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SmtpConfig, String> {
        toml::from_str::<SmtpConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_tls_mode() {
        let c = parse("host = \"smtp.example.net\"").unwrap();
        assert_eq!((c.tls, c.port), (TlsMode::StartTls, 587));
        assert_eq!(c.timeout, Duration::from_secs(60));
        assert_eq!(c.retry.max_age, Duration::from_secs(48 * 3600));
        assert_eq!(c.queue_dir, "queue");
        assert_eq!(c.trust, CertTrust::Verify { extra_ca: None });
        assert_eq!(c.ehlo_name(), "localhost");
        let c = parse("host = \"h\"\ntls = \"implicit\"").unwrap();
        assert_eq!(c.port, 465);
        let c = parse("host = \"h\"\ntls = \"none\"\nport = 2525").unwrap();
        assert_eq!((c.tls, c.port), (TlsMode::None, 2525));
    }

    #[test]
    fn full_section() {
        let c = parse(
            "host = \"smtp.example.net\"\nport = 587\ntls = \"starttls\"\nusername = \"u\"\npassword = \"p\"\n\
             helo_name = \"box.example.net\"\ntimeout_secs = 5\nretry_secs = [10, 20]\nmax_age_hours = 1\n\
             max_message_bytes = 1000\nqueue_dir = \"outq\"\nca_file = \"/etc/easd/ca.pem\"\n",
        )
        .unwrap();
        assert_eq!(c.credentials.as_ref().unwrap().username, "u");
        assert_eq!(c.ehlo_name(), "box.example.net");
        assert_eq!(c.retry.delay_after(1), Duration::from_secs(10));
        assert_eq!(c.retry.delay_after(2), Duration::from_secs(20));
        assert_eq!(c.retry.delay_after(9), Duration::from_secs(20));
        assert_eq!(
            c.trust,
            CertTrust::Verify {
                extra_ca: Some("/etc/easd/ca.pem".into())
            }
        );
        assert!(!format!("{c:?}").contains("\"p\""));
    }

    #[test]
    fn nonsense_is_refused() {
        for (text, needle) in [
            ("host = \"h\"\ntls = \"ssl\"", "unknown variant"),
            ("host = \"h\"\nhots = \"x\"", "unknown field"),
            ("host = \"\"", "empty"),
            ("host = \"h\"\nusername = \"u\"", "password is not"),
            ("host = \"h\"\npassword = \"p\"", "username is not"),
            ("host = \"h\"\ntimeout_secs = 0", "timeout_secs"),
            ("host = \"h\"\nretry_secs = []", "retry_secs"),
            ("host = \"h\"\nretry_secs = [0]", "retry_secs"),
            ("host = \"h\"\nqueue_dir = \"../x\"", "queue_dir"),
            ("host = \"h\"\nhelo_name = \"a b\"", "helo_name"),
            (
                "host = \"h\"\nca_file = \"/x\"\naccept_invalid_certs = true",
                "exclude",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}
