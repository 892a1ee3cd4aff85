//! DNS as phones see it (the guide's "Configuration" of SmartDiscover): the server's host name must
//! resolve, and for each mail domain at least one of autodiscover.<domain> and <domain> must, since
//! those are the two URLs phones try.

use super::{Check, user_domains};
use crate::config::Config;
use std::net::{IpAddr, ToSocketAddrs};

/// The answer for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub name: String,
    pub result: Result<Vec<IpAddr>, String>,
}

impl Lookup {
    /// Resolves A and AAAA records through the system resolver.
    pub fn resolve(name: &str) -> Lookup {
        let result = match (name, 443).to_socket_addrs() {
            Ok(addrs) => {
                let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                ips.dedup();
                if ips.is_empty() {
                    Err("no address".to_string())
                } else {
                    Ok(ips)
                }
            }
            Err(e) => Err(format!("no A/AAAA record ({e})")),
        };
        Lookup {
            name: name.to_string(),
            result,
        }
    }

    pub fn resolves(&self) -> bool {
        self.result.is_ok()
    }

    /// Resolves, but only to addresses no phone outside the LAN can reach.
    fn only_private(&self) -> bool {
        self.result
            .as_ref()
            .is_ok_and(|ips| ips.iter().all(|ip| is_private(*ip)))
    }

    fn addresses(&self) -> String {
        match &self.result {
            Ok(ips) => ips
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => e.clone(),
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// What DNS said about every name that matters.
#[derive(Debug, Clone)]
pub struct DnsFacts {
    pub hostname: Lookup,
    /// (domain, autodiscover.<domain>, <domain>) for each user domain.
    pub domains: Vec<(String, Lookup, Lookup)>,
}

impl DnsFacts {
    /// Looks every name up at once: a resolver that times out costs its timeout once, not per name.
    pub fn lookup(config: &Config) -> DnsFacts {
        let host = config.server.hostname.get_ref().clone();
        let domains = user_domains(config);
        std::thread::scope(|s| {
            let hostname = s.spawn(|| Lookup::resolve(&host));
            let pending: Vec<_> = domains
                .iter()
                .map(|d| {
                    let auto = format!("autodiscover.{d}");
                    (
                        d.clone(),
                        s.spawn(move || Lookup::resolve(&auto)),
                        s.spawn(move || Lookup::resolve(d)),
                    )
                })
                .collect();
            let join = |h: std::thread::ScopedJoinHandle<'_, Lookup>, name: String| {
                h.join().unwrap_or(Lookup {
                    name,
                    result: Err("lookup failed".into()),
                })
            };
            DnsFacts {
                hostname: join(hostname, host.clone()),
                domains: pending
                    .into_iter()
                    .map(|(d, a, b)| {
                        let a = join(a, format!("autodiscover.{d}"));
                        let b = join(b, d.clone());
                        (d, a, b)
                    })
                    .collect(),
            }
        })
    }

    /// The lookup already made for `name`, if any.
    pub fn find(&self, name: &str) -> Option<&Lookup> {
        std::iter::once(&self.hostname)
            .chain(self.domains.iter().flat_map(|(_, a, b)| [a, b]))
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }

    /// The names phones will reach autodiscover by: per domain, those that resolve, or
    /// autodiscover.<domain> when neither does (the one to create).
    pub fn discover_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, auto, bare) in &self.domains {
            let resolving: Vec<&Lookup> =
                [auto, bare].into_iter().filter(|l| l.resolves()).collect();
            if resolving.is_empty() {
                out.push(auto.name.clone());
            } else {
                out.extend(resolving.iter().map(|l| l.name.clone()));
            }
        }
        out
    }

    pub fn checks(&self) -> Vec<Check> {
        let mut out = Vec::new();
        let h = &self.hostname;
        let name = format!("dns {}", h.name);
        out.push(if !h.resolves() {
            Check::fail(
                name,
                format!("server.hostname does not resolve ({})", h.addresses()),
                format!(
                    "add an A (and AAAA) record for {} pointing at this box's public address",
                    h.name
                ),
            )
        } else if h.only_private() {
            Check::warn(
                name,
                format!("resolves only to private addresses ({})", h.addresses()),
                "fine on a LAN; phones on mobile data need a public address (and port forwarding)",
            )
        } else {
            Check::ok(name, format!("resolves to {}", h.addresses()))
        });
        for (domain, auto, bare) in &self.domains {
            let name = format!("dns autodiscover {domain}");
            let detail = format!(
                "{}: {}; {}: {}",
                auto.name,
                auto.addresses(),
                bare.name,
                bare.addresses()
            );
            out.push(if !auto.resolves() && !bare.resolves() {
                Check::fail(
                    name,
                    detail,
                    format!(
                        "phones try https://{0}/autodiscover/autodiscover.xml, then https://{1}/...: add an A record for {0} pointing at this box",
                        auto.name, bare.name
                    ),
                )
            } else if [auto, bare].iter().filter(|l| l.resolves()).all(|l| l.only_private()) {
                Check::warn(
                    name,
                    detail,
                    "the autodiscover names resolve only to private addresses: phones outside the LAN cannot discover the account",
                )
            } else {
                Check::ok(name, detail)
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str, ips: &[&str]) -> Lookup {
        Lookup {
            name: name.into(),
            result: if ips.is_empty() {
                Err("no such host".into())
            } else {
                Ok(ips.iter().map(|i| i.parse().unwrap()).collect())
            },
        }
    }

    #[test]
    fn verdicts() {
        use super::super::Verdict::*;
        let facts = DnsFacts {
            hostname: lookup("mail.example.com", &["203.0.113.5"]),
            domains: vec![
                (
                    "a.test".into(),
                    lookup("autodiscover.a.test", &["203.0.113.5"]),
                    lookup("a.test", &[]),
                ),
                (
                    "b.test".into(),
                    lookup("autodiscover.b.test", &[]),
                    lookup("b.test", &[]),
                ),
                (
                    "c.test".into(),
                    lookup("autodiscover.c.test", &[]),
                    lookup("c.test", &["192.168.1.2"]),
                ),
            ],
        };
        let v: Vec<_> = facts.checks().iter().map(|c| c.verdict).collect();
        assert_eq!(v, [Ok, Ok, Fail, Warn]);
        assert_eq!(
            facts.discover_names(),
            ["autodiscover.a.test", "autodiscover.b.test", "c.test"]
        );
    }

    #[test]
    fn localhost_resolves_and_invalid_does_not() {
        let l = Lookup::resolve("localhost");
        assert!(l.resolves() && l.only_private(), "{l:?}");
        assert!(!Lookup::resolve("autodiscover.example.invalid").resolves());
    }
}
