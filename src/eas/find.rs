//! Find (MS-ASCMD 2.2.1.2, 16.1): the newer search of the global address list (GALSearchCriterion)
//! and of the mailbox (MailBoxSearchCriterion), answered from the same matching as Search; a
//! message result carries the summary properties of the Find schema.

use super::fields::{self, ParseError, status_element, status_enum};
use super::ids::{CollectionId, ServerId};
use super::search::{
    GalResult, MailboxQuery, PictureOptions, SearchRange, gal_properties, parse_gal_properties,
    search_gal,
};
use super::{Reply, Request};
use crate::app::App;
use crate::gal::Gal;
use crate::wbxml::Element;
use crate::wbxml::tags::{airsync, find as f, itemoperations};
use std::sync::Arc;

status_enum!(
    /// Find Status (MS-ASCMD 2.2.3.177.2).
    FindStatus {
        Success = 1,
        InvalidRequest = 2,
        FolderSyncRequired = 3,
        StartWithRangeZero = 4,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Criterion {
    Mailbox {
        query: MailboxQuery,
        deep_traversal: bool,
    },
    Gal {
        text: String,
        picture: Option<PictureOptions>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindRequest {
    pub search_id: String,
    pub criterion: Criterion,
    pub range: SearchRange,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindResult {
    Gal(GalResult),
    Mail {
        server_id: ServerId,
        collection_id: CollectionId,
        properties: Element,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FindResponse {
    pub status: FindStatus,
    /// "Mailbox" or "GAL".
    pub store: String,
    pub response_status: FindStatus,
    pub results: Vec<FindResult>,
    pub range: Option<SearchRange>,
    pub total: Option<u32>,
}

/// A GUID as the schema writes it: 8-4-4-4-12 hexadecimal digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

impl FindRequest {
    pub fn parse(el: &Element) -> Result<FindRequest, ParseError> {
        let el = fields::root(el, f::FIND)?;
        let search_id = fields::text(el, f::SEARCH_ID)?.trim().to_string();
        if !is_guid(&search_id) {
            return Err(ParseError::BadValue(f::SEARCH_ID));
        }
        let exec = el
            .first(f::EXECUTE_SEARCH)
            .ok_or(ParseError::Missing(f::EXECUTE_SEARCH))?;
        let (crit, is_gal) = match (
            exec.first(f::MAIL_BOX_SEARCH_CRITERION),
            exec.first(f::GAL_SEARCH_CRITERION),
        ) {
            (Some(c), None) => (c, false),
            (None, Some(c)) => (c, true),
            _ => return Err(ParseError::Missing(f::MAIL_BOX_SEARCH_CRITERION)),
        };
        let query = crit.first(f::QUERY).ok_or(ParseError::Missing(f::QUERY))?;
        let free_text = fields::opt_text(query, f::FREE_TEXT)
            .or(query.text_content())
            .unwrap_or("")
            .trim()
            .to_string();
        let options = crit.first(f::OPTIONS);
        let range = match options.and_then(|o| fields::opt_text(o, f::RANGE)) {
            Some(r) => SearchRange::parse(r).ok_or(ParseError::BadValue(f::RANGE))?,
            None => SearchRange::DEFAULT,
        };
        let criterion = if is_gal {
            Criterion::Gal {
                text: free_text,
                picture: options
                    .and_then(|o| o.first(f::PICTURE))
                    .map(|p| PictureOptions::parse(p, f::MAX_SIZE, f::MAX_PICTURES))
                    .transpose()?,
            }
        } else {
            Criterion::Mailbox {
                query: MailboxQuery {
                    class: fields::opt_text(query, airsync::CLASS).map(str::to_string),
                    collection_ids: fields::opt_id(
                        query,
                        airsync::COLLECTION_ID,
                        CollectionId::parse,
                    )?
                    .into_iter()
                    .collect(),
                    free_text,
                    received_after: None,
                    received_before: None,
                },
                deep_traversal: options.is_some_and(|o| o.first(f::DEEP_TRAVERSAL).is_some()),
            }
        };
        Ok(FindRequest {
            search_id,
            criterion,
            range,
        })
    }

    pub fn encode(&self) -> Element {
        let mut options = Element::new(f::OPTIONS).with_text(f::RANGE, self.range.to_string());
        let crit = match &self.criterion {
            Criterion::Mailbox {
                query,
                deep_traversal,
            } => {
                let mut q = Element::new(f::QUERY);
                if let Some(c) = &query.class {
                    q.push_text(airsync::CLASS, c.as_str());
                }
                for id in &query.collection_ids {
                    q.push_text(airsync::COLLECTION_ID, id.as_str());
                }
                q.push_text(f::FREE_TEXT, query.free_text.as_str());
                if *deep_traversal {
                    options.push(Element::new(f::DEEP_TRAVERSAL));
                }
                Element::new(f::MAIL_BOX_SEARCH_CRITERION)
                    .with(q)
                    .with(options)
            }
            Criterion::Gal { text, picture } => {
                if let Some(p) = picture {
                    options.push(p.encode(f::PICTURE, f::MAX_SIZE, f::MAX_PICTURES));
                }
                Element::new(f::GAL_SEARCH_CRITERION)
                    .with(Element::new(f::QUERY).with_text(f::FREE_TEXT, text.as_str()))
                    .with(options)
            }
        };
        Element::new(f::FIND)
            .with_text(f::SEARCH_ID, self.search_id.as_str())
            .with(Element::new(f::EXECUTE_SEARCH).with(crit))
    }
}

impl FindResponse {
    pub fn encode(&self) -> Element {
        let mut resp = Element::new(f::RESPONSE)
            .with_text(itemoperations::STORE, self.store.as_str())
            .with(status_element(f::STATUS, self.response_status));
        for r in &self.results {
            resp.push(match r {
                FindResult::Gal(g) => {
                    Element::new(f::RESULT).with(gal_properties(f::PROPERTIES, g))
                }
                FindResult::Mail {
                    server_id,
                    collection_id,
                    properties,
                } => Element::new(f::RESULT)
                    .with_text(airsync::CLASS, "Email")
                    .with_text(airsync::SERVER_ID, server_id.as_str())
                    .with_text(airsync::COLLECTION_ID, collection_id.as_str())
                    .with(properties.clone()),
            });
        }
        if let Some(r) = self.range {
            resp.push_text(f::RANGE, r.to_string());
        }
        if let Some(t) = self.total {
            resp.push_text(f::TOTAL, t.to_string());
        }
        Element::new(f::FIND)
            .with(status_element(f::STATUS, self.status))
            .with(resp)
    }

    pub fn parse(el: &Element) -> Result<FindResponse, ParseError> {
        let el = fields::root(el, f::FIND)?;
        let resp = el
            .first(f::RESPONSE)
            .ok_or(ParseError::Missing(f::RESPONSE))?;
        let results = resp
            .all(f::RESULT)
            .filter_map(|r| Some((r, r.first(f::PROPERTIES)?)))
            .map(|(r, props)| match r.first(airsync::SERVER_ID) {
                Some(_) => Ok(FindResult::Mail {
                    server_id: fields::id(r, airsync::SERVER_ID, ServerId::parse)?,
                    collection_id: fields::id(r, airsync::COLLECTION_ID, CollectionId::parse)?,
                    properties: props.clone(),
                }),
                None => parse_gal_properties(props).map(FindResult::Gal),
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(FindResponse {
            status: fields::status(el, f::STATUS)?,
            store: fields::text(resp, itemoperations::STORE)?.to_string(),
            response_status: fields::status(resp, f::STATUS)?,
            results,
            range: fields::opt_text(resp, f::RANGE).and_then(SearchRange::parse),
            total: fields::opt_value(resp, f::TOTAL)?,
        })
    }
}

fn refused(status: FindStatus, store: &str) -> Reply {
    Reply::Wbxml(
        FindResponse {
            status,
            store: store.to_string(),
            response_status: status,
            results: Vec::new(),
            range: None,
            total: None,
        }
        .encode(),
    )
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(FindRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            log::info!("{} [{}] Find: {e}", req.query.device_id, req.user);
            return refused(FindStatus::InvalidRequest, "Mailbox");
        }
        None => return Reply::Status(400),
    };
    // Results are not kept between requests, so pages other than the first cannot be served.
    if parsed.range.first != 0 {
        let store = match parsed.criterion {
            Criterion::Gal { .. } => "GAL",
            Criterion::Mailbox { .. } => "Mailbox",
        };
        return refused(FindStatus::StartWithRangeZero, store);
    }
    match parsed.criterion {
        Criterion::Gal { text, picture } => {
            let a = app.clone();
            let range = parsed.range;
            let (results, range, total) = crate::work::unblock(move || {
                search_gal(&Gal::load(&a.config), &text, range, picture)
            })
            .await;
            Reply::Wbxml(
                FindResponse {
                    status: FindStatus::Success,
                    store: "GAL".into(),
                    response_status: FindStatus::Success,
                    results: results.into_iter().map(FindResult::Gal).collect(),
                    range,
                    total: Some(total),
                }
                .encode(),
            )
        }
        Criterion::Mailbox {
            query,
            deep_traversal,
        } => {
            let (a, r) = (app.clone(), req.clone());
            let range = parsed.range;
            crate::work::unblock(move || {
                match mailbox(&a, &r.user, &query, deep_traversal, range) {
                    Ok(resp) => Reply::Wbxml(resp.encode()),
                    Err(crate::mailsearch::MailSearchError::UnknownFolder) => {
                        refused(FindStatus::FolderSyncRequired, "Mailbox")
                    }
                    Err(e) => {
                        log::error!("{} [{}] Find: {e}", r.query.device_id, r.user);
                        refused(FindStatus::InvalidRequest, "Mailbox")
                    }
                }
            })
            .await
        }
    }
}

/// Characters of body text in a result's Preview (the spec's maximum).
const PREVIEW_CHARS: usize = 255;

/// The Find properties of a message, picked from its Sync rendering.
fn find_properties(app_data: &Element) -> Element {
    use crate::wbxml::tags::{airsyncbase, email, email2};
    let mut props = Element::new(f::PROPERTIES);
    let copy = |props: &mut Element, tag| {
        if let Some(e) = app_data.first(tag) {
            props.push(e.clone());
        }
    };
    copy(&mut props, email::SUBJECT);
    copy(&mut props, email::DATE_RECEIVED);
    copy(&mut props, email::DISPLAY_TO);
    if let Some(cc) = app_data.child_text(email::CC) {
        props.push_text(f::DISPLAY_CC, cc);
    }
    copy(&mut props, email::IMPORTANCE);
    copy(&mut props, email::READ);
    copy(&mut props, email2::IS_DRAFT);
    if let Some(text) = app_data
        .first(airsyncbase::BODY)
        .and_then(|b| b.child_text(airsyncbase::DATA))
    {
        props.push_text(f::PREVIEW, crate::items::char_prefix(text, PREVIEW_CHARS));
    }
    let has_attachments = app_data.first(airsyncbase::ATTACHMENTS).is_some();
    props.push_text(f::HAS_ATTACHMENTS, if has_attachments { "1" } else { "0" });
    copy(&mut props, email::FROM);
    props
}

fn mailbox(
    app: &App,
    user: &str,
    query: &MailboxQuery,
    deep: bool,
    range: SearchRange,
) -> Result<FindResponse, crate::mailsearch::MailSearchError> {
    use crate::collections::ItemBackend;
    use crate::items::{BodyPreference, BodyType};
    let err = |e: &dyn std::fmt::Display| crate::mailsearch::MailSearchError::Store(e.to_string());
    let account = crate::collections::Account::open(app, user).map_err(|e| err(&e))?;
    let hits = crate::mailsearch::search(&account, query, deep)?;
    let total = u32::try_from(hits.len()).unwrap_or(u32::MAX);
    let (page, returned) = range.apply(hits);
    let mut opts = crate::items::email::EmailOptions::new(crate::ProtocolVersion::V16_1);
    opts.body_preferences = vec![BodyPreference {
        truncation_size: Some(1024),
        ..BodyPreference::whole(BodyType::PlainText)
    }];
    let backend = account.backend();
    let mut results = Vec::with_capacity(page.len());
    for hit in page {
        let server_id = ServerId::item(hit.folder.id, hit.item.uid.0);
        let app_data = backend
            .render(&hit.folder, &hit.item, server_id.as_str(), &opts)
            .map_err(|e| err(&e))?;
        results.push(FindResult::Mail {
            server_id,
            collection_id: CollectionId::from_number(hit.folder.id),
            properties: find_properties(&app_data),
        });
    }
    Ok(FindResponse {
        status: FindStatus::Success,
        store: "Mailbox".into(),
        response_status: FindStatus::Success,
        results,
        range: returned,
        total: Some(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::search::PictureStatus;
    use crate::gal::GalEntry;

    const ID: &str = "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d";

    #[test]
    fn requests_both_ways() {
        for criterion in [
            Criterion::Gal {
                text: "mar".into(),
                picture: Some(PictureOptions {
                    max_size: Some(5000),
                    max_pictures: None,
                }),
            },
            Criterion::Mailbox {
                query: MailboxQuery {
                    class: Some("Email".into()),
                    collection_ids: vec![CollectionId::parse("3").unwrap()],
                    free_text: "budget".into(),
                    ..MailboxQuery::default()
                },
                deep_traversal: true,
            },
        ] {
            let req = FindRequest {
                search_id: ID.into(),
                criterion,
                range: SearchRange { first: 0, last: 24 },
            };
            assert_eq!(FindRequest::parse(&req.encode()), Ok(req));
        }
        let mut bad = FindRequest {
            search_id: "nope".into(),
            criterion: Criterion::Gal {
                text: "x".into(),
                picture: None,
            },
            range: SearchRange::DEFAULT,
        }
        .encode();
        assert_eq!(
            FindRequest::parse(&bad),
            Err(ParseError::BadValue(f::SEARCH_ID))
        );
        bad = Element::new(f::FIND).with_text(f::SEARCH_ID, ID);
        assert!(FindRequest::parse(&bad).is_err());
    }

    #[test]
    fn responses_both_ways() {
        let resp = FindResponse {
            status: FindStatus::Success,
            store: "GAL".into(),
            response_status: FindStatus::Success,
            results: vec![FindResult::Gal(GalResult {
                entry: GalEntry {
                    display_name: "Marc Lopez".into(),
                    email: "marc@partner.example".into(),
                    ..GalEntry::default()
                },
                picture: Some((PictureStatus::NoPicture, None)),
            })],
            range: Some(SearchRange { first: 0, last: 0 }),
            total: Some(1),
        };
        assert_eq!(FindResponse::parse(&resp.encode()), Ok(resp));
    }
}
