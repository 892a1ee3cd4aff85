//! Abuse against the real binary: password guessing, slowloris, oversized bodies, connection floods,
//! hostile WBXML. Each must be answered (or cut) and logged, with the server's memory bounded
//! (VmRSS from /proc before and after).

mod common;

use common::{Options, PASSWORD, Server, run};
use easd::eas::Command;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A TCP connection to `dst` from the loopback address `src` (any of 127.0.0.0/8 works on Linux),
/// so one test can play many client addresses.
fn connect_from(src: Ipv4Addr, dst: SocketAddr) -> TcpStream {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(dst) = dst else {
        panic!("IPv4 server expected")
    };
    let sockaddr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns; the addresses outlive the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(src, 0);
        let rc = libc::bind(fd, (&raw const local).cast(), len);
        assert_eq!(rc, 0, "bind {src}: {}", std::io::Error::last_os_error());
        let remote = sockaddr(*dst.ip(), dst.port());
        let rc = libc::connect(fd, (&raw const remote).cast(), len);
        assert_eq!(rc, 0, "connect: {}", std::io::Error::last_os_error());
        stream
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// A response read off a raw socket: status and header block (lower-cased names).
struct Raw {
    status: u16,
    head: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response head; None if the server closed the connection without one.
fn read_head(stream: &mut TcpStream, wait: Duration) -> Option<Raw> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => buf.push(byte[0]),
            Err(e) => panic!("no answer within {wait:?}: {e}"),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Raw { status, head })
}

/// OPTIONS with Basic credentials from `src`, on a fresh connection.
fn options_from(server: &Server, src: Ipv4Addr, user: &str, password: &str) -> Raw {
    let mut s = connect_from(src, server.addr);
    write!(
        s,
        "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        basic(user, password)
    )
    .unwrap();
    read_head(&mut s, Duration::from_secs(20)).expect("an answer")
}

/// VmRSS once the server has verified a password: the authenticator keeps its argon2 memory
/// (19 MiB with the default costs) for reuse, which is not growth.
fn baseline_rss_kib(server: &Server) -> u64 {
    let mut phone = server.device("alice@example.com", "baseline");
    assert_eq!(run(phone.options()).unwrap().status, 200);
    vm_rss_kib(server)
}

fn vm_rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc")
}

fn open_fds(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.child.id()))
        .unwrap()
        .count()
}

