//! Typed command calls for the simulated phone: requests built from the same types the server
//! parses, responses parsed with the same types it encodes.

use super::{ClientError, Device};
use crate::eas::Command;
use crate::eas::fields::ParseError;
use crate::eas::foldercreate::{FolderCreateRequest, FolderCreateResponse};
use crate::eas::folderdelete::{FolderDeleteRequest, FolderDeleteResponse};
use crate::eas::foldersync::{FolderSyncRequest, FolderSyncResponse};
use crate::eas::folderupdate::{FolderUpdateRequest, FolderUpdateResponse};
use crate::eas::ids::SyncKey;
use crate::eas::ping::{PingRequest, PingResponse};
use crate::eas::sendmail::{ComposeRequest, ComposeResponse};
use crate::eas::sync::{SyncRequest, SyncResponse};
use crate::wbxml::Element;

fn typed<T>(r: Result<T, ParseError>) -> Result<T, ClientError> {
    r.map_err(|e| ClientError::Http(format!("unexpected response: {e}")))
}

impl Device {
    pub async fn folder_sync(&mut self, key: SyncKey) -> Result<FolderSyncResponse, ClientError> {
        let tree = self
            .call(
                Command::FolderSync,
                &FolderSyncRequest { sync_key: key }.encode(),
            )
            .await?;
        typed(FolderSyncResponse::parse(&tree))
    }

    pub async fn folder_create(
        &mut self,
        req: &FolderCreateRequest,
    ) -> Result<FolderCreateResponse, ClientError> {
        let tree = self.call(Command::FolderCreate, &req.encode()).await?;
        typed(FolderCreateResponse::parse(&tree))
    }

    pub async fn folder_update(
        &mut self,
        req: &FolderUpdateRequest,
    ) -> Result<FolderUpdateResponse, ClientError> {
        let tree = self.call(Command::FolderUpdate, &req.encode()).await?;
        typed(FolderUpdateResponse::parse(&tree))
    }

    pub async fn folder_delete(
        &mut self,
        req: &FolderDeleteRequest,
    ) -> Result<FolderDeleteResponse, ClientError> {
        let tree = self.call(Command::FolderDelete, &req.encode()).await?;
        typed(FolderDeleteResponse::parse(&tree))
    }

    /// A Sync; `None` for the empty 200 answer (nothing changed).
    pub async fn sync(&mut self, req: &SyncRequest) -> Result<Option<SyncResponse>, ClientError> {
        let reply = self.command(Command::Sync, Some(&req.encode())).await?;
        if reply.status != 200 {
            return Err(ClientError::Http(format!("Sync: HTTP {}", reply.status)));
        }
        if reply.body.is_empty() {
            return Ok(None);
        }
        typed(SyncResponse::parse(&reply.tree()?)).map(Some)
    }

    /// A Ping; an empty request (both fields `None`) is sent with no body, as phones do to repeat
    /// their last one.
    pub async fn ping(&mut self, req: &PingRequest) -> Result<PingResponse, ClientError> {
        let body = (req.heartbeat.is_some() || req.folders.is_some()).then(|| req.to_element());
        let reply = self.command(Command::Ping, body.as_ref()).await?;
        if reply.status != 200 {
            return Err(ClientError::Http(format!("Ping: HTTP {}", reply.status)));
        }
        PingResponse::parse(&reply.tree()?)
            .map_err(|e| ClientError::Http(format!("unexpected response: {e}")))
    }

    /// SendMail, SmartReply or SmartForward (by `req.command`) in the 14.0+ WBXML form; an
    /// empty answer is success.
    pub async fn compose(&mut self, req: &ComposeRequest) -> Result<ComposeResponse, ClientError> {
        let cmd = req.command.command();
        let reply = self.command(cmd, Some(&req.encode())).await?;
        if reply.status != 200 {
            return Err(ClientError::Http(format!("{cmd}: HTTP {}", reply.status)));
        }
        let tree = if reply.body.is_empty() {
            None
        } else {
            Some(reply.tree()?)
        };
        typed(ComposeResponse::parse(req.command, tree.as_ref()))
    }

    /// The same in the 2.5/12.x form: parameters in the query, the raw message as the body.
    /// Answers the HTTP status, 200 being success.
    pub async fn compose_mime(&mut self, req: &ComposeRequest) -> Result<u16, ClientError> {
        let mut q = self.query(req.command.command());
        req.to_query(&mut q);
        let reply = self.post(&q, "message/rfc822", req.mime.clone()).await?;
        Ok(reply.status)
    }

    /// Any command with a typed request element, answered in WBXML.
    pub async fn call_typed<T>(
        &mut self,
        cmd: Command,
        body: &Element,
        parse: impl FnOnce(&Element) -> Result<T, ParseError>,
    ) -> Result<T, ClientError> {
        let tree = self.call(cmd, body).await?;
        typed(parse(&tree))
    }
}
