//! The durable queue of messages the smarthost has not taken yet, and the worker that retries
//! them.
//!
//! Each entry is two files in the queue directory: `<id>.msg`, the message, and `<id>.env`,
//! a small TOML envelope (sender, recipients still to do with their last error, attempt count,
//! next attempt). Both are written under `tmp/`, synced and renamed into place, message first,
//! so an entry exists exactly when its envelope does and a crash never leaves half of one.
//!
//! A worker claims an entry by taking an exclusive `flock` on its envelope; the kernel drops the
//! lock when the worker dies, so a crash never leaves an entry stuck, and two workers (even in
//! two processes) never send the same entry at once. An entry is removed only after the server
//! accepted it for every recipient; recipients already accepted are not tried again.

use super::bounce::{BounceReport, FailedRecipient, build_bounce};
use super::config::{RetryPolicy, SmtpConfig};
use super::reply::{EnhancedCode, StatusClass};
use super::smtp::{Diagnostic, Failure, submit};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use smol::Timer;
use smol::channel::{Receiver, Sender};
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Envelopes are a few hundred bytes; anything this big is not one of ours.
const MAX_ENVELOPE: u64 = 1 << 20;
/// Leftovers of an interrupted write are removed once they are this old, which no write takes.
const STALE: Duration = Duration::from_secs(3600);
/// The worker looks at the directory at least this often, for entries another worker had
/// locked when it last looked.
const RESCAN: Duration = Duration::from_secs(60);

/// Names a queue entry: 32 lowercase hex digits, creation time first so names sort by age.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId(String);

impl EntryId {
    fn new(now: SystemTime) -> Result<EntryId, QueueError> {
        let micros = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros()) as u64;
        let mut random = [0u8; 8];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| QueueError::Random)?;
        Ok(EntryId(format!(
            "{micros:016x}{:016x}",
            u64::from_be_bytes(random)
        )))
    }

    fn parse(name: &str) -> Option<EntryId> {
        (name.len() == 32 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| EntryId(name.to_string()))
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A recipient still to be delivered to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub address: String,
    /// Why the last attempt did not reach this recipient.
    pub last_failure: Option<Failure>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    sender: String,
    /// Seconds since the epoch.
    created: u64,
    attempts: u32,
    next_attempt: u64,
    recipients: Vec<Pending>,
}

#[derive(Debug)]
pub enum QueueError {
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// The system's random source failed, so no entry name could be made.
    Random,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Io { path, error } => write!(f, "queue {}: {error}", path.display()),
            QueueError::Random => f.write_str("queue: no random bytes for an entry name"),
        }
    }
}

impl std::error::Error for QueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueueError::Io { error, .. } => Some(error),
            QueueError::Random => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> QueueError + '_ {
    move |error| QueueError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub struct Queue {
    dir: PathBuf,
    tmp: PathBuf,
    policy: RetryPolicy,
    /// Lets `enqueue` cut the worker's sleep short.
    wake_tx: Sender<()>,
    wake_rx: Receiver<()>,
}

impl Queue {
    /// Opens (creating if need be) the queue in `dir`, clearing out stale leftovers of
    /// interrupted writes.
    pub fn open(dir: impl Into<PathBuf>, policy: RetryPolicy) -> Result<Queue, QueueError> {
        let dir = dir.into();
        let tmp = dir.join("tmp");
        fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
        let (wake_tx, wake_rx) = smol::channel::bounded(1);
        let queue = Queue {
            dir,
            tmp,
            policy,
            wake_tx,
            wake_rx,
        };
        queue.clean()?;
        Ok(queue)
    }

    fn env_path(&self, id: &EntryId) -> PathBuf {
        self.dir.join(format!("{id}.env"))
    }

    fn msg_path(&self, id: &EntryId) -> PathBuf {
        self.dir.join(format!("{id}.msg"))
    }

    /// Adds a message whose first attempt just failed for `recipients`; the worker tries again
    /// after the first delay of the retry policy.
    pub fn enqueue(
        &self,
        sender: &str,
        recipients: Vec<Pending>,
        message: &[u8],
        now: SystemTime,
    ) -> Result<EntryId, QueueError> {
        let id = EntryId::new(now)?;
        let envelope = Envelope {
            sender: sender.to_string(),
            created: secs(now),
            attempts: 1,
            next_attempt: secs(now).saturating_add(self.policy.delay_after(1).as_secs()),
            recipients,
        };
        self.write_durably(&format!("{id}.msg"), message, &self.msg_path(&id))?;
        self.write_envelope(&id, &envelope)?;
        // A full channel already holds a wake-up, which is all the worker needs.
        let _ = self.wake_tx.try_send(());
        Ok(id)
    }

