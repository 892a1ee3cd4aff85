//! Maildir++ on disk, shared with Postfix and Dovecot: INBOX is the root
//! (cur/ new/ tmp/), folders are `.Name` directories beside them. Every write
//! goes through tmp/ and a rename, and every lookup tolerates other programs
//! renaming or removing files at any moment.

use rustix::fs::{AtFlags, FileType};
use std::collections::BTreeSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{
    DirStamp, FlagUpdate, Flags, FolderName, FolderRole, FolderStamps, Listed, MailFolder,
    MailStore, MessageInfo, MessageKey, MessageRef, Renamed, StoreError,
};

/// Separates the base name from the flags in cur/ file names.
const INFO_SEP: char = ':';
/// Marks the "version 2" info that carries flags.
const INFO_FLAGS: &str = "2,";
/// Hostnames longer than this are cut so keys stay well under NAME_MAX.
const HOST_MAX: usize = 64;
/// Tries at a fresh unique name before giving up on a crowded tmp/.
const UNIQUE_ATTEMPTS: u32 = 8;

/// Expands a mail path template such as `/var/vmail/{domain}/{local}/Maildir`.
/// The template must name the user (`{email}` or `{local}`) so users never
/// share a Maildir, and the email must not be able to leave its directory.
pub fn expand_template(template: &str, email: &str) -> Result<PathBuf, StoreError> {
    let bad_email = || StoreError::InvalidEmail(email.to_string());
    let bad_template = || StoreError::InvalidTemplate(template.to_string());
    let (local, domain) = email.split_once('@').ok_or_else(bad_email)?;
    for part in [local, domain] {
        let unsafe_part = part.is_empty()
            || part == "."
            || part.contains("..")
            || part.contains(['/', '\\', '\0', '@'])
            || part.chars().any(char::is_control);
        if unsafe_part {
            return Err(bad_email());
        }
    }
    let mut out = String::with_capacity(template.len() + email.len());
    let mut names_user = false;
    let mut rest = template;
    while let Some((literal, tail)) = rest.split_once('{') {
        if literal.contains('}') {
            return Err(bad_template());
        }
        out.push_str(literal);
        let (placeholder, after) = tail.split_once('}').ok_or_else(bad_template)?;
        let value = match placeholder {
            "email" => email,
            "local" => local,
            "domain" => domain,
            _ => return Err(bad_template()),
        };
        names_user |= placeholder != "domain";
        out.push_str(value);
        rest = after;
    }
    if rest.contains('}') || !names_user {
        return Err(bad_template());
    }
    out.push_str(rest);
    Ok(PathBuf::from(out))
}

/// Delivers one message into `folder` (new/), creating the Maildir and the
/// folder when missing. For the `easd deliver` command.
pub fn deliver(root: &Path, folder: &FolderName, bytes: &[u8]) -> Result<MessageKey, StoreError> {
    let store = Maildir::new(root);
    make_maildir(root, false)?;
    let dir = store.folder_dir(folder);
    if !folder.is_inbox() {
        make_maildir(&dir, true)?;
    }
    store
        .store_new(&dir, bytes, Flags::EMPTY, true)
        .map(|r| r.key)
}

/// One user's Maildir++. Keep one per user and share it: the delivery
/// counter in new file names is per instance.
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    host: String,
    pid: u32,
    deliveries: AtomicU64,
}

/// Where a message file was found.
struct Located {
    path: PathBuf,
    name: String,
    in_new: bool,
    flags: Flags,
}

