//! MIME ⇄ EAS Email class: a raw RFC 5322 message from the mail store becomes the
//! `ApplicationData` of Sync and ItemOperations (MS-ASEMAIL, MS-ASAIRS) for every protocol
//! version easd speaks; attachments are listed by stable index and fetched by FileReference.

mod address;
mod app_data;
mod attachments;
mod body;
mod conversation;
mod html;
mod options;
mod parsed;

use std::fmt;

pub use app_data::to_application_data;
pub use attachments::{AttachmentData, attachment, file_reference, parse_file_reference};
pub use body::MAX_PREVIEW;
pub use options::{
    EmailOptions, MessageMeta, MimeSupport, mime_truncation_limit, truncation_limit,
};

/// Why an email request or conversion was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailError {
    /// An AirSync `Truncation` code outside 0..=9.
    InvalidTruncation(u8),
    /// An AirSync `MIMETruncation` code outside 0..=8.
    InvalidMimeTruncation(u8),
    /// An AirSync `MIMESupport` value outside 0..=2.
    InvalidMimeSupport(u8),
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTruncation(c) => write!(f, "invalid Truncation code {c}"),
            Self::InvalidMimeTruncation(c) => write!(f, "invalid MIMETruncation code {c}"),
            Self::InvalidMimeSupport(c) => write!(f, "invalid MIMESupport value {c}"),
        }
    }
}

impl std::error::Error for EmailError {}
