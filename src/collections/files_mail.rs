//! The guide's "files" collection of GroupWare mail access (`groupware=all-as-mail`): the user's
//! documents folder (`dav.files`) offered as a mail folder, one message per file with the file
//! attached (`items::email::file_message`). One way, server → device, like the tasks and notes
//! shown as mail: Read and flag changes are taken and forgotten, adds and deletes refused.

use super::backend::{BackendError, ItemBackend, one_way_writes};
use super::{Account, Folder, Source};
use crate::items::email::file_message::file_message;
use crate::items::email::{EmailOptions, MessageMeta, to_application_data};
use crate::state::index::{Item, Preview, RefreshError, ScanEntry};
use crate::store::DirStamp;
use crate::store::files::FileDir;
use crate::store::vdir::Href;
use crate::wbxml::Element;
use std::convert::Infallible;
use std::io;

/// The folder's display name and the change index's name of its collection.
pub const DISPLAY_NAME: &str = "Files";
pub const COLLECTION_NAME: &str = "files:";

pub struct FilesMail<'a> {
    account: &'a Account<'a>,
}

fn io_error(e: io::Error) -> BackendError {
    match e.kind() {
        io::ErrorKind::NotFound => BackendError::NotFound,
        _ => BackendError::Invalid(format!("documents folder: {e}")),
    }
}

impl<'a> FilesMail<'a> {
    pub fn new(account: &'a Account<'a>) -> Self {
        FilesMail { account }
    }

    fn dir(&self, folder: &Folder) -> Result<FileDir, BackendError> {
        match &folder.source {
            Source::Files => self
                .account
                .files()
                .map_err(|e| BackendError::Invalid(e.to_string())),
            _ => Err(BackendError::Unsupported),
        }
    }

    /// The raw message of a file, for the attachment its FileReference names.
    pub fn raw(&self, folder: &Folder, item: &Item) -> Result<Vec<u8>, BackendError> {
        let dir = self.dir(folder)?;
        let name = Href::parse(&item.key).map_err(|_| BackendError::NotFound)?;
        let (entry, content) = dir.read(&name).map_err(io_error)?;
        Ok(file_message(&entry, &content, self.account.user))
    }
}

/// The directory's stamp and its files as the change index sees them, from one listing: the
/// stamp already needs every file's times, so a second listing for the scan would repeat it all.
fn scan(dir: &FileDir) -> Result<(DirStamp, Vec<ScanEntry>), BackendError> {
    let (stamp, entries) = dir.list().map_err(io_error)?;
    let entries = entries
        .into_iter()
        .map(|e| ScanEntry {
            key: e.name.as_str().to_string(),
            version: e.version,
            time: e.mtime,
        })
        .collect();
    Ok((stamp, entries))
}

fn index_error(e: RefreshError<Infallible>) -> BackendError {
    match e {
        RefreshError::Index(e) => e.into(),
        RefreshError::Scan(never) => match never {},
    }
}

impl ItemBackend for FilesMail<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        let (stamp, entries) = scan(&self.dir(folder)?)?;
        let index = &self.account.app.index;
        index
            .refresh(folder.coll, stamp, || Ok(entries))
            .map(|r| r.modseq)
            .map_err(index_error)
    }

    fn preview(&self, folder: &Folder, _arrivals_since: u64) -> Result<Preview, BackendError> {
        let (stamp, entries) = scan(&self.dir(folder)?)?;
        let index = &self.account.app.index;
        index
            .preview(folder.coll, stamp, || Ok(entries))
            .map_err(index_error)
    }

    fn render(
        &self,
        folder: &Folder,
        item: &Item,
        server_id: &str,
        opts: &EmailOptions,
    ) -> Result<Element, BackendError> {
        let raw = self.raw(folder, item)?;
        let meta = MessageMeta {
            read: true,
            received: i64::try_from(item.time).unwrap_or(0),
            file_ref_base: server_id.to_string(),
            ..MessageMeta::default()
        };
        Ok(to_application_data(&raw, &meta, opts))
    }

    one_way_writes!();
}
