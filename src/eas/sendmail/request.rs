//! The typed requests and answers of SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17,
//! 2.2.1.19, 2.2.1.20): the 14.0+ ComposeMail WBXML form and the 2.5/12.x form, whose
//! parameters travel in the query string and whose body is the raw message.

use crate::eas::fields::{self, ParseError, status_element, status_enum};
use crate::eas::{Command, EasQuery};
use crate::wbxml::tags::{airsyncbase, composemail as cm, rightsmanagement};
use crate::wbxml::{Element, Tag};

status_enum!(
    /// ComposeMail Status (MS-ASCMD 2.2.3.177.14 and .16, values from 2.2.2).
    ComposeStatus {
        InvalidContent = 101,
        InvalidWbxml = 102,
        InvalidXml = 103,
        InvalidDateTime = 104,
        InvalidCombinationOfIds = 105,
        InvalidMime = 107,
        ServerError = 110,
        ServerErrorRetryLater = 111,
        MailboxQuotaExceeded = 113,
        SendQuotaExceeded = 115,
        MessageRecipientUnresolved = 116,
        MessageReplyNotAllowed = 117,
        MessagePreviouslySent = 118,
        MessageHasNoRecipient = 119,
        MailSubmissionFailed = 120,
        MessageReplyFailed = 121,
        AttachmentIsTooLarge = 122,
        ItemNotFound = 150,
        InvalidAccountId = 166,
        AccountSendDisabled = 167,
        IrmFeatureDisabled = 168,
    }
);

/// Which of the three commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComposeCommand {
    SendMail,
    SmartReply,
    SmartForward,
}

impl ComposeCommand {
    pub fn from_command(cmd: Command) -> Option<ComposeCommand> {
        match cmd {
            Command::SendMail => Some(ComposeCommand::SendMail),
            Command::SmartReply => Some(ComposeCommand::SmartReply),
            Command::SmartForward => Some(ComposeCommand::SmartForward),
            _ => None,
        }
    }

    pub fn command(self) -> Command {
        match self {
            ComposeCommand::SendMail => Command::SendMail,
            ComposeCommand::SmartReply => Command::SmartReply,
            ComposeCommand::SmartForward => Command::SmartForward,
        }
    }

    /// The request's and the answer's top element.
    pub fn tag(self) -> Tag {
        match self {
            ComposeCommand::SendMail => cm::SEND_MAIL,
            ComposeCommand::SmartReply => cm::SMART_REPLY,
            ComposeCommand::SmartForward => cm::SMART_FORWARD,
        }
    }

    fn from_tag(tag: Tag) -> Option<ComposeCommand> {
        [
            ComposeCommand::SendMail,
            ComposeCommand::SmartReply,
            ComposeCommand::SmartForward,
        ]
        .into_iter()
        .find(|c| c.tag() == tag)
    }
}

/// The message a SmartReply or SmartForward refers to. Before 14.0 only `folder_id` and
/// `item_id` exist (the query's CollectionId and ItemId).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComposeSource {
    pub folder_id: Option<String>,
    pub item_id: Option<String>,
    /// A Search result's LongId.
    pub long_id: Option<String>,
    /// The occurrence of a recurring meeting (a DateTime).
    pub instance_id: Option<String>,
}

impl ComposeSource {
    fn parse(el: &Element) -> ComposeSource {
        let get = |t| fields::opt_text(el, t).map(|s| s.trim().to_string());
        ComposeSource {
            folder_id: get(cm::FOLDER_ID),
            item_id: get(cm::ITEM_ID),
            long_id: get(cm::LONG_ID),
            instance_id: get(cm::INSTANCE_ID),
        }
    }

    fn encode(&self) -> Element {
        Element::new(cm::SOURCE)
            .with_opt_text(cm::FOLDER_ID, self.folder_id.as_deref())
            .with_opt_text(cm::ITEM_ID, self.item_id.as_deref())
            .with_opt_text(cm::LONG_ID, self.long_id.as_deref())
            .with_opt_text(cm::INSTANCE_ID, self.instance_id.as_deref())
    }
}

