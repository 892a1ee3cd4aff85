//! Search (MS-ASCMD 2.2.1.16): the global address list (Store GAL) by a name or address prefix,
//! with Range, Total and contact photos; and the mailbox (Store Mailbox) through the word index of
//! `mailsearch`, results rendered as Sync renders messages.

use super::fields::{self, ParseError, status_element, status_enum};
use super::ids::CollectionId;
use super::options::ItemOptions;
use super::{Reply, Request};
use crate::app::App;
use crate::gal::{Gal, GalEntry};
use crate::wbxml::tags::{airsync, email, gal, search as s};
use crate::wbxml::{Element, Tag};
use std::fmt;
use std::sync::Arc;

status_enum!(
    /// Search Status (MS-ASCMD 2.2.3.177.13), of the command and of a Store.
    SearchStatus {
        Success = 1,
        InvalidRequest = 2,
        ServerError = 3,
        BadLink = 4,
        AccessDenied = 5,
        NotFound = 6,
        ConnectionFailed = 7,
        TooComplex = 8,
        TimedOut = 10,
        FolderSyncRequired = 11,
        EndOfRange = 12,
        AccessBlocked = 13,
        CredentialsRequired = 14,
    }
);

status_enum!(
    /// Status of a contact photo in Search, Find and ResolveRecipients (MS-ASCMD 2.2.3.177).
    PictureStatus {
        Success = 1,
        NoPicture = 173,
        TooLarge = 174,
        LimitReached = 175,
    }
);

/// `first-last`, zero-based and inclusive (MS-ASCMD 2.2.3.143).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchRange {
    pub first: u32,
    pub last: u32,
}

impl SearchRange {
    /// What a client gets when it names no range.
    pub const DEFAULT: SearchRange = SearchRange { first: 0, last: 99 };

    pub fn parse(s: &str) -> Option<SearchRange> {
        let (a, b) = s.trim().split_once('-')?;
        let (first, last) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (first <= last).then_some(SearchRange { first, last })
    }

    /// The part of `items` the range selects, and the range actually returned (None when empty).
    pub fn apply<T>(self, items: Vec<T>) -> (Vec<T>, Option<SearchRange>) {
        let total = items.len();
        let first = self.first as usize;
        if first >= total {
            return (Vec::new(), None);
        }
        let last = (self.last as usize).min(total - 1);
        let taken: Vec<T> = items
            .into_iter()
            .skip(first)
            .take(last - first + 1)
            .collect();
        let returned = SearchRange {
            first: self.first,
            last: u32::try_from(last).unwrap_or(u32::MAX),
        };
        (taken, Some(returned))
    }
}

impl fmt::Display for SearchRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// The photo limits of a request (Picture: MaxSize in bytes, MaxPictures per query).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PictureOptions {
    pub max_size: Option<u32>,
    pub max_pictures: Option<u32>,
}

impl PictureOptions {
    pub fn parse(
        el: &Element,
        max_size: Tag,
        max_pictures: Tag,
    ) -> Result<PictureOptions, ParseError> {
        Ok(PictureOptions {
            max_size: fields::opt_value(el, max_size)?,
            max_pictures: fields::opt_value(el, max_pictures)?,
        })
    }

    pub fn encode(&self, tag: Tag, max_size: Tag, max_pictures: Tag) -> Element {
        Element::new(tag)
            .with_opt_text(max_size, self.max_size.map(|n| n.to_string()))
            .with_opt_text(max_pictures, self.max_pictures.map(|n| n.to_string()))
    }

    /// Hands out photos in result order until MaxPictures is reached.
    pub fn picker(self) -> PicturePicker {
        PicturePicker {
            opts: self,
            given: 0,
        }
    }
}

/// Counts the photos given in one answer.
pub struct PicturePicker {
    opts: PictureOptions,
    given: u32,
}

impl PicturePicker {
    pub fn pick(&mut self, picture: Option<&[u8]>) -> (PictureStatus, Option<Vec<u8>>) {
        let Some(data) = picture else {
            return (PictureStatus::NoPicture, None);
        };
        if self
            .opts
            .max_size
            .is_some_and(|max| data.len() as u64 > u64::from(max))
        {
            return (PictureStatus::TooLarge, None);
        }
        if self.opts.max_pictures.is_some_and(|max| self.given >= max) {
            return (PictureStatus::LimitReached, None);
        }
        self.given += 1;
        (PictureStatus::Success, Some(data.to_vec()))
    }
}

