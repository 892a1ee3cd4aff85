//! Device management: the registry of phones per user, security policies with their inheritance,
//! ABQ (allow / block / quarantine) rules, remote wipe, Out-of-Office, per-device folder options,
//! the gate every EAS request passes, the notices mailed to owners and the administrator, and the
//! admin control socket.

pub mod abq;
pub mod control;
mod error;
pub mod gate;
mod ids;
pub mod notify;
pub mod oof;
pub mod options;
pub mod policy;
pub mod registry;
mod service;
mod tables;
pub mod time;
pub mod trace;

pub use error::DeviceError;
pub use ids::{DeviceId, DeviceKey};
pub use service::{Devices, Environment};
