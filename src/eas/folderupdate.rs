//! FolderUpdate (MS-ASCMD 2.2.1.6): renames or moves a mail folder with its subfolders in the
//! Maildir; every folder moved keeps its collection id, so devices see one Update, not a
//! Delete and Add. Default folders cannot be changed.

use super::fields::{self, ParseError, status_element, status_enum};
use super::hierarchy::{self, Parent};
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
    /// FolderUpdate Status (MS-ASCMD 2.2.3.177.6).
    FolderUpdateStatus {
        Success = 1,
        /// A folder of that name exists, or the folder is a special one.
        ExistsOrSpecial = 2,
        RecipientInformation = 3,
        NotFound = 4,
        ParentNotFound = 5,
        ServerError = 6,
        InvalidSyncKey = 9,
        BadRequest = 10,
        UnknownError = 11,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderUpdateRequest {
    pub sync_key: SyncKey,
    pub server_id: CollectionId,
    /// "0" for the top level.
    pub parent_id: CollectionId,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderUpdateResponse {
    pub status: FolderUpdateStatus,
    pub sync_key: Option<SyncKey>,
}

impl FolderUpdateRequest {
    pub fn parse(el: &Element) -> Result<FolderUpdateRequest, ParseError> {
        let el = fields::root(el, fh::FOLDER_UPDATE)?;
        Ok(FolderUpdateRequest {
            sync_key: fields::id(el, fh::SYNC_KEY, SyncKey::parse)?,
            server_id: fields::id(el, fh::SERVER_ID, CollectionId::parse)?,
            parent_id: fields::id(el, fh::PARENT_ID, CollectionId::parse)?,
            display_name: fields::text(el, fh::DISPLAY_NAME)?.to_string(),
        })
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_UPDATE)
            .with_text(fh::SYNC_KEY, self.sync_key.to_string())
            .with_text(fh::SERVER_ID, self.server_id.as_str())
            .with_text(fh::PARENT_ID, self.parent_id.as_str())
            .with_text(fh::DISPLAY_NAME, self.display_name.as_str())
    }
}

impl FolderUpdateResponse {
    pub fn failed(status: FolderUpdateStatus) -> FolderUpdateResponse {
        FolderUpdateResponse {
            status,
            sync_key: None,
        }
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_UPDATE)
            .with(status_element(fh::STATUS, self.status))
            .with_opt_text(fh::SYNC_KEY, self.sync_key.map(|k| k.to_string()))
    }

    pub fn parse(el: &Element) -> Result<FolderUpdateResponse, ParseError> {
        let el = fields::root(el, fh::FOLDER_UPDATE)?;
        Ok(FolderUpdateResponse {
            status: fields::status(el, fh::STATUS)?,
            sync_key: fields::opt_id(el, fh::SYNC_KEY, SyncKey::parse_any)?,
        })
    }
}

fn store_status(e: &AccountError) -> FolderUpdateStatus {
    match e {
        AccountError::Store(StoreError::FolderExists(_) | StoreError::ProtectedFolder(_)) => {
            FolderUpdateStatus::ExistsOrSpecial
        }
        AccountError::Store(StoreError::FolderNotFound(_))
        | AccountError::Pim(PimError::CollectionNotFound(_)) => FolderUpdateStatus::NotFound,
        AccountError::Pim(PimError::Protected(_)) => FolderUpdateStatus::ExistsOrSpecial,
        AccountError::Pim(PimError::InvalidName(_)) => FolderUpdateStatus::BadRequest,
        AccountError::Store(
            StoreError::InvalidDisplayName(_)
            | StoreError::InvalidFolderName(_)
            | StoreError::MoveIntoSelf(_),
        ) => FolderUpdateStatus::BadRequest,
        _ => FolderUpdateStatus::ServerError,
    }
}

pub fn run(
    app: &App,
    dev: DeviceRef<'_>,
    req: &FolderUpdateRequest,
) -> Result<FolderUpdateResponse, String> {
    let Some(state) = hierarchy::current(app, dev, req.sync_key).map_err(|e| e.to_string())? else {
        return Ok(FolderUpdateResponse::failed(
            FolderUpdateStatus::InvalidSyncKey,
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
        return Ok(FolderUpdateResponse::failed(FolderUpdateStatus::NotFound));
    };
    if folder.kind.is_special() {
        return Ok(FolderUpdateResponse::failed(
            FolderUpdateStatus::ExistsOrSpecial,
        ));
    }
    let parent = match hierarchy::parent(&folders, &req.parent_id) {
        Parent::Top => None,
        Parent::Folder(f) => Some(f),
        Parent::Unknown => {
            return Ok(FolderUpdateResponse::failed(
                FolderUpdateStatus::ParentNotFound,
            ));
        }
    };
    let renamed = match (&folder.source, parent) {
        (Source::Mail(_), _) => account.rename_mail_folder(folder, parent, &req.display_name),
        (Source::Dav(..), None) => account
            .rename_pim_folder(folder, &req.display_name)
            .map(|()| vec![folder.id]),
        // vdir collections are not nested.
        (Source::Dav(..), Some(_)) => {
            return Ok(FolderUpdateResponse::failed(FolderUpdateStatus::BadRequest));
        }
        // The documents folder is shown, not owned: it keeps its name.
        (Source::Files, _) => {
            return Ok(FolderUpdateResponse::failed(
                FolderUpdateStatus::ExistsOrSpecial,
            ));
        }
    };
    let moved = match renamed {
        Ok(ids) => ids,
        Err(e) => {
            log::info!("{} [{}] FolderUpdate: {e}", dev.device, dev.user);
            return Ok(FolderUpdateResponse::failed(store_status(&e)));
        }
    };
    let fresh = limits.visible(account.folders().map_err(|e| e.to_string())?);
    let key = hierarchy::advance(app, dev, state, &fresh, &moved).map_err(|e| e.to_string())?;
    for id in moved {
        app.hub.notify(dev.user, Some(id));
    }
    Ok(FolderUpdateResponse {
        status: FolderUpdateStatus::Success,
        sync_key: Some(key),
    })
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(FolderUpdateRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(ParseError::BadId(t, _))) if t == fh::SYNC_KEY => {
            return Reply::Wbxml(
                FolderUpdateResponse::failed(FolderUpdateStatus::InvalidSyncKey).encode(),
            );
        }
        _ => {
            return Reply::Wbxml(
                FolderUpdateResponse::failed(FolderUpdateStatus::BadRequest).encode(),
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
            log::error!("{} [{}] FolderUpdate: {e}", req.query.device_id, req.user);
            Reply::Wbxml(FolderUpdateResponse::failed(FolderUpdateStatus::ServerError).encode())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let req = FolderUpdateRequest {
            sync_key: SyncKey::first(3),
            server_id: CollectionId::from_number(7),
            parent_id: CollectionId::from_number(0),
            display_name: "日本語".into(),
        };
        assert_eq!(FolderUpdateRequest::parse(&req.encode()), Ok(req));
        let resp = FolderUpdateResponse {
            status: FolderUpdateStatus::Success,
            sync_key: Some(SyncKey::first(4)),
        };
        assert_eq!(FolderUpdateResponse::parse(&resp.encode()), Ok(resp));
        let bad = FolderUpdateResponse::failed(FolderUpdateStatus::ExistsOrSpecial);
        assert_eq!(FolderUpdateResponse::parse(&bad.encode()), Ok(bad));
    }
}
