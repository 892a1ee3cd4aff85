//! Interop with Radicale (Debian's `radicale` package) serving the same vdir tree on loopback:
//! an event PUT through CalDAV reaches the phone on its next Sync and wakes a held Ping through
//! Radicale's storage hook (`easd notify … %(user)s`); an event the phone adds is returned by a
//! CalDAV REPORT; the same for contacts through CardDAV; collections made on either side are
//! seen by the other with their names and types.

mod common;
mod pim_sync_support;

use common::{Options, Server, run};
use easd::ProtocolVersion;
use easd::client::{Connection, Device, Target};
use easd::eas::foldercreate::{FolderCreateRequest, FolderCreateStatus};
use easd::eas::foldersync::FolderChange;
use easd::eas::ids::{ClientId, CollectionId, SyncKey};
use easd::eas::ping::{PingFolder, PingRequest, PingResponse, PingStatus};
use easd::eas::sync::{ClientCommand, ServerCommand};
use easd::items::tzinfo::TzInfo;
use easd::wbxml::Element;
use easd::wbxml::tags::{airsync, calendar as cal, contacts};
use pim_sync_support::{Synced, USER, folder_of, folders, phone};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Radicale on a free loopback port over `folder`, its hook notifying easd. Killed on drop.
struct Radicale {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Radicale {
    fn start(folder: &Path, easd_config: &Path, dir: &Path) -> Radicale {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let hook = format!(
            "{} notify --config {} %(user)s",
            env!("CARGO_BIN_EXE_easd"),
            easd_config.display()
        );
        let config = format!(
            "[server]\nhosts = 127.0.0.1:{port}\n\n[auth]\ntype = none\n\n[rights]\ntype = owner_only\n\n\
             [storage]\nfilesystem_folder = {}\nhook = {hook}\n\n[web]\ntype = none\n\n[logging]\nlevel = info\n",
            folder.display()
        );
        let config_path = dir.join("radicale.conf");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.join("radicale.log");
        let child = Command::new("radicale")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("radicale.out")).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("radicale (Debian package `radicale`) must be installed");
        let r = Radicale { child, port, log };
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("radicale did not start: {}", r.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One DAV request as `USER`.
    fn dav(
        &self,
        method: &str,
        path: &str,
        depth: Option<&str>,
        ctype: &str,
        body: &str,
    ) -> (u16, String) {
        let mut conn = Connection::new(Target::http(format!("127.0.0.1:{}", self.port)));
        let auth = base64_basic(USER, "anything");
        let mut headers = vec![
            ("Authorization".to_string(), auth),
            ("Content-Type".to_string(), ctype.to_string()),
        ];
        if let Some(d) = depth {
            headers.push(("Depth".to_string(), d.to_string()));
        }
        let r = run(conn.request(method, path, &headers, body.as_bytes().to_vec())).unwrap();
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// easd with its vdir root inside Radicale's `collection-root`, no fallback scan to speak of
/// (so only the hook can wake a Ping quickly), and short heartbeats.
fn setup() -> (Server, Radicale) {
    let mut server = Server::start_with(Options {
        extra: "[dav]\nroot = \"{data_dir}/radicale/collection-root/{user}\"\n".into(),
        ..Options::default()
    });
    let config = std::fs::read_to_string(&server.config_path).unwrap().replacen(
        "[push]\n",
        "[push]\nmin_heartbeat_secs = 2\nmax_heartbeat_secs = 3000\nfallback_scan_secs = 3000\n",
        1,
    );
    std::fs::write(&server.config_path, config).unwrap();
    server.restart();
    let folder = server.data_dir().join("radicale");
    std::fs::create_dir_all(&folder).unwrap();
    let radicale = Radicale::start(&folder, &server.config_path, server.dir.path());
    (server, radicale)
}

fn held(server: &Server) -> usize {
    let mut conn = Connection::new(server.target());
    let r = run(conn.request("GET", "/debug/stats", &[], Vec::new())).unwrap();
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let n = text.split("\"held_pings\":").nth(1).unwrap();
    n.trim_end_matches('}').parse().unwrap()
}

fn wait_held(server: &Server, n: usize) {
    for _ in 0..1000 {
        if held(server) == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("held pings never reached {n}");
}

fn ping(mut phone: Device, id: CollectionId, class: &str) -> std::thread::JoinHandle<PingResponse> {
    let class = class.to_string();
    std::thread::spawn(move || {
        run(phone.ping(&PingRequest {
            heartbeat: Some(60),
            folders: Some(vec![PingFolder {
                id: id.as_str().try_into().unwrap(),
                class: class.as_str().try_into().unwrap(),
            }]),
        }))
        .unwrap()
    })
}

fn added(cmds: &[ServerCommand]) -> Vec<Element> {
    cmds.iter()
        .filter_map(|c| match c {
            ServerCommand::Add { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

const CALENDAR_QUERY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>"#;

const ADDRESSBOOK_QUERY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>
</C:addressbook-query>"#;

const DAV_EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Thunderbird//EN\r\nBEGIN:VEVENT\r\nUID:caldav-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Europe/Paris:20300610T140000\r\nDTEND;TZID=Europe/Paris:20300610T150000\r\nSUMMARY:Put through CalDAV\r\nX-MOZ-GENERATION:3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const DAV_CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:carddav-1\r\nFN:Ines Garcia\r\nN:Garcia;Ines;;;\r\nEMAIL;TYPE=INTERNET:ines@example.es\r\nEND:VCARD\r\n";

#[test]
fn radicale_and_easd_share_calendars_and_address_books() {
    let (server, radicale) = setup();
    let home = format!("/{USER}/");
    let mut p = phone(&server, "radicale-phone", ProtocolVersion::V16_1);
    let list = folders(&mut p);
    let cal_id = folder_of(&list, 8);
    let card_id = folder_of(&list, 9);

    // Radicale sees easd's default collections with their kinds.
    let (status, body) = radicale.dav(
        "PROPFIND",
        &home,
        Some("1"),
        "application/xml",
        r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:resourcetype/></D:prop></D:propfind>"#,
    );
    assert_eq!(status, 207, "{body}\n{}", radicale.log_text());
    for name in ["Calendar", "Contacts", "Tasks", "Notes"] {
        assert!(body.contains(name), "{name} missing: {body}");
    }
    assert!(body.contains("addressbook"), "{body}");
    assert!(body.contains("calendar"), "{body}");

    let mut s_cal = Synced::prime(&mut p, &cal_id, 8, None);
    assert!(s_cal.drain(&mut p).is_empty());
    let mut s_card = Synced::prime(&mut p, &card_id, 9, None);
    assert!(s_card.drain(&mut p).is_empty());

    // CalDAV PUT → the held Ping wakes through the hook → the next Sync brings it.
    let mut watcher = phone(&server, "radicale-watch", ProtocolVersion::V14_1);
    folders(&mut watcher);
    let mut w = Synced::prime(&mut watcher, &cal_id, 8, None);
    w.drain(&mut watcher);
    let h = ping(watcher, cal_id.clone(), "Calendar");
    wait_held(&server, 1);
    let (status, body) = radicale.dav(
        "PUT",
        &format!("{home}calendar/caldav-1.ics"),
        None,
        "text/calendar; charset=utf-8",
        DAV_EVENT,
    );
    assert_eq!(status, 201, "{body}\n{}", radicale.log_text());
    let r = h.join().unwrap();
    assert_eq!(
        r.status,
        PingStatus::Changes,
        "{r:?}\n{}",
        radicale.log_text()
    );
    assert_eq!(r.folders, [cal_id.as_str().to_string()]);
    let cmds = s_cal.drain(&mut p);
    let caldav_sid = match &cmds[..] {
        [ServerCommand::Add { server_id, .. }] => server_id.clone(),
        other => panic!("{other:?}"),
    };
    let got = added(&cmds);
    assert_eq!(got[0].child_text(cal::SUBJECT), Some("Put through CalDAV"));
    assert_eq!(got[0].child_text(cal::START_TIME), Some("20300610T120000Z"));

    // The phone adds an event → a CalDAV REPORT returns it.
    let tz = TzInfo::from_time_zone(&jiff::tz::db().get("Europe/Paris").unwrap(), 2030);
    let r = s_cal
        .send(
            &mut p,
            vec![ClientCommand::Add {
                client_id: ClientId::parse("e1").unwrap(),
                data: Element::new(airsync::APPLICATION_DATA)
                    .with_text(cal::TIMEZONE, tz.to_base64())
                    .with_text(cal::DT_STAMP, "20300101T000000Z")
                    .with_text(cal::START_TIME, "20300611T070000Z")
                    .with_text(cal::END_TIME, "20300611T080000Z")
                    .with_text(cal::SUBJECT, "Added on the phone")
                    .with_text(cal::BUSY_STATUS, "2")
                    .with_text(cal::ALL_DAY_EVENT, "0"),
            }],
        )
        .unwrap();
    assert!(!r.collections[0].responses.is_empty());
    let (status, body) = radicale.dav(
        "REPORT",
        &format!("{home}calendar/"),
        Some("1"),
        "application/xml; charset=utf-8",
        CALENDAR_QUERY,
    );
    assert_eq!(status, 207, "{body}\n{}", radicale.log_text());
    assert!(body.contains("SUMMARY:Added on the phone"), "{body}");
    assert!(body.contains("Put through CalDAV"), "{body}");

    // The phone edits the CalDAV event: Radicale serves the edit, Thunderbird's property stays.
    let mut edited = Element::new(airsync::APPLICATION_DATA);
    for e in got[0].elements().filter(|e| e.tag != cal::SUBJECT) {
        edited.push(e.clone());
    }
    edited.push_text(cal::SUBJECT, "Renamed on the phone");
    let r = s_cal
        .send(
            &mut p,
            vec![ClientCommand::Change {
                server_id: caldav_sid,
                data: edited,
            }],
        )
        .unwrap();
    assert!(r.collections[0].responses.is_empty(), "{r:?}");
    let (status, body) = radicale.dav(
        "GET",
        &format!("{home}calendar/caldav-1.ics"),
        None,
        "text/plain",
        "",
    );
    assert_eq!(status, 200);
    assert!(body.contains("SUMMARY:Renamed on the phone"), "{body}");
    assert!(body.contains("X-MOZ-GENERATION:3"), "{body}");

    // CardDAV PUT → Sync; phone Add → CardDAV REPORT.
    let (status, body) = radicale.dav(
        "PUT",
        &format!("{home}contacts/carddav-1.vcf"),
        None,
        "text/vcard; charset=utf-8",
        DAV_CARD,
    );
    assert_eq!(status, 201, "{body}\n{}", radicale.log_text());
    let got = added(&s_card.drain(&mut p));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].child_text(contacts::FIRST_NAME), Some("Ines"));
    assert_eq!(
        got[0]
            .child_text(contacts::EMAIL1_ADDRESS)
            .map(|e| e.contains("ines@example.es")),
        Some(true)
    );
    s_card
        .send(
            &mut p,
            vec![ClientCommand::Add {
                client_id: ClientId::parse("c1").unwrap(),
                data: Element::new(airsync::APPLICATION_DATA)
                    .with_text(contacts::FIRST_NAME, "Pedro")
                    .with_text(contacts::LAST_NAME, "Alves")
                    .with_text(contacts::FILE_AS, "Alves, Pedro")
                    .with_text(contacts::EMAIL1_ADDRESS, "pedro@example.pt"),
            }],
        )
        .unwrap();
    let (status, body) = radicale.dav(
        "REPORT",
        &format!("{home}contacts/"),
        Some("1"),
        "application/xml; charset=utf-8",
        ADDRESSBOOK_QUERY,
    );
    assert_eq!(status, 207, "{body}\n{}", radicale.log_text());
    assert!(body.contains("pedro@example.pt"), "{body}");
    assert!(body.contains("Ines Garcia"), "{body}");

    // A calendar made through CalDAV appears on the phone as a user calendar; one made on the
    // phone appears in Radicale.
    let (status, body) = radicale.dav(
        "MKCOL",
        &format!("{home}holidays/"),
        None,
        "application/xml",
        r#"<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:resourcetype><D:collection/><C:calendar/></D:resourcetype><D:displayname>School holidays</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></D:mkcol>"#,
    );
    assert_eq!(status, 201, "{body}\n{}", radicale.log_text());
    let first = run(p.folder_sync(SyncKey::Initial)).unwrap();
    assert!(
        first
            .changes
            .iter()
            .any(|c| matches!(c, FolderChange::Add(e)
            if e.kind == 13 && e.display_name == "School holidays")),
        "{:?}",
        first.changes
    );
    let r = run(p.folder_create(&FolderCreateRequest {
        sync_key: first.sync_key.unwrap(),
        parent_id: CollectionId::from_number(0),
        display_name: "Book club".into(),
        kind: 14,
    }))
    .unwrap();
    assert_eq!(r.status, FolderCreateStatus::Success);
    let (status, body) = radicale.dav(
        "PROPFIND",
        &home,
        Some("1"),
        "application/xml",
        r#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:resourcetype/></D:prop></D:propfind>"#,
    );
    assert_eq!(status, 207);
    assert!(body.contains("Book club"), "{body}");
}
