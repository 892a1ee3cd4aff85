//! mixed: a day of a phone, compressed. Each device syncs its Inbox, then, until `--duration`
//! ends, holds a Ping on one connection while it thinks and then does one thing on another
//! connection — Sync, ItemOperations Fetch of a message it has, SendMail to a sink address, or
//! a mailbox Search — which ends the held Ping, as a phone's next request does. Commands the
//! server does not offer (OPTIONS) are left out of the mix and the report says so.

use super::session::{Failure, Phone, pick_folder, ping_folder, plain_text, within};
use super::{Ctx, Outcome};
use crate::ProtocolVersion;
use crate::eas::Command;
use crate::eas::ids::{CollectionId, ServerId, SyncKey};
use crate::eas::itemoperations::{
    FetchTarget, ItemOperationsRequest, ItemOperationsResponse, ItemOpsStatus, Operation,
    OperationResponse,
};
use crate::eas::ping::PingFolder;
use crate::eas::search::{
    MailboxQuery, Query, SearchRange, SearchRequest, SearchResponse, SearchStatus,
};
use crate::eas::sendmail::{ComposeCommand, ComposeRequest, ComposeResponse};
use crate::eas::sync::ServerCommand;
use smol::Timer;
use smol::lock::Semaphore;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Keeps the list of messages a device may fetch small.
const MAX_KNOWN: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Sync,
    Fetch,
    SendMail,
    Search,
}

impl Op {
    /// The mix's weights: mostly syncing and reading, some searching and sending.
    const WEIGHTS: [(Op, u64); 4] = [
        (Op::Sync, 4),
        (Op::Fetch, 3),
        (Op::SendMail, 1),
        (Op::Search, 1),
    ];

    fn command(self) -> Command {
        match self {
            Op::Sync => Command::Sync,
            Op::Fetch => Command::ItemOperations,
            Op::SendMail => Command::SendMail,
            Op::Search => Command::Search,
        }
    }
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

/// What a device knows of its folder, apart from its two connections.
struct State {
    coll: CollectionId,
    key: SyncKey,
    known: Vec<ServerId>,
    rng: Rng,
    sent: u64,
}

impl State {
    fn learn(&mut self, commands: &[ServerCommand]) {
        for c in commands {
            match c {
                ServerCommand::Add { server_id, .. } if self.known.len() < MAX_KNOWN => {
                    self.known.push(server_id.clone())
                }
                ServerCommand::Delete { server_id } => self.known.retain(|k| k != server_id),
                _ => {}
            }
        }
    }
}

async fn sync(ctx: &Ctx, work: &mut Phone, st: &mut State) {
    if let Ok(step) = work.sync(&st.coll, st.key, 50, None).await {
        st.key = step.key;
        ctx.tally.borrow_mut().items += step.commands.len() as u64;
        st.learn(&step.commands);
    }
}

async fn fetch(ctx: &Ctx, work: &mut Phone, st: &mut State) {
    let sid = st.known[st.rng.below(st.known.len() as u64) as usize].clone();
    let req = ItemOperationsRequest {
        operations: vec![Operation::Fetch {
            target: FetchTarget::Item {
                collection_id: st.coll.clone(),
                server_id: sid,
            },
            options: plain_text(ctx.settings.truncation),
            range: None,
        }],
    };
    let Ok(r) = work
        .call(
            Command::ItemOperations,
            &req.encode(),
            ItemOperationsResponse::parse,
        )
        .await
    else {
        return;
    };
    match r.responses.first() {
        Some(OperationResponse::Fetch {
            status: ItemOpsStatus::Success,
            ..
        }) => {}
        Some(OperationResponse::Fetch { status, .. }) => {
            work.fail("ItemOperations", &Failure::Status(format!("{status:?}")))
        }
        _ => work.fail(
            "ItemOperations",
            &Failure::Status(format!("{:?}", r.status)),
        ),
    }
}

async fn search(ctx: &Ctx, work: &mut Phone, st: &State) {
    let req = SearchRequest {
        query: Query::Mailbox(MailboxQuery {
            class: Some("Email".into()),
            collection_ids: vec![st.coll.clone()],
            free_text: ctx.settings.search_word.clone(),
            ..MailboxQuery::default()
        }),
        range: Some(SearchRange { first: 0, last: 9 }),
        deep_traversal: false,
        rebuild_results: false,
        item_options: plain_text(512),
        picture: None,
    };
    match work
        .call(Command::Search, &req.encode(), SearchResponse::parse)
        .await
    {
        Ok(r) if r.status == SearchStatus::Success => {
            ctx.count("search.results", r.results.len() as u64)
        }
        Ok(r) => work.fail("Search", &Failure::Status(format!("{:?}", r.status))),
        Err(_) => {}
    }
}

async fn send_mail(ctx: &Ctx, work: &mut Phone, st: &mut State) {
    st.sent += 1;
    let from = work.dev.user.clone();
    let to = ctx.settings.sink.clone().unwrap_or_else(|| from.clone());
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let client_id = format!("{}-{}-{stamp}", work.dev.device_id, st.sent);
    let mime = format!(
        "From: <{from}>\r\nTo: <{to}>\r\nSubject: easd bench {client_id}\r\nMessage-ID: <{client_id}@bench.invalid>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSent by easd bench's mixed scenario.\r\n"
    );
    let req = ComposeRequest {
        command: ComposeCommand::SendMail,
        client_id: Some(client_id),
        account_id: None,
        save_in_sent_items: false,
        replace_mime: false,
        source: None,
        mime: mime.into_bytes(),
        template_id: None,
        forwardees: Vec::new(),
        body: None,
    };
    let limit = work.timeout;
    let Ok(reply) = work
        .send(Command::SendMail, Some(&req.encode()), limit, true)
        .await
    else {
        return;
    };
    // Success is an empty 200; a body carries the failure's Status.
    if reply.body.is_empty() {
        ctx.count("sendmail.sent", 1);
        return;
    }
    let status = reply.tree().map_err(Failure::from).and_then(|t| {
        ComposeResponse::parse(ComposeCommand::SendMail, Some(&t)).map_err(Failure::from)
    });
    match status {
        Ok(r) => work.fail("SendMail", &Failure::Status(format!("{:?}", r.status))),
        Err(f) => work.fail("SendMail", &f),
    }
}

async fn act(ctx: &Ctx, op: Op, work: &mut Phone, st: &mut State) {
    match op {
        Op::Sync => sync(ctx, work, st).await,
        Op::Fetch => fetch(ctx, work, st).await,
        Op::SendMail => send_mail(ctx, work, st).await,
        Op::Search => search(ctx, work, st).await,
    }
}

async fn set_up(ctx: &Ctx, n: usize) -> Option<(Phone, State, PingFolder)> {
    let mut work = ctx.phone(n);
    let folders = work.folders().await.ok()?;
    let Some(folder) = pick_folder(&folders, ctx.settings.folder.as_deref()) else {
        work.fail("FolderSync", &Failure::Body("no such folder".into()));
        return None;
    };
    let coll = folder.server_id.clone();
    let ping = ping_folder(&coll)?;
    let options = Some(plain_text(ctx.settings.truncation));
    let primed = work
        .sync(&coll, SyncKey::Initial, 100, options.clone())
        .await
        .ok()?;
    let (key, commands) = work
        .drain(&coll, primed.key, 100, options, ctx.deadline)
        .await
        .ok()?;
    let mut st = State {
        coll,
        key,
        known: Vec::new(),
        rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (n as u64 + 1)),
        sent: 0,
    };
    st.learn(&commands);
    Some((work, st, ping))
}

