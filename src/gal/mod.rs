//! The global address list: every configured user plus every contacts collection marked GAL, merged
//! into one list (a card with a user's address completes that user's entry: phone, title, photo),
//! and the matching Search, Find and ResolveRecipients use.
//!
//! The list is read when asked for: a small office has hundreds of entries, not millions, and the
//! files may change under us (Radicale, vdirsyncer) at any time.

pub mod settings;

pub use settings::GalSettings;

use crate::config::Config;
use crate::items::contact::contact_to_eas;
use crate::items::pim::ConvertOptions;
use crate::wbxml::Element;
use crate::wbxml::tags::contacts as c;
use base64::Engine;
use std::path::{Path, PathBuf};

/// One person or resource of the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GalEntry {
    pub display_name: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub home_phone: String,
    pub mobile_phone: String,
    pub company: String,
    pub title: String,
    pub office: String,
    pub alias: String,
    /// The photo (JPEG or PNG bytes), when the card has one.
    pub picture: Option<Vec<u8>>,
    /// A configured user of this server, rather than a contact from a collection.
    pub is_user: bool,
}

impl GalEntry {
    /// Fills the empty fields from `other` (same person, another source).
    fn complete_from(&mut self, other: GalEntry) {
        let fill = |mine: &mut String, theirs: String| {
            if mine.is_empty() {
                *mine = theirs;
            }
        };
        fill(&mut self.display_name, other.display_name);
        fill(&mut self.first_name, other.first_name);
        fill(&mut self.last_name, other.last_name);
        fill(&mut self.phone, other.phone);
        fill(&mut self.home_phone, other.home_phone);
        fill(&mut self.mobile_phone, other.mobile_phone);
        fill(&mut self.company, other.company);
        fill(&mut self.title, other.title);
        fill(&mut self.office, other.office);
        fill(&mut self.alias, other.alias);
        if self.picture.is_none() {
            self.picture = other.picture;
        }
    }

    /// Whether `query` (already lower-cased) starts the name, one of its words, or the address.
    pub fn matches(&self, query: &str) -> bool {
        if query.is_empty() {
            return false;
        }
        let starts = |s: &str| {
            let s = s.to_lowercase();
            s.starts_with(query) || s.split_whitespace().any(|w| w.starts_with(query))
        };
        starts(&self.display_name)
            || starts(&self.first_name)
            || starts(&self.last_name)
            || starts(&self.alias)
            || self.email.to_lowercase().starts_with(query)
    }
}

/// The merged list, sorted by display name.
#[derive(Clone, Debug, Default)]
pub struct Gal {
    pub entries: Vec<GalEntry>,
}

impl Gal {
    /// Reads the users and the GAL collections. Unreadable files are logged and skipped: one bad
    /// card must not empty the address book.
    pub fn load(config: &Config) -> Gal {
        let mut entries: Vec<GalEntry> = Vec::new();
        if config.gal.users {
            for u in &config.users {
                let email = u.email.get_ref().clone();
                let name = u.name.trim();
                let (first_name, last_name) = match name.rsplit_once(' ') {
                    Some((f, l)) => (f.to_string(), l.to_string()),
                    None => (String::new(), String::new()),
                };
                entries.push(GalEntry {
                    display_name: if name.is_empty() {
                        email.clone()
                    } else {
                        name.to_string()
                    },
                    first_name,
                    last_name,
                    alias: email.split('@').next().unwrap_or("").to_string(),
                    email,
                    is_user: true,
                    ..GalEntry::default()
                });
            }
        }
        for dir in collection_dirs(config) {
            for entry in read_collection(&dir) {
                let same = entries.iter_mut().find(|e| {
                    !entry.email.is_empty() && e.email.eq_ignore_ascii_case(&entry.email)
                });
                match same {
                    Some(existing) => existing.complete_from(entry),
                    None => entries.push(entry),
                }
            }
        }
        entries.sort_by_cached_key(|e| (e.display_name.to_lowercase(), e.email.to_lowercase()));
        Gal { entries }
    }

    /// Entries whose name, a word of it, or address starts with `query`, ignoring case.
    pub fn search(&self, query: &str) -> Vec<&GalEntry> {
        let q = query.trim().to_lowercase();
        self.entries.iter().filter(|e| e.matches(&q)).collect()
    }

    /// The entry with exactly this address.
    pub fn by_address(&self, address: &str) -> Option<&GalEntry> {
        self.entries
            .iter()
            .find(|e| e.email.eq_ignore_ascii_case(address.trim()))
    }
}

fn collection_dirs(config: &Config) -> Vec<PathBuf> {
    let data_dir = config.server.data_dir.to_string_lossy();
    config
        .gal
        .collections
        .iter()
        .map(|c| PathBuf::from(c.replace("{data_dir}", &data_dir)))
        .collect()
}

