//! Slowing down password guessing: authentication failures are counted per client address and per
//! configured user, and past a threshold further attempts are refused without hashing for a time
//! that doubles with every further failure (capped at half the window, so a patient attacker never
//! sees the count reset and stays at a few guesses an hour).
//!
//! A legitimate user should not be locked out by someone else guessing at their name, so:
//! - the per-address limit comes first and is the low one: one attacker address is stopped long
//!   before the per-user count matters;
//! - the per-user limit is higher and only catches guessing spread over many addresses;
//! - a user's block is not applied to an address that user logged in from before (a "trusted"
//!   pair, remembered for 30 days), so the user's usual home or office network keeps working;
//! - credentials already verified in the last minutes (the authenticator's cache) never reach
//!   this check at all, so phones that are logged in keep syncing through any block.
//!
//! Memory is bounded whatever an attacker does: every table is a fixed array of slots, set
//! associative on a per-process random hash, and a new key evicts the stalest slot of its set.
//! IPv6 addresses count per /64, the block one subscriber usually gets.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Slots a key may land in; more ways means fewer unlucky evictions, at a longer scan.
const WAYS: usize = 8;
const IP_SLOTS: usize = 4096;
const USER_SLOTS: usize = 1024;
const TRUSTED_SLOTS: usize = 4096;
/// How long a successful login makes an address a user's usual one.
const TRUST_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The first block after the threshold; each further failure doubles it.
const FIRST_BLOCK: Duration = Duration::from_secs(1);

/// The limits, from `[limits]` in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures one address may make within the window before it is slowed down.
    pub per_ip: u32,
    /// Failures on one user's name, from all addresses together, before that user is slowed down.
    pub per_user: u32,
    /// How long a failure is remembered.
    pub window: Duration,
}

/// What was over its limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Address(IpAddr),
    User(String),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Address(ip) => write!(f, "address {ip}"),
            Scope::User(u) => write!(f, "user {u}"),
        }
    }
}

/// An attempt refused, or a block that just began.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub scope: Scope,
    pub retry_after: Duration,
    /// Failures counted in the current burst.
    pub failures: u32,
}

impl Blocked {
    /// Whole seconds for a Retry-After header, never 0.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    key: u64,
    failures: u32,
    last: Instant,
    until: Option<Instant>,
}

/// A fixed number of slots keyed by hash; stale slots count as empty.
struct Table {
    slots: Box<[Option<Slot>]>,
    ttl: Duration,
}

impl Table {
    fn new(len: usize, ttl: Duration) -> Table {
        Table {
            slots: vec![None; len.max(WAYS)].into_boxed_slice(),
            ttl,
        }
    }

    fn set(&mut self, key: u64) -> &mut [Option<Slot>] {
        let sets = self.slots.len() / WAYS;
        let start = (key % sets as u64) as usize * WAYS;
        self.slots.get_mut(start..start + WAYS).unwrap_or_default()
    }

    fn live(slot: &Option<Slot>, ttl: Duration, now: Instant) -> Option<Slot> {
        slot.filter(|s| now.saturating_duration_since(s.last) < ttl)
    }

    fn get(&mut self, key: u64, now: Instant) -> Option<Slot> {
        let ttl = self.ttl;
        self.set(key)
            .iter()
            .filter_map(|s| Self::live(s, ttl, now))
            .find(|s| s.key == key)
    }

    /// The key's slot, made fresh (evicting the stalest of its set) if it has none.
    fn entry(&mut self, key: u64, now: Instant) -> Option<&mut Slot> {
        let ttl = self.ttl;
        let set = self.set(key);
        let pos = set
            .iter()
            .position(|s| Self::live(s, ttl, now).is_some_and(|s| s.key == key))
            .or_else(|| {
                set.iter()
                    .enumerate()
                    .min_by_key(|(_, s)| Self::live(s, ttl, now).map(|s| s.last))
                    .map(|(i, _)| i)
            })?;
        let slot = set.get_mut(pos)?;
        if !slot.is_some_and(|s| s.key == key && now.saturating_duration_since(s.last) < ttl) {
            *slot = Some(Slot {
                key,
                failures: 0,
                last: now,
                until: None,
            });
        }
        slot.as_mut()
    }
}

/// The failure counters of one server; shared by every connection.
pub struct Throttle {
    limits: ThrottleLimits,
    hasher: RandomState,
    ips: Mutex<Table>,
    users: Mutex<Table>,
    trusted: Mutex<Table>,
}

