//! One simulated phone as the scenarios drive it: every request is bounded in time, counted,
//! timed, and when it fails, counted under an error kind ("Sync: HTTP 401", "Ping: timed out").
//! A server that asks for provisioning (HTTP 449, or Status 142–144) gets it, once per request.

use super::report::Tally;
use crate::client::{ClientError, Device, Reply};
use crate::eas::Command;
use crate::eas::fields::ParseError;
use crate::eas::foldersync::FolderSyncStatus;
use crate::eas::foldersync::{FolderChange, FolderEntry, FolderSyncRequest, FolderSyncResponse};
use crate::eas::ids::{CollectionId, SyncKey};
use crate::eas::options::ItemOptions;
use crate::eas::ping::{PingFolder, PingRequest, PingResponse};
use crate::eas::provision::codes::{AckStatus, PolicyStatus, ProvisionStatus};
use crate::eas::provision::messages::{POLICY_TYPE_WBXML, ProvisionRequest, ProvisionResponse};
use crate::eas::sync::{CollectionRequest, ServerCommand, SyncRequest, SyncResponse, SyncStatus};
use crate::items::{BodyPreference, BodyType};
use crate::wbxml::Element;
use smol::Timer;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Why a request did not give what the scenario needed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    Connect(std::io::ErrorKind),
    Http(u16),
    Timeout,
    /// The connection broke mid-request.
    Transport(String),
    /// A body that is not the command's response.
    Body(String),
    /// The command's own status said no.
    Status(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Connect(k) => write!(f, "connect: {k}"),
            Failure::Http(s) => write!(f, "HTTP {s}"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Transport(m) => write!(f, "connection: {m}"),
            Failure::Body(m) => write!(f, "unexpected response: {m}"),
            Failure::Status(s) => write!(f, "Status {s}"),
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Connect(e) => Failure::Connect(e.kind()),
            ClientError::Http(m) => Failure::Transport(m),
            ClientError::Wbxml(e) => Failure::Body(e.to_string()),
            ClientError::Timeout => Failure::Timeout,
        }
    }
}

impl From<ParseError> for Failure {
    fn from(e: ParseError) -> Failure {
        Failure::Body(e.to_string())
    }
}

