//! ResolveRecipients (MS-ASCMD 2.2.1.15): turns what the user typed in To (a name or an address)
//! into GAL entries — one when it is unique, suggestions when it is ambiguous — with photos and the
//! certificate answer, and with Availability the MergedFreeBusy of each uniquely resolved
//! local user, computed from their calendars by [`crate::freebusy`].

use super::fields::{self, ParseError, status_element, status_enum};
use super::search::{PictureOptions, PictureStatus};
use super::{Reply, Request};
use crate::app::App;
use crate::freebusy::{self, DEFAULT_WINDOW, Window};
use crate::gal::{Gal, GalEntry};
use crate::items::eas_time;
use crate::store::vdir::Vdir;
use crate::wbxml::Element;
use crate::wbxml::tags::resolverecipients as rr;
use jiff::Timestamp;
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

status_enum!(
    /// Status of an Availability (MS-ASCMD 2.2.3.177.12).
    AvailabilityStatus {
        Success = 1,
        /// More than 100 recipients asked for with Availability.
        TooManyRecipients = 160,
        /// A distribution list of more than 20 members.
        ListTooLarge = 161,
        /// A temporary failure: the client may ask again.
        TryAgain = 162,
        /// No free/busy for this recipient (not a user of this server).
        NotAvailable = 163,
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
/// With Availability at most 100 recipients get free/busy (MS-ASCMD 2.2.3.183).
const MAX_AVAILABILITY_TO: usize = 100;

/// Options/Availability: the span of free/busy asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvailabilityRequest {
    pub start_time: Timestamp,
    /// Seven days after the start when absent.
    pub end_time: Option<Timestamp>,
}

impl AvailabilityRequest {
    /// The checked window; `None` when it breaks the spec's limits.
    pub fn window(&self) -> Option<Window> {
        let end = match self.end_time {
            Some(e) => e,
            None => self.start_time.checked_add(DEFAULT_WINDOW).ok()?,
        };
        Window::new(self.start_time, end).ok()
    }

    fn parse(el: &Element) -> Result<AvailabilityRequest, ParseError> {
        let time = |tag| -> Result<Option<Timestamp>, ParseError> {
            fields::opt_text(el, tag)
                .map(|t| eas_time::parse(t).ok_or(ParseError::BadValue(tag)))
                .transpose()
        };
        Ok(AvailabilityRequest {
            start_time: time(rr::START_TIME)?.ok_or(ParseError::Missing(rr::START_TIME))?,
            end_time: time(rr::END_TIME)?,
        })
    }

    fn encode(&self) -> Element {
        Element::new(rr::AVAILABILITY)
            .with_text(rr::START_TIME, eas_time::extended(self.start_time))
            .with_opt_text(rr::END_TIME, self.end_time.map(eas_time::extended))
    }
}

/// A recipient's Availability: its status and, on success, one digit per 30 minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Availability {
    pub status: AvailabilityStatus,
    pub merged_free_busy: Option<String>,
}