impl Throttle {
    pub fn new(limits: ThrottleLimits) -> Throttle {
        Throttle {
            limits,
            hasher: RandomState::new(),
            ips: Mutex::new(Table::new(IP_SLOTS, limits.window)),
            users: Mutex::new(Table::new(USER_SLOTS, limits.window)),
            trusted: Mutex::new(Table::new(TRUSTED_SLOTS, TRUST_TTL)),
        }
    }

    fn ip_key(&self, ip: IpAddr) -> u64 {
        match ip.to_canonical() {
            IpAddr::V4(v4) => self.hasher.hash_one((4u8, v4.octets())),
            IpAddr::V6(v6) => {
                let net = v6.segments();
                self.hasher
                    .hash_one((6u8, [net[0], net[1], net[2], net[3]]))
            }
        }
    }

    fn user_key(&self, user: &str) -> u64 {
        self.hasher.hash_one(user.to_ascii_lowercase())
    }

    fn pair_key(&self, ip: IpAddr, user: &str) -> u64 {
        self.hasher.hash_one((self.ip_key(ip), self.user_key(user)))
    }

    /// Whether an attempt from `ip` for the configured address `user` (None: not a user we know)
    /// may be verified now.
    pub fn check(&self, ip: IpAddr, user: Option<&str>, now: Instant) -> Result<(), Blocked> {
        let blocked = |table: &Mutex<Table>, key, scope| {
            let slot = table.lock().ok()?.get(key, now)?;
            let until = slot.until.filter(|u| *u > now)?;
            Some(Blocked {
                scope,
                retry_after: until - now,
                failures: slot.failures,
            })
        };
        if let Some(b) = blocked(&self.ips, self.ip_key(ip), Scope::Address(ip)) {
            return Err(b);
        }
        if let Some(user) = user
            && !self.is_trusted(ip, user, now)
            && let Some(b) = blocked(&self.users, self.user_key(user), Scope::User(user.into()))
        {
            return Err(b);
        }
        Ok(())
    }

    fn is_trusted(&self, ip: IpAddr, user: &str, now: Instant) -> bool {
        let key = self.pair_key(ip, user);
        self.trusted
            .lock()
            .is_ok_and(|mut t| t.get(key, now).is_some())
    }

    /// Counts a failed attempt. Returns the blocks that begin with this failure, once per burst,
    /// for the caller to log.
    pub fn failed(&self, ip: IpAddr, user: Option<&str>, now: Instant) -> Vec<Blocked> {
        let mut began = Vec::new();
        let limits = self.limits;
        let mut count = |table: &Mutex<Table>, key, limit: u32, scope: Scope| {
            let Ok(mut table) = table.lock() else {
                return;
            };
            let Some(slot) = table.entry(key, now) else {
                return;
            };
            slot.failures = slot.failures.saturating_add(1);
            slot.last = now;
            if slot.failures < limit {
                return;
            }
            let doublings = (slot.failures - limit).min(30);
            let block = FIRST_BLOCK
                .saturating_mul(1 << doublings)
                .min(limits.window / 2);
            let first = slot.until.is_none();
            slot.until = Some(now + block);
            if first {
                began.push(Blocked {
                    scope,
                    retry_after: block,
                    failures: slot.failures,
                });
            }
        };
        count(
            &self.ips,
            self.ip_key(ip),
            limits.per_ip,
            Scope::Address(ip),
        );
        if let Some(user) = user {
            count(
                &self.users,
                self.user_key(user),
                limits.per_user,
                Scope::User(user.into()),
            );
        }
        began
    }

