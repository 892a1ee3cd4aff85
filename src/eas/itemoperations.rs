//! ItemOperations (MS-ASCMD 2.2.1.10): Fetch of an item (with its body options) or of an
//! attachment by FileReference (with Range for large ones), and EmptyFolderContents. Every id is
//! looked up in the user's own index; unknown items get Status 6, unknown attachments 15.

use super::fields::{self, ParseError, status_element, status_enum};
use super::ids::{CollectionId, ServerId};
use super::limits::DeviceLimits;
use super::options::ItemOptions;
use super::{Reply, Request};
use crate::ProtocolVersion;
use crate::app::App;
use crate::collections::{Account, Folder, ItemBackend};
use crate::items::email::{attachment, parse_file_reference};
use crate::state::index::Uid;
use crate::wbxml::Element;
use crate::wbxml::tags::{airsync, airsyncbase, itemoperations as io};
use base64::Engine;
use std::sync::Arc;

status_enum!(
    /// ItemOperations Status (MS-ASCMD 2.2.3.177.8).
    ItemOpsStatus {
        Success = 1,
        ProtocolError = 2,
        ServerError = 3,
        NotFound = 6,
        BadRange = 8,
        ConversionFailed = 14,
        InvalidAttachment = 15,
        Unsupported = 156,
    }
);

/// What a Fetch names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchTarget {
    Item {
        collection_id: CollectionId,
        server_id: ServerId,
    },
    Attachment(String),
}

/// An inclusive byte range, as `Range` writes it (`0-999`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    pub fn parse(s: &str) -> Option<ByteRange> {
        let (a, b) = s.trim().split_once('-')?;
        let (first, last) = (a.parse().ok()?, b.parse().ok()?);
        (first <= last).then_some(ByteRange { first, last })
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Fetch {
        target: FetchTarget,
        options: ItemOptions,
        range: Option<ByteRange>,
    },
    EmptyFolderContents {
        collection_id: CollectionId,
        delete_subfolders: bool,
    },
    /// A conversation Move: answered as not supported, since easd has no conversation view.
    Move,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemOperationsRequest {
    pub operations: Vec<Operation>,
}