fn choose(ops: &[(Op, u64)], rng: &mut Rng) -> Op {
    let total: u64 = ops.iter().map(|(_, w)| w).sum();
    let mut pick = rng.below(total);
    for (o, w) in ops {
        if pick < *w {
            return *o;
        }
        pick -= w;
    }
    Op::Sync
}

async fn device(ctx: Rc<Ctx>, n: usize, gate: Arc<Semaphore>, ops: Rc<Vec<(Op, u64)>>) {
    let set = {
        let _permit = gate.acquire().await;
        set_up(&ctx, n).await
    };
    let Some((mut work, mut st, folder)) = set else {
        return;
    };
    ctx.count("devices_live", 1);
    // The same device on a second connection, as a phone keeps its push channel apart.
    let mut push = ctx.phone(n);
    push.dev.policy_key = work.dev.policy_key;
    let heartbeat = ctx.settings.ping_heartbeat();
    let mean = ctx.settings.think.as_millis() as u64;
    while !ctx.left().is_zero() {
        let think = Duration::from_millis(mean / 2 + st.rng.below(mean.max(1)));
        let mut op = choose(&ops, &mut st.rng);
        if op == Op::Fetch && st.known.is_empty() {
            op = Op::Sync;
        }
        // The held Ping gets the think time, the request and a few seconds to be ended by it.
        let bound = think + work.timeout + Duration::from_secs(5);
        let ping = within(
            bound,
            push.ping(
                heartbeat,
                std::slice::from_ref(&folder),
                Duration::from_secs(30),
            ),
        );
        let doing = async {
            Timer::after(think.min(ctx.left())).await;
            act(&ctx, op, &mut work, &mut st).await;
        };
        let (answer, ()) = smol::future::zip(ping, doing).await;
        ctx.count(&format!("ops.{op:?}"), 1);
        match answer {
            Some(Ok(r)) => ctx.count(&format!("pings.status_{}", r.status as u32), 1),
            Some(Err(_)) => {}
            None => {
                push.dev.conn.close();
                ctx.count("pings.not_ended_by_the_next_request", 1);
            }
        }
        if push.dev.policy_key != work.dev.policy_key {
            push.dev.policy_key = work.dev.policy_key;
        }
    }
}

pub async fn run(ctx: Rc<Ctx>) -> Outcome {
    let mut out = Outcome::default();
    let offered = ctx.phone(0).offered_commands().await.unwrap_or_default();
    let mut ops = Vec::new();
    for (op, w) in Op::WEIGHTS {
        let name = op.command().name();
        if op == Op::SendMail && ctx.settings.version < ProtocolVersion::V14_0 {
            out.notes
                .push("SendMail left out: before 14.0 it is sent as raw MIME, which the bench does not do".into());
        } else if !offered.is_empty() && !offered.iter().any(|c| c == name) {
            out.notes.push(format!(
                "{name} left out of the mix: the server does not offer it (OPTIONS MS-ASProtocolCommands)"
            ));
        } else {
            ops.push((op, w));
        }
    }
    let ops = Rc::new(ops);
    let gate = Arc::new(Semaphore::new(ctx.settings.concurrency.max(1)));
    let tasks: Vec<_> = (0..ctx.settings.devices)
        .map(|n| {
            ctx.ex
                .spawn(device(ctx.clone(), n, gate.clone(), ops.clone()))
        })
        .collect();
    for t in tasks {
        t.await;
    }
    out
}
