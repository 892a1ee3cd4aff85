//! `easd doctor` against a real server with plain and TLS listeners and a self-signed certificate:
//! the listener, certificate and 401 checks pass, DNS of reserved (.invalid) names fails cleanly, and
//! the exit status says so.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn self_signed(dir: &Path, names: &str) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .args(["-days", "90", "-subj", "/CN=localhost", "-addext"])
        .arg(format!("subjectAltName={names}"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl (scripts/test installs it)");
    assert!(status.success());
}

/// The server and its log; the log is kept so its pipe stays open.
struct Running {
    child: Child,
    _log: std::sync::mpsc::Receiver<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(config: &Path) -> Running {
    let (child, _, log) = common::spawn_process(config);
    Running { child, _log: log }
}

fn config(dir: &Path, plain: u16, tls: u16) -> std::path::PathBuf {
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{plain}\"]\ntls_listen = [\"127.0.0.1:{tls}\"]\ntls_cert = \"{0}/cert.pem\"\ntls_key = \"{0}/key.pem\"\nhostname = \"localhost\"\ndata_dir = \"{0}/data\"\n\n[push]\nudp_listen = \"127.0.0.1:0\"\n\n[[user]]\nemail = \"alice@example.invalid\"\nname = \"Alice\"\npassword_hash = \"{1}\"\n",
        dir.display(),
        common::password_hash()
    );
    let path = dir.join("easd.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
}

#[test]
fn doctor_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path(), "DNS:localhost,DNS:autodiscover.example.invalid");
    let (plain, tls) = (free_port(), free_port());
    let path = config(dir.path(), plain, tls);
    let _server = serve(&path);
    let (ok, out, err) = common::cli(&path, &["doctor"], None);
    assert!(!ok, "DNS of .invalid names must fail the run:\n{out}");
    assert!(err.contains("check(s) failed"), "{err}");
    line(&out, "[ ok ] configuration:");
    line(&out, "[ ok ] users: 1 configured");
    line(&out, "[ ok ] data_dir:");
    line(
        &out,
        &format!("[ ok ] listener http://127.0.0.1:{plain}: accepts connections"),
    );
    line(
        &out,
        &format!("[ ok ] listener https://127.0.0.1:{tls}: accepts connections"),
    );
    line(
        &out,
        &format!(
            "[ ok ] ActiveSync URL https://localhost:{tls}/Microsoft-Server-ActiveSync: answers 401"
        ),
    );
    line(
        &out,
        &format!(
            "[ ok ] autodiscover URL https://localhost:{tls}/autodiscover/autodiscover.xml: answers 401"
        ),
    );
    line(&out, "[ ok ] certificate: ");
    line(&out, "[ ok ] certificate expiry: valid until");
    line(&out, "[ ok ] certificate name localhost: covered");
    line(
        &out,
        "[ ok ] certificate name autodiscover.example.invalid: covered",
    );
    line(&out, "[warn] certificate chain: self-signed");
    line(
        &out,
        "[warn] dns localhost: resolves only to private addresses",
    );
    line(&out, "[warn] server.hostname:");
    line(&out, "[warn] ports: no https listener on 443");
    let dns = line(&out, "[FAIL] dns autodiscover example.invalid:");
    assert!(dns.contains("no A/AAAA record"), "{dns}");
    let fix = out.lines().skip_while(|l| *l != dns).nth(1).unwrap();
    assert!(
        fix.contains("fix: phones try https://autodiscover.example.invalid/"),
        "{fix}"
    );
    assert!(
        out.trim_end().ends_with("2 failures") || out.contains(" failures"),
        "{out}"
    );
}

#[test]
fn doctor_without_a_server_names_the_dead_listeners() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path(), "DNS:localhost");
    let (plain, tls) = (free_port(), free_port());
    let path = config(dir.path(), plain, tls);
    let (ok, out, _) = common::cli(&path, &["doctor"], None);
    assert!(!ok);
    let l = line(
        &out,
        &format!("[FAIL] listener http://127.0.0.1:{plain}: cannot connect"),
    );
    assert!(!l.is_empty());
    let fix = out.lines().skip_while(|x| *x != l).nth(1).unwrap();
    assert!(fix.contains("easd serve --config"), "{fix}");
    // The name the cert lacks is reported, and so is the domain with no DNS at all.
    line(
        &out,
        "[warn] certificate name autodiscover.example.invalid: phones reach autodiscover by this name",
    );
}
