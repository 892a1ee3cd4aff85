//! `easd bench` end to end: the real binary plays a few phones against a real easd on loopback,
//! and its JSON report must count exactly what happened (messages delivered, Pings the server
//! says it holds, push rounds, failed logins).

mod common;
mod mail_common;

use common::{Options, PASSWORD, Server};
use mail_common::{USER, make_maildir, message, put_message};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BOB: &str = "bob@example.com";

fn bench_cmd(server: &Server, scenario: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_easd"));
    cmd.args(["bench", scenario, "--url"])
        .arg(format!("http://{}", server.addr))
        .args(["--json", "--device-prefix", scenario])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn report(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "easd bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn bench(server: &Server, scenario: &str, extra: &[&str]) -> Value {
    report(bench_cmd(server, scenario, extra).spawn().unwrap())
}

fn count(r: &Value, key: &str) -> u64 {
    r["counts"][key].as_u64().unwrap_or(0)
}

fn no_errors(r: &Value) {
    assert_eq!(r["error_total"], 0, "errors: {}", r["errors"]);
}

fn udp_addr(server: &Server) -> String {
    let config = std::fs::read_to_string(&server.config_path).unwrap();
    let line = config
        .lines()
        .find(|l| l.starts_with("udp_listen"))
        .unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

fn held_pings(server: &Server) -> usize {
    let mut conn = easd::client::Connection::new(server.target());
    let r = common::run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let n = text.split("\"held_pings\":").nth(1).unwrap();
    n.trim_end_matches('}').parse().unwrap()
}

fn wait_held(server: &Server, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while held_pings(server) != n {
        assert!(Instant::now() < deadline, "held pings never reached {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mail_in_new(maildir: &Path) -> usize {
    std::fs::read_dir(maildir.join("new")).unwrap().count()
}

#[test]
fn initial_sync_reports_exactly_the_messages_delivered() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..230 {
        put_message(&root, "", i, &format!("Initial {i}"), "S");
    }
    let pid = server.child.id().to_string();
    let r = bench(
        &server,
        "initial-sync",
        &[
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--devices",
            "3",
            "--server-pid",
            &pid,
        ],
    );
    no_errors(&r);
    assert_eq!(r["items"], 3 * 230);
    assert_eq!(count(&r, "devices_done"), 3);
    // Priming, then 100 + 100 + 30 with WindowSize 100: four Syncs per device, each timed.
    assert_eq!(count(&r, "requests.Sync"), 3 * 4);
    assert_eq!(r["latency_ms"]["Sync"]["count"], 3 * 4);
    assert!(r["items_per_s"].as_f64().unwrap() > 0.0);
    let p50 = r["latency_ms"]["Sync"]["p50_ms"].as_f64().unwrap();
    let p99 = r["latency_ms"]["Sync"]["p99_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= p99, "{}", r["latency_ms"]);
    let s = &r["server"];
    assert_eq!(s["pid"].as_u64().unwrap().to_string(), pid);
    assert!(s["last"]["rss_kb"].as_u64().unwrap() > 1000);
    assert!(s["last"]["hwm_kb"].as_u64() >= s["last"]["rss_kb"].as_u64());
    assert!(
        s["cpu_s"].as_f64().unwrap() > 0.0,
        "the server did work: {s}"
    );
}

#[test]
fn a_wrong_password_is_counted_by_kind() {
    let server = Server::start();
    make_maildir(&server.maildir(USER));
    let r = bench(
        &server,
        "initial-sync",
        &["--user", USER, "--password", "not it", "--devices", "2"],
    );
    assert_eq!(r["errors"]["FolderSync: HTTP 401"], 2, "{}", r["errors"]);
    assert_eq!(r["error_total"], 2);
    assert_eq!(r["items"], 0);
    assert_eq!(count(&r, "devices_done"), 0);
}

#[test]
fn ping_hold_holds_every_ping_and_the_server_frees_them_after() {
    let server = Server::start_with(Options {
        users: vec![USER.into(), BOB.into()],
        ..Default::default()
    });
    for u in [USER, BOB] {
        make_maildir(&server.maildir(u));
    }
    let users = server.dir.path().join("users.txt");
    std::fs::write(&users, format!("{USER}\n# a comment\n{BOB} {PASSWORD}\n")).unwrap();
    let pid = server.child.id().to_string();
    let child = bench_cmd(
        &server,
        "ping-hold",
        &[
            "--users-file",
            users.to_str().unwrap(),
            "--password",
            PASSWORD,
            "--devices",
            "6",
            "--duration",
            "8",
            "--server-pid",
            &pid,
        ],
    )
    .spawn()
    .unwrap();
    // The server's own count: all six are held at once while the bench runs.
    wait_held(&server, 6);
    let r = report(child);
    no_errors(&r);
    assert_eq!(r["users"], 2);
    assert_eq!(count(&r, "pings.held"), 6);
    assert_eq!(count(&r, "pings.held_to_the_end"), 6);
    assert_eq!(count(&r, "requests.Ping"), 6);
    let f = &r["figures"];
    assert!(f["kb_per_held_ping"].as_f64().is_some(), "{f}");
    assert!(f["idle_seconds"].as_f64().unwrap() > 1.0, "{f}");
    assert!(f["idle_cpu_percent"].as_f64().is_some(), "{f}");
    let marks: Vec<&str> = r["server"]["marks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(marks, ["start", "pings held", "hold end", "end"]);
    // The bench hung up: nothing is left held.
    wait_held(&server, 0);
}

#[test]
fn push_latency_measures_every_round_of_easd_deliver() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    put_message(&root, "", 1, "Already there", "S");
    let msg = server.dir.path().join("push.eml");
    std::fs::write(&msg, message(50, "Pushed", "")).unwrap();
    let trigger = format!(
        "'{}' deliver --config '{}' {USER} < '{}'",
        env!("CARGO_BIN_EXE_easd"),
        server.config_path.display(),
        msg.display()
    );
    let r = bench(
        &server,
        "push-latency",
        &[
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--devices",
            "2",
            "--rounds",
            "3",
            "--duration",
            "60",
            "--trigger",
            &trigger,
        ],
    );
    no_errors(&r);
    assert_eq!(count(&r, "rounds"), 3);
    assert_eq!(count(&r, "devices_live"), 2);
    // Every device woke in every round, and each wake-up was timed.
    assert_eq!(r["latency_ms"]["push_wake"]["count"], 2 * 3);
    assert_eq!(count(&r, "pings.woken_outside_a_round"), 0);
    assert!(r["latency_ms"]["push_wake"]["p99_ms"].as_f64().unwrap() < 10_000.0);
    assert_eq!(mail_in_new(&root), 3, "one delivery per round");
}

#[test]
fn push_latency_times_each_users_datagram() {
    let server = Server::start_with(Options {
        users: vec![USER.into(), BOB.into()],
        ..Default::default()
    });
    for u in [USER, BOB] {
        make_maildir(&server.maildir(u));
    }
    // The change is made untimed (a file dropped into new/ without a notification); the
    // datagram the bench sends per user is what wakes the Pings.
    let drop_mail = format!(
        "for u in {USER} {BOB}; do d='{}'/$u; printf 'Subject: r%s\\r\\n\\r\\nx\\r\\n' $EASD_BENCH_ROUND > $d/tmp/r$EASD_BENCH_ROUND && mv $d/tmp/r$EASD_BENCH_ROUND $d/new/$EASD_BENCH_ROUND.bench; done",
        server.data_dir().join("mail").display()
    );
    let users = server.dir.path().join("users.txt");
    std::fs::write(&users, format!("{USER} {PASSWORD}\n{BOB} {PASSWORD}\n")).unwrap();
    let r = bench(
        &server,
        "push-latency",
        &[
            "--users-file",
            users.to_str().unwrap(),
            "--devices",
            "4",
            "--rounds",
            "2",
            "--prepare",
            &drop_mail,
            "--notify",
            &udp_addr(&server),
            // Paced: the second user's datagram 50 ms after the first's, each timed from its own.
            "--notify-rate",
            "20",
        ],
    );
    no_errors(&r);
    assert_eq!(count(&r, "rounds"), 2);
    assert_eq!(r["latency_ms"]["push_wake"]["count"], 4 * 2);
    // What the bench itself cost while the devices were being woken, to tell whether it or the
    // server set the pace.
    assert!(r["figures"]["waking_wall_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["figures"]["waking_bench_cpu_percent"].as_f64().unwrap() >= 0.0);
    assert!(
        r["notes"].to_string().contains("datagram"),
        "{}",
        r["notes"]
    );
    for u in [USER, BOB] {
        assert_eq!(mail_in_new(&server.maildir(u)), 2);
    }
}

#[test]
fn mixed_runs_every_offered_command_without_errors() {
    let server = Server::start();
    let root = server.maildir(USER);
    make_maildir(&root);
    for i in 0..40 {
        put_message(&root, "", i, &format!("Weekly meeting {i}"), "S");
    }
    let r = bench(
        &server,
        "mixed",
        &[
            "--user",
            USER,
            "--password",
            PASSWORD,
            "--devices",
            "3",
            "--duration",
            "6",
            "--think-ms",
            "200",
            "--search",
            "meeting",
        ],
    );
    no_errors(&r);
    assert_eq!(count(&r, "devices_live"), 3);
    let ops: u64 = ["Sync", "Fetch", "Search", "SendMail"]
        .iter()
        .map(|o| count(&r, &format!("ops.{o}")))
        .sum();
    assert!(ops >= 6, "{}", r["counts"]);
    assert!(count(&r, "ops.Sync") > 0 && count(&r, "ops.Fetch") > 0);
    assert_eq!(count(&r, "ops.Fetch"), count(&r, "requests.ItemOperations"));
    // Every Ping ended with Status 1 (the device's next request) or 2 (a message another of
    // the user's devices sent to the user's own address).
    assert_eq!(
        count(&r, "requests.Ping"),
        count(&r, "pings.status_1") + count(&r, "pings.status_2")
    );
    assert_eq!(count(&r, "ops.SendMail"), count(&r, "sendmail.sent"));
    assert_eq!(count(&r, "pings.not_ended_by_the_next_request"), 0);
    if count(&r, "ops.Search") > 0 {
        assert!(count(&r, "search.results") > 0, "{}", r["counts"]);
    }
    // What OPTIONS does not offer is left out, and said so.
    let offered = common::run(server.device(USER, "opts").options()).unwrap();
    let commands = offered.header("MS-ASProtocolCommands").unwrap().to_string();
    let notes = r["notes"].to_string();
    for c in ["SendMail", "Search", "ItemOperations"] {
        assert_eq!(
            notes.contains(&format!("{c} left out")),
            !commands.split(',').any(|x| x == c),
            "{notes} / {commands}"
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let server = Server::start();
    for args in [
        vec!["--user", USER, "--password", PASSWORD],
        vec!["--user", USER],
        vec!["--user", USER, "--password", PASSWORD, "--devices", "x"],
    ] {
        let out = bench_cmd(&server, "push-latency", &args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let out = bench_cmd(
        &server,
        "no-such-scenario",
        &["--user", USER, "--password", "p"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
