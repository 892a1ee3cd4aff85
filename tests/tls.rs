//! The HTTPS listener against the real binary: a self-signed certificate made with `openssl` at test
//! time, the protocol versions and cipher suites offered (rustls's defaults under the ring provider:
//! TLS 1.3 and 1.2, ECDHE key exchange and AEAD ciphers only), and certificate reload on SIGHUP.

mod common;
mod mail_common;

use common::{Options, PASSWORD, Server};
use futures_rustls::TlsConnector;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Writes a fresh self-signed P-256 certificate for `name` (PEM) to `cert` and `key`.
fn make_cert(cert: &Path, key: &Path, name: &str) {
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={name}"))
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/test installs it)");
    assert!(status.success(), "openssl req failed");
}

struct Tls {
    server: Server,
    https: SocketAddr,
    certs: tempfile::TempDir,
}

impl Tls {
    fn start() -> Tls {
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
        make_cert(&cert, &key, "first.example");
        let server = Server::start_with(Options {
            server: format!(
                "tls_listen = [\"127.0.0.1:0\"]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            ..Default::default()
        });
        let line = server
            .wait_log("listening on https://", Duration::from_secs(10))
            .expect("an HTTPS listener");
        let https = line
            .split("listening on https://")
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Tls {
            server,
            https,
            certs,
        }
    }

    /// `openssl s_client` with `args`; returns (handshake completed, its output).
    fn s_client(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("openssl")
            .arg("s_client")
            .arg("-connect")
            .arg(self.https.to_string())
            .args(["-servername", "mail.example.com"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let done = out.status.success() && !text.contains("Cipher is (NONE)");
        (done, text)
    }

    /// The subject CN of the certificate a new handshake presents.
    fn served_name(&self) -> String {
        let (ok, text) = self.s_client(&["-tls1_3"]);
        assert!(ok, "{text}");
        text.lines()
            .find_map(|l| l.trim().strip_prefix("subject=CN").map(str::to_string))
            .map(|s| s.trim_start_matches([' ', '=']).to_string())
            .unwrap_or_else(|| panic!("no subject in {text}"))
    }
}

fn basic() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("alice@example.com:{PASSWORD}"))
    )
}

/// Sends OPTIONS on an open stream and returns the status; the connection stays open.
async fn options<S>(stream: &mut S) -> u16
where
    S: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin,
{
    let req = format!(
        "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\nHost: mail.example.com\r\nAuthorization: {}\r\n\r\n",
        basic()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.to_ascii_lowercase().contains("content-length: 0"),
        "{head}"
    );
    head.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn https_serves_eas_with_tls_1_2_and_1_3_only() {
    let tls = Tls::start();
    // Our own client (rustls) over HTTPS.
    let target = easd::client::Target::from_url(&format!("https://{}", tls.https), true).unwrap();
    let mut phone = easd::client::Device::new(target, "alice@example.com", PASSWORD, "tls1");
    let reply = common::run(phone.options()).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("ms-server-activesync"), Some("16.1"));

    for (flag, proto) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let (ok, text) = tls.s_client(&[flag]);
        assert!(ok && text.contains(proto), "{flag}: {text}");
    }
    // The suites TLS 1.2 clients get are ECDHE with an AEAD cipher.
    let (_, text) = tls.s_client(&["-tls1_2"]);
    let cipher = text
        .lines()
        .find_map(|l| l.split("Cipher is ").nth(1))
        .unwrap()
        .trim()
        .to_string();
    assert!(
        cipher.starts_with("ECDHE-") && (cipher.contains("GCM") || cipher.contains("CHACHA20")),
        "{cipher}"
    );
    // Old protocol versions are refused by the server (a handshake alert) even when the client is
    // willing (SECLEVEL=0 lets OpenSSL offer them at all).
    for flag in ["-tls1_1", "-tls1"] {
        let (ok, text) = tls.s_client(&[flag, "-cipher", "DEFAULT:@SECLEVEL=0"]);
        assert!(
            !ok && text.contains("alert"),
            "{flag} was not refused: {text}"
        );
    }
    // Weak TLS 1.2 suites, offered alone: static RSA key exchange, CBC mode. The server refuses
    // them with a handshake alert.
    for suite in [
        "AES128-SHA",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA384",
    ] {
        let (ok, text) = tls.s_client(&["-tls1_2", "-cipher", &format!("{suite}:@SECLEVEL=0")]);
        assert!(
            !ok && text.contains("alert"),
            "{suite} was not refused: {text}"
        );
    }
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_established_connections() {
    let tls = Tls::start();
    assert_eq!(tls.served_name(), "first.example");

    let target = easd::client::Target::from_url(&format!("https://{}", tls.https), true).unwrap();
    let config = target.tls.clone().unwrap();
    let addr = tls.https;
    let mut held = common::run(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("mail.example.com").unwrap();
        TlsConnector::from(config).connect(name, tcp).await.unwrap()
    });
    assert_eq!(common::run(options(&mut held)), 200);

    // A broken replacement is refused and the old certificate stays in service.
    let cert = tls.certs.path().join("cert.pem");
    let key = tls.certs.path().join("key.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    signal_hup(&tls.server);
    assert!(
        tls.server
            .wait_log("TLS reload failed", Duration::from_secs(10))
            .is_some()
    );
    assert_eq!(tls.served_name(), "first.example");

    make_cert(&cert, &key, "second.example");
    signal_hup(&tls.server);
    assert!(
        tls.server
            .wait_log("TLS certificate reloaded", Duration::from_secs(10))
            .is_some()
    );
    assert_eq!(tls.served_name(), "second.example");
    // The connection made before the reload is still the same one and still served.
    assert_eq!(common::run(options(&mut held)), 200);
    let (_, session) = held.get_ref();
    let held_cert = session.peer_certificates().unwrap()[0].clone();
    let new_cert = CertificateDer::from_pem_file(&cert).unwrap();
    assert_ne!(
        held_cert, new_cert,
        "the held connection predates the reload"
    );
}

