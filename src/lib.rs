//! easd: an Exchange ActiveSync server for data that already lives on the box
//! (Maildir++ mail, vdir contacts/calendars/tasks/notes). See docs/architecture.md.

pub mod acme;
pub mod admin;
pub mod app;
pub mod auth;
pub mod autodiscover;
pub mod bench;
pub mod cli;
pub mod client;
pub mod collections;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod device;
pub mod doctor;
pub mod eas;
pub mod freebusy;
pub mod gal;
pub mod http;
pub mod items;
pub mod logger;
pub mod mailsearch;
pub mod outbound;
pub mod push;
pub mod router;
pub mod state;
pub mod store;
pub mod version;
pub mod wbxml;
pub mod work;
pub mod x509;

pub use version::ProtocolVersion;
