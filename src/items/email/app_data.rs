//! The Email class `ApplicationData` of Sync and ItemOperations Fetch responses, with each element
//! only in the protocol versions that define it (MS-ASEMAIL, MS-ASAIRS, MS-ASWBXML).

use super::address::{display_names, join};
use super::attachments::{AttachmentInfo, file_reference, list};
use super::body::{Bodies, BodyData, RenderedBody};
use super::conversation::{conversation_id, conversation_index};
use super::options::{EmailOptions, LastVerb, MessageMeta, MimeSupport};
use super::parsed::Parsed;
use crate::ProtocolVersion;
use crate::items::{BodyType, eas_datetime, imip};
use crate::wbxml::tags::{airsync, airsyncbase, email, email2};
use crate::wbxml::{Element, Tag};

/// Every message is re-encoded to UTF-8 on the way out (MS-ASEMAIL InternetCPID, code page 65001).
const UTF8_CPID: &str = "65001";

const CONTENT_CLASS: &str = "urn:content-classes:message";

/// FlagStatus 2: the flag is active (MS-ASEMAIL 2.2.2.36).
const FLAG_ACTIVE: &str = "2";

const FLAG_TYPE: &str = "Flag for follow up";

/// Converts a raw RFC 5322 message to its `ApplicationData`. Never fails: what cannot be read is
/// left out, and bytes that are not a message at all become a plain-text body.
pub fn to_application_data(raw: &[u8], meta: &MessageMeta, opts: &EmailOptions) -> Element {
    let parsed = Parsed::new(raw);
    let bodies = Bodies::new(&parsed);
    let version = opts.version;
    let security = parsed.security();
    let mime_allowed = match opts.mime_support {
        MimeSupport::Never => false,
        MimeSupport::SmimeOnly => security.is_smime(),
        MimeSupport::Always => true,
    };
    let to = parsed.to();
    let mut app = Element::new(airsync::APPLICATION_DATA);
    push_opt(&mut app, email::TO, join(&to, ", "));
    push_opt(&mut app, email::CC, join(&parsed.cc(), ", "));
    push_opt(&mut app, email::FROM, join(&parsed.from(), ", "));
    push_opt(
        &mut app,
        email::SUBJECT,
        parsed.subject().map(str::to_string),
    );
    push_opt(&mut app, email::REPLY_TO, join(&parsed.reply_to(), "; "));
    app.push_text(email::DATE_RECEIVED, eas_datetime(meta.received));
    push_opt(&mut app, email::DISPLAY_TO, display_names(&to));
    push_opt(&mut app, email::THREAD_TOPIC, parsed.thread_topic());
    app.push_text(email::IMPORTANCE, (parsed.importance() as u8).to_string());
    app.push_text(email::READ, flag(meta.read));

    let attachments = list(&parsed, || bodies.html());
    if version == ProtocolVersion::V2_5 {
        push_body_v25(&mut app, &bodies, opts, mime_allowed);
        if !attachments.is_empty() {
            app.push(attachments_v25(&attachments, &meta.file_ref_base));
        }
    } else {
        if !attachments.is_empty() {
            app.push(attachments_base(&attachments, &meta.file_ref_base));
        }
        let body = bodies.render(&opts.body_preferences, mime_allowed);
        app.push(body_element(&body, version));
    }
    let invitation = if security.is_smime() {
        None
    } else {
        parsed.message().and_then(imip::find)
    };
    // The IPM.Schedule.Meeting classes are 14.0's; older clients go by the MeetingRequest.
    let class = invitation
        .as_ref()
        .filter(|_| version >= ProtocolVersion::V14_0)
        .and_then(imip::message_class);
    app.push_text(
        email::MESSAGE_CLASS,
        class.unwrap_or_else(|| security.message_class()),
    );
    if let Some(mr) = invitation
        .as_ref()
        .and_then(|inv| imip::meeting_request(inv, version))
    {
        app.push(mr);
    }
    app.push_text(email::INTERNET_CPID, UTF8_CPID);

    if version >= ProtocolVersion::V12_0 {
        app.push(flag_element(meta.flagged));
        app.push_text(email::CONTENT_CLASS, CONTENT_CLASS);
        app.push_text(
            airsyncbase::NATIVE_BODY_TYPE,
            bodies.native().as_u8().to_string(),
        );
    }
    if version >= ProtocolVersion::V14_0 {
        push_email2(&mut app, &parsed, meta);
    }
    if version >= ProtocolVersion::V16_0 {
        app.push_text(email2::IS_DRAFT, flag(meta.draft));
        if meta.draft {
            push_opt(&mut app, email2::BCC, join(&parsed.bcc(), ", "));
        }
    }
    app
}

