//! FolderDelete (MS-ASCMD 2.2.1.4): deletes a mail folder with its subfolders from the Maildir,
//! and their collections from the change index and every device's sync state. Default folders
//! cannot be deleted.

use super::fields::{self, ParseError, status_element, status_enum};
use super::hierarchy;
use super::ids::{CollectionId, SyncKey};
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::app::App;
use crate::collections::{Account, AccountError, Source};
use crate::state::sync::DeviceRef;
use crate::store::StoreError;
use crate::store::vdir::PimError;
use crate::wbxml::Element;
use crate::wbxml::tags::folderhierarchy as fh;
use std::sync::Arc;

status_enum!(
    /// FolderDelete Status (MS-ASCMD 2.2.3.177.4).
    FolderDeleteStatus {
        Success = 1,
        Special = 3,
        NotFound = 4,
        ServerError = 6,
        InvalidSyncKey = 9,
        BadRequest = 10,
        UnknownError = 11,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderDeleteRequest {
    pub sync_key: SyncKey,
    pub server_id: CollectionId,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderDeleteResponse {
    pub status: FolderDeleteStatus,
    pub sync_key: Option<SyncKey>,
}

impl FolderDeleteRequest {
    pub fn parse(el: &Element) -> Result<FolderDeleteRequest, ParseError> {
        let el = fields::root(el, fh::FOLDER_DELETE)?;
        Ok(FolderDeleteRequest {
            sync_key: fields::id(el, fh::SYNC_KEY, SyncKey::parse)?,
            server_id: fields::id(el, fh::SERVER_ID, CollectionId::parse)?,
        })
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_DELETE)
            .with_text(fh::SYNC_KEY, self.sync_key.to_string())
            .with_text(fh::SERVER_ID, self.server_id.as_str())
    }
}

impl FolderDeleteResponse {
    pub fn failed(status: FolderDeleteStatus) -> FolderDeleteResponse {
        FolderDeleteResponse {
            status,
            sync_key: None,
        }
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_DELETE)
            .with(status_element(fh::STATUS, self.status))
            .with_opt_text(fh::SYNC_KEY, self.sync_key.map(|k| k.to_string()))
    }

    pub fn parse(el: &Element) -> Result<FolderDeleteResponse, ParseError> {
        let el = fields::root(el, fh::FOLDER_DELETE)?;
        Ok(FolderDeleteResponse {
            status: fields::status(el, fh::STATUS)?,
            sync_key: fields::opt_id(el, fh::SYNC_KEY, SyncKey::parse_any)?,
        })
    }
}

fn store_status(e: &AccountError) -> FolderDeleteStatus {
    match e {
        AccountError::Store(StoreError::ProtectedFolder(_)) => FolderDeleteStatus::Special,
        AccountError::Store(StoreError::FolderNotFound(_))
        | AccountError::Pim(PimError::CollectionNotFound(_)) => FolderDeleteStatus::NotFound,
        AccountError::Pim(PimError::Protected(_)) => FolderDeleteStatus::Special,
        _ => FolderDeleteStatus::ServerError,
    }
}

pub fn run(
    app: &App,
    dev: DeviceRef<'_>,
    req: &FolderDeleteRequest,
) -> Result<FolderDeleteResponse, String> {
    let Some(state) = hierarchy::current(app, dev, req.sync_key).map_err(|e| e.to_string())? else {
        return Ok(FolderDeleteResponse::failed(
            FolderDeleteStatus::InvalidSyncKey,
        ));
    };
    let account = Account::open(app, dev.user).map_err(|e| e.to_string())?;
    let limits = DeviceLimits::load(app, dev.user, dev.device).map_err(|e| e.to_string())?;
    let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
    let Some(folder) = req
        .server_id
        .number()
        .and_then(|n| folders.iter().find(|f| f.id == n))
    else {
        return Ok(FolderDeleteResponse::failed(FolderDeleteStatus::NotFound));
    };
    if folder.kind.is_special() {
        return Ok(FolderDeleteResponse::failed(FolderDeleteStatus::Special));
    }
    let deleted = match folder.source {
        Source::Mail(_) => account.delete_mail_folder(folder),
        Source::Dav(..) => account.delete_pim_folder(folder).map(|()| vec![folder.id]),
        // The documents folder is shown, not owned: it is not the device's to delete.
        Source::Files => return Ok(FolderDeleteResponse::failed(FolderDeleteStatus::Special)),
    };
    let removed = match deleted {
        Ok(ids) => ids,
        Err(e) => {
            log::info!("{} [{}] FolderDelete: {e}", dev.device, dev.user);
            return Ok(FolderDeleteResponse::failed(store_status(&e)));
        }
    };
    let key = hierarchy::advance(app, dev, state, &[], &removed).map_err(|e| e.to_string())?;
    for id in removed {
        app.hub.notify(dev.user, Some(id));
    }
    Ok(FolderDeleteResponse {
        status: FolderDeleteStatus::Success,
        sync_key: Some(key),
    })
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(FolderDeleteRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(ParseError::BadId(t, _))) if t == fh::SYNC_KEY => {
            return Reply::Wbxml(
                FolderDeleteResponse::failed(FolderDeleteStatus::InvalidSyncKey).encode(),
            );
        }
        _ => {
            return Reply::Wbxml(
                FolderDeleteResponse::failed(FolderDeleteStatus::BadRequest).encode(),
            );
        }
    };
    let _guard = app.lock_device(&req.user, &req.query.device_id).await;
    let (a, r) = (app.clone(), req.clone());
    let out = crate::work::unblock(move || {
        let dev = DeviceRef {
            user: &r.user,
            device: &r.query.device_id,
        };
        run(&a, dev, &parsed)
    })
    .await;
    match out {
        Ok(resp) => Reply::Wbxml(resp.encode()),
        Err(e) => {
            log::error!("{} [{}] FolderDelete: {e}", req.query.device_id, req.user);
            Reply::Wbxml(FolderDeleteResponse::failed(FolderDeleteStatus::ServerError).encode())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let req = FolderDeleteRequest {
            sync_key: SyncKey::first(3),
            server_id: CollectionId::from_number(7),
        };
        assert_eq!(FolderDeleteRequest::parse(&req.encode()), Ok(req));
        let resp = FolderDeleteResponse {
            status: FolderDeleteStatus::Success,
            sync_key: Some(SyncKey::first(4)),
        };
        assert_eq!(FolderDeleteResponse::parse(&resp.encode()), Ok(resp));
        let bad = FolderDeleteResponse::failed(FolderDeleteStatus::Special);
        assert_eq!(FolderDeleteResponse::parse(&bad.encode()), Ok(bad));
    }
}
