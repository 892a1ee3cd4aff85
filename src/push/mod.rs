//! Direct Push: the wake-up hub held Pings wait on, the UDP notification listener that lets Postfix,
//! Dovecot and Radicale hooks wake them, and the fallback directory watcher.

pub mod datagram;
pub mod hold;
pub mod hub;
pub mod ping;
pub mod precheck;
pub mod resolve;
pub mod udp;
pub mod watch;

pub use hub::{Hub, Subscription, Wake};