/// The cards of one vdir collection: one .vcf file per item.
fn read_collection(dir: &Path) -> Vec<GalEntry> {
    let listing = match std::fs::read_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            log::warn!("GAL collection {}: {e}", dir.display());
            return Vec::new();
        }
    };
    let opts = ConvertOptions::new(crate::ProtocolVersion::V16_1);
    let mut out = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        if path
            .extension()
            .is_none_or(|e| !e.eq_ignore_ascii_case("vcf"))
        {
            continue;
        }
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // Vanished between listing and reading: Radicale or a sync tool removed it.
            Err(_) => continue,
        };
        match contact_to_eas(&text, &opts) {
            Ok(app) => out.push(entry_from_contact(&app)),
            Err(e) => log::info!("GAL card {}: {e}", path.display()),
        }
    }
    out
}

/// The GAL view of a contact's ApplicationData.
fn entry_from_contact(app: &Element) -> GalEntry {
    let get = |tag| app.child_text(tag).unwrap_or("").trim().to_string();
    let first_name = get(c::FIRST_NAME);
    let last_name = get(c::LAST_NAME);
    let mut display_name = get(c::FILE_AS);
    if display_name.is_empty() {
        display_name = format!("{first_name} {last_name}").trim().to_string();
    }
    let email = address_of(&get(c::EMAIL1_ADDRESS));
    if display_name.is_empty() {
        display_name = email.clone();
    }
    GalEntry {
        display_name,
        first_name,
        last_name,
        email,
        phone: get(c::BUSINESS_PHONE_NUMBER),
        home_phone: get(c::HOME_PHONE_NUMBER),
        mobile_phone: get(c::MOBILE_PHONE_NUMBER),
        company: get(c::COMPANY_NAME),
        title: get(c::JOB_TITLE),
        office: get(c::OFFICE_LOCATION),
        alias: get(c::ALIAS),
        picture: app.child_text(c::PICTURE).and_then(|p| {
            base64::engine::general_purpose::STANDARD
                .decode(p.trim())
                .ok()
        }),
        is_user: false,
    }
}

/// `"Ann" <ann@example.org>` → `ann@example.org`.
fn address_of(v: &str) -> String {
    match (v.rfind('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => v.get(a + 1..b).unwrap_or("").trim().to_string(),
        _ => v.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3eKx5jQ2F4Qe6vvxgvBfhzfItdR1dWiXxzLXpCbrJoE";

    fn config(dir: &Path) -> Config {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"mail.example.com\"\ndata_dir = \"{}\"\n\n[gal]\ncollections = [\"{{data_dir}}/public\"]\n\n[[user]]\nemail = \"alice@example.com\"\nname = \"Alice Martin\"\npassword_hash = \"{HASH}\"\n\n[[user]]\nemail = \"bob@example.com\"\nname = \"Bob Durand\"\npassword_hash = \"{HASH}\"\n",
            dir.display()
        );
        Config::parse(&text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn users_and_cards_merge() {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("public");
        std::fs::create_dir_all(&public).unwrap();
        // A card for Alice completes her user entry; Carol exists only as a card.
        std::fs::write(
            public.join("alice.vcf"),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice M.\r\nN:Martin;Alice;;;\r\nEMAIL:alice@example.com\r\nTEL;TYPE=WORK:+33 1 23 45 67 89\r\nTITLE:Accountant\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\nEND:VCARD\r\n",
        )
        .unwrap();
        std::fs::write(
            public.join("carol.vcf"),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Carol Lopez\r\nN:Lopez;Carol;;;\r\nEMAIL;TYPE=INTERNET:\"Carol\" <carol@partner.example>\r\nTEL;TYPE=CELL:+34 600 000 000\r\nEND:VCARD\r\n",
        )
        .unwrap();
        std::fs::write(public.join("broken.vcf"), "not a card").unwrap();
        std::fs::write(public.join("notes.txt"), "ignored").unwrap();
        let gal = Gal::load(&config(dir.path()));
        let names: Vec<&str> = gal
            .entries
            .iter()
            .map(|e| e.display_name.as_str())
            .collect();
        assert_eq!(names, ["Alice Martin", "Bob Durand", "Carol Lopez"]);
        let alice = gal.by_address("ALICE@example.com").unwrap();
        assert!(alice.is_user);
        assert_eq!(alice.title, "Accountant");
        assert_eq!(alice.phone, "+33 1 23 45 67 89");
        assert_eq!(
            alice.picture.as_deref(),
            Some(
                &[
                    0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1, 1
                ][..]
            )
        );
        let carol = gal.by_address("carol@partner.example").unwrap();
        assert_eq!(carol.mobile_phone, "+34 600 000 000");
        assert!(!carol.is_user);

        let hits =
            |q: &str| -> Vec<String> { gal.search(q).iter().map(|e| e.email.clone()).collect() };
        assert_eq!(hits("mar"), ["alice@example.com"]);
        assert_eq!(hits("LOP"), ["carol@partner.example"]);
        assert_eq!(hits("bob@"), ["bob@example.com"]);
        assert_eq!(hits("carol"), ["carol@partner.example"]);
        assert!(hits("").is_empty());
        assert!(hits("zzz").is_empty());
    }

    #[test]
    fn a_missing_collection_leaves_the_users() {
        let dir = tempfile::tempdir().unwrap();
        let gal = Gal::load(&config(dir.path()));
        assert_eq!(gal.entries.len(), 2);
    }
}
