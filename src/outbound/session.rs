//! The byte stream of one SMTP connection: command lines out, whole replies in, message data out
//! in encoded pieces, every step under the configured time limit so a stuck server cannot hold a
//! device's SendMail request (or the queue worker) forever.

use super::dotstuff::DotStuffer;
use super::reply::Reply;
use super::smtp::{SmtpError, Stage, Transient};
use smol::Timer;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smtp_proto::EhloResponse;
use std::future::Future;
use std::io;
use std::time::Duration;

/// Replies longer than this are not SMTP but a server gone wrong.
const MAX_REPLY: usize = 64 * 1024;
/// Message data is encoded and written this many input bytes at a time.
const DATA_PIECE: usize = 16 * 1024;

/// Runs one I/O step, turning its failure and a missed deadline into transient errors.
pub async fn timed<T>(
    limit: Duration,
    stage: Stage,
    step: impl Future<Output = io::Result<T>>,
) -> Result<T, SmtpError> {
    smol::future::or(
        async {
            step.await
                .map_err(|error| SmtpError::Transient(Transient::Io { stage, error }))
        },
        async {
            Timer::after(limit).await;
            Err(SmtpError::Transient(Transient::Timeout(stage)))
        },
    )
    .await
}

fn protocol(stage: Stage, detail: String) -> SmtpError {
    SmtpError::Transient(Transient::Protocol { stage, detail })
}

pub struct Session<S> {
    stream: S,
    /// Bytes received but not yet part of a returned reply.
    buf: Vec<u8>,
    timeout: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    pub fn new(stream: S, timeout: Duration) -> Session<S> {
        Session {
            stream,
            buf: Vec::new(),
            timeout,
        }
    }

    pub async fn reply(&mut self, stage: Stage) -> Result<Reply, SmtpError> {
        let raw = self.read_raw(stage).await?;
        Reply::parse(&raw).map_err(|detail| protocol(stage, detail))
    }

    /// Sends `line` (without its CRLF) and reads the reply.
    pub async fn command(&mut self, stage: Stage, line: &str) -> Result<Reply, SmtpError> {
        self.send_line(stage, line).await?;
        self.reply(stage).await
    }

    /// EHLO and the extensions it announces. A refusal comes back as the reply, for the caller
    /// to classify.
    pub async fn ehlo(
        &mut self,
        name: &str,
    ) -> Result<Result<EhloResponse<String>, Reply>, SmtpError> {
        self.send_line(Stage::Hello, &format!("EHLO {name}"))
            .await?;
        let raw = self.read_raw(Stage::Hello).await?;
        if raw.starts_with(b"250") {
            EhloResponse::parse(&mut raw.iter())
                .map(Ok)
                .map_err(|e| protocol(Stage::Hello, format!("malformed EHLO reply: {e:?}")))
        } else {
            Reply::parse(&raw)
                .map(Err)
                .map_err(|detail| protocol(Stage::Hello, detail))
        }
    }

    pub async fn send_line(&mut self, stage: Stage, line: &str) -> Result<(), SmtpError> {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        timed(self.timeout, stage, self.stream.write_all(&bytes)).await?;
        timed(self.timeout, stage, self.stream.flush()).await
    }

    /// Writes the message in DATA encoding, terminating dot included.
    pub async fn send_data(&mut self, message: &[u8]) -> Result<(), SmtpError> {
        let mut stuffer = DotStuffer::default();
        let mut out = Vec::with_capacity(DATA_PIECE + DATA_PIECE / 8);
        for piece in message.chunks(DATA_PIECE) {
            out.clear();
            stuffer.push(piece, &mut out);
            timed(self.timeout, Stage::Message, self.stream.write_all(&out)).await?;
        }
        out.clear();
        stuffer.finish(&mut out);
        timed(self.timeout, Stage::Message, self.stream.write_all(&out)).await?;
        timed(self.timeout, Stage::Message, self.stream.flush()).await
    }

    /// The bare stream, for the TLS handshake after STARTTLS. Anything the server sent beyond
    /// its "220" would be read as if it came through TLS, which is how STARTTLS command
    /// injection works, so leftover bytes end the session.
    pub fn into_inner(self) -> Result<S, SmtpError> {
        if self.buf.is_empty() {
            Ok(self.stream)
        } else {
            Err(protocol(
                Stage::StartTls,
                "server sent data after its STARTTLS reply".into(),
            ))
        }
    }

