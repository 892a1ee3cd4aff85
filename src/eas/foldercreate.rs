//! FolderCreate (MS-ASCMD 2.2.1.3): a new mail folder, made in the Maildir (modified UTF-7 name,
//! nested under its parent) and answered with its id and the next hierarchy key.

use super::fields::{self, ParseError, status_element, status_enum};
use super::hierarchy::{self, Parent};
use super::ids::{CollectionId, SyncKey};
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::app::App;
use crate::collections::{Account, AccountError, FolderType, ItemClass};
use crate::state::sync::DeviceRef;
use crate::store::StoreError;
use crate::store::vdir::{PimError, PimKind};
use crate::wbxml::Element;
use crate::wbxml::tags::folderhierarchy as fh;
use std::sync::Arc;

status_enum!(
    /// FolderCreate Status (MS-ASCMD 2.2.3.177.3).
    FolderCreateStatus {
        Success = 1,
        AlreadyExists = 2,
        SpecialParent = 3,
        ParentNotFound = 5,
        ServerError = 6,
        InvalidSyncKey = 9,
        BadRequest = 10,
        UnknownError = 11,
        CodeUnknown = 12,
    }
);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderCreateRequest {
    pub sync_key: SyncKey,
    /// "0" for the top level.
    pub parent_id: CollectionId,
    pub display_name: String,
    pub kind: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderCreateResponse {
    pub status: FolderCreateStatus,
    pub sync_key: Option<SyncKey>,
    pub server_id: Option<CollectionId>,
}

impl FolderCreateRequest {
    pub fn parse(el: &Element) -> Result<FolderCreateRequest, ParseError> {
        let el = fields::root(el, fh::FOLDER_CREATE)?;
        Ok(FolderCreateRequest {
            sync_key: fields::id(el, fh::SYNC_KEY, SyncKey::parse)?,
            parent_id: fields::id(el, fh::PARENT_ID, CollectionId::parse)?,
            display_name: fields::text(el, fh::DISPLAY_NAME)?.to_string(),
            kind: fields::value(el, fh::TYPE)?,
        })
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_CREATE)
            .with_text(fh::SYNC_KEY, self.sync_key.to_string())
            .with_text(fh::PARENT_ID, self.parent_id.as_str())
            .with_text(fh::DISPLAY_NAME, self.display_name.as_str())
            .with_text(fh::TYPE, self.kind.to_string())
    }
}

impl FolderCreateResponse {
    pub fn failed(status: FolderCreateStatus) -> FolderCreateResponse {
        FolderCreateResponse {
            status,
            sync_key: None,
            server_id: None,
        }
    }

    pub fn encode(&self) -> Element {
        Element::new(fh::FOLDER_CREATE)
            .with(status_element(fh::STATUS, self.status))
            .with_opt_text(fh::SYNC_KEY, self.sync_key.map(|k| k.to_string()))
            .with_opt_text(fh::SERVER_ID, self.server_id.as_ref().map(|i| i.as_str()))
    }

    pub fn parse(el: &Element) -> Result<FolderCreateResponse, ParseError> {
        let el = fields::root(el, fh::FOLDER_CREATE)?;
        Ok(FolderCreateResponse {
            status: fields::status(el, fh::STATUS)?,
            sync_key: fields::opt_id(el, fh::SYNC_KEY, SyncKey::parse_any)?,
            server_id: fields::opt_id(el, fh::SERVER_ID, CollectionId::parse)?,
        })
    }
}

fn store_status(e: &AccountError) -> FolderCreateStatus {
    match e {
        AccountError::Store(StoreError::FolderExists(_)) => FolderCreateStatus::AlreadyExists,
        AccountError::Store(StoreError::FolderNotFound(_)) => FolderCreateStatus::ParentNotFound,
        AccountError::Store(
            StoreError::InvalidDisplayName(_) | StoreError::InvalidFolderName(_),
        )
        | AccountError::Pim(PimError::InvalidName(_)) => FolderCreateStatus::BadRequest,
        _ => FolderCreateStatus::ServerError,
    }
}

