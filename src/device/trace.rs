//! Each device's EAS trace (the guide's "Journaux" button): the request and response summaries
//! and decoded XML, appended to `<data_dir>/logs/<DeviceId>.log`. A file that grows past its
//! limit becomes `<DeviceId>.log.1` (replacing the older one), so a device keeps at most twice
//! the limit on disk. Entries are rendered and written by one background thread, so neither the
//! XML of a large Sync nor the file's system calls hold up the async threads. The thread takes
//! whatever has queued up and writes each device's entries with one open and one write: a request
//! makes two entries, and a phone woken by push sends a Sync and a Ping right after its answer, so
//! in a burst one device's entries arrive close together, and the writer lets them gather (entry
//! by entry, a file's open, size check, directory check and close were a sixth of the server's
//! CPU while 1,000 phones were woken).

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
/// Most entries the writer takes at once.
const BATCH: usize = 1024;
/// When more entries are already waiting behind the first, how long the writer lets a burst
/// gather before it writes: a woken phone's four entries (the Ping's answer, its Sync both ways,
/// its next Ping) then share one open of its file.
const GATHER: std::time::Duration = std::time::Duration::from_millis(50);

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
                let mut batch = Vec::with_capacity(BATCH);
                while let Ok(first) = rx.recv_blocking() {
                    batch.push(first);
                    if !rx.is_empty() {
                        std::thread::sleep(GATHER);
                    }
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    write_batch(&dir, &mut batch);
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

/// Renders and appends every entry of `batch` (emptied), each device's in one write, in the order
/// they were recorded.
fn write_batch(dir: &Path, batch: &mut Vec<(DeviceId, Render)>) {
    // A stable sort keeps each device's entries in their order.
    batch.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    let mut entries = batch.drain(..).peekable();
    while let Some((id, render)) = entries.next() {
        push_entry(&mut text, &render());
        if entries.peek().is_none_or(|(next, _)| *next != id) {
            write_text(dir, &id, &text);
            text.clear();
        }
    }
}

/// Appends one entry to `text`, cut at `MAX_ENTRY_BYTES`, with its newline.
fn push_entry(text: &mut String, entry: &str) {
    let mut cut = entry.len().min(MAX_ENTRY_BYTES);
    while !entry.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(entry.get(..cut).unwrap_or(""));
    if cut < entry.len() {
        text.push_str("\n[cut]");
    }
    text.push('\n');
}

/// Appends `text` to the device's trace; failures are logged, never passed on (the trace must
/// not break sync).
fn write_text(dir: &Path, id: &DeviceId, text: &str) {
    if let Err(e) = try_write_text(dir, id, text) {
        log::warn!("device trace for {id}: {e}");
    }
}

fn try_write_text(dir: &Path, id: &DeviceId, text: &str) -> std::io::Result<()> {
    let path = path(dir, id);
    let open = || OpenOptions::new().create(true).append(true).open(&path);
    let mut f = match open() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dir)?;
            open()?
        }
        other => other?,
    };
    if f.metadata()?.len() >= ROTATE_BYTES {
        fs::rename(&path, path.with_extension("log.1"))?;
        f = open()?;
    }
    f.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_entry(dir: &Path, id: &DeviceId, entry: &str) {
        let mut text = String::new();
        push_entry(&mut text, entry);
        write_text(dir, id, &text);
    }

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
    fn a_batch_writes_each_devices_entries_in_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        let (a, b) = (DeviceId::parse("a").unwrap(), DeviceId::parse("b").unwrap());
        let mut batch: Vec<(DeviceId, Render)> = Vec::new();
        for i in 0..4 {
            let id = if i % 2 == 0 { &a } else { &b };
            batch.push((id.clone(), Box::new(move || format!("entry {i}"))));
        }
        write_batch(&logs, &mut batch);
        assert!(batch.is_empty());
        let log = TraceLog::new(logs);
        assert_eq!(log.read(&a).unwrap(), "entry 0\nentry 2\n");
        assert_eq!(log.read(&b).unwrap(), "entry 1\nentry 3\n");
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
