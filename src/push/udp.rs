//! The UDP notification listener (`push.udp_listen`) and the sender `easd notify` and `easd deliver` use.
//! Junk, bad secrets and unknown users are dropped with a debug log line: the port is on loopback by
//! default, but nothing sent to it may disturb the server.

use super::datagram::{self, Notification};
use smol::net::UdpSocket;
use std::net::SocketAddr;

/// Receives datagrams until the socket fails; `handle` gets each valid notification.
pub async fn listen(
    socket: UdpSocket,
    secret: Option<String>,
    handle: impl Fn(Notification) + Send + 'static,
) {
    let mut buf = [0u8; datagram::MAX_LEN + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                log::warn!("push: UDP receive failed: {e}");
                smol::Timer::after(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        match Notification::parse(&buf[..n], secret.as_deref()) {
            Ok(note) => handle(note),
            Err(e) => log::debug!("push: ignored datagram from {from}: {e}"),
        }
    }
}

/// Sends one notification to a server's listener. An unspecified listen address (0.0.0.0, ::) is
/// reached through loopback.
pub fn send(listen: SocketAddr, note: &Notification, secret: Option<&str>) -> std::io::Result<()> {
    let mut to = listen;
    if to.ip().is_unspecified() {
        to.set_ip(match to {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let bind: SocketAddr = match to {
        SocketAddr::V4(_) => ([127, 0, 0, 1], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
    };
    let bind = if to.ip().is_loopback() {
        bind
    } else {
        match to {
            SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        }
    };
    let socket = std::net::UdpSocket::bind(bind)?;
    socket.send_to(note.format(secret).as_bytes(), to)?;
    Ok(())
}