/// 16.0+: someone a calendar item is forwarded to (MS-ASCMD 2.2.3.78).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forwardee {
    pub email: String,
    pub name: Option<String>,
}

/// 16.0+: the text of a calendar item's forward when the server writes the message itself
/// (airsyncbase:Body with Forwardees, instead of Mime).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeBody {
    /// HTML (Type 2) rather than plain text (Type 1).
    pub html: bool,
    pub data: String,
}

/// One SendMail, SmartReply or SmartForward, in either form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeRequest {
    pub command: ComposeCommand,
    /// Required in the WBXML form; the 2.5/12.x form has none.
    pub client_id: Option<String>,
    /// 14.1+: the account to send from.
    pub account_id: Option<String>,
    pub save_in_sent_items: bool,
    pub replace_mime: bool,
    pub source: Option<ComposeSource>,
    /// The RFC 5322 message.
    pub mime: Vec<u8>,
    /// 14.1+: an IRM template to protect the message with.
    pub template_id: Option<String>,
    /// 16.0+ SmartForward of a calendar item without Mime: who gets it…
    pub forwardees: Vec<Forwardee>,
    /// …and the text to send with it.
    pub body: Option<ComposeBody>,
}

impl ComposeRequest {
    /// The 14.0+ WBXML form.
    pub fn parse(el: &Element) -> Result<ComposeRequest, ParseError> {
        let command = ComposeCommand::from_tag(el.tag).ok_or(ParseError::WrongRoot {
            expected: cm::SEND_MAIL,
            found: el.tag,
        })?;
        let client_id = fields::text(el, cm::CLIENT_ID)?.trim().to_string();
        let forwardees = match el.first(cm::FORWARDEES) {
            Some(list) => list
                .all(cm::FORWARDEE)
                .map(|f| {
                    Ok(Forwardee {
                        email: fields::text(f, cm::EMAIL)?.trim().to_string(),
                        name: fields::opt_text(f, cm::NAME).map(|n| n.trim().to_string()),
                    })
                })
                .collect::<Result<Vec<_>, ParseError>>()?,
            None => Vec::new(),
        };
        let body = match el.first(airsyncbase::BODY) {
            Some(b) => Some(ComposeBody {
                html: match fields::opt_text(b, airsyncbase::TYPE).map(str::trim) {
                    None | Some("1") => false,
                    Some("2") => true,
                    Some(_) => return Err(ParseError::BadValue(airsyncbase::TYPE)),
                },
                data: fields::opt_text(b, airsyncbase::DATA)
                    .unwrap_or_default()
                    .to_string(),
            }),
            None => None,
        };
        // Forwardees and Body replace the message: the server writes it (MS-ASCMD 2.2.3.169).
        let server_written = !forwardees.is_empty() || body.is_some();
        let mime = match el.first(cm::MIME) {
            Some(_) if server_written => return Err(ParseError::BadValue(cm::MIME)),
            Some(m) => m.data().map(|d| d.into_owned()).unwrap_or_default(),
            None if server_written && command == ComposeCommand::SmartForward => Vec::new(),
            None => return Err(ParseError::Missing(cm::MIME)),
        };
        if server_written && forwardees.is_empty() {
            return Err(ParseError::Missing(cm::FORWARDEES));
        }
        let source = el.first(cm::SOURCE).map(ComposeSource::parse);
        if command != ComposeCommand::SendMail && source.is_none() {
            return Err(ParseError::Missing(cm::SOURCE));
        }
        Ok(ComposeRequest {
            command,
            client_id: Some(client_id),
            account_id: fields::opt_text(el, cm::ACCOUNT_ID).map(|s| s.trim().to_string()),
            save_in_sent_items: fields::opt_flag(el, cm::SAVE_IN_SENT_ITEMS)?.unwrap_or(false),
            replace_mime: fields::opt_flag(el, cm::REPLACE_MIME)?.unwrap_or(false),
            source,
            mime,
            template_id: fields::opt_text(el, rightsmanagement::TEMPLATE_ID)
                .map(|s| s.trim().to_string()),
            forwardees,
            body,
        })
    }

