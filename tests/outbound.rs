//! Outbound mail against a real SMTP server: tests/smtp_sink.py (aiosmtpd) on loopback, started
//! per test. Needs python3 with aiosmtpd (`pip install aiosmtpd`) and, for the TLS tests,
//! openssl; a missing tool fails the test with what to install.

mod common;

use common::sink::Sink;
use easd::outbound::{
    Outbound, Pending, Permanent, Queue, SendError, SmtpConfig, SmtpError, Transient, prepare,
    submit,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A loopback smarthost config; `extra` adds keys or overrides `tls` and `retry_secs`.
fn config(port: u16, extra: &str) -> SmtpConfig {
    let mut text = format!(
        "host = \"127.0.0.1\"\nport = {port}\ntimeout_secs = 10\nmax_age_hours = 1\n{extra}\n"
    );
    if !extra.contains("tls =") {
        text.push_str("tls = \"none\"\n");
    }
    if !extra.contains("retry_secs") {
        text.push_str("retry_secs = [60]\n");
    }
    toml::from_str(&text).unwrap()
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A self-signed certificate for 127.0.0.1 and its key.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("openssl is needed to make a test certificate: {e}"));
    assert!(status.success(), "openssl req failed");
    (cert, key)
}

const SENDER: &str = "me@example.org";

/// Collects bounces handed to the callback.
#[derive(Default)]
struct Bounces(Mutex<Vec<(String, String)>>);

impl Bounces {
    fn take(&self, sender: &str, bounce: Vec<u8>) {
        let text = String::from_utf8(bounce).unwrap();
        self.0.lock().unwrap().push((sender.to_string(), text));
    }
    fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

fn no_bounce(_: &str, _: Vec<u8>) {
    panic!("unexpected bounce");
}

fn later(secs: u64) -> SystemTime {
    SystemTime::now() + Duration::from_secs(secs)
}

#[test]
fn envelope_and_bytes_arrive_exactly_without_bcc() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let out = Outbound::new(Some(config(sink.port, "")), data.path(), "box.example.org").unwrap();
    let raw = "From: Me <me@example.org>\r\nTo: Ann <ann@example.net>, colleague@example.org\r\n\
               Cc: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.net>\r\nBcc: secret@example.net,\r\n \
               other-secret@example.net\r\nSubject: dots\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
               Message-ID: <dots@device>\r\n\r\n.leading dot\r\n.\r\n..two\r\nmiddle . dot\r\nlast line\r\n";
    let outcome =
        smol::block_on(out.send(SENDER, raw.as_bytes(), |r| r.ends_with("@example.org"))).unwrap();
    assert_eq!(outcome.local, ["colleague@example.org"]);
    assert_eq!(
        outcome.sent,
        [
            "ann@example.net",
            "joerg@example.net",
            "secret@example.net",
            "other-secret@example.net"
        ]
    );
    assert!(outcome.queued.is_empty() && outcome.refused.is_empty());
    let expected = raw.replace(
        "Bcc: secret@example.net,\r\n other-secret@example.net\r\n",
        "",
    );
    assert_eq!(String::from_utf8(outcome.message.bytes).unwrap(), expected);

    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, SENDER);
    assert_eq!(got[0].rcpts, outcome.sent);
    assert_eq!(got[0].options, [format!("SIZE={}", expected.len())]);
    assert_eq!((got[0].auth.as_str(), got[0].tls), ("none", false));
    assert_eq!(String::from_utf8(got[0].data.clone()).unwrap(), expected);
}

#[test]
fn dot_stuffing_and_line_ends_through_submit() {
    let sink = Sink::start();
    let cfg = config(sink.port, "");
    let message = b"Subject: x\n\n.\n.x\nno final newline";
    let rcpts = ["a@example.net".to_string()];
    let delivery = smol::block_on(submit(&cfg, SENDER, &rcpts, message)).unwrap();
    assert_eq!(delivery.accepted, rcpts);
    let got = sink.received();
    assert_eq!(
        got[0].data,
        b"Subject: x\r\n\r\n.\r\n.x\r\nno final newline\r\n"
    );
}

