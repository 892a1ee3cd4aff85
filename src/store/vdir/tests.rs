use super::props::{self, Props};
use super::*;
use std::fs;

/// A Radicale-style user root in a temporary directory (removed when the guard drops).
fn temp_root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("collection-root").join("alice@example.com");
    (dir, root)
}

fn name(s: &str) -> CollectionName {
    CollectionName::parse(s).unwrap()
}

#[test]
fn defaults_are_radicale_collections() {
    let (_guard, root) = temp_root();
    let store = Vdir::new(root.clone());
    store.ensure_defaults().unwrap();
    store.ensure_defaults().unwrap();
    let colls = store.collections().unwrap();
    let kinds: Vec<_> = colls
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.is_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("calendar", PimKind::Calendar, true),
            ("contacts", PimKind::Contacts, true),
            ("notes", PimKind::Notes, true),
            ("tasks", PimKind::Tasks, true),
        ]
    );
    let text = fs::read_to_string(root.join("tasks").join(props::FILE)).unwrap();
    assert_eq!(
        text,
        r#"{"C:supported-calendar-component-set": "VTODO", "D:displayname": "Tasks", "tag": "VCALENDAR"}"#
    );
    assert!(matches!(
        store.delete_collection(&name("calendar")),
        Err(PimError::Protected(_))
    ));
}

#[test]
fn items_are_written_whole_and_listed_without_dotfiles() {
    let (_guard, root) = temp_root();
    let store = Vdir::new(root.clone());
    store.ensure_defaults().unwrap();
    let cal = name("calendar");
    fs::create_dir_all(root.join(".Radicale.cache/item")).unwrap();
    fs::write(root.join("calendar/.Radicale.lock"), "").unwrap();
    fs::create_dir(root.join("calendar/.Radicale.cache")).unwrap();
    let stored = store
        .create(
            &cal,
            "abc-123@example.com",
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        )
        .unwrap();
    assert_eq!(stored.href.as_str(), "abc-123@example.com.ics");
    let odd = store.create(&cal, "../../etc/passwd", "x").unwrap();
    assert!(odd.href.as_str().ends_with(".ics"));
    assert!(!odd.href.as_str().contains('/'));
    let listed = store.list(&cal).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .any(|e| e.href == stored.href && e.version == stored.version)
    );
    let replaced = store
        .replace(
            &cal,
            &stored.href,
            "BEGIN:VCALENDAR\r\nX:1\r\nEND:VCALENDAR\r\n",
        )
        .unwrap();
    assert_ne!(replaced.version, stored.version);
    assert!(store.read(&cal, &stored.href).unwrap().contains("X:1"));
    let leftovers: Vec<_> = fs::read_dir(root.join("calendar"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".easd-tmp"))
        .collect();
    assert!(leftovers.is_empty());
    store.delete(&cal, &stored.href).unwrap();
    assert!(matches!(
        store.read(&cal, &stored.href),
        Err(PimError::ItemNotFound(_))
    ));
    assert!(matches!(
        store.replace(&cal, &stored.href, "x"),
        Err(PimError::ItemNotFound(_))
    ));
    assert!(Href::parse("../x").is_err());
    assert!(Href::parse(".hidden").is_err());
    assert!(CollectionName::parse("a/b").is_err());
}

#[test]
fn user_collections_keep_their_properties() {
    let (_guard, root) = temp_root();
    let store = Vdir::new(root.clone());
    store.ensure_defaults().unwrap();
    let made = store
        .create_collection("Family Birthdays", PimKind::Calendar)
        .unwrap();
    assert_eq!(made.name.as_str(), "family-birthdays");
    assert_eq!(made.display, "Family Birthdays");
    assert!(!made.is_default());
    let props_path = root.join("family-birthdays").join(props::FILE);
    let mut p = Props::parse(&fs::read_to_string(&props_path).unwrap());
    p.set("ICAL:calendar-color", "#00ff00ff");
    fs::write(&props_path, p.write()).unwrap();
    store.rename_collection(&made.name, "Birthdays").unwrap();
    let text = fs::read_to_string(&props_path).unwrap();
    assert!(text.contains(r##""ICAL:calendar-color": "#00ff00ff""##));
    assert!(text.contains(r#""D:displayname": "Birthdays""#));
    let again = store
        .create_collection("Family Birthdays", PimKind::Tasks)
        .unwrap();
    assert_ne!(again.name, made.name);
    assert_eq!(again.kind, PimKind::Tasks);
    store.delete_collection(&made.name).unwrap();
    assert!(!root.join("family-birthdays").exists());
    let names: Vec<_> = store
        .collections()
        .unwrap()
        .into_iter()
        .map(|c| c.name.as_str().to_string())
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|n| !n.starts_with('.')));
}

#[test]
fn plain_vdirs_are_recognised() {
    let (_guard, root) = temp_root();
    fs::create_dir_all(root.join("work")).unwrap();
    fs::write(root.join("work/a.vcf"), "BEGIN:VCARD\r\nEND:VCARD\r\n").unwrap();
    fs::write(root.join("work/displayname"), "Work people\n").unwrap();
    fs::create_dir_all(root.join("todo")).unwrap();
    fs::create_dir_all(root.join("holidays")).unwrap();
    let store = Vdir::new(root);
    let colls = store.collections().unwrap();
    let found: Vec<_> = colls
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.display.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("holidays", PimKind::Calendar, "holidays"),
            ("todo", PimKind::Tasks, "todo"),
            ("work", PimKind::Contacts, "Work people"),
        ]
    );
    assert_eq!(store.list(&name("work")).unwrap().len(), 1);
}

#[test]
fn templates_name_the_user() {
    assert_eq!(
        expand_root("/srv/dav/collection-root/{user}", "bob@example.org").unwrap(),
        PathBuf::from("/srv/dav/collection-root/bob@example.org")
    );
    assert!(expand_root("/srv/dav/{user}", "../x@y").is_err());
}
