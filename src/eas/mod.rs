//! The EAS protocol layer: request parsing, the device gate, and one module per command.

pub mod command;
pub mod query;

pub use command::Command;
pub use query::EasQuery;
pub mod endpoint;
