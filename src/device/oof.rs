//! Out-of-Office: the settings a device reads and writes with Settings Oof (stored per user), and
//! the auto-reply local delivery sends while they are on: once per sender and OOF period, never to
//! lists, robots or other auto-replies (RFC 3834).

use super::tables::{self, OOF, OOF_SENT};
use super::{DeviceError, Environment, time};
use redb::{ReadableTable, TableHandle};
use serde::{Deserialize, Serialize};

/// MS-ASCMD 2.2.3.120 OofState.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OofState {
    #[default]
    Disabled,
    Global,
    TimeBased,
}

impl OofState {
    pub fn code(self) -> u8 {
        match self {
            OofState::Disabled => 0,
            OofState::Global => 1,
            OofState::TimeBased => 2,
        }
    }

    pub fn from_code(code: &str) -> Option<OofState> {
        match code.trim() {
            "0" => Some(OofState::Disabled),
            "1" => Some(OofState::Global),
            "2" => Some(OofState::TimeBased),
            _ => None,
        }
    }
}

/// Which senders a reply message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Internal,
    ExternalKnown,
    ExternalUnknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OofMessage {
    pub audience: Audience,
    pub enabled: bool,
    pub reply: String,
    /// `Text` or `HTML`, as the device sent it.
    pub body_type: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OofSettings {
    pub state: OofState,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub messages: Vec<OofMessage>,
    /// Changes on every Set, so each new absence answers each sender once again.
    pub generation: u64,
}

impl OofSettings {
    pub fn message(&self, audience: Audience) -> Option<&OofMessage> {
        self.messages.iter().find(|m| m.audience == audience)
    }

    /// Whether replies go out at `now`.
    pub fn active_at(&self, now: u64) -> bool {
        match self.state {
            OofState::Disabled => false,
            OofState::Global => true,
            OofState::TimeBased => {
                self.start.is_none_or(|s| now >= s) && self.end.is_none_or(|e| now < e)
            }
        }
    }
}

pub fn get(db: &redb::Database, user: &str) -> Result<OofSettings, DeviceError> {
    Ok(tables::read(db, OOF, &user.to_ascii_lowercase())?.unwrap_or_default())
}

/// Stores new settings (a new OOF period).
pub fn set(db: &redb::Database, user: &str, mut settings: OofSettings) -> Result<(), DeviceError> {
    let old = get(db, user)?;
    settings.generation = old.generation.wrapping_add(1);
    tables::write(db, OOF, &user.to_ascii_lowercase(), Some(&settings))
}

/// An auto-reply ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoReply {
    pub to: String,
    pub message: Vec<u8>,
}

/// A sender that has answered once is not answered again within this time, even during one
/// long absence (RFC 3834 suggests seven days).
const RESEND_AFTER_SECS: u64 = 7 * 86_400;

#[derive(Serialize, Deserialize)]
struct Sent {
    generation: u64,
    at: u64,
}

fn is_robot(sender: &str) -> bool {
    let local = sender.split('@').next().unwrap_or("").to_ascii_lowercase();
    local.is_empty()
        || local == "mailer-daemon"
        || local == "postmaster"
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.contains("noreply")
        || local.contains("no-reply")
}

