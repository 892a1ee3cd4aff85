//! The `[acme]` configuration section: whether easd gets its own certificate, from which ACME
//! directory, for which names, and whom the CA may write to.

use crate::config::Config;
use serde::Deserialize;
use std::path::PathBuf;

pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcmeSettings {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_directory")]
    pub directory_url: String,
    /// `mailto:` addresses the CA may use for expiry and policy notices.
    #[serde(default)]
    pub contact: Vec<String>,
    /// Names on the certificate; empty means `server.hostname` alone.
    #[serde(default)]
    pub domains: Vec<String>,
    /// An extra CA certificate (PEM) to trust for the directory's own HTTPS, for test CAs such as
    /// pebble; a public CA needs none.
    pub directory_ca: Option<PathBuf>,
}

fn default_directory() -> String {
    LETS_ENCRYPT.to_string()
}

impl Default for AcmeSettings {
    fn default() -> Self {
        AcmeSettings {
            enabled: false,
            directory_url: default_directory(),
            contact: Vec::new(),
            domains: Vec::new(),
            directory_ca: None,
        }
    }
}

impl AcmeSettings {
    /// Checks the section against the rest of the configuration; the error names the key.
    pub fn validate(&self, config: &Config) -> Result<(), (&'static str, String)> {
        if !self.directory_url.starts_with("https://") {
            return Err((
                "acme.directory_url",
                format!(
                    "{:?} is not an https:// URL (RFC 8555 requires https)",
                    self.directory_url
                ),
            ));
        }
        for c in &self.contact {
            if !c
                .strip_prefix("mailto:")
                .is_some_and(crate::config::valid_email)
            {
                return Err(("acme.contact", format!("{c:?} is not a mailto:address")));
            }
        }
        for d in &self.domains {
            if !valid_dns_name(d) {
                return Err((
                    "acme.domains",
                    format!(
                        "{d:?} is not a host name (TLS-ALPN-01 cannot validate wildcards or addresses)"
                    ),
                ));
            }
        }
        if !self.enabled {
            return Ok(());
        }
        let s = &config.server;
        if s.tls_listen.is_empty() {
            return Err((
                "acme.enabled",
                "ACME answers its TLS-ALPN-01 challenge on the TLS listener: set server.tls_listen (port 443)".into(),
            ));
        }
        if s.tls_cert.is_some() || s.tls_key.is_some() {
            return Err((
                "acme.enabled",
                "with ACME easd manages the certificate: remove server.tls_cert and server.tls_key"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The names the certificate is ordered for.
    pub fn domains(&self, config: &Config) -> Vec<String> {
        if self.domains.is_empty() {
            vec![config.server.hostname.get_ref().to_ascii_lowercase()]
        } else {
            self.domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect()
        }
    }
}

/// A DNS name with at least two labels of letters, digits and inner hyphens.
pub fn valid_dns_name(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3eKx5jQ2F4Qe6vvxgvBfhzfItdR1dWiXxzLXpCbrJoE";

    fn parse(server: &str, acme: &str) -> Result<Config, String> {
        let text = format!(
            "[server]\n{server}\nhostname = \"Mail.example.com\"\ndata_dir = \"/tmp/x\"\n\n[acme]\n{acme}\n\n[[user]]\nemail = \"a@example.com\"\npassword_hash = \"{HASH}\"\n"
        );
        Config::parse(&text, Path::new("t.toml")).map_err(|e| e.to_string())
    }

    const TLS: &str = "tls_listen = [\"0.0.0.0:443\"]";
    /// The section is checked even while ACME is off.
    const PLAIN: &str = "listen = [\"0.0.0.0:80\"]";

    #[test]
    fn defaults_and_domains() {
        let c = parse(
            TLS,
            "enabled = true\ncontact = [\"mailto:admin@example.com\"]",
        )
        .unwrap();
        assert_eq!(c.acme.directory_url, LETS_ENCRYPT);
        assert_eq!(c.acme.domains(&c), ["mail.example.com"]);
        let c = parse(
            TLS,
            "enabled = true\ndomains = [\"mail.example.com\", \"autodiscover.example.com\"]",
        )
        .unwrap();
        assert_eq!(c.acme.domains(&c).len(), 2);
    }

    #[test]
    fn refusals_name_the_key() {
        for (server, acme, key) in [
            (
                "listen = [\"0.0.0.0:80\"]",
                "enabled = true",
                "acme.enabled",
            ),
            (
                "tls_listen = [\"0.0.0.0:443\"]\ntls_cert = \"c\"\ntls_key = \"k\"",
                "enabled = true",
                "acme.enabled",
            ),
            (
                PLAIN,
                "directory_url = \"http://ca.test/dir\"",
                "acme.directory_url",
            ),
            (PLAIN, "contact = [\"admin@example.com\"]", "acme.contact"),
            (PLAIN, "domains = [\"*.example.com\"]", "acme.domains"),
            (PLAIN, "domains = [\"localhost\"]", "acme.domains"),
            (
                "tls_listen = [\"0.0.0.0:443\"]",
                "enabled = false",
                "server.tls_cert",
            ),
        ] {
            let e = parse(server, acme).unwrap_err();
            assert!(e.contains(key), "{server} / {acme}: {e}");
        }
    }

    #[test]
    fn dns_names() {
        assert!(valid_dns_name("autodiscover.example.com"));
        assert!(valid_dns_name("a-b.c"));
        for bad in ["", "com", "-a.b", "a..b", "a_b.c", "127.0.0.1x.", "*.a.b"] {
            assert!(!valid_dns_name(bad), "{bad}");
        }
    }
}