/// The restrictions of a mailbox query (MS-ASCMD 2.2.3.141.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailboxQuery {
    pub class: Option<String>,
    pub collection_ids: Vec<CollectionId>,
    pub free_text: String,
    /// DateReceived strictly after, as the client wrote it (`2024-01-31T00:00:00.000Z`).
    pub received_after: Option<String>,
    pub received_before: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Gal(String),
    Mailbox(MailboxQuery),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: Query,
    pub range: Option<SearchRange>,
    pub deep_traversal: bool,
    pub rebuild_results: bool,
    /// BodyPreference and MIMESupport, for mailbox results.
    pub item_options: ItemOptions,
    pub picture: Option<PictureOptions>,
}

/// A GAL result's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GalResult {
    pub entry: GalEntry,
    pub picture: Option<(PictureStatus, Option<Vec<u8>>)>,
}

/// A mailbox result: the message as Sync renders it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailResult {
    pub long_id: String,
    pub collection_id: CollectionId,
    pub properties: Element,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchResult {
    Gal(GalResult),
    Mail(MailResult),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchResponse {
    pub status: SearchStatus,
    pub store_status: SearchStatus,
    pub results: Vec<SearchResult>,
    pub range: Option<SearchRange>,
    pub total: Option<u32>,
}

fn date_bound(el: &Element) -> Option<String> {
    el.first(email::DATE_RECEIVED)?;
    fields::opt_text(el, s::VALUE).map(|v| v.trim().to_string())
}

fn parse_mailbox_query(q: &Element) -> Result<MailboxQuery, ParseError> {
    let and = q.first(s::AND).unwrap_or(q);
    let mut out = MailboxQuery {
        class: fields::opt_text(and, airsync::CLASS).map(str::to_string),
        collection_ids: and
            .all(airsync::COLLECTION_ID)
            .map(|c| {
                CollectionId::parse(c.text_content().unwrap_or(""))
                    .map_err(|e| ParseError::BadId(airsync::COLLECTION_ID, e))
            })
            .collect::<Result<_, _>>()?,
        free_text: fields::opt_text(and, s::FREE_TEXT)
            .unwrap_or("")
            .trim()
            .to_string(),
        ..MailboxQuery::default()
    };
    if let Some(gt) = and.first(s::GREATER_THAN) {
        out.received_after = date_bound(gt);
    }
    if let Some(lt) = and.first(s::LESS_THAN) {
        out.received_before = date_bound(lt);
    }
    Ok(out)
}

fn encode_mailbox_query(q: &MailboxQuery) -> Element {
    let mut and = Element::new(s::AND);
    if let Some(c) = &q.class {
        and.push_text(airsync::CLASS, c.as_str());
    }
    for id in &q.collection_ids {
        and.push_text(airsync::COLLECTION_ID, id.as_str());
    }
    if !q.free_text.is_empty() {
        and.push_text(s::FREE_TEXT, q.free_text.as_str());
    }
    for (tag, bound) in [
        (s::GREATER_THAN, &q.received_after),
        (s::LESS_THAN, &q.received_before),
    ] {
        if let Some(v) = bound {
            and.push(
                Element::new(tag)
                    .with(Element::new(email::DATE_RECEIVED))
                    .with_text(s::VALUE, v.as_str()),
            );
        }
    }
    Element::new(s::QUERY).with(and)
}

impl SearchRequest {
    pub fn parse(el: &Element) -> Result<SearchRequest, ParseError> {
        let el = fields::root(el, s::SEARCH)?;
        let store = el.first(s::STORE).ok_or(ParseError::Missing(s::STORE))?;
        let name = fields::text(store, s::NAME)?.trim();
        let q = store.first(s::QUERY).ok_or(ParseError::Missing(s::QUERY))?;
        let query = if name.eq_ignore_ascii_case("GAL") {
            Query::Gal(q.text_content().unwrap_or("").trim().to_string())
        } else if name.eq_ignore_ascii_case("Mailbox") {
            Query::Mailbox(parse_mailbox_query(q)?)
        } else {
            return Err(ParseError::BadValue(s::NAME));
        };
        let options = store.first(s::OPTIONS);
        let range = match options.and_then(|o| fields::opt_text(o, s::RANGE)) {
            Some(r) => Some(SearchRange::parse(r).ok_or(ParseError::BadValue(s::RANGE))?),
            None => None,
        };
        let flag = |tag| options.is_some_and(|o| o.first(tag).is_some());
        Ok(SearchRequest {
            query,
            range,
            deep_traversal: flag(s::DEEP_TRAVERSAL),
            rebuild_results: flag(s::REBUILD_RESULTS),
            item_options: options
                .map(ItemOptions::parse)
                .transpose()?
                .unwrap_or_default(),
            picture: options
                .and_then(|o| o.first(s::PICTURE))
                .map(|p| PictureOptions::parse(p, s::MAX_SIZE, s::MAX_PICTURES))
                .transpose()?,
        })
    }

    pub fn encode(&self) -> Element {
        let (name, query) = match &self.query {
            Query::Gal(text) => ("GAL", Element::text(s::QUERY, text.as_str())),
            Query::Mailbox(q) => ("Mailbox", encode_mailbox_query(q)),
        };
        let mut options = self.item_options.encode(s::OPTIONS);
        if let Some(r) = self.range {
            options.push_text(s::RANGE, r.to_string());
        }
        if self.deep_traversal {
            options.push(Element::new(s::DEEP_TRAVERSAL));
        }
        if self.rebuild_results {
            options.push(Element::new(s::REBUILD_RESULTS));
        }
        if let Some(p) = &self.picture {
            options.push(p.encode(s::PICTURE, s::MAX_SIZE, s::MAX_PICTURES));
        }
        let store = Element::new(s::STORE)
            .with_text(s::NAME, name)
            .with(query)
            .with(options);
        Element::new(s::SEARCH).with(store)
    }
}

/// The gal: properties of an entry, in the order MS-ASCMD lists them.
pub fn gal_properties(tag: Tag, r: &GalResult) -> Element {
    let e = &r.entry;
    let mut el = Element::new(tag);
    for (t, v) in [
        (gal::DISPLAY_NAME, &e.display_name),
        (gal::PHONE, &e.phone),
        (gal::OFFICE, &e.office),
        (gal::TITLE, &e.title),
        (gal::COMPANY, &e.company),
        (gal::ALIAS, &e.alias),
        (gal::FIRST_NAME, &e.first_name),
        (gal::LAST_NAME, &e.last_name),
        (gal::HOME_PHONE, &e.home_phone),
        (gal::MOBILE_PHONE, &e.mobile_phone),
        (gal::EMAIL_ADDRESS, &e.email),
    ] {
        if !v.is_empty() {
            el.push_text(t, v.as_str());
        }
    }
    if let Some((status, data)) = &r.picture {
        let mut p = Element::new(gal::PICTURE).with(status_element(gal::STATUS, *status));
        if let Some(d) = data {
            p.push(Element::opaque(gal::DATA, d.clone()));
        }
        el.push(p);
    }
    el
}

/// Reads gal: properties back (client side).
pub fn parse_gal_properties(el: &Element) -> Result<GalResult, ParseError> {
    let get = |t| fields::opt_text(el, t).unwrap_or("").to_string();
    let picture = match el.first(gal::PICTURE) {
        None => None,
        Some(p) => Some((
            fields::status(p, gal::STATUS)?,
            p.first(gal::DATA)
                .and_then(|d| d.data())
                .map(|d| d.into_owned()),
        )),
    };
    Ok(GalResult {
        entry: GalEntry {
            display_name: get(gal::DISPLAY_NAME),
            phone: get(gal::PHONE),
            office: get(gal::OFFICE),
            title: get(gal::TITLE),
            company: get(gal::COMPANY),
            alias: get(gal::ALIAS),
            first_name: get(gal::FIRST_NAME),
            last_name: get(gal::LAST_NAME),
            home_phone: get(gal::HOME_PHONE),
            mobile_phone: get(gal::MOBILE_PHONE),
            email: get(gal::EMAIL_ADDRESS),
            picture: None,
            is_user: false,
        },
        picture,
    })
}

impl SearchResponse {
    pub fn encode(&self) -> Element {
        let mut store = Element::new(s::STORE).with(status_element(s::STATUS, self.store_status));
        if self.results.is_empty() && self.store_status == SearchStatus::Success {
            // No match is one empty Result.
            store.push(Element::new(s::RESULT));
        }
        for r in &self.results {
            store.push(match r {
                SearchResult::Gal(g) => {
                    Element::new(s::RESULT).with(gal_properties(s::PROPERTIES, g))
                }
                SearchResult::Mail(m) => Element::new(s::RESULT)
                    .with_text(airsync::CLASS, "Email")
                    .with_text(s::LONG_ID, m.long_id.as_str())
                    .with_text(airsync::COLLECTION_ID, m.collection_id.as_str())
                    .with(m.properties.clone()),
            });
        }
        if let Some(r) = self.range {
            store.push_text(s::RANGE, r.to_string());
        }
        if let Some(t) = self.total {
            store.push_text(s::TOTAL, t.to_string());
        }
        Element::new(s::SEARCH)
            .with(status_element(s::STATUS, self.status))
            .with(Element::new(s::RESPONSE).with(store))
    }

    pub fn parse(el: &Element) -> Result<SearchResponse, ParseError> {
        let el = fields::root(el, s::SEARCH)?;
        let status = fields::status(el, s::STATUS)?;
        let store = el
            .first(s::RESPONSE)
            .and_then(|r| r.first(s::STORE))
            .ok_or(ParseError::Missing(s::STORE))?;
        let mut results = Vec::new();
        for r in store.all(s::RESULT) {
            let Some(props) = r.first(s::PROPERTIES) else {
                continue;
            };
            match r.first(s::LONG_ID) {
                Some(id) => results.push(SearchResult::Mail(MailResult {
                    long_id: id.text_content().unwrap_or("").to_string(),
                    collection_id: fields::id(r, airsync::COLLECTION_ID, CollectionId::parse)?,
                    properties: props.clone(),
                })),
                None => results.push(SearchResult::Gal(parse_gal_properties(props)?)),
            }
        }
        Ok(SearchResponse {
            status,
            store_status: fields::status(store, s::STATUS)?,
            results,
            range: fields::opt_text(store, s::RANGE).and_then(SearchRange::parse),
            total: fields::opt_value(store, s::TOTAL)?,
        })
    }
}

/// A GAL search as Search and Find answer it: the matches in `range`, photos per `picture`, and
/// the total number of matches.
pub fn search_gal(
    gal: &Gal,
    query: &str,
    range: SearchRange,
    picture: Option<PictureOptions>,
) -> (Vec<GalResult>, Option<SearchRange>, u32) {
    let matches = gal.search(query);
    let total = u32::try_from(matches.len()).unwrap_or(u32::MAX);
    let (page, returned) = range.apply(matches);
    let mut picker = picture.map(PictureOptions::picker);
    let results = page
        .into_iter()
        .map(|e| GalResult {
            picture: picker.as_mut().map(|p| p.pick(e.picture.as_deref())),
            entry: e.clone(),
        })
        .collect();
    (results, returned, total)
}

fn failure(status: SearchStatus) -> Reply {
    Reply::Wbxml(
        SearchResponse {
            status: SearchStatus::Success,
            store_status: status,
            results: Vec::new(),
            range: None,
            total: None,
        }
        .encode(),
    )
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(SearchRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            log::info!("{} [{}] Search: {e}", req.query.device_id, req.user);
            return failure(SearchStatus::InvalidRequest);
        }
        None => return Reply::Status(400),
    };
    let range = parsed.range.unwrap_or(SearchRange::DEFAULT);
    match parsed.query {
        Query::Gal(text) => {
            let a = app.clone();
            let (results, range, total) = crate::work::unblock(move || {
                let gal = Gal::load(&a.config);
                search_gal(&gal, &text, range, parsed.picture)
            })
            .await;
            Reply::Wbxml(
                SearchResponse {
                    status: SearchStatus::Success,
                    store_status: SearchStatus::Success,
                    results: results.into_iter().map(SearchResult::Gal).collect(),
                    range,
                    total: Some(total),
                }
                .encode(),
            )
        }
        Query::Mailbox(q) => {
            let opts = match parsed.item_options.email(req.version) {
                Ok(o) => o,
                Err(_) => return failure(SearchStatus::InvalidRequest),
            };
            let (a, r) = (app.clone(), req.clone());
            let deep = parsed.deep_traversal;
            crate::work::unblock(move || match mailbox(&a, &r.user, &q, deep, range, &opts) {
                Ok(resp) => Reply::Wbxml(resp.encode()),
                Err(crate::mailsearch::MailSearchError::UnknownFolder) => {
                    failure(SearchStatus::FolderSyncRequired)
                }
                Err(e) => {
                    log::error!("{} [{}] Search: {e}", r.query.device_id, r.user);
                    failure(SearchStatus::ServerError)
                }
            })
            .await
        }
    }
}

