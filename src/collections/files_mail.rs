//! The guide's "files" collection of GroupWare mail access (`groupware=all-as-mail`): the user's
//! documents folder (`dav.files`) offered as a mail folder, one message per file with the file
//! attached (`items::email::file_message`). One way, server → device, like the tasks and notes
//! shown as mail: Read and flag changes are taken and forgotten, adds and deletes refused.

use super::backend::{BackendError, ItemBackend, one_way_writes};
use super::{Account, Folder, Source};
use crate::items::email::file_message::file_message;
use crate::items::email::{EmailOptions, MessageMeta, to_application_data};
use crate::state::index::{Item, Preview, RefreshError, ScanEntry};
use crate::store::files::FileDir;
use crate::store::vdir::Href;
use crate::wbxml::Element;
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

/// The documents folder as scan entries, listed again after its stamp was taken.
fn scan(dir: &FileDir) -> io::Result<Vec<ScanEntry>> {
    let (_, entries) = dir.list()?;
    Ok(entries
        .into_iter()
        .map(|e| ScanEntry {
            key: e.name.as_str().to_string(),
            version: e.version,
            time: e.mtime,
        })
        .collect())
}

impl ItemBackend for FilesMail<'_> {
    fn refresh(&self, folder: &Folder) -> Result<u64, BackendError> {
        let dir = self.dir(folder)?;
        let (stamp, _) = dir.list().map_err(io_error)?;
        match self
            .account
            .app
            .index
            .refresh(folder.coll, stamp, || scan(&dir))
        {
            Ok(r) => Ok(r.modseq),
            Err(RefreshError::Scan(e)) => Err(io_error(e)),
            Err(RefreshError::Index(e)) => Err(e.into()),
        }
    }

    fn preview(&self, folder: &Folder) -> Result<Preview, BackendError> {
        let dir = self.dir(folder)?;
        let (stamp, _) = dir.list().map_err(io_error)?;
        match self
            .account
            .app
            .index
            .preview(folder.coll, stamp, || scan(&dir))
        {
            Ok(p) => Ok(p),
            Err(RefreshError::Scan(e)) => Err(io_error(e)),
            Err(RefreshError::Index(e)) => Err(e.into()),
        }
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