    /// The 14.0+ WBXML form, elements in the schema's order.
    pub fn encode(&self) -> Element {
        let mut el = Element::new(self.command.tag())
            .with_text(cm::CLIENT_ID, self.client_id.clone().unwrap_or_default())
            .with_opt_text(cm::ACCOUNT_ID, self.account_id.as_deref());
        if self.save_in_sent_items {
            el.push(Element::new(cm::SAVE_IN_SENT_ITEMS));
        }
        if self.replace_mime {
            el.push(Element::new(cm::REPLACE_MIME));
        }
        if let Some(s) = &self.source {
            el.push(s.encode());
        }
        if self.forwardees.is_empty() && self.body.is_none() {
            el.push(Element::opaque(cm::MIME, self.mime.clone()));
        }
        let mut el = el.with_opt_text(rightsmanagement::TEMPLATE_ID, self.template_id.as_deref());
        if let Some(b) = &self.body {
            el.push(
                Element::new(airsyncbase::BODY)
                    .with_text(airsyncbase::TYPE, if b.html { "2" } else { "1" })
                    .with_text(airsyncbase::DATA, b.data.clone()),
            );
        }
        if !self.forwardees.is_empty() {
            let mut list = Element::new(cm::FORWARDEES);
            for f in &self.forwardees {
                list.push(
                    Element::new(cm::FORWARDEE)
                        .with_text(cm::EMAIL, f.email.clone())
                        .with_opt_text(cm::NAME, f.name.as_deref()),
                );
            }
            el.push(list);
        }
        el
    }

    /// The 2.5/12.x form: ItemId, CollectionId and SaveInSent from the query, the message as
    /// the body.
    pub fn from_query(query: &EasQuery, body: &[u8]) -> Option<ComposeRequest> {
        let command = ComposeCommand::from_command(query.cmd)?;
        let source = (command != ComposeCommand::SendMail).then(|| ComposeSource {
            folder_id: query.collection_id.as_deref().map(str::to_string),
            item_id: query.item_id.clone(),
            long_id: query.long_id.clone(),
            instance_id: None,
        });
        Some(ComposeRequest {
            command,
            client_id: None,
            account_id: None,
            save_in_sent_items: query.save_in_sent,
            replace_mime: false,
            source,
            mime: body.to_vec(),
            template_id: None,
            forwardees: Vec::new(),
            body: None,
        })
    }

    /// Puts the 2.5/12.x parameters into `query` (whose command must be this one); the body to
    /// send is `mime`.
    pub fn to_query(&self, query: &mut EasQuery) {
        query.cmd = self.command.command();
        query.save_in_sent = self.save_in_sent_items;
        if let Some(s) = &self.source {
            query.item_id = s.item_id.clone();
            query.collection_id = s
                .folder_id
                .as_deref()
                .and_then(|f| crate::eas::query::Short::try_from(f).ok());
            query.long_id = s.long_id.clone();
        }
    }
}

/// The answer: nothing on success, else the top element with a Status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComposeResponse {
    pub command: ComposeCommand,
    pub status: Option<ComposeStatus>,
}

impl ComposeResponse {
    pub fn encode(&self) -> Option<Element> {
        self.status
            .map(|s| Element::new(self.command.tag()).with(status_element(cm::STATUS, s)))
    }

