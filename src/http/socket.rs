//! One connection's socket and its unread bytes, shared by the connection loop (request heads,
//! responses, the hang-up watch) and the body of the request a handler is running.
//!
//! Memory is the point: a connection holds no read buffer while it waits. Bytes are read into `buf`
//! only while a head or body is being read, and `buf` is released as soon as it is empty, so a held
//! Ping costs the socket, this small struct and its handler, not the 8 KiB buffers per direction
//! a general HTTP library keeps.

use super::chunked::Chunked;
use smol::future::poll_fn;
use smol::io::{AsyncRead, AsyncWrite};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// A plain TCP or TLS stream, type-erased so request bodies have one type.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// What is left of the current request's body on the wire.
#[derive(Debug)]
pub enum Remaining {
    Done,
    Length(u64),
    Chunked(Chunked),
}

pub struct Io {
    stream: Box<dyn Stream>,
    /// Read but not used yet: the rest of a head, body bytes that came with it, a pipelined request.
    pub buf: Vec<u8>,
    pub body: Remaining,
    /// The client sent `Expect: 100-continue` and has not been told to go on.
    pub continue_owed: bool,
    /// The handler started reading the current body (and, if it is not done, gave up on it).
    pub body_started: bool,
    /// The hang-up watch, waiting for the body to be read before it may read the socket itself.
    watcher: Option<Waker>,
}

impl Io {
    /// Marks the body as entirely read and lets the hang-up watch start.
    pub fn finish_body(&mut self) {
        self.body = Remaining::Done;
        if let Some(w) = self.watcher.take() {
            w.wake();
        }
    }

    /// Gives `buf`'s memory back when nothing in it is waiting to be parsed.
    pub fn release_buf(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        } else {
            self.buf.shrink_to_fit();
        }
    }

    /// Reads at most `want` more bytes onto the end of `buf`.
    fn poll_fill(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        let len = self.buf.len();
        self.buf.resize(len + want.max(1), 0);
        let res = Pin::new(&mut self.stream).poll_read(cx, &mut self.buf[len..]);
        let got = match res {
            Poll::Ready(Ok(n)) => n,
            _ => 0,
        };
        self.buf.truncate(len + got);
        res
    }
}

/// The shared handle. The lock is only ever taken inside one poll, never across an await, and the
/// connection's futures are polled by one task, so it is never contended.
#[derive(Clone)]
pub struct Conn(Arc<Mutex<Io>>);

impl Conn {
    pub fn new(stream: Box<dyn Stream>) -> Conn {
        Conn(Arc::new(Mutex::new(Io {
            stream,
            buf: Vec::new(),
            body: Remaining::Done,
            continue_owed: false,
            body_started: false,
            watcher: None,
        })))
    }

    pub fn lock(&self) -> MutexGuard<'_, Io> {
        match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads at most `want` bytes onto the end of the buffer; 0 means the peer closed its side.
    pub async fn fill(&self, want: usize) -> io::Result<usize> {
        poll_fn(|cx| self.lock().poll_fill(cx, want)).await
    }

    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut self.lock().stream).poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    pub async fn flush(&self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut self.lock().stream).poll_flush(cx)).await
    }

    /// Ends our side: FIN on plain TCP, close_notify then FIN on TLS.
    pub async fn close(&self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut self.lock().stream).poll_close(cx)).await
    }

    /// Resolves when the client hangs up while its request is being handled: the socket reads
    /// end-of-stream or fails. It waits for the body to be read first (those bytes are the
    /// handler's), and stops watching (stays pending) once the client sends anything more, which is a
    /// pipelined request kept in the buffer for later.
    pub async fn hang_up(&self) {
        poll_fn(|cx| {
            let mut io = self.lock();
            if !matches!(io.body, Remaining::Done) {
                io.watcher = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if !io.buf.is_empty() {
                return Poll::Pending;
            }
            match io.poll_fill(cx, 1) {
                Poll::Ready(Ok(0) | Err(_)) => Poll::Ready(()),
                Poll::Ready(Ok(_)) | Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}
