//! The vdir implementation of [`PimStore`]: a user's root directory holds one directory per
//! collection, each holding one `.vcf`/`.ics` file per item. Radicale's `.Radicale.props`
//! declares the collection's kind and name (vdirsyncer's `displayname` file is read too);
//! `.Radicale.cache`, `.Radicale.lock` and every other dotfile are left alone. Writes go to a
//! dot-named temp file in the collection, are synced, renamed into place, and the directory is
//! synced, so Radicale and easd each see an item whole or not at all.

use super::props::{self, Props};
use super::{
    CollectionName, Href, MAX_ITEM_BYTES, PimCollection, PimEntry, PimError, PimKind, PimStore,
    Stored,
};
use crate::items::uid::new_uid;
use crate::store::{DirStamp, file_version as version_of};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// vdirsyncer's per-collection display name file.
const VDIR_DISPLAYNAME: &str = "displayname";

/// Attempts at finding a free name before giving up.
const UNIQUE_ATTEMPTS: usize = 16;

/// The collections of one user under `root`.
pub struct Vdir {
    root: PathBuf,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PimError + 'a {
    move |e| PimError::io(op, path, e)
}

fn sync_dir(dir: &Path) -> Result<(), PimError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", dir))
}

/// Best-effort cleanup after a failed write; the original error matters more.
fn discard(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        log::warn!("cannot remove {}: {e}", path.display());
    }
}

fn mtime_secs(meta: &fs::Metadata) -> u64 {
    u64::try_from(meta.mtime()).unwrap_or(0)
}

/// Changes whenever the file is replaced (new inode) or rewritten in place (mtime, size).
/// A file-name stem from a UID when it is plain enough to be one (what most CalDAV clients
/// do, so Radicale URLs stay readable), else a fresh UUID.
fn stem_from(uid: &str) -> String {
    let plain = !uid.is_empty()
        && uid.len() <= 200
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
        && !uid.starts_with('.');
    if plain { uid.to_string() } else { new_uid() }
}

/// A directory name from a display name: letters, digits, `-` and `_` kept, the rest `-`.
fn slug(display: &str) -> String {
    let s: String = display
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() || s.len() > 100 {
        new_uid()
    } else {
        s
    }
}

/// The kind of a directory without Radicale properties: from its name, else from its items.
fn guess_kind(name: &str, dir: &Path) -> PimKind {
    let lower = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&["contact", "addressbook", "card"]) {
        return PimKind::Contacts;
    }
    if has(&["task", "todo"]) {
        return PimKind::Tasks;
    }
    if has(&["note", "journal"]) {
        return PimKind::Notes;
    }
    let vcf = fs::read_dir(dir).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_ascii_lowercase())
            .find(|n| !n.starts_with('.') && (n.ends_with(".vcf") || n.ends_with(".ics")))
            .map(|n| n.ends_with(".vcf"))
    });
    if vcf == Some(true) {
        PimKind::Contacts
    } else {
        PimKind::Calendar
    }
}

impl Vdir {
    pub fn new(root: PathBuf) -> Vdir {
        Vdir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, coll: &CollectionName) -> PathBuf {
        self.root.join(coll.as_str())
    }

