//! Soak: 500 simulated devices (25 on each of 20 accounts, each on its own keep-alive connection)
//! mix Sync, ItemOperations, GetItemEstimate, Ping and SendMail (to another account, delivered
//! locally) while mail keeps arriving from outside. The
//! server's VmRSS and open descriptors are sampled throughout: after warm-up both must stay flat,
//! and no request may fail.
//!
//! CI runs 2 minutes. The 30-minute run is ignored by default:
//! `EASD_CORPUS=../shared/corpus cargo test --test soak -- --ignored --nocapture`

mod common;
mod mail_common;

use common::{Options, Server};
use easd::client::Device;
use easd::eas::Command;
use easd::eas::getitemestimate::{
    EstimateCollection, EstimateStatus, GetItemEstimateRequest, GetItemEstimateResponse,
};
use easd::eas::ids::ServerId;
use easd::eas::itemoperations::{
    FetchTarget, ItemOperationsRequest, ItemOperationsResponse, ItemOpsStatus, Operation,
    OperationResponse,
};
use easd::eas::ping::{PingFolder, PingRequest, PingStatus};
use easd::eas::sendmail::{ComposeCommand, ComposeRequest};
use easd::eas::sync::{ServerCommand, SyncStatus};
use mail_common::*;
use smol::Timer;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

const USERS: usize = 20;
const DEVICES_PER_USER: usize = 25;

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: Vec<String>,
    devices_done: usize,
}

/// A cheap per-device random source (xorshift), seeded by the device number.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn user(n: usize) -> String {
    format!("user{n:02}@example.com")
}

fn proc_figures(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

/// One device's life: FolderSync, prime, then a random mix until `end`.
async fn device(
    server_target: easd::client::Target,
    n: usize,
    end: Instant,
    tally: Rc<RefCell<Tally>>,
) {
    let mut phone = Device::new(
        server_target,
        &user(n % USERS),
        common::PASSWORD,
        &format!("soak{n:03}"),
    );
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (n as u64 + 1));
    let fail = |what: String| {
        let mut t = tally.borrow_mut();
        if t.errors.len() < 20 {
            t.errors.push(what);
        } else {
            t.errors.push(String::new());
        }
    };
    // The first device of each account logs in at once, the others over the next seconds, as
    // phones coming online would (and then find the password in the verified cache).
    if n >= USERS {
        Timer::after(Duration::from_millis(2000 + rng.below(8000))).await;
    }
    let (inbox, _) = inbox_id(&mut phone).await;
    let mut key = prime(&mut phone, &inbox).await;
    let mut held: Vec<ServerId> = Vec::new();
    while Instant::now() < end {
        tally.borrow_mut().requests += 1;
        match rng.below(6) {
            0 | 1 => match phone.sync(&sync_req(&inbox, key, 50)).await {
                Ok(None) => {}
                Ok(Some(r)) => {
                    let c = &r.collections[0];
                    if c.status != SyncStatus::Success {
                        fail(format!("device {n}: Sync status {:?}", c.status));
                    } else if let Some(k) = c.sync_key {
                        key = k;
                        for cmd in &c.commands {
                            match cmd {
                                ServerCommand::Add { server_id, .. } => {
                                    held.push(server_id.clone())
                                }
                                ServerCommand::Delete { server_id } => {
                                    held.retain(|h| h != server_id)
                                }
                                ServerCommand::Change { .. } => {}
                            }
                        }
                    }
                }
                Err(e) => fail(format!("device {n}: Sync: {e}")),
            },
            2 if !held.is_empty() => {
                let sid = held[rng.below(held.len() as u64) as usize].clone();
                let req = ItemOperationsRequest {
                    operations: vec![Operation::Fetch {
                        target: FetchTarget::Item {
                            collection_id: inbox.clone(),
                            server_id: sid,
                        },
                        options: plain_options(),
                        range: None,
                    }],
                }
                .encode();
                match phone
                    .call_typed(Command::ItemOperations, &req, ItemOperationsResponse::parse)
                    .await
                {
                    Ok(r) => match &r.responses[..] {
                        [
                            OperationResponse::Fetch {
                                status: ItemOpsStatus::Success,
                                ..
                            },
                        ] => {}
                        other => fail(format!("device {n}: ItemOperations {other:?}")),
                    },
                    Err(e) => fail(format!("device {n}: ItemOperations: {e}")),
                }
            }
            // Held until the next delivery to this account (one every 4 s on average) or the
            // heartbeat's end.
            4 => {
                let req = PingRequest {
                    heartbeat: Some(60),
                    folders: Some(vec![PingFolder {
                        id: inbox.as_str().try_into().unwrap(),
                        class: "Email".try_into().unwrap(),
                    }]),
                };
                match phone.ping(&req).await {
                    Ok(r) if matches!(r.status, PingStatus::Changes | PingStatus::Expired) => {}
                    Ok(r) => fail(format!("device {n}: Ping {r:?}")),
                    Err(e) => fail(format!("device {n}: Ping: {e}")),
                }
            }
            5 => {
                let to = user((n + 1) % USERS);
                let client_id = format!("soak{n}-{}", tally.borrow().requests);
                let req = ComposeRequest {
                    command: ComposeCommand::SendMail,
                    client_id: Some(client_id.clone()),
                    account_id: None,
                    save_in_sent_items: rng.below(2) == 0,
                    replace_mime: false,
                    source: None,
                    mime: format!(
                        "From: <{}>\r\nTo: <{to}>\r\nSubject: soak {client_id}\r\n\r\nHello.\r\n",
                        user(n % USERS)
                    )
                    .into_bytes(),
                    template_id: None,
                    forwardees: Vec::new(),
                    body: None,
                };
                match phone.compose(&req).await {
                    Ok(r) if r.status.is_none() => {}
                    Ok(r) => fail(format!("device {n}: SendMail {:?}", r.status)),
                    Err(e) => fail(format!("device {n}: SendMail: {e}")),
                }
            }
            _ => {
                let req = GetItemEstimateRequest {
                    collections: vec![EstimateCollection {
                        sync_key: key,
                        collection_id: inbox.clone(),
                        options: None,
                    }],
                }
                .encode();
                match phone
                    .call_typed(
                        Command::GetItemEstimate,
                        &req,
                        GetItemEstimateResponse::parse,
                    )
                    .await
                {
                    Ok(r) if r.responses[0].status == EstimateStatus::Success => {}
                    Ok(r) => fail(format!("device {n}: GetItemEstimate {:?}", r.responses)),
                    Err(e) => fail(format!("device {n}: GetItemEstimate: {e}")),
                }
            }
        }
        // Think time: 500 devices at 3–8 s each is about 90 requests a second.
        Timer::after(Duration::from_millis(3000 + rng.below(5000))).await;
    }
    tally.borrow_mut().devices_done += 1;
}

