//! Web sessions of the console and the user pages: a random 256-bit id in a cookie, kept in
//! memory (a restart logs everyone out, which is what a box's admin expects), ended after
//! `admin.session_idle_secs` without a request, after `MAX_AGE` in any case, or by logging out.
//! The table is bounded: when full, expired sessions go first, then the least recently used.

use super::csrf::hex;
use ring::rand::SecureRandom;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// No session lives longer than this, however busy.
const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once.
const MAX_SESSIONS: usize = 1024;

/// Who a session belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// An `[[admin.account]]` name.
    Admin(String),
    /// A configured user's address.
    User(String),
}

/// A one-time message shown on the next page (the outcome of an action).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub id: String,
    pub role: Role,
    created: Instant,
    last_used: Instant,
    flash: Option<Flash>,
}

pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
        }
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.last_used) < self.idle
            && now.saturating_duration_since(s.created) < MAX_AGE
    }

    /// Starts a session; `None` only when the system has no randomness.
    pub fn create(&self, rng: &dyn SecureRandom, role: Role, now: Instant) -> Option<Session> {
        let mut raw = [0u8; 32];
        rng.fill(&mut raw).ok()?;
        let session = Session {
            id: hex(&raw),
            role,
            created: now,
            last_used: now,
            flash: None,
        };
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| self.live(s, now));
        }
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .values()
                .min_by_key(|s| s.last_used)
                .map(|s| s.id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(session.id.clone(), session.clone());
        Some(session)
    }

    /// The live session with this id, touched; an expired one is dropped.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let live = map.get(id).is_some_and(|s| self.live(s, now));
        if !live {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_used = now;
        Some(s.clone())
    }

    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    pub fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(s) = self
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
        {
            s.flash = Some(flash);
        }
    }

    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(id)
            .and_then(|s| s.flash.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_sessions_expire_and_use_keeps_them() {
        let rng = ring::rand::SystemRandom::new();
        let sessions = Sessions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let s = sessions
            .create(&rng, Role::Admin("root".into()), t0)
            .unwrap();
        assert_eq!(s.id.len(), 64);
        let t1 = t0 + Duration::from_secs(50);
        assert!(sessions.get(&s.id, t1).is_some());
        assert!(sessions.get(&s.id, t1 + Duration::from_secs(50)).is_some());
        assert!(sessions.get(&s.id, t1 + Duration::from_secs(200)).is_none());
        assert!(sessions.get(&s.id, t1).is_none(), "dropped once expired");

        let u = sessions
            .create(&rng, Role::User("a@b.c".into()), t0)
            .unwrap();
        let mut t = t0;
        while t < t0 + MAX_AGE {
            assert!(sessions.get(&u.id, t).is_some());
            t += Duration::from_secs(59);
        }
        assert!(sessions.get(&u.id, t).is_none(), "absolute lifetime");
    }

    #[test]
    fn flash_is_taken_once_and_table_is_bounded() {
        let rng = ring::rand::SystemRandom::new();
        let sessions = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let first = sessions.create(&rng, Role::Admin("a".into()), now).unwrap();
        sessions.set_flash(
            &first.id,
            Flash {
                ok: true,
                text: "done".into(),
            },
        );
        assert_eq!(sessions.take_flash(&first.id).unwrap().text, "done");
        assert!(sessions.take_flash(&first.id).is_none());
        for i in 0..MAX_SESSIONS {
            let later = now + Duration::from_millis(i as u64 + 1);
            sessions.create(&rng, Role::Admin("a".into()), later);
        }
        assert!(sessions.get(&first.id, now).is_none(), "oldest evicted");
        assert!(sessions.map.lock().unwrap().len() <= MAX_SESSIONS);
        sessions.remove("nope");
    }
}
