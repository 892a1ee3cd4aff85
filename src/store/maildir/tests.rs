use std::path::PathBuf;

use super::*;

fn setup() -> (tempfile::TempDir, Maildir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Maildir::new(dir.path().join("Maildir"));
    store.ensure_default_folders().unwrap();
    (dir, store)
}

fn folder(name: &str) -> FolderName {
    FolderName::parse(name).unwrap()
}

fn names(store: &Maildir) -> Vec<String> {
    store
        .folders()
        .unwrap()
        .into_iter()
        .map(|f| f.name.to_string())
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn corpus_dir() -> PathBuf {
    std::env::var_os("EASD_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

#[test]
fn default_folders_created_once() {
    let (_dir, store) = setup();
    assert_eq!(
        names(&store),
        ["INBOX", ".Drafts", ".Junk", ".Sent", ".Trash"]
    );
    store.ensure_default_folders().unwrap();
    let folders = store.folders().unwrap();
    assert_eq!(folders.len(), 5);
    let role = |n: &str| {
        folders
            .iter()
            .find(|f| f.name.to_string() == n)
            .unwrap()
            .role
    };
    assert_eq!(role("INBOX"), FolderRole::Inbox);
    assert_eq!(role(".Sent"), FolderRole::Sent);
    assert_eq!(role(".Junk"), FolderRole::Junk);
    assert!(store.root().join(".Sent/maildirfolder").is_file());
    assert!(store.root().join(".Sent/tmp").is_dir());
}

#[test]
fn other_names_take_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    let store = Maildir::new(dir.path());
    make_maildir(dir.path(), false).unwrap();
    for name in [
        ".Sent Messages",
        ".Spam",
        ".Deleted Messages",
        ".Sent Items",
    ] {
        make_maildir(&dir.path().join(name), true).unwrap();
    }
    store.ensure_default_folders().unwrap();
    let folders = store.folders().unwrap();
    let role = |n: &str| folders.iter().find(|f| f.name.as_str() == n).unwrap().role;
    assert_eq!(role(".Sent Messages"), FolderRole::Sent);
    assert_eq!(role(".Sent Items"), FolderRole::Normal);
    assert_eq!(role(".Spam"), FolderRole::Junk);
    assert_eq!(role(".Deleted Messages"), FolderRole::Trash);
    assert_eq!(role(".Drafts"), FolderRole::Drafts);
    assert!(!dir.path().join(".Sent").exists());
    assert!(!dir.path().join(".Trash").exists());
    assert!(matches!(
        store.delete_folder(&folder(".Spam")),
        Err(StoreError::ProtectedFolder(_))
    ));
}

#[test]
fn utf7_folder_lifecycle() {
    let (_dir, store) = setup();
    let before = store.hierarchy_stamp().unwrap();
    // Longer than any kernel timestamp tick, so the change must show.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let drafts_de = store.create_folder(None, "Entwürfe").unwrap();
    assert_ne!(store.hierarchy_stamp().unwrap(), before);
    assert_eq!(drafts_de.as_str(), ".Entw&APw-rfe");
    let japanese = store.create_folder(Some(&drafts_de), "日本語").unwrap();
    let amp = store.create_folder(Some(&japanese), "A&B").unwrap();
    assert_eq!(amp.as_str(), ".Entw&APw-rfe.&ZeVnLIqe-.A&-B");
    assert!(matches!(
        store.create_folder(None, "Entwürfe"),
        Err(StoreError::FolderExists(_))
    ));
    let folders = store.folders().unwrap();
    let amp_folder = folders.iter().find(|f| f.name == amp).unwrap();
    assert_eq!(amp_folder.display, "A&B");
    assert_eq!(amp_folder.parent.as_ref(), Some(&japanese));

    let moved = store
        .rename_folder(&drafts_de, None, "Archiv 2024")
        .unwrap();
    let pairs: Vec<(String, String)> = moved
        .iter()
        .map(|m| (m.from.to_string(), m.to.to_string()))
        .collect();
    assert_eq!(
        pairs,
        [
            (".Entw&APw-rfe".into(), ".Archiv 2024".into()),
            (
                ".Entw&APw-rfe.&ZeVnLIqe-".into(),
                ".Archiv 2024.&ZeVnLIqe-".into()
            ),
            (
                ".Entw&APw-rfe.&ZeVnLIqe-.A&-B".into(),
                ".Archiv 2024.&ZeVnLIqe-.A&-B".into()
            ),
        ]
    );
    assert!(!store.root().join(".Entw&APw-rfe.&ZeVnLIqe-").exists());

    let archive = folder(".Archiv 2024");
    let sub = folder(".Archiv 2024.&ZeVnLIqe-");
    assert!(matches!(
        store.rename_folder(&archive, Some(&sub), "x"),
        Err(StoreError::MoveIntoSelf(_))
    ));
    let moved = store
        .rename_folder(&sub, Some(&FolderName::inbox()), "日本語")
        .unwrap();
    assert_eq!(moved[0].to.as_str(), ".INBOX.&ZeVnLIqe-");
    let inbox_child = store
        .folders()
        .unwrap()
        .into_iter()
        .find(|f| f.name == moved[0].to)
        .unwrap();
    assert_eq!(inbox_child.parent, Some(FolderName::inbox()));

    let gone = store.delete_folder(&moved[0].to).unwrap();
    assert_eq!(gone.len(), 2);
    store.delete_folder(&archive).unwrap();
    assert_eq!(
        names(&store),
        ["INBOX", ".Drafts", ".Junk", ".Sent", ".Trash"]
    );
    assert!(files_in(&store.root().join("tmp")).is_empty());
}

#[test]
fn protected_and_invalid_folder_operations() {
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    let sent = folder(".Sent");
    assert!(matches!(
        store.delete_folder(&inbox),
        Err(StoreError::ProtectedFolder(_))
    ));
    assert!(matches!(
        store.delete_folder(&sent),
        Err(StoreError::ProtectedFolder(_))
    ));
    assert!(matches!(
        store.rename_folder(&sent, None, "Gesendet"),
        Err(StoreError::ProtectedFolder(_))
    ));
    assert!(matches!(
        store.create_folder(None, "a.b"),
        Err(StoreError::InvalidDisplayName(_))
    ));
    assert!(matches!(
        store.create_folder(None, "../escape"),
        Err(StoreError::InvalidDisplayName(_))
    ));
    assert!(matches!(
        store.create_folder(Some(&folder(".Nope")), "x"),
        Err(StoreError::FolderNotFound(_))
    ));
    assert!(matches!(
        store.delete_folder(&folder(".Nope")),
        Err(StoreError::FolderNotFound(_))
    ));
    let a = store.create_folder(None, "A").unwrap();
    store.create_folder(None, "B").unwrap();
    assert!(matches!(
        store.rename_folder(&a, None, "B"),
        Err(StoreError::FolderExists(_))
    ));
    assert!(store.rename_folder(&a, None, "A").unwrap().is_empty());
}

#[test]
fn orphans_hang_under_nearest_existing_ancestor() {
    let (_dir, store) = setup();
    make_maildir(&store.root().join(".A.B.C"), true).unwrap();
    make_maildir(&store.root().join(".A"), true).unwrap();
    make_maildir(&store.root().join(".UTF8-ü"), true).unwrap();
    fs::create_dir(store.root().join(".INBOX")).unwrap();
    let folders = store.folders().unwrap();
    let abc = folders
        .iter()
        .find(|f| f.name.as_str() == ".A.B.C")
        .unwrap();
    assert_eq!(abc.parent, Some(folder(".A")));
    assert_eq!(abc.display, "C");
    let raw = folders
        .iter()
        .find(|f| f.name.as_str() == ".UTF8-ü")
        .unwrap();
    assert_eq!(raw.display, "UTF8-ü");
    assert_eq!(folders.iter().filter(|f| f.name.is_inbox()).count(), 1);
}

#[test]
fn flags_round_trip_and_keywords_survive() {
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    let msg = store
        .append(&inbox, b"Subject: x\r\n\r\nhi\r\n", Flags::SEEN)
        .unwrap();
    assert_eq!(msg.flags, Flags::SEEN);
    let cur = store.root().join("cur");
    let name = files_in(&cur).pop().unwrap();
    assert!(name.ends_with(":2,S"), "{name}");
    // A keyword set by Dovecot meanwhile.
    fs::rename(cur.join(&name), cur.join(format!("{}:2,Sa", msg.key))).unwrap();
    let flags = store
        .set_flags(
            &inbox,
            &msg,
            FlagUpdate {
                set: Flags::FLAGGED.union(Flags::REPLIED),
                clear: Flags::SEEN,
            },
        )
        .unwrap();
    assert_eq!(flags.to_string(), "FRa");
    assert_eq!(files_in(&cur), [format!("{}:2,FRa", msg.key)]);
    let listed = store.list(&inbox).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].flags.to_string(), "FRa");
    assert!(!listed[0].in_new);
    let same = store
        .set_flags(&inbox, &listed[0].to_ref(), FlagUpdate::default())
        .unwrap();
    assert_eq!(same, flags);
}

