//! MIME ⇄ EAS Email class: a raw RFC 5322 message from the mail store becomes the
//! `ApplicationData` of Sync and ItemOperations (MS-ASEMAIL, MS-ASAIRS) for every protocol
//! version easd speaks; attachments are listed by stable index and fetched by FileReference;
//! 16.x drafts go the other way, from `ApplicationData` to a message.

pub mod address;
mod app_data;
mod attachments;
mod body;
pub mod compose;
mod conversation;
mod draft;
pub mod file_message;
mod html;
mod options;
mod parsed;
pub mod pim_message;
mod smart;

use std::fmt;

pub use app_data::to_application_data;
pub use attachments::{AttachmentData, attachment, file_reference, parse_file_reference};
pub use body::MAX_PREVIEW;
pub use draft::{Draft, DraftInput, draft_to_mime};
pub use options::{
    EmailOptions, LastVerb, MessageMeta, MimeSupport, RecordedVerb, mime_truncation_limit,
    truncation_limit,
};
pub use smart::{SmartError, SmartKind, reply_verb, smart_message};

/// Why an email request or conversion was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailError {
    /// An AirSync `Truncation` code outside 0..=9.
    InvalidTruncation(u8),
    /// An AirSync `MIMETruncation` code outside 0..=8.
    InvalidMimeTruncation(u8),
    /// An AirSync `MIMESupport` value outside 0..=2.
    InvalidMimeSupport(u8),
    /// A draft body of a type other than plain text or HTML.
    UnsupportedDraftBody(u8),
    /// A draft attachment Add that lacks a required element or has an invalid one.
    InvalidDraftAttachment(&'static str),
    /// A draft attachment Delete naming an attachment the stored draft does not have.
    UnknownFileReference(String),
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidTruncation(c) => write!(f, "invalid Truncation code {c}"),
            Self::InvalidMimeTruncation(c) => write!(f, "invalid MIMETruncation code {c}"),
            Self::InvalidMimeSupport(c) => write!(f, "invalid MIMESupport value {c}"),
            Self::UnsupportedDraftBody(t) => write!(f, "draft body type {t} is not supported"),
            Self::InvalidDraftAttachment(why) => write!(f, "invalid draft attachment: {why}"),
            Self::UnknownFileReference(r) => write!(f, "no attachment {r:?} in the draft"),
        }
    }
}

impl std::error::Error for EmailError {}