    /// Reads until the buffer holds a complete reply (its last line has no '-' after the code)
    /// and takes that reply out of it.
    async fn read_raw(&mut self, stage: Stage) -> Result<Vec<u8>, SmtpError> {
        let mut scanned = 0;
        loop {
            while let Some(pos) = self
                .buf
                .get(scanned..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            {
                let line_start = scanned;
                scanned += pos + 1;
                let last = self.buf.get(line_start + 3) != Some(&b'-');
                if last {
                    let rest = self.buf.split_off(scanned);
                    return Ok(std::mem::replace(&mut self.buf, rest));
                }
            }
            if self.buf.len() > MAX_REPLY {
                return Err(protocol(stage, "reply longer than 64 KiB".into()));
            }
            let mut chunk = [0u8; 4096];
            let n = timed(self.timeout, stage, self.stream.read(&mut chunk)).await?;
            if n == 0 {
                return Err(SmtpError::Transient(Transient::Io {
                    stage,
                    error: io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by the server",
                    ),
                }));
            }
            self.buf
                .extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smol::io::Cursor;

    /// A scripted server: reads come from `input`, writes are collected.
    struct Script {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl AsyncRead for Script {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::pin::Pin::new(&mut self.input).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Script {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            self.output.extend_from_slice(buf);
            std::task::Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    fn session(input: &[u8]) -> Session<Script> {
        Session::new(
            Script {
                input: Cursor::new(input.to_vec()),
                output: Vec::new(),
            },
            Duration::from_secs(5),
        )
    }

    #[test]
    fn replies_are_split_at_their_last_line() {
        smol::block_on(async {
            let mut s = session(b"220-hello\r\n220 there\r\n250 2.1.0 ok\r\n");
            let r = s.reply(Stage::Greeting).await.unwrap();
            assert_eq!((r.code(), r.text()), (220, "hello there"));
            let r = s.command(Stage::MailFrom, "MAIL FROM:<a@b>").await.unwrap();
            assert_eq!(r.code(), 250);
            assert_eq!(s.stream.output, b"MAIL FROM:<a@b>\r\n");
            assert!(matches!(
                s.reply(Stage::RcptTo).await,
                Err(SmtpError::Transient(Transient::Io { .. }))
            ));
        });
    }

    #[test]
    fn ehlo_extensions_are_parsed() {
        smol::block_on(async {
            let mut s = session(
                b"250-mx.example.net\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 STARTTLS\r\n",
            );
            let e = s.ehlo("me.example").await.unwrap().unwrap();
            assert!(e.has_capability(smtp_proto::EXT_START_TLS));
            assert!(e.has_capability(smtp_proto::EXT_8BIT_MIME));
            assert_eq!(e.size, 1000);
            assert_ne!(e.auth_mechanisms & smtp_proto::AUTH_PLAIN, 0);
            let mut s = session(b"502 5.5.1 no\r\n");
            let refused = s.ehlo("me").await.unwrap().unwrap_err();
            assert_eq!(refused.code(), 502);
        });
    }

    #[test]
    fn leftover_bytes_after_starttls_are_refused() {
        smol::block_on(async {
            let mut s = session(b"220 go ahead\r\n250 injected\r\n");
            s.command(Stage::StartTls, "STARTTLS").await.unwrap();
            assert!(s.into_inner().is_err());
            let mut s = session(b"220 go ahead\r\n");
            s.command(Stage::StartTls, "STARTTLS").await.unwrap();
            assert!(s.into_inner().is_ok());
        });
    }

    #[test]
    fn endless_replies_are_cut_off() {
        smol::block_on(async {
            let mut input = Vec::new();
            while input.len() <= MAX_REPLY {
                input.extend_from_slice(b"250-more and more\r\n");
            }
            let mut s = session(&input);
            assert!(matches!(
                s.reply(Stage::Hello).await,
                Err(SmtpError::Transient(Transient::Protocol { .. }))
            ));
        });
    }

    #[test]
    fn data_is_dot_stuffed_and_terminated() {
        smol::block_on(async {
            let mut s = session(b"");
            s.send_data(b"Subject: x\r\n\r\n.line\r\nend")
                .await
                .unwrap();
            assert_eq!(s.stream.output, b"Subject: x\r\n\r\n..line\r\nend\r\n.\r\n");
        });
    }
}