#[test]
fn delivered_mail_moves_from_new_to_cur() {
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    let key = deliver(store.root(), &inbox, b"hello").unwrap();
    let listed = store.list(&inbox).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].in_new);
    assert_eq!(listed[0].key, key);
    let msg = listed[0].to_ref();
    let flags = store
        .set_flags(
            &inbox,
            &msg,
            FlagUpdate {
                set: Flags::SEEN,
                clear: Flags::EMPTY,
            },
        )
        .unwrap();
    assert_eq!(flags, Flags::SEEN);
    assert!(files_in(&store.root().join("new")).is_empty());
    assert_eq!(files_in(&store.root().join("cur")), [format!("{key}:2,S")]);
    // The stale reference (new/, no flags) still finds the message.
    assert_eq!(store.read(&inbox, &msg).unwrap(), b"hello");
}

#[test]
fn renamed_or_vanished_messages_are_tolerated() {
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    let a = store.append(&inbox, b"a", Flags::EMPTY).unwrap();
    let b = store.append(&inbox, b"b", Flags::EMPTY).unwrap();
    let listed = store.list(&inbox).unwrap();
    assert_eq!(listed.len(), 2);
    let cur = store.root().join("cur");
    // Another client flags `a` and expunges `b` right after our listing.
    fs::rename(
        cur.join(format!("{}:2,", a.key)),
        cur.join(format!("{}:2,FS", a.key)),
    )
    .unwrap();
    fs::remove_file(cur.join(format!("{}:2,", b.key))).unwrap();
    assert_eq!(store.read(&inbox, &a).unwrap(), b"a");
    assert!(matches!(
        store.read(&inbox, &b),
        Err(StoreError::MessageNotFound(_))
    ));
    assert!(matches!(
        store.delete(&inbox, &b),
        Err(StoreError::MessageNotFound(_))
    ));
    let flags = store
        .set_flags(
            &inbox,
            &a,
            FlagUpdate {
                set: Flags::EMPTY,
                clear: Flags::FLAGGED,
            },
        )
        .unwrap();
    assert_eq!(flags, Flags::SEEN);
    store.delete(&inbox, &a).unwrap();
    assert!(store.list(&inbox).unwrap().is_empty());
}