#[test]
fn auth_plain_and_login() {
    let sink = Sink::start_with(&["--auth", "user:s3cret"]);
    let rcpts = ["a@example.net".to_string()];
    let cfg = config(sink.port, "username = \"user\"\npassword = \"s3cret\"");
    smol::block_on(submit(&cfg, SENDER, &rcpts, b"Subject: a\r\n\r\nx\r\n")).unwrap();
    assert_eq!(sink.received()[0].auth, "PLAIN");

    let wrong = config(sink.port, "username = \"user\"\npassword = \"nope\"");
    let err =
        smol::block_on(submit(&wrong, SENDER, &rcpts, b"Subject: a\r\n\r\nx\r\n")).unwrap_err();
    match err {
        SmtpError::Permanent(Permanent::Rejected { reply, .. }) => assert_eq!(reply.code(), 535),
        other => panic!("{other}"),
    }

    let none = config(sink.port, "");
    let err =
        smol::block_on(submit(&none, SENDER, &rcpts, b"Subject: a\r\n\r\nx\r\n")).unwrap_err();
    assert!(err.is_permanent(), "{err}");

    let login_sink = Sink::start_with(&["--auth", "user:s3cret", "--login-only"]);
    let cfg = config(
        login_sink.port,
        "username = \"user\"\npassword = \"s3cret\"",
    );
    smol::block_on(submit(&cfg, SENDER, &rcpts, b"Subject: a\r\n\r\nx\r\n")).unwrap();
    assert_eq!(login_sink.received()[0].auth, "LOGIN");
}

#[test]
fn starttls_verifies_the_certificate() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let sink = Sink::start_with(&["--starttls", cert.to_str().unwrap(), key.to_str().unwrap()]);
    let rcpts = ["a@example.net".to_string()];
    let message = b"Subject: tls\r\n\r\nx\r\n";

    let trusted = config(
        sink.port,
        &format!("tls = \"starttls\"\nca_file = \"{}\"", cert.display()),
    );
    smol::block_on(submit(&trusted, SENDER, &rcpts, message)).unwrap();
    assert!(sink.received()[0].tls);

    let untrusted = config(sink.port, "tls = \"starttls\"");
    let err = smol::block_on(submit(&untrusted, SENDER, &rcpts, message)).unwrap_err();
    assert!(
        matches!(err, SmtpError::Transient(Transient::Tls(_))),
        "{err}"
    );

    let lenient = config(sink.port, "tls = \"starttls\"\naccept_invalid_certs = true");
    smol::block_on(submit(&lenient, SENDER, &rcpts, message)).unwrap();
    assert_eq!(sink.received().len(), 2);

    let plain_sink = Sink::start();
    let wants_tls = config(plain_sink.port, "tls = \"starttls\"");
    let err = smol::block_on(submit(&wants_tls, SENDER, &rcpts, message)).unwrap_err();
    assert!(
        matches!(err, SmtpError::Permanent(Permanent::StartTlsUnavailable)),
        "{err}"
    );
}

#[test]
fn implicit_tls() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let sink = Sink::start_with(&["--implicit", cert.to_str().unwrap(), key.to_str().unwrap()]);
    let cfg = config(
        sink.port,
        &format!("tls = \"implicit\"\nca_file = \"{}\"", cert.display()),
    );
    let rcpts = ["a@example.net".to_string()];
    smol::block_on(submit(&cfg, SENDER, &rcpts, b"Subject: tls\r\n\r\nx\r\n")).unwrap();
    assert!(sink.received()[0].tls);
}

#[test]
fn refused_recipients_are_permanent() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let out = Outbound::new(Some(config(sink.port, "")), data.path(), "box.example.org").unwrap();

    let only_bad = b"To: reject-me@example.net\r\nSubject: x\r\n\r\nx\r\n";
    match smol::block_on(out.send(SENDER, only_bad, |_| false)) {
        Err(SendError::Refused(refusals)) => {
            assert_eq!(refusals.len(), 1);
            assert_eq!(refusals[0].recipient, "reject-me@example.net");
            assert_eq!(refusals[0].reply.code(), 550);
            assert_eq!(refusals[0].reply.enhanced().unwrap().to_string(), "5.1.1");
        }
        other => panic!("{other:?}"),
    }
    assert!(sink.received().is_empty());

    let mixed = b"To: reject-me@example.net, fine@example.net\r\nSubject: x\r\n\r\nx\r\n";
    let outcome = smol::block_on(out.send(SENDER, mixed, |_| false)).unwrap();
    assert_eq!(outcome.sent, ["fine@example.net"]);
    assert_eq!(outcome.refused.len(), 1);
    assert_eq!(sink.received()[0].rcpts, ["fine@example.net"]);
    assert!(out.queue().unwrap().entries().unwrap().is_empty());
}

