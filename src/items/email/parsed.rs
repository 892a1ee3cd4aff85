//! One parse of a raw message and the header facts the Email class is built from. A message that
//! mail-parser cannot make sense of is still usable: no headers, the raw text as its body.

use std::borrow::Cow;

use mail_parser::{HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use super::address::{Mailbox, mailboxes};

/// Importance (MS-ASEMAIL 2.2.2.37): 0 low, 1 normal, 2 high.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    Low = 0,
    Normal = 1,
    High = 2,
}

/// How a message is protected, which decides its MessageClass and whether MIME is due under
/// `MIMESupport` 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    None,
    /// multipart/signed with a PKCS#7 signature: "IPM.Note.SMIME.MultipartSigned".
    ClearSigned,
    /// application/pkcs7-mime (enveloped or opaque-signed): "IPM.Note.SMIME".
    Opaque,
}

impl Security {
    pub fn message_class(self) -> &'static str {
        match self {
            Self::None => "IPM.Note",
            Self::ClearSigned => "IPM.Note.SMIME.MultipartSigned",
            Self::Opaque => "IPM.Note.SMIME",
        }
    }

    pub fn is_smime(self) -> bool {
        self != Self::None
    }
}

pub struct Parsed<'a> {
    raw: &'a [u8],
    message: Option<Message<'a>>,
}

