//! Built-in ACME against Debian's pebble on loopback, with real TLS-ALPN-01 validation (no
//! PEBBLE_VA_ALWAYS_VALID): pebble-challtestsrv answers pebble's DNS queries with 127.0.0.1 and
//! pebble's tlsPort is easd's TLS listener. The certificate is issued, served for every name, cached,
//! reused after a restart, and renewed before it expires.

mod common;

use easd::client::{Connection, Target};
use easd::x509::CertInfo;
use futures_rustls::rustls::{self, ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// Kills the process when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openssl(args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("openssl (scripts/test installs it)")
        .success();
    assert!(ok, "openssl {args:?}");
}

/// A CA and a certificate for pebble's own HTTPS API, signed by it (webpki refuses a CA
/// certificate as a server's).
fn api_certificate(dir: &Path) {
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &p("ca-key.pem"),
                "-out",
                &p("ca.pem"),
                "-days",
                "2",
                "-subj",
                "/CN=easd test CA",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                &p("api-key.pem"),
                "-out",
                &p("api.csr"),
                "-subj",
                "/CN=pebble",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p("api.csr"),
        "-CA",
        &p("ca.pem"),
        "-CAkey",
        &p("ca-key.pem"),
        "-CAcreateserial",
        "-out",
        &p("api-cert.pem"),
        "-days",
        "2",
        "-extfile",
        &p("ext.cnf"),
    ]);
}

fn spawn(cmd: &mut Command, what: &str) -> Guard {
    Guard(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e} (scripts/test installs pebble)")),
    )
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_log(log: &Receiver<String>, needle: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match log.recv_timeout(left) {
            Ok(line) if line.contains("ERROR") => eprintln!("{line}"),
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("no log line with {needle:?} within {within:?}"),
        }
    }
}

fn https(port: u16, name: &str, root: &[u8]) -> Connection {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(root) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Connection::new(Target {
        addr: format!("127.0.0.1:{port}"),
        host: name.to_string(),
        tls: Some(Arc::new(config)),
    })
}

fn served_chain(data: &Path) -> Vec<u8> {
    std::fs::read(data.join("acme").join("certificate.pem")).unwrap()
}