/// How many logged lines so far contain `needle`, waiting `settle` for stragglers.
fn count_log(server: &Server, needle: &str, settle: Duration) -> usize {
    let deadline = Instant::now() + settle;
    let mut n = 0;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match server.log.recv_timeout(left) {
            Ok(line) if line.contains(needle) => n += 1,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    n
}

fn limits(extra: &str) -> Server {
    Server::start_with(Options {
        extra: format!("[limits]\n{extra}"),
        ..Default::default()
    })
}

fn request_line(server: &Server, cmd: &str) -> String {
    format!(
        "POST /Microsoft-Server-ActiveSync?Cmd={cmd}&User=alice@example.com&DeviceId=abuse1&DeviceType=t HTTP/1.1\r\nHost: {}\r\nAuthorization: {}\r\nMS-ASProtocolVersion: 14.1\r\nContent-Type: application/vnd.ms-sync.wbxml\r\n",
        server.addr,
        basic("alice@example.com", PASSWORD)
    )
}

#[test]
fn guessing_from_one_address_slows_to_a_crawl() {
    let server = limits("auth_failures_per_ip = 3\nauth_failures_per_user = 1000\n");
    let home = Ipv4Addr::new(127, 0, 0, 1);
    let mut phone = server.device("alice@example.com", "phone1");
    assert_eq!(run(phone.options()).unwrap().status, 200);

    let mut statuses: Vec<u16> = (0..3)
        .map(|i| options_from(&server, home, "alice@example.com", &format!("guess{i}")).status)
        .collect();
    assert_eq!(statuses, [401, 401, 401]);
    // Refused attempts cost no hashing, so they come back at once.
    let started = Instant::now();
    statuses
        .extend((3..30).map(|i| {
            options_from(&server, home, "alice@example.com", &format!("guess{i}")).status
        }));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refusals are quick"
    );
    let verified = statuses.iter().filter(|&&s| s == 401).count();
    assert!(verified <= 4, "{verified} guesses checked: {statuses:?}");
    // A guesser that honours Retry-After gets one guess per block, and each block doubles.
    let mut waits = Vec::new();
    let mut guesses = 0;
    loop {
        let r = options_from(&server, home, "alice@example.com", "patient");
        if r.status == 401 {
            guesses += 1;
            continue;
        }
        assert_eq!(r.status, 503);
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        if retry >= 8 {
            break;
        }
        waits.push(retry);
        std::thread::sleep(Duration::from_secs(retry));
    }
    assert!(guesses <= 4, "{guesses} guesses while waiting {waits:?}");
    assert_eq!(
        count_log(
            &server,
            "failed logins for address 127.0.0.1; refusing",
            Duration::from_secs(1)
        ),
        1,
        "logged once per burst"
    );

    // The phone that is logged in keeps working through the block.
    assert_eq!(run(phone.options()).unwrap().status, 200);
    // A user that has not logged in yet is refused from that address, not from another one.
    assert_eq!(
        options_from(&server, home, "bob@example.com", PASSWORD).status,
        503
    );
    let elsewhere = Ipv4Addr::new(127, 0, 0, 2);
    assert_eq!(
        options_from(&server, elsewhere, "bob@example.com", PASSWORD).status,
        200
    );
}

#[test]
fn guessing_spread_over_addresses_is_stopped_per_user() {
    let server = limits("auth_failures_per_ip = 1000\nauth_failures_per_user = 4\n");
    let statuses: Vec<u16> = (2..=9)
        .map(|n| {
            let src = Ipv4Addr::new(127, 0, 1, n);
            options_from(&server, src, "alice", &format!("guess{n}")).status
        })
        .collect();
    assert_eq!(&statuses[..4], &[401; 4], "{statuses:?}");
    assert!(statuses[4..].iter().all(|&s| s == 503), "{statuses:?}");
    assert!(
        server
            .wait_log(
                "failed logins for user alice@example.com; refusing",
                Duration::from_secs(5)
            )
            .is_some()
    );
    // The right password from a new address waits too; other users are untouched.
    let fresh = Ipv4Addr::new(127, 0, 2, 1);
    assert_eq!(
        options_from(&server, fresh, "alice@example.com", PASSWORD).status,
        503
    );
    assert_eq!(
        options_from(&server, fresh, "bob@example.com", PASSWORD).status,
        200
    );
}

#[test]
fn slowloris_headers_are_cut_at_the_header_timeout() {
    let server = limits("header_timeout_secs = 2\n");
    let rss_before = baseline_rss_kib(&server);
    let started = Instant::now();
    let mut conns: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(server.addr).unwrap();
            s.write_all(b"POST /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s
        })
        .collect();
    // Dribble one header byte per 300 ms: never a complete head.
    let mut cut = vec![None; conns.len()];
    while started.elapsed() < Duration::from_secs(8) && cut.iter().any(Option::is_none) {
        std::thread::sleep(Duration::from_millis(300));
        for (i, s) in conns.iter_mut().enumerate() {
            if cut[i].is_none() && s.write_all(b"X").is_err() {
                cut[i] = Some(started.elapsed());
            }
        }
    }
    for (i, s) in conns.iter_mut().enumerate() {
        if cut[i].is_none() {
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut b = [0u8; 512];
            if s.read(&mut b).is_ok() {
                cut[i] = Some(started.elapsed());
            }
        }
    }
    let cut: Vec<Duration> = cut
        .into_iter()
        .map(|c| c.expect("connection still open after 8 s"))
        .collect();
    assert!(cut.iter().all(|c| *c >= Duration::from_secs(2)), "{cut:?}");
    assert!(
        server
            .wait_log(
                "request headers not received within 2 s",
                Duration::from_secs(2)
            )
            .is_some(),
        "the cut is logged"
    );
    let rss_after = vm_rss_kib(&server);
    assert!(
        rss_after < rss_before + 8 * 1024,
        "VmRSS {rss_before} -> {rss_after} kB"
    );
    let mut phone = server.device("alice@example.com", "after");
    assert_eq!(run(phone.options()).unwrap().status, 200);
}

