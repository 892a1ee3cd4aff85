//! easd's own HTTP/1.1 server against raw sockets: keep-alive and pipelining, Connection: close,
//! HTTP/1.0, HEAD, chunked and 100-continue request bodies, unread bodies, and malformed or
//! oversized heads (answered and logged, with everyone else still served).

mod common;

use common::{PASSWORD, Server};
use easd::autodiscover::request::MOBILESYNC_REQUEST_NS;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One response read off the socket.
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn connect(server: &Server) -> TcpStream {
    let s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Reads one response; with `head_only` (a HEAD request) its announced body is not read.
fn read_response(s: &mut TcpStream, head_only: bool) -> Option<Raw> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => buf.push(byte[0]),
            Err(e) => panic!("no response: {e}"),
        }
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut raw = Raw {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = raw
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    if !head_only {
        raw.body = vec![0; len];
        s.read_exact(&mut raw.body).unwrap();
    }
    Some(raw)
}

/// True once the server has closed the connection (reads end-of-stream).
fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0))
}

fn stats(version: &str, extra: &str) -> String {
    format!("GET /debug/stats {version}\r\nHost: x\r\n{extra}\r\n")
}

fn basic() -> String {
    use base64::Engine;
    let raw = format!("alice@example.com:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn autodiscover_body() -> String {
    format!(
        "<Autodiscover xmlns=\"{MOBILESYNC_REQUEST_NS}\"><Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>"
    )
}

fn assert_autodiscovered(r: &Raw) {
    assert_eq!(r.status, 200, "{}", r.head);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("Microsoft-Server-ActiveSync"), "{body}");
}

#[test]
fn keep_alive_pipelining_and_close() {
    let server = Server::start();
    let mut s = connect(&server);
    // Two requests in one write: both answered, in order, on the same connection.
    let two = format!("{}{}", stats("HTTP/1.1", ""), stats("HTTP/1.1", ""));
    s.write_all(two.as_bytes()).unwrap();
    for _ in 0..2 {
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("\"requests\":"));
        assert_eq!(r.header("connection"), None);
        assert!(r.header("date").is_some_and(|d| d.ends_with("GMT")));
    }
    s.write_all(stats("HTTP/1.1", "Connection: close\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed(&mut s));
}

#[test]
fn http_10_closes_unless_asked_to_keep_alive() {
    let server = Server::start();
    let mut s = connect(&server);
    s.write_all(stats("HTTP/1.0", "").as_bytes()).unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    assert!(closed(&mut s));

    let mut s = connect(&server);
    for _ in 0..2 {
        s.write_all(stats("HTTP/1.0", "Connection: keep-alive\r\n").as_bytes())
            .unwrap();
        let r = read_response(&mut s, false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
}

#[test]
fn head_announces_the_length_without_the_body() {
    let server = Server::start();
    let mut s = connect(&server);
    let head = format!(
        "HEAD /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        basic()
    );
    s.write_all(head.as_bytes()).unwrap();
    let r = read_response(&mut s, true).unwrap();
    assert_eq!(r.status, 200, "{}", r.head);
    // No body followed: the next bytes are the next response.
    s.write_all(stats("HTTP/1.1", "").as_bytes()).unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("\"held_pings\":"));
}

#[test]
fn chunked_and_100_continue_bodies_are_read() {
    let server = Server::start();
    let body = autodiscover_body();
    let mut s = connect(&server);
    // Chunked, in uneven pieces with an extension, in separate writes.
    write!(
        s,
        "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n",
        basic()
    )
    .unwrap();
    let (a, b) = body.split_at(17);
    for part in [a, b] {
        write!(s, "{:x};ext=1\r\n{part}\r\n", part.len()).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    s.write_all(b"0\r\n\r\n").unwrap();
    assert_autodiscovered(&read_response(&mut s, false).unwrap());

    // Expect: 100-continue on the same connection: told to go on, then answered.
    write!(
        s,
        "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: text/xml\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        basic(),
        body.len()
    )
    .unwrap();
    let cont = read_response(&mut s, false).unwrap();
    assert_eq!(cont.status, 100);
    s.write_all(body.as_bytes()).unwrap();
    assert_autodiscovered(&read_response(&mut s, false).unwrap());

    // Refused before the body is wanted: no 100, and the connection closes (the body may or may
    // not be on its way).
    write!(
        s,
        "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed(&mut s));
}

#[test]
fn a_small_unread_body_keeps_the_connection() {
    let server = Server::start();
    let mut s = connect(&server);
    // /debug/stats reads no body: it is skipped, and the connection carries the next request.
    s.write_all(b"POST /debug/stats HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    let r = read_response(&mut s, false).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("connection"), None);
    s.write_all(stats("HTTP/1.1", "").as_bytes()).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
}

#[test]
fn malformed_and_oversized_heads_are_answered_and_logged() {
    let server = Server::start();
    let many: String = (0..150).map(|i| format!("X-F{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(),
            400,
            "malformed request head",
        ),
        (
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n".to_vec(),
            400,
            "malformed request head",
        ),
        (
            format!("GET / HTTP/1.1\r\n{many}\r\n").into_bytes(),
            431,
            "more than 100 header fields",
        ),
        (
            format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000)).into_bytes(),
            431,
            "request head larger than",
        ),
        (
            b"GET / HTTP/2.0\r\n\r\n".to_vec(),
            505,
            "unsupported HTTP version",
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(),
            400,
            "malformed Content-Length",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n".to_vec(),
            400,
            "ambiguous body framing",
        ),
    ];
    for (bytes, status, logged) in cases {
        let mut s = connect(&server);
        // The server may answer before it has read everything; a reset on the rest is fine.
        let _ = s.write_all(&bytes);
        let r = read_response(&mut s, false).expect("an answer");
        assert_eq!(r.status, status, "{logged}");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(
            server.wait_log(logged, Duration::from_secs(5)).is_some(),
            "log line {logged:?}"
        );
    }
    // A malformed chunked body gets 400 from the handler that reads it.
    let mut s = connect(&server);
    write!(
        s,
        "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        basic()
    )
    .unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 400);
    assert!(
        server
            .wait_log("bad chunk size", Duration::from_secs(5))
            .is_some()
    );
    // Everyone else is still served.
    let mut s = connect(&server);
    s.write_all(stats("HTTP/1.1", "").as_bytes()).unwrap();
    assert_eq!(read_response(&mut s, false).unwrap().status, 200);
}
