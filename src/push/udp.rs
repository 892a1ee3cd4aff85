//! The UDP notification listener (`push.udp_listen`) and the sender `easd notify` and `easd deliver` use.
//! Junk, bad secrets and unknown users are dropped with a debug log line: the port is on loopback by
//! default, but nothing sent to it may disturb the server.

use super::datagram::{self, Notification};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// The receive buffer asked for: a burst of notifications (one per user, `easd bench
/// push-latency` with 1,000 users) overflowed the kernel's default of ~208 KiB on a busy box and
/// lost most of them. The kernel caps the request at net.core.rmem_max.
pub const RECEIVE_BUFFER: usize = 4 << 20;

/// Asks for RECEIVE_BUFFER bytes of receive buffer; returns what the kernel granted.
pub fn enlarge_receive_buffer(socket: &impl AsRawFd) -> std::io::Result<usize> {
    let fd = socket.as_raw_fd();
    let want = RECEIVE_BUFFER as libc::c_int;
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the fd is a live socket owned by the caller, and both calls read or write exactly
    // one c_int through a pointer to a local of that type with its size.
    unsafe {
        if libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&want as *const libc::c_int).cast(),
            size,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let mut got: libc::c_int = 0;
        let mut len = size;
        if libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut got as *mut libc::c_int).cast(),
            &mut len,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        Ok(got.max(0) as usize)
    }
}

/// Receives datagrams until the process ends, on a thread of its own: in a burst the socket is
/// always ready, and a listener on the async threads either kept one of them to itself (and the
/// Pings it woke queued behind it) or, yielding between datagrams, left them waiting in the socket
/// behind everyone else's work. `handle` is called for each valid notification.
pub fn spawn_listener(
    socket: std::net::UdpSocket,
    secret: Option<String>,
    handle: impl Fn(Notification) + Send + 'static,
) -> std::io::Result<()> {
    match enlarge_receive_buffer(&socket) {
        Ok(n) => log::debug!("push: UDP receive buffer {n} bytes"),
        Err(e) => log::warn!("push: cannot enlarge the UDP receive buffer: {e}"),
    }
    std::thread::Builder::new()
        .name("easd-udp".into())
        .spawn(move || {
            let mut buf = [0u8; datagram::MAX_LEN + 1];
            loop {
                let (n, from) = match socket.recv_from(&mut buf) {
                    Ok(r) => r,
                    Err(e) => {
                        log::warn!("push: UDP receive failed: {e}");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    }
                };
                match Notification::parse(&buf[..n], secret.as_deref()) {
                    Ok(note) => handle(note),
                    Err(e) => log::debug!("push: ignored datagram from {from}: {e}"),
                }
            }
        })
        .map(|_| ())
}

pub struct Notifier {
    socket: std::net::UdpSocket,
    to: SocketAddr,
}

impl Notifier {
    /// A notifier for the listener at `listen`; an unspecified address (0.0.0.0, ::) is reached
    /// through loopback.
    pub fn new(listen: SocketAddr) -> std::io::Result<Notifier> {
        let mut to = listen;
        if to.ip().is_unspecified() {
            to.set_ip(match to {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let bind: SocketAddr = match (to, to.ip().is_loopback()) {
            (SocketAddr::V4(_), true) => ([127, 0, 0, 1], 0).into(),
            (SocketAddr::V6(_), true) => (std::net::Ipv6Addr::LOCALHOST, 0).into(),
            (SocketAddr::V4(_), false) => ([0, 0, 0, 0], 0).into(),
            (SocketAddr::V6(_), false) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        Ok(Notifier {
            socket: std::net::UdpSocket::bind(bind)?,
            to,
        })
    }

    pub fn send(&self, note: &Notification, secret: Option<&str>) -> std::io::Result<()> {
        self.socket
            .send_to(note.format(secret).as_bytes(), self.to)
            .map(|_| ())
    }
}

/// Sends one notification to a server's listener.
pub fn send(listen: SocketAddr, note: &Notification, secret: Option<&str>) -> std::io::Result<()> {
    Notifier::new(listen)?.send(note, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive_buffer(socket: &std::net::UdpSocket) -> usize {
        let mut got: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: reads one c_int into a local of that type from a live socket.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&mut got as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        got as usize
    }

    #[test]
    fn the_listener_gets_a_larger_receive_buffer_than_the_default() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = receive_buffer(&socket);
        let granted = enlarge_receive_buffer(&socket).unwrap();
        assert_eq!(granted, receive_buffer(&socket));
        // Linux doubles the request for its bookkeeping, up to twice net.core.rmem_max.
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(RECEIVE_BUFFER);
        assert!(granted > before, "{granted} <= {before}");
        assert!(granted >= 2 * RECEIVE_BUFFER.min(cap), "{granted}");
    }
}
