//! The EAS protocol layer: request parsing, the device gate, and one module per command.

pub mod command;
pub mod dispatch;
pub mod endpoint;
pub mod fields;
pub mod find;
pub mod foldercreate;
pub mod folderdelete;
pub mod foldersync;
pub mod folderupdate;
pub mod getattachment;
pub mod getitemestimate;
mod hierarchy;
pub mod ids;
pub mod itemoperations;
pub mod limits;
pub mod moveitems;
pub mod options;
pub mod ping;
pub mod provision;
pub mod query;
pub mod resolverecipients;
pub mod search;
pub mod sendmail;
pub mod settings;
pub mod sync;
pub mod validatecert;

pub use command::Command;
pub use query::EasQuery;

use crate::ProtocolVersion;
use crate::wbxml::Element;
use bytes::Bytes;

/// One authenticated EAS request, as the command handlers see it.
#[derive(Debug)]
pub struct Request {
    pub query: EasQuery,
    pub version: ProtocolVersion,
    pub policy_key: Option<u32>,
    /// The configured address the credentials belong to.
    pub user: String,
    pub user_agent: String,
    pub body: Bytes,
    /// The decoded WBXML body, when the command carries one.
    pub tree: Option<Element>,
}

/// What a command answers.
#[derive(Debug)]
pub enum Reply {
    Wbxml(Element),
    /// 200 with no body (e.g. a successful SendMail, or a Sync with nothing to say).
    Empty,
    /// An HTTP status with no body (400, 403, 449, 500, 501, 503...).
    Status(u16),
    /// A non-WBXML body (GetAttachment data, multipart ItemOperations).
    Raw {
        content_type: String,
        body: Vec<u8>,
    },
}
