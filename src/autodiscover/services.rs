//! The `[autodiscover]` configuration section: the MobileSync URL override and the other protocols the
//! box offers (IMAP, SMTP, CalDAV, CardDAV, XMPP...), which SmartDiscover lists beside ActiveSync so a
//! client that understands them can set itself up from one address and password.

use crate::config::Config;
use serde::Deserialize;
use std::fmt;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutodiscoverConfig {
    /// The public ActiveSync URL, when it is not what the listeners imply (a TLS reverse proxy in
    /// front of a plain listener, another port or path).
    pub mobilesync_url: Option<PublicUrl>,
    /// Other services on the box, listed in autodiscover answers in this order.
    #[serde(default, rename = "protocol")]
    pub protocols: Vec<Service>,
}

/// An absolute http:// or https:// URL, checked when the configuration is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `scheme://authority`, without the path.
    pub fn origin(&self) -> &str {
        let after_scheme = self.0.find("://").map_or(0, |i| i + 3);
        let path = self
            .0
            .get(after_scheme..)
            .and_then(|rest| rest.find('/'))
            .map_or(self.0.len(), |i| after_scheme + i);
        self.0.get(..path).unwrap_or(&self.0)
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;

    fn try_from(s: String) -> Result<PublicUrl, String> {
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| format!("{s:?} is not an http:// or https:// URL"))?;
        let authority = rest.split('/').next().unwrap_or("");
        if authority.is_empty() || s.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(format!("{s:?} is not an http:// or https:// URL"));
        }
        Ok(PublicUrl(s.trim_end_matches('/').to_string()))
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The protocols SmartDiscover knows how to describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Imap,
    Pop3,
    Smtp,
    CalDav,
    CardDav,
    Xmpp,
    Sip,
    /// A web mail or web portal URL.
    Web,
}

const KINDS: [(Kind, &str); 8] = [
    (Kind::Imap, "IMAP"),
    (Kind::Pop3, "POP3"),
    (Kind::Smtp, "SMTP"),
    (Kind::CalDav, "CalDAV"),
    (Kind::CardDav, "CardDAV"),
    (Kind::Xmpp, "XMPP"),
    (Kind::Sip, "SIP"),
    (Kind::Web, "WEB"),
];

impl Kind {
    /// The name in autodiscover answers (the Outlook names where Outlook has one).
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("", |(_, n)| n)
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(k, _)| *k)
    }

    /// Services reached by URL rather than by host and port.
    pub fn is_url_based(self) -> bool {
        matches!(self, Kind::CalDav | Kind::CardDav | Kind::Web)
    }

    /// The URI scheme for host-and-port services, used where an answer needs a URL.
    fn scheme(self, tls: bool) -> &'static str {
        match (self, tls) {
            (Kind::Imap, true) => "imaps",
            (Kind::Imap, false) => "imap",
            (Kind::Pop3, true) => "pop3s",
            (Kind::Pop3, false) => "pop3",
            (Kind::Smtp, true) => "smtps",
            (Kind::Smtp, false) => "smtp",
            (Kind::Xmpp, _) => "xmpp",
            (Kind::Sip, true) => "sips",
            (Kind::Sip, false) => "sip",
            (Kind::CalDav | Kind::CardDav | Kind::Web, true) => "https",
            (Kind::CalDav | Kind::CardDav | Kind::Web, false) => "http",
        }
    }
}

/// Where a service is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Url(PublicUrl),
    Host { host: String, port: u16, tls: bool },
}

/// One `[[autodiscover.protocol]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawService")]
pub struct Service {
    pub kind: Kind,
    pub endpoint: Endpoint,
}

impl Service {
    /// The service as one URL (`imaps://mail.example.com:993`), for answers that only carry URLs.
    pub fn url(&self) -> String {
        match &self.endpoint {
            Endpoint::Url(u) => u.to_string(),
            Endpoint::Host { host, port, tls } => {
                format!("{}://{host}:{port}", self.kind.scheme(*tls))
            }
        }
    }
}

/// The entry as written; `Service` is what survives validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    #[serde(rename = "type")]
    kind: String,
    server: Option<String>,
    port: Option<u16>,
    ssl: Option<bool>,
    url: Option<String>,
}

impl TryFrom<RawService> for Service {
    type Error = String;

    fn try_from(raw: RawService) -> Result<Service, String> {
        let kind = Kind::from_name(&raw.kind).ok_or_else(|| {
            let names: Vec<&str> = KINDS.iter().map(|(_, n)| *n).collect();
            format!(
                "unknown protocol type {:?}; one of {}",
                raw.kind,
                names.join(", ")
            )
        })?;
        let name = kind.name();
        let endpoint = if kind.is_url_based() {
            if raw.server.is_some() || raw.port.is_some() || raw.ssl.is_some() {
                return Err(format!("{name} is described by `url` alone"));
            }
            let url = raw.url.ok_or_else(|| format!("{name} needs `url`"))?;
            Endpoint::Url(PublicUrl::try_from(url)?)
        } else {
            if raw.url.is_some() {
                return Err(format!(
                    "{name} is described by `server` and `port`, not `url`"
                ));
            }
            let host = raw.server.ok_or_else(|| format!("{name} needs `server`"))?;
            if host.is_empty() || host.contains(|c: char| c.is_whitespace() || "/:@".contains(c)) {
                return Err(format!("{host:?} is not a host name"));
            }
            let port = match raw.port {
                Some(0) | None => return Err(format!("{name} needs `port` (1-65535)")),
                Some(p) => p,
            };
            Endpoint::Host {
                host,
                port,
                tls: raw.ssl.unwrap_or(true),
            }
        };
        Ok(Service { kind, endpoint })
    }
}