#[test]
fn tempfail_is_queued_and_delivered_once_later() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let cfg = config(sink.port, "");
    let out = Outbound::new(Some(cfg.clone()), data.path(), "box.example.org").unwrap();
    let raw = b"To: tempfail-1@example.net, now@example.net\r\nSubject: x\r\n\r\nbody\r\n";
    let outcome = smol::block_on(out.send(SENDER, raw, |_| false)).unwrap();
    assert_eq!(outcome.sent, ["now@example.net"]);
    assert_eq!(outcome.queued, ["tempfail-1@example.net"]);
    let queue = out.queue().unwrap();
    assert_eq!(queue.entries().unwrap().len(), 1);
    assert_eq!(sink.received().len(), 1);

    // Not due yet: nothing happens.
    let next =
        smol::block_on(queue.process_due(&cfg, "box", SystemTime::now(), &no_bounce)).unwrap();
    assert!(next.is_some_and(|t| t > SystemTime::now() + Duration::from_secs(50)));
    assert_eq!(sink.received().len(), 1);

    // Due, but still deferred.
    let next = smol::block_on(queue.process_due(&cfg, "box", later(61), &no_bounce)).unwrap();
    assert!(next.is_some());
    assert_eq!(sink.received().len(), 1);

    sink.accept_tempfail();
    let next = smol::block_on(queue.process_due(&cfg, "box", later(200), &no_bounce)).unwrap();
    assert_eq!(next, None);
    assert!(queue.entries().unwrap().is_empty());
    let got = sink.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].rcpts, ["tempfail-1@example.net"]);
    assert_eq!(got[1].data, outcome.message.bytes);

    smol::block_on(queue.process_due(&cfg, "box", later(1000), &no_bounce)).unwrap();
    assert_eq!(sink.received().len(), 2);
}

#[test]
fn queued_message_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let raw = b"To: far@example.net\r\nSubject: x\r\n\r\nbody\r\n";
    {
        let out = Outbound::new(Some(config(dead_port(), "")), data.path(), "box").unwrap();
        let outcome = smol::block_on(out.send(SENDER, raw, |_| false)).unwrap();
        assert_eq!(outcome.queued, ["far@example.net"]);
    }
    let sink = Sink::start();
    let cfg = config(sink.port, "");
    let out = Outbound::new(Some(cfg.clone()), data.path(), "box").unwrap();
    let queue = out.queue().unwrap();
    assert_eq!(queue.entries().unwrap().len(), 1);
    smol::block_on(queue.process_due(&cfg, "box", later(61), &no_bounce)).unwrap();
    let got = sink.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].from.as_str(), got[0].rcpts.as_slice()),
        (SENDER, ["far@example.net".to_string()].as_slice())
    );
    assert!(queue.entries().unwrap().is_empty());
}

#[test]
fn the_worker_delivers_after_a_wake_up() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let out = Arc::new(
        Outbound::new(
            Some(config(sink.port, "retry_secs = [1]")),
            data.path(),
            "box",
        )
        .unwrap(),
    );
    let raw = b"To: tempfail-w@example.net\r\nSubject: x\r\n\r\nbody\r\n";
    smol::block_on(async {
        let worker = {
            let out = out.clone();
            smol::spawn(async move { out.run_queue(no_bounce).await })
        };
        let outcome = out.send(SENDER, raw, |_| false).await.unwrap();
        assert_eq!(outcome.queued, ["tempfail-w@example.net"]);
        sink.accept_tempfail();
        for _ in 0..100 {
            if !sink.received().is_empty() {
                break;
            }
            smol::Timer::after(Duration::from_millis(100)).await;
        }
        drop(worker);
    });
    assert_eq!(sink.received().len(), 1);
    assert!(out.queue().unwrap().entries().unwrap().is_empty());
}

#[test]
fn two_workers_send_an_entry_once() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let cfg = config(sink.port, "");
    let a = Queue::open(data.path(), cfg.retry.clone()).unwrap();
    let b = Queue::open(data.path(), cfg.retry.clone()).unwrap();
    for i in 0..4 {
        let pending = vec![Pending {
            address: format!("r{i}@example.net"),
            last_failure: None,
        }];
        a.enqueue(
            SENDER,
            pending,
            b"Subject: x\r\n\r\nx\r\n",
            SystemTime::now(),
        )
        .unwrap();
    }
    let now = later(61);
    let (ra, rb) = smol::block_on(smol::future::zip(
        a.process_due(&cfg, "box", now, &no_bounce),
        b.process_due(&cfg, "box", now, &no_bounce),
    ));
    assert_eq!((ra.unwrap(), rb.unwrap()), (None, None));
    let mut rcpts: Vec<String> = sink.received().into_iter().flat_map(|r| r.rcpts).collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        [
            "r0@example.net",
            "r1@example.net",
            "r2@example.net",
            "r3@example.net"
        ]
    );
    assert!(a.entries().unwrap().is_empty());
}

