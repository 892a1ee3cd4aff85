//! ResolveRecipients (MS-ASCMD 2.2.1.15): turns what the user typed in To (a name or an address)
//! into GAL entries — one when it is unique, suggestions when it is ambiguous — with photos and the
//! certificate answer. Free/busy (Availability) needs the users' calendars and is not answered.

use super::fields::{self, ParseError, status_element, status_enum};
use super::search::{PictureOptions, PictureStatus};
use super::{Reply, Request};
use crate::app::App;
use crate::gal::{Gal, GalEntry};
use crate::wbxml::Element;
use crate::wbxml::tags::resolverecipients as rr;
use std::sync::Arc;

status_enum!(
    /// ResolveRecipients Status (MS-ASCMD 2.2.3.177.12) of the command, a Response and Certificates.
    ResolveStatus {
        Success = 1,
        Ambiguous = 2,
        AmbiguousPartial = 3,
        Unresolved = 4,
        ProtocolError = 5,
        ServerError = 6,
        NoValidCertificate = 7,
        CertificateLimit = 8,
    }
);

/// Recipient Type (MS-ASCMD 2.2.3.186.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientType {
    Gal = 1,
    Contact = 2,
}

/// The most suggestions for an ambiguous name when the client sets no limit (the spec's maximum).
const MAX_AMBIGUOUS: u32 = 100;
/// The spec leaves more than 1,000 To elements undefined; they are refused.
const MAX_TO: usize = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRequest {
    pub to: Vec<String>,
    /// 1 none, 2 full certificates, 3 mini certificates.
    pub certificate_retrieval: Option<u8>,
    pub max_ambiguous: Option<u32>,
    pub picture: Option<PictureOptions>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub kind: RecipientType,
    pub display_name: String,
    pub email: String,
    /// Present when certificates were asked for.
    pub certificates: Option<ResolveStatus>,
    pub picture: Option<(PictureStatus, Option<Vec<u8>>)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveAnswer {
    pub to: String,
    pub status: ResolveStatus,
    pub recipients: Vec<Recipient>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveResponse {
    pub status: ResolveStatus,
    pub responses: Vec<ResolveAnswer>,
}

impl ResolveRequest {
    pub fn parse(el: &Element) -> Result<ResolveRequest, ParseError> {
        let el = fields::root(el, rr::RESOLVE_RECIPIENTS)?;
        let to: Vec<String> = el
            .all(rr::TO)
            .map(|t| t.text_content().unwrap_or("").trim().to_string())
            .collect();
        if to.is_empty() || to.len() > MAX_TO {
            return Err(ParseError::BadValue(rr::TO));
        }
        let options = el.first(rr::OPTIONS);
        let certificate_retrieval = match options {
            Some(o) => fields::opt_value(o, rr::CERTIFICATE_RETRIEVAL)?,
            None => None,
        };
        if certificate_retrieval.is_some_and(|c: u8| !(1..=3).contains(&c)) {
            return Err(ParseError::BadValue(rr::CERTIFICATE_RETRIEVAL));
        }
        Ok(ResolveRequest {
            to,
            certificate_retrieval,
            max_ambiguous: options
                .map(|o| fields::opt_value(o, rr::MAX_AMBIGUOUS_RECIPIENTS))
                .transpose()?
                .flatten(),
            picture: options
                .and_then(|o| o.first(rr::PICTURE))
                .map(|p| PictureOptions::parse(p, rr::MAX_SIZE, rr::MAX_PICTURES))
                .transpose()?,
        })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(rr::RESOLVE_RECIPIENTS);
        for t in &self.to {
            el.push_text(rr::TO, t.as_str());
        }
        let mut options = Element::new(rr::OPTIONS)
            .with_opt_text(
                rr::CERTIFICATE_RETRIEVAL,
                self.certificate_retrieval.map(|c| c.to_string()),
            )
            .with_opt_text(
                rr::MAX_AMBIGUOUS_RECIPIENTS,
                self.max_ambiguous.map(|n| n.to_string()),
            );
        if let Some(p) = &self.picture {
            options.push(p.encode(rr::PICTURE, rr::MAX_SIZE, rr::MAX_PICTURES));
        }
        if !options.is_empty() {
            el.push(options);
        }
        el
    }
}

impl ResolveResponse {
    pub fn encode(&self) -> Element {
        let mut el =
            Element::new(rr::RESOLVE_RECIPIENTS).with(status_element(rr::STATUS, self.status));
        for a in &self.responses {
            let mut resp = Element::new(rr::RESPONSE)
                .with_text(rr::TO, a.to.as_str())
                .with(status_element(rr::STATUS, a.status))
                .with_text(rr::RECIPIENT_COUNT, a.recipients.len().to_string());
            for r in &a.recipients {
                let mut rec = Element::new(rr::RECIPIENT)
                    .with_text(rr::TYPE, (r.kind as u8).to_string())
                    .with_text(rr::DISPLAY_NAME, r.display_name.as_str())
                    .with_text(rr::EMAIL_ADDRESS, r.email.as_str());
                if let Some(status) = r.certificates {
                    rec.push(
                        Element::new(rr::CERTIFICATES)
                            .with(status_element(rr::STATUS, status))
                            .with_text(rr::CERTIFICATE_COUNT, "0")
                            .with_text(rr::RECIPIENT_COUNT, "0"),
                    );
                }
                if let Some((status, data)) = &r.picture {
                    let mut p = Element::new(rr::PICTURE).with(status_element(rr::STATUS, *status));
                    if let Some(d) = data {
                        p.push(Element::opaque(rr::DATA, d.clone()));
                    }
                    rec.push(p);
                }
                resp.push(rec);
            }
            el.push(resp);
        }
        el
    }

    pub fn parse(el: &Element) -> Result<ResolveResponse, ParseError> {
        let el = fields::root(el, rr::RESOLVE_RECIPIENTS)?;
        let responses = el
            .all(rr::RESPONSE)
            .map(|resp| {
                let recipients = resp
                    .all(rr::RECIPIENT)
                    .map(|r| {
                        let kind = match fields::value::<u8>(r, rr::TYPE)? {
                            1 => RecipientType::Gal,
                            2 => RecipientType::Contact,
                            _ => return Err(ParseError::BadValue(rr::TYPE)),
                        };
                        Ok(Recipient {
                            kind,
                            display_name: fields::text(r, rr::DISPLAY_NAME)?.to_string(),
                            email: fields::text(r, rr::EMAIL_ADDRESS)?.to_string(),
                            certificates: r
                                .first(rr::CERTIFICATES)
                                .map(|c| fields::status(c, rr::STATUS))
                                .transpose()?,
                            picture: r
                                .first(rr::PICTURE)
                                .map(|p| {
                                    Ok::<_, ParseError>((
                                        fields::status(p, rr::STATUS)?,
                                        p.first(rr::DATA)
                                            .and_then(|d| d.data())
                                            .map(|d| d.into_owned()),
                                    ))
                                })
                                .transpose()?,
                        })
                    })
                    .collect::<Result<_, ParseError>>()?;
                Ok(ResolveAnswer {
                    to: fields::text(resp, rr::TO)?.to_string(),
                    status: fields::status(resp, rr::STATUS)?,
                    recipients,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(ResolveResponse {
            status: fields::status(el, rr::STATUS)?,
            responses,
        })
    }
}

/// Resolves every To against the GAL.
pub fn resolve(gal: &Gal, req: &ResolveRequest) -> ResolveResponse {
    let max = req
        .max_ambiguous
        .unwrap_or(MAX_AMBIGUOUS)
        .min(MAX_AMBIGUOUS) as usize;
    let certificates = req
        .certificate_retrieval
        .filter(|c| *c != 1)
        .map(|_| ResolveStatus::NoValidCertificate);
    let responses = req
        .to
        .iter()
        .map(|to| {
            let matches: Vec<&GalEntry> = match gal.by_address(address_part(to)) {
                Some(e) => vec![e],
                None => gal.search(to),
            };
            let status = match matches.len() {
                0 => ResolveStatus::Unresolved,
                1 => ResolveStatus::Success,
                n if n > max => ResolveStatus::AmbiguousPartial,
                _ => ResolveStatus::Ambiguous,
            };
            // MaxPictures counts per query, that is per To.
            let mut picker = req.picture.map(PictureOptions::picker);
            let recipients = matches
                .into_iter()
                .take(max)
                .map(|e| Recipient {
                    kind: RecipientType::Gal,
                    display_name: e.display_name.clone(),
                    email: e.email.clone(),
                    certificates,
                    picture: picker.as_mut().map(|p| p.pick(e.picture.as_deref())),
                })
                .collect();
            ResolveAnswer {
                to: to.clone(),
                status,
                recipients,
            }
        })
        .collect();
    ResolveResponse {
        status: ResolveStatus::Success,
        responses,
    }
}

/// `Ann <ann@example.org>` → `ann@example.org`; anything else as it is.
fn address_part(to: &str) -> &str {
    match (to.rfind('<'), to.rfind('>')) {
        (Some(a), Some(b)) if a < b => to.get(a + 1..b).unwrap_or(to).trim(),
        _ => to.trim(),
    }
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(ResolveRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            log::info!(
                "{} [{}] ResolveRecipients: {e}",
                req.query.device_id,
                req.user
            );
            let resp = ResolveResponse {
                status: ResolveStatus::ProtocolError,
                responses: Vec::new(),
            };
            return Reply::Wbxml(resp.encode());
        }
        None => return Reply::Status(400),
    };
    let a = app.clone();
    let resp = smol::unblock(move || resolve(&Gal::load(&a.config), &parsed)).await;
    Reply::Wbxml(resp.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gal() -> Gal {
        let entry = |name: &str, email: &str, picture: Option<Vec<u8>>| GalEntry {
            display_name: name.into(),
            email: email.into(),
            picture,
            ..GalEntry::default()
        };
        Gal {
            entries: vec![
                entry("Alice Martin", "alice@example.com", Some(vec![1, 2])),
                entry("Marc Lopez", "marc@partner.example", None),
                entry("Martine Roy", "martine@example.com", Some(vec![3])),
            ],
        }
    }

    fn request(to: &[&str]) -> ResolveRequest {
        ResolveRequest {
            to: to.iter().map(|s| s.to_string()).collect(),
            certificate_retrieval: None,
            max_ambiguous: None,
            picture: None,
        }
    }

    #[test]
    fn unique_ambiguous_and_unknown() {
        let resp = resolve(
            &gal(),
            &request(&[
                "Alice <ALICE@example.com>",
                "mar",
                "nobody@nowhere.example",
                "lopez",
            ]),
        );
        let statuses: Vec<_> = resp.responses.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                ResolveStatus::Success,
                ResolveStatus::Ambiguous,
                ResolveStatus::Unresolved,
                ResolveStatus::Success
            ]
        );
        assert_eq!(resp.responses[0].recipients[0].email, "alice@example.com");
        assert_eq!(resp.responses[1].recipients.len(), 3);
        assert!(resp.responses[2].recipients.is_empty());
    }

    #[test]
    fn limits_certificates_and_pictures() {
        let mut req = request(&["mar"]);
        req.max_ambiguous = Some(2);
        req.certificate_retrieval = Some(2);
        req.picture = Some(PictureOptions {
            max_size: None,
            max_pictures: Some(1),
        });
        let resp = resolve(&gal(), &req);
        let a = &resp.responses[0];
        assert_eq!(a.status, ResolveStatus::AmbiguousPartial);
        assert_eq!(a.recipients.len(), 2);
        assert_eq!(
            a.recipients[0].certificates,
            Some(ResolveStatus::NoValidCertificate)
        );
        let pics: Vec<_> = a
            .recipients
            .iter()
            .map(|r| r.picture.as_ref().map(|p| p.0))
            .collect();
        assert_eq!(
            pics,
            [Some(PictureStatus::Success), Some(PictureStatus::NoPicture)]
        );
        assert_eq!(ResolveResponse::parse(&resp.encode()), Ok(resp));
        assert_eq!(ResolveRequest::parse(&req.encode()), Ok(req));
    }

    #[test]
    fn refusals() {
        assert!(ResolveRequest::parse(&Element::new(rr::RESOLVE_RECIPIENTS)).is_err());
        let bad = request(&["a"])
            .encode()
            .with(Element::new(rr::OPTIONS).with_text(rr::CERTIFICATE_RETRIEVAL, "9"));
        assert_eq!(
            ResolveRequest::parse(&bad),
            Err(ParseError::BadValue(rr::CERTIFICATE_RETRIEVAL))
        );
    }
}
