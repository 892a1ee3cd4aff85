//! The autodiscover answer in both schemas (MS-ASCMD 2.2.1.1 mobilesync, MS-OXDSCLI outlook 2006a)
//! and the MS-OXDSCLI error answers. `parse` reads an answer back with the schemas' rules (exact
//! namespaces, required elements, element order), so tests and tools check what the server sends.

use super::request::{MOBILESYNC_RESPONSE_NS, OUTLOOK_RESPONSE_NS, Schema};
use super::services::{Endpoint, Kind, PublicUrl, Service};
use super::xml::{self, Node};
use std::fmt;

pub const RESPONSE_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";

/// What the client is told about its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub display_name: String,
    pub email: String,
    pub mobilesync_url: String,
    /// SmartDiscover's other protocols.
    pub services: Vec<Service>,
}

/// The MS-OXDSCLI error codes this server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 500: the address asked about is not the authenticated user's.
    AddressNotFound,
    /// 600: the request was not a well-formed autodiscover request.
    InvalidRequest,
    /// 601: no provider for the requested response schema.
    SchemaNotAvailable,
}

impl ErrorCode {
    pub fn code(self) -> u16 {
        match self {
            ErrorCode::AddressNotFound => 500,
            ErrorCode::InvalidRequest => 600,
            ErrorCode::SchemaNotAvailable => 601,
        }
    }

    pub fn from_code(code: u16) -> Option<ErrorCode> {
        [
            ErrorCode::AddressNotFound,
            ErrorCode::InvalidRequest,
            ErrorCode::SchemaNotAvailable,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }

    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::AddressNotFound => "The email address cannot be found",
            ErrorCode::InvalidRequest => "Invalid Request",
            ErrorCode::SchemaNotAvailable => "The requested response schema is not available",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Settings { schema: Schema, settings: Settings },
    Error { schema: Schema, code: ErrorCode },
}

/// An answer that breaks the schema rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation(pub String);

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "autodiscover answer breaks the schema: {}", self.0)
    }
}

impl std::error::Error for SchemaViolation {}

impl Response {
    pub fn to_xml(&self) -> Vec<u8> {
        let inner = match self {
            Response::Settings {
                schema: Schema::MobileSync,
                settings,
            } => mobilesync(settings),
            Response::Settings {
                schema: Schema::Outlook,
                settings,
            } => outlook(settings),
            Response::Error { schema, code } => {
                Node::new(schema.response_ns(), "Response").with("Error", |e| {
                    e.with_text("ErrorCode", code.code().to_string())
                        .with_text("Message", code.message())
                        .with_text("DebugData", "")
                })
            }
        };
        let mut root = Node::new(RESPONSE_NS, "Autodiscover");
        root.push(inner);
        root.to_xml()
    }

    /// Reads an answer, refusing anything the schemas do not allow.
    pub fn parse(body: &[u8]) -> Result<Response, SchemaViolation> {
        let bad = |m: String| SchemaViolation(m);
        let root = xml::parse(body).map_err(|e| bad(e.to_string()))?;
        expect(&root, RESPONSE_NS, "Autodiscover")?;
        let [response] = root.children.as_slice() else {
            return Err(bad("Autodiscover must hold exactly one Response".into()));
        };
        let schema = match response.namespace.as_str() {
            MOBILESYNC_RESPONSE_NS => Schema::MobileSync,
            OUTLOOK_RESPONSE_NS => Schema::Outlook,
            other => return Err(bad(format!("Response in namespace {other:?}"))),
        };
        expect(response, schema.response_ns(), "Response")?;
        if let Some(error) = response.children.iter().find(|c| c.name == "Error") {
            let code = parse_error(error)?;
            return Ok(Response::Error { schema, code });
        }
        let settings = match schema {
            Schema::MobileSync => parse_mobilesync(response)?,
            Schema::Outlook => parse_outlook(response)?,
        };
        Ok(Response::Settings { schema, settings })
    }
}