#[test]
fn slowloris_body_is_cut_at_the_body_timeout() {
    let server = limits("body_timeout_secs = 2\n");
    // Logged in once, so the request below spends no time hashing before its body is read.
    baseline_rss_kib(&server);
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "{}Content-Length: 1000\r\n\r\n",
        request_line(&server, "Sync")
    )
    .unwrap();
    let started = Instant::now();
    let dribbler = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..40 {
                if s.write_all(b"\x03").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let head = read_head(&mut s, Duration::from_secs(10)).expect("an answer");
    assert_eq!(head.status, 408);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert!(
        server
            .wait_log("request body not received in time", Duration::from_secs(2))
            .is_some()
    );
    drop(s);
    dribbler.join().unwrap();
}

#[test]
fn oversized_bodies_are_refused_with_memory_bounded() {
    let server = limits("max_body_bytes = 1048576\n");
    let rss_before = baseline_rss_kib(&server);
    // Declared: refused from the header alone, before any of the body is sent.
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "{}Content-Length: 1073741824\r\n\r\n",
        request_line(&server, "Sync")
    )
    .unwrap();
    assert_eq!(
        read_head(&mut s, Duration::from_secs(10)).unwrap().status,
        413
    );
    // Undeclared (chunked): cut once the limit is passed, whatever keeps coming.
    let mut s = TcpStream::connect(server.addr).unwrap();
    write!(
        s,
        "{}Transfer-Encoding: chunked\r\n\r\n",
        request_line(&server, "Sync")
    )
    .unwrap();
    let sender = {
        let mut s = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = vec![0x42u8; 64 * 1024];
            let mut sent = 0usize;
            while sent < 64 << 20 {
                if write!(s, "{:x}\r\n", chunk.len()).is_err()
                    || s.write_all(&chunk).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    break;
                }
                sent += chunk.len();
            }
            sent
        })
    };
    assert_eq!(
        read_head(&mut s, Duration::from_secs(20)).unwrap().status,
        413
    );
    drop(s);
    let sent = sender.join().unwrap();
    assert!(
        sent < 64 << 20,
        "the server stopped reading ({sent} bytes sent)"
    );
    assert!(
        server
            .wait_log(
                "request body larger than 1048576 bytes",
                Duration::from_secs(2)
            )
            .is_some()
    );
    let rss_after = vm_rss_kib(&server);
    assert!(
        rss_after < rss_before + 16 * 1024,
        "VmRSS {rss_before} -> {rss_after} kB"
    );
}

#[test]
fn a_connection_flood_is_answered_503_and_logged_once() {
    let server = limits("max_connections = 20\nheader_timeout_secs = 30\n");
    let rss_before = baseline_rss_kib(&server);
    std::thread::sleep(Duration::from_millis(300));
    let fds_before = open_fds(&server);
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut busy = 0;
    for _ in 0..200 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        let _ = s.write_all(b"OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\n\r\n");
        if let Some(head) = read_head(&mut s, Duration::from_secs(10)) {
            assert_eq!(head.status, 503);
            assert_eq!(head.header("retry-after"), Some("30"));
            busy += 1;
        }
    }
    assert_eq!(busy, 200);
    assert_eq!(
        count_log(
            &server,
            "connection limit (20) reached",
            Duration::from_secs(1)
        ),
        1,
        "one log line per flood"
    );
    drop(idle);
    std::thread::sleep(Duration::from_millis(500));
    let mut phone = server.device("alice@example.com", "after");
    assert_eq!(run(phone.options()).unwrap().status, 200);
    phone.conn.close();
    std::thread::sleep(Duration::from_millis(300));
    let fds_after = open_fds(&server);
    assert!(
        fds_after <= fds_before + 1,
        "fds {fds_before} -> {fds_after}"
    );
    let rss_after = vm_rss_kib(&server);
    assert!(
        rss_after < rss_before + 8 * 1024,
        "VmRSS {rss_before} -> {rss_after} kB"
    );
}