    /// The entries on disk, oldest first.
    pub fn entries(&self) -> Result<Vec<EntryId>, QueueError> {
        let mut ids: Vec<EntryId> = fs::read_dir(&self.dir)
            .map_err(io_err(&self.dir))?
            .filter_map(|e| {
                let name = e.ok()?.file_name();
                EntryId::parse(name.to_str()?.strip_suffix(".env")?)
            })
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Tries every entry that is due at `now`, bouncing what has finally failed. Returns when
    /// the next remaining entry falls due, if any remain.
    pub async fn process_due(
        &self,
        cfg: &SmtpConfig,
        hostname: &str,
        now: SystemTime,
        bounce: &(dyn Fn(&str, Vec<u8>) + Sync),
    ) -> Result<Option<SystemTime>, QueueError> {
        let mut next: Option<u64> = None;
        for id in self.entries()? {
            match self.attempt(&id, cfg, hostname, now, bounce).await {
                Ok(Some(due)) => next = Some(next.map_or(due, |n| n.min(due))),
                Ok(None) => {}
                Err(e) => log::error!("queue entry {id}: {e}"),
            }
        }
        Ok(next.map(|s| UNIX_EPOCH + Duration::from_secs(s)))
    }

    /// One delivery attempt for one entry, if it is due and no one else holds it. Returns the
    /// entry's next due time while it remains.
    async fn attempt(
        &self,
        id: &EntryId,
        cfg: &SmtpConfig,
        hostname: &str,
        now: SystemTime,
        bounce: &(dyn Fn(&str, Vec<u8>) + Sync),
    ) -> Result<Option<u64>, QueueError> {
        let Some((_lock, text)) = self.claim(id)? else {
            return Ok(None);
        };
        let mut envelope = match toml::from_str::<Envelope>(&text) {
            Ok(e) if !e.recipients.is_empty() => e,
            Ok(_) => return self.quarantine(id, "no recipients").map(|()| None),
            Err(e) => return self.quarantine(id, &e.to_string()).map(|()| None),
        };
        if envelope.next_attempt > secs(now) {
            return Ok(Some(envelope.next_attempt));
        }
        let message = match fs::read(self.msg_path(id)) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return self.quarantine(id, "message file missing").map(|()| None);
            }
            Err(e) => return Err(io_err(&self.msg_path(id))(e)),
        };

        let addresses: Vec<String> = envelope
            .recipients
            .iter()
            .map(|p| p.address.clone())
            .collect();
        let result = submit(cfg, &envelope.sender, &addresses, &message).await;
        envelope.attempts = envelope.attempts.saturating_add(1);
        let mut failed: Vec<FailedRecipient> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        match result {
            Ok(delivery) => {
                for p in envelope.recipients.drain(..) {
                    if delivery.accepted.contains(&p.address) {
                        log::info!("queue {id}: delivered to {}", p.address);
                        continue;
                    }
                    let failure = delivery
                        .refused
                        .iter()
                        .find(|r| r.recipient == p.address)
                        .map(|r| r.failure());
                    match failure {
                        Some(f) if f.is_permanent() => failed.push(FailedRecipient {
                            address: p.address,
                            failure: f,
                            expired: false,
                        }),
                        Some(f) => pending.push(Pending {
                            address: p.address,
                            last_failure: Some(f),
                        }),
                        None => pending.push(p),
                    }
                }
            }
            Err(e) => {
                log::warn!("queue {id}: attempt {}: {e}", envelope.attempts);
                let failure = e.failure();
                for p in envelope.recipients.drain(..) {
                    if e.is_permanent() {
                        failed.push(FailedRecipient {
                            address: p.address,
                            failure: failure.clone(),
                            expired: false,
                        });
                    } else {
                        pending.push(Pending {
                            address: p.address,
                            last_failure: Some(failure.clone()),
                        });
                    }
                }
            }
        }
        let age = Duration::from_secs(secs(now).saturating_sub(envelope.created));
        if !pending.is_empty() && age >= self.policy.max_age {
            failed.extend(pending.drain(..).map(|p| FailedRecipient {
                address: p.address,
                failure: p.last_failure.unwrap_or(Failure {
                    status: EnhancedCode::new(StatusClass::Transient, 4, 7),
                    diagnostic: Diagnostic::Local("delivery time expired".into()),
                }),
                expired: true,
            }));
        }