fn push_email2(app: &mut Element, parsed: &Parsed<'_>, meta: &MessageMeta) {
    app.push(Element::opaque(
        email2::CONVERSATION_ID,
        conversation_id(parsed).to_vec(),
    ));
    let sent = parsed.date().unwrap_or(meta.received);
    app.push(Element::opaque(
        email2::CONVERSATION_INDEX,
        conversation_index(sent).to_vec(),
    ));
    if let Some((verb, at)) = LastVerb::shown(meta.answered, meta.forwarded, meta.last_verb) {
        app.push_text(email2::LAST_VERB_EXECUTED, verb.as_str());
        if let Some(at) = at {
            app.push_text(email2::LAST_VERB_EXECUTION_TIME, eas_datetime(at));
        }
    }
    if let Some(bcc) = parsed.received_as_bcc() {
        app.push_text(email2::RECEIVED_AS_BCC, flag(bcc));
    }
    if let Some(sender) = parsed.distinct_sender() {
        app.push_text(email2::SENDER, sender.formatted());
    }
}

/// 2.5: the raw message (MIMEData) when MIME is allowed, else the plain text (Body).
fn push_body_v25(app: &mut Element, bodies: &Bodies<'_, '_>, opts: &EmailOptions, mime: bool) {
    if mime {
        let r = bodies.cut(BodyType::Mime, opts.mime_truncation, false);
        app.push_text(email::MIME_TRUNCATED, flag(r.truncated));
        app.push_text(email::MIME_SIZE, r.estimated_size.to_string());
        if let Some(data) = data_element(email::MIME_DATA, r.data) {
            app.push(data);
        }
    } else {
        let r = bodies.cut(BodyType::PlainText, opts.truncation, false);
        app.push_text(email::BODY_TRUNCATED, flag(r.truncated));
        if r.truncated {
            app.push_text(email::BODY_SIZE, r.estimated_size.to_string());
        }
        if let Some(data) = data_element(email::BODY, r.data) {
            app.push(data);
        }
    }
}

fn body_element(body: &RenderedBody<'_>, version: ProtocolVersion) -> Element {
    let mut el = Element::new(airsyncbase::BODY)
        .with_text(airsyncbase::TYPE, body.body_type.as_u8().to_string())
        .with_text(
            airsyncbase::ESTIMATED_DATA_SIZE,
            body.estimated_size.to_string(),
        )
        .with_text(airsyncbase::TRUNCATED, flag(body.truncated));
    if let Some(data) = data_element(airsyncbase::DATA, body.data) {
        el.push(data);
    }
    if version >= ProtocolVersion::V14_0
        && let Some(preview) = body.preview.as_ref().filter(|p| !p.is_empty())
    {
        el.push_text(airsyncbase::PREVIEW, preview.clone());
    }
    el
}

/// Text data as a string, a non-UTF-8 raw message as opaque bytes; nothing for empty data, so
/// no element carries an empty string.
fn data_element(tag: Tag, data: Option<BodyData<'_>>) -> Option<Element> {
    match data? {
        BodyData::Text(t) if !t.is_empty() => Some(Element::text(tag, t)),
        BodyData::Bytes(b) if !b.is_empty() => Some(Element::opaque(tag, b.to_vec())),
        _ => None,
    }
}