impl<'a> Parsed<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        // mail-parser reads any first line as a header; a "message" none of whose headers has a
        // value is text that is not a message at all.
        let message = MessageParser::default().parse(raw).filter(|m| {
            m.headers()
                .iter()
                .any(|h| !matches!(h.value, HeaderValue::Empty))
        });
        Self { raw, message }
    }

    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The parsed message, `None` when not even a header could be read.
    pub fn message(&self) -> Option<&Message<'a>> {
        self.message.as_ref()
    }

    pub fn into_message(self) -> Option<Message<'a>> {
        self.message
    }

    /// The text of a message whose only part mail-parser could not place as a body (e.g. a
    /// multipart whose boundary never occurs): it is shown as the body, not as an attachment.
    pub fn orphan_root_text(&self) -> Option<&str> {
        let message = self.message.as_ref()?;
        if !message.text_body.is_empty() || !message.html_body.is_empty() {
            return None;
        }
        match &message.parts.first()?.body {
            PartType::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn subject(&self) -> Option<&str> {
        self.message.as_ref()?.subject()
    }

    pub fn from(&self) -> Vec<Mailbox> {
        mailboxes(self.message.as_ref().and_then(Message::from))
    }

    pub fn to(&self) -> Vec<Mailbox> {
        mailboxes(self.message.as_ref().and_then(Message::to))
    }

    pub fn cc(&self) -> Vec<Mailbox> {
        mailboxes(self.message.as_ref().and_then(Message::cc))
    }

    pub fn bcc(&self) -> Vec<Mailbox> {
        mailboxes(self.message.as_ref().and_then(Message::bcc))
    }

    pub fn reply_to(&self) -> Vec<Mailbox> {
        mailboxes(self.message.as_ref().and_then(Message::reply_to))
    }

    /// The Sender header, only when it names someone other than the From mailboxes.
    pub fn distinct_sender(&self) -> Option<Mailbox> {
        let sender = mailboxes(self.message.as_ref().and_then(Message::sender))
            .into_iter()
            .next()?;
        let from = self.from();
        let same = from
            .iter()
            .any(|f| f.address.eq_ignore_ascii_case(&sender.address));
        (!same).then_some(sender)
    }

    /// The Date header as Unix seconds.
    pub fn date(&self) -> Option<i64> {
        let date = self.message.as_ref()?.date()?;
        date.is_valid().then(|| date.to_timestamp())
    }

    pub fn message_id(&self) -> Option<&str> {
        self.message.as_ref()?.message_id()
    }

    pub fn in_reply_to(&self) -> Vec<&str> {
        self.message
            .as_ref()
            .map(|m| id_list(m.in_reply_to()))
            .unwrap_or_default()
    }

    pub fn references(&self) -> Vec<&str> {
        self.message
            .as_ref()
            .map(|m| id_list(m.references()))
            .unwrap_or_default()
    }

    /// A header's unfolded text by name, whatever mail-parser made of it.
    pub fn header_text(&self, name: &str) -> Option<Cow<'_, str>> {
        let message = self.message.as_ref()?;
        let header = message
            .headers()
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
        match &header.value {
            HeaderValue::Text(t) => Some(Cow::Borrowed(t.as_ref())),
            _ => {
                let bytes = message
                    .raw_message()
                    .get(header.offset_start as usize..header.offset_end as usize)?;
                let text = String::from_utf8_lossy(bytes);
                Some(Cow::Owned(
                    text.split_whitespace().collect::<Vec<_>>().join(" "),
                ))
            }
        }
    }

    /// From `Importance`, `Priority`, `X-Priority` and `X-MSMail-Priority`, first one that says.
    pub fn importance(&self) -> Importance {
        let by_word = |v: &str| match v.trim().to_ascii_lowercase().as_str() {
            "high" | "urgent" => Some(Importance::High),
            "low" | "non-urgent" => Some(Importance::Low),
            "normal" | "medium" => Some(Importance::Normal),
            _ => None,
        };
        let by_number = |v: &str| match v.trim().chars().next() {
            Some('1' | '2') => Some(Importance::High),
            Some('3') => Some(Importance::Normal),
            Some('4' | '5') => Some(Importance::Low),
            _ => None,
        };
        self.header_text("Importance")
            .and_then(|v| by_word(&v))
            .or_else(|| self.header_text("Priority").and_then(|v| by_word(&v)))
            .or_else(|| self.header_text("X-Priority").and_then(|v| by_number(&v)))
            .or_else(|| {
                self.header_text("X-MSMail-Priority")
                    .and_then(|v| by_word(&v))
            })
            .unwrap_or(Importance::Normal)
    }

    /// Thread-Topic if the sender's mailer set it, else the subject without Re:/Fwd: prefixes.
    pub fn thread_topic(&self) -> Option<String> {
        if let Some(topic) = self.header_text("Thread-Topic") {
            // mail-parser keeps unknown headers raw, and Outlook RFC 2047-encodes this one:
            // decode it the way Subject is decoded.
            let header = format!("Subject: {topic}\r\n\r\n");
            let decoded = MessageParser::default()
                .parse(header.as_bytes())
                .and_then(|m| m.subject().map(str::to_string));
            return Some(decoded.unwrap_or_else(|| topic.into_owned()));
        }
        let message = self.message.as_ref()?;
        message.thread_name().map(str::to_string)
    }

    pub fn security(&self) -> Security {
        let Some(ct) = self.message.as_ref().and_then(|m| m.content_type()) else {
            return Security::None;
        };
        let subtype = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        let is = |t: &str| ct.ctype().eq_ignore_ascii_case(t);
        if is("multipart") && subtype == "signed" {
            let protocol = ct.attribute("protocol").unwrap_or_default();
            if protocol.to_ascii_lowercase().contains("pkcs7-signature") {
                return Security::ClearSigned;
            }
        }
        if is("application") && (subtype == "pkcs7-mime" || subtype == "x-pkcs7-mime") {
            return Security::Opaque;
        }
        Security::None
    }

    /// Whether the user got this message as a Bcc recipient: the address the MTA delivered to
    /// (Delivered-To / X-Original-To) is neither in To nor Cc, and it is not list traffic (where
    /// the list address stands in To). `None` when the delivery address is not recorded.
    pub fn received_as_bcc(&self) -> Option<bool> {
        let delivered = self
            .header_text("Delivered-To")
            .or_else(|| self.header_text("X-Original-To"))?;
        let delivered = delivered.trim().trim_matches(['<', '>']).to_string();
        if delivered.is_empty() || self.header_text("List-Id").is_some() {
            return None;
        }
        let listed = self
            .to()
            .iter()
            .chain(self.cc().iter())
            .any(|m| m.address.eq_ignore_ascii_case(&delivered));
        Some(!listed)
    }
}