#[test]
fn listing_skips_junk_entries() {
    let (_dir, store) = setup();
    let cur = store.root().join("cur");
    fs::write(cur.join(".hidden"), b"").unwrap();
    fs::create_dir(cur.join("subdir")).unwrap();
    fs::write(cur.join("123.abc:2,S"), b"x").unwrap();
    fs::write(store.root().join("new/124.def"), b"y").unwrap();
    let listed = store.list(&FolderName::inbox()).unwrap();
    let keys: Vec<(&str, bool)> = listed.iter().map(|l| (l.key.as_str(), l.in_new)).collect();
    assert_eq!(keys, [("124.def", true), ("123.abc", false)]);
    assert!(matches!(
        store.list(&folder(".Nope")),
        Err(StoreError::FolderNotFound(_))
    ));
    assert!(matches!(
        Maildir::new(store.root().join("missing")).hierarchy_stamp(),
        Err(StoreError::FolderNotFound(_))
    ));
}

#[test]
fn move_keeps_flags_and_avoids_clashes() {
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    let trash = folder(".Trash");
    let msg = store.append(&inbox, b"m", Flags::SEEN).unwrap();
    let moved = store.move_to(&inbox, &msg, &trash).unwrap();
    assert_eq!(moved, msg);
    assert!(store.list(&inbox).unwrap().is_empty());
    assert_eq!(store.read(&trash, &moved).unwrap(), b"m");
    // A hard-linked copy (as Dovecot's COPY makes) blocks the same name.
    let trash_cur = store.root().join(".Trash/cur");
    let inbox_cur = store.root().join("cur");
    let name = format!("{}:2,S", msg.key);
    fs::hard_link(trash_cur.join(&name), inbox_cur.join(&name)).unwrap();
    let again = store.move_to(&inbox, &msg, &trash).unwrap();
    assert_ne!(again.key, msg.key);
    assert_eq!(again.flags, Flags::SEEN);
    assert_eq!(store.list(&trash).unwrap().len(), 2);
    assert!(matches!(
        store.move_to(&trash, &again, &folder(".Nope")),
        Err(StoreError::FolderNotFound(_))
    ));
}

