//! Outbound mail: what happens to a message a device hands us with SendMail, SmartReply or
//! SmartForward. [`prepare`] turns the raw MIME into something fit to send, [`Outbound`] splits
//! its recipients into local users and remote ones and tries the smarthost once with
//! [`submit`], and the durable [`Queue`] keeps what was deferred, retrying and finally bouncing.

mod bounce;
mod config;
mod date;
mod dotstuff;
mod prepare;
mod queue;
mod reply;
mod service;
mod session;
mod smtp;
mod tls;

pub use config::{CertTrust, ConfigError, Credentials, RetryPolicy, SmtpConfig, TlsMode};
pub use prepare::{PrepareError, Prepared, prepare};
pub use queue::{EntryId, Pending, Queue, QueueError, run};
pub use reply::{EnhancedCode, Reply, StatusClass};
pub use service::{Outbound, SendError, SendOutcome};
pub use smtp::{
    Delivery, Diagnostic, Failure, Permanent, Refusal, SmtpError, Stage, Transient, submit,
};
