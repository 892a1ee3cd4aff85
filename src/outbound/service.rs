//! The one entry point the mail-sending commands use: prepare a message, tell the caller which
//! recipients are its own users, try the smarthost once for the rest and queue what it defers.

use super::bounce::{BounceReport, FailedRecipient, build_bounce};
use super::config::SmtpConfig;
use super::prepare::{PrepareError, Prepared, prepare};
use super::queue::{Pending, Queue, QueueError, run};
use super::smtp::{Refusal, SmtpError, submit};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::path::Path;
use std::time::SystemTime;

/// What became of a sent message.
#[derive(Debug)]
pub struct SendOutcome {
    /// The message as delivered: Bcc removed, From/Date/Message-ID added where missing. The
    /// caller puts these bytes into the mailboxes of `local`.
    pub message: Prepared,
    /// Recipients that are users of this server, for the caller to deliver to.
    pub local: Vec<String>,
    /// Taken by the smarthost.
    pub sent: Vec<String>,
    /// Deferred by the smarthost or unreachable; the queue keeps trying and bounces if it must.
    pub queued: Vec<String>,
    /// Permanently refused by the smarthost, while others were taken.
    pub refused: Vec<Refusal>,
}

#[derive(Debug)]
pub enum SendError {
    /// The message cannot be sent as it is (no recipients, not a message, ...).
    Prepare(PrepareError),
    /// Larger than `smtp.max_message_bytes`.
    TooLarge { size: u64, limit: u64 },
    /// Remote recipients but no `[smtp]` section.
    NoSmarthost { remote: Vec<String> },
    /// The smarthost refused every remote recipient.
    Refused(Vec<Refusal>),
    /// The smarthost refused the whole message or session (bad credentials, content refused,
    /// required STARTTLS missing, ...).
    Rejected(SmtpError),
    /// Deferred, but the queue could not store the message.
    Queue(QueueError),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Prepare(e) => write!(f, "{e}"),
            SendError::TooLarge { size, limit } => {
                write!(
                    f,
                    "message of {size} bytes is larger than the limit of {limit}"
                )
            }
            SendError::NoSmarthost { remote } => write!(
                f,
                "no smarthost configured ([smtp] section) for remote recipients {}",
                remote.join(", ")
            ),
            SendError::Refused(refusals) => {
                f.write_str("every remote recipient was refused:")?;
                for r in refusals {
                    write!(f, " <{}> {};", r.recipient, r.reply)?;
                }
                Ok(())
            }
            SendError::Rejected(e) => write!(f, "smarthost: {e}"),
            SendError::Queue(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Prepare(e) => Some(e),
            SendError::Rejected(e) => Some(e),
            SendError::Queue(e) => Some(e),
            SendError::TooLarge { .. } | SendError::NoSmarthost { .. } | SendError::Refused(_) => {
                None
            }
        }
    }
}

impl From<PrepareError> for SendError {
    fn from(e: PrepareError) -> SendError {
        SendError::Prepare(e)
    }
}

impl From<QueueError> for SendError {
    fn from(e: QueueError) -> SendError {
        SendError::Queue(e)
    }
}

struct Smarthost {
    cfg: SmtpConfig,
    queue: Queue,
}

/// Outbound mail for one server; share it behind an `Arc`.
pub struct Outbound {
    hostname: String,
    smarthost: Option<Smarthost>,
}

impl Outbound {
    /// `hostname` names the server in Message-IDs, bounces and (unless `smtp.helo_name` says
    /// otherwise) EHLO. With a smarthost, opens its queue under `data_dir`.
    pub fn new(
        smtp: Option<SmtpConfig>,
        data_dir: &Path,
        hostname: &str,
    ) -> Result<Outbound, QueueError> {
        let smarthost = match smtp {
            Some(mut cfg) => {
                cfg.helo_name.get_or_insert_with(|| hostname.to_string());
                let queue = Queue::open(data_dir.join(&cfg.queue_dir), cfg.retry.clone())?;
                Some(Smarthost { cfg, queue })
            }
            None => None,
        };
        Ok(Outbound {
            hostname: hostname.to_string(),
            smarthost,
        })
    }

