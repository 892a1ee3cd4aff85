//! Autodiscover against a real server, with the request shapes iOS, Android, Outlook mobile and
//! Outlook send; every answer is read back with the schema rules (`Response::parse`).

mod common;

use common::{PASSWORD, Server, run};
use easd::autodiscover::request::{MOBILESYNC_REQUEST_NS, OUTLOOK_REQUEST_NS};
use easd::autodiscover::services::{Endpoint, Kind};
use easd::autodiscover::{ErrorCode, Request, Response, Schema};
use easd::client::{Connection, Target};

const SMARTDISCOVER: &str = "\
[autodiscover]

[[autodiscover.protocol]]
type = \"IMAP\"
server = \"mail.example.com\"
port = 993

[[autodiscover.protocol]]
type = \"SMTP\"
server = \"mail.example.com\"
port = 587

[[autodiscover.protocol]]
type = \"CardDAV\"
url = \"https://dav.example.com/carddav/\"

[[autodiscover.protocol]]
type = \"XMPP\"
server = \"mail.example.com\"
port = 5222
";

fn server() -> Server {
    Server::start_with(common::Options {
        extra: SMARTDISCOVER.into(),
        ..Default::default()
    })
}

/// A connection that says `host` in its Host header, as a phone reaching autodiscover.<domain> does.
fn conn(server: &Server, host: &str) -> Connection {
    Connection::new(Target {
        addr: server.addr.to_string(),
        host: host.to_string(),
        tls: None,
    })
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn headers(user: &str, agent: &str) -> Vec<(String, String)> {
    vec![
        ("Authorization".into(), basic(user, PASSWORD)),
        ("User-Agent".into(), agent.into()),
        ("Content-Type".into(), "text/xml".into()),
    ]
}

fn post(c: &mut Connection, path: &str, h: &[(String, String)], body: Vec<u8>) -> Response {
    let reply = run(c.request("POST", path, h, body)).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    Response::parse(&reply.body)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&reply.body)))
}

fn expect_settings(r: Response, schema: Schema, email: &str) -> easd::autodiscover::Settings {
    match r {
        Response::Settings {
            schema: s,
            settings,
        } if s == schema => {
            assert_eq!(settings.email, email);
            assert_eq!(
                settings.display_name, email,
                "the harness names users by address"
            );
            assert_eq!(
                settings.mobilesync_url,
                "http://mail.example.com/Microsoft-Server-ActiveSync"
            );
            settings
        }
        other => panic!("expected {schema:?} settings, got {other:?}"),
    }
}

#[test]
fn ios_posts_mobilesync_to_the_autodiscover_host() {
    let server = server();
    let mut c = conn(&server, "autodiscover.example.com");
    let body = Request {
        email: Some("alice@example.com".into()),
        schema: Schema::MobileSync,
    }
    .to_xml();
    let h = headers("alice@example.com", "iOS/17.4 (21E219) dataaccessd/1.0");
    let r = post(&mut c, "/autodiscover/autodiscover.xml", &h, body);
    let settings = expect_settings(r, Schema::MobileSync, "alice@example.com");
    // SmartDiscover: the other protocols come after MobileSync, in configuration order.
    let kinds: Vec<Kind> = settings.services.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [Kind::Imap, Kind::Smtp, Kind::CardDav, Kind::Xmpp]);
    assert_eq!(
        settings.services[0].endpoint,
        Endpoint::Host {
            host: "mail.example.com".into(),
            port: 993,
            tls: true
        }
    );
}

#[test]
fn android_shapes_any_case_and_get() {
    let server = server();
    let mut c = conn(&server, "example.com");
    // The AOSP Exchange client's body: declaration, CRLFs, default namespace, capitalized path.
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Autodiscover xmlns=\"{MOBILESYNC_REQUEST_NS}\">\r\n<Request>\r\n<EMailAddress>bob@example.com</EMailAddress>\r\n<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema>\r\n</Request>\r\n</Autodiscover>\r\n"
    );
    let h = headers("bob@example.com", "Android-Mail/2024.01.01");
    for path in [
        "/Autodiscover/Autodiscover.xml",
        "/AUTODISCOVER/AUTODISCOVER.XML",
        "/autodiscover/autodiscover.xml/",
    ] {
        let r = post(&mut c, path, &h, body.clone().into_bytes());
        expect_settings(r, Schema::MobileSync, "bob@example.com");
    }
    // Without AcceptableResponseSchema, and with a user name instead of the address.
    let body = format!(
        "<Autodiscover xmlns=\"{MOBILESYNC_REQUEST_NS}\"><Request><EMailAddress>bob@example.com</EMailAddress></Request></Autodiscover>"
    );
    let h = headers("bob", "SAMSUNG-SM-S918B/101.0");
    let r = post(
        &mut c,
        "/autodiscover/autodiscover.xml",
        &h,
        body.into_bytes(),
    );
    expect_settings(r, Schema::MobileSync, "bob@example.com");
    // The guide's plain GET, first without then with credentials.
    let reply = run(c.request("GET", "/autodiscover/autodiscover.xml", &[], Vec::new())).unwrap();
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Basic realm=\"easd\"")
    );
    let reply = run(c.request("GET", "/autodiscover/autodiscover.xml", &h, Vec::new())).unwrap();
    assert_eq!(reply.status, 200);
    let r = Response::parse(&reply.body).unwrap();
    expect_settings(r, Schema::MobileSync, "bob@example.com");
}