    /// A verified login makes the pair trusted. Counts are not forgiven: an attacker with an
    /// account of their own could otherwise reset their address between guesses at others.
    pub fn succeeded(&self, ip: IpAddr, user: &str, now: Instant) {
        if let Ok(mut trusted) = self.trusted.lock()
            && let Some(slot) = trusted.entry(self.pair_key(ip, user), now)
        {
            slot.last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ThrottleLimits = ThrottleLimits {
        per_ip: 3,
        per_user: 10,
        window: Duration::from_secs(900),
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_is_blocked_after_its_limit_with_doubling_delays() {
        let t = Throttle::new(LIMITS);
        let now = Instant::now();
        let a = ip("192.0.2.1");
        assert!(t.failed(a, None, now).is_empty());
        assert!(t.failed(a, None, now).is_empty());
        assert!(t.check(a, None, now).is_ok());
        let began = t.failed(a, None, now);
        assert_eq!(began.len(), 1, "the block is reported once");
        assert_eq!(began[0].scope, Scope::Address(a));
        let b = t.check(a, None, now).unwrap_err();
        assert_eq!(b.retry_after, Duration::from_secs(1));
        assert_eq!(b.retry_after_secs(), 1);
        // Later failures in the burst double the delay and are not reported again.
        let later = now + Duration::from_secs(2);
        assert!(t.check(a, None, later).is_ok());
        assert!(t.failed(a, None, later).is_empty());
        assert_eq!(
            t.check(a, None, later).unwrap_err().retry_after,
            Duration::from_secs(2)
        );
        // Other addresses are untouched.
        assert!(t.check(ip("192.0.2.2"), None, later).is_ok());
    }

    #[test]
    fn delays_are_capped_and_a_patient_attacker_never_resets() {
        let t = Throttle::new(LIMITS);
        let a = ip("192.0.2.1");
        let mut now = Instant::now();
        let mut guesses = 0;
        let end = now + Duration::from_secs(24 * 3600);
        while now < end {
            match t.check(a, None, now) {
                Ok(()) => {
                    t.failed(a, None, now);
                    guesses += 1;
                }
                Err(b) => {
                    assert!(b.retry_after <= LIMITS.window / 2);
                    now += b.retry_after;
                }
            }
        }
        // 3 free, a dozen while the delay grows, then one per 450 s.
        assert!(guesses < 3 + 12 + 24 * 8 + 1, "{guesses} guesses a day");
    }

    #[test]
    fn failures_expire_after_the_window() {
        let t = Throttle::new(LIMITS);
        let a = ip("192.0.2.1");
        let now = Instant::now();
        for _ in 0..3 {
            t.failed(a, None, now);
        }
        assert!(t.check(a, None, now).is_err());
        let later = now + LIMITS.window;
        assert!(t.check(a, None, later).is_ok());
        assert!(t.failed(a, None, later).is_empty(), "a fresh count");
    }

    #[test]
    fn ipv6_counts_per_64() {
        let t = Throttle::new(LIMITS);
        let now = Instant::now();
        for host in 1..=3 {
            t.failed(ip(&format!("2001:db8:1:2::{host}")), None, now);
        }
        assert!(t.check(ip("2001:db8:1:2::99"), None, now).is_err());
        assert!(t.check(ip("2001:db8:1:3::1"), None, now).is_ok());
        // An IPv4-mapped address is the IPv4 address.
        for _ in 0..3 {
            t.failed(ip("192.0.2.7"), None, now);
        }
        assert!(t.check(ip("::ffff:192.0.2.7"), None, now).is_err());
    }

    #[test]
    fn spread_guessing_blocks_the_user_but_not_their_usual_address() {
        let t = Throttle::new(LIMITS);
        let now = Instant::now();
        let home = ip("198.51.100.5");
        t.succeeded(home, "ann@example.org", now);
        // Ten attacker addresses, one guess each: no address limit is reached.
        for n in 1..=10 {
            t.failed(ip(&format!("192.0.2.{n}")), Some("ann@example.org"), now);
        }
        let b = t
            .check(ip("192.0.2.50"), Some("ann@example.org"), now)
            .unwrap_err();
        assert_eq!(b.scope, Scope::User("ann@example.org".into()));
        assert!(t.check(home, Some("ann@example.org"), now).is_ok());
        assert!(t.check(home, Some("ANN@example.org"), now).is_ok());
        assert!(
            t.check(ip("192.0.2.50"), Some("bob@example.org"), now)
                .is_ok()
        );
    }

    #[test]
    fn a_login_does_not_reset_the_count() {
        let t = Throttle::new(LIMITS);
        let now = Instant::now();
        let a = ip("192.0.2.1");
        t.failed(a, Some("ann@example.org"), now);
        t.failed(a, Some("ann@example.org"), now);
        t.succeeded(a, "mallory@example.org", now);
        t.failed(a, Some("ann@example.org"), now);
        assert!(t.check(a, None, now).is_err());
    }

    #[test]
    fn memory_stays_fixed_under_a_flood_of_addresses() {
        let t = Throttle::new(LIMITS);
        let now = Instant::now();
        for n in 0..100_000u32 {
            t.failed(IpAddr::from(n.to_be_bytes()), None, now);
        }
        assert_eq!(t.ips.lock().unwrap().slots.len(), IP_SLOTS);
        // A persistent attacker is still tracked among the flood: the stalest slot goes first.
        let a = ip("203.0.113.9");
        for i in 0..3 {
            t.failed(a, None, now + Duration::from_millis(i));
        }
        assert!(t.check(a, None, now + Duration::from_millis(3)).is_err());
    }
}
