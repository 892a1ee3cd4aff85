//! The certificate phones will see (the guide: a CA-signed one, e.g. Let's Encrypt, or iOS will not
//! autodiscover): it loads with its key, it is not expired or about to be, it names the host name and
//! the autodiscover names, and its chain leads to a CA the system trusts.

use super::dns::{DnsFacts, Lookup};
use super::{Check, Verdict};
use crate::config::Config;
use crate::x509::{CertInfo, format_date};
use futures_rustls::rustls::client::WebPkiServerVerifier;
use futures_rustls::rustls::client::danger::ServerCertVerifier;
use futures_rustls::rustls::{self, CertificateError, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Renew (or warn) when less than this is left.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(21 * 86_400);
/// Where Debian keeps the trusted CAs.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

pub fn checks(config: &Config, dns: &DnsFacts) -> Vec<Check> {
    let mut out = if config.acme.enabled {
        acme(config, dns)
    } else {
        Vec::new()
    };
    out.extend(certificate(config, dns));
    out
}

/// What the CA needs for TLS-ALPN-01: port 443, and a DNS record for every name.
fn acme(config: &Config, dns: &DnsFacts) -> Vec<Check> {
    let a = &config.acme;
    let domains = a.domains(config);
    let mut out = vec![
        if config.server.tls_listen.iter().any(|l| l.port() == 443) {
            Check::ok(
                "acme",
                format!(
                    "certificate for {} from {}, renewed automatically",
                    domains.join(", "),
                    a.directory_url
                ),
            )
        } else {
            Check::warn(
                "acme",
                "no TLS listener on port 443, where the CA connects to validate the names (TLS-ALPN-01)",
                "listen on 443, or forward the public port 443 to the TLS listener",
            )
        },
    ];
    for d in &domains {
        let resolves = match dns.find(d) {
            Some(l) => l.resolves(),
            None => Lookup::resolve(d).resolves(),
        };
        if !resolves {
            out.push(Check::fail(
                format!("acme name {d}"),
                "no DNS record: the CA cannot validate it, so no certificate is issued for any name",
                format!("add an A record for {d} pointing at this box, or remove it from acme.domains"),
            ));
        }
    }
    out
}

fn certificate(config: &Config, dns: &DnsFacts) -> Vec<Check> {
    let s = &config.server;
    let acme_file = crate::acme::certificate_path(config);
    let (cert, key) = match (&s.tls_cert, &s.tls_key) {
        _ if config.acme.enabled && !acme_file.exists() => {
            return vec![Check::warn(
                "certificate",
                format!(
                    "no ACME certificate yet in {}: easd orders it when it starts (its log says \"acme:\")",
                    acme_file.display()
                ),
                format!(
                    "the CA connects to {} on port 443 (TLS-ALPN-01): each name must resolve to this box and port 443 must reach easd",
                    config.acme.domains(config).join(", ")
                ),
            )];
        }
        // The cached file holds the key and the chain together.
        _ if config.acme.enabled => (&acme_file, &acme_file),
        (Some(c), Some(k)) if !s.tls_listen.is_empty() => (c, k),
        _ => return vec![no_tls(config)],
    };
    let mut out = Vec::new();
    if let Err(e) = crate::http::tls::Tls::load(cert, key) {
        out.push(Check::fail(
            "certificate",
            e.to_string(),
            "server.tls_cert must be the PEM chain (server certificate first) and server.tls_key its private key",
        ));
        return out;
    }
    let chain = match read_chain(cert) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::fail("certificate", e, "check server.tls_cert"));
            return out;
        }
    };
    let Some(leaf) = chain.first() else {
        out.push(Check::fail(
            "certificate",
            "no certificate in the file",
            "check server.tls_cert",
        ));
        return out;
    };
    let info = match CertInfo::parse(leaf) {
        Ok(i) => i,
        Err(e) => {
            out.push(Check::fail(
                "certificate",
                e.to_string(),
                "check server.tls_cert",
            ));
            return out;
        }
    };
    out.push(Check::ok(
        "certificate",
        format!(
            "{} loads with its key; names {}",
            cert.display(),
            info.dns_names.join(", ")
        ),
    ));
    let mut expiry = expiry(&info, SystemTime::now());
    if config.acme.enabled && expiry.verdict != Verdict::Ok {
        expiry.fix = Some(
            "easd renews ACME certificates at two thirds of their lifetime: look for \"acme:\" errors in its log".into(),
        );
    }
    out.push(expiry);
    out.extend(names(config, dns, &info));
    out.push(trust(config, &chain, &info, Path::new(SYSTEM_ROOTS)));
    out
}

