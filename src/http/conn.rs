//! One HTTP/1.1 connection: read a head, run the router with the body still on the socket, write
//! the response, and again while the client keeps the connection. While a handler runs (a held Ping
//! for up to 30 minutes) the socket is watched for the client hanging up, which drops the handler
//! at once.

use super::body::{self, Incoming};
use super::head::{self, Head, HeadError, MAX_HEAD};
use super::response::{self, Framing};
use super::socket::{Conn, Remaining, Stream};
use super::{Body, Peer};
use crate::app::App;
use hyper::{Method, Request, Response, Version};
use smol::Timer;
use std::sync::Arc;
use std::time::Duration;

/// A body the handler left unread is read and dropped, to keep the connection, up to this size and
/// for at most this long (it is normally there already: the client sent it right after the head).
const DRAIN_MAX: u64 = 64 * 1024;
const DRAIN_WAIT: Duration = Duration::from_secs(1);
/// After a response that closes the connection, what the client still sends is read and dropped
/// for this long (and up to LINGER_MAX bytes), so its kernel does not discard our response on a reset.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX: usize = 256 * 1024;
/// First read size for a head; EAS heads are a few hundred bytes.
const HEAD_CHUNK: usize = 1024;

/// Why no head came.
enum NoHead {
    /// The client closed (or reset) the connection between requests.
    Closed,
    /// The header timeout passed; `partial` if some of a head had come.
    Timeout {
        partial: bool,
    },
    Invalid(HeadError),
}

pub async fn serve(app: Arc<App>, stream: Box<dyn Stream>, peer: Peer) {
    let conn = Conn::new(stream);
    let header_timeout = Duration::from_secs(app.config.limits.header_timeout_secs.into());
    let mut served = false;
    loop {
        // The header timeout also ends idle keep-alive connections, which is routine: only a
        // connection that never sent a whole head, or stopped in the middle of one, is logged.
        let head = smol::future::or(read_head(&conn), async {
            Timer::after(header_timeout).await;
            Err(NoHead::Timeout {
                partial: !conn.lock().buf.is_empty(),
            })
        })
        .await;
        let head = match head {
            Ok(h) => h,
            Err(NoHead::Closed) => return,
            Err(NoHead::Timeout { partial }) => {
                if partial || !served {
                    log::info!(
                        "{}: request headers not received within {} s; connection closed",
                        peer.addr,
                        header_timeout.as_secs()
                    );
                }
                return;
            }
            Err(NoHead::Invalid(e)) => {
                log::info!("{}: {e}; answered {}", peer.addr, e.http_status());
                let framing = Framing {
                    head_only: false,
                    close: true,
                    keep_alive_10: false,
                };
                let _ = write_response(&conn, &super::empty(e.http_status()), &framing).await;
                linger(&conn).await;
                return;
            }
        };
        served = true;
        let Some(close) = exchange(&app, &conn, head, peer).await else {
            return;
        };
        if close {
            linger(&conn).await;
            return;
        }
        conn.lock().release_buf();
    }
}

/// One request and its response; `Some(close)` once the response is written, None if the client
/// hung up or the write failed.
async fn exchange(app: &Arc<App>, conn: &Conn, head: Head, peer: Peer) -> Option<bool> {
    let Head {
        method,
        uri,
        version,
        headers,
        body,
        keep_alive,
        expects_continue,
    } = head;
    {
        let mut io = conn.lock();
        io.body = body;
        io.continue_owed = expects_continue;
        io.body_started = false;
        if matches!(io.body, Remaining::Done) {
            io.release_buf();
        }
    }
    let head_only = method == Method::HEAD;
    let mut req = Request::new(Incoming::new(conn.clone()));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    *req.version_mut() = version;
    *req.headers_mut() = headers;
    let handler = crate::router::route(app.clone(), req, peer);
    let watched = smol::future::or(async { Some(handler.await) }, async {
        conn.hang_up().await;
        None
    })
    .await;
    let Some(response) = watched else {
        log::debug!("{}: client hung up before its response", peer.addr);
        return None;
    };
    let mut close = !keep_alive || response::wants_close(response.headers());
    if !close && !drain(conn).await {
        close = true;
    }
    let framing = Framing {
        head_only,
        close,
        keep_alive_10: keep_alive && version == Version::HTTP_10,
    };
    match write_response(conn, &response, &framing).await {
        Ok(()) => Some(close),
        Err(e) => {
            log::debug!("{}: writing the response: {e}", peer.addr);
            None
        }
    }
}