fn attachments_base(list: &[AttachmentInfo], base: &str) -> Element {
    let mut el = Element::new(airsyncbase::ATTACHMENTS);
    for a in list {
        let mut att = Element::new(airsyncbase::ATTACHMENT)
            .with_text(airsyncbase::DISPLAY_NAME, a.name.clone())
            .with_text(airsyncbase::FILE_REFERENCE, file_reference(base, a.index))
            .with_text(airsyncbase::METHOD, (a.method as u8).to_string())
            .with_text(airsyncbase::ESTIMATED_DATA_SIZE, a.size.to_string());
        push_opt(&mut att, airsyncbase::CONTENT_ID, a.content_id.clone());
        push_opt(
            &mut att,
            airsyncbase::CONTENT_LOCATION,
            a.content_location.clone(),
        );
        att.push_text(airsyncbase::IS_INLINE, flag(a.is_inline));
        el.push(att);
    }
    el
}

/// The 2.5 attachment list: AttName is what the client hands back to GetAttachment.
fn attachments_v25(list: &[AttachmentInfo], base: &str) -> Element {
    let mut el = Element::new(email::ATTACHMENTS);
    for a in list {
        let mut att = Element::new(email::ATTACHMENT)
            .with_text(email::ATT_METHOD, (a.method as u8).to_string())
            .with_text(email::ATT_SIZE, a.size.to_string())
            .with_text(email::DISPLAY_NAME, a.name.clone())
            .with_text(email::ATT_NAME, file_reference(base, a.index));
        push_opt(&mut att, email::ATT0_ID, a.content_id.clone());
        el.push(att);
    }
    el
}

fn flag_element(flagged: bool) -> Element {
    if flagged {
        Element::new(email::FLAG)
            .with_text(email::STATUS, FLAG_ACTIVE)
            .with_text(email::FLAG_TYPE, FLAG_TYPE)
    } else {
        Element::new(email::FLAG)
    }
}

fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