impl Maildir {
    /// Opens the Maildir at `root` without touching the disk.
    pub fn new(root: impl Into<PathBuf>) -> Maildir {
        Maildir {
            root: root.into(),
            host: sanitize_host(&hostname()),
            pid: std::process::id(),
            deliveries: AtomicU64::new(0),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn folder_dir(&self, folder: &FolderName) -> PathBuf {
        if folder.is_inbox() {
            self.root.clone()
        } else {
            self.root.join(folder.as_str())
        }
    }

    /// The folder's directory, after checking it holds a cur/.
    fn require_folder(&self, folder: &FolderName) -> Result<PathBuf, StoreError> {
        let dir = self.folder_dir(folder);
        match fs::metadata(dir.join("cur")) {
            Ok(meta) if meta.is_dir() => Ok(dir),
            Ok(_) => Err(StoreError::FolderNotFound(folder.clone())),
            Err(e) => Err(not_found_or(e, folder, "stat", &dir)),
        }
    }

    /// Every subfolder on disk (INBOX excluded), sorted.
    fn folder_names(&self) -> Result<Vec<FolderName>, StoreError> {
        Ok(self
            .folder_entries()?
            .into_iter()
            .map(|(name, _)| name)
            .collect())
    }

    /// Every subfolder on disk with its directory's inode number, sorted by name.
    fn folder_entries(&self) -> Result<Vec<(FolderName, u64)>, StoreError> {
        let entries = fs::read_dir(&self.root)
            .map_err(|e| not_found_or(e, &FolderName::inbox(), "read", &self.root))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("read", &self.root, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !name.starts_with('.') {
                continue;
            }
            let Ok(folder) = FolderName::parse(&name) else {
                continue;
            };
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_symlink() => fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()),
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            if is_dir {
                names.push((folder, entry.ino()));
            }
        }
        names.sort();
        Ok(names)
    }

    fn role_of(&self, folder: &FolderName) -> Result<FolderRole, StoreError> {
        if folder.is_inbox() {
            return Ok(FolderRole::Inbox);
        }
        let names = self.folder_names()?;
        Ok(assign_roles(&names)
            .into_iter()
            .find(|(name, _)| name == folder)
            .map_or(FolderRole::Normal, |(_, role)| role))
    }

    /// Refuses INBOX and default folders, and folders that do not exist.
    fn require_changeable(&self, folder: &FolderName) -> Result<PathBuf, StoreError> {
        let dir = self.require_folder(folder)?;
        match self.role_of(folder)? {
            FolderRole::Normal => Ok(dir),
            _ => Err(StoreError::ProtectedFolder(folder.clone())),
        }
    }

    fn descendants(&self, folder: &FolderName) -> Result<Vec<FolderName>, StoreError> {
        Ok(self
            .folder_names()?
            .into_iter()
            .filter(|n| n.is_descendant_of(folder))
            .collect())
    }

    /// Removes folders deepest first, each by renaming it into tmp/ so that it
    /// vanishes from view at once and a crash leaves no half-deleted folder.
    fn remove_folders(&self, mut doomed: Vec<FolderName>) -> Result<Vec<FolderName>, StoreError> {
        doomed.sort_by_key(|n| std::cmp::Reverse(n.as_str().len()));
        let tmp = self.root.join("tmp");
        for folder in &doomed {
            let dir = self.folder_dir(folder);
            let grave = tmp.join(format!("{}.deleted", self.unique_key(0)));
            match fs::rename(&dir, &grave) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("rename", &dir, e)),
            }
            fs::remove_dir_all(&grave).map_err(|e| StoreError::io("remove", &grave, e))?;
        }
        Ok(doomed)
    }

    fn unique_key(&self, size: usize) -> MessageKey {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let q = self.deliveries.fetch_add(1, Ordering::Relaxed);
        MessageKey(format!(
            "{}.M{}P{}Q{q}.{},S={size}",
            now.as_secs(),
            now.subsec_micros(),
            self.pid,
            self.host
        ))
    }

    /// Writes a message to tmp/, syncs it, renames it into new/ or cur/ and
    /// syncs that directory: readers see all of it or nothing.
    fn store_new(
        &self,
        dir: &Path,
        bytes: &[u8],
        flags: Flags,
        into_new: bool,
    ) -> Result<MessageRef, StoreError> {
        let (key, tmp_path, mut file) = self.create_tmp(&dir.join("tmp"), bytes.len())?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written {
            discard(&tmp_path);
            return Err(StoreError::io("write", &tmp_path, e));
        }
        let flags = if into_new { Flags::EMPTY } else { flags };
        let dest_dir = dir.join(if into_new { "new" } else { "cur" });
        let dest = dest_dir.join(file_name(&key, flags, into_new));
        if let Err(e) = fs::rename(&tmp_path, &dest) {
            discard(&tmp_path);
            return Err(StoreError::io("rename", &dest, e));
        }
        sync_dir(&dest_dir)?;
        Ok(MessageRef { key, flags })
    }

    fn create_tmp(
        &self,
        tmp_dir: &Path,
        size: usize,
    ) -> Result<(MessageKey, PathBuf, File), StoreError> {
        for _ in 0..UNIQUE_ATTEMPTS {
            let key = self.unique_key(size);
            let path = tmp_dir.join(key.as_str());
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => return Ok((key, path, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io("create", &path, e)),
            }
        }
        Err(StoreError::io(
            "create",
            tmp_dir,
            io::ErrorKind::AlreadyExists.into(),
        ))
    }

    /// Runs `op` on the message's file: first at the places its last known
    /// flags predict (no directory read), then after reading cur/ and new/,
    /// and once more after a fresh read in case it was renamed meanwhile.
    fn with_message<T>(
        &self,
        folder: &FolderName,
        msg: &MessageRef,
        what: &'static str,
        mut op: impl FnMut(&Located) -> io::Result<T>,
    ) -> Result<T, StoreError> {
        let dir = self.folder_dir(folder);
        for loc in guesses(&dir, msg) {
            match op(&loc) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(what, &loc.path, e)),
            }
        }
        for _ in 0..2 {
            let Some(loc) = self.scan_for(folder, &dir, &msg.key)? else {
                continue;
            };
            match op(&loc) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(what, &loc.path, e)),
            }
        }
        Err(StoreError::MessageNotFound(msg.key.clone()))
    }

    fn scan_for(
        &self,
        folder: &FolderName,
        dir: &Path,
        key: &MessageKey,
    ) -> Result<Option<Located>, StoreError> {
        for (sub, in_new) in [("cur", false), ("new", true)] {
            let subdir = dir.join(sub);
            let entries =
                fs::read_dir(&subdir).map_err(|e| not_found_or(e, folder, "read", &subdir))?;
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io("read", &subdir, e))?;
                let file_name = entry.file_name();
                let Some(name) = file_name.to_str() else {
                    continue;
                };
                let (base, info) = split_name(name);
                if base == key.as_str() {
                    return Ok(Some(Located {
                        path: entry.path(),
                        name: name.to_string(),
                        in_new,
                        flags: flags_of(info),
                    }));
                }
            }
        }
        Ok(None)
    }

    /// The messages in new/ (`in_new`) or cur/ of `folder`.
    fn list_subdir(&self, folder: &FolderName, in_new: bool) -> Result<Vec<Listed>, StoreError> {
        let subdir = self
            .folder_dir(folder)
            .join(if in_new { "new" } else { "cur" });
        let mut out = Vec::new();
        let mut dir =
            open_dir_noatime(&subdir).map_err(|e| not_found_or(e, folder, "read", &subdir))?;
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| StoreError::io("read", &subdir, e.into()))?;
            let is_dir = match entry.file_type() {
                FileType::Directory => true,
                // Filesystems that do not say: ask, as std's listing does.
                FileType::Unknown => dir.fd().is_ok_and(|fd| {
                    rustix::fs::statat(fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
                        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
                }),
                _ => false,
            };
            if is_dir {
                continue;
            }
            let Ok(name) = entry.file_name().to_str() else {
                log::debug!("skipping non-UTF-8 file name in {}", subdir.display());
                continue;
            };
            let (base, info) = split_name(name);
            match MessageKey::parse(base) {
                Ok(key) => out.push(Listed {
                    key,
                    flags: flags_of(info),
                    in_new,
                }),
                Err(_) if name.starts_with('.') => {}
                Err(e) => log::debug!("skipping {}: {e}", subdir.join(name).display()),
            }
        }
        Ok(out)
    }
}

