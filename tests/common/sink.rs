//! tests/smtp_sink.py (aiosmtpd) as a smarthost for tests that run the real server: started per
//! test on loopback, messages read back with their envelopes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub struct Sink {
    child: Child,
    pub port: u16,
    pub dir: TempDir,
}

/// A message as the sink stored it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    /// MAIL FROM parameters (SIZE=..., BODY=...).
    pub options: Vec<String>,
    pub rcpts: Vec<String>,
    /// The AUTH login, empty without AUTH.
    pub auth: String,
    pub tls: bool,
    pub data: Vec<u8>,
}

impl Sink {
    pub fn start() -> Sink {
        Sink::start_with(&[])
    }

    /// With smtp_sink.py's options (`--auth user:pass`, `--login-only`, `--starttls CERT KEY`).
    pub fn start_with(args: &[&str]) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run python3 ({e}): install python3 and `pip install aiosmtpd`")
            });
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Ok(port) = line.trim().parse::<u16>() else {
            let _ = child.kill();
            let status = child.wait().unwrap();
            panic!(
                "smtp_sink.py did not start ({status}); it needs aiosmtpd: pip install aiosmtpd"
            );
        };
        Sink { child, port, dir }
    }

    /// The `[smtp]` table for a server using this sink; `extra` adds keys.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\ntimeout_secs = 10\n{extra}\n",
            self.port
        )
    }

    /// Lets recipients starting with "tempfail" through from now on.
    pub fn accept_tempfail(&self) {
        std::fs::write(self.dir.path().join("ACCEPT_TEMPFAIL"), "").unwrap();
    }

    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "env"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|env| {
                let mut r = Received {
                    from: String::new(),
                    options: Vec::new(),
                    rcpts: Vec::new(),
                    auth: String::new(),
                    tls: false,
                    data: std::fs::read(env.with_extension("eml")).unwrap(),
                };
                for line in std::fs::read_to_string(env).unwrap().lines() {
                    let (key, value) = line.split_once(' ').unwrap();
                    match key {
                        "from" => r.from = value.into(),
                        "option" => r.options.push(value.into()),
                        "rcpt" => r.rcpts.push(value.into()),
                        "auth" => r.auth = value.into(),
                        "tls" => r.tls = value == "yes",
                        _ => panic!("unknown line {line:?}"),
                    }
                }
                r
            })
            .collect()
    }

    /// Waits up to `wait` for `n` messages.
    pub fn wait_for(&self, n: usize, wait: Duration) -> Vec<Received> {
        let deadline = Instant::now() + wait;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