    /// Sends `raw` (the MIME message from the device) on behalf of `sender`, the authenticated
    /// user. `is_local` tells which recipients are users of this server; those are only
    /// reported back, never sent out.
    pub async fn send(
        &self,
        sender: &str,
        raw: &[u8],
        is_local: impl Fn(&str) -> bool,
    ) -> Result<SendOutcome, SendError> {
        if let Some(host) = &self.smarthost {
            let size = raw.len() as u64;
            if size > host.cfg.max_message_bytes {
                return Err(SendError::TooLarge {
                    size,
                    limit: host.cfg.max_message_bytes,
                });
            }
        }
        let now = SystemTime::now();
        let message = prepare(raw, sender, now, &self.hostname)?;
        let (local, remote): (Vec<String>, Vec<String>) = message
            .recipients
            .iter()
            .cloned()
            .partition(|r| is_local(r));
        let mut outcome = SendOutcome {
            message,
            local,
            sent: Vec::new(),
            queued: Vec::new(),
            refused: Vec::new(),
        };
        if remote.is_empty() {
            return Ok(outcome);
        }
        let Some(host) = &self.smarthost else {
            return Err(SendError::NoSmarthost { remote });
        };

        let pending: Vec<Pending> =
            match submit(&host.cfg, sender, &remote, &outcome.message.bytes).await {
                Ok(delivery) => {
                    outcome.sent = delivery.accepted;
                    let (refused, deferred): (Vec<Refusal>, Vec<Refusal>) = delivery
                        .refused
                        .into_iter()
                        .partition(|r| r.reply.is_permanent());
                    if outcome.sent.is_empty() && deferred.is_empty() {
                        return Err(SendError::Refused(refused));
                    }
                    outcome.refused = refused;
                    deferred
                        .into_iter()
                        .map(|r| Pending {
                            last_failure: Some(r.failure()),
                            address: r.recipient,
                        })
                        .collect()
                }
                Err(e) if e.is_permanent() => return Err(SendError::Rejected(e)),
                Err(e) => {
                    log::warn!(
                        "outbound: queueing message {}: {e}",
                        outcome.message.message_id
                    );
                    let failure = e.failure();
                    remote
                        .iter()
                        .map(|address| Pending {
                            address: address.clone(),
                            last_failure: Some(failure.clone()),
                        })
                        .collect()
                }
            };
        if !pending.is_empty() {
            outcome.queued = pending.iter().map(|p| p.address.clone()).collect();
            host.queue
                .enqueue(sender, pending, &outcome.message.bytes, now)?;
        }
        Ok(outcome)
    }

    /// The bounce telling `sender` which recipients the smarthost refused while it took
    /// `message` for others (a [`SendOutcome`] with `refused`), for the sender's INBOX.
    pub fn refusal_bounce(
        &self,
        sender: &str,
        message: &[u8],
        refused: &[Refusal],
    ) -> Option<Vec<u8>> {
        let host = self.smarthost.as_ref()?;
        if refused.is_empty() {
            return None;
        }
        let mut random = [0u8; 12];
        SystemRandom::new().fill(&mut random).ok()?;
        let token: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let failed: Vec<FailedRecipient> = refused
            .iter()
            .map(|r| FailedRecipient {
                address: r.recipient.clone(),
                failure: r.failure(),
                expired: false,
            })
            .collect();
        let now = SystemTime::now();
        Some(build_bounce(&BounceReport {
            hostname: &self.hostname,
            smarthost: &host.cfg.host,
            sender,
            original: message,
            arrival: now,
            now,
            token: &token,
            failed: &failed,
            max_age_hours: host.cfg.retry.max_age.as_secs() / 3600,
        }))
    }

    /// The queue worker (see [`run`]); returns at once when there is no smarthost, since then
    /// nothing is ever queued.
    pub async fn run_queue(&self, bounce: impl Fn(&str, Vec<u8>) + Sync) {
        if let Some(host) = &self.smarthost {
            run(&host.queue, &host.cfg, &self.hostname, bounce).await;
        }
    }

    /// The queue, when there is a smarthost.
    pub fn queue(&self) -> Option<&Queue> {
        self.smarthost.as_ref().map(|h| &h.queue)
    }
}
