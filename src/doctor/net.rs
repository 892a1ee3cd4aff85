//! The listeners as a phone meets them: each configured address accepts connections, https is on
//! 443 (the guide: autodiscover works only there), and the ActiveSync and autodiscover URLs answer a
//! request without credentials with the 401 login prompt (the guide's browser check).

use super::Check;
use crate::client::{Connection, Target};
use crate::config::Config;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to connect to reach a listener from this machine: a wildcard address is reached on loopback.
pub fn local_target(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

pub fn checks(config: &Config) -> Vec<Check> {
    let s = &config.server;
    let listeners: Vec<(SocketAddr, bool)> = s
        .listen
        .iter()
        .map(|a| (*a, false))
        .chain(s.tls_listen.iter().map(|a| (*a, true)))
        .collect();
    let mut out = vec![ports(config)];
    let mut reachable = None;
    for (addr, tls) in &listeners {
        let name = format!(
            "listener {}{addr}",
            if *tls { "https://" } else { "http://" }
        );
        if addr.port() == 0 {
            out.push(Check::warn(
                name,
                "port 0 picks a random port at each start",
                "set a fixed port",
            ));
            continue;
        }
        let target = local_target(*addr);
        match TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) {
            Ok(_) => {
                out.push(Check::ok(name, "accepts connections"));
                // Probe the TLS listener when there is one: it is what phones use.
                if reachable.is_none() || *tls {
                    reachable = Some((target, *tls));
                }
            }
            Err(e) => out.push(Check::fail(
                name,
                format!("cannot connect to {target}: {e}"),
                "start the server (easd serve --config FILE) and check that no firewall or other program holds the port",
            )),
        }
    }
    if let Some((target, tls)) = reachable {
        out.push(probe(
            config,
            target,
            tls,
            "GET",
            "/Microsoft-Server-ActiveSync",
            "ActiveSync URL",
        ));
        out.push(probe(
            config,
            target,
            tls,
            "POST",
            "/autodiscover/autodiscover.xml",
            "autodiscover URL",
        ));
    }
    out
}

fn ports(config: &Config) -> Check {
    let s = &config.server;
    let https_443 = s.tls_listen.iter().any(|a| a.port() == 443);
    let http_80 = s.listen.iter().any(|a| a.port() == 80);
    let behind_proxy = config
        .autodiscover
        .mobilesync_url
        .as_ref()
        .is_some_and(|u| u.as_str().starts_with("https://"));
    let plain = if http_80 { "; http on 80" } else { "" };
    if https_443 {
        Check::ok("ports", format!("https on 443{plain}"))
    } else if behind_proxy {
        Check::ok(
            "ports",
            "a TLS reverse proxy serves 443 (autodiscover.mobilesync_url is https)",
        )
    } else {
        Check::warn(
            "ports",
            format!("no https listener on 443{plain}"),
            "phones expect https on 443 and autodiscover works nowhere else: add \"0.0.0.0:443\" to server.tls_listen (or a reverse proxy on 443)",
        )
    }
}

/// One request without credentials; the right answer is 401 with a Basic challenge.
fn probe(
    config: &Config,
    addr: SocketAddr,
    tls: bool,
    method: &str,
    path: &str,
    what: &str,
) -> Check {
    let host = config.server.hostname.get_ref();
    let scheme = if tls { "https" } else { "http" };
    let default_port = if tls { 443 } else { 80 };
    let name = if addr.port() == default_port {
        format!("{what} {scheme}://{host}{path}")
    } else {
        format!("{what} {scheme}://{host}:{}{path}", addr.port())
    };
    // The certificate has its own checks; here only the HTTP answer matters.
    let mut target = match Target::from_url(&format!("{scheme}://{host}:{}", addr.port()), true) {
        Ok(t) => t,
        Err(e) => return Check::fail(name, e, "check server.hostname"),
    };
    target.addr = addr.to_string();
    let mut conn = Connection::new(target);
    let reply = smol::block_on(smol::future::or(
        async { Some(conn.request(method, path, &[], Vec::new()).await) },
        async {
            smol::Timer::after(REQUEST_TIMEOUT).await;
            None
        },
    ));
    match reply {
        Some(Ok(r))
            if r.status == 401
                && r.header("www-authenticate")
                    .is_some_and(|v| v.to_ascii_lowercase().starts_with("basic")) =>
        {
            Check::ok(
                name,
                "answers 401 with a login prompt, as it should without credentials",
            )
        }
        Some(Ok(r)) => Check::fail(
            name,
            format!(
                "answered {} instead of 401 with a Basic login prompt",
                r.status
            ),
            "another web server or a proxy answers on this port: send the path to easd",
        ),
        Some(Err(e)) => Check::fail(
            name,
            e.to_string(),
            "check the listener and the certificate",
        ),
        None => Check::fail(
            name,
            "no answer within 10 s",
            "check that easd is running and not overloaded",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_reached_on_loopback() {
        assert_eq!(
            local_target("0.0.0.0:443".parse().unwrap()),
            "127.0.0.1:443".parse().unwrap()
        );
        assert_eq!(
            local_target("[::]:80".parse().unwrap()),
            "[::1]:80".parse().unwrap()
        );
        assert_eq!(
            local_target("10.0.0.1:80".parse().unwrap()),
            "10.0.0.1:80".parse().unwrap()
        );
    }
}
