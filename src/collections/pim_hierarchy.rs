//! Creating, renaming and deleting vdir collections for a device (FolderCreate/Update/Delete of
//! contacts, calendar, task and note folders). A rename changes only the display name in
//! `.Radicale.props`, so the directory, its DAV URL and the collection id all stay.

use super::pim::collection_name;
use super::{Account, AccountError, Folder, Source};
use crate::store::StoreError;
use crate::store::vdir::{PimError, PimKind, PimStore};
use std::sync::Arc;

impl Account<'_> {
    fn pim_store(&self) -> Result<&Arc<dyn PimStore>, AccountError> {
        self.pim.as_ref().ok_or_else(|| {
            AccountError::Store(StoreError::InvalidTemplate(
                self.app.config.dav.root.clone(),
            ))
        })
    }

    /// Creates a collection of `kind` shown as `display`; returns its id.
    pub fn create_pim_folder(&self, display: &str, kind: PimKind) -> Result<u32, AccountError> {
        let made = self.pim_store()?.create_collection(display, kind)?;
        let name = collection_name(&made.name);
        self.drop_stale(&name)?;
        let coll = self.app.index.collection(self.user, &name)?;
        if let Some(identity) = made.identity {
            self.app.index.set_identity(coll, identity)?;
        }
        Ok(coll.id().0)
    }

    /// Shows a collection under a new name.
    pub fn rename_pim_folder(&self, folder: &Folder, display: &str) -> Result<(), AccountError> {
        let Source::Dav(name, _) = &folder.source else {
            return Err(PimError::InvalidName(folder.name.clone()).into());
        };
        Ok(self.pim_store()?.rename_collection(name, display)?)
    }

    /// Deletes a collection with its items, and its collection in the index.
    pub fn delete_pim_folder(&self, folder: &Folder) -> Result<(), AccountError> {
        let Source::Dav(name, _) = &folder.source else {
            return Err(PimError::InvalidName(folder.name.clone()).into());
        };
        self.pim_store()?.delete_collection(name)?;
        self.app.index.remove_collection(folder.coll)?;
        self.app
            .sync_states
            .forget_collection(self.user, folder.id)?;
        Ok(())
    }
}
