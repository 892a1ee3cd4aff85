//! ping-hold: every device lists its folders and sends one Ping on the Inbox with a heartbeat
//! longer than the run, so the server holds them all at once. Once every device has its Ping out
//! (plus a second to settle) the server is read ("pings held"), then left alone for `--hold`
//! seconds or until the end of `--duration` ("hold end"): its RSS per held Ping and its CPU
//! while the Pings idle.

use super::session::{Failure, Phone, pick_folder, ping_folder};
use super::{Ctx, Outcome};
use crate::eas::ping::PingStatus;
use smol::Timer;
use smol::lock::Semaphore;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

#[derive(Default)]
struct Progress {
    /// Devices whose Ping is out and not answered.
    out: usize,
    /// Devices that got as far as sending their Ping, or failed before.
    settled: usize,
}

async fn device(ctx: Rc<Ctx>, n: usize, gate: Arc<Semaphore>, progress: Rc<RefCell<Progress>>) {
    let mut phone: Phone = ctx.phone(n);
    let folder = {
        let _permit = gate.acquire().await;
        match phone.folders().await {
            Ok(folders) => pick_folder(&folders, ctx.settings.folder.as_deref())
                .and_then(|f| ping_folder(&f.server_id)),
            Err(_) => {
                progress.borrow_mut().settled += 1;
                return;
            }
        }
    };
    let Some(folder) = folder else {
        phone.fail("FolderSync", &Failure::Body("no such folder".into()));
        progress.borrow_mut().settled += 1;
        return;
    };
    {
        let mut p = progress.borrow_mut();
        p.out += 1;
        p.settled += 1;
    }
    let heartbeat = ctx.settings.ping_heartbeat();
    let answer = phone
        .ping(heartbeat, &[folder], Duration::from_secs(30))
        .await;
    progress.borrow_mut().out -= 1;
    if let Ok(r) = answer {
        // Any answer before the end is early: the heartbeat outlasts the run.
        ctx.count(
            &format!("pings.answered_early.status_{}", r.status as u32),
            1,
        );
        if r.status != PingStatus::Expired && r.status != PingStatus::Changes {
            phone.fail("Ping", &Failure::Status(format!("{:?}", r.status)));
        }
    }
}

pub async fn run(ctx: Rc<Ctx>) -> Outcome {
    let mut out = Outcome::default();
    let gate = Arc::new(Semaphore::new(ctx.settings.concurrency.max(1)));
    let progress = Rc::new(RefCell::new(Progress::default()));
    let tasks: Vec<_> = (0..ctx.settings.devices)
        .map(|n| {
            ctx.ex
                .spawn(device(ctx.clone(), n, gate.clone(), progress.clone()))
        })
        .collect();
    while progress.borrow().settled < ctx.settings.devices && !ctx.left().is_zero() {
        Timer::after(Duration::from_millis(50)).await;
    }
    // The last Pings need a moment to reach the server and be parked.
    Timer::after(Duration::from_secs(1).min(ctx.left())).await;
    let held = progress.borrow().out;
    ctx.count("pings.held", held as u64);
    let at_hold = ctx.mark("pings held");
    out.figures
        .insert("setup_seconds".into(), ctx.start.elapsed().as_secs_f64());
    // With nothing held there is nothing to watch.
    if held > 0 {
        let watch = ctx.settings.hold.map_or(ctx.left(), |h| h.min(ctx.left()));
        Timer::after(watch).await;
    }
    let still = progress.borrow().out;
    ctx.count("pings.held_to_the_end", still as u64);
    let at_end = ctx.mark("hold end");
    // Dropping the tasks hangs up every connection; the server must free the Pings.
    drop(tasks);
    if let (Some(start), Some(h), Some(e)) = (
        ctx.watch.as_ref().map(|w| w.borrow().first()),
        at_hold,
        at_end,
    ) {
        if held > 0 {
            out.figures.insert(
                "kb_per_held_ping".into(),
                (h.rss_kb as f64 - start.rss_kb as f64) / held as f64,
            );
        }
        out.figures
            .insert("rss_mb_with_pings_held".into(), h.rss_kb as f64 / 1024.0);
        let idle = (e.at_s - h.at_s).max(1e-3);
        out.figures.insert("idle_seconds".into(), idle);
        out.figures.insert(
            "idle_cpu_percent".into(),
            (e.cpu_s - h.cpu_s) / idle * 100.0,
        );
    }
    out.notes.push(format!(
        "heartbeat {} s; kb_per_held_ping = (VmRSS with the Pings held - VmRSS at start) / pings held, so it includes each device's login and FolderSync state",
        ctx.settings.ping_heartbeat()
    ));
    out
}
