//! Outbound mail: what happens to a message a device hands us with SendMail, SmartReply or
//! SmartForward. [`prepare`] turns the raw MIME into something fit to send and [`submit`]
//! hands it to the smarthost.

mod config;
mod date;
mod dotstuff;
mod prepare;
mod reply;
mod session;
mod smtp;
mod tls;

pub use config::{CertTrust, ConfigError, Credentials, RetryPolicy, SmtpConfig, TlsMode};
pub use prepare::{PrepareError, Prepared, prepare};
pub use reply::{EnhancedCode, Reply, StatusClass};
pub use smtp::{
    Delivery, Diagnostic, Failure, Permanent, Refusal, SmtpError, Stage, Transient, submit,
};