/// What a successful Fetch returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// An item's ApplicationData children.
    Item { class: String, data: Element },
    Attachment {
        content_type: String,
        range: Option<ByteRange>,
        total: u64,
        data: Vec<u8>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperationResponse {
    Fetch {
        status: ItemOpsStatus,
        target: FetchTarget,
        fetched: Option<Fetched>,
    },
    EmptyFolderContents {
        status: ItemOpsStatus,
        collection_id: CollectionId,
    },
    Move {
        status: ItemOpsStatus,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemOperationsResponse {
    pub status: ItemOpsStatus,
    pub responses: Vec<OperationResponse>,
}

impl FetchTarget {
    fn parse(el: &Element) -> Result<FetchTarget, ParseError> {
        if let Some(r) = fields::opt_text(el, airsyncbase::FILE_REFERENCE) {
            return Ok(FetchTarget::Attachment(r.to_string()));
        }
        Ok(FetchTarget::Item {
            collection_id: fields::id(el, airsync::COLLECTION_ID, CollectionId::parse)?,
            server_id: fields::id(el, airsync::SERVER_ID, ServerId::parse)?,
        })
    }

    fn push(&self, el: &mut Element) {
        match self {
            FetchTarget::Attachment(r) => el.push_text(airsyncbase::FILE_REFERENCE, r.as_str()),
            FetchTarget::Item {
                collection_id,
                server_id,
            } => {
                el.push_text(airsync::COLLECTION_ID, collection_id.as_str());
                el.push_text(airsync::SERVER_ID, server_id.as_str());
            }
        }
    }
}

impl ItemOperationsRequest {
    pub fn parse(el: &Element) -> Result<ItemOperationsRequest, ParseError> {
        let el = fields::root(el, io::ITEM_OPERATIONS)?;
        let mut operations = Vec::new();
        for op in el.elements() {
            operations.push(match op.tag {
                t if t == io::FETCH => {
                    let opts = op.first(io::OPTIONS);
                    Operation::Fetch {
                        target: FetchTarget::parse(op)?,
                        options: opts
                            .map(ItemOptions::parse)
                            .transpose()?
                            .unwrap_or_default(),
                        range: opts
                            .and_then(|o| fields::opt_text(o, io::RANGE))
                            .map(|r| ByteRange::parse(r).ok_or(ParseError::BadValue(io::RANGE)))
                            .transpose()?,
                    }
                }
                t if t == io::EMPTY_FOLDER_CONTENTS => Operation::EmptyFolderContents {
                    collection_id: fields::id(op, airsync::COLLECTION_ID, CollectionId::parse)?,
                    delete_subfolders: op
                        .first(io::OPTIONS)
                        .is_some_and(|o| o.first(io::DELETE_SUB_FOLDERS).is_some()),
                },
                t if t == io::MOVE => Operation::Move,
                // Only the three operations above may appear (MS-ASCMD 2.2.3.93): anything else is
                // an XML validation error, answered with Status 2 rather than silently dropped.
                other => return Err(ParseError::BadValue(other)),
            });
        }
        Ok(ItemOperationsRequest { operations })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(io::ITEM_OPERATIONS);
        for op in &self.operations {
            match op {
                Operation::Fetch {
                    target,
                    options,
                    range,
                } => {
                    let mut f = Element::new(io::FETCH).with_text(io::STORE, "Mailbox");
                    target.push(&mut f);
                    let mut o = options.encode(io::OPTIONS);
                    if let Some(r) = range {
                        o.push_text(io::RANGE, r.to_string());
                    }
                    f.push(o);
                    el.push(f);
                }
                Operation::EmptyFolderContents {
                    collection_id,
                    delete_subfolders,
                } => {
                    let mut e = Element::new(io::EMPTY_FOLDER_CONTENTS)
                        .with_text(airsync::COLLECTION_ID, collection_id.as_str());
                    if *delete_subfolders {
                        e.push(
                            Element::new(io::OPTIONS).with(Element::new(io::DELETE_SUB_FOLDERS)),
                        );
                    }
                    el.push(e);
                }
                Operation::Move => el.push(Element::new(io::MOVE)),
            }
        }
        el
    }
}

impl ItemOperationsResponse {
    pub fn encode(&self) -> Element {
        let mut resp = Element::new(io::RESPONSE);
        for r in &self.responses {
            resp.push(match r {
                OperationResponse::Fetch {
                    status,
                    target,
                    fetched,
                } => {
                    let mut f = Element::new(io::FETCH).with(status_element(io::STATUS, *status));
                    target.push(&mut f);
                    match fetched {
                        Some(Fetched::Item { class, data }) => {
                            f.push_text(airsync::CLASS, class.as_str());
                            let mut props = Element::new(io::PROPERTIES);
                            props.children = data.children.clone();
                            f.push(props);
                        }
                        Some(Fetched::Attachment {
                            content_type,
                            range,
                            total,
                            data,
                        }) => {
                            let mut props = Element::new(io::PROPERTIES)
                                .with_text(airsyncbase::CONTENT_TYPE, content_type.as_str());
                            if let Some(r) = range {
                                props.push_text(io::RANGE, r.to_string());
                            }
                            props.push_text(io::TOTAL, total.to_string());
                            props.push_text(
                                io::DATA,
                                base64::engine::general_purpose::STANDARD.encode(data),
                            );
                            f.push(props);
                        }
                        None => {}
                    }
                    f
                }
                OperationResponse::EmptyFolderContents {
                    status,
                    collection_id,
                } => Element::new(io::EMPTY_FOLDER_CONTENTS)
                    .with(status_element(io::STATUS, *status))
                    .with_text(airsync::COLLECTION_ID, collection_id.as_str()),
                OperationResponse::Move { status } => {
                    Element::new(io::MOVE).with(status_element(io::STATUS, *status))
                }
            });
        }
        Element::new(io::ITEM_OPERATIONS)
            .with(status_element(io::STATUS, self.status))
            .with(resp)
    }

    pub fn parse(el: &Element) -> Result<ItemOperationsResponse, ParseError> {
        let el = fields::root(el, io::ITEM_OPERATIONS)?;
        let mut responses = Vec::new();
        for r in el
            .first(io::RESPONSE)
            .into_iter()
            .flat_map(Element::elements)
        {
            let status = fields::status(r, io::STATUS)?;
            responses.push(match r.tag {
                t if t == io::FETCH => {
                    let target = FetchTarget::parse(r)?;
                    let fetched = match (r.first(io::PROPERTIES), &target) {
                        (None, _) => None,
                        (Some(p), FetchTarget::Attachment(_)) => Some(Fetched::Attachment {
                            content_type: fields::opt_text(p, airsyncbase::CONTENT_TYPE)
                                .unwrap_or("")
                                .to_string(),
                            range: fields::opt_text(p, io::RANGE).and_then(ByteRange::parse),
                            total: fields::opt_value(p, io::TOTAL)?.unwrap_or(0),
                            data: base64::engine::general_purpose::STANDARD
                                .decode(fields::opt_text(p, io::DATA).unwrap_or(""))
                                .map_err(|_| ParseError::BadValue(io::DATA))?,
                        }),
                        (Some(p), FetchTarget::Item { .. }) => Some(Fetched::Item {
                            class: fields::opt_text(r, airsync::CLASS)
                                .unwrap_or("")
                                .to_string(),
                            data: Element {
                                tag: airsync::APPLICATION_DATA,
                                children: p.children.clone(),
                            },
                        }),
                    };
                    OperationResponse::Fetch {
                        status,
                        target,
                        fetched,
                    }
                }
                t if t == io::EMPTY_FOLDER_CONTENTS => OperationResponse::EmptyFolderContents {
                    status,
                    collection_id: fields::id(r, airsync::COLLECTION_ID, CollectionId::parse)?,
                },
                t if t == io::MOVE => OperationResponse::Move { status },
                other => return Err(ParseError::BadValue(other)),
            });
        }
        Ok(ItemOperationsResponse {
            status: fields::status(el, io::STATUS)?,
            responses,
        })
    }
}

/// An attachment located by FileReference, whole.
pub struct Located {
    pub content_type: String,
    pub name: String,
    pub data: Vec<u8>,
}

/// Resolves a FileReference (`<collection>:<uid>:<index>`) in the user's own index, among the
/// folders the device sees (so a task or note shown as mail is found too); an attachment the
/// device may not have (its options) is not found either.
pub fn find_attachment(
    account: &Account<'_>,
    folders: &[Folder],
    limits: &DeviceLimits,
    version: ProtocolVersion,
    reference: &str,
) -> Result<Option<Located>, String> {
    let Some((base, index)) = parse_file_reference(reference) else {
        return Ok(None);
    };
    let Some((c, u)) = ServerId::parse(base).ok().and_then(|s| s.numbers()) else {
        return Ok(None);
    };
    let Some(folder) = folders.iter().find(|f| f.id == c) else {
        return Ok(None);
    };
    let Some(item) = account
        .app
        .index
        .item(folder.coll, Uid(u))
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let raw = match account.items(version).raw(folder, &item) {
        Ok(r) => r,
        Err(crate::collections::BackendError::NotFound) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    Ok(attachment(&raw, index)
        .filter(|a| limits.allows_attachment(a.data.len() as u64))
        .map(|a| Located {
            content_type: a.content_type,
            name: a.name,
            data: a.data,
        }))
}

fn fetch(
    account: &Account<'_>,
    folders: &[Folder],
    limits: &DeviceLimits,
    version: ProtocolVersion,
    target: &FetchTarget,
    options: &ItemOptions,
    range: Option<ByteRange>,
) -> Result<(ItemOpsStatus, Option<Fetched>), String> {
    match target {
        FetchTarget::Attachment(reference) => {
            let Some(found) = find_attachment(account, folders, limits, version, reference)? else {
                return Ok((ItemOpsStatus::InvalidAttachment, None));
            };
            let total = found.data.len() as u64;
            let (data, range) = match range {
                None => (found.data, None),
                Some(r) if r.first >= total && total > 0 => {
                    return Ok((ItemOpsStatus::BadRange, None));
                }
                Some(r) => {
                    let last = r.last.min(total.saturating_sub(1));
                    let start = usize::try_from(r.first)
                        .unwrap_or(usize::MAX)
                        .min(found.data.len());
                    let end = usize::try_from(last.saturating_add(1))
                        .unwrap_or(usize::MAX)
                        .min(found.data.len())
                        .max(start);
                    (
                        found.data.get(start..end).unwrap_or_default().to_vec(),
                        Some(ByteRange {
                            first: r.first,
                            last,
                        }),
                    )
                }
            };
            Ok((
                ItemOpsStatus::Success,
                Some(Fetched::Attachment {
                    content_type: found.content_type,
                    range,
                    total,
                    data,
                }),
            ))
        }
        FetchTarget::Item {
            collection_id,
            server_id,
        } => {
            let folder = collection_id
                .number()
                .and_then(|n| folders.iter().find(|f| f.id == n));
            let Some(folder) = folder else {
                return Ok((ItemOpsStatus::NotFound, None));
            };
            let backend = account.items(version);
            backend.refresh(folder).map_err(|e| e.to_string())?;
            let item = match server_id.numbers() {
                Some((c, u)) if c == folder.id => account
                    .app
                    .index
                    .item(folder.coll, Uid(u))
                    .map_err(|e| e.to_string())?,
                _ => None,
            };
            let Some(item) = item else {
                return Ok((ItemOpsStatus::NotFound, None));
            };
            let Ok(opts) = options.email(version) else {
                return Ok((ItemOpsStatus::ProtocolError, None));
            };
            let opts = limits.email_options(opts);
            match backend.render(folder, &item, server_id.as_str(), &opts) {
                Ok(mut data) => Ok((
                    ItemOpsStatus::Success,
                    Some(Fetched::Item {
                        class: folder.kind.class().name().to_string(),
                        data: {
                            limits.strip(&mut data);
                            data
                        },
                    }),
                )),
                Err(crate::collections::BackendError::NotFound) => {
                    Ok((ItemOpsStatus::NotFound, None))
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

fn run(
    app: &App,
    req: &Request,
    parsed: &ItemOperationsRequest,
) -> Result<ItemOperationsResponse, String> {
    let account = Account::open(app, &req.user).map_err(|e| e.to_string())?;
    let limits =
        DeviceLimits::load(app, &req.user, &req.query.device_id).map_err(|e| e.to_string())?;
    let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
    let mut responses = Vec::new();
    for op in &parsed.operations {
        responses.push(match op {
            Operation::Fetch {
                target,
                options,
                range,
            } => {
                let (status, fetched) = fetch(
                    &account,
                    &folders,
                    &limits,
                    req.version,
                    target,
                    options,
                    *range,
                )?;
                OperationResponse::Fetch {
                    status,
                    target: target.clone(),
                    fetched,
                }
            }
            Operation::EmptyFolderContents {
                collection_id,
                delete_subfolders,
            } => {
                let folder = collection_id
                    .number()
                    .and_then(|n| folders.iter().find(|f| f.id == n));
                let status = match folder {
                    None => ItemOpsStatus::NotFound,
                    Some(f) => match account.backend().empty(f, *delete_subfolders) {
                        Ok(()) => {
                            app.hub.notify(&req.user, Some(f.id));
                            ItemOpsStatus::Success
                        }
                        Err(e) => {
                            log::warn!(
                                "{} [{}] EmptyFolderContents: {e}",
                                req.query.device_id,
                                req.user
                            );
                            ItemOpsStatus::ServerError
                        }
                    },
                };
                OperationResponse::EmptyFolderContents {
                    status,
                    collection_id: collection_id.clone(),
                }
            }
            Operation::Move => OperationResponse::Move {
                status: ItemOpsStatus::Unsupported,
            },
        });
    }
    Ok(ItemOperationsResponse {
        status: ItemOpsStatus::Success,
        responses,
    })
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(ItemOperationsRequest::parse) {
        Some(Ok(p)) => p,
        _ => {
            return Reply::Wbxml(
                ItemOperationsResponse {
                    status: ItemOpsStatus::ProtocolError,
                    responses: Vec::new(),
                }
                .encode(),
            );
        }
    };
    let (a, r) = (app.clone(), req.clone());
    crate::work::unblock(move || match run(&a, &r, &parsed) {
        Ok(resp) => Reply::Wbxml(resp.encode()),
        Err(e) => {
            log::error!("{} [{}] ItemOperations: {e}", r.query.device_id, r.user);
            Reply::Wbxml(
                ItemOperationsResponse {
                    status: ItemOpsStatus::ServerError,
                    responses: Vec::new(),
                }
                .encode(),
            )
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the eas_requests fuzz target: three stray Range elements under the root once parsed
    /// as operations that encoding then dropped.
    #[test]
    fn a_child_that_is_no_operation_is_a_protocol_error() {
        let tree = crate::wbxml::decode(&[1, 0x36, 0x20, 0, 0, 20, 0x45, 9, 9, 9, 0, 0, 1])
            .expect("the fuzz input is valid WBXML");
        assert_eq!(
            ItemOperationsRequest::parse(&tree),
            Err(ParseError::BadValue(io::RANGE))
        );
    }

    #[test]
    fn round_trips() {
        let req = ItemOperationsRequest {
            operations: vec![
                Operation::Fetch {
                    target: FetchTarget::Attachment("3:4:1".into()),
                    options: ItemOptions::default(),
                    range: Some(ByteRange { first: 0, last: 99 }),
                },
                Operation::EmptyFolderContents {
                    collection_id: CollectionId::from_number(7),
                    delete_subfolders: true,
                },
            ],
        };
        assert_eq!(ItemOperationsRequest::parse(&req.encode()), Ok(req));
        let moved = ItemOperationsRequest {
            operations: vec![Operation::Move],
        };
        assert_eq!(ItemOperationsRequest::parse(&moved.encode()), Ok(moved));
        let resp = ItemOperationsResponse {
            status: ItemOpsStatus::Success,
            responses: vec![
                OperationResponse::Fetch {
                    status: ItemOpsStatus::Success,
                    target: FetchTarget::Attachment("3:4:1".into()),
                    fetched: Some(Fetched::Attachment {
                        content_type: "image/png".into(),
                        range: Some(ByteRange { first: 0, last: 2 }),
                        total: 10,
                        data: vec![1, 2, 3],
                    }),
                },
                OperationResponse::EmptyFolderContents {
                    status: ItemOpsStatus::NotFound,
                    collection_id: CollectionId::from_number(7),
                },
            ],
        };
        assert_eq!(ItemOperationsResponse::parse(&resp.encode()), Ok(resp));
        assert_eq!(ByteRange::parse("5-1"), None);
        assert_eq!(
            ByteRange::parse("0-9"),
            Some(ByteRange { first: 0, last: 9 })
        );
    }
}