/// A mailbox search: the matches in `range`, each rendered as Sync would with the request's
/// body preferences.
fn mailbox(
    app: &App,
    user: &str,
    query: &MailboxQuery,
    deep: bool,
    range: SearchRange,
    opts: &crate::items::email::EmailOptions,
) -> Result<SearchResponse, crate::mailsearch::MailSearchError> {
    use crate::collections::ItemBackend;
    let err = |e: &dyn fmt::Display| crate::mailsearch::MailSearchError::Store(e.to_string());
    let account = crate::collections::Account::open(app, user).map_err(|e| err(&e))?;
    let hits = crate::mailsearch::search(&account, query, deep)?;
    let total = u32::try_from(hits.len()).unwrap_or(u32::MAX);
    let (page, returned) = range.apply(hits);
    let backend = account.backend();
    let mut results = Vec::with_capacity(page.len());
    for hit in page {
        let server_id = super::ids::ServerId::item(hit.folder.id, hit.item.uid.0);
        let mut properties = backend
            .render(&hit.folder, &hit.item, server_id.as_str(), opts)
            .map_err(|e| err(&e))?;
        properties.tag = s::PROPERTIES;
        results.push(SearchResult::Mail(MailResult {
            long_id: server_id.as_str().to_string(),
            collection_id: CollectionId::from_number(hit.folder.id),
            properties,
        }));
    }
    Ok(SearchResponse {
        status: SearchStatus::Success,
        store_status: SearchStatus::Success,
        results,
        range: returned,
        total: Some(total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            SearchRange::parse("0-9"),
            Some(SearchRange { first: 0, last: 9 })
        );
        for bad in ["", "9-0", "a-b", "5", "-1-3"] {
            assert_eq!(SearchRange::parse(bad), None, "{bad}");
        }
        let r = SearchRange { first: 2, last: 10 };
        assert_eq!(
            r.apply(vec![0, 1, 2, 3, 4]),
            (vec![2, 3, 4], Some(SearchRange { first: 2, last: 4 }))
        );
        assert_eq!(r.apply(vec![0, 1]), (vec![], None));
    }

    #[test]
    fn pictures_by_size_and_count() {
        let mut p = PictureOptions {
            max_size: Some(10),
            max_pictures: Some(1),
        }
        .picker();
        assert_eq!(p.pick(None), (PictureStatus::NoPicture, None));
        assert_eq!(p.pick(Some(&[0; 11])), (PictureStatus::TooLarge, None));
        assert_eq!(
            p.pick(Some(&[1; 3])),
            (PictureStatus::Success, Some(vec![1; 3]))
        );
        assert_eq!(p.pick(Some(&[2; 3])), (PictureStatus::LimitReached, None));
    }

    #[test]
    fn requests_both_ways() {
        let gal = SearchRequest {
            query: Query::Gal("mar".into()),
            range: Some(SearchRange { first: 0, last: 4 }),
            deep_traversal: false,
            rebuild_results: false,
            item_options: ItemOptions::default(),
            picture: Some(PictureOptions {
                max_size: Some(1000),
                max_pictures: Some(2),
            }),
        };
        assert_eq!(SearchRequest::parse(&gal.encode()), Ok(gal));
        let mail = SearchRequest {
            query: Query::Mailbox(MailboxQuery {
                class: Some("Email".into()),
                collection_ids: vec![CollectionId::parse("5").unwrap()],
                free_text: "invoice".into(),
                received_after: Some("2024-01-01T00:00:00.000Z".into()),
                received_before: None,
            }),
            range: None,
            deep_traversal: true,
            rebuild_results: true,
            item_options: ItemOptions::default(),
            picture: None,
        };
        assert_eq!(SearchRequest::parse(&mail.encode()), Ok(mail));
    }

    #[test]
    fn responses_both_ways() {
        let entry = GalEntry {
            display_name: "Alice Martin".into(),
            email: "alice@example.com".into(),
            phone: "+33 1".into(),
            ..GalEntry::default()
        };
        let resp = SearchResponse {
            status: SearchStatus::Success,
            store_status: SearchStatus::Success,
            results: vec![SearchResult::Gal(GalResult {
                entry,
                picture: Some((PictureStatus::Success, Some(vec![1, 2, 3]))),
            })],
            range: Some(SearchRange { first: 0, last: 0 }),
            total: Some(1),
        };
        assert_eq!(SearchResponse::parse(&resp.encode()), Ok(resp));
        let empty = SearchResponse {
            status: SearchStatus::Success,
            store_status: SearchStatus::Success,
            results: Vec::new(),
            range: None,
            total: Some(0),
        };
        let tree = empty.encode();
        assert!(
            tree.first(s::RESPONSE)
                .unwrap()
                .first(s::STORE)
                .unwrap()
                .first(s::RESULT)
                .is_some()
        );
        assert_eq!(SearchResponse::parse(&tree), Ok(empty));
    }
}