/// Held Pings over TLS: a certificate reload leaves them held and answerable on their old
/// connections, and a client hanging up on one frees it at once.
#[test]
fn held_pings_over_tls_survive_a_reload_and_end_on_hang_up() {
    use easd::eas::ping::{PingFolder, PingRequest, PingStatus};
    let tls = Tls::start();
    mail_common::make_maildir(&tls.server.maildir(mail_common::USER));
    let target = easd::client::Target::from_url(&format!("https://{}", tls.https), true).unwrap();
    let phone =
        |id: &str| easd::client::Device::new(target.clone(), mail_common::USER, PASSWORD, id);
    let mut first = phone("tlsping");
    let (inbox, _) = common::run(mail_common::inbox_id(&mut first));
    common::run(mail_common::prime(&mut first, &inbox));
    let req = PingRequest {
        heartbeat: Some(600),
        folders: Some(vec![PingFolder {
            id: inbox.as_str().try_into().unwrap(),
            class: "Email".try_into().unwrap(),
        }]),
    };
    let held = || {
        let mut conn = easd::client::Connection::new(tls.server.target());
        let r = common::run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let n = text.split("\"held_pings\":").nth(1).unwrap().to_string();
        n.trim_end_matches('}').parse::<usize>().unwrap()
    };
    let wait_held = |n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while held() != n {
            assert!(
                std::time::Instant::now() < deadline,
                "held pings never reached {n}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let ping = {
        let req = req.clone();
        std::thread::spawn(move || common::run(first.ping(&req)).unwrap())
    };
    wait_held(1);
    let (cert, key) = (
        tls.certs.path().join("cert.pem"),
        tls.certs.path().join("key.pem"),
    );
    make_cert(&cert, &key, "second.example");
    signal_hup(&tls.server);
    assert!(
        tls.server
            .wait_log("TLS certificate reloaded", Duration::from_secs(10))
            .is_some()
    );
    assert_eq!(held(), 1, "the reload left the Ping held");
    // The same device's next request ends the held Ping, which answers on its old connection.
    let mut again = phone("tlsping");
    assert_eq!(common::run(again.options()).unwrap().status, 200);
    common::run(mail_common::prime(&mut again, &inbox));
    assert_eq!(ping.join().unwrap().status, PingStatus::Expired);
    wait_held(0);

    // A phone that gives up on its Ping (drops the TLS connection) frees it.
    let mut quitter = phone("tlsping");
    let gives_up = std::thread::spawn(move || {
        common::run(smol::future::or(
            async {
                let _ = quitter.ping(&req).await;
            },
            async {
                smol::Timer::after(Duration::from_secs(3)).await;
            },
        ));
    });
    wait_held(1);
    gives_up.join().unwrap();
    wait_held(0);
}

fn signal_hup(server: &Server) {
    let pid = server.child.id() as libc::pid_t;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}
