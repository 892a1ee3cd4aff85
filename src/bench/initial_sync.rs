//! initial-sync: every device lists the folders, primes the Inbox (or `--folder`) and syncs all
//! of it with WindowSize 100 and plain text cut at 5 KB, as a phone does when the account is
//! added. Reports the items received, items/s and each request's latency.

use super::session::{Failure, pick_folder, plain_text};
use super::{Ctx, Outcome};
use crate::eas::ids::SyncKey;
use crate::eas::sync::ServerCommand;
use smol::lock::Semaphore;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// One device's whole initial sync; `Some((first Sync sent, last answer))` when it finished.
async fn device(ctx: Rc<Ctx>, n: usize, gate: Arc<Semaphore>) -> Option<(Instant, Instant)> {
    let mut phone = ctx.phone(n);
    let options = Some(plain_text(ctx.settings.truncation));
    let (coll, mut key) = {
        // Listing and priming is where servers do per-device bookkeeping: bounded concurrency.
        let _permit = gate.acquire().await;
        let folders = phone.folders().await.ok()?;
        let Some(folder) = pick_folder(&folders, ctx.settings.folder.as_deref()) else {
            phone.fail("FolderSync", &Failure::Body("no such folder".into()));
            return None;
        };
        let coll = folder.server_id.clone();
        let primed = phone
            .sync(
                &coll,
                SyncKey::Initial,
                ctx.settings.window,
                options.clone(),
            )
            .await
            .ok()?;
        (coll, primed.key)
    };
    let began = Instant::now();
    loop {
        if Instant::now() >= ctx.deadline {
            phone.fail(
                "Sync",
                &Failure::Status("unfinished at the end of --duration".into()),
            );
            return None;
        }
        let step = phone
            .sync(&coll, key, ctx.settings.window, options.clone())
            .await
            .ok()?;
        key = step.key;
        let adds = step
            .commands
            .iter()
            .filter(|c| matches!(c, ServerCommand::Add { .. }))
            .count() as u64;
        ctx.tally.borrow_mut().items += adds;
        if !step.more_available {
            ctx.count("devices_done", 1);
            return Some((began, Instant::now()));
        }
    }
}

pub async fn run(ctx: Rc<Ctx>) -> Outcome {
    let gate = Arc::new(Semaphore::new(ctx.settings.concurrency.max(1)));
    let tasks: Vec<_> = (0..ctx.settings.devices)
        .map(|n| ctx.ex.spawn(device(ctx.clone(), n, gate.clone())))
        .collect();
    let first = Cell::new(None::<Instant>);
    let last = Cell::new(None::<Instant>);
    for t in tasks {
        if let Some((a, b)) = t.await {
            first.set(Some(first.get().map_or(a, |f| f.min(a))));
            last.set(Some(last.get().map_or(b, |l| l.max(b))));
        }
    }
    ctx.mark("synced");
    let mut out = Outcome::default();
    if let (Some(a), Some(b)) = (first.get(), last.get()) {
        let secs = (b - a).as_secs_f64().max(1e-3);
        out.items_per_s = Some(ctx.tally.borrow().items as f64 / secs);
        out.figures.insert("sync_seconds".into(), secs);
    }
    out.notes.push(format!(
        "items/s counts Add commands from the first Sync after priming to the last answer; WindowSize {}, plain text cut at {} bytes",
        ctx.settings.window, ctx.settings.truncation
    ));
    out
}
