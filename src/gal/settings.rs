//! The `[gal]` configuration section: what the global address list is made of.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalSettings {
    /// Every configured user is in the list (the guide: without a GAL folder, the GAL is all users).
    #[serde(default = "yes")]
    pub users: bool,
    /// Contacts collections marked GAL: vdir directories of .vcf files (a public Radicale address
    /// book, or a user's shared one); `{data_dir}` is replaced.
    #[serde(default)]
    pub collections: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for GalSettings {
    fn default() -> Self {
        GalSettings {
            users: true,
            collections: Vec::new(),
        }
    }
}