fn mobilesync(s: &Settings) -> Node {
    let server = |kind: &str, url: &str| {
        Node::new(MOBILESYNC_RESPONSE_NS, "Server")
            .with_text("Type", kind)
            .with_text("Url", url)
            .with_text("Name", url)
    };
    let mut settings = Node::new(MOBILESYNC_RESPONSE_NS, "Settings");
    settings.push(server("MobileSync", &s.mobilesync_url));
    for svc in &s.services {
        settings.push(server(svc.kind.name(), &svc.url()));
    }
    let mut action = Node::new(MOBILESYNC_RESPONSE_NS, "Action");
    action.push(settings);
    let mut response = Node::new(MOBILESYNC_RESPONSE_NS, "Response")
        .with_text("Culture", "en:us")
        .with("User", |u| {
            u.with_text("DisplayName", s.display_name.as_str())
                .with_text("EMailAddress", s.email.as_str())
        });
    response.push(action);
    response
}

fn outlook(s: &Settings) -> Node {
    let mut account = Node::new(OUTLOOK_RESPONSE_NS, "Account")
        .with_text("AccountType", "email")
        .with_text("Action", "settings")
        .with("Protocol", |p| {
            p.with_text("Type", "MobileSync")
                .with_text("Server", s.mobilesync_url.as_str())
                .with_text("Name", s.mobilesync_url.as_str())
                .with_text("LoginName", s.email.as_str())
        });
    for svc in &s.services {
        let mut p = Node::new(OUTLOOK_RESPONSE_NS, "Protocol").with_text("Type", svc.kind.name());
        p = match &svc.endpoint {
            Endpoint::Url(url) => p
                .with_text("Server", url.as_str())
                .with_text("LoginName", s.email.as_str()),
            Endpoint::Host { host, port, tls } => p
                .with_text("Server", host.as_str())
                .with_text("Port", port.to_string())
                .with_text("LoginName", s.email.as_str())
                .with_text("DomainRequired", "off")
                .with_text("SPA", "off")
                .with_text("SSL", if *tls { "on" } else { "off" })
                .with_text("AuthRequired", "on"),
        };
        account.push(p);
    }
    let mut response = Node::new(OUTLOOK_RESPONSE_NS, "Response").with("User", |u| {
        u.with_text("DisplayName", s.display_name.as_str())
            .with_text("AutoDiscoverSMTPAddress", s.email.as_str())
    });
    response.push(account);
    response
}

fn expect(node: &Node, ns: &str, name: &str) -> Result<(), SchemaViolation> {
    if node.name != name || node.namespace != ns {
        return Err(SchemaViolation(format!(
            "expected {name} in {ns:?}, found {} in {:?}",
            node.name, node.namespace
        )));
    }
    Ok(())
}

/// Checks that the children's names follow `order` (each optional unless in `required`, none
/// repeated unless in `repeatable`) and stay in the parent's namespace.
fn check_sequence(
    parent: &Node,
    order: &[&str],
    required: &[&str],
    repeatable: &[&str],
) -> Result<(), SchemaViolation> {
    let mut pos = 0;
    let mut last: Option<&str> = None;
    for c in &parent.children {
        if c.namespace != parent.namespace {
            return Err(SchemaViolation(format!(
                "{} in namespace {:?}",
                c.name, c.namespace
            )));
        }
        let Some(i) = order.iter().position(|n| *n == c.name) else {
            return Err(SchemaViolation(format!(
                "{} may not hold {}",
                parent.name, c.name
            )));
        };
        let repeat = last == Some(c.name.as_str());
        if i < pos || (repeat && !repeatable.contains(&c.name.as_str())) {
            return Err(SchemaViolation(format!(
                "{} out of order in {}",
                c.name, parent.name
            )));
        }
        pos = i;
        last = Some(order[i]);
    }
    for r in required {
        if parent.child(r).is_none_or(|c| c.name != *r) {
            return Err(SchemaViolation(format!("{} lacks {r}", parent.name)));
        }
    }
    Ok(())
}

fn parse_error(error: &Node) -> Result<ErrorCode, SchemaViolation> {
    check_sequence(
        error,
        &["Status", "ErrorCode", "Message", "DebugData"],
        &["ErrorCode"],
        &[],
    )?;
    let text = error.child_text("ErrorCode").unwrap_or("");
    text.parse::<u16>()
        .ok()
        .and_then(ErrorCode::from_code)
        .ok_or_else(|| SchemaViolation(format!("unknown ErrorCode {text:?}")))
}

fn required_text<'a>(node: &'a Node, name: &str) -> Result<&'a str, SchemaViolation> {
    match node.child_text(name) {
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(SchemaViolation(format!("{} lacks {name}", node.name))),
    }
}