#[test]
fn final_failures_bounce() {
    let sink = Sink::start();
    let data = tempfile::tempdir().unwrap();
    let cfg = config(sink.port, "");
    let queue = Queue::open(data.path(), cfg.retry.clone()).unwrap();
    let message = b"From: me@example.org\r\nTo: x\r\nSubject: lost\r\nMessage-ID: <lost@box>\r\n\r\nsecret\r\n";

    // Refused for good on retry.
    queue
        .enqueue(
            SENDER,
            vec![Pending {
                address: "reject-later@example.net".into(),
                last_failure: None,
            }],
            message,
            SystemTime::now(),
        )
        .unwrap();
    // Deferred for longer than max_age (1 hour here).
    queue
        .enqueue(
            SENDER,
            vec![Pending {
                address: "tempfail-forever@example.net".into(),
                last_failure: None,
            }],
            message,
            SystemTime::now() - Duration::from_secs(2 * 3600),
        )
        .unwrap();
    let bounces = Bounces::default();
    let next = smol::block_on(
        queue.process_due(&cfg, "box.example.org", later(61), &|s, b| {
            bounces.take(s, b)
        }),
    )
    .unwrap();
    assert_eq!(next, None);
    assert!(queue.entries().unwrap().is_empty());
    assert!(sink.received().is_empty());

    let all = bounces.all();
    assert_eq!(all.len(), 2);
    let find = |needle: &str| {
        all.iter()
            .find(|(_, text)| text.contains(needle))
            .unwrap_or_else(|| panic!("no bounce with {needle}: {all:?}"))
    };
    let (to, text) = find("Final-Recipient: rfc822; reject-later@example.net");
    assert_eq!(to, SENDER);
    assert!(text.contains("Status: 5.1.1\r\n"));
    assert!(
        text.contains(
            "Diagnostic-Code: smtp; 550 5.1.1 <reject-later@example.net>: no such user\r\n"
        )
    );
    assert!(text.contains("Subject: lost\r\n"));
    assert!(!text.contains("secret"));
    let (_, text) = find("Final-Recipient: rfc822; tempfail-forever@example.net");
    assert!(text.contains("Status: 4.3.0\r\n"), "{text}");
    assert!(text.contains("still undelivered after 1 hour;"));

    let parsed = mail_parser::MessageParser::new()
        .parse(text.as_bytes())
        .unwrap();
    assert_eq!(parsed.parts.len(), 4);
}

#[test]
fn size_limits() {
    let sink = Sink::start_with(&["--size", "100"]);
    let data = tempfile::tempdir().unwrap();
    let big = format!(
        "To: a@example.net\r\nSubject: big\r\n\r\n{}\r\n",
        "x".repeat(200)
    );

    let out = Outbound::new(
        Some(config(sink.port, "max_message_bytes = 150")),
        data.path(),
        "box",
    )
    .unwrap();
    match smol::block_on(out.send(SENDER, big.as_bytes(), |_| false)) {
        Err(SendError::TooLarge { limit: 150, .. }) => {}
        other => panic!("{other:?}"),
    }

    let cfg = config(sink.port, "");
    let rcpts = ["a@example.net".to_string()];
    match smol::block_on(submit(&cfg, SENDER, &rcpts, big.as_bytes())) {
        Err(SmtpError::Permanent(Permanent::TooLarge { limit: 100, .. })) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_smarthost_only_local_mail_goes() {
    let data = tempfile::tempdir().unwrap();
    let out = Outbound::new(None, data.path(), "box").unwrap();
    let outcome = smol::block_on(out.send(
        SENDER,
        b"To: you@example.org\r\nSubject: x\r\n\r\nx\r\n",
        |r| r == "you@example.org",
    ))
    .unwrap();
    assert_eq!(outcome.local, ["you@example.org"]);
    match smol::block_on(out.send(SENDER, b"To: far@example.net\r\n\r\nx\r\n", |_| false)) {
        Err(SendError::NoSmarthost { remote }) => assert_eq!(remote, ["far@example.net"]),
        other => panic!("{other:?}"),
    }
    assert!(out.queue().is_none());
}

/// Where the shared test corpus is: `EASD_CORPUS`, else `../shared/corpus`.
fn corpus() -> PathBuf {
    let dir = std::env::var_os("EASD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    assert!(
        dir.join("mail").is_dir(),
        "test corpus not found at {}; set EASD_CORPUS",
        dir.display()
    );
    dir
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn prepare_leaves_corpus_messages_intact() {
    let mut files = Vec::new();
    files_under(&corpus().join("mail"), &mut files);
    assert!(files.len() > 50);
    let mut prepared = 0;
    for file in files {
        let raw = std::fs::read(&file).unwrap();
        let Ok(p) = prepare(&raw, SENDER, SystemTime::now(), "box.example.org") else {
            continue;
        };
        prepared += 1;
        // Only a Bcc field or an unusable Message-ID field may be taken out.
        let may_shrink = [b"bcc:".as_slice(), b"message-id:"].iter().any(|name| {
            raw.split(|&b| b == b'\n').any(|line| {
                line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name)
            })
        });
        assert!(
            p.bytes.ends_with(&raw) || (may_shrink && p.bytes.len() < raw.len() + 300),
            "{}: bytes changed",
            file.display()
        );
        assert!(!p.recipients.is_empty());
        assert!(!p.message_id.is_empty());
    }
    assert!(prepared > 20, "only {prepared} corpus messages prepared");
}