impl MailStore for Maildir {
    fn folders(&self) -> Result<Vec<MailFolder>, StoreError> {
        let entries = self.folder_entries()?;
        let names: Vec<FolderName> = entries.iter().map(|(n, _)| n.clone()).collect();
        let roles = assign_roles(&names);
        let existing: BTreeSet<&FolderName> = names.iter().collect();
        let mut out = Vec::with_capacity(names.len() + 1);
        out.push(MailFolder {
            name: FolderName::inbox(),
            display: FolderName::inbox().display_name(),
            parent: None,
            role: FolderRole::Inbox,
            identity: None,
        });
        for (name, ino) in &entries {
            let mut parent = name.lexical_parent();
            while let Some(p) = parent.take_if(|p| !p.is_inbox() && !existing.contains(p)) {
                parent = p.lexical_parent();
            }
            let role = roles
                .iter()
                .find(|(n, _)| n == name)
                .map_or(FolderRole::Normal, |(_, role)| *role);
            out.push(MailFolder {
                name: name.clone(),
                display: name.display_name(),
                parent,
                role,
                identity: Some(*ino),
            });
        }
        Ok(out)
    }

    fn ensure_default_folders(&self) -> Result<(), StoreError> {
        make_maildir(&self.root, false)?;
        let folders = self.folders()?;
        for (role, names) in FolderRole::DEFAULTS {
            if folders.iter().any(|f| f.role == role) {
                continue;
            }
            let Some(canonical) = names.first() else {
                continue;
            };
            match self.create_folder(None, canonical) {
                Ok(_) | Err(StoreError::FolderExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn create_folder(
        &self,
        parent: Option<&FolderName>,
        display: &str,
    ) -> Result<FolderName, StoreError> {
        let name = FolderName::child(parent, display)?;
        match parent {
            Some(p) if !p.is_inbox() => {
                self.require_folder(p)?;
            }
            _ => {}
        }
        let target = self.folder_dir(&name);
        if fs::symlink_metadata(&target).is_ok() {
            return Err(StoreError::FolderExists(name));
        }
        let staging = self
            .root
            .join("tmp")
            .join(format!("{}.folder", self.unique_key(0)));
        if let Err(e) = make_maildir(&staging, true) {
            discard_dir(&staging);
            return Err(e);
        }
        if let Err(e) = fs::rename(&staging, &target) {
            discard_dir(&staging);
            return Err(match e.kind() {
                io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty => {
                    StoreError::FolderExists(name)
                }
                _ => StoreError::io("rename", &target, e),
            });
        }
        Ok(name)
    }

    fn rename_folder(
        &self,
        folder: &FolderName,
        new_parent: Option<&FolderName>,
        display: &str,
    ) -> Result<Vec<Renamed>, StoreError> {
        if folder.is_inbox() {
            return Err(StoreError::ProtectedFolder(folder.clone()));
        }
        self.require_changeable(folder)?;
        let target = FolderName::child(new_parent, display)?;
        if &target == folder {
            return Ok(Vec::new());
        }
        if target.is_descendant_of(folder) {
            return Err(StoreError::MoveIntoSelf(folder.clone()));
        }
        match new_parent {
            Some(p) if !p.is_inbox() => {
                self.require_folder(p)?;
            }
            _ => {}
        }
        let mut moves = vec![Renamed {
            from: folder.clone(),
            to: target.clone(),
        }];
        for sub in self.descendants(folder)? {
            let to = sub
                .rebased(folder, &target)
                .ok_or_else(|| StoreError::InvalidFolderName(sub.to_string()))?;
            moves.push(Renamed { from: sub, to });
        }
        if let Some(clash) = moves
            .iter()
            .find(|m| fs::symlink_metadata(self.folder_dir(&m.to)).is_ok())
        {
            return Err(StoreError::FolderExists(clash.to.clone()));
        }
        for m in &moves {
            let from = self.folder_dir(&m.from);
            let to = self.folder_dir(&m.to);
            fs::rename(&from, &to).map_err(|e| StoreError::io("rename", &from, e))?;
        }
        Ok(moves)
    }

    fn delete_folder(&self, folder: &FolderName) -> Result<Vec<FolderName>, StoreError> {
        if folder.is_inbox() {
            return Err(StoreError::ProtectedFolder(folder.clone()));
        }
        self.require_changeable(folder)?;
        let mut doomed = self.descendants(folder)?;
        doomed.push(folder.clone());
        self.remove_folders(doomed)
    }

    fn hierarchy_stamp(&self) -> Result<DirStamp, StoreError> {
        DirStamp::of_dirs(&[&self.root])
            .map_err(|e| not_found_or(e, &FolderName::inbox(), "stat", &self.root))
    }

    fn stamps(&self, folder: &FolderName) -> Result<FolderStamps, StoreError> {
        let dir = self.folder_dir(folder);
        let stat = |sub: &str| fs::metadata(dir.join(sub));
        let (cur, new) = stat("cur")
            .and_then(|cur| Ok((cur, stat("new")?)))
            .map_err(|e| not_found_or(e, folder, "stat", &dir))?;
        Ok(FolderStamps {
            whole: DirStamp::of_metadata(&[&cur, &new]),
            settled: DirStamp::of_metadata(&[&cur]),
        })
    }

    fn list_new(&self, folder: &FolderName) -> Result<Vec<Listed>, StoreError> {
        self.list_subdir(folder, true)
    }

    fn list_cur(&self, folder: &FolderName) -> Result<Vec<Listed>, StoreError> {
        self.list_subdir(folder, false)
    }

    fn read(&self, folder: &FolderName, msg: &MessageRef) -> Result<Vec<u8>, StoreError> {
        self.with_message(folder, msg, "read", |loc| fs::read(&loc.path))
    }

    fn open(&self, folder: &FolderName, msg: &MessageRef) -> Result<File, StoreError> {
        self.with_message(folder, msg, "open", |loc| open_noatime(&loc.path, 0))
    }

    /// Served from the name when it carries both values, without checking
    /// that the file still exists.
    fn info(&self, folder: &FolderName, msg: &MessageRef) -> Result<MessageInfo, StoreError> {
        if let (Some(received), Some(size)) = (msg.key.received_hint(), msg.key.size_hint()) {
            return Ok(MessageInfo { received, size });
        }
        let meta = self.with_message(folder, msg, "stat", |loc| fs::metadata(&loc.path))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        Ok(MessageInfo {
            received: msg.key.received_hint().unwrap_or(mtime),
            size: msg.key.size_hint().unwrap_or(meta.len()),
        })
    }

    fn append(
        &self,
        folder: &FolderName,
        bytes: &[u8],
        flags: Flags,
    ) -> Result<MessageRef, StoreError> {
        let dir = self.require_folder(folder)?;
        self.store_new(&dir, bytes, flags, false)
    }

    fn set_flags(
        &self,
        folder: &FolderName,
        msg: &MessageRef,
        update: FlagUpdate,
    ) -> Result<Flags, StoreError> {
        let cur = self.folder_dir(folder).join("cur");
        self.with_message(folder, msg, "rename", |loc| {
            let flags = update.apply(loc.flags);
            let target = cur.join(file_name(&msg.key, flags, false));
            if target == loc.path {
                fs::symlink_metadata(&loc.path)?;
            } else {
                fs::rename(&loc.path, &target)?;
            }
            Ok(flags)
        })
    }

    fn move_to(
        &self,
        from: &FolderName,
        msg: &MessageRef,
        to: &FolderName,
    ) -> Result<MessageRef, StoreError> {
        let to_dir = self.require_folder(to)?;
        if from == to {
            return self.with_message(from, msg, "stat", |loc| {
                fs::symlink_metadata(&loc.path)?;
                Ok(MessageRef {
                    key: msg.key.clone(),
                    flags: loc.flags,
                })
            });
        }
        self.with_message(from, msg, "rename", |loc| {
            let sub = to_dir.join(if loc.in_new { "new" } else { "cur" });
            let mut key = msg.key.clone();
            let mut dest = sub.join(&loc.name);
            if fs::symlink_metadata(&dest).is_ok() {
                let size = match msg.key.size_hint() {
                    Some(size) => size,
                    None => fs::metadata(&loc.path)?.len(),
                };
                key = self.unique_key(usize::try_from(size).unwrap_or(usize::MAX));
                dest = sub.join(file_name(&key, loc.flags, loc.in_new));
            }
            fs::rename(&loc.path, &dest)?;
            Ok(MessageRef {
                key,
                flags: loc.flags,
            })
        })
    }

    fn delete(&self, folder: &FolderName, msg: &MessageRef) -> Result<(), StoreError> {
        self.with_message(folder, msg, "remove", |loc| fs::remove_file(&loc.path))
    }

    fn empty_folder(
        &self,
        folder: &FolderName,
        subfolders: bool,
    ) -> Result<Vec<FolderName>, StoreError> {
        let dir = self.require_folder(folder)?;
        for sub in ["cur", "new"] {
            let subdir = dir.join(sub);
            let entries =
                fs::read_dir(&subdir).map_err(|e| not_found_or(e, folder, "read", &subdir))?;
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io("read", &subdir, e))?;
                if entry.file_name().to_string_lossy().starts_with('.')
                    || entry.file_type().is_ok_and(|t| t.is_dir())
                {
                    continue;
                }
                match fs::remove_file(entry.path()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(StoreError::io("remove", &entry.path(), e)),
                }
            }
        }
        if subfolders {
            self.remove_folders(self.descendants(folder)?)
        } else {
            Ok(Vec::new())
        }
    }
}

/// Gives each default role to at most one top-level folder: the one whose
/// name comes earliest in the role's list of names, ties broken by name.
fn assign_roles(names: &[FolderName]) -> Vec<(FolderName, FolderRole)> {
    let mut out = Vec::new();
    for (role, role_names) in FolderRole::DEFAULTS {
        let best = names
            .iter()
            .filter(|n| n.is_top_level())
            .filter_map(|n| {
                let display = n.display_name();
                role_names
                    .iter()
                    .position(|r| r.eq_ignore_ascii_case(&display))
                    .map(|rank| (rank, n))
            })
            .min();
        if let Some((_, name)) = best {
            out.push((name.clone(), role));
        }
    }
    out
}

/// The two places a message with the given flags normally is.
/// Where a message most likely is: in cur/ under its flags, in new/ as delivered, or in new/ with
/// the flags it was listed with (some delivery tools write the info part there too). Each miss
/// costs one failed system call; a wrong guess on all three costs a listing of the folder.
fn guesses(dir: &Path, msg: &MessageRef) -> [Located; 3] {
    let cur_name = file_name(&msg.key, msg.flags, false);
    [
        Located {
            path: dir.join("cur").join(&cur_name),
            name: cur_name.clone(),
            in_new: false,
            flags: msg.flags,
        },
        Located {
            path: dir.join("new").join(msg.key.as_str()),
            name: msg.key.as_str().to_string(),
            in_new: true,
            flags: Flags::EMPTY,
        },
        Located {
            path: dir.join("new").join(&cur_name),
            name: cur_name,
            in_new: true,
            flags: msg.flags,
        },
    ]
}

fn file_name(key: &MessageKey, flags: Flags, in_new: bool) -> String {
    if in_new {
        key.as_str().to_string()
    } else {
        format!("{key}{INFO_SEP}{INFO_FLAGS}{flags}")
    }
}

fn split_name(name: &str) -> (&str, Option<&str>) {
    match name.split_once(INFO_SEP) {
        Some((base, info)) => (base, Some(info)),
        None => (name, None),
    }
}

fn flags_of(info: Option<&str>) -> Flags {
    info.and_then(|i| i.strip_prefix(INFO_FLAGS))
        .map_or(Flags::EMPTY, Flags::parse)
}

/// Creates a Maildir (and for folders the Maildir++ `maildirfolder` marker)
/// where parts may already exist.
fn make_maildir(dir: &Path, subfolder: bool) -> Result<(), StoreError> {
    let mut builder = DirBuilder::new();
    builder.recursive(true).mode(0o700);
    for sub in ["cur", "new", "tmp"] {
        let path = dir.join(sub);
        builder
            .create(&path)
            .map_err(|e| StoreError::io("create", &path, e))?;
    }
    if subfolder {
        let marker = dir.join("maildirfolder");
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&marker)
        {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StoreError::io("create", &marker, e)),
        }
    }
    Ok(())
}

