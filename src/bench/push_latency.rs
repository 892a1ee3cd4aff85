//! push-latency: every device syncs its Inbox to the end and holds a Ping on it. Each round, once
//! every live device's Ping has been out for a moment, `--prepare` runs (untimed), then the change
//! is announced: `--trigger` runs and each device's time to Ping Status 2 counts from its start,
//! or with `--notify` the bench sends each user's datagram itself and the time counts from that
//! user's datagram. A woken device syncs the change and Pings again, as a phone does.
//!
//! The datagrams go out from a thread of their own, as fast as it can send them (or at
//! `--notify-rate` a second), while the devices read their answers: sent from the devices'
//! thread, the whole burst went out before any answer was read, and the first answers were timed
//! late by the rest of the loop.

use super::session::{Failure, Phone, pick_folder, ping_folder, plain_text, within};
use super::{Ctx, Outcome, shell};
use crate::eas::ids::{CollectionId, SyncKey};
use crate::eas::ping::{PingFolder, PingStatus};
use crate::push::datagram::{Notification, Scope};
use crate::push::udp::Notifier;
use smol::Timer;
use smol::lock::Semaphore;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a Ping must have been out before the round may begin.
const SETTLE: Duration = Duration::from_millis(300);

#[derive(Default)]
struct Shared {
    round: u32,
    /// When the round's change was announced for everyone (trigger).
    announced: Option<Instant>,
    /// Per device: since when its Ping is out.
    pinging: Vec<Option<Instant>>,
    /// Per device: the last round it was woken in.
    woken: Vec<u32>,
    live: Vec<bool>,
    ready: usize,
}

struct Device {
    n: usize,
    phone: Phone,
    coll: CollectionId,
    folder: PingFolder,
    key: SyncKey,
}

async fn set_up(ctx: &Ctx, n: usize) -> Option<Device> {
    let mut phone = ctx.phone(n);
    let folders = phone.folders().await.ok()?;
    let Some(folder) = pick_folder(&folders, ctx.settings.folder.as_deref()) else {
        phone.fail("FolderSync", &Failure::Body("no such folder".into()));
        return None;
    };
    let coll = folder.server_id.clone();
    let ping = ping_folder(&coll)?;
    let options = Some(plain_text(512));
    let primed = phone
        .sync(&coll, SyncKey::Initial, 100, options.clone())
        .await
        .ok()?;
    let (key, _) = phone
        .drain(&coll, primed.key, 100, options, ctx.deadline)
        .await
        .ok()?;
    Some(Device {
        n,
        phone,
        coll,
        folder: ping,
        key,
    })
}

/// When each user's datagram of this round went out, written by the sending thread.
type SentAt = Arc<Mutex<HashMap<String, Instant>>>;

fn sent_at(sent: &SentAt, user: &str) -> Option<Instant> {
    sent.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(user)
        .copied()
}

