//! Who is calling: HTTP Basic credentials, user lookup, argon2id verification with a cache.
//!
//! argon2 is deliberately slow and memory-hungry, and a phone authenticates on every request, so a
//! verified password is remembered (as an HMAC under a per-process key, never in clear) for a while, and
//! the hashing itself runs off the async threads, one at a time, each in a fresh memory buffer
//! that is given back afterwards: `easd serve` fixes glibc's mmap threshold (see `cli/serve.rs`),
//! so the 19 MiB go back to the system instead of staying resident for the life of the process
//! (with glibc's sliding threshold a burst of logins once left over 150 MB behind). Guessing is
//! slowed down by [`throttle`].

pub mod throttle;

use crate::config::Config;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
use base64::Engine;
use ring::hmac;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verified password is trusted without hashing again.
const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
const CACHE_MAX: usize = 4096;
/// Largest argon2 memory cost we accept in a configured hash (KiB), so a hostile or mistyped hash
/// cannot make every login allocate gigabytes.
const MAX_M_COST: u32 = 256 * 1024;

/// Why credentials were not accepted. Deliberately coarse in what reaches the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    UnknownUser,
    WrongPassword,
    /// Too many failures from this address or on this user: refused without checking (HTTP 503
    /// with Retry-After, MS-ASHTTP 3.1.5.2.3).
    Throttled(throttle::Blocked),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Missing => f.write_str("no credentials"),
            AuthError::Malformed => f.write_str("malformed Authorization header"),
            AuthError::UnknownUser => f.write_str("unknown user"),
            AuthError::WrongPassword => f.write_str("wrong password"),
            AuthError::Throttled(b) => write!(
                f,
                "too many failed logins for {}; retry in {} s",
                b.scope,
                b.retry_after_secs()
            ),
        }
    }
}

impl std::error::Error for AuthError {}

/// A configured hash that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHash(String);

impl fmt::Display for BadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadHash {}

/// A parsed argon2id PHC string.
struct Phc {
    params: Params,
    algorithm: Algorithm,
    version: Version,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn parse_phc(s: &str) -> Result<Phc, BadHash> {
    let bad = |m: &str| {
        BadHash(format!(
            "not a usable argon2 PHC string ({m}); make one with `easd hash-password`"
        ))
    };
    let ph = PasswordHash::new(s).map_err(|e| bad(&e.to_string()))?;
    let algorithm = Algorithm::try_from(ph.algorithm).map_err(|e| bad(&e.to_string()))?;
    let version = ph
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| bad(&e.to_string()))?
        .unwrap_or_default();
    let hash = ph.hash.ok_or_else(|| bad("no hash"))?.as_bytes().to_vec();
    let salt = ph.salt.ok_or_else(|| bad("no salt"))?;
    let mut salt_buf = [0u8; 64];
    let salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|e| bad(&e.to_string()))?
        .to_vec();
    let p = Params::try_from(&ph).map_err(|e| bad(&e.to_string()))?;
    if p.m_cost() > MAX_M_COST {
        return Err(bad("memory cost above 256 MiB"));
    }
    let params = Params::new(p.m_cost(), p.t_cost(), p.p_cost(), Some(hash.len()))
        .map_err(|e| bad(&e.to_string()))?;
    Ok(Phc {
        params,
        algorithm,
        version,
        salt,
        hash,
    })
}

/// Checks that a configured hash can be used, for config validation.
pub fn check_phc(s: &str) -> Result<(), BadHash> {
    parse_phc(s).map(|_| ())
}

/// Makes an argon2id PHC string for `password` with the library's recommended parameters.
pub fn hash_password(password: &str) -> Result<String, BadHash> {
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| BadHash("no system randomness".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| BadHash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| BadHash(e.to_string()))
}

