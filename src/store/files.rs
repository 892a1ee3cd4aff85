//! A user's documents folder for the guide's "files" collection of GroupWare mail access: the
//! regular files directly in one directory (`dav.files`), read only. Names are validated like
//! vdir hrefs, so a name never leads out of the directory; dotfiles and subdirectories are not
//! items. Files are often edited in place (a Samba share, an editor), which does not touch the
//! directory's own times, so the stamp covers every file's metadata too.

use super::vdir::Href;
use super::{DirStamp, file_version as version_of};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The largest file offered as an attachment; bigger ones are listed without their content.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// One file of the folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub name: Href,
    /// Changes whenever the file does (inode, mtime, size).
    pub version: String,
    /// Unix seconds of the last change.
    pub mtime: u64,
    pub size: u64,
}

/// A file's content, or why it is not attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileContent {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

/// The files directory of one user.
#[derive(Clone, Debug)]
pub struct FileDir {
    root: PathBuf,
}

impl FileDir {
    pub fn new(root: PathBuf) -> FileDir {
        FileDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the directory is there (the folder is only offered then).
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// The files, with the stamp of the directory and of every file in it.
    pub fn list(&self) -> io::Result<(DirStamp, Vec<FileEntry>)> {
        let meta = fs::metadata(&self.root)?;
        let mut newest_ns = super::nanos(meta.mtime(), meta.mtime_nsec())
            .max(super::nanos(meta.ctime(), meta.ctime_nsec()));
        let mut digest = super::FNV_OFFSET;
        for v in [meta.dev(), meta.ino(), meta.size()] {
            digest = super::fnv1a(digest, v);
        }
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().and_then(|n| Href::parse(n).ok()) else {
                continue;
            };
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if !meta.is_file() {
                continue;
            }
            let mtime_ns = super::nanos(meta.mtime(), meta.mtime_nsec());
            newest_ns = newest_ns
                .max(mtime_ns)
                .max(super::nanos(meta.ctime(), meta.ctime_nsec()));
            out.push(FileEntry {
                name,
                version: version_of(&meta),
                mtime: u64::try_from(meta.mtime()).unwrap_or(0),
                size: meta.size(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        for e in &out {
            for b in e.name.as_str().bytes() {
                digest = super::fnv1a(digest, u64::from(b));
            }
            for b in e.version.bytes() {
                digest = super::fnv1a(digest, u64::from(b));
            }
        }
        Ok((DirStamp::from_parts(newest_ns, digest), out))
    }

    /// The stamp alone, for a refresh that finds nothing changed.
    pub fn stamp(&self) -> io::Result<DirStamp> {
        self.list().map(|(stamp, _)| stamp)
    }

    /// The file's metadata and content (not read past [`MAX_FILE_BYTES`]).
    pub fn read(&self, name: &Href) -> io::Result<(FileEntry, FileContent)> {
        let path = self.root.join(name.as_str());
        let file = fs::File::open(&path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
        }
        let entry = FileEntry {
            name: name.clone(),
            version: version_of(&meta),
            mtime: u64::try_from(meta.mtime()).unwrap_or(0),
            size: meta.size(),
        };
        if meta.size() > MAX_FILE_BYTES {
            return Ok((entry, FileContent::TooLarge(meta.size())));
        }
        let mut data = Vec::with_capacity(usize::try_from(meta.size()).unwrap_or(0));
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut data)?;
        if data.len() as u64 > MAX_FILE_BYTES {
            return Ok((entry, FileContent::TooLarge(data.len() as u64)));
        }
        Ok((entry, FileContent::Bytes(data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_plain_files_and_notices_edits_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileDir::new(dir.path().to_path_buf());
        fs::write(dir.path().join("report.pdf"), b"%PDF-1.4").unwrap();
        fs::write(dir.path().join(".hidden"), b"x").unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let (stamp, list) = files.list().unwrap();
        let names: Vec<&str> = list.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["report.pdf"]);
        assert_eq!(list[0].size, 8);
        let name = Href::parse("report.pdf").unwrap();
        let (_, content) = files.read(&name).unwrap();
        assert_eq!(content, FileContent::Bytes(b"%PDF-1.4".to_vec()));
        // Rewritten in place with another size: the directory's own times may not move.
        fs::write(dir.path().join("report.pdf"), b"%PDF-1.7 more").unwrap();
        assert_ne!(files.stamp().unwrap(), stamp);
        assert!(files.read(&Href::parse("missing").unwrap()).is_err());
    }
}