fn id_list<'x>(value: &'x HeaderValue<'_>) -> Vec<&'x str> {
    match value {
        HeaderValue::Text(id) => vec![id.as_ref()],
        HeaderValue::TextList(ids) => ids.iter().map(AsRef::as_ref).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Parsed<'_> {
        Parsed::new(raw.as_bytes())
    }

    #[test]
    fn importance_headers() {
        assert_eq!(
            parsed("Importance: High\r\n\r\nx").importance(),
            Importance::High
        );
        assert_eq!(
            parsed("X-Priority: 5 (Lowest)\r\n\r\nx").importance(),
            Importance::Low
        );
        assert_eq!(
            parsed("X-MSMail-Priority: High\r\n\r\nx").importance(),
            Importance::High
        );
        assert_eq!(
            parsed("Priority: non-urgent\r\n\r\nx").importance(),
            Importance::Low
        );
        assert_eq!(
            parsed("Subject: a\r\n\r\nx").importance(),
            Importance::Normal
        );
    }

    #[test]
    fn security_classes() {
        let signed = "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; \
                      micalg=sha-256; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
        assert_eq!(parsed(signed).security(), Security::ClearSigned);
        let enveloped = "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; \
                         name=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n";
        assert_eq!(parsed(enveloped).security(), Security::Opaque);
        let pgp = "Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; \
                   boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
        assert_eq!(parsed(pgp).security(), Security::None);
    }

    #[test]
    fn sender_only_when_different() {
        let p = parsed("From: a@x.org\r\nSender: list@x.org\r\n\r\nx");
        assert_eq!(p.distinct_sender().unwrap().address, "list@x.org");
        let p = parsed("From: A <a@x.org>\r\nSender: a@X.org\r\n\r\nx");
        assert!(p.distinct_sender().is_none());
    }

    #[test]
    fn bcc_detection() {
        let p = parsed("Delivered-To: me@x.org\r\nTo: you@x.org\r\n\r\nx");
        assert_eq!(p.received_as_bcc(), Some(true));
        let p = parsed("Delivered-To: me@x.org\r\nTo: you@x.org\r\nCc: Me <ME@x.org>\r\n\r\nx");
        assert_eq!(p.received_as_bcc(), Some(false));
        let p = parsed("Delivered-To: me@x.org\r\nList-Id: <l.x.org>\r\nTo: l@x.org\r\n\r\nx");
        assert_eq!(p.received_as_bcc(), None);
        assert_eq!(parsed("To: a@x.org\r\n\r\nx").received_as_bcc(), None);
    }

    #[test]
    fn thread_topic_and_ids() {
        let p = parsed(
            "Subject: Re: Fwd: Plans\r\nMessage-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\n\
             References: <a@x> <b@x>\r\n\r\nx",
        );
        assert_eq!(p.thread_topic().as_deref(), Some("Plans"));
        assert_eq!(p.message_id(), Some("c@x"));
        assert_eq!(p.references(), vec!["a@x", "b@x"]);
        assert_eq!(p.in_reply_to(), vec!["b@x"]);
        let p = parsed("Subject: x\r\nThread-Topic: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nx");
        assert_eq!(p.thread_topic().as_deref(), Some("Grüße"));
    }

    #[test]
    fn unparseable_input_has_no_headers() {
        let p = parsed("");
        assert!(p.message().is_none());
        assert!(p.subject().is_none());
        assert!(p.from().is_empty());
        assert_eq!(p.security(), Security::None);
    }
}