#[test]
fn outlook_mobile_json_then_xml() {
    let server = server();
    let mut c = conn(&server, "autodiscover.example.com");
    let agent = vec![("User-Agent".to_string(), "Outlook-iOS/2.0".to_string())];
    for uri in [
        "/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=ActiveSync&RedirectCount=1",
        "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=ActiveSync&RedirectCount=1",
        "/AutoDiscover/AutoDiscover.json/v1.0/nobody@example.com?Protocol=activesync",
    ] {
        let reply = run(c.request("GET", uri, &agent, Vec::new())).unwrap();
        assert_eq!(reply.status, 200, "{uri}");
        assert_eq!(
            std::str::from_utf8(&reply.body).unwrap(),
            "{\"Protocol\":\"ActiveSync\",\"Url\":\"http://mail.example.com/Microsoft-Server-ActiveSync\"}"
        );
    }
    let reply = run(c.request(
        "GET",
        "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=AutodiscoverV1",
        &agent,
        Vec::new(),
    ))
    .unwrap();
    assert_eq!(
        std::str::from_utf8(&reply.body).unwrap(),
        "{\"Protocol\":\"AutodiscoverV1\",\"Url\":\"http://mail.example.com/autodiscover/autodiscover.xml\"}"
    );
    let reply = run(c.request(
        "GET",
        "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=Ews",
        &agent,
        Vec::new(),
    ))
    .unwrap();
    assert_eq!(reply.status, 400);
    assert!(
        std::str::from_utf8(&reply.body)
            .unwrap()
            .starts_with("{\"ErrorCode\":\"InvalidProtocol\"")
    );
    // Then the XML form, as it does once it has the URL.
    let body = Request {
        email: Some("alice@example.com".into()),
        schema: Schema::MobileSync,
    }
    .to_xml();
    let h = headers("alice@example.com", "Outlook-iOS/2.0");
    let r = post(&mut c, "/autodiscover/autodiscover.xml", &h, body);
    expect_settings(r, Schema::MobileSync, "alice@example.com");
}

#[test]
fn outlook_desktop_gets_the_outlook_schema() {
    let server = server();
    let mut c = conn(&server, "autodiscover.example.com");
    let body = Request {
        email: Some("alice@example.com".into()),
        schema: Schema::Outlook,
    }
    .to_xml();
    assert!(String::from_utf8_lossy(&body).contains(OUTLOOK_REQUEST_NS));
    let h = headers(
        "alice@example.com",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    );
    let r = post(&mut c, "/autodiscover/autodiscover.xml", &h, body);
    let settings = expect_settings(r, Schema::Outlook, "alice@example.com");
    assert_eq!(settings.services.len(), 4);
    assert_eq!(
        settings.services[2].endpoint,
        Endpoint::Url(
            "https://dav.example.com/carddav"
                .to_string()
                .try_into()
                .unwrap()
        )
    );
}

#[test]
fn errors_600_601_500_and_401() {
    let server = server();
    let mut c = conn(&server, "example.com");
    let h = headers("alice@example.com", "test");
    let code = |r: Response| match r {
        Response::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    };
    let r = post(
        &mut c,
        "/autodiscover/autodiscover.xml",
        &h,
        b"<Autodiscover><Request>".to_vec(),
    );
    assert_eq!(code(r), ErrorCode::InvalidRequest);
    let body = format!(
        "<Autodiscover xmlns=\"{MOBILESYNC_REQUEST_NS}\"><Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://example.com/some/other/schema</AcceptableResponseSchema></Request></Autodiscover>"
    );
    let r = post(
        &mut c,
        "/autodiscover/autodiscover.xml",
        &h,
        body.into_bytes(),
    );
    assert_eq!(code(r), ErrorCode::SchemaNotAvailable);
    // Alice may not discover Bob's account.
    let body = Request {
        email: Some("bob@example.com".into()),
        schema: Schema::MobileSync,
    }
    .to_xml();
    let r = post(&mut c, "/autodiscover/autodiscover.xml", &h, body.clone());
    assert_eq!(code(r), ErrorCode::AddressNotFound);
    // Bad credentials never reach the parser.
    let wrong = vec![(
        "Authorization".to_string(),
        basic("alice@example.com", "nope"),
    )];
    let reply = run(c.request("POST", "/autodiscover/autodiscover.xml", &wrong, body)).unwrap();
    assert_eq!(reply.status, 401);
    let reply = run(c.request("PUT", "/autodiscover/autodiscover.xml", &h, Vec::new())).unwrap();
    assert_eq!(reply.status, 405);
    let reply = run(c.request(
        "POST",
        "/autodiscover/autodiscover.xml",
        &h,
        vec![b'x'; 100_000],
    ))
    .unwrap();
    assert_eq!(reply.status, 413);
}