fn no_tls(config: &Config) -> Check {
    let url = crate::autodiscover::mobilesync_url(config);
    if url.starts_with("https://") {
        return Check::ok(
            "certificate",
            format!(
                "no TLS listener here; TLS is the reverse proxy's ({url}), check its certificate there"
            ),
        );
    }
    Check::warn(
        "certificate",
        "no TLS listener: passwords cross the network in clear, iPhones refuse plain http and autodiscover needs https on 443",
        "set server.tls_listen = [\"0.0.0.0:443\"] with tls_cert and tls_key (a CA-signed certificate, e.g. Let's Encrypt), or put a TLS reverse proxy in front and set autodiscover.mobilesync_url",
    )
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn expiry(info: &CertInfo, now: SystemTime) -> Check {
    let name = "certificate expiry";
    let until = format_date(info.not_after);
    if info.not_before > now {
        return Check::fail(
            name,
            format!("not valid before {}", format_date(info.not_before)),
            "check this machine's clock",
        );
    }
    match info.remaining(now) {
        None => Check::fail(
            name,
            format!("expired on {until}"),
            "renew the certificate (or enable [acme]) and send easd SIGHUP",
        ),
        Some(left) if left < EXPIRY_WARNING => Check::warn(
            name,
            format!("expires on {until}, in {} days", left.as_secs() / 86_400),
            "renew it now: phones stop syncing the moment it expires",
        ),
        Some(left) => Check::ok(
            name,
            format!("valid until {until} ({} days)", left.as_secs() / 86_400),
        ),
    }
}

fn names(config: &Config, dns: &DnsFacts, info: &CertInfo) -> Vec<Check> {
    let host = config.server.hostname.get_ref();
    let mut out = vec![if info.covers(host) {
        Check::ok(format!("certificate name {host}"), "covered")
    } else {
        Check::fail(
            format!("certificate name {host}"),
            format!(
                "server.hostname is not among the certificate's names ({})",
                info.dns_names.join(", ")
            ),
            format!("get a certificate whose subjectAltName includes {host}"),
        )
    }];
    for name in dns.discover_names() {
        if name.eq_ignore_ascii_case(host) {
            continue;
        }
        out.push(if info.covers(&name) {
            Check::ok(format!("certificate name {name}"), "covered")
        } else {
            Check::warn(
                format!("certificate name {name}"),
                "phones reach autodiscover by this name and will reject the certificate",
                format!("add {name} to the certificate's names (with [acme], to acme.domains)"),
            )
        });
    }
    out
}

/// Verifies the chain against the system's CAs, under a name the certificate covers so that a
/// name problem (reported above) does not hide a chain problem.
pub fn trust(
    config: &Config,
    chain: &[CertificateDer<'static>],
    info: &CertInfo,
    roots: &Path,
) -> Check {
    let name = "certificate chain";
    let host = config.server.hostname.get_ref();
    let subject = if info.covers(host) {
        host.clone()
    } else {
        match info.dns_names.first() {
            Some(n) => n.replace("*.", "x."),
            None => host.clone(),
        }
    };
    let mut store = RootCertStore::empty();
    if let Ok(certs) = CertificateDer::pem_file_iter(roots) {
        for c in certs.flatten() {
            let _ = store.add(c);
        }
    }
    let (Some(leaf), Ok(server_name)) = (chain.first(), ServerName::try_from(subject)) else {
        return Check::fail(
            name,
            "no usable name in the certificate",
            "check server.tls_cert",
        );
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider).build() {
            Ok(v) => v,
            Err(e) => {
                return Check::warn(
                    name,
                    format!("cannot check: {e} (no CA list at {})", roots.display()),
                    "apt-get install ca-certificates",
                );
            }
        };
    match verifier.verify_server_cert(
        leaf,
        chain.get(1..).unwrap_or(&[]),
        &server_name,
        &[],
        UnixTime::now(),
    ) {
        Ok(_) => Check::ok(name, "issued by a CA this system trusts"),
        Err(_) if info.self_signed => Check::warn(
            name,
            "self-signed: Android asks the user to accept it, iOS needs it installed and trusted, and iOS autodiscover fails",
            "use a CA-signed certificate, e.g. Let's Encrypt ([acme] enabled = true)",
        ),
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => Check::fail(
            name,
            "the chain does not lead to a trusted CA",
            "put the intermediate certificates in server.tls_cert after the server's own (the CA's \"fullchain\" file)",
        ),
        Err(e) => Check::fail(name, e.to_string(), "replace the certificate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn info(not_before: u64, not_after: u64) -> CertInfo {
        CertInfo {
            not_before: UNIX_EPOCH + Duration::from_secs(not_before),
            not_after: UNIX_EPOCH + Duration::from_secs(not_after),
            dns_names: vec!["mail.example.com".into()],
            self_signed: false,
        }
    }

    #[test]
    fn acme_needs_443_and_dns() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3eKx5jQ2F4Qe6vvxgvBfhzfItdR1dWiXxzLXpCbrJoE";
        let text = |port: u16| {
            format!(
                "[server]\ntls_listen = [\"0.0.0.0:{port}\"]\nhostname = \"mail.example.com\"\ndata_dir = \"/tmp/x\"\n[acme]\nenabled = true\ndomains = [\"mail.example.com\", \"autodiscover.example.invalid\"]\n[[user]]\nemail = \"a@example.com\"\npassword_hash = \"{hash}\"\n"
            )
        };
        let dns = DnsFacts {
            hostname: Lookup {
                name: "mail.example.com".into(),
                result: Ok(vec!["203.0.113.1".parse().unwrap()]),
            },
            domains: Vec::new(),
        };
        let config = Config::parse(&text(443), Path::new("t.toml")).unwrap();
        let checks = acme(&config, &dns);
        let summary: Vec<_> = checks
            .iter()
            .map(|c| (c.name.as_str(), c.verdict))
            .collect();
        assert_eq!(
            summary,
            [
                ("acme", Verdict::Ok),
                ("acme name autodiscover.example.invalid", Verdict::Fail)
            ]
        );
        let config = Config::parse(&text(8443), Path::new("t.toml")).unwrap();
        assert_eq!(acme(&config, &dns)[0].verdict, Verdict::Warn);
    }

    #[test]
    fn expiry_verdicts() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let day = 86_400;
        assert_eq!(
            expiry(&info(0, 1_000_000_000 + 90 * day), now).verdict,
            Verdict::Ok
        );
        let soon = expiry(&info(0, 1_000_000_000 + 5 * day), now);
        assert_eq!(soon.verdict, Verdict::Warn);
        assert!(soon.detail.contains("in 5 days"), "{}", soon.detail);
        assert_eq!(expiry(&info(0, 999_999_999), now).verdict, Verdict::Fail);
        assert_eq!(
            expiry(&info(1_000_000_100, 1_000_000_000 + 90 * day), now).verdict,
            Verdict::Fail
        );
    }
}