    /// The collection's directory, which must exist.
    fn existing_dir(&self, coll: &CollectionName) -> Result<PathBuf, PimError> {
        let dir = self.dir(coll);
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(dir),
            Ok(_) => Err(PimError::CollectionNotFound(coll.clone())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(PimError::CollectionNotFound(coll.clone()))
            }
            Err(e) => Err(PimError::io("stat", &dir, e)),
        }
    }

    fn read_props(&self, dir: &Path) -> Result<Option<Props>, PimError> {
        let path = dir.join(props::FILE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Props::parse(&text))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(Some(Props::default())),
            Err(e) => Err(PimError::io("read", &path, e)),
        }
    }

    /// Writes `data` to `dir/name` through a synced temp file and a rename, then syncs `dir`.
    fn write_file(&self, dir: &Path, name: &str, data: &[u8]) -> Result<fs::Metadata, PimError> {
        let tmp = dir.join(format!(".easd-tmp-{}", new_uid()));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let written = file.write_all(data).and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written {
            discard(&tmp);
            return Err(PimError::io("write", &tmp, e));
        }
        let dest = dir.join(name);
        if let Err(e) = fs::rename(&tmp, &dest) {
            discard(&tmp);
            return Err(PimError::io("rename", &dest, e));
        }
        sync_dir(dir)?;
        fs::metadata(&dest).map_err(io_err("stat", &dest))
    }

    fn make_collection(&self, name: &str, kind: PimKind, display: &str) -> Result<(), PimError> {
        let dir = self.root.join(name);
        fs::create_dir(&dir).map_err(io_err("mkdir", &dir))?;
        self.write_file(
            &dir,
            props::FILE,
            Props::new(kind, display).write().as_bytes(),
        )?;
        sync_dir(&self.root)
    }

    fn collection_at(&self, name: CollectionName, dir: &Path) -> Result<PimCollection, PimError> {
        let meta = fs::metadata(dir).map_err(io_err("stat", dir))?;
        let props = self.read_props(dir)?;
        let kind = props
            .as_ref()
            .and_then(Props::kind)
            .unwrap_or_else(|| guess_kind(name.as_str(), dir));
        let vdir_display = || {
            fs::read_to_string(dir.join(VDIR_DISPLAYNAME))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let display = props
            .as_ref()
            .and_then(Props::display_name)
            .map(str::to_string)
            .or_else(vdir_display)
            .unwrap_or_else(|| name.as_str().to_string());
        Ok(PimCollection {
            name,
            display,
            kind,
            identity: Some(meta.ino()),
        })
    }

    fn stored(href: Href, meta: &fs::Metadata) -> Stored {
        Stored {
            href,
            version: version_of(meta),
            mtime: mtime_secs(meta),
        }
    }
}

