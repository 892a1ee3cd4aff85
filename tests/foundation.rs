//! The HTTP/protocol base against a real server process: OPTIONS, authentication, query forms,
//! malformed input, limits.

mod common;

use common::{Server, run};
use easd::eas::{Command, EasQuery};

#[test]
fn options_advertises_versions_and_commands() {
    let server = Server::start();
    let mut phone = server.device("alice@example.com", "dev1");
    let reply = run(phone.options()).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("ms-asprotocolversions"),
        Some("2.5,12.0,12.1,14.0,14.1,16.0,16.1")
    );
    assert!(reply.header("ms-asprotocolcommands").is_some());
    assert_eq!(reply.header("ms-server-activesync"), Some("16.1"));

    // Wrong credentials on OPTIONS are refused, so account validation by OPTIONS works.
    phone.password = "wrong".into();
    assert_eq!(run(phone.options()).unwrap().status, 401);
}

#[test]
fn wrong_or_missing_password_gets_401() {
    let server = Server::start();
    let mut phone = server.device("alice@example.com", "dev1");
    phone.password = "nope".into();
    let body = easd::wbxml::from_xml(
        "<FolderSync xmlns=\"FolderHierarchy:\"><SyncKey>0</SyncKey></FolderSync>",
    )
    .unwrap();
    let reply = run(phone.command(Command::FolderSync, Some(&body))).unwrap();
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"easd\"")
    );

    let mut stranger = server.device("mallory@example.com", "dev2");
    assert_eq!(
        run(stranger.command(Command::FolderSync, Some(&body)))
            .unwrap()
            .status,
        401
    );

    // A browser GET without credentials gets the login prompt.
    let mut conn = easd::client::Connection::new(server.target());
    let reply = run(conn.request("GET", "/Microsoft-Server-ActiveSync/", &[], Vec::new())).unwrap();
    assert_eq!(reply.status, 401);
    assert!(reply.header("www-authenticate").is_some());
}

#[test]
fn malformed_wbxml_gets_400_and_others_are_still_served() {
    let server = Server::start();
    let mut bad = server.device("alice@example.com", "bad1");
    let q = bad.query(Command::FolderSync);
    for junk in [
        vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x07, 0x56],
        vec![0xff; 64],
        vec![0x03],
    ] {
        let reply = run(bad.post(&q, "application/vnd.ms-sync.wbxml", junk)).unwrap();
        assert_eq!(reply.status, 400);
    }
    // Deep nesting is refused, not a stack overflow.
    let mut deep = vec![0x03, 0x01, 0x6a, 0x00, 0x00, 0x07];
    deep.extend(std::iter::repeat_n(0x56, 100_000));
    let reply = run(bad.post(&q, "application/vnd.ms-sync.wbxml", deep)).unwrap();
    assert_eq!(reply.status, 400);

    let mut good = server.device("bob@example.com", "good1");
    assert_eq!(run(good.options()).unwrap().status, 200);
    assert!(
        server
            .wait_log("malformed WBXML", std::time::Duration::from_secs(5))
            .is_some()
    );
}

#[test]
fn bad_uris_and_unknown_commands() {
    let server = Server::start();
    let mut phone = server.device("alice@example.com", "dev1");
    let auth = vec![("Authorization".to_string(), phone.authorization())];
    let mut post = |uri: &str| {
        run(phone.conn.request("POST", uri, &auth, Vec::new()))
            .unwrap()
            .status
    };
    assert_eq!(
        post("/Microsoft-Server-ActiveSync?Cmd=Frobnicate&User=a&DeviceId=d&DeviceType=t"),
        501
    );
    assert_eq!(
        post("/Microsoft-Server-ActiveSync?User=a&DeviceId=d&DeviceType=t"),
        400
    );
    assert_eq!(
        post("/Microsoft-Server-ActiveSync?Cmd=Sync&User=a&DeviceType=t"),
        400
    );
    assert_eq!(
        post("/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=..%2F..&DeviceType=t"),
        400
    );
    assert_eq!(post("/Microsoft-Server-ActiveSync?%%%"), 400);
    assert_eq!(post("/nowhere"), 404);
}