    /// `body` is the decoded answer, `None` for the empty one.
    pub fn parse(
        command: ComposeCommand,
        body: Option<&Element>,
    ) -> Result<ComposeResponse, ParseError> {
        let status = match body {
            None => None,
            Some(el) => Some(fields::status(
                fields::root(el, command.tag())?,
                cm::STATUS,
            )?),
        };
        Ok(ComposeResponse { command, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn wbxml_form_round_trips() {
        let req = ComposeRequest {
            command: ComposeCommand::SmartForward,
            client_id: Some("c-1".into()),
            account_id: Some("alice@example.com".into()),
            save_in_sent_items: true,
            replace_mime: true,
            source: Some(ComposeSource {
                folder_id: Some("5".into()),
                item_id: Some("5:12".into()),
                long_id: None,
                instance_id: Some("2024-01-01T10:00:00.000Z".into()),
            }),
            mime: b"To: a@b\r\n\r\nhi\xff".to_vec(),
            template_id: None,
            forwardees: Vec::new(),
            body: None,
        };
        let decoded = wbxml::decode(&wbxml::encode(&req.encode())).unwrap();
        assert_eq!(ComposeRequest::parse(&decoded), Ok(req));
        let send = ComposeRequest {
            command: ComposeCommand::SendMail,
            client_id: Some("x".into()),
            account_id: None,
            save_in_sent_items: false,
            replace_mime: false,
            source: None,
            mime: b"To: a@b\r\n\r\n".to_vec(),
            template_id: Some("t".into()),
            forwardees: Vec::new(),
            body: None,
        };
        assert_eq!(ComposeRequest::parse(&send.encode()), Ok(send));
        // 16.0: a calendar item forwarded to Forwardees with a Body, no Mime.
        let meeting = ComposeRequest {
            command: ComposeCommand::SmartForward,
            client_id: Some("m".into()),
            account_id: None,
            save_in_sent_items: false,
            replace_mime: false,
            source: Some(ComposeSource {
                folder_id: Some("9".into()),
                item_id: Some("9:3".into()),
                long_id: None,
                instance_id: None,
            }),
            mime: Vec::new(),
            template_id: None,
            forwardees: vec![
                Forwardee {
                    email: "dan@example.org".into(),
                    name: Some("Dan".into()),
                },
                Forwardee {
                    email: "eve@example.org".into(),
                    name: None,
                },
            ],
            body: Some(ComposeBody {
                html: false,
                data: "Join us".into(),
            }),
        };
        let decoded = wbxml::decode(&wbxml::encode(&meeting.encode())).unwrap();
        assert!(decoded.first(cm::MIME).is_none());
        assert_eq!(ComposeRequest::parse(&decoded), Ok(meeting));
    }

    #[test]
    fn required_elements() {
        let no_source = Element::new(cm::SMART_REPLY)
            .with_text(cm::CLIENT_ID, "1")
            .with(Element::opaque(cm::MIME, b"x".to_vec()));
        assert_eq!(
            ComposeRequest::parse(&no_source),
            Err(ParseError::Missing(cm::SOURCE))
        );
        let no_mime = Element::new(cm::SEND_MAIL).with_text(cm::CLIENT_ID, "1");
        assert_eq!(
            ComposeRequest::parse(&no_mime),
            Err(ParseError::Missing(cm::MIME))
        );
        let no_id = Element::new(cm::SEND_MAIL).with(Element::opaque(cm::MIME, b"x".to_vec()));
        assert_eq!(
            ComposeRequest::parse(&no_id),
            Err(ParseError::Missing(cm::CLIENT_ID))
        );
    }

    #[test]
    fn query_form_round_trips() {
        let mut q = EasQuery::new(Command::SmartReply, "a@b", "dev", "t");
        let req = ComposeRequest {
            command: ComposeCommand::SmartReply,
            client_id: None,
            account_id: None,
            save_in_sent_items: true,
            replace_mime: false,
            source: Some(ComposeSource {
                folder_id: Some("7".into()),
                item_id: Some("7:3".into()),
                long_id: None,
                instance_id: None,
            }),
            mime: b"To: a@b\r\n\r\n".to_vec(),
            template_id: None,
            forwardees: Vec::new(),
            body: None,
        };
        req.to_query(&mut q);
        let parsed = EasQuery::parse(&q.to_plain()).unwrap();
        assert_eq!(ComposeRequest::from_query(&parsed, &req.mime), Some(req));
    }

    #[test]
    fn responses() {
        let ok = ComposeResponse {
            command: ComposeCommand::SendMail,
            status: None,
        };
        assert_eq!(ok.encode(), None);
        assert_eq!(
            ComposeResponse::parse(ComposeCommand::SendMail, None),
            Ok(ok)
        );
        let dup = ComposeResponse {
            command: ComposeCommand::SmartReply,
            status: Some(ComposeStatus::MessagePreviouslySent),
        };
        let el = dup.encode().unwrap();
        assert_eq!(
            ComposeResponse::parse(ComposeCommand::SmartReply, Some(&el)),
            Ok(dup)
        );
        assert!(ComposeResponse::parse(ComposeCommand::SendMail, Some(&el)).is_err());
    }
}