fn parse_mobilesync(response: &Node) -> Result<Settings, SchemaViolation> {
    check_sequence(
        response,
        &["Culture", "User", "Action"],
        &["User", "Action"],
        &[],
    )?;
    let user = response
        .child("User")
        .ok_or_else(|| SchemaViolation("no User".into()))?;
    check_sequence(
        user,
        &["DisplayName", "EMailAddress"],
        &["EMailAddress"],
        &[],
    )?;
    let action = response
        .child("Action")
        .ok_or_else(|| SchemaViolation("no Action".into()))?;
    check_sequence(
        action,
        &["Redirect", "Settings", "Error"],
        &["Settings"],
        &[],
    )?;
    let settings = action
        .child("Settings")
        .ok_or_else(|| SchemaViolation("no Settings".into()))?;
    check_sequence(settings, &["Server"], &["Server"], &["Server"])?;
    let mut mobilesync_url = None;
    let mut services = Vec::new();
    for server in &settings.children {
        check_sequence(
            server,
            &["Type", "Url", "Name", "ServerData"],
            &["Type", "Url"],
            &[],
        )?;
        let kind = required_text(server, "Type")?;
        let url = required_text(server, "Url")?;
        if kind == "MobileSync" {
            mobilesync_url = Some(url.to_string());
        } else {
            services.push(service_from_url(kind, url)?);
        }
    }
    Ok(Settings {
        display_name: user.child_text("DisplayName").unwrap_or("").to_string(),
        email: required_text(user, "EMailAddress")?.to_string(),
        mobilesync_url: mobilesync_url
            .ok_or_else(|| SchemaViolation("no MobileSync server".into()))?,
        services,
    })
}

fn parse_outlook(response: &Node) -> Result<Settings, SchemaViolation> {
    check_sequence(response, &["User", "Account"], &["Account"], &[])?;
    let account = response
        .child("Account")
        .ok_or_else(|| SchemaViolation("no Account".into()))?;
    check_sequence(
        account,
        &["AccountType", "Action", "Protocol"],
        &["AccountType", "Action"],
        &["Protocol"],
    )?;
    if account.child_text("AccountType") != Some("email")
        || account.child_text("Action") != Some("settings")
    {
        return Err(SchemaViolation("Account is not email settings".into()));
    }
    let user = response.child("User");
    if let Some(user) = user {
        check_sequence(
            user,
            &[
                "DisplayName",
                "LegacyDN",
                "AutoDiscoverSMTPAddress",
                "DeploymentId",
            ],
            &[],
            &[],
        )?;
    }
    let mut mobilesync_url = None;
    let mut services = Vec::new();
    let mut login = None;
    for p in account.children.iter().filter(|c| c.name == "Protocol") {
        check_sequence(
            p,
            &[
                "Type",
                "Server",
                "Name",
                "Port",
                "LoginName",
                "DomainRequired",
                "SPA",
                "SSL",
                "AuthRequired",
            ],
            &["Type", "Server"],
            &[],
        )?;
        let kind = required_text(p, "Type")?;
        let server = required_text(p, "Server")?;
        login = login.or(p.child_text("LoginName"));
        if kind == "MobileSync" {
            mobilesync_url = Some(server.to_string());
            continue;
        }
        let kind =
            Kind::from_name(kind).ok_or_else(|| SchemaViolation(format!("protocol {kind}")))?;
        let endpoint = match p.child_text("Port") {
            None => {
                Endpoint::Url(PublicUrl::try_from(server.to_string()).map_err(SchemaViolation)?)
            }
            Some(port) => Endpoint::Host {
                host: server.to_string(),
                port: port
                    .parse()
                    .map_err(|_| SchemaViolation(format!("Port {port:?}")))?,
                tls: p.child_text("SSL") != Some("off"),
            },
        };
        services.push(Service { kind, endpoint });
    }
    let email = user
        .and_then(|u| u.child_text("AutoDiscoverSMTPAddress"))
        .or(login)
        .ok_or_else(|| SchemaViolation("no address".into()))?;
    Ok(Settings {
        display_name: user
            .and_then(|u| u.child_text("DisplayName"))
            .unwrap_or("")
            .to_string(),
        email: email.to_string(),
        mobilesync_url: mobilesync_url
            .ok_or_else(|| SchemaViolation("no MobileSync protocol".into()))?,
        services,
    })
}

