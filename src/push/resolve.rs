//! Turning the folder a notification names into the change-index collections it means.

use crate::app::App;
use crate::push::datagram::Scope;
use crate::state::mail::collection_name as mail_collection;
use crate::store::FolderName;

/// The collection ids of `user` a notification scope covers: `None` for "everything", `Some(ids)`
/// otherwise (empty when the folder is unknown: nothing to wake).
pub fn collections(app: &App, user: &str, scope: &Scope) -> Option<Vec<u32>> {
    let Scope::Folder(name) = scope else {
        return None;
    };
    let names = candidate_names(name);
    let found = names
        .iter()
        .filter_map(|n| app.index.find_collection(user, n).ok().flatten())
        .map(|c| c.id().0)
        .collect::<Vec<_>>();
    Some(found)
}

/// The collection names a folder given by a hook may mean: `INBOX`; an IMAP name with '/' or '.'
/// separators; the Maildir++ form `.A.B`; `dav:<collection>`; or a Radicale path
/// `/user/collection/`.
fn candidate_names(name: &str) -> Vec<String> {
    let name = name.trim();
    if let Some(dav) = name.strip_prefix("dav:") {
        return vec![format!("dav:{dav}")];
    }
    if name.starts_with('/') {
        let last = name.split('/').rfind(|s| !s.is_empty()).unwrap_or("");
        return vec![format!("dav:{last}")];
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return vec![mail_collection(&FolderName::inbox())];
    }
    let mut out = Vec::new();
    if name.starts_with('.')
        && let Ok(f) = FolderName::parse(name)
    {
        out.push(mail_collection(&f));
    }
    for sep in ['/', '.'] {
        let mut parent: Option<FolderName> = None;
        let mut ok = true;
        for part in name.split(sep).filter(|p| !p.is_empty()) {
            match FolderName::child(parent.as_ref(), part) {
                Ok(f) => parent = Some(f),
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && let Some(f) = parent {
            let c = mail_collection(&f);
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::candidate_names;

    #[test]
    fn folder_spellings() {
        assert_eq!(candidate_names("INBOX"), ["mail:INBOX"]);
        assert_eq!(candidate_names("inbox"), ["mail:INBOX"]);
        assert_eq!(candidate_names("Sent"), ["mail:.Sent"]);
        assert_eq!(candidate_names(".Archive.2024"), ["mail:.Archive.2024"]);
        assert_eq!(candidate_names("Archive/2024"), ["mail:.Archive.2024"]);
        assert_eq!(candidate_names("Entwürfe"), ["mail:.Entw&APw-rfe"]);
        assert_eq!(candidate_names("dav:calendar"), ["dav:calendar"]);
        assert_eq!(
            candidate_names("/alice@example.com/calendar/"),
            ["dav:calendar"]
        );
    }
}
