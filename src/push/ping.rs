//! The Ping command held open (MS-ASCMD 2.2.1.13): parameters from the request or the device's cache,
//! bounds (Status 5, 6), folders the device must know (Status 7), then a wait on the hub until a
//! watched collection has something for the device (Status 2) or the heartbeat ends (Status 1).

use super::hold::{self, Held, Waited, Watched};
use super::hub::Watch;
use super::precheck::Precheck;
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
    let (user, device) = (req.user.clone(), req.query.device_id.to_string());
    let log_err = |what: &str, e: &dyn std::fmt::Display| {
        log::error!("{device} [{user}] Ping: {what}: {e}");
        status(PingStatus::ServerError)
    };
    let parsed = match PingRequest::parse(req.tree.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            log::info!("{device} [{user}] {e}");
            return status(PingStatus::SyntaxError);
        }
    };
    let cached = {
        let (app, user, device) = (app.clone(), user.clone(), device.clone());
        crate::work::unblock(move || {
            app.ping_cache.get(DeviceRef {
                user: &user,
                device: &device,
            })
        })
        .await
    };
    let cached = match cached {
        Ok(c) => c,
        Err(e) => return log_err("reading the Ping cache", &e),
    };
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
        return status(PingStatus::MissingParameters);
    };
    let push = &app.config.push;
    let (min, max) = (
        *push.min_heartbeat_secs.get_ref(),
        *push.max_heartbeat_secs.get_ref(),
    );
    if heartbeat < min || heartbeat > max {
        let mut r = PingResponse::status(PingStatus::BadHeartbeat);
        r.heartbeat = Some(heartbeat.clamp(min, max));
        return reply(r);
    }
    if folders.len() > push.max_folders as usize {
        let mut r = PingResponse::status(PingStatus::TooManyFolders);
        r.max_folders = Some(push.max_folders);
        return reply(r);
    }
    let params = PingParams { heartbeat, folders };
    if cached.as_ref() != Some(&params) {
        let (app, user, device, params) =
            (app.clone(), user.clone(), device.clone(), params.clone());
        let stored = crate::work::unblock(move || {
            app.ping_cache.put(
                DeviceRef {
                    user: &user,
                    device: &device,
                },
                &params,
            )
        })
        .await;
        if let Err(e) = stored {
            return log_err("storing the Ping cache", &e);
        }
    }
    let Some(ids) = params
        .folders
        .iter()
        .map(|(id, _)| id.trim().parse::<u32>().ok())
        .collect::<Option<Vec<u32>>>()
    else {
        return status(PingStatus::FolderSyncRequired);
    };
    let known = {
        let (app, user, device, ids) = (app.clone(), user.clone(), device.clone(), ids.clone());
        crate::work::unblock(move || known_to_device(&app, &user, &device, &ids)).await
    };
    let watched = match known {
        Ok(Some(w)) => w,
        Ok(None) => return status(PingStatus::FolderSyncRequired),
        Err(e) => return log_err("reading the folder hierarchy", &e),
    };
    let precheck = {
        let (app, user, device, ids) = (app.clone(), user.clone(), device.clone(), ids.clone());
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
        &user,
        &device,
        Watch::Collections(ids.clone()),
        Some(precheck.clone()),
    );
    let _held = Held::new(&app);
    let deadline = Instant::now() + Duration::from_secs(heartbeat.into());
    let first = {
        let precheck = precheck.clone();
        crate::work::unblock(move || precheck.check(None)).await
    };
    let mut answer = Some(first);
    loop {
        match answer.take() {
            Some(Ok(c)) if !c.is_empty() => {
                let mut r = PingResponse::status(PingStatus::Changes);
                r.folders = c.iter().map(u32::to_string).collect();
                return reply(r);
            }
            Some(Err(e)) => return log_err("checking for changes", &e),
            _ => {}
        }
        answer = match hold::wait(&sub, deadline).await {
            // A checked subscription is only woken with an answer; one taken already is none.
            Waited::Checked | Waited::Changed(_) => precheck.take(),
            Waited::Superseded | Waited::Expired => return status(PingStatus::Expired),
        };
    }
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
    Watched::new(app, dev, folders).map(Some)
}