/// Decoded `Authorization: Basic` credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Parses an Authorization header value. Outlook sends ISO-8859-1, so bytes that are not UTF-8 are
    /// read as Latin-1 rather than refused.
    pub fn from_header(value: &[u8]) -> Result<Credentials, AuthError> {
        let value = std::str::from_utf8(value)
            .map_err(|_| AuthError::Malformed)?
            .trim();
        let (scheme, rest) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(AuthError::Malformed);
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map_err(|_| AuthError::Malformed)?;
        let text = match String::from_utf8(raw) {
            Ok(s) => s,
            Err(e) => e.into_bytes().into_iter().map(char::from).collect(),
        };
        let (username, password) = text.split_once(':').ok_or(AuthError::Malformed)?;
        if username.is_empty() {
            return Err(AuthError::Malformed);
        }
        Ok(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        })
    }
}

/// Maps the user name a phone sends to a configured address: "user@domain", "DOMAIN\user" or a bare
/// local part (unambiguous, or disambiguated by the DOMAIN prefix).
pub fn resolve_user<'c>(config: &'c Config, username: &str) -> Option<&'c str> {
    let (hint, name) = match username.split_once('\\') {
        Some((d, n)) => (Some(d), n),
        None => (None, username),
    };
    if name.contains('@') {
        return config.user(name).map(|u| u.email.get_ref().as_str());
    }
    let mut matches = config.users.iter().filter(|u| {
        u.email.get_ref().split_once('@').is_some_and(|(l, d)| {
            l.eq_ignore_ascii_case(name)
                && hint.is_none_or(|h| {
                    let h = h.to_ascii_lowercase();
                    let d = d.to_ascii_lowercase();
                    d == h || d.starts_with(&format!("{h}."))
                })
        })
    });
    let first = matches.next()?;
    match matches.next() {
        None => Some(first.email.get_ref().as_str()),
        Some(_) => None,
    }
}

/// Verifies passwords against the configured hashes; shared by every connection.
pub struct Authenticator {
    cache_key: hmac::Key,
    cache: Mutex<HashMap<[u8; 32], Instant>>,
    /// Held while hashing: one argon2 buffer at a time.
    hashing: Mutex<()>,
}

impl Default for Authenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl Authenticator {
    pub fn new() -> Authenticator {
        let rng = ring::rand::SystemRandom::new();
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).unwrap_or_else(|_| {
            hmac::Key::new(hmac::HMAC_SHA256, &std::process::id().to_le_bytes())
        });
        Authenticator {
            cache_key,
            cache: Mutex::new(HashMap::new()),
            hashing: Mutex::new(()),
        }
    }

    fn cache_tag(&self, email: &str, phc: &str, password: &str) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.cache_key);
        for part in [
            email.to_ascii_lowercase().as_bytes(),
            phc.as_bytes(),
            password.as_bytes(),
        ] {
            ctx.update(&(part.len() as u64).to_le_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// The canonical address if these credentials were verified recently; never hashes.
    pub fn cached(&self, config: &Config, creds: &Credentials) -> Option<String> {
        let email = resolve_user(config, &creds.username)?;
        let user = config.user(email)?;
        let tag = self.cache_tag(email, user.password_hash.get_ref(), &creds.password);
        let cache = self.cache.lock().ok()?;
        let fresh = cache.get(&tag).is_some_and(|t| t.elapsed() < CACHE_TTL);
        fresh.then(|| email.to_string())
    }

    /// Authenticates; returns the canonical configured address. Blocking (argon2): call from a
    /// blocking-friendly thread, e.g. through `work::unblock`.
    pub fn verify(&self, config: &Config, creds: &Credentials) -> Result<String, AuthError> {
        let email = resolve_user(config, &creds.username).ok_or(AuthError::UnknownUser)?;
        let user = config.user(email).ok_or(AuthError::UnknownUser)?;
        let phc = user.password_hash.get_ref();
        let tag = self.cache_tag(email, phc, &creds.password);
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock()
            && cache
                .get(&tag)
                .is_some_and(|t| now.duration_since(*t) < CACHE_TTL)
        {
            return Ok(email.to_string());
        }
        let parsed = parse_phc(phc).map_err(|_| AuthError::WrongPassword)?;
        if !self.check(&parsed, &creds.password) {
            return Err(AuthError::WrongPassword);
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, t| now.duration_since(*t) < CACHE_TTL);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(tag, now);
        }
        Ok(email.to_string())
    }

    /// Checks `password` against one PHC string (the console's admin accounts). Blocking, like
    /// `verify`; not cached, since admin logins are rare.
    pub fn verify_phc(&self, phc: &str, password: &str) -> bool {
        parse_phc(phc).is_ok_and(|parsed| self.check(&parsed, password))
    }

    fn check(&self, phc: &Phc, password: &str) -> bool {
        let argon = Argon2::new(phc.algorithm, phc.version, phc.params.clone());
        let mut out = vec![0u8; phc.hash.len()];
        let Ok(_one_at_a_time) = self.hashing.lock() else {
            return false;
        };
        let mut memory = vec![Block::default(); phc.params.block_count()];
        if argon
            .hash_password_into_with_memory(password.as_bytes(), &phc.salt, &mut out, &mut memory)
            .is_err()
        {
            return false;
        }
        constant_time_eq(&out, &phc.hash)
    }
}

