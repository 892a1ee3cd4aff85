//! The HTTP/1.1 front: listeners (plain and TLS), connection limits, and our own HTTP/1.1 server on
//! smol (`conn`), with the `http` crate's request and response types.
//!
//! Not hyper's server: hyper keeps an 8 KiB read buffer and an 8 KiB write buffer per connection for
//! as long as it lives (no smaller size can be configured), more than issue #4's whole budget for a
//! held Ping. Here a connection holds no buffer while a handler runs or while it idles, and the
//! handler is dropped the moment the client hangs up. httparse (the parser hyper itself uses) reads
//! the heads.

pub mod body;
mod chunked;
mod conn;
mod head;
mod response;
mod socket;
pub mod tls;

use crate::app::App;
use bytes::Bytes;
use hyper::Response;
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::{Executor, Timer};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A response body: always whole, so every response carries a Content-Length.
#[derive(Debug, Clone, Default)]
pub struct Body(Bytes);

impl Body {
    pub fn new(bytes: Bytes) -> Body {
        Body(bytes)
    }

    pub fn bytes(&self) -> &Bytes {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a handler learns about the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub addr: SocketAddr,
    pub tls: bool,
    /// The address the listener is bound to (0.0.0.0:8080, 127.0.0.1:8080, ...).
    pub listener: SocketAddr,
}

/// Binds every configured listener and starts accepting; returns the bound addresses (port 0 in the
/// config becomes a real port, which tests rely on).
pub async fn start(
    app: Arc<App>,
    ex: Arc<Executor<'static>>,
    tls: Option<Arc<tls::Tls>>,
) -> io::Result<Vec<(SocketAddr, bool)>> {
    let mut bound = Vec::new();
    let plain = app.config.server.listen.iter().map(|a| (*a, false));
    let secure = app.config.server.tls_listen.iter().map(|a| (*a, true));
    for (addr, is_tls) in plain.chain(secure).collect::<Vec<_>>() {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let local = listener.local_addr()?;
        bound.push((local, is_tls));
        let tls = if is_tls { tls.clone() } else { None };
        ex.spawn(accept_loop(listener, local, app.clone(), ex.clone(), tls))
            .detach();
    }
    Ok(bound)
}

async fn accept_loop(
    listener: TcpListener,
    bound: SocketAddr,
    app: Arc<App>,
    ex: Arc<Executor<'static>>,
    tls: Option<Arc<tls::Tls>>,
) {
    // Whether the last connection was refused for capacity: a flood is logged when it begins, not
    // once per refused connection.
    let mut refusing = false;

    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Usually EMFILE: back off instead of spinning, and keep serving the open connections.
                log::warn!("accept failed: {e}");
                Timer::after(Duration::from_millis(100)).await;
                continue;
            }
        };
        let open = app.stats.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let guard = ConnGuard(app.clone());
        if open > app.config.limits.max_connections as usize {
            if !refusing {
                log::warn!(
                    "connection limit ({}) reached; answering 503 until connections close",
                    app.config.limits.max_connections
                );
                refusing = true;
            }
            ex.spawn(async move {
                let _guard = guard;
                refuse_busy(stream).await;
            })
            .detach();
            continue;
        }
        refusing = false;
        let app = app.clone();
        let tls = tls.clone();
        ex.spawn(async move {
            let _guard = guard;
            let _ = stream.set_nodelay(true);
            let peer = Peer {
                addr,
                tls: tls.is_some(),
                listener: bound,
            };
            match tls {
                None => conn::serve(app, Box::new(stream), peer).await,
                // Boxed: the TLS stream and handshake would otherwise make every plain
                // connection's task as large as a TLS one.
                Some(tls) => {
                    Box::pin(async move {
                        let handshake = tls.acceptor().accept(stream);
                        let timeout =
                            Duration::from_secs(app.config.limits.header_timeout_secs.into());
                        let res = smol::future::or(async { Some(handshake.await) }, async {
                            Timer::after(timeout).await;
                            None
                        })
                        .await;
                        match res {
                            // A TLS-ALPN-01 validation only needs the handshake; there is no HTTP after it.
                            Some(Ok(s))
                                if s.get_ref().1.alpn_protocol()
                                    == Some(crate::acme::ACME_TLS_ALPN) =>
                            {
                                log::debug!("{addr}: ACME validation handshake");
                            }
                            Some(Ok(s)) => conn::serve(app, Box::new(s), peer).await,
                            Some(Err(e)) => log::debug!("{addr}: TLS handshake failed: {e}"),
                            None => log::debug!("{addr}: TLS handshake timed out"),
                        }
                    })
                    .await
                }
            }
        })
        .detach();
    }
}

/// Decrements the open-connection count however the connection ends.
struct ConnGuard(Arc<App>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.stats.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers 503 once the request head has arrived: a response sent before the request makes
/// clients (hyper's among them) drop the connection as broken instead of reading it. Reads at most
/// 16 KiB for at most two seconds; a client that sends no head gets no answer.
async fn refuse_busy(mut stream: TcpStream) {
    let head = async {
        let mut buf = [0u8; 1024];
        let mut last4 = 0u32;
        let mut total = 0usize;
        while total < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    total += n;
                    for &b in buf.iter().take(n) {
                        last4 = (last4 << 8) | u32::from(b);
                        if last4 == u32::from_be_bytes(*b"\r\n\r\n") {
                            return true;
                        }
                    }
                }
            }
        }
        true
    };
    let arrived = smol::future::or(head, async {
        Timer::after(Duration::from_secs(2)).await;
        false
    })
    .await;
    if arrived {
        let _ = stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        let _ = stream.flush().await;
    }
}

/// A response with no body.
pub fn empty(status: u16) -> Response<Body> {
    let mut r = Response::new(Body::new(Bytes::new()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// A response with a body and its content type.
pub fn with_body(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = empty(status);
    *r.body_mut() = Body::new(body.into());
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}