fn soak(duration: Duration) {
    let users: Vec<String> = (0..USERS).map(user).collect();
    let server = Server::start_with(Options {
        users: users.clone(),
        ..Default::default()
    });
    for (u, name) in users.iter().enumerate() {
        let root = server.maildir(name);
        make_maildir(&root);
        for i in 0..30 {
            put_message(&root, "", i, &format!("Soak{u}-{i}"), "S");
        }
    }
    let pid = server.child.id();
    let target = server.target();
    let start = Instant::now();
    let end = start + duration;
    let tally = Rc::new(RefCell::new(Tally::default()));
    let samples: Rc<RefCell<Vec<(Duration, u64, usize)>>> = Rc::default();
    let ex = smol::LocalExecutor::new();
    let mut tasks = Vec::new();
    for n in 0..USERS * DEVICES_PER_USER {
        tasks.push(ex.spawn(device(target.clone(), n, end, tally.clone())));
    }
    // Mail from outside: one message to a random account every 200 ms.
    let roots: Vec<_> = users.iter().map(|u| server.maildir(u)).collect();
    tasks.push(ex.spawn(async move {
        let mut i = 0u32;
        while Instant::now() < end {
            let root = &roots[i as usize % roots.len()];
            let name = format!("{}.S{i}P1.soak,S=100", 1_760_000_000 + i);
            std::fs::write(root.join("tmp").join(&name), message(5000 + i, "Fresh", "")).unwrap();
            std::fs::rename(root.join("tmp").join(&name), root.join("new").join(&name)).unwrap();
            i += 1;
            Timer::after(Duration::from_millis(200)).await;
        }
    }));
    let sampler = samples.clone();
    tasks.push(ex.spawn(async move {
        while Instant::now() < end {
            let (rss, fds) = proc_figures(pid);
            sampler.borrow_mut().push((start.elapsed(), rss, fds));
            Timer::after(Duration::from_secs(5)).await;
        }
    }));
    smol::block_on(ex.run(async {
        for t in tasks {
            t.await;
        }
    }));
    let (rss_end, fds_end) = proc_figures(pid);
    let samples = samples.borrow();
    let tally = tally.borrow();
    eprintln!(
        "soak: {} devices, {:?}, {} requests, {} errors",
        USERS * DEVICES_PER_USER,
        duration,
        tally.requests,
        tally.errors.len()
    );
    eprintln!("soak: t(s)  VmRSS(kB)  fds");
    for (t, rss, fds) in samples.iter() {
        eprintln!("soak: {:>5}  {rss:>9}  {fds:>4}", t.as_secs());
    }
    eprintln!("soak:   end  {rss_end:>9}  {fds_end:>4}");
    assert!(tally.errors.is_empty(), "{:?}", tally.errors);
    assert_eq!(tally.devices_done, USERS * DEVICES_PER_USER);
    // Flat after warm-up (all devices logged in and primed, caches filled): the first sample
    // after a quarter of the run is the reference.
    let warm = samples
        .iter()
        .find(|(t, _, _)| *t >= duration / 4)
        .copied()
        .unwrap();
    let peak_rss = samples.iter().map(|s| s.1).max().unwrap().max(rss_end);
    assert!(
        peak_rss <= warm.1 + warm.1 / 5 + 16 * 1024,
        "VmRSS grew from {} kB (at {:?}) to {peak_rss} kB",
        warm.1,
        warm.0
    );
    assert!(
        fds_end <= warm.2 + 10,
        "fds grew from {} to {fds_end}",
        warm.2
    );
}

#[test]
fn soak_500_devices_two_minutes() {
    soak(Duration::from_secs(120));
}

#[test]
#[ignore = "30 minutes; run with --ignored"]
fn soak_500_devices_thirty_minutes() {
    soak(Duration::from_secs(1800));
}