#[test]
fn hostile_wbxml_is_refused_with_memory_bounded() {
    let server = limits("max_body_bytes = 33554432\n");
    let mut phone = server.device("alice@example.com", "wbxml1");
    let q = phone.query(Command::Sync);
    let post = |phone: &mut easd::client::Device, body: Vec<u8>| {
        run(phone.post(&q, "application/vnd.ms-sync.wbxml", body))
            .unwrap()
            .status
    };
    let rss_before = baseline_rss_kib(&server);
    // Deep nesting: Sync (0x45 with content) opened a million times.
    let mut deep = vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x00];
    deep.extend(std::iter::repeat_n(0x45, 1 << 20));
    assert_eq!(post(&mut phone, deep), 400);
    // Many nodes: a root with 4 million empty children, past the node limit.
    let mut wide = vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x00, 0x45];
    wide.extend(std::iter::repeat_n(0x0b, 4 << 20));
    wide.push(0x01);
    assert_eq!(post(&mut phone, wide), 400);
    // A huge but well-formed document: 24 MiB of opaque data under one element.
    let mut huge = vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x00, 0x45, 0xc3];
    let len: u32 = 24 << 20;
    for shift in [21, 14, 7] {
        huge.push(0x80 | ((len >> shift) & 0x7f) as u8);
    }
    huge.push((len & 0x7f) as u8);
    huge.resize(huge.len() + len as usize, 0x61);
    huge.push(0x01);
    // Well-formed, so it reaches Sync, which answers it as a bad request of its own kind.
    let status = post(&mut phone, huge);
    assert!(matches!(status, 200 | 400), "{status}");
    assert!(
        server
            .wait_log("malformed WBXML", Duration::from_secs(2))
            .is_some()
    );
    let rss_after = vm_rss_kib(&server);
    assert!(
        rss_after < rss_before + 160 * 1024,
        "VmRSS {rss_before} -> {rss_after} kB"
    );
    assert_eq!(run(phone.options()).unwrap().status, 200);
}

/// Messages built to cost far more to parse and convert than their size suggests.
fn mime_bombs() -> Vec<(&'static str, Vec<u8>)> {
    let head = |subject: &str, ctype: &str| {
        format!(
            "From: bomb@example.org\r\nTo: alice@example.com\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: {ctype}\r\n\r\n"
        )
    };
    // 3,000 nested multiparts, each opening the next.
    let mut nested = head("Nested", "multipart/mixed; boundary=\"b0\"");
    for i in 0..3000 {
        nested.push_str(&format!(
            "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
            i + 1
        ));
    }
    nested.push_str("--b3000\r\nContent-Type: text/plain\r\n\r\ndeep\r\n");
    // 40,000 tiny attachments.
    let mut many = head("Many", "multipart/mixed; boundary=\"m\"");
    many.push_str("--m\r\nContent-Type: text/plain\r\n\r\nmany parts\r\n");
    for i in 0..40_000 {
        many.push_str(&format!(
            "--m\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"f{i}\"\r\n\r\nx\r\n"
        ));
    }
    many.push_str("--m--\r\n");
    // 24 MiB of base64 text body that decodes to 18 MiB of one repeated character.
    let mut big = head(
        "Big",
        "text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64",
    )
    .into_bytes();
    let line = b"YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh\r\n";
    while big.len() < 24 << 20 {
        big.extend_from_slice(line);
    }
    // A 4 MiB header line of encoded words.
    let mut header = "=?utf-8?q?=41=42?= ".repeat(4 << 20 >> 19);
    header.truncate(4 << 20);
    let long_header = head(&header, "text/plain").into_bytes();
    vec![
        ("Nested", nested.into_bytes()),
        ("Many", many.into_bytes()),
        ("Big", big),
        ("Header", long_header),
    ]
}