/// Runs `f`, or gives up after `limit`.
pub async fn within<T>(limit: Duration, f: impl Future<Output = T>) -> Option<T> {
    smol::future::or(async { Some(f.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await
}

/// The top-level Status of a WBXML answer, whatever the command.
fn top_status(reply: &Reply) -> Option<u16> {
    if !reply.is_wbxml() {
        return None;
    }
    let tree = reply.tree().ok()?;
    tree.elements()
        .find(|e| e.tag.name() == "Status")
        .and_then(|e| e.text_content())
        .and_then(|s| s.trim().parse().ok())
}

/// Plain text cut at `truncation` bytes, as phones ask for mail.
pub fn plain_text(truncation: u32) -> ItemOptions {
    ItemOptions {
        body_preferences: vec![BodyPreference {
            body_type: BodyType::PlainText,
            truncation_size: Some(truncation),
            all_or_none: false,
            preview: None,
        }],
        ..ItemOptions::default()
    }
}

/// What one Sync of a collection brought.
pub struct SyncStep {
    pub key: SyncKey,
    pub commands: Vec<ServerCommand>,
    pub more_available: bool,
}

pub struct Phone {
    pub dev: Device,
    tally: Rc<RefCell<Tally>>,
    /// The bound of every request but a Ping (whose bound is its heartbeat).
    pub timeout: Duration,
}

impl Phone {
    pub fn new(dev: Device, tally: Rc<RefCell<Tally>>, timeout: Duration) -> Phone {
        Phone {
            dev,
            tally,
            timeout,
        }
    }

    pub fn tally(&self) -> &Rc<RefCell<Tally>> {
        &self.tally
    }

    /// Counts a failure under its kind.
    pub fn fail(&self, what: &str, f: &Failure) {
        self.tally.borrow_mut().error(format!("{what}: {f}"));
    }

    /// One request, bounded, without the provisioning retry.
    async fn raw(
        &mut self,
        cmd: Command,
        body: Option<&Element>,
        limit: Duration,
        timed: bool,
    ) -> Result<Reply, Failure> {
        let started = Instant::now();
        self.tally
            .borrow_mut()
            .count(&format!("requests.{}", cmd.name()), 1);
        let reply = match within(limit, self.dev.command(cmd, body)).await {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(e.into()),
            None => {
                // The request may still be in flight: a fresh connection for the next one.
                self.dev.conn.close();
                return Err(Failure::Timeout);
            }
        };
        if reply.status == 200 && timed {
            self.tally
                .borrow_mut()
                .latencies
                .record(cmd.name(), started.elapsed());
        }
        Ok(reply)
    }

    /// A request; on HTTP 449 or Status 142–144 the phone provisions and sends it once more.
    /// Anything but a 200 is a failure, counted here.
    pub async fn send(
        &mut self,
        cmd: Command,
        body: Option<&Element>,
        limit: Duration,
        timed: bool,
    ) -> Result<Reply, Failure> {
        let mut result = self.raw(cmd, body, limit, timed).await;
        let wants_policy = |r: &Result<Reply, Failure>| match r {
            Ok(reply) => reply.status == 449 || matches!(top_status(reply), Some(142..=144)),
            Err(_) => false,
        };
        if cmd != Command::Provision && wants_policy(&result) {
            self.tally.borrow_mut().count("provisioned", 1);
            match self.provision().await {
                Ok(()) => result = self.raw(cmd, body, limit, timed).await,
                Err(f) => {
                    self.fail("Provision", &f);
                    return Err(f);
                }
            }
        }
        let outcome = match result {
            Ok(r) if r.status == 200 => Ok(r),
            Ok(r) => Err(Failure::Http(r.status)),
            Err(f) => Err(f),
        };
        if let Err(f) = &outcome {
            self.fail(cmd.name(), f);
        }
        outcome
    }

    /// A command answered in WBXML, parsed with the type the server encodes it with.
    pub async fn call<T>(
        &mut self,
        cmd: Command,
        body: &Element,
        parse: impl FnOnce(&Element) -> Result<T, ParseError>,
    ) -> Result<T, Failure> {
        let limit = self.timeout;
        let reply = self.send(cmd, Some(body), limit, true).await?;
        let parsed = match reply.is_wbxml() {
            true => reply
                .tree()
                .map_err(Failure::from)
                .and_then(|t| parse(&t).map_err(Failure::from)),
            false => Err(Failure::Body(format!(
                "{} bytes, not WBXML",
                reply.body.len()
            ))),
        };
        if let Err(f) = &parsed {
            self.fail(cmd.name(), f);
        }
        parsed
    }

    /// Both phases of MS-ASPROV, accepting the policy.
    pub async fn provision(&mut self) -> Result<(), Failure> {
        self.dev.policy_key = None;
        let limit = self.timeout;
        let version = self.dev.version;
        let step = async |phone: &mut Phone, req: ProvisionRequest| {
            let reply = phone
                .raw(Command::Provision, Some(&req.encode(version)), limit, true)
                .await?;
            if reply.status != 200 || !reply.is_wbxml() {
                return Err(Failure::Http(reply.status));
            }
            let r = ProvisionResponse::parse(&reply.tree()?)
                .map_err(|e| Failure::Body(e.to_string()))?;
            match (&r.status, &r.policy) {
                (ProvisionStatus::Success, Some(p)) if p.status == PolicyStatus::Success => {
                    p.policy_key.ok_or(Failure::Body("no PolicyKey".into()))
                }
                (s, p) => Err(Failure::Status(format!(
                    "{s:?}, policy {:?}",
                    p.as_ref().map(|p| p.status)
                ))),
            }
        };
        let temporary = step(
            self,
            ProvisionRequest::Download {
                device_info: None,
                policy_type: Some(POLICY_TYPE_WBXML.into()),
            },
        )
        .await?;
        self.dev.policy_key = Some(temporary);
        let last = step(
            self,
            ProvisionRequest::Acknowledge {
                policy_type: POLICY_TYPE_WBXML.into(),
                policy_key: Some(temporary),
                status: AckStatus::Applied,
            },
        )
        .await?;
        self.dev.policy_key = Some(last);
        Ok(())
    }

    /// The commands the server offers (OPTIONS' MS-ASProtocolCommands).
    pub async fn offered_commands(&mut self) -> Result<Vec<String>, Failure> {
        let reply = match within(self.timeout, self.dev.options()).await {
            Some(r) => r?,
            None => {
                self.dev.conn.close();
                return Err(Failure::Timeout);
            }
        };
        if reply.status != 200 {
            return Err(Failure::Http(reply.status));
        }
        Ok(reply
            .header("MS-ASProtocolCommands")
            .unwrap_or("")
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect())
    }

    /// FolderSync from scratch; the folders the server lists.
    pub async fn folders(&mut self) -> Result<Vec<FolderEntry>, Failure> {
        let req = FolderSyncRequest {
            sync_key: SyncKey::Initial,
        }
        .encode();
        let r = self
            .call(Command::FolderSync, &req, FolderSyncResponse::parse)
            .await?;
        if r.status != FolderSyncStatus::Success {
            let f = Failure::Status(format!("{:?}", r.status));
            self.fail("FolderSync", &f);
            return Err(f);
        }
        Ok(r.changes
            .into_iter()
            .filter_map(|c| match c {
                FolderChange::Add(e) => Some(e),
                _ => None,
            })
            .collect())
    }

    /// One Sync of one collection. `None` options leave the server's cached ones.
    pub async fn sync(
        &mut self,
        coll: &CollectionId,
        key: SyncKey,
        window: u32,
        options: Option<ItemOptions>,
    ) -> Result<SyncStep, Failure> {
        let mut c = CollectionRequest::new(coll.clone(), key);
        c.options = options;
        if !key.is_initial() {
            c.window_size = Some(window);
            c.get_changes = Some(true);
        }
        let req = SyncRequest {
            collections: vec![c],
            ..SyncRequest::default()
        };
        let limit = self.timeout;
        let reply = self
            .send(Command::Sync, Some(&req.encode()), limit, true)
            .await?;
        // An empty 200 means nothing changed.
        if reply.body.is_empty() {
            return Ok(SyncStep {
                key,
                commands: Vec::new(),
                more_available: false,
            });
        }
        let parsed = reply
            .tree()
            .map_err(Failure::from)
            .and_then(|t| SyncResponse::parse(&t).map_err(Failure::from));
        let result = parsed.and_then(|r| {
            let c = r
                .collections
                .into_iter()
                .find(|c| &c.collection_id == coll)
                .ok_or_else(|| match r.status {
                    Some(s) => Failure::Status(format!("{s:?}")),
                    None => Failure::Body("no such Collection".into()),
                })?;
            match (c.status, c.sync_key) {
                (SyncStatus::Success, Some(k)) => Ok(SyncStep {
                    key: k,
                    commands: c.commands,
                    more_available: c.more_available,
                }),
                (s, _) => Err(Failure::Status(format!("{s:?}"))),
            }
        });
        if let Err(f) = &result {
            self.fail("Sync", f);
        }
        result
    }

    /// Syncs `coll` from `key` until nothing more is available (or `deadline`); returns the new
    /// key and every item added on the way.
    pub async fn drain(
        &mut self,
        coll: &CollectionId,
        mut key: SyncKey,
        window: u32,
        options: Option<ItemOptions>,
        deadline: Instant,
    ) -> Result<(SyncKey, Vec<ServerCommand>), Failure> {
        let mut all = Vec::new();
        loop {
            let step = self.sync(coll, key, window, options.clone()).await?;
            key = step.key;
            all.extend(step.commands);
            if !step.more_available {
                return Ok((key, all));
            }
            if Instant::now() >= deadline {
                return Err(Failure::Timeout);
            }
        }
    }

    /// A Ping on `folders`, bounded by its heartbeat plus `grace`. Not timed: its time is the
    /// server's hold, which the scenarios measure their own way.
    pub async fn ping(
        &mut self,
        heartbeat: u32,
        folders: &[PingFolder],
        grace: Duration,
    ) -> Result<PingResponse, Failure> {
        let req = PingRequest {
            heartbeat: Some(heartbeat),
            folders: Some(folders.to_vec()),
        };
        let limit = Duration::from_secs(heartbeat.into()) + grace;
        let reply = self
            .send(Command::Ping, Some(&req.to_element()), limit, false)
            .await?;
        let parsed = reply
            .tree()
            .map_err(Failure::from)
            .and_then(|t| PingResponse::parse(&t).map_err(|e| Failure::Body(e.0.to_string())));
        if let Err(f) = &parsed {
            self.fail("Ping", f);
        }
        parsed
    }
}

/// The folder a scenario works on: the one named `name` (any case), or the Inbox (type 2).
pub fn pick_folder<'a>(folders: &'a [FolderEntry], name: Option<&str>) -> Option<&'a FolderEntry> {
    match name {
        Some(n) => folders
            .iter()
            .find(|f| f.display_name.eq_ignore_ascii_case(n)),
        None => folders.iter().find(|f| f.kind == 2),
    }
}

/// The Ping folder entry for a mail folder.
pub fn ping_folder(id: &CollectionId) -> Option<PingFolder> {
    Some(PingFolder {
        id: heapless::String::try_from(id.as_str()).ok()?,
        class: heapless::String::try_from("Email").ok()?,
    })
}