pub fn run(
    app: &App,
    dev: DeviceRef<'_>,
    req: &FolderCreateRequest,
) -> Result<FolderCreateResponse, String> {
    let Some(state) = hierarchy::current(app, dev, req.sync_key).map_err(|e| e.to_string())? else {
        return Ok(FolderCreateResponse::failed(
            FolderCreateStatus::InvalidSyncKey,
        ));
    };
    let account = Account::open(app, dev.user).map_err(|e| e.to_string())?;
    let limits = DeviceLimits::load(app, dev.user, dev.device).map_err(|e| e.to_string())?;
    let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
    let parent = match hierarchy::parent(&folders, &req.parent_id) {
        Parent::Top => None,
        Parent::Folder(f) => Some(f),
        Parent::Unknown => {
            return Ok(FolderCreateResponse::failed(
                FolderCreateStatus::ParentNotFound,
            ));
        }
    };
    let pim_kind = match FolderType::from_code(req.kind) {
        Some(FolderType::UserContacts) => Some(PimKind::Contacts),
        Some(FolderType::UserCalendar) => Some(PimKind::Calendar),
        Some(FolderType::UserTasks) => Some(PimKind::Tasks),
        Some(FolderType::UserNotes) => Some(PimKind::Notes),
        _ => None,
    };
    let mail = matches!(
        FolderType::from_code(req.kind),
        Some(FolderType::UserMail | FolderType::UserGeneric)
    ) && parent.is_none_or(|p| p.kind.class() == ItemClass::Email);
    // vdir collections are flat: a contacts, calendar, task or note folder goes to the top.
    let created = match pim_kind {
        Some(kind) if parent.is_none() => Some(account.create_pim_folder(&req.display_name, kind)),
        _ if mail => Some(account.create_mail_folder(parent, &req.display_name)),
        _ => None,
    };
    let Some(created) = created else {
        log::info!(
            "{} [{}] FolderCreate of type {} refused",
            dev.device,
            dev.user,
            req.kind
        );
        return Ok(FolderCreateResponse::failed(
            FolderCreateStatus::ServerError,
        ));
    };
    let id = match created {
        Ok(id) => id,
        Err(e) => {
            log::info!("{} [{}] FolderCreate: {e}", dev.device, dev.user);
            return Ok(FolderCreateResponse::failed(store_status(&e)));
        }
    };
    let fresh = limits.visible(account.folders().map_err(|e| e.to_string())?);
    let key = hierarchy::advance(app, dev, state, &fresh, &[id]).map_err(|e| e.to_string())?;
    app.hub.notify(dev.user, Some(id));
    Ok(FolderCreateResponse {
        status: FolderCreateStatus::Success,
        sync_key: Some(key),
        server_id: Some(CollectionId::from_number(id)),
    })
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(FolderCreateRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(ParseError::BadId(t, _))) if t == fh::SYNC_KEY => {
            return Reply::Wbxml(
                FolderCreateResponse::failed(FolderCreateStatus::InvalidSyncKey).encode(),
            );
        }
        _ => {
            return Reply::Wbxml(
                FolderCreateResponse::failed(FolderCreateStatus::BadRequest).encode(),
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
            log::error!("{} [{}] FolderCreate: {e}", req.query.device_id, req.user);
            Reply::Wbxml(FolderCreateResponse::failed(FolderCreateStatus::ServerError).encode())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let req = FolderCreateRequest {
            sync_key: SyncKey::first(3),
            parent_id: CollectionId::from_number(0),
            display_name: "Entwürfe".into(),
            kind: 12,
        };
        assert_eq!(FolderCreateRequest::parse(&req.encode()), Ok(req));
        let resp = FolderCreateResponse {
            status: FolderCreateStatus::Success,
            sync_key: Some(SyncKey::first(4)),
            server_id: Some(CollectionId::from_number(9)),
        };
        assert_eq!(FolderCreateResponse::parse(&resp.encode()), Ok(resp));
        let bad = FolderCreateResponse::failed(FolderCreateStatus::AlreadyExists);
        assert_eq!(FolderCreateResponse::parse(&bad.encode()), Ok(bad));
    }
}
