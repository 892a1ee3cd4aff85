//! The integration tests' harness: a real `easd` process on 127.0.0.1 with a temporary data dir,
//! and simulated phones talking to it over real sockets.
#![allow(dead_code)]

pub mod phone;
pub mod sink;

use easd::client::{Device, Target};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const PASSWORD: &str = "correct horse";
/// argon2id of PASSWORD with small costs, so tests don't spend their time hashing.
pub fn password_hash() -> String {
    use std::sync::OnceLock;
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_easd"))
            .arg("hash-password")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().map(|mut s| s.write_all(PASSWORD.as_bytes()));
                c.wait_with_output()
            })
            .expect("easd hash-password");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

/// A running server and its files. Killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub log: mpsc::Receiver<String>,
}

pub struct Options {
    pub users: Vec<String>,
    /// Extra TOML appended to the generated config.
    pub extra: String,
    /// Extra lines for the `[server]` table (e.g. TLS listeners).
    pub server: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            users: vec!["alice@example.com".into(), "bob@example.com".into()],
            extra: String::new(),
            server: String::new(),
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let hash = password_hash();
        // `easd notify` and `easd deliver` read the UDP port from the config, so it can't be 0.
        let udp_port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let mut config = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"mail.example.com\"\ndata_dir = \"{}\"\n{}\n\n[push]\nudp_listen = \"127.0.0.1:{udp_port}\"\n\n",
            dir.path().join("data").display(),
            opts.server
        );
        for u in &opts.users {
            config.push_str(&format!(
                "[[user]]\nemail = \"{u}\"\nname = \"{u}\"\npassword_hash = \"{hash}\"\n\n"
            ));
        }
        config.push_str(&opts.extra);
        let config_path = dir.path().join("easd.toml");
        std::fs::write(&config_path, config).unwrap();
        Server::spawn(dir, config_path)
    }

    fn spawn(dir: tempfile::TempDir, config_path: PathBuf) -> Server {
        let (child, addr, log) = spawn_process(&config_path);
        Server {
            child,
            addr,
            dir,
            config_path,
            log,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        self.data_dir().join("mail").join(user)
    }

    pub fn target(&self) -> Target {
        Target::http(self.addr.to_string())
    }

    pub fn device(&self, user: &str, device_id: &str) -> Device {
        Device::new(self.target(), user, PASSWORD, device_id)
    }

    /// Runs `easd <args> --config <this config>` and returns (status, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
        cli(&self.config_path, args, stdin)
    }

    /// Lines logged so far that contain `needle`, waiting up to `wait` for one to appear.
    pub fn wait_log(&self, needle: &str, wait: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Kills the server (as a crash would) and starts it again on the same data; the port changes.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr, log) = spawn_process(&self.config_path);
        self.child = child;
        self.addr = addr;
        self.log = log;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_process(config_path: &Path) -> (Child, SocketAddr, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_easd"))
        .arg("serve")
        .arg("--config")
        .arg(config_path)
        .env(
            "EASD_LOG",
            std::env::var("EASD_TEST_LOG").unwrap_or_else(|_| "debug".into()),
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("start easd");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if std::env::var_os("EASD_TEST_ECHO").is_some() {
                eprintln!("{line}");
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("easd did not say where it listens");
        if let Some(a) = line.split("listening on http://").nth(1) {
            break a.trim().parse().unwrap();
        }
    };
    (child, addr, rx)
}

pub fn cli(config: &Path, args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_easd"));
    cmd.args(args).arg("--config").arg(config);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run easd");
    if let (Some(mut s), Some(data)) = (child.stdin.take(), stdin) {
        s.write_all(data).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a future on a fresh smol executor (the tests are synchronous).
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    smol::block_on(f)
}

/// libwbxml's XML for `wbxml` (`wbxml2xml` from libwbxml2-utils): an independent reading of what
/// easd wrote.
pub fn wbxml2xml(wbxml: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.wbxml"), wbxml).unwrap();
    let out = Command::new("wbxml2xml")
        .args(["-l", "ACTIVESYNC", "-m", "0", "-o", "out.xml", "in.wbxml"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run wbxml2xml ({e}): apt-get install -y libwbxml2-utils")
        });
    assert!(
        out.status.success(),
        "wbxml2xml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.path().join("out.xml")).unwrap()
}