/// The public ActiveSync URL: the configured override, else built from `server.hostname` and the
/// listeners. TLS listeners win (phones insist on https for autodiscover); a port that is not the
/// scheme's default is written out. With only plain listeners the URL is http with that port: right on
/// a LAN, wrong behind a TLS reverse proxy, which is what `mobilesync_url` is for.
pub fn mobilesync_url(config: &Config) -> String {
    match &config.autodiscover.mobilesync_url {
        Some(url) => url.to_string(),
        None => format!("{}/Microsoft-Server-ActiveSync", origin(config)),
    }
}

/// The XML autodiscover URL on this server (for the JSON answer's AutodiscoverV1).
pub fn autodiscover_url(config: &Config) -> String {
    let origin = match &config.autodiscover.mobilesync_url {
        Some(url) => url.origin().to_string(),
        None => origin(config),
    };
    format!("{origin}/autodiscover/autodiscover.xml")
}

fn origin(config: &Config) -> String {
    let s = &config.server;
    let host = s.hostname.get_ref();
    let (scheme, default_port, port) = match (s.tls_listen.first(), s.listen.first()) {
        (Some(a), _) => ("https", 443, a.port()),
        (None, Some(a)) => ("http", 80, a.port()),
        (None, None) => ("https", 443, 443),
    };
    // Port 0 asks the system for any free port (tests); it cannot be written into a URL.
    if port == default_port || port == 0 {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3eKx5jQ2F4Qe6vvxgvBfhzfItdR1dWiXxzLXpCbrJoE";

    fn config(server: &str, extra: &str) -> Result<Config, String> {
        let text = format!(
            "[server]\n{server}\nhostname = \"mail.example.com\"\ndata_dir = \"/tmp/x\"\n{extra}\n[[user]]\nemail = \"a@example.com\"\npassword_hash = \"{HASH}\"\n"
        );
        Config::parse(&text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn url_follows_the_listeners() {
        let c = config("listen = [\"0.0.0.0:8080\"]", "").unwrap();
        assert_eq!(
            mobilesync_url(&c),
            "http://mail.example.com:8080/Microsoft-Server-ActiveSync"
        );
        let c = config("listen = [\"0.0.0.0:80\"]", "").unwrap();
        assert_eq!(
            mobilesync_url(&c),
            "http://mail.example.com/Microsoft-Server-ActiveSync"
        );
        let tls = "listen = [\"0.0.0.0:80\"]\ntls_listen = [\"[::]:443\"]\ntls_cert = \"c\"\ntls_key = \"k\"";
        let c = config(tls, "").unwrap();
        assert_eq!(
            mobilesync_url(&c),
            "https://mail.example.com/Microsoft-Server-ActiveSync"
        );
        assert_eq!(
            autodiscover_url(&c),
            "https://mail.example.com/autodiscover/autodiscover.xml"
        );
        let tls = tls.replace(":443", ":8443");
        let c = config(&tls, "").unwrap();
        assert_eq!(
            mobilesync_url(&c),
            "https://mail.example.com:8443/Microsoft-Server-ActiveSync"
        );
    }

    #[test]
    fn override_wins() {
        let c = config(
            "listen = [\"127.0.0.1:8080\"]",
            "[autodiscover]\nmobilesync_url = \"https://eas.example.com/Microsoft-Server-ActiveSync/\"\n",
        )
        .unwrap();
        assert_eq!(
            mobilesync_url(&c),
            "https://eas.example.com/Microsoft-Server-ActiveSync"
        );
        assert_eq!(
            autodiscover_url(&c),
            "https://eas.example.com/autodiscover/autodiscover.xml"
        );
        let e = config(
            "listen = [\"127.0.0.1:8080\"]",
            "[autodiscover]\nmobilesync_url = \"eas.example.com\"\n",
        )
        .unwrap_err();
        assert!(e.contains("not an http:// or https:// URL"), "{e}");
    }

    #[test]
    fn protocols_are_validated() {
        let listen = "listen = [\"127.0.0.1:8080\"]";
        let ok = "[[autodiscover.protocol]]\ntype = \"imap\"\nserver = \"mail.example.com\"\nport = 993\n\n[[autodiscover.protocol]]\ntype = \"CardDAV\"\nurl = \"https://dav.example.com/\"\n\n[[autodiscover.protocol]]\ntype = \"SMTP\"\nserver = \"mail.example.com\"\nport = 25\nssl = false\n";
        let c = config(listen, ok).unwrap();
        let p = &c.autodiscover.protocols;
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].kind, Kind::Imap);
        assert_eq!(p[0].url(), "imaps://mail.example.com:993");
        assert_eq!(p[1].url(), "https://dav.example.com");
        assert_eq!(p[2].url(), "smtp://mail.example.com:25");
        for (bad, why) in [
            (
                "type = \"gopher\"\nserver = \"h\"\nport = 70",
                "unknown protocol type",
            ),
            ("type = \"IMAP\"\nport = 993", "needs `server`"),
            ("type = \"IMAP\"\nserver = \"h\"", "needs `port`"),
            (
                "type = \"IMAP\"\nserver = \"h/x\"\nport = 1",
                "not a host name",
            ),
            (
                "type = \"CalDAV\"\nserver = \"h\"\nport = 1",
                "by `url` alone",
            ),
            ("type = \"CalDAV\"\nurl = \"ftp://h\"", "not an http"),
            (
                "type = \"XMPP\"\nserver = \"h\"\nport = 5222\nhost = \"x\"",
                "unknown field",
            ),
        ] {
            let e = config(listen, &format!("[[autodiscover.protocol]]\n{bad}\n")).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(e.contains("line"), "{bad}: {e}");
        }
    }
}
