//! SendMail (MS-ASCMD 2.2.1.17, 14.0 and later): the typed request and its error response, both
//! directions. A successful SendMail is an empty 200; only failures carry a body with a Status.

use super::fields::{self, ParseError, status_element, status_enum};
use crate::wbxml::Element;
use crate::wbxml::tags::composemail as cm;

status_enum!(
    /// The common status codes (MS-ASCMD 2.2.2) a SendMail failure carries.
    SendMailStatus {
        InvalidContent = 101,
        InvalidWbxml = 102,
        InvalidXml = 103,
        InvalidDateTime = 104,
        InvalidCombinationOfIds = 105,
        InvalidIds = 106,
        InvalidMime = 107,
        DeviceIdMissingOrInvalid = 108,
        DeviceTypeMissingOrInvalid = 109,
        ServerError = 110,
        ServerErrorRetryLater = 111,
        ActiveDirectoryAccessDenied = 112,
        MailboxQuotaExceeded = 113,
        MailboxServerOffline = 114,
        SendQuotaExceeded = 115,
        MessageRecipientUnresolved = 116,
        MessageReplyNotAllowed = 117,
        MessagePreviouslySent = 118,
        MessageHasNoRecipient = 119,
        MailSubmissionFailed = 120,
        MessageReplyFailed = 121,
        DeviceNotProvisioned = 142,
        PolicyRefresh = 143,
        InvalidPolicyKey = 144,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendMailRequest {
    /// The device's own id for the message, so a resent request is not sent twice.
    pub client_id: String,
    pub save_in_sent_items: bool,
    /// The whole RFC 5322 message.
    pub mime: Vec<u8>,
}

impl SendMailRequest {
    pub fn parse(el: &Element) -> Result<SendMailRequest, ParseError> {
        let el = fields::root(el, cm::SEND_MAIL)?;
        Ok(SendMailRequest {
            client_id: fields::text(el, cm::CLIENT_ID)?.trim().to_string(),
            save_in_sent_items: el.first(cm::SAVE_IN_SENT_ITEMS).is_some(),
            mime: el
                .first(cm::MIME)
                .and_then(Element::data)
                .ok_or(ParseError::Missing(cm::MIME))?
                .into_owned(),
        })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(cm::SEND_MAIL).with_text(cm::CLIENT_ID, self.client_id.as_str());
        if self.save_in_sent_items {
            el.push(Element::new(cm::SAVE_IN_SENT_ITEMS));
        }
        el.with(Element::opaque(cm::MIME, self.mime.clone()))
    }
}

/// The body of a failed SendMail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendMailResponse {
    pub status: SendMailStatus,
}

impl SendMailResponse {
    pub fn parse(el: &Element) -> Result<SendMailResponse, ParseError> {
        let el = fields::root(el, cm::SEND_MAIL)?;
        Ok(SendMailResponse {
            status: fields::status(el, cm::STATUS)?,
        })
    }

    pub fn encode(&self) -> Element {
        Element::new(cm::SEND_MAIL).with(status_element(cm::STATUS, self.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wbxml;

    #[test]
    fn request_and_response_round_trip_through_wbxml() {
        let req = SendMailRequest {
            client_id: "c-1".into(),
            save_in_sent_items: true,
            mime: b"To: a@example.com\r\nSubject: x\r\n\r\nbody\r\n".to_vec(),
        };
        let tree = wbxml::decode(&wbxml::encode(&req.encode())).unwrap();
        assert_eq!(SendMailRequest::parse(&tree), Ok(req));
        let resp = SendMailResponse {
            status: SendMailStatus::MailSubmissionFailed,
        };
        let tree = wbxml::decode(&wbxml::encode(&resp.encode())).unwrap();
        assert_eq!(SendMailResponse::parse(&tree), Ok(resp));
        let missing = Element::new(cm::SEND_MAIL).with_text(cm::CLIENT_ID, "c-2");
        assert_eq!(
            SendMailRequest::parse(&missing),
            Err(ParseError::Missing(cm::MIME))
        );
    }
}