async fn device(
    ctx: Rc<Ctx>,
    n: usize,
    gate: Arc<Semaphore>,
    shared: Rc<RefCell<Shared>>,
    sent: SentAt,
) {
    let dev = {
        let _permit = gate.acquire().await;
        set_up(&ctx, n).await
    };
    shared.borrow_mut().ready += 1;
    let Some(mut dev) = dev else {
        return;
    };
    shared.borrow_mut().live[n] = true;
    let heartbeat = ctx.settings.ping_heartbeat();
    let user = dev.phone.dev.user.clone();
    while !ctx.left().is_zero() {
        shared.borrow_mut().pinging[dev.n] = Some(Instant::now());
        let answer = within(
            ctx.left(),
            dev.phone.ping(
                heartbeat,
                std::slice::from_ref(&dev.folder),
                Duration::from_secs(30),
            ),
        )
        .await;
        let now = Instant::now();
        shared.borrow_mut().pinging[dev.n] = None;
        let answer = match answer {
            None => return,
            Some(Ok(a)) => a,
            Some(Err(_)) => {
                // Counted already; a phone waits a little before it tries again.
                Timer::after(Duration::from_secs(1)).await;
                continue;
            }
        };
        ctx.count(&format!("pings.status_{}", answer.status as u32), 1);
        match answer.status {
            PingStatus::Changes => {
                // This round's wake-up for this device, if it is one.
                let since = {
                    let mut s = shared.borrow_mut();
                    let since = sent_at(&sent, &user).or(s.announced);
                    let fresh = s.woken[dev.n] < s.round;
                    if fresh && since.is_some() {
                        s.woken[dev.n] = s.round;
                    }
                    since.filter(|_| fresh)
                };
                match since {
                    Some(t) => ctx
                        .tally
                        .borrow_mut()
                        .latencies
                        .record("push_wake", now - t),
                    None => ctx.count("pings.woken_outside_a_round", 1),
                }
                match dev
                    .phone
                    .drain(&dev.coll, dev.key, 100, None, ctx.deadline)
                    .await
                {
                    Ok((k, cmds)) => {
                        dev.key = k;
                        ctx.tally.borrow_mut().items += cmds.len() as u64;
                    }
                    Err(_) => {
                        Timer::after(Duration::from_secs(1)).await;
                    }
                }
            }
            PingStatus::Expired => {}
            other => {
                dev.phone
                    .fail("Ping", &Failure::Status(format!("{other:?}")));
                Timer::after(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Waits until every live device's Ping has been out for SETTLE (or `limit` passes).
async fn all_held(shared: &RefCell<Shared>, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        let ok = {
            let s = shared.borrow();
            (0..s.live.len())
                .filter(|&i| s.live[i])
                .all(|i| s.pinging[i].is_some_and(|t| t.elapsed() >= SETTLE))
        };
        if ok {
            return true;
        }
        Timer::after(Duration::from_millis(20)).await;
    }
    false
}

/// Sends one datagram per user from a new thread, recording when each went out; the thread's
/// result is an error message if a send failed.
fn announce_by_datagram(
    ctx: &Ctx,
    sent: &SentAt,
) -> Option<std::thread::JoinHandle<Result<(), String>>> {
    let notify = ctx.settings.notify.clone()?;
    let mut users: Vec<String> = ctx
        .settings
        .accounts
        .iter()
        .take(ctx.settings.devices)
        .map(|a| a.user.clone())
        .collect();
    users.sort_unstable();
    users.dedup();
    let sent = sent.clone();
    Some(std::thread::spawn(move || {
        let failed = |e: std::io::Error| format!("datagram to {}: {e}", notify.addr);
        // One socket for the burst: between two users' datagrams there is only the send.
        let notifier = Notifier::new(notify.addr).map_err(failed)?;
        let start = Instant::now();
        for (k, user) in users.into_iter().enumerate() {
            if let Some(rate) = notify.rate {
                let due = start + Duration::from_secs_f64(k as f64 / f64::from(rate));
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            let note = Notification {
                email: user.clone(),
                scope: Scope::Folder("INBOX".into()),
            };
            let at = Instant::now();
            sent.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(user, at);
            notifier
                .send(&note, notify.secret.as_deref())
                .map_err(failed)?;
        }
        Ok(())
    }))
}

/// CPU time of the bench itself and of the server while a round's devices are being woken (from
/// the first announcement to the last Ping Status 2): a bench near 100 % of a core would be
/// timing itself rather than the server.
struct Busy {
    server_pid: Option<u32>,
    wall: Duration,
    bench_s: f64,
    server_s: f64,
}

impl Busy {
    fn new(server_pid: Option<u32>) -> Busy {
        Busy {
            server_pid,
            wall: Duration::ZERO,
            bench_s: 0.0,
            server_s: 0.0,
        }
    }

    /// CPU seconds so far of the bench and (when known) of the server.
    fn read(&self) -> Option<(f64, Option<f64>)> {
        let since = Instant::now();
        let bench = super::procfs::snapshot(std::process::id(), since).ok()?;
        let server = self
            .server_pid
            .and_then(|pid| super::procfs::snapshot(pid, since).ok());
        Some((bench.cpu_s, server.map(|s| s.cpu_s)))
    }

    /// Adds one fully woken round that began at `before` and took `wall`.
    fn add(&mut self, before: Option<(f64, Option<f64>)>, wall: Duration) {
        let (Some((bench0, server0)), Some((bench1, server1))) = (before, self.read()) else {
            return;
        };
        self.wall += wall;
        self.bench_s += bench1 - bench0;
        if let (Some(a), Some(b)) = (server0, server1) {
            self.server_s += b - a;
        }
    }

    fn report(&self, out: &mut Outcome) {
        let wall = self.wall.as_secs_f64();
        if wall <= 0.0 {
            return;
        }
        out.figures.insert("waking_wall_s".into(), wall);
        out.figures.insert(
            "waking_bench_cpu_percent".into(),
            self.bench_s / wall * 100.0,
        );
        if self.server_pid.is_some() {
            out.figures.insert(
                "waking_server_cpu_percent".into(),
                self.server_s / wall * 100.0,
            );
        }
    }
}

pub async fn run(ctx: Rc<Ctx>) -> Outcome {
    let mut out = Outcome::default();
    let s = &ctx.settings;
    if s.trigger.is_none() && s.notify.is_none() {
        out.notes
            .push("push-latency needs --trigger CMD or --notify ADDR: nothing measured".into());
        return out;
    }
    let shared = Rc::new(RefCell::new(Shared {
        pinging: vec![None; s.devices],
        woken: vec![0; s.devices],
        live: vec![false; s.devices],
        ..Shared::default()
    }));
    let gate = Arc::new(Semaphore::new(s.concurrency.max(1)));
    let sent = SentAt::default();
    let mut busy = Busy::new(s.server_pid);
    let tasks: Vec<_> = (0..s.devices)
        .map(|n| {
            let dev = device(ctx.clone(), n, gate.clone(), shared.clone(), sent.clone());
            ctx.ex.spawn(dev)
        })
        .collect();
    while shared.borrow().ready < s.devices && !ctx.left().is_zero() {
        Timer::after(Duration::from_millis(50)).await;
    }
    let live = shared.borrow().live.iter().filter(|l| **l).count();
    ctx.count("devices_live", live as u64);
    ctx.mark("devices ready");
    for round in 1..=s.rounds {
        if ctx.left() < s.round_timeout {
            out.notes
                .push(format!("--duration ended the run before round {round}"));
            break;
        }
        if !all_held(&shared, s.round_timeout).await {
            ctx.tally
                .borrow_mut()
                .error("push: Pings not all held before the round".into());
        }
        if let Some(cmd) = &s.prepare
            && let Err(e) = shell(cmd, round).await
        {
            ctx.tally.borrow_mut().error(format!("prepare: {e}"));
        }
        {
            let mut sh = shared.borrow_mut();
            sh.round = round;
            sh.announced = None;
        }
        sent.lock().unwrap_or_else(PoisonError::into_inner).clear();
        let cpu_before = busy.read();
        let began = Instant::now();
        if let Some(cmd) = &s.trigger {
            shared.borrow_mut().announced = Some(began);
            if let Err(e) = shell(cmd, round).await {
                ctx.tally.borrow_mut().error(format!("trigger: {e}"));
            }
        }
        let sender = announce_by_datagram(&ctx, &sent);
        ctx.count("rounds", 1);
        let deadline = began + s.round_timeout;
        loop {
            let missing = {
                let sh = shared.borrow();
                (0..sh.live.len())
                    .filter(|&i| sh.live[i] && sh.woken[i] < round)
                    .count()
            };
            if missing == 0 {
                busy.add(cpu_before, began.elapsed());
                break;
            }
            if Instant::now() >= deadline {
                let mut t = ctx.tally.borrow_mut();
                for _ in 0..missing {
                    t.error(format!(
                        "push: not woken within {} s",
                        s.round_timeout.as_secs_f64()
                    ));
                }
                break;
            }
            Timer::after(Duration::from_millis(5)).await;
        }
        // The thread sent its burst long before the round ended (or gave up on an error).
        let sent_all = sender.map(|t| {
            t.join()
                .unwrap_or_else(|_| Err("the sender panicked".into()))
        });
        if let Some(Err(e)) = sent_all {
            ctx.tally.borrow_mut().error(format!("notify: {e}"));
        }
        ctx.mark(&format!("round {round}"));
    }
    drop(tasks);
    busy.report(&mut out);
    out.notes.push(match &s.notify {
        Some(n) => format!(
            "wake = from each user's datagram to {} to its devices' Ping Status 2",
            n.addr
        ),
        None => "wake = from the start of --trigger to each device's Ping Status 2".into(),
    });
    out
}
