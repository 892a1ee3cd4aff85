//! What the end-to-end benches share: the `easd` binary cargo built for them, started on a config
//! of their own, and its peak memory and CPU time as /proc reports them (through easd's own
//! `bench::procfs`, the reader `easd bench --server-pid` uses).

use easd::bench::procfs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub const PASSWORD: &str = "bench password";

/// The argon2id hash of [`PASSWORD`], from `easd hash-password`.
pub fn hash() -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_easd"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("easd hash-password");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(PASSWORD.as_bytes())
        .expect("write");
    let out = c.wait_with_output().expect("hash");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes `dir/easd.toml`: easd on loopback (any port, UDP too) with `data` as its data directory,
/// `users` each with [`PASSWORD`], and `extra` TOML tables such as `[dav]`. Returns its path.
pub fn write_config(dir: &Path, data: &Path, users: &[&str], extra: &str) -> PathBuf {
    let hash = hash();
    let mut text = format!(
        "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"bench\"\ndata_dir = \"{}\"\n[push]\nudp_listen = \"127.0.0.1:0\"\n{extra}[log]\nlevel = \"info\"\n",
        data.display()
    );
    for user in users {
        text.push_str(&format!(
            "[[user]]\nemail = \"{user}\"\npassword_hash = \"{hash}\"\n"
        ));
    }
    let config = dir.join("easd.toml");
    std::fs::write(&config, text).expect("config");
    config
}

/// A running `easd serve`, stopped when dropped.
pub struct Easd {
    child: Child,
    /// host:port of its plain-HTTP listener.
    pub addr: String,
}

impl Easd {
    /// Starts `easd serve --config config` and waits until it logs its listener.
    pub fn start(config: &Path) -> Easd {
        let mut child = Command::new(env!("CARGO_BIN_EXE_easd"))
            .args(["serve", "--config"])
            .arg(config)
            .env("EASD_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start easd");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let addr = loop {
            let line = lines.next().expect("easd exited").expect("read log");
            if let Some(a) = line.split("listening on http://").nth(1) {
                break a.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Easd { child, addr }
    }

    fn snapshot(&self) -> Option<procfs::Snapshot> {
        procfs::snapshot(self.child.id(), Instant::now()).ok()
    }

    /// Peak resident memory (VmHWM) in kB.
    pub fn peak_rss_kb(&self) -> u64 {
        self.snapshot().map_or(0, |s| s.hwm_kb)
    }

    /// User plus system CPU seconds the server has used.
    pub fn cpu_secs(&self) -> f64 {
        self.snapshot().map_or(0.0, |s| s.cpu_s)
    }
}

impl Drop for Easd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