/// Compares without an early exit, so timing does not reveal how much of a hash matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(users: &[(&str, &str)]) -> Config {
        let mut text =
            String::from("[server]\nlisten=[\"127.0.0.1:0\"]\nhostname=\"h\"\ndata_dir=\"/tmp\"\n");
        for (email, hash) in users {
            text.push_str(&format!(
                "[[user]]\nemail=\"{email}\"\npassword_hash=\"{hash}\"\n"
            ));
        }
        Config::parse(&text, Path::new("t")).unwrap()
    }

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("s3cret é").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let c = config(&[("alice@example.com", &hash), ("alice@other.org", &hash)]);
        let auth = Authenticator::new();
        let ok = |u: &str, p: &str| {
            auth.verify(
                &c,
                &Credentials {
                    username: u.into(),
                    password: p.into(),
                },
            )
        };
        assert_eq!(
            ok("alice@example.com", "s3cret é").unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            ok("ALICE@Example.com", "s3cret é").unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            ok("alice@example.com", "wrong"),
            Err(AuthError::WrongPassword)
        );
        assert_eq!(ok("OTHER\\alice", "s3cret é").unwrap(), "alice@other.org");
        assert_eq!(
            ok("alice", "s3cret é"),
            Err(AuthError::UnknownUser),
            "ambiguous bare name"
        );
        assert_eq!(
            ok("bob@example.com", "s3cret é"),
            Err(AuthError::UnknownUser)
        );
        // Cached: the same answer again, and a wrong password is still refused.
        assert!(ok("alice@example.com", "s3cret é").is_ok());
        assert_eq!(
            ok("alice@example.com", "s3cret"),
            Err(AuthError::WrongPassword)
        );
    }

    #[test]
    fn basic_header_forms() {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let c =
            Credentials::from_header(format!("Basic {}", b64(b"a@b.c:p:w")).as_bytes()).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("a@b.c", "p:w"));
        // ISO-8859-1 "é" is 0xE9.
        let c =
            Credentials::from_header(format!("basic {}", b64(b"a:caf\xe9")).as_bytes()).unwrap();
        assert_eq!(c.password, "café");
        assert!(format!("{c:?}").contains("..") && !format!("{c:?}").contains("caf"));
        for bad in [
            "Bearer x",
            "Basic !!!",
            "Basic",
            &format!("Basic {}", b64(b"nocolon")),
        ] {
            assert_eq!(
                Credentials::from_header(bad.as_bytes()),
                Err(AuthError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_unusable_hashes() {
        assert!(check_phc("nope").is_err());
        assert!(
            check_phc("$argon2id$v=19$m=9999999,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo").is_err()
        );
    }
}