/// The auto-reply (if any) for a message `raw` just delivered to `user`. `known_sender` says
/// whether the sender is in the user's contacts (the external-known message). The delivery path
/// calls this and sends the result; the once-per-sender memory is updated here.
pub fn auto_reply_for(
    db: &redb::Database,
    env: &Environment,
    user: &str,
    raw: &[u8],
    known_sender: bool,
    now: u64,
) -> Result<Option<AutoReply>, DeviceError> {
    let settings = get(db, user)?;
    if !settings.active_at(now) {
        return Ok(None);
    }
    let Some(msg) = mail_parser::MessageParser::default().parse_headers(raw) else {
        return Ok(None);
    };
    let header = |name: &str| msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase());
    let automated = header("Auto-Submitted").is_some_and(|v| v != "no")
        || header("Precedence").is_some_and(|v| matches!(v.as_str(), "bulk" | "list" | "junk"))
        || header("List-Id").is_some()
        || header("List-Unsubscribe").is_some()
        || header("X-Autoreply").is_some();
    let return_path = msg
        .return_path()
        .as_text()
        .map(|s| s.trim_matches(['<', '>', ' ']).to_string());
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(String::from);
    let Some(sender) = return_path.filter(|s| !s.is_empty()).or(from) else {
        return Ok(None);
    };
    if automated || is_robot(&sender) || sender.eq_ignore_ascii_case(user) {
        return Ok(None);
    }
    let same_domain = sender
        .rsplit_once('@')
        .zip(user.rsplit_once('@'))
        .is_some_and(|((_, a), (_, b))| a.eq_ignore_ascii_case(b));
    let audience = match (same_domain, known_sender) {
        (true, _) => Audience::Internal,
        (false, true) => Audience::ExternalKnown,
        (false, false) => Audience::ExternalUnknown,
    };
    let Some(reply) = settings.message(audience).filter(|m| m.enabled) else {
        return Ok(None);
    };
    let memory_key = format!(
        "{}\n{}",
        user.to_ascii_lowercase(),
        sender.to_ascii_lowercase()
    );
    let txn = db.begin_write()?;
    {
        let mut sent = txn.open_table(OOF_SENT)?;
        let last: Option<Sent> = match sent.get(memory_key.as_str())? {
            Some(v) => tables::decode(OOF_SENT.name(), &memory_key, v.value()).ok(),
            None => None,
        };
        if last.is_some_and(|l| {
            l.generation == settings.generation && now.saturating_sub(l.at) < RESEND_AFTER_SECS
        }) {
            return Ok(None);
        }
        let record = Sent {
            generation: settings.generation,
            at: now,
        };
        sent.insert(memory_key.as_str(), tables::encode(&record).as_slice())?;
    }
    txn.commit()?;
    let subject = msg.subject().unwrap_or("").replace(['\r', '\n'], " ");
    let message_id = msg.message_id().map(|m| format!("<{m}>"));
    let html = reply.body_type.eq_ignore_ascii_case("html");
    let mut out = format!(
        "From: <{user}>\r\nTo: <{sender}>\r\nSubject: Automatic reply: {subject}\r\nDate: {date}\r\n\
         Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        date = time::rfc5322(now),
        kind = if html { "html" } else { "plain" },
    );
    if let Some(id) = message_id {
        out.push_str(&format!("In-Reply-To: {id}\r\nReferences: {id}\r\n"));
    }
    out.push_str(&format!(
        "Message-ID: <oof.{now}.{}@{}>\r\n\r\n",
        settings.generation, env.hostname
    ));
    out.push_str(&reply.reply);
    Ok(Some(AutoReply {
        to: sender,
        message: out.into_bytes(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment {
            hostname: "mail.example.com".into(),
            data_dir: "/nonexistent".into(),
            maildir_template: "{data_dir}/mail/{email}".into(),
            admin_email: None,
            users: vec![("alice@example.com".into(), "Alice".into())],
            max_per_user: None,
        }
    }

    fn settings(state: OofState) -> OofSettings {
        OofSettings {
            state,
            start: Some(1000),
            end: Some(2000),
            messages: vec![
                OofMessage {
                    audience: Audience::Internal,
                    enabled: true,
                    reply: "Back Monday (colleagues)".into(),
                    body_type: "Text".into(),
                },
                OofMessage {
                    audience: Audience::ExternalUnknown,
                    enabled: true,
                    reply: "I am away".into(),
                    body_type: "Text".into(),
                },
            ],
            generation: 0,
        }
    }

    fn mail(from: &str, extra: &str) -> Vec<u8> {
        format!("From: {from}\r\nTo: alice@example.com\r\nSubject: Hello\r\nMessage-ID: <m1@x>\r\n{extra}\r\nbody")
            .into_bytes()
    }

    #[test]
    fn replies_once_per_sender_and_period() {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("s.redb")).unwrap();
        let env = env();
        let user = "alice@example.com";
        let reply = |raw: &[u8], now| auto_reply_for(&db, &env, user, raw, false, now).unwrap();
        assert_eq!(reply(&mail("bob@other.org", ""), 1500), None);
        set(&db, user, settings(OofState::TimeBased)).unwrap();
        assert_eq!(
            reply(&mail("bob@other.org", ""), 500),
            None,
            "before the period"
        );
        let r = reply(&mail("bob@other.org", ""), 1500).unwrap();
        assert_eq!(r.to, "bob@other.org");
        let text = String::from_utf8(r.message).unwrap();
        assert!(text.contains("I am away"));
        assert!(text.contains("Subject: Automatic reply: Hello"));
        assert!(text.contains("In-Reply-To: <m1@x>"));
        assert_eq!(
            reply(&mail("bob@other.org", ""), 1600),
            None,
            "once per sender"
        );
        let r = reply(&mail("carol@example.com", ""), 1600).unwrap();
        assert!(String::from_utf8(r.message).unwrap().contains("colleagues"));
        assert_eq!(
            reply(&mail("dave@other.org", ""), 2500),
            None,
            "after the period"
        );
        for robot in [
            mail("list@other.org", "List-Id: <l.other.org>\r\n"),
            mail("x@other.org", "Auto-Submitted: auto-replied\r\n"),
            mail("x@other.org", "Precedence: bulk\r\n"),
            mail("noreply@other.org", ""),
            mail("alice@example.com", ""),
        ] {
            assert_eq!(reply(&robot, 1500), None);
        }
        // A new period answers the same sender again.
        set(&db, user, settings(OofState::Global)).unwrap();
        assert!(reply(&mail("bob@other.org", ""), 99_999).is_some());
        assert_eq!(get(&db, user).unwrap().generation, 2);
    }
}
