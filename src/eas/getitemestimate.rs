//! GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes a Sync of each named collection would
//! bring, from the change index and the device's state, without changing either.

use super::fields::{self, ParseError, status_element, status_enum};
use super::foldersync::{SentKey, sent_key};
use super::ids::{CollectionId, SyncKey};
use super::limits::DeviceLimits;
use super::options::{self, ItemOptions};
use super::{Reply, Request};
use crate::app::App;
use crate::collections::{Account, Folder, ItemBackend};
use crate::state::sync::{Backfill, DeviceRef};
use crate::wbxml::Element;
use crate::wbxml::tags::{airsync, getitemestimate as gie};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

status_enum!(
    /// GetItemEstimate Status (MS-ASCMD 2.2.3.177.7).
    EstimateStatus {
        Success = 1,
        InvalidCollection = 2,
        NotPrimed = 3,
        InvalidSyncKey = 4,
    }
);

/// Counting stops here: a phone only shows "many".
const COUNT_CAP: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimateCollection {
    pub sync_key: SyncKey,
    pub collection_id: CollectionId,
    pub options: Option<ItemOptions>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetItemEstimateRequest {
    pub collections: Vec<EstimateCollection>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub status: EstimateStatus,
    pub collection_id: CollectionId,
    pub estimate: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetItemEstimateResponse {
    pub responses: Vec<Estimate>,
}

impl GetItemEstimateRequest {
    pub fn parse(el: &Element) -> Result<GetItemEstimateRequest, ParseError> {
        let el = fields::root(el, gie::GET_ITEM_ESTIMATE)?;
        let collections = el
            .first(gie::COLLECTIONS)
            .into_iter()
            .flat_map(|c| c.all(gie::COLLECTION))
            .map(|c| {
                // 12.1+ puts FilterType in Options; 2.5/12.0 directly in the Collection.
                let options = match c.first(airsync::OPTIONS) {
                    Some(o) => Some(ItemOptions::parse(o)?),
                    None => fields::opt_value(c, airsync::FILTER_TYPE)?.map(|f| ItemOptions {
                        filter_type: Some(f),
                        ..ItemOptions::default()
                    }),
                };
                Ok(EstimateCollection {
                    // Another server's key gets Status 4 from `estimate`, like a stale one.
                    sync_key: fields::id(c, airsync::SYNC_KEY, SyncKey::parse_any)?,
                    collection_id: fields::id(c, gie::COLLECTION_ID, CollectionId::parse)?,
                    options,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(GetItemEstimateRequest { collections })
    }

    pub fn encode(&self) -> Element {
        let mut cs = Element::new(gie::COLLECTIONS);
        for c in &self.collections {
            let mut el = Element::new(gie::COLLECTION)
                .with_text(airsync::SYNC_KEY, c.sync_key.to_string())
                .with_text(gie::COLLECTION_ID, c.collection_id.as_str());
            if let Some(o) = &c.options {
                el.push(o.encode(airsync::OPTIONS));
            }
            cs.push(el);
        }
        Element::new(gie::GET_ITEM_ESTIMATE).with(cs)
    }
}

impl GetItemEstimateResponse {
    pub fn encode(&self) -> Element {
        let mut root = Element::new(gie::GET_ITEM_ESTIMATE);
        for r in &self.responses {
            let mut coll = Element::new(gie::COLLECTION)
                .with_text(gie::COLLECTION_ID, r.collection_id.as_str());
            if let Some(n) = r.estimate {
                coll.push_text(gie::ESTIMATE, n.to_string());
            }
            root.push(
                Element::new(gie::RESPONSE)
                    .with(status_element(gie::STATUS, r.status))
                    .with(coll),
            );
        }
        root
    }

    pub fn parse(el: &Element) -> Result<GetItemEstimateResponse, ParseError> {
        let el = fields::root(el, gie::GET_ITEM_ESTIMATE)?;
        let responses = el
            .all(gie::RESPONSE)
            .map(|r| {
                let c = r
                    .first(gie::COLLECTION)
                    .ok_or(ParseError::Missing(gie::COLLECTION))?;
                Ok(Estimate {
                    status: fields::status(r, gie::STATUS)?,
                    collection_id: fields::id(c, gie::COLLECTION_ID, CollectionId::parse)?,
                    estimate: fields::opt_value(c, gie::ESTIMATE)?,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(GetItemEstimateResponse { responses })
    }
}

fn estimate(
    app: &App,
    account: &Account<'_>,
    folders: &[Folder],
    limits: &DeviceLimits,
    dev: DeviceRef<'_>,
    c: &EstimateCollection,
) -> Result<Estimate, String> {
    let answer = |status, estimate| Estimate {
        status,
        collection_id: c.collection_id.clone(),
        estimate,
    };
    let Some(folder) = c
        .collection_id
        .number()
        .and_then(|n| folders.iter().find(|f| f.id == n))
    else {
        return Ok(answer(EstimateStatus::InvalidCollection, None));
    };
    let k = match sent_key(c.sync_key) {
        SentKey::Issued(k) => k,
        SentKey::Initial => return Ok(answer(EstimateStatus::NotPrimed, None)),
        SentKey::Foreign => return Ok(answer(EstimateStatus::InvalidSyncKey, None)),
    };
    let Some(state) = app
        .sync_states
        .collection(dev, folder.id)
        .map_err(|e| e.to_string())?
    else {
        return Ok(answer(EstimateStatus::InvalidSyncKey, None));
    };
    let base = if state.current.key == k {
        &state.current
    } else {
        match &state.previous {
            Some(p) if p.key == k => p,
            _ => return Ok(answer(EstimateStatus::InvalidSyncKey, None)),
        }
    };
    // A quarantined device is sent nothing, so nothing is waiting for it.
    if limits.quarantined() {
        return Ok(answer(EstimateStatus::Success, Some(0)));
    }
    account
        .items(crate::ProtocolVersion::V16_1)
        .refresh(folder)
        .map_err(|e| e.to_string())?;
    let held = app
        .sync_states
        .held(dev, folder.id)
        .map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let filter = c
        .options
        .as_ref()
        .and_then(|o| o.filter_type)
        .unwrap_or(state.filter);
    let max_days = limits.max_days(app.config.limits.max_mail_age_days);
    let min_time = options::class_min_time(
        folder.kind.class(),
        filter,
        max_days,
        limits.calendar_days(),
        now,
    );
    let page = app
        .index
        .changes_since(folder.coll, base.modseq, COUNT_CAP)
        .map_err(|e| e.to_string())?;
    let mut count = page
        .changes
        .iter()
        .filter(|ch| match ch {
            crate::state::index::Change::Removed { uid, .. } => held.contains(uid.0),
            crate::state::index::Change::Added(i) | crate::state::index::Change::Changed(i) => {
                let own = state
                    .echo
                    .iter()
                    .any(|&(u, m)| u == i.uid.0 && i.modseq <= m);
                !own && (held.contains(i.uid.0) || i.time >= min_time)
            }
        })
        .count() as u64;
    if let Backfill::Pending { .. } = base.backfill {
        let total = app.index.count(folder.coll).map_err(|e| e.to_string())?;
        count = count.max(total.saturating_sub(held.len() as u64));
    }
    Ok(answer(EstimateStatus::Success, Some(count)))
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let Some(Ok(parsed)) = req.tree.as_ref().map(GetItemEstimateRequest::parse) else {
        return Reply::Status(400);
    };
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let (a, r) = (app.clone(), req.clone());
    crate::work::unblock(move || {
        let dev = DeviceRef {
            user: &r.user,
            device: &r.query.device_id,
        };
        let run = || -> Result<GetItemEstimateResponse, String> {
            let account = Account::open(&a, dev.user).map_err(|e| e.to_string())?;
            let limits = DeviceLimits::load(&a, dev.user, dev.device).map_err(|e| e.to_string())?;
            let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
            let responses = parsed
                .collections
                .iter()
                .map(|c| estimate(&a, &account, &folders, &limits, dev, c))
                .collect::<Result<_, _>>()?;
            Ok(GetItemEstimateResponse { responses })
        };
        match run() {
            Ok(resp) => Reply::Wbxml(resp.encode()),
            Err(e) => {
                log::error!("{} [{}] GetItemEstimate: {e}", dev.device, dev.user);
                Reply::Status(500)
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let req = GetItemEstimateRequest {
            collections: vec![EstimateCollection {
                sync_key: SyncKey::first(3),
                collection_id: CollectionId::from_number(1),
                options: Some(ItemOptions {
                    filter_type: Some(3),
                    ..ItemOptions::default()
                }),
            }],
        };
        assert_eq!(GetItemEstimateRequest::parse(&req.encode()), Ok(req));
        let resp = GetItemEstimateResponse {
            responses: vec![Estimate {
                status: EstimateStatus::Success,
                collection_id: CollectionId::from_number(1),
                estimate: Some(42),
            }],
        };
        assert_eq!(GetItemEstimateResponse::parse(&resp.encode()), Ok(resp));
    }

    #[test]
    fn other_servers_keys_go_back_verbatim_and_are_never_ours() {
        let key = "{8c5b1e2a-4f3d-4c1b-9a7e-0d2f6b8e1c3a}3";
        let req = GetItemEstimateRequest {
            collections: vec![EstimateCollection {
                sync_key: SyncKey::parse_any(key).unwrap(),
                collection_id: CollectionId::parse("{inbox}").unwrap(),
                options: None,
            }],
        };
        let el = req.encode();
        let sent = el
            .first(gie::COLLECTIONS)
            .and_then(|c| c.first(gie::COLLECTION))
            .and_then(|c| c.first(airsync::SYNC_KEY))
            .and_then(Element::text_content);
        assert_eq!(sent, Some(key));
        let parsed = GetItemEstimateRequest::parse(&el).unwrap();
        assert_eq!(parsed, req);
        assert_eq!(sent_key(parsed.collections[0].sync_key), SentKey::Foreign);
    }
}