#[test]
fn decompression_bomb_like_mime_is_synced_with_memory_bounded() {
    let server = Server::start();
    let root = server.maildir("alice@example.com");
    for d in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let mut phone = server.device("alice@example.com", "bombs");
    let rss_before = baseline_rss_kib(&server);
    let bombs = mime_bombs();
    for (i, (_, bytes)) in bombs.iter().enumerate() {
        std::fs::write(
            root.join(format!("cur/{}.bomb{i}.host:2,S", 1_700_000_000 + i)),
            bytes,
        )
        .unwrap();
    }
    let started = Instant::now();
    let folders = run(phone.folder_sync(easd::eas::ids::SyncKey::Initial)).unwrap();
    let inbox = folders
        .changes
        .iter()
        .find_map(|c| match c {
            easd::eas::foldersync::FolderChange::Add(e) if e.kind == 2 => Some(e.server_id.clone()),
            _ => None,
        })
        .unwrap();
    let mut c =
        easd::eas::sync::CollectionRequest::new(inbox.clone(), easd::eas::ids::SyncKey::Initial);
    c.options = Some(easd::eas::options::ItemOptions {
        body_preferences: vec![easd::items::BodyPreference {
            body_type: easd::items::BodyType::PlainText,
            truncation_size: Some(5120),
            all_or_none: false,
            preview: None,
        }],
        ..Default::default()
    });
    let prime = easd::eas::sync::SyncRequest {
        collections: vec![c],
        ..Default::default()
    };
    let r = run(phone.sync(&prime)).unwrap().unwrap();
    let mut key = r.collections[0].sync_key.unwrap();
    let mut got = Vec::new();
    loop {
        let mut c = easd::eas::sync::CollectionRequest::new(inbox.clone(), key);
        c.window_size = Some(2);
        c.get_changes = Some(true);
        let r = run(phone.sync(&easd::eas::sync::SyncRequest {
            collections: vec![c],
            ..Default::default()
        }))
        .unwrap();
        let Some(r) = r else {
            break;
        };
        let coll = &r.collections[0];
        assert_eq!(coll.status, easd::eas::sync::SyncStatus::Success);
        key = coll.sync_key.unwrap();
        for cmd in &coll.commands {
            if let easd::eas::sync::ServerCommand::Add { data, .. } = cmd {
                let body = data
                    .first(easd::wbxml::tags::airsyncbase::BODY)
                    .and_then(|b| b.child_text(easd::wbxml::tags::airsyncbase::DATA))
                    .unwrap_or_default();
                assert!(
                    body.len() <= 5120,
                    "truncation honoured: {} bytes",
                    body.len()
                );
                got.push(
                    data.child_text(easd::wbxml::tags::email::SUBJECT)
                        .unwrap_or_default()
                        .chars()
                        .take(10)
                        .collect::<String>(),
                );
            }
        }
        if !coll.more_available {
            break;
        }
    }
    let took = started.elapsed();
    assert_eq!(got.len(), bombs.len(), "every message answered: {got:?}");
    let rss_after = vm_rss_kib(&server);
    eprintln!(
        "MIME bombs: {} messages ({} MiB on disk) synced in {took:.1?}; VmRSS {rss_before} -> {rss_after} kB",
        bombs.len(),
        bombs.iter().map(|(_, b)| b.len()).sum::<usize>() >> 20
    );
    assert!(took < Duration::from_secs(120), "{took:?}");
    assert!(
        rss_after < rss_before + 256 * 1024,
        "VmRSS {rss_before} -> {rss_after} kB"
    );
    assert_eq!(run(phone.options()).unwrap().status, 200);
}