impl PimStore for Vdir {
    fn ensure_defaults(&self) -> Result<(), PimError> {
        fs::create_dir_all(&self.root).map_err(io_err("mkdir", &self.root))?;
        for kind in PimKind::ALL {
            let dir = self.root.join(kind.default_name());
            match fs::metadata(&dir) {
                Ok(m) if m.is_dir() => {
                    if self.read_props(&dir)?.is_none() {
                        let p = Props::new(kind, kind.default_display());
                        self.write_file(&dir, props::FILE, p.write().as_bytes())?;
                    }
                }
                Ok(_) => {
                    return Err(PimError::CollectionExists(CollectionName(
                        kind.default_name().to_string(),
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match self.make_collection(kind.default_name(), kind, kind.default_display()) {
                        Ok(()) => {}
                        // Another process made it meanwhile.
                        Err(PimError::Io { source, .. })
                            if source.kind() == io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(PimError::io("stat", &dir, e)),
            }
        }
        Ok(())
    }

    fn collections(&self) -> Result<Vec<PimCollection>, PimError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(PimError::io("list", &self.root, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", &self.root))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Ok(name) = CollectionName::parse(&name) else {
                continue;
            };
            let dir = entry.path();
            match fs::metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(PimError::io("stat", &dir, e)),
            }
            match self.collection_at(name, &dir) {
                Ok(c) => out.push(c),
                Err(PimError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn create_collection(&self, display: &str, kind: PimKind) -> Result<PimCollection, PimError> {
        let display = display.trim();
        if display.is_empty() || display.chars().any(char::is_control) {
            return Err(PimError::InvalidName(display.to_string()));
        }
        fs::create_dir_all(&self.root).map_err(io_err("mkdir", &self.root))?;
        let base = slug(display);
        for attempt in 0..UNIQUE_ATTEMPTS {
            let name = if attempt == 0 {
                base.clone()
            } else {
                format!("{base}-{}", new_uid())
            };
            let name = CollectionName::parse(&name)?;
            match self.make_collection(name.as_str(), kind, display) {
                Ok(()) => {
                    let dir = self.dir(&name);
                    return self.collection_at(name, &dir);
                }
                Err(PimError::Io { source, .. })
                    if source.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Err(PimError::CollectionExists(CollectionName(base)))
    }

    fn rename_collection(&self, name: &CollectionName, display: &str) -> Result<(), PimError> {
        let display = display.trim();
        if display.is_empty() || display.chars().any(char::is_control) {
            return Err(PimError::InvalidName(display.to_string()));
        }
        let dir = self.existing_dir(name)?;
        let current = self.collection_at(name.clone(), &dir)?;
        if current.is_default() {
            return Err(PimError::Protected(name.clone()));
        }
        let mut p = self
            .read_props(&dir)?
            .unwrap_or_else(|| Props::new(current.kind, display));
        p.set(props::DISPLAYNAME, display);
        self.write_file(&dir, props::FILE, p.write().as_bytes())?;
        Ok(())
    }

    fn delete_collection(&self, name: &CollectionName) -> Result<(), PimError> {
        let dir = self.existing_dir(name)?;
        if self.collection_at(name.clone(), &dir)?.is_default() {
            return Err(PimError::Protected(name.clone()));
        }
        // Out of sight in one rename, then removed: no reader sees half a collection.
        let gone = self.root.join(format!(".easd-deleted-{}", new_uid()));
        fs::rename(&dir, &gone).map_err(io_err("rename", &dir))?;
        sync_dir(&self.root)?;
        fs::remove_dir_all(&gone).map_err(io_err("remove", &gone))
    }

    fn stamp(&self, coll: &CollectionName) -> Result<DirStamp, PimError> {
        let dir = self.existing_dir(coll)?;
        DirStamp::of_dirs(&[&dir]).map_err(io_err("stat", &dir))
    }

    fn list(&self, coll: &CollectionName) -> Result<Vec<PimEntry>, PimError> {
        let dir = self.existing_dir(coll)?;
        let entries = fs::read_dir(&dir).map_err(io_err("list", &dir))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list", &dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name == VDIR_DISPLAYNAME || name == "color" {
                continue;
            }
            let Ok(href) = Href::parse(&name) else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(PimError::io("stat", &entry.path(), e)),
            };
            if !meta.is_file() {
                continue;
            }
            out.push(PimEntry {
                href,
                version: version_of(&meta),
                mtime: mtime_secs(&meta),
            });
        }
        Ok(out)
    }

    fn read(&self, coll: &CollectionName, href: &Href) -> Result<String, PimError> {
        let path = self.dir(coll).join(href.as_str());
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PimError::ItemNotFound(href.clone()));
            }
            Err(e) => return Err(PimError::io("open", &path, e)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_ITEM_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_err("read", &path))?;
        if bytes.len() as u64 > MAX_ITEM_BYTES {
            return Err(PimError::TooLarge(href.clone()));
        }
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn create(&self, coll: &CollectionName, uid: &str, data: &str) -> Result<Stored, PimError> {
        let dir = self.existing_dir(coll)?;
        let ext = match self.collection_at(coll.clone(), &dir)?.kind {
            PimKind::Contacts => "vcf",
            _ => "ics",
        };
        let stem = stem_from(uid);
        for attempt in 0..UNIQUE_ATTEMPTS {
            let name = if attempt == 0 {
                format!("{stem}.{ext}")
            } else {
                format!("{}.{ext}", new_uid())
            };
            let href = Href::parse(&name)?;
            if fs::symlink_metadata(dir.join(&name)).is_ok() {
                continue;
            }
            let meta = self.write_file(&dir, &name, data.as_bytes())?;
            return Ok(Vdir::stored(href, &meta));
        }
        Err(PimError::InvalidName(stem))
    }

    fn replace(&self, coll: &CollectionName, href: &Href, data: &str) -> Result<Stored, PimError> {
        let dir = self.existing_dir(coll)?;
        match fs::metadata(dir.join(href.as_str())) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(PimError::ItemNotFound(href.clone())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(PimError::ItemNotFound(href.clone()));
            }
            Err(e) => return Err(PimError::io("stat", &dir.join(href.as_str()), e)),
        }
        let meta = self.write_file(&dir, href.as_str(), data.as_bytes())?;
        Ok(Vdir::stored(href.clone(), &meta))
    }

    fn delete(&self, coll: &CollectionName, href: &Href) -> Result<(), PimError> {
        let dir = self.existing_dir(coll)?;
        let path = dir.join(href.as_str());
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(PimError::ItemNotFound(href.clone()))
            }
            Err(e) => Err(PimError::io("unlink", &path, e)),
        }
    }
}