/// Reads what is left of a body the handler did not read, if that is small and the client is not
/// still waiting to be told to send it; false if the connection cannot carry another request (also
/// when the handler gave up reading the body: too large, too slow, malformed).
async fn drain(conn: &Conn) -> bool {
    let worth = {
        let io = conn.lock();
        match io.body {
            Remaining::Done => return true,
            Remaining::Length(n) => n <= DRAIN_MAX && !io.continue_owed && !io.body_started,
            Remaining::Chunked(_) => false,
        }
    };
    worth
        && smol::future::or(
            async { body::pull(conn, None, DRAIN_MAX).await.is_ok() },
            async {
                Timer::after(DRAIN_WAIT).await;
                false
            },
        )
        .await
}

/// Reads until a whole head is in the buffer and parses it. Nothing is allocated until the first
/// byte arrives, so an idle keep-alive connection holds no buffer.
async fn read_head(conn: &Conn) -> Result<Head, NoHead> {
    // Where the search for the head's end resumes: parsing only once a blank line has come keeps a
    // client sending one byte at a time from costing a parse per byte.
    let mut scanned = 0;
    loop {
        let want = {
            let mut io = conn.lock();
            let len = io.buf.len();
            if let Some(end) = blank_line(&io.buf, scanned) {
                match head::parse(&io.buf[..end.min(len)]) {
                    Ok(Some((head, used))) => {
                        io.buf.drain(..used);
                        return Ok(head);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(NoHead::Invalid(e)),
                }
            }
            if len >= MAX_HEAD {
                return Err(NoHead::Invalid(HeadError::TooLarge));
            }
            scanned = len.saturating_sub(3);
            match len {
                0 => 1,
                _ => HEAD_CHUNK.max(len).min(MAX_HEAD - len),
            }
        };
        // End of stream in the middle of a head is a client giving up, not a request to answer.
        match conn.fill(want).await {
            Ok(0) | Err(_) => return Err(NoHead::Closed),
            Ok(_) => {}
        }
    }
}

/// Where the first blank line ("\n\r\n" or "\n\n") ending at or after `from` ends. It jumps from
/// one line feed to the next: testing every byte for both endings was 2 % of the server's CPU in
/// a burst of small requests.
fn blank_line(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from.min(buf.len());
    while let Some(at) = buf.get(i..)?.iter().position(|&b| b == b'\n') {
        let lf = i + at;
        let rest = buf.get(lf + 1..).unwrap_or_default();
        if rest.starts_with(b"\r\n") {
            return Some(lf + 3);
        }
        if rest.starts_with(b"\n") {
            return Some(lf + 2);
        }
        i = lf + 1;
    }
    None
}

async fn write_response(
    conn: &Conn,
    resp: &Response<Body>,
    framing: &Framing,
) -> std::io::Result<()> {
    let mut out = response::encode_head(resp, framing, &response::date_now());
    let body = resp.body().bytes();
    let send_body = !framing.head_only && response::has_body(resp.status()) && !body.is_empty();
    // One write for the usual small response; a large body goes from where it is.
    if send_body && body.len() <= 16 * 1024 {
        out.extend_from_slice(body);
        conn.write_all(&out).await?;
    } else {
        conn.write_all(&out).await?;
        if send_body {
            conn.write_all(body).await?;
        }
    }
    conn.flush().await
}

/// Ends our side of the connection, then reads and drops what the client still sends for a moment
/// before the socket is closed: closing with unread data makes the kernel answer with a reset,
/// which can destroy the response before the client has read it.
async fn linger(conn: &Conn) {
    if conn.close().await.is_err() {
        return;
    }
    let discard = async {
        let mut total = 0;
        while total < LINGER_MAX {
            match conn.fill(16 * 1024).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
            conn.lock().buf.clear();
        }
    };
    smol::future::or(discard, async {
        Timer::after(LINGER).await;
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::blank_line;

    /// The definition, byte by byte.
    fn naive(buf: &[u8], from: usize) -> Option<usize> {
        (from.min(buf.len())..buf.len()).find_map(|i| {
            let rest = &buf[i..];
            if rest.starts_with(b"\n\r\n") {
                Some(i + 3)
            } else if rest.starts_with(b"\n\n") {
                Some(i + 2)
            } else {
                None
            }
        })
    }

    #[test]
    fn finds_the_first_blank_line_from_where_the_search_resumes() {
        let head = b"POST /x HTTP/1.1\r\nHost: a\r\n\r\nbody\n\n";
        assert_eq!(blank_line(head, 0), Some(29));
        assert_eq!(blank_line(b"a\n\nb", 0), Some(3));
        assert_eq!(blank_line(b"a\r\nb\r\n", 0), None);
        assert_eq!(blank_line(b"", 5), None);
        let samples: [&[u8]; 6] = [head, b"\n\n", b"\n\r", b"\r\n\r\n", b"x\n\r\n\n\n", b"\n"];
        for s in samples {
            for from in 0..=s.len() + 1 {
                assert_eq!(blank_line(s, from), naive(s, from), "{s:?} from {from}");
            }
        }
    }
}