impl Availability {
    pub fn failed(status: AvailabilityStatus) -> Availability {
        Availability {
            status,
            merged_free_busy: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRequest {
    pub to: Vec<String>,
    /// 1 none, 2 full certificates, 3 mini certificates.
    pub certificate_retrieval: Option<u8>,
    pub max_ambiguous: Option<u32>,
    pub availability: Option<AvailabilityRequest>,
    pub picture: Option<PictureOptions>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub kind: RecipientType,
    pub display_name: String,
    pub email: String,
    /// Present when free/busy was asked for and the name resolved to one entry.
    pub availability: Option<Availability>,
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
            availability: options
                .and_then(|o| o.first(rr::AVAILABILITY))
                .map(AvailabilityRequest::parse)
                .transpose()?,
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
        if let Some(a) = &self.availability {
            options.push(a.encode());
        }
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
                if let Some(a) = &r.availability {
                    rec.push(
                        Element::new(rr::AVAILABILITY)
                            .with(status_element(rr::STATUS, a.status))
                            .with_opt_text(rr::MERGED_FREE_BUSY, a.merged_free_busy.clone()),
                    );
                }
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
                            availability: r
                                .first(rr::AVAILABILITY)
                                .map(|a| {
                                    Ok::<_, ParseError>(Availability {
                                        status: fields::status(a, rr::STATUS)?,
                                        merged_free_busy: fields::opt_text(a, rr::MERGED_FREE_BUSY)
                                            .map(str::to_string),
                                    })
                                })
                                .transpose()?,
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

/// Resolves every To against the GAL; `free_busy` answers Availability for one entry.
pub fn resolve(
    gal: &Gal,
    req: &ResolveRequest,
    free_busy: &dyn Fn(&GalEntry, Window) -> Availability,
) -> ResolveResponse {
    let window = match req.availability.map(|a| a.window()) {
        Some(Some(w)) => Some(w),
        Some(None) => {
            return ResolveResponse {
                status: ResolveStatus::ProtocolError,
                responses: Vec::new(),
            };
        }
        None => None,
    };
    let too_many = req.to.len() > MAX_AVAILABILITY_TO;
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
            // Free/busy only for a name that resolved to one entry (MS-ASCMD 2.2.3.183).
            let availability = |e: &GalEntry| match window {
                Some(_) if status != ResolveStatus::Success => None,
                Some(_) if too_many => {
                    Some(Availability::failed(AvailabilityStatus::TooManyRecipients))
                }
                Some(w) => Some(free_busy(e, w)),
                None => None,
            };
            let recipients = matches
                .into_iter()
                .take(max)
                .map(|e| Recipient {
                    kind: RecipientType::Gal,
                    display_name: e.display_name.clone(),
                    email: e.email.clone(),
                    availability: availability(e),
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
    let resp = crate::work::unblock(move || {
        let free_busy = |e: &GalEntry, w: Window| user_free_busy(&a, e, w);
        resolve(&Gal::load(&a.config), &parsed, &free_busy)
    })
    .await;
    if resp.status == ResolveStatus::ProtocolError {
        log::info!(
            "{} [{}] ResolveRecipients: free/busy window outside 30 minutes to 42 days",
            req.query.device_id,
            req.user
        );
    }
    Reply::Wbxml(resp.encode())
}

/// Free/busy of a GAL entry: computed for users of this server, not available for others.
fn user_free_busy(app: &App, entry: &GalEntry, window: Window) -> Availability {
    if !entry.is_user {
        return Availability::failed(AvailabilityStatus::NotAvailable);
    }
    let config = &app.config;
    let merged = App::dav_root(config, &entry.email).and_then(|root| {
        freebusy::user::merged_free_busy(&Vdir::new(root), &entry.email, &config.dav.zone(), window)
    });
    match merged {
        Ok(digits) => Availability {
            status: AvailabilityStatus::Success,
            merged_free_busy: Some(digits),
        },
        Err(e) => {
            log::warn!("free/busy of {}: {e}", entry.email);
            Availability::failed(AvailabilityStatus::TryAgain)
        }
    }
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
            availability: None,
            picture: None,
        }
    }

    /// Free/busy as a test double: the entry's address length in busy slots, then free.
    fn fake_free_busy(e: &GalEntry, w: Window) -> Availability {
        let busy = e.email.len().min(w.slots());
        Availability {
            status: AvailabilityStatus::Success,
            merged_free_busy: Some("2".repeat(busy) + &"0".repeat(w.slots() - busy)),
        }
    }

    fn no_free_busy(_: &GalEntry, _: Window) -> Availability {
        panic!("free/busy asked without Availability")
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
            &no_free_busy,
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
        let resp = resolve(&gal(), &req, &no_free_busy);
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

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn availability_for_unique_names_only() {
        let mut req = request(&["alice@example.com", "mar"]);
        req.availability = Some(AvailabilityRequest {
            start_time: at("2026-03-02T08:00:00Z"),
            end_time: Some(at("2026-03-02T11:00:00Z")),
        });
        let resp = resolve(&gal(), &req, &fake_free_busy);
        assert_eq!(resp.status, ResolveStatus::Success);
        let alice = &resp.responses[0].recipients[0];
        assert_eq!(
            alice.availability,
            Some(Availability {
                status: AvailabilityStatus::Success,
                merged_free_busy: Some("222222".into()),
            })
        );
        assert!(
            resp.responses[1]
                .recipients
                .iter()
                .all(|r| r.availability.is_none())
        );
        assert_eq!(ResolveResponse::parse(&resp.encode()), Ok(resp));
        assert_eq!(ResolveRequest::parse(&req.encode()), Ok(req));
    }

    #[test]
    fn availability_limits() {
        // No EndTime: seven days, 336 slots.
        let mut req = request(&["alice@example.com"]);
        req.availability = Some(AvailabilityRequest {
            start_time: at("2026-03-02T08:00:00Z"),
            end_time: None,
        });
        let resp = resolve(&gal(), &req, &fake_free_busy);
        let digits = resp.responses[0].recipients[0]
            .availability
            .as_ref()
            .and_then(|a| a.merged_free_busy.clone())
            .unwrap();
        assert_eq!(digits.len(), 7 * 48);
        // Shorter than 30 minutes, longer than 42 days, or ending first: a protocol error.
        for end in [
            "2026-03-02T08:29:00Z",
            "2026-04-13T08:00:01Z",
            "2026-03-01T08:00:00Z",
        ] {
            req.availability = Some(AvailabilityRequest {
                start_time: at("2026-03-02T08:00:00Z"),
                end_time: Some(at(end)),
            });
            let resp = resolve(&gal(), &req, &no_free_busy);
            assert_eq!(resp.status, ResolveStatus::ProtocolError, "{end}");
            assert!(resp.responses.is_empty());
        }
        // More than 100 recipients: status 160 and no digits.
        let many: Vec<String> = (0..101).map(|_| "alice@example.com".to_string()).collect();
        req.to = many;
        req.availability = Some(AvailabilityRequest {
            start_time: at("2026-03-02T08:00:00Z"),
            end_time: None,
        });
        let resp = resolve(&gal(), &req, &no_free_busy);
        assert_eq!(
            resp.responses[100].recipients[0].availability,
            Some(Availability::failed(AvailabilityStatus::TooManyRecipients))
        );
        // A StartTime that is not a date is a parse error.
        let bad = request(&["a"]).encode().with(
            Element::new(rr::OPTIONS)
                .with(Element::new(rr::AVAILABILITY).with_text(rr::START_TIME, "tomorrow")),
        );
        assert_eq!(
            ResolveRequest::parse(&bad),
            Err(ParseError::BadValue(rr::START_TIME))
        );
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