        if !failed.is_empty() {
            for f in &failed {
                log::warn!("queue {id}: bouncing {}: {}", f.address, f.failure);
            }
            let report = build_bounce(&BounceReport {
                hostname,
                smarthost: &cfg.host,
                sender: &envelope.sender,
                original: &message,
                arrival: UNIX_EPOCH + Duration::from_secs(envelope.created),
                now,
                token: &format!("{id}.{}", envelope.attempts),
                failed: &failed,
                max_age_hours: self.policy.max_age.as_secs() / 3600,
            });
            bounce(&envelope.sender, report);
        }
        if pending.is_empty() {
            self.remove(id)?;
            return Ok(None);
        }
        envelope.recipients = pending;
        envelope.next_attempt =
            secs(now).saturating_add(self.policy.delay_after(envelope.attempts).as_secs());
        self.write_envelope(id, &envelope)?;
        Ok(Some(envelope.next_attempt))
    }

    /// Locks the entry's envelope and reads it; `None` when another worker holds it or it is
    /// gone. The returned file keeps the lock until dropped.
    fn claim(&self, id: &EntryId) -> Result<Option<(File, String)>, QueueError> {
        let path = self.env_path(id);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(io_err(&path)(e)),
        }
        // Between our open and our lock its holder may have replaced or removed it; then this
        // file is history and the current one is for a later pass.
        let held = file.metadata().map_err(io_err(&path))?;
        match fs::metadata(&path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        }
        let mut text = String::new();
        (&file)
            .take(MAX_ENVELOPE)
            .read_to_string(&mut text)
            .map_err(io_err(&path))?;
        Ok(Some((file, text)))
    }

    fn write_envelope(&self, id: &EntryId, envelope: &Envelope) -> Result<(), QueueError> {
        let path = self.env_path(id);
        let text = toml::to_string(envelope).map_err(|e| QueueError::Io {
            path: path.clone(),
            error: io::Error::other(e),
        })?;
        self.write_durably(&format!("{id}.env"), text.as_bytes(), &path)
    }

    /// Writes `bytes` to `tmp/<name>`, syncs it and renames it to `dest`, then syncs the
    /// directory so the rename itself survives a power cut.
    fn write_durably(&self, name: &str, bytes: &[u8], dest: &Path) -> Result<(), QueueError> {
        let tmp = self.tmp.join(name);
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        fs::rename(&tmp, dest).map_err(io_err(dest))?;
        self.sync_dir()
    }

    fn sync_dir(&self) -> Result<(), QueueError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&self.dir))
    }

    /// Envelope first: without it the message file is an orphan, which `clean` removes.
    fn remove(&self, id: &EntryId) -> Result<(), QueueError> {
        let env = self.env_path(id);
        fs::remove_file(&env).map_err(io_err(&env))?;
        let msg = self.msg_path(id);
        match fs::remove_file(&msg) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&msg)(e)),
        }
        self.sync_dir()
    }

    /// Moves an entry that cannot be processed out of the way, keeping it for the admin.
    fn quarantine(&self, id: &EntryId, why: &str) -> Result<(), QueueError> {
        log::error!("queue {id}: set aside as {id}.env.bad: {why}");
        for path in [self.env_path(id), self.msg_path(id)] {
            let mut bad = path.clone().into_os_string();
            bad.push(".bad");
            match fs::rename(&path, &bad) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path)(e)),
            }
        }
        Ok(())
    }

    /// Removes stale temporary files and message files whose envelope never made it.
    fn clean(&self) -> Result<(), QueueError> {
        let stale = |path: &Path| {
            fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age >= STALE)
        };
        for entry in fs::read_dir(&self.tmp)
            .map_err(io_err(&self.tmp))?
            .flatten()
        {
            let path = entry.path();
            if stale(&path) {
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        for entry in fs::read_dir(&self.dir)
            .map_err(io_err(&self.dir))?
            .flatten()
        {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".msg"))
                .and_then(EntryId::parse)
            else {
                continue;
            };
            let path = entry.path();
            if !self.env_path(&id).exists() && stale(&path) {
                log::warn!("queue: removing {} which has no envelope", path.display());
                fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        Ok(())
    }
}

