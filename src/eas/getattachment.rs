//! GetAttachment (MS-ASCMD 2.2.1.8, protocol 2.5–12.1): the attachment named by the
//! `AttachmentName` query parameter (a FileReference), as the raw HTTP body with its content
//! type. Unknown references, and attachments the device's options withhold, get HTTP 500, as the
//! spec's failure answer.

use super::itemoperations::find_attachment;
use super::limits::DeviceLimits;
use super::{Reply, Request};
use crate::app::App;
use crate::collections::Account;
use std::sync::Arc;

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let Some(name) = req.query.attachment_name.clone() else {
        return Reply::Status(400);
    };
    let (a, r) = (app.clone(), req.clone());
    crate::work::unblock(move || {
        let found = Account::open(&a, &r.user)
            .map_err(|e| e.to_string())
            .and_then(|account| {
                let limits = DeviceLimits::load(&a, &r.user, &r.query.device_id)
                    .map_err(|e| e.to_string())?;
                let folders = limits.visible(account.folders().map_err(|e| e.to_string())?);
                find_attachment(&account, &folders, &limits, r.version, &name)
            });
        match found {
            Ok(Some(att)) => Reply::Raw {
                content_type: if att.content_type.is_empty() {
                    "application/octet-stream".to_string()
                } else {
                    att.content_type
                },
                body: att.data,
            },
            Ok(None) => Reply::Status(500),
            Err(e) => {
                log::error!("{} [{}] GetAttachment: {e}", r.query.device_id, r.user);
                Reply::Status(500)
            }
        }
    })
    .await
}
