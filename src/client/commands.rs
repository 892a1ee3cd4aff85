//! Typed command calls for the simulated phone: requests built from the same types the server
//! parses, responses parsed with the same types it encodes.

use super::{ClientError, Device};
use crate::eas::Command;
use crate::eas::fields::ParseError;
use crate::eas::foldersync::{FolderSyncRequest, FolderSyncResponse};
use crate::eas::ids::SyncKey;
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