#[test]
fn base64_query_form_is_understood() {
    let server = Server::start();
    let mut phone = server.device("alice@example.com", "b64dev");
    phone.base64_query = true;
    // Authentication and dispatch both work through the base64 form; a malformed body proves the
    // request reached the WBXML stage.
    let q = EasQuery::new(
        Command::FolderSync,
        "alice@example.com",
        "b64dev",
        "easdTest",
    );
    let reply = run(phone.post(&q, "application/vnd.ms-sync.wbxml", vec![0xff])).unwrap();
    assert_eq!(reply.status, 400);
    phone.password = "wrong".into();
    let reply = run(phone.post(&q, "application/vnd.ms-sync.wbxml", vec![0xff])).unwrap();
    assert_eq!(reply.status, 401);
}

#[test]
fn oversized_body_gets_413() {
    let server = Server::start_with(common::Options {
        extra: "[limits]\nmax_body_bytes = 1000\n".into(),
        ..Default::default()
    });
    let mut phone = server.device("alice@example.com", "big");
    let q = phone.query(Command::Sync);
    let reply = run(phone.post(&q, "application/vnd.ms-sync.wbxml", vec![0u8; 5000])).unwrap();
    assert_eq!(reply.status, 413);
}

#[test]
fn check_config_names_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = [\"127.0.0.1:0\"]\nhostname = \"h\"\ndata_dir = \"/tmp\"\n[[user]]\nemail = \"nope\"\npassword_hash = \"x\"\n",
    )
    .unwrap();
    let (ok, _, err) = common::cli(&path, &["check-config"], None);
    assert!(!ok);
    assert!(err.contains(":6: user.email"), "{err}");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/easd.toml");
    let (ok, out, err) = common::cli(std::path::Path::new(example), &["check-config"], None);
    assert!(ok, "{err}");
    assert!(out.contains("ok"));
}

#[test]
fn moved_mailbox_gets_451_with_location() {
    let server = Server::start_with(common::Options {
        users: vec!["alice@example.com".into()],
        ..Default::default()
    });
    // Append the redirect to alice's [[user]] table (the last table in the file).
    let config = std::fs::read_to_string(&server.config_path).unwrap();
    std::fs::write(
        &server.config_path,
        format!("{config}redirect = \"https://other.example.com/Microsoft-Server-ActiveSync\"\n"),
    )
    .unwrap();
    let mut server = server;
    server.restart();
    let mut phone = server.device("alice@example.com", "moved");
    let body = easd::wbxml::from_xml(
        "<FolderSync xmlns=\"FolderHierarchy:\"><SyncKey>0</SyncKey></FolderSync>",
    )
    .unwrap();
    let reply = run(phone.command(Command::FolderSync, Some(&body))).unwrap();
    assert_eq!(reply.status, 451);
    assert_eq!(
        reply.header("x-ms-location"),
        Some("https://other.example.com/Microsoft-Server-ActiveSync")
    );
}

#[test]
fn over_capacity_gets_503_with_retry_after() {
    let server = Server::start_with(common::Options {
        extra: "[limits]\nmax_connections = 1\n".into(),
        ..Default::default()
    });
    // The first connection stays open (keep-alive) and occupies the only slot.
    let mut first = server.device("alice@example.com", "one");
    assert_eq!(run(first.options()).unwrap().status, 200);
    let mut second = easd::client::Connection::new(server.target());
    let reply =
        run(second.request("OPTIONS", "/Microsoft-Server-ActiveSync", &[], Vec::new())).unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("30"));
    // Once the first hangs up, service resumes.
    first.conn.close();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut third = easd::client::Connection::new(server.target());
    let reply =
        run(third.request("OPTIONS", "/Microsoft-Server-ActiveSync", &[], Vec::new())).unwrap();
    assert_eq!(reply.status, 200);
}