#[test]
fn empty_folder_with_and_without_subfolders() {
    let (_dir, store) = setup();
    let trash = folder(".Trash");
    let sub = store.create_folder(Some(&trash), "old").unwrap();
    store.append(&trash, b"1", Flags::EMPTY).unwrap();
    deliver(store.root(), &trash, b"2").unwrap();
    store.append(&sub, b"3", Flags::EMPTY).unwrap();
    assert!(store.empty_folder(&trash, false).unwrap().is_empty());
    assert!(store.list(&trash).unwrap().is_empty());
    assert_eq!(store.list(&sub).unwrap().len(), 1);
    assert_eq!(store.empty_folder(&trash, true).unwrap(), vec![sub.clone()]);
    assert!(!store.root().join(sub.as_str()).exists());
    assert!(store.root().join(".Trash/cur").is_dir());
}

#[test]
fn delivery_is_atomic_and_creates_the_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("new-user/Maildir");
    let bytes = b"Subject: a\r\n\r\nbody\r\n";
    let key = deliver(&root, &FolderName::inbox(), bytes).unwrap();
    assert!(files_in(&root.join("tmp")).is_empty());
    assert_eq!(files_in(&root.join("new")), [key.to_string()]);
    assert_eq!(key.size_hint(), Some(bytes.len() as u64));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(key.received_hint().unwrap().abs_diff(now) < 60);
    let (_, rest) = key.as_str().split_once(".M").unwrap();
    assert!(rest.contains(&format!("P{}Q", std::process::id())));
    let spam = folder(".Spam");
    let key2 = deliver(&root, &spam, b"x").unwrap();
    assert!(root.join(".Spam/maildirfolder").is_file());
    assert_ne!(key, key2);
    let info = Maildir::new(&root)
        .info(
            &spam,
            &MessageRef {
                key: key2,
                flags: Flags::EMPTY,
            },
        )
        .unwrap();
    assert_eq!(info.size, 1);
}

#[test]
fn info_falls_back_to_stat() {
    let (_dir, store) = setup();
    fs::write(store.root().join("cur/fetched-1:2,S"), b"12345").unwrap();
    let msg = MessageRef {
        key: MessageKey::parse("fetched-1").unwrap(),
        flags: Flags::SEEN,
    };
    let info = store.info(&FolderName::inbox(), &msg).unwrap();
    assert_eq!(info.size, 5);
    assert!(info.received > 1_600_000_000);
    let mut file = store.open(&FolderName::inbox(), &msg).unwrap();
    let mut text = String::new();
    io::Read::read_to_string(&mut file, &mut text).unwrap();
    assert_eq!(text, "12345");
}