#[test]
fn certificate_from_pebble_with_tls_alpn_01() {
    let dir = tempfile::tempdir().unwrap();
    api_certificate(dir.path());
    let (acme_port, mgmt_port, dns_port, chall_port) =
        (free_port(), free_port(), free_port(), free_port());
    let (plain, tls) = (free_port(), free_port());
    let _dns = spawn(
        Command::new("pebble-challtestsrv").args([
            "-dns01",
            &format!("127.0.0.1:{dns_port}"),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-management",
            &format!("127.0.0.1:{chall_port}"),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]),
        "pebble-challtestsrv",
    );
    // 30-second certificates, so renewal (at two thirds of the lifetime) happens within the test.
    let pebble_config = format!(
        "{{\"pebble\": {{\"listenAddress\": \"127.0.0.1:{acme_port}\", \"managementListenAddress\": \"127.0.0.1:{mgmt_port}\", \"certificate\": \"{0}/api-cert.pem\", \"privateKey\": \"{0}/api-key.pem\", \"httpPort\": {plain}, \"tlsPort\": {tls}, \"ocspResponderURL\": \"\", \"externalAccountBindingRequired\": false, \"certificateValidityPeriod\": 30}}}}",
        dir.path().display()
    );
    std::fs::write(dir.path().join("pebble.json"), pebble_config).unwrap();
    let _pebble = spawn(
        Command::new("pebble")
            .arg("-config")
            .arg(dir.path().join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0"),
        "pebble",
    );
    wait_for_port(acme_port);

    let data = dir.path().join("data");
    let config = format!(
        "[server]\nlisten = [\"127.0.0.1:{plain}\"]\ntls_listen = [\"127.0.0.1:{tls}\"]\nhostname = \"mail.example.com\"\ndata_dir = \"{}\"\n\n[push]\nudp_listen = \"127.0.0.1:0\"\n\n[acme]\nenabled = true\ndirectory_url = \"https://127.0.0.1:{acme_port}/dir\"\ndirectory_ca = \"{}\"\ncontact = [\"mailto:postmaster@example.com\"]\ndomains = [\"mail.example.com\", \"autodiscover.example.com\"]\n\n[[user]]\nemail = \"alice@example.com\"\npassword_hash = \"{}\"\n",
        data.display(),
        dir.path().join("ca.pem").display(),
        common::password_hash()
    );
    let config_path = dir.path().join("easd.toml");
    std::fs::write(&config_path, config).unwrap();
    let (child, _, log) = common::spawn_process(&config_path);
    let mut easd = Guard(child);
    wait_log(
        &log,
        "acme: new certificate for mail.example.com, autodiscover.example.com in service",
        Duration::from_secs(60),
    );
    wait_log(&log, "acme: CertCacheStore", Duration::from_secs(10));

    // The certificate chains to pebble's root for both names, and the server behind it answers.
    let root = {
        let mut mgmt = Connection::new(
            Target::from_url(&format!("https://127.0.0.1:{mgmt_port}"), true).unwrap(),
        );
        let reply = common::run(mgmt.request("GET", "/roots/0", &[], Vec::new())).unwrap();
        assert_eq!(reply.status, 200);
        reply.body.to_vec()
    };
    for name in ["mail.example.com", "autodiscover.example.com"] {
        let mut conn = https(tls, name, &root);
        let reply =
            common::run(conn.request("GET", "/Microsoft-Server-ActiveSync", &[], Vec::new()))
                .unwrap();
        assert_eq!(reply.status, 401, "{name}");
    }
    let first = served_chain(&data);
    let leaf = CertificateDer::pem_slice_iter(&first)
        .next()
        .unwrap()
        .unwrap();
    let info = CertInfo::parse(&leaf).unwrap();
    assert!(info.covers("mail.example.com") && info.covers("autodiscover.example.com"));
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(data.join("acme/certificate.pem"))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_eq!(mode & 0o777, 0o600, "the file holds the private key");

    // A restart serves the cached certificate without a new order.
    drop(easd);
    let (child, _, log) = common::spawn_process(&config_path);
    easd = Guard(child);
    wait_log(
        &log,
        "acme: cached certificate for mail.example.com, autodiscover.example.com in service",
        Duration::from_secs(20),
    );
    assert!(
        served_chain(&data) == first,
        "the cached certificate is kept"
    );
    let mut conn = https(tls, "mail.example.com", &root);
    assert_eq!(
        common::run(conn.request("GET", "/Microsoft-Server-ActiveSync", &[], Vec::new()))
            .unwrap()
            .status,
        401
    );

    // Renewed before the 30-second certificate expires, and the new one is served.
    wait_log(&log, "acme: new certificate for", Duration::from_secs(40));
    wait_log(&log, "acme: CertCacheStore", Duration::from_secs(10));
    assert!(
        served_chain(&data) != first,
        "the renewed certificate is cached"
    );
    let mut conn = https(tls, "autodiscover.example.com", &root);
    assert_eq!(
        common::run(conn.request("GET", "/Microsoft-Server-ActiveSync", &[], Vec::new()))
            .unwrap()
            .status,
        401
    );

    // easd doctor reads the ACME certificate.
    let (_, out, _) = common::cli(&config_path, &["doctor"], None);
    assert!(
        out.contains("[warn] acme: no TLS listener on port 443"),
        "{out}"
    );
    assert!(
        out.contains("[ ok ] certificate: ")
            && out.contains("acme/certificate.pem loads with its key"),
        "{out}"
    );
    assert!(
        out.contains("[ ok ] certificate name autodiscover.example.com: covered")
            || out.contains("certificate name mail.example.com: covered"),
        "{out}"
    );
    drop(easd);
}
