//! Creating, renaming and deleting mail folders for a device: the Maildir changes through the
//! store, and the change index follows at once, so a renamed folder and every subfolder keep
//! their collection ids and a deleted subtree's ids are never handed out again.

use super::{Account, AccountError, Folder, Source};
use crate::state::mail::collection_name;
use crate::store::{FolderName, StoreError};

fn mail_name(folder: &Folder) -> Result<&FolderName, AccountError> {
    match &folder.source {
        Source::Mail(name) => Ok(name),
        Source::Dav(name, _) => Err(AccountError::Store(StoreError::InvalidFolderName(
            name.to_string(),
        ))),
        Source::Files => Err(AccountError::Store(StoreError::InvalidFolderName(
            folder.name.clone(),
        ))),
    }
}

impl Account<'_> {
    /// Forgets a stale index entry for `name` (its folder is not on disk, or the store would not
    /// have made a new folder there), so the new folder gets a fresh id.
    pub(super) fn drop_stale(&self, name: &str) -> Result<(), AccountError> {
        if let Some(stale) = self.app.index.find_collection(self.user, name)? {
            self.app.index.remove_collection(stale)?;
            self.app
                .sync_states
                .forget_collection(self.user, stale.id().0)?;
        }
        Ok(())
    }

    /// Creates a mail folder `display` under `parent` (`None`: top level); returns its id.
    pub fn create_mail_folder(
        &self,
        parent: Option<&Folder>,
        display: &str,
    ) -> Result<u32, AccountError> {
        let parent = parent.map(mail_name).transpose()?;
        let name = self.store.create_folder(parent, display)?;
        let coll_name = collection_name(&name);
        self.drop_stale(&coll_name)?;
        let coll = self.app.index.collection(self.user, &coll_name)?;
        let identity = self
            .store
            .folders()?
            .into_iter()
            .find(|f| f.name == name)
            .and_then(|f| f.identity);
        if let Some(identity) = identity {
            self.app.index.set_identity(coll, identity)?;
        }
        Ok(coll.id().0)
    }

    /// Renames or moves a mail folder with its subfolders; returns the ids of every folder
    /// moved, the folder itself first.
    pub fn rename_mail_folder(
        &self,
        folder: &Folder,
        parent: Option<&Folder>,
        display: &str,
    ) -> Result<Vec<u32>, AccountError> {
        let moves = self.store.rename_folder(
            mail_name(folder)?,
            parent.map(mail_name).transpose()?,
            display,
        )?;
        let index = &self.app.index;
        let mut ids = Vec::with_capacity(moves.len());
        for m in &moves {
            let to = collection_name(&m.to);
            self.drop_stale(&to)?;
            if let Some(coll) = index.find_collection(self.user, &collection_name(&m.from))? {
                index.rename_collection(coll, &to)?;
                ids.push(coll.id().0);
            }
        }
        Ok(ids)
    }

    /// Deletes a mail folder with its subfolders, and their collections; returns their ids.
    pub fn delete_mail_folder(&self, folder: &Folder) -> Result<Vec<u32>, AccountError> {
        let removed = self.store.delete_folder(mail_name(folder)?)?;
        let index = &self.app.index;
        let mut ids = Vec::with_capacity(removed.len());
        for name in &removed {
            if let Some(coll) = index.find_collection(self.user, &collection_name(name))? {
                index.remove_collection(coll)?;
                self.app
                    .sync_states
                    .forget_collection(self.user, coll.id().0)?;
                ids.push(coll.id().0);
            }
        }
        Ok(ids)
    }
}