/// The queue worker: tries what is due, sleeps until the next entry falls due (or something is
/// enqueued), forever. Drop the future to stop it; an attempt cut short is retried later.
pub async fn run(
    queue: &Queue,
    cfg: &SmtpConfig,
    hostname: &str,
    bounce: impl Fn(&str, Vec<u8>) + Sync,
) {
    loop {
        let next = match queue
            .process_due(cfg, hostname, SystemTime::now(), &bounce)
            .await
        {
            Ok(next) => next,
            Err(e) => {
                log::error!("{e}");
                None
            }
        };
        let wait = next
            .map(|due| due.duration_since(SystemTime::now()).unwrap_or_default())
            .unwrap_or(RESCAN)
            .min(RESCAN);
        smol::future::or(
            async {
                Timer::after(wait).await;
            },
            async {
                // The queue holds the sender, so the channel never closes while we wait.
                let _ = queue.wake_rx.recv().await;
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::reply::Reply;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(vec![Duration::from_secs(60)], Duration::from_secs(3600)).unwrap()
    }

    #[test]
    fn envelope_round_trips_through_toml() {
        let reply = Reply::try_from("451 4.3.0 try later".to_string()).unwrap();
        let envelope = Envelope {
            sender: "me@example.org".into(),
            created: 1,
            attempts: 2,
            next_attempt: 3,
            recipients: vec![
                Pending {
                    address: "a@example.net".into(),
                    last_failure: Some(Failure::from_reply(&reply)),
                },
                Pending {
                    address: "b@example.net".into(),
                    last_failure: Some(Failure {
                        status: EnhancedCode::new(StatusClass::Transient, 4, 0),
                        diagnostic: Diagnostic::Local("connect: refused".into()),
                    }),
                },
                Pending {
                    address: "c@example.net".into(),
                    last_failure: None,
                },
            ],
        };
        let text = toml::to_string(&envelope).unwrap();
        let back: Envelope = toml::from_str(&text).unwrap();
        assert_eq!(back.recipients, envelope.recipients, "{text}");
        assert_eq!(
            (
                back.sender.as_str(),
                back.created,
                back.attempts,
                back.next_attempt
            ),
            ("me@example.org", 1, 2, 3)
        );
    }

    #[test]
    fn enqueue_writes_both_files_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), policy()).unwrap();
        let id = q
            .enqueue(
                "me@example.org",
                vec![Pending {
                    address: "a@example.net".into(),
                    last_failure: None,
                }],
                b"Subject: x\r\n\r\nbody\r\n",
                SystemTime::now(),
            )
            .unwrap();
        assert_eq!(q.entries().unwrap(), std::slice::from_ref(&id));
        assert_eq!(
            fs::read(q.msg_path(&id)).unwrap(),
            b"Subject: x\r\n\r\nbody\r\n"
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn a_claimed_entry_cannot_be_claimed_again() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), policy()).unwrap();
        let other = Queue::open(dir.path(), policy()).unwrap();
        let id = q
            .enqueue(
                "me@example.org",
                vec![Pending {
                    address: "a@example.net".into(),
                    last_failure: None,
                }],
                b"x",
                SystemTime::now(),
            )
            .unwrap();
        let held = q.claim(&id).unwrap().unwrap();
        assert!(other.claim(&id).unwrap().is_none());
        drop(held);
        assert!(other.claim(&id).unwrap().is_some());
    }

    #[test]
    fn corrupt_envelopes_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path(), policy()).unwrap();
        let id = EntryId::parse("0123456789abcdef0123456789abcdef").unwrap();
        fs::write(q.env_path(&id), "not = [toml").unwrap();
        fs::write(q.msg_path(&id), "message").unwrap();
        let cfg: SmtpConfig = toml::from_str("host = \"127.0.0.1\"\nport = 9").unwrap();
        let next = smol::block_on(q.process_due(&cfg, "h", SystemTime::now(), &|_, _| {
            panic!("no bounce for an unreadable entry")
        }))
        .unwrap();
        assert_eq!(next, None);
        assert!(q.entries().unwrap().is_empty());
        assert!(dir.path().join(format!("{id}.env.bad")).exists());
        assert!(dir.path().join(format!("{id}.msg.bad")).exists());
    }

    #[test]
    fn entry_names_are_checked() {
        assert!(EntryId::parse("0123456789abcdef0123456789abcdef").is_some());
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "../3456789abcdef0123456789abcdef",
            "x.env",
        ] {
            assert!(EntryId::parse(bad).is_none(), "{bad}");
        }
        let a = EntryId::new(UNIX_EPOCH + Duration::from_secs(1)).unwrap();
        let b = EntryId::new(UNIX_EPOCH + Duration::from_secs(2)).unwrap();
        assert!(a < b);
        assert!(EntryId::parse(&a.to_string()).is_some());
    }
}