/// Opens `path` for reading, with `flags` added, without updating its access time where the
/// kernel allows it (the process owns the file), else as usual. The search index and a search
/// before it read every message of a folder, and each first read would otherwise write the
/// inode back; under `relatime` so did the first listing of a directory after each delivery, a
/// journal write on a held Ping's wake-up (a fifth of its check in a burst of deliveries).
fn open_noatime(path: &Path, flags: libc::c_int) -> io::Result<File> {
    let open = |flags| OpenOptions::new().read(true).custom_flags(flags).open(path);
    match open(flags | libc::O_NOATIME) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(flags),
        other => other,
    }
}

/// Directory `path`, opened for listing without updating its access time (see
/// [`open_noatime`]).
fn open_dir_noatime(path: &Path) -> io::Result<rustix::fs::Dir> {
    Ok(rustix::fs::Dir::new(open_noatime(
        path,
        libc::O_DIRECTORY,
    )?)?)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync", dir, e))
}

/// Best-effort cleanup after a failed write; the original error matters more.
fn discard(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        log::warn!("cannot remove {}: {e}", path.display());
    }
}

fn discard_dir(path: &Path) {
    if let Err(e) = fs::remove_dir_all(path) {
        log::warn!("cannot remove {}: {e}", path.display());
    }
}

fn not_found_or(e: io::Error, folder: &FolderName, op: &'static str, path: &Path) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        StoreError::FolderNotFound(folder.clone())
    } else {
        StoreError::io(op, path, e)
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call;
    // gethostname writes at most `len` bytes into it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(buf.get(..len).unwrap_or_default()).into_owned()
}

/// The Maildir spec escapes `/` and `:` as `\057` and `\072`; easd escapes
/// `,` too (it starts the `,S=` field), plus anything not printable ASCII.
fn sanitize_host(host: &str) -> String {
    let mut out = String::with_capacity(host.len());
    for b in host.bytes() {
        if out.len() >= HOST_MAX {
            break;
        }
        if b.is_ascii_graphic() && !matches!(b, b'/' | b':' | b',' | b'\\') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    if out.is_empty() {
        "localhost".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests;
