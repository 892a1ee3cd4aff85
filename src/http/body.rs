//! Request bodies: still on the connection when the handler starts, read with a size cap and a
//! deadline so a phone on a bad link (or an attacker) cannot pin a connection or memory forever. A
//! handler that answers without reading (401, 413) never makes the client send it: `Expect:
//! 100-continue` is only answered when the body is read.

use super::chunked::ChunkError;
use super::socket::{Conn, Remaining};
use bytes::Bytes;
use std::fmt;
use std::io;
use std::time::Duration;

/// Largest read asked of the socket at once while reading a body.
const READ_CHUNK: usize = 64 * 1024;

/// The body of a request, read through [`read`].
pub struct Incoming {
    conn: Conn,
}

impl Incoming {
    pub(super) fn new(conn: Conn) -> Incoming {
        Incoming { conn }
    }
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge(u64),
    Timeout,
    Io(io::Error),
    Closed,
    Chunked(ChunkError),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge(limit) => write!(f, "request body larger than {limit} bytes"),
            BodyError::Timeout => f.write_str("request body not received in time"),
            BodyError::Io(e) => write!(f, "reading request body: {e}"),
            BodyError::Closed => f.write_str("connection closed in the middle of the request body"),
            BodyError::Chunked(e) => write!(f, "reading request body: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl BodyError {
    pub fn http_status(&self) -> u16 {
        match self {
            BodyError::TooLarge(_) => 413,
            BodyError::Timeout => 408,
            BodyError::Io(_) | BodyError::Closed | BodyError::Chunked(_) => 400,
        }
    }
}

/// Collects the body; `declared` is the Content-Length, checked up front so a huge upload is refused
/// before any of it is sent or buffered.
pub async fn read(
    body: Incoming,
    declared: Option<u64>,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let known = match &body.conn.lock().body {
        Remaining::Length(n) => Some(*n),
        _ => None,
    };
    if declared.or(known).is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge(limit));
    }
    let collect = async {
        let mut out = Vec::with_capacity(known.unwrap_or(0).min(1 << 20) as usize);
        pull(&body.conn, Some(&mut out), limit).await?;
        Ok(Bytes::from(out))
    };
    smol::future::or(collect, async {
        smol::Timer::after(timeout).await;
        Err(BodyError::Timeout)
    })
    .await
}

/// Reads the rest of the body off the connection, into `out` or (None) discarding it; more than
/// `limit` bytes is an error. Sends the 100 Continue the client may be waiting for first.
pub(super) async fn pull(
    conn: &Conn,
    mut out: Option<&mut Vec<u8>>,
    limit: u64,
) -> Result<(), BodyError> {
    let owed = {
        let mut io = conn.lock();
        let owed = io.continue_owed && !matches!(io.body, Remaining::Done);
        io.continue_owed = false;
        io.body_started = true;
        owed
    };
    if owed {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(BodyError::Io)?;
        conn.flush().await.map_err(BodyError::Io)?;
    }
    let mut taken = 0u64;
    loop {
        let want = {
            let mut io = conn.lock();
            let io = &mut *io;
            let (used, data) = match &mut io.body {
                Remaining::Done => return Ok(()),
                Remaining::Length(left) => {
                    let n = (*left).min(io.buf.len() as u64) as usize;
                    *left -= n as u64;
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(&io.buf[..n]);
                    }
                    (n, n)
                }
                Remaining::Chunked(c) => {
                    let d = c
                        .decode(&io.buf, out.as_deref_mut())
                        .map_err(BodyError::Chunked)?;
                    (d.consumed, d.data)
                }
            };
            // Checked after the copy: `out` overshoots the limit by at most one read.
            taken += data as u64;
            if taken > limit {
                return Err(BodyError::TooLarge(limit));
            }
            io.buf.drain(..used);
            let want = match &io.body {
                Remaining::Length(0) => None,
                Remaining::Length(left) => Some((*left).min(READ_CHUNK as u64) as usize),
                Remaining::Chunked(c) if c.is_done() => None,
                Remaining::Chunked(_) => Some(READ_CHUNK),
                Remaining::Done => None,
            };
            if want.is_none() {
                io.finish_body();
                io.release_buf();
                return Ok(());
            }
            want
        };
        match conn.fill(want.unwrap_or(READ_CHUNK)).await {
            Ok(0) => return Err(BodyError::Closed),
            Ok(_) => {}
            Err(e) => return Err(BodyError::Io(e)),
        }
    }
}
