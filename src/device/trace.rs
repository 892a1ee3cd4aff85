//! Each device's EAS trace (the guide's "Journaux" button): the request and response summaries
//! and decoded XML, appended to `<data_dir>/logs/<DeviceId>.log`. A file that grows past its
//! limit becomes `<DeviceId>.log.1` (replacing the older one), so a device keeps at most twice
//! the limit on disk.

use super::DeviceId;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

/// Size at which a trace file is rotated.
const ROTATE_BYTES: u64 = 512 * 1024;
/// Longest entry kept; a huge body is cut, the trace is for reading, not replaying.
const MAX_ENTRY_BYTES: usize = 32 * 1024;

pub struct TraceLog {
    dir: PathBuf,
}

impl TraceLog {
    pub fn new(dir: PathBuf) -> TraceLog {
        TraceLog { dir }
    }

    fn path(&self, id: &DeviceId) -> PathBuf {
        // DeviceId allows only [A-Za-z0-9._-] and never "." or "..": safe as a file name.
        self.dir.join(format!("{id}.log"))
    }

    /// Appends one entry; failures are logged, never passed on (the trace must not break sync).
    pub fn append(&self, id: &DeviceId, entry: &str) {
        if let Err(e) = self.try_append(id, entry) {
            log::warn!("device trace for {id}: {e}");
        }
    }

    fn try_append(&self, id: &DeviceId, entry: &str) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let path = self.path(id);
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

    /// The device's trace, older part first.
    pub fn read(&self, id: &DeviceId) -> std::io::Result<String> {
        let path = self.path(id);
        let mut out = fs::read_to_string(path.with_extension("log.1")).unwrap_or_default();
        match fs::read_to_string(&path) {
            Ok(t) => out.push_str(&t),
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => {}
        }
        Ok(out)
    }
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
        log.append(&id, "first");
        log.append(&id, "second");
        assert_eq!(log.read(&id).unwrap(), "first\nsecond\n");
        let big = "x".repeat(MAX_ENTRY_BYTES * 2);
        for _ in 0..(2 * ROTATE_BYTES as usize / MAX_ENTRY_BYTES + 4) {
            log.append(&id, &big);
        }
        log.append(&id, "last");
        let text = log.read(&id).unwrap();
        assert!(text.ends_with("last\n"));
        assert!(!text.contains("first"));
        assert!(text.len() as u64 <= 2 * ROTATE_BYTES + 2 * MAX_ENTRY_BYTES as u64);
        assert!(dir.path().join("logs/dev1.log.1").exists());
    }
}