#[test]
fn corpus_messages_round_trip() {
    let corpus = corpus_dir().join("mail");
    assert!(corpus.is_dir(), "corpus missing at {}", corpus.display());
    let (_dir, store) = setup();
    let drafts = folder(".Drafts");
    let mut count = 0;
    let mut stack = vec![corpus];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let bytes = fs::read(&path).unwrap();
            let msg = store.append(&drafts, &bytes, Flags::DRAFT).unwrap();
            assert_eq!(store.read(&drafts, &msg).unwrap(), bytes);
            let size = u64::try_from(bytes.len()).unwrap();
            assert_eq!(store.info(&drafts, &msg).unwrap().size, size);
            count += 1;
        }
    }
    assert!(count > 50, "only {count} corpus messages");
    assert_eq!(store.list(&drafts).unwrap().len(), count);
    assert!(files_in(&store.root().join(".Drafts/tmp")).is_empty());
}

#[test]
fn templates_refuse_escapes() {
    let t = "/var/vmail/{domain}/{local}/Maildir";
    assert_eq!(
        expand_template(t, "alice@example.com").unwrap(),
        PathBuf::from("/var/vmail/example.com/alice/Maildir")
    );
    assert_eq!(
        expand_template("/data/mail/{email}/", "bob@x.org").unwrap(),
        PathBuf::from("/data/mail/bob@x.org/")
    );
    for email in [
        "alice",
        "@example.com",
        "alice@",
        "../x@y",
        "a@..",
        "a/b@c",
        "a@b/c",
        "a\\b@c",
        "a\0@b",
        "a@.",
        "a@b@c",
        "a\n@b",
    ] {
        assert!(
            matches!(expand_template(t, email), Err(StoreError::InvalidEmail(_))),
            "{email:?}"
        );
    }
    for template in [
        "/mail/{user}",
        "/mail/{local",
        "/mail}/{local}",
        "/mail/{domain}",
        "/mail",
    ] {
        assert!(
            matches!(
                expand_template(template, "a@b"),
                Err(StoreError::InvalidTemplate(_))
            ),
            "{template:?}"
        );
    }
}

#[test]
fn hostnames_are_sanitized() {
    assert_eq!(sanitize_host("mail.example.com"), "mail.example.com");
    assert_eq!(sanitize_host("a/b:c,d"), "a\\057b\\072c\\054d");
    assert_eq!(sanitize_host(""), "localhost");
    assert!(sanitize_host(&"h".repeat(300)).len() <= HOST_MAX + 4);
}

#[test]
fn a_listing_reads_new_before_cur_and_each_half_alone() {
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    let read = store.append(&inbox, b"read", Flags::SEEN).unwrap();
    let fresh = deliver(store.root(), &inbox, b"fresh").unwrap();
    let keys = |l: Vec<Listed>| {
        l.into_iter()
            .map(|e| e.key.into_string())
            .collect::<Vec<_>>()
    };
    let (fresh, read) = (fresh.into_string(), read.key.into_string());
    assert_eq!(keys(store.list_new(&inbox).unwrap()), [fresh.as_str()]);
    assert_eq!(keys(store.list_cur(&inbox).unwrap()), [read.as_str()]);
    // new/ first: a message a mail client moves to cur/ meanwhile is then seen at least once.
    assert_eq!(keys(store.list(&inbox).unwrap()), [fresh, read]);
}

#[test]
fn a_listing_leaves_the_directorys_access_time_alone() {
    use std::os::unix::fs::MetadataExt;
    let (_dir, store) = setup();
    let inbox = FolderName::inbox();
    deliver(store.root(), &inbox, b"fresh").unwrap();
    let new = store.root().join("new");
    // An access time older than the last change: `relatime` would update it on a listing.
    let old = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: 1_000_000_000,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
    };
    rustix::fs::utimensat(rustix::fs::CWD, &new, &old, AtFlags::empty()).unwrap();
    assert_eq!(store.list_new(&inbox).unwrap().len(), 1);
    assert_eq!(fs::metadata(&new).unwrap().atime(), 1_000_000_000);
}
