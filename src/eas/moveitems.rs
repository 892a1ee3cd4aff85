//! MoveItems (MS-ASCMD 2.2.1.12): moves messages between mail folders. The file is renamed into
//! the other folder with its flags, the answer carries the new ServerId, and the device's own
//! sync states are updated so neither folder reports the move back to it.

use super::fields::{self, ParseError, status_element, status_enum};
use super::ids::{CollectionId, ServerId};
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::app::App;
use crate::collections::{Account, BackendError, Folder};
use crate::state::index::Uid;
use crate::state::sync::{Batch, DeviceRef};
use crate::wbxml::Element;
use crate::wbxml::tags::move_;
use std::sync::Arc;

status_enum!(
    /// MoveItems Status (MS-ASCMD 2.2.3.177.10).
    MoveStatus {
        InvalidSource = 1,
        InvalidDestination = 2,
        Success = 3,
        SameFolder = 4,
        Failed = 5,
        Locked = 7,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub src_msg_id: ServerId,
    pub src_fld_id: CollectionId,
    pub dst_fld_id: CollectionId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveResponse {
    pub src_msg_id: ServerId,
    pub status: MoveStatus,
    pub dst_msg_id: Option<ServerId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveItemsRequest {
    pub moves: Vec<Move>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveItemsResponse {
    pub responses: Vec<MoveResponse>,
}

impl MoveItemsRequest {
    pub fn parse(el: &Element) -> Result<MoveItemsRequest, ParseError> {
        let el = fields::root(el, move_::MOVE_ITEMS)?;
        let moves = el
            .all(move_::MOVE)
            .map(|m| {
                Ok(Move {
                    src_msg_id: fields::id(m, move_::SRC_MSG_ID, ServerId::parse)?,
                    src_fld_id: fields::id(m, move_::SRC_FLD_ID, CollectionId::parse)?,
                    dst_fld_id: fields::id(m, move_::DST_FLD_ID, CollectionId::parse)?,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(MoveItemsRequest { moves })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(move_::MOVE_ITEMS);
        for m in &self.moves {
            el.push(
                Element::new(move_::MOVE)
                    .with_text(move_::SRC_MSG_ID, m.src_msg_id.as_str())
                    .with_text(move_::SRC_FLD_ID, m.src_fld_id.as_str())
                    .with_text(move_::DST_FLD_ID, m.dst_fld_id.as_str()),
            );
        }
        el
    }
}

impl MoveItemsResponse {
    pub fn encode(&self) -> Element {
        let mut el = Element::new(move_::MOVE_ITEMS);
        for r in &self.responses {
            el.push(
                Element::new(move_::RESPONSE)
                    .with_text(move_::SRC_MSG_ID, r.src_msg_id.as_str())
                    .with(status_element(move_::STATUS, r.status))
                    .with_opt_text(
                        move_::DST_MSG_ID,
                        r.dst_msg_id.as_ref().map(ServerId::as_str),
                    ),
            );
        }
        el
    }

    pub fn parse(el: &Element) -> Result<MoveItemsResponse, ParseError> {
        let el = fields::root(el, move_::MOVE_ITEMS)?;
        let responses = el
            .all(move_::RESPONSE)
            .map(|r| {
                Ok(MoveResponse {
                    src_msg_id: fields::id(r, move_::SRC_MSG_ID, ServerId::parse)?,
                    status: fields::status(r, move_::STATUS)?,
                    dst_msg_id: fields::opt_id(r, move_::DST_MSG_ID, ServerId::parse)?,
                })
            })
            .collect::<Result<_, ParseError>>()?;
        Ok(MoveItemsResponse { responses })
    }
}

fn find<'f>(folders: &'f [Folder], id: &CollectionId) -> Option<&'f Folder> {
    let n = id.number()?;
    folders.iter().find(|f| f.id == n)
}

/// Moves one message; the device's states learn of it so it is not echoed.
fn move_one(
    app: &App,
    account: &Account<'_>,
    folders: &[Folder],
    dev: DeviceRef<'_>,
    m: &Move,
) -> Result<MoveResponse, String> {
    let answer = |status, dst: Option<ServerId>| MoveResponse {
        src_msg_id: m.src_msg_id.clone(),
        status,
        dst_msg_id: dst,
    };
    let Some(src) = find(folders, &m.src_fld_id) else {
        return Ok(answer(MoveStatus::InvalidSource, None));
    };
    let Some(dst) = find(folders, &m.dst_fld_id) else {
        return Ok(answer(MoveStatus::InvalidDestination, None));
    };
    if src.id == dst.id {
        return Ok(answer(MoveStatus::SameFolder, None));
    }
    // Mail moves between mail folders, contacts between address books, and so on.
    if src.kind.class() != dst.kind.class() {
        return Ok(answer(MoveStatus::InvalidDestination, None));
    }
    let backend = account.items(crate::ProtocolVersion::V16_1);
    crate::collections::ItemBackend::refresh(&backend, src).map_err(|e| e.to_string())?;
    let item = match m.src_msg_id.numbers() {
        Some((c, u)) if c == src.id => app
            .index
            .item(src.coll, Uid(u))
            .map_err(|e| e.to_string())?,
        _ => None,
    };
    let Some(item) = item else {
        return Ok(answer(MoveStatus::InvalidSource, None));
    };
    let created = match backend.move_item(src, &item, dst) {
        Ok(c) => c,
        Err(BackendError::NotFound) => return Ok(answer(MoveStatus::InvalidSource, None)),
        Err(e) => {
            log::warn!("{} [{}] MoveItems: {e}", dev.device, dev.user);
            return Ok(answer(MoveStatus::Failed, None));
        }
    };
    let states = &app.sync_states;
    let mut held_src = states.held(dev, src.id).map_err(|e| e.to_string())?;
    let mut held_dst = states.held(dev, dst.id).map_err(|e| e.to_string())?;
    let src_state = states.collection(dev, src.id).map_err(|e| e.to_string())?;
    let mut dst_state = states.collection(dev, dst.id).map_err(|e| e.to_string())?;
    held_src.remove(item.uid.0);
    let mut batch = Batch::default();
    if let Some(s) = &src_state {
        batch.collections.push((src.id, s, Some(&held_src)));
    }
    if let Some(s) = dst_state.as_mut() {
        held_dst.insert(created.uid.0);
        s.echo.push((created.uid.0, created.modseq));
    }
    if let Some(s) = &dst_state {
        batch.collections.push((dst.id, s, Some(&held_dst)));
    }
    states.commit(dev, &batch).map_err(|e| e.to_string())?;
    app.hub.notify(dev.user, Some(src.id));
    app.hub.notify(dev.user, Some(dst.id));
    Ok(answer(
        MoveStatus::Success,
        Some(ServerId::item(dst.id, created.uid.0)),
    ))
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let Some(Ok(parsed)) = req.tree.as_ref().map(MoveItemsRequest::parse) else {
        return Reply::Status(400);
    };
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let (a, r) = (app.clone(), req.clone());
    crate::work::unblock(move || {
        let dev = DeviceRef {
            user: &r.user,
            device: &r.query.device_id,
        };
        let run = || -> Result<MoveItemsResponse, String> {
            let account = Account::open(&a, dev.user).map_err(|e| e.to_string())?;
            let limits = DeviceLimits::load(&a, dev.user, dev.device).map_err(|e| e.to_string())?;
            let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
            let responses = parsed
                .moves
                .iter()
                .map(|m| move_one(&a, &account, &folders, dev, m))
                .collect::<Result<_, _>>()?;
            Ok(MoveItemsResponse { responses })
        };
        match run() {
            Ok(resp) => Reply::Wbxml(resp.encode()),
            Err(e) => {
                log::error!("{} [{}] MoveItems: {e}", dev.device, dev.user);
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
        let req = MoveItemsRequest {
            moves: vec![Move {
                src_msg_id: ServerId::item(1, 2),
                src_fld_id: CollectionId::from_number(1),
                dst_fld_id: CollectionId::from_number(3),
            }],
        };
        assert_eq!(MoveItemsRequest::parse(&req.encode()), Ok(req));
        let resp = MoveItemsResponse {
            responses: vec![
                MoveResponse {
                    src_msg_id: ServerId::item(1, 2),
                    status: MoveStatus::Success,
                    dst_msg_id: Some(ServerId::item(3, 1)),
                },
                MoveResponse {
                    src_msg_id: ServerId::item(9, 2),
                    status: MoveStatus::InvalidSource,
                    dst_msg_id: None,
                },
            ],
        };
        assert_eq!(MoveItemsResponse::parse(&resp.encode()), Ok(resp));
    }
}
