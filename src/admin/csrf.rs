//! CSRF tokens for every form: an HMAC, under a per-process random key, of what the form is bound
//! to (the session, or before login the pre-login cookie). Nothing is stored; a token from another
//! session, a forged one or none at all fails the check, and a restart invalidates them all with
//! the sessions they belong to.

use ring::hmac;

/// The form field every form carries.
pub const FIELD: &str = "csrf";

pub struct Csrf {
    key: hmac::Key,
}

impl Csrf {
    pub fn new(rng: &dyn ring::rand::SecureRandom) -> Result<Csrf, ring::error::Unspecified> {
        Ok(Csrf {
            key: hmac::Key::generate(hmac::HMAC_SHA256, rng)?,
        })
    }

    /// The token for forms bound to `binding`.
    pub fn token(&self, binding: &str) -> String {
        hex(hmac::sign(&self.key, binding.as_bytes()).as_ref())
    }

    /// Whether `token` was made for `binding` (constant-time).
    pub fn check(&self, binding: &str, token: &str) -> bool {
        unhex(token).is_some_and(|tag| hmac::verify(&self.key, binding.as_bytes(), &tag).is_ok())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound() {
        let rng = ring::rand::SystemRandom::new();
        let c = Csrf::new(&rng).unwrap();
        let t = c.token("session-a");
        assert!(c.check("session-a", &t));
        assert!(!c.check("session-b", &t));
        assert!(!c.check("session-a", ""));
        assert!(!c.check("session-a", "zz"));
        assert!(!c.check("session-a", &t[..t.len() - 2]));
        let other = Csrf::new(&rng).unwrap();
        assert!(!other.check("session-a", &t));
    }
}