fn push_opt(el: &mut Element, tag: Tag, text: Option<String>) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        el.push_text(tag, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::BodyPreference;
    use crate::wbxml::Node;

    const MSG: &str = "From: \"Ann\" <ann@x.org>\r\nTo: Bob <bob@x.org>, carl@x.org\r\n\
        Subject: Re: Hello\r\nDate: Thu, 12 Nov 2009 00:45:06 +0000\r\nMessage-ID: <m1@x.org>\r\n\
        Importance: high\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
        --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello Bob, how are you?\r\n\
        --b\r\nContent-Type: application/pdf; name=doc.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
        JVBERi0=\r\n--b--\r\n";

    fn meta() -> MessageMeta {
        MessageMeta {
            read: true,
            flagged: true,
            answered: true,
            received: 1_257_986_706,
            file_ref_base: "INBOX:42".into(),
            ..MessageMeta::default()
        }
    }

    fn opts(version: ProtocolVersion) -> EmailOptions {
        EmailOptions {
            body_preferences: vec![BodyPreference {
                preview: Some(5),
                ..BodyPreference::whole(BodyType::Html)
            }],
            ..EmailOptions::new(version)
        }
    }

    fn all_tags(e: &Element, out: &mut Vec<Tag>) {
        out.push(e.tag);
        for n in &e.children {
            if let Node::Element(c) = n {
                all_tags(c, out);
            }
        }
    }

    #[test]
    fn only_tags_of_the_version() {
        for version in ProtocolVersion::ALL {
            let app = to_application_data(MSG.as_bytes(), &meta(), &opts(version));
            let mut tags = Vec::new();
            all_tags(&app, &mut tags);
            for tag in tags {
                assert!(tag.supported_in(version), "{tag} in {version}");
            }
        }
    }

    #[test]
    fn common_elements() {
        let app = to_application_data(MSG.as_bytes(), &meta(), &opts(ProtocolVersion::V14_1));
        assert_eq!(
            app.child_text(email::TO),
            Some("\"Bob\" <bob@x.org>, carl@x.org")
        );
        assert_eq!(app.child_text(email::FROM), Some("\"Ann\" <ann@x.org>"));
        assert_eq!(app.child_text(email::DISPLAY_TO), Some("Bob; carl@x.org"));
        assert_eq!(app.child_text(email::SUBJECT), Some("Re: Hello"));
        assert_eq!(app.child_text(email::THREAD_TOPIC), Some("Hello"));
        assert_eq!(
            app.child_text(email::DATE_RECEIVED),
            Some("2009-11-12T00:45:06.000Z")
        );
        assert_eq!(app.child_text(email::IMPORTANCE), Some("2"));
        assert_eq!(app.child_text(email::READ), Some("1"));
        assert_eq!(app.child_text(email::MESSAGE_CLASS), Some("IPM.Note"));
        assert_eq!(app.child_text(email::INTERNET_CPID), Some("65001"));
        let flag = app.first(email::FLAG).unwrap();
        assert_eq!(flag.child_text(email::STATUS), Some("2"));
        assert_eq!(app.child_text(email2::LAST_VERB_EXECUTED), Some("1"));
        assert!(app.first(email2::LAST_VERB_EXECUTION_TIME).is_none());
        assert_eq!(
            app.first(email2::CONVERSATION_ID)
                .unwrap()
                .data()
                .unwrap()
                .len(),
            16
        );
        let body = app.first(airsyncbase::BODY).unwrap();
        assert_eq!(body.child_text(airsyncbase::TYPE), Some("2"));
        assert_eq!(body.child_text(airsyncbase::PREVIEW), Some("Hello"));
        assert!(
            body.child_text(airsyncbase::DATA)
                .unwrap()
                .contains("how are you?")
        );
        let att = app
            .first(airsyncbase::ATTACHMENTS)
            .unwrap()
            .first(airsyncbase::ATTACHMENT)
            .unwrap();
        assert_eq!(att.child_text(airsyncbase::DISPLAY_NAME), Some("doc.pdf"));
        assert_eq!(
            att.child_text(airsyncbase::FILE_REFERENCE),
            Some("INBOX:42:0")
        );
        assert_eq!(att.child_text(airsyncbase::ESTIMATED_DATA_SIZE), Some("5"));
        assert_eq!(app.child_text(airsyncbase::NATIVE_BODY_TYPE), Some("1"));
    }

    #[test]
    fn version_2_5_uses_email_body() {
        let mut o = opts(ProtocolVersion::V2_5);
        o.truncation = Some(5);
        let app = to_application_data(MSG.as_bytes(), &meta(), &o);
        assert_eq!(app.child_text(email::BODY), Some("Hello"));
        assert_eq!(app.child_text(email::BODY_TRUNCATED), Some("1"));
        assert_eq!(app.child_text(email::BODY_SIZE), Some("23"));
        let att = app
            .first(email::ATTACHMENTS)
            .unwrap()
            .first(email::ATTACHMENT)
            .unwrap();
        assert_eq!(att.child_text(email::ATT_NAME), Some("INBOX:42:0"));
        assert!(app.first(airsyncbase::BODY).is_none());
        o.mime_support = MimeSupport::Always;
        o.mime_truncation = Some(4);
        let app = to_application_data(MSG.as_bytes(), &meta(), &o);
        assert_eq!(app.child_text(email::MIME_DATA), Some("From"));
        assert_eq!(app.child_text(email::MIME_TRUNCATED), Some("1"));
        assert_eq!(
            app.child_text(email::MIME_SIZE),
            Some(MSG.len().to_string().as_str())
        );
        assert!(app.first(email::BODY).is_none());
    }

    #[test]
    fn unflagged_is_empty_flag() {
        let app = to_application_data(
            MSG.as_bytes(),
            &MessageMeta::default(),
            &opts(ProtocolVersion::V12_1),
        );
        assert!(app.first(email::FLAG).unwrap().is_empty());
        assert_eq!(app.child_text(email::READ), Some("0"));
    }
}
