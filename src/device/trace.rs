//! Each device's EAS trace (the guide's "Journaux" button): the request and response summaries
//! and decoded XML, appended to `<data_dir>/logs/<DeviceId>.log`. A file that grows past its
//! limit becomes `<DeviceId>.log.1` (replacing the older one), so a device keeps at most twice
//! the limit on disk. Entries are rendered and written by one background thread, so neither the
//! XML of a large Sync nor the file's system calls hold up the async threads.

use super::DeviceId;
use smol::channel::{Sender, TrySendError};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Size at which a trace file is rotated.
const ROTATE_BYTES: u64 = 512 * 1024;
/// Longest entry kept; a huge body is cut, the trace is for reading, not replaying.
const MAX_ENTRY_BYTES: usize = 32 * 1024;
/// Entries waiting for the writer; past this a burst's entries are dropped (and counted) rather
/// than held in memory.
const QUEUE: usize = 4096;

/// An entry to render on the writer thread.
type Render = Box<dyn FnOnce() -> String + Send>;

pub struct TraceLog {
    dir: PathBuf,
    writer: OnceLock<Option<Sender<(DeviceId, Render)>>>,
    dropped: AtomicU64,
}

impl TraceLog {
    pub fn new(dir: PathBuf) -> TraceLog {
        TraceLog {
            dir,
            writer: OnceLock::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an entry, rendered later by `render` on the writer thread.
    pub fn record(&self, id: DeviceId, render: impl FnOnce() -> String + Send + 'static) {
        let Some(writer) = self.writer.get_or_init(|| self.start_writer()) else {
            return;
        };
        match writer.try_send((id, Box::new(render))) {
            Ok(()) => {}
            Err(TrySendError::Full((id, _))) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    log::warn!(
                        "device trace: writer behind, {n} entries dropped so far (last for {id})"
                    );
                }
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }

    fn start_writer(&self) -> Option<Sender<(DeviceId, Render)>> {
        let (tx, rx) = smol::channel::bounded::<(DeviceId, Render)>(QUEUE);
        let dir = self.dir.clone();
        let started = std::thread::Builder::new()
            .name("easd-trace".into())
            .spawn(move || {
                crate::work::lower_this_thread();
                while let Ok((id, render)) = rx.recv_blocking() {
                    write_entry(&dir, &id, &render());
                }
            });
        match started {
            Ok(_) => Some(tx),
            Err(e) => {
                log::warn!("device trace disabled: cannot start its writer: {e}");
                None
            }
        }
    }

    /// The device's trace, older part first.
    pub fn read(&self, id: &DeviceId) -> std::io::Result<String> {
        let path = path(&self.dir, id);
        let mut out = fs::read_to_string(path.with_extension("log.1")).unwrap_or_default();
        match fs::read_to_string(&path) {
            Ok(t) => out.push_str(&t),
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => {}
        }
        Ok(out)
    }
}

fn path(dir: &Path, id: &DeviceId) -> PathBuf {
    // DeviceId allows only [A-Za-z0-9._-] and never "." or "..": safe as a file name.
    dir.join(format!("{id}.log"))
}

/// Appends one entry; failures are logged, never passed on (the trace must not break sync).
fn write_entry(dir: &Path, id: &DeviceId, entry: &str) {
    if let Err(e) = try_write_entry(dir, id, entry) {
        log::warn!("device trace for {id}: {e}");
    }
}

fn try_write_entry(dir: &Path, id: &DeviceId, entry: &str) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let path = path(dir, id);
    if fs::metadata(&path).is_ok_and(|m| m.len() >= ROTATE_BYTES) {
        fs::rename(&path, path.with_extension("log.1"))?;
    }
    let mut cut = entry.len().min(MAX_ENTRY_BYTES);
    while !entry.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
    let text = entry.get(..cut).unwrap_or("");
    let tail = if cut < entry.len() { "\n[cut]" } else { "" };
    writeln!(f, "{text}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_rotates_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let log = TraceLog::new(dir.path().join("logs"));
        let id = DeviceId::parse("dev1").unwrap();
        assert!(log.read(&id).is_err());
        write_entry(&log.dir, &id, "first");
        write_entry(&log.dir, &id, "second");
        assert_eq!(log.read(&id).unwrap(), "first\nsecond\n");
        let big = "x".repeat(MAX_ENTRY_BYTES * 2);
        for _ in 0..(2 * ROTATE_BYTES as usize / MAX_ENTRY_BYTES + 4) {
            write_entry(&log.dir, &id, &big);
        }
        write_entry(&log.dir, &id, "last");
        let text = log.read(&id).unwrap();
        assert!(text.ends_with("last\n"));
        assert!(!text.contains("first"));
        assert!(text.len() as u64 <= 2 * ROTATE_BYTES + 2 * MAX_ENTRY_BYTES as u64);
        assert!(dir.path().join("logs/dev1.log.1").exists());
    }

    #[test]
    fn recorded_entries_are_rendered_and_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = TraceLog::new(dir.path().join("logs"));
        let id = DeviceId::parse("dev2").unwrap();
        for i in 0..50 {
            log.record(id.clone(), move || format!("entry {i}"));
        }
        let want: String = (0..50).map(|i| format!("entry {i}\n")).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while log.read(&id).ok().as_deref() != Some(want.as_str()) {
            assert!(std::time::Instant::now() < deadline, "{:?}", log.read(&id));
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
