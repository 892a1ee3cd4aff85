//! Outbound mail: what happens to a message a device hands us with SendMail, SmartReply or
//! SmartForward. This part submits a message to the smarthost with [`submit`].

mod config;
mod dotstuff;
mod reply;
mod session;
mod smtp;
mod tls;

pub use config::{CertTrust, ConfigError, Credentials, RetryPolicy, SmtpConfig, TlsMode};
pub use reply::{EnhancedCode, Reply, StatusClass};
pub use smtp::{
    Delivery, Diagnostic, Failure, Permanent, Refusal, SmtpError, Stage, Transient, submit,
};
