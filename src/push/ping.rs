//! The Ping command held open (MS-ASCMD 2.2.1.13): parameters from the request or the device's cache,
//! bounds (Status 5, 6), folders the device must know (Status 7), then a wait on the hub until a
//! watched collection has something for the device (Status 2) or the heartbeat ends (Status 1).

use super::hold::{self, Held, Waited, Watched};
use super::hub::{Subscription, Watch};
use super::precheck::{Answer, Precheck};
use crate::app::App;
use crate::eas::ping::{PingFolder, PingRequest, PingResponse, PingStatus};
use crate::eas::{Reply, Request};
use crate::state::ping::PingParams;
use crate::state::sync::DeviceRef;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn reply(r: PingResponse) -> Reply {
    Reply::Wbxml(r.to_element())
}

fn status(s: PingStatus) -> Reply {
    reply(PingResponse::status(s))
}

pub async fn handle(app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match PingRequest::parse(req.tree.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            log::info!("{} [{}] {e}", req.query.device_id, req.user);
            return status(PingStatus::SyntaxError);
        }
    };
    // Everything up to the wait in one trip to the bulk pool: a burst of wake-ups brings a burst
    // of new Pings, and each trip costs the async threads a wake-up and a poll.
    let prepared = {
        let (app, req) = (app.clone(), req.clone());
        crate::work::unblock(move || prepare(&app, &req, parsed)).await
    };
    let Prepared {
        sub,
        precheck,
        heartbeat,
        first,
    } = match prepared {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let _held = Held::new(&app);
    let deadline = Instant::now() + Duration::from_secs(heartbeat.into());
    let mut answer = Some(first);
    loop {
        match answer.take() {
            Some(Ok(c)) if !c.is_empty() => {
                let mut r = PingResponse::status(PingStatus::Changes);
                r.folders = c.iter().map(u32::to_string).collect();
                return reply(r);
            }
            Some(Err(e)) => return server_error(&req, "checking for changes", &e),
            _ => {}
        }
        answer = match hold::wait(&sub, deadline).await {
            // A checked subscription is only woken with an answer; one taken already is none.
            Waited::Checked | Waited::Changed(_) => precheck.take(),
            Waited::Superseded | Waited::Expired => return status(PingStatus::Expired),
        };
    }
}

/// A Ping ready to wait: subscribed, with its precheck and the answer of its first check.
struct Prepared {
    sub: Subscription,
    precheck: Arc<Precheck>,
    heartbeat: u32,
    first: Answer,
}

fn server_error(req: &Request, what: &str, e: &dyn std::fmt::Display) -> Reply {
    log::error!("{} [{}] Ping: {what}: {e}", req.query.device_id, req.user);
    status(PingStatus::ServerError)
}

/// The parameters (from the request or the device's cache), their bounds, the folders the device
/// must know, then the subscription and the first check; blocking. `Err` is the answer to send
/// at once.
fn prepare(app: &Arc<App>, req: &Request, parsed: PingRequest) -> Result<Prepared, Reply> {
    let (user, device) = (req.user.as_str(), req.query.device_id.as_str());
    let dev = DeviceRef { user, device };
    let cached = app
        .ping_cache
        .get(dev)
        .map_err(|e| server_error(req, "reading the Ping cache", &e))?;
    let heartbeat = parsed.heartbeat.or(cached.as_ref().map(|c| c.heartbeat));
    let folders: Option<Vec<(String, String)>> = match &parsed.folders {
        Some(f) => Some(
            f.iter()
                .map(|PingFolder { id, class }| (id.to_string(), class.to_string()))
                .collect(),
        ),
        None => cached.as_ref().map(|c| c.folders.clone()),
    };
    let (Some(heartbeat), Some(folders)) = (heartbeat, folders.filter(|f| !f.is_empty())) else {
        return Err(status(PingStatus::MissingParameters));
    };
    let push = &app.config.push;
    let (min, max) = (
        *push.min_heartbeat_secs.get_ref(),
        *push.max_heartbeat_secs.get_ref(),
    );
    if heartbeat < min || heartbeat > max {
        let mut r = PingResponse::status(PingStatus::BadHeartbeat);
        r.heartbeat = Some(heartbeat.clamp(min, max));
        return Err(reply(r));
    }
    if folders.len() > push.max_folders as usize {
        let mut r = PingResponse::status(PingStatus::TooManyFolders);
        r.max_folders = Some(push.max_folders);
        return Err(reply(r));
    }
    let params = PingParams { heartbeat, folders };
    if cached.as_ref() != Some(&params) {
        app.ping_cache
            .put(dev, &params)
            .map_err(|e| server_error(req, "storing the Ping cache", &e))?;
    }
    let Some(ids) = params
        .folders
        .iter()
        .map(|(id, _)| id.trim().parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()
    else {
        return Err(status(PingStatus::FolderSyncRequired));
    };
    let watched = known_to_device(app, user, device, &ids)
        .map_err(|e| server_error(req, "reading the folder hierarchy", &e))?
        .ok_or_else(|| status(PingStatus::FolderSyncRequired))?;
    let precheck = {
        let (app, user, device, ids) = (
            app.clone(),
            user.to_string(),
            device.to_string(),
            ids.clone(),
        );
        let version = req.version;
        Precheck::new(Box::new(move |announced| {
            let scope = match announced {
                Some(c) if ids.contains(&c) => vec![c],
                _ => ids.clone(),
            };
            hold::pending(
                &app,
                DeviceRef {
                    user: &user,
                    device: &device,
                },
                version,
                &scope,
                &watched,
            )
        }))
    };
    // Subscribe before the first check, so a change between the check and the wait is not lost;
    // from then on every change is checked on the push lane before the Ping is woken.
    let sub = app.hub.subscribe(
        user,
        device,
        Watch::Collections(ids),
        Some(precheck.clone()),
    );
    let first = precheck.check(None);
    Ok(Prepared {
        sub,
        precheck,
        heartbeat,
        first,
    })
}

/// Whether every folder was given to the device by its last FolderSync and still exists; if so,
/// what the checks of the held Ping reuse.
fn known_to_device(
    app: &App,
    user: &str,
    device: &str,
    ids: &[u32],
) -> Result<Option<Watched>, String> {
    let dev = DeviceRef { user, device };
    let Some(hierarchy) = app.sync_states.hierarchy(dev).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let given = |id: &u32| hierarchy.current.folders.iter().any(|f| f.id == *id);
    if !ids.iter().all(given) {
        return Ok(None);
    }
    let account = crate::collections::Account::open(app, user).map_err(|e| e.to_string())?;
    let folders = account.folders().map_err(|e| e.to_string())?;
    if !ids.iter().all(|id| folders.iter().any(|f| f.id == *id)) {
        return Ok(None);
    }
    Watched::new(app, dev, folders, ids).map(Some)
}