/// Undoes `Service::url` for the mobilesync schema, which only carries URLs.
fn service_from_url(kind: &str, url: &str) -> Result<Service, SchemaViolation> {
    let bad = || SchemaViolation(format!("{kind} server {url:?}"));
    let kind = Kind::from_name(kind).ok_or_else(bad)?;
    if kind.is_url_based() {
        let endpoint =
            Endpoint::Url(PublicUrl::try_from(url.to_string()).map_err(SchemaViolation)?);
        return Ok(Service { kind, endpoint });
    }
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let tls = scheme.ends_with('s') || kind == Kind::Xmpp;
    Ok(Service {
        kind,
        endpoint: Endpoint::Host {
            host: host.to_string(),
            port: port.parse().map_err(|_| bad())?,
            tls,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let services = [
            "type = \"IMAP\"\nserver = \"mail.example.com\"\nport = 993",
            "type = \"SMTP\"\nserver = \"mail.example.com\"\nport = 25\nssl = false",
            "type = \"CalDAV\"\nurl = \"https://dav.example.com/cal\"",
            "type = \"XMPP\"\nserver = \"im.example.com\"\nport = 5222",
        ]
        .iter()
        .map(|t| toml::from_str::<Service>(t).unwrap())
        .collect();
        Settings {
            display_name: "Alice <A&B>".into(),
            email: "alice@example.com".into(),
            mobilesync_url: "https://mail.example.com/Microsoft-Server-ActiveSync".into(),
            services,
        }
    }

    #[test]
    fn both_schemas_round_trip() {
        for schema in [Schema::MobileSync, Schema::Outlook] {
            let r = Response::Settings {
                schema,
                settings: settings(),
            };
            let xml = r.to_xml();
            assert_eq!(
                Response::parse(&xml),
                Ok(r),
                "{}",
                String::from_utf8_lossy(&xml)
            );
        }
    }

    #[test]
    fn errors_round_trip() {
        for code in [
            ErrorCode::AddressNotFound,
            ErrorCode::InvalidRequest,
            ErrorCode::SchemaNotAvailable,
        ] {
            let r = Response::Error {
                schema: Schema::MobileSync,
                code,
            };
            assert_eq!(Response::parse(&r.to_xml()), Ok(r));
        }
    }

    #[test]
    fn mobilesync_shape() {
        let r = Response::Settings {
            schema: Schema::MobileSync,
            settings: settings(),
        };
        let text = String::from_utf8(r.to_xml()).unwrap();
        assert!(
            text.contains(&format!("<Autodiscover xmlns=\"{RESPONSE_NS}\">")),
            "{text}"
        );
        assert!(
            text.contains(&format!("<Response xmlns=\"{MOBILESYNC_RESPONSE_NS}\">")),
            "{text}"
        );
        assert!(
            text.contains("<Url>imaps://mail.example.com:993</Url>"),
            "{text}"
        );
        assert!(text.contains("Alice &lt;A&amp;B&gt;"), "{text}");
        let first_server = text.find("<Type>").unwrap();
        assert_eq!(
            &text[first_server..first_server + 23],
            "<Type>MobileSync</Type>"
        );
    }

    #[test]
    fn schema_rules_are_enforced() {
        let ok = String::from_utf8(
            Response::Settings {
                schema: Schema::MobileSync,
                settings: settings(),
            }
            .to_xml(),
        )
        .unwrap();
        for (from, to) in [
            (
                "<Culture>en:us</Culture>",
                "<Culture>en:us</Culture><Culture>x</Culture>",
            ),
            ("<EMailAddress>alice@example.com</EMailAddress>", ""),
            (RESPONSE_NS, "urn:x"),
            (MOBILESYNC_RESPONSE_NS, OUTLOOK_RESPONSE_NS),
            (
                "<Type>MobileSync</Type>",
                "<Name>x</Name><Type>MobileSync</Type>",
            ),
            ("<Action>", "<Action><Bogus/>"),
        ] {
            let broken = ok.replacen(from, to, 1);
            assert!(Response::parse(broken.as_bytes()).is_err(), "{broken}");
        }
    }
}
