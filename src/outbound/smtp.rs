//! Submitting one message to the smarthost: connect, secure, authenticate, hand over the envelope
//! and the data, and say precisely what happened — which recipients were taken, which refused,
//! and whether a failure is worth retrying.

use super::config::{Credentials, SmtpConfig, TlsMode};
use super::reply::{EnhancedCode, Reply, StatusClass};
use super::session::{Session, timed};
use super::tls;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use smol::io::{AsyncRead, AsyncWrite};
use smol::net::TcpStream;
use smtp_proto::{
    AUTH_LOGIN, AUTH_PLAIN, EXT_8BIT_MIME, EXT_SIZE, EXT_SMTP_UTF8, EXT_START_TLS, EhloResponse,
};
use std::fmt;
use std::io;

/// The step of the session a reply or failure belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Greeting,
    Hello,
    StartTls,
    Tls,
    Auth,
    MailFrom,
    RcptTo,
    Data,
    Message,
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Hello => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Tls => "TLS handshake",
            Stage::Auth => "AUTH",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::Message => "end of data",
            Stage::Quit => "QUIT",
        })
    }
}

/// Failures that will not go away by trying again with the same message and settings.
#[derive(Debug)]
pub enum Permanent {
    /// A 5xx reply.
    Rejected { stage: Stage, reply: Reply },
    /// Bigger than the SIZE the server announced.
    TooLarge { size: usize, limit: usize },
    /// `tls = "starttls"` but the server does not offer it.
    StartTlsUnavailable,
    /// Credentials are configured but the server offers neither PLAIN nor LOGIN.
    AuthUnavailable,
    /// Non-ASCII addresses and a server without SMTPUTF8.
    Utf8Unavailable,
    /// An address that cannot be put in a MAIL or RCPT command.
    BadAddress(String),
}

/// Failures worth another try later.
#[derive(Debug)]
pub enum Transient {
    /// A 4xx reply.
    Deferred {
        stage: Stage,
        reply: Reply,
    },
    Io {
        stage: Stage,
        error: io::Error,
    },
    Timeout(Stage),
    Tls(String),
    /// The server spoke something other than SMTP.
    Protocol {
        stage: Stage,
        detail: String,
    },
    /// Our side could not get ready, e.g. an unreadable CA file.
    Setup(String),
}

#[derive(Debug)]
pub enum SmtpError {
    Permanent(Permanent),
    Transient(Transient),
}

impl SmtpError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Permanent(_))
    }

    /// The failure as recorded for every recipient it hit.
    pub fn failure(&self) -> Failure {
        use StatusClass::{Permanent as P, Transient as T};
        let local = |class: StatusClass, subject: u16, detail: u16| Failure {
            status: EnhancedCode::new(class, subject, detail),
            diagnostic: Diagnostic::Local(self.to_string()),
        };
        match self {
            SmtpError::Permanent(Permanent::Rejected { reply, .. })
            | SmtpError::Transient(Transient::Deferred { reply, .. }) => Failure::from_reply(reply),
            SmtpError::Permanent(Permanent::TooLarge { .. }) => local(P, 3, 4),
            SmtpError::Permanent(Permanent::StartTlsUnavailable | Permanent::AuthUnavailable) => {
                local(P, 7, 0)
            }
            SmtpError::Permanent(Permanent::Utf8Unavailable) => local(P, 6, 7),
            SmtpError::Permanent(Permanent::BadAddress(_)) => local(P, 1, 3),
            SmtpError::Transient(Transient::Io { .. } | Transient::Timeout(_)) => local(T, 4, 0),
            SmtpError::Transient(Transient::Tls(_)) => local(T, 7, 0),
            SmtpError::Transient(Transient::Protocol { .. }) => local(T, 5, 0),
            SmtpError::Transient(Transient::Setup(_)) => local(T, 3, 0),
        }
    }
}

impl fmt::Display for SmtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmtpError::Permanent(p) => match p {
                Permanent::Rejected { stage, reply } => write!(f, "{stage} refused: {reply}"),
                Permanent::TooLarge { size, limit } => write!(
                    f,
                    "message of {size} bytes is larger than the server's limit of {limit}"
                ),
                Permanent::StartTlsUnavailable => f.write_str("the server does not offer STARTTLS"),
                Permanent::AuthUnavailable => {
                    f.write_str("the server offers neither AUTH PLAIN nor AUTH LOGIN")
                }
                Permanent::Utf8Unavailable => {
                    f.write_str("non-ASCII address but the server does not support SMTPUTF8")
                }
                Permanent::BadAddress(a) => write!(f, "{a:?} is not a usable address"),
            },
            SmtpError::Transient(t) => match t {
                Transient::Deferred { stage, reply } => write!(f, "{stage} deferred: {reply}"),
                Transient::Io { stage, error } => write!(f, "{stage}: {error}"),
                Transient::Timeout(stage) => write!(f, "{stage}: no answer in time"),
                Transient::Tls(e) => write!(f, "TLS: {e}"),
                Transient::Protocol { stage, detail } => write!(f, "{stage}: {detail}"),
                Transient::Setup(e) => f.write_str(e),
            },
        }
    }
}

impl std::error::Error for SmtpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SmtpError::Transient(Transient::Io { error, .. }) => Some(error),
            _ => None,
        }
    }
}

/// What went wrong for one recipient, in the terms a delivery status notification needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub status: EnhancedCode,
    pub diagnostic: Diagnostic,
}

/// Who described the failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Diagnostic {
    /// The smarthost, in this reply.
    Smtp(Reply),
    /// We did, e.g. a timeout or a refused connection.
    Local(String),
}

impl Failure {
    /// The reply's own enhanced code when its class agrees with the reply code, else the bare
    /// class ("5.0.0"). Anything but a 5xx counts as transient.
    pub fn from_reply(reply: &Reply) -> Failure {
        let class = if reply.is_permanent() {
            StatusClass::Permanent
        } else {
            StatusClass::Transient
        };
        let status = reply
            .enhanced()
            .filter(|e| e.class() == class)
            .unwrap_or(EnhancedCode::new(class, 0, 0));
        Failure {
            status,
            diagnostic: Diagnostic::Smtp(reply.clone()),
        }
    }

    pub fn is_permanent(&self) -> bool {
        self.status.class() == StatusClass::Permanent
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.diagnostic {
            Diagnostic::Smtp(reply) => write!(f, "{reply}"),
            Diagnostic::Local(text) => f.write_str(text),
        }
    }
}

/// A recipient the server would not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub recipient: String,
    pub reply: Reply,
}

impl Refusal {
    pub fn failure(&self) -> Failure {
        Failure::from_reply(&self.reply)
    }
}

/// The outcome of a session that got as far as the recipients. When `accepted` is empty no data
/// was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub accepted: Vec<String>,
    pub refused: Vec<Refusal>,
}

/// Submits `message` from `from` to `rcpts` through the configured smarthost, in one session.
pub async fn submit(
    cfg: &SmtpConfig,
    from: &str,
    rcpts: &[String],
    message: &[u8],
) -> Result<Delivery, SmtpError> {
    check_address(from)?;
    for rcpt in rcpts {
        check_address(rcpt)?;
    }
    if rcpts.is_empty() {
        return Ok(Delivery::default());
    }
    let tcp = connect(cfg).await?;
    let envelope = Envelope {
        from,
        rcpts,
        message,
    };
    match cfg.tls {
        TlsMode::None => {
            let mut s = Session::new(tcp, cfg.timeout);
            let ehlo = open(&mut s, cfg).await?;
            transact(&mut s, &ehlo, cfg, &envelope).await
        }
        TlsMode::Implicit => {
            let mut s = Session::new(tls::handshake(cfg, tcp, Stage::Tls).await?, cfg.timeout);
            let ehlo = open(&mut s, cfg).await?;
            transact(&mut s, &ehlo, cfg, &envelope).await
        }
        TlsMode::StartTls => {
            let mut plain = Session::new(tcp, cfg.timeout);
            let ehlo = open(&mut plain, cfg).await?;
            if !ehlo.has_capability(EXT_START_TLS) {
                return Err(SmtpError::Permanent(Permanent::StartTlsUnavailable));
            }
            let reply = plain.command(Stage::StartTls, "STARTTLS").await?;
            expect(Stage::StartTls, reply, 220)?;
            let stream = tls::handshake(cfg, plain.into_inner()?, Stage::Tls).await?;
            let mut s = Session::new(stream, cfg.timeout);
            let ehlo = hello(&mut s, cfg).await?;
            transact(&mut s, &ehlo, cfg, &envelope).await
        }
    }
}

struct Envelope<'a> {
    from: &'a str,
    rcpts: &'a [String],
    message: &'a [u8],
}

/// Whether `addr` is local@domain with nothing that could end the angle brackets of a MAIL or
/// RCPT command, or the line, or a header field.
pub(super) fn is_mailbox(addr: &str) -> bool {
    addr.len() <= 512
        && addr
            .rsplit_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !addr
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>'))
}

fn check_address(addr: &str) -> Result<(), SmtpError> {
    if is_mailbox(addr) {
        Ok(())
    } else {
        Err(SmtpError::Permanent(Permanent::BadAddress(
            addr.to_string(),
        )))
    }
}

async fn connect(cfg: &SmtpConfig) -> Result<TcpStream, SmtpError> {
    let addrs = timed(
        cfg.timeout,
        Stage::Connect,
        smol::net::resolve((cfg.host.as_str(), cfg.port)),
    )
    .await?;
    let mut last = None;
    for addr in addrs {
        match timed(cfg.timeout, Stage::Connect, TcpStream::connect(addr)).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        SmtpError::Transient(Transient::Io {
            stage: Stage::Connect,
            error: io::Error::new(
                io::ErrorKind::NotFound,
                format!("no address for {}", cfg.host),
            ),
        })
    }))
}

/// Classifies `reply`: the expected code passes, anything else becomes the matching error.
fn expect(stage: Stage, reply: Reply, code: u16) -> Result<Reply, SmtpError> {
    if reply.code() == code {
        Ok(reply)
    } else {
        Err(refused(stage, reply))
    }
}

fn refused(stage: Stage, reply: Reply) -> SmtpError {
    if reply.is_permanent() {
        SmtpError::Permanent(Permanent::Rejected { stage, reply })
    } else if reply.is_transient() {
        SmtpError::Transient(Transient::Deferred { stage, reply })
    } else {
        SmtpError::Transient(Transient::Protocol {
            stage,
            detail: format!("unexpected reply {reply}"),
        })
    }
}

/// Greeting and EHLO.
async fn open<S>(s: &mut Session<S>, cfg: &SmtpConfig) -> Result<EhloResponse<String>, SmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let greeting = s.reply(Stage::Greeting).await?;
    expect(Stage::Greeting, greeting, 220)?;
    hello(s, cfg).await
}

async fn hello<S>(s: &mut Session<S>, cfg: &SmtpConfig) -> Result<EhloResponse<String>, SmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    s.ehlo(cfg.ehlo_name())
        .await?
        .map_err(|reply| refused(Stage::Hello, reply))
}

async fn authenticate<S>(
    s: &mut Session<S>,
    ehlo: &EhloResponse<String>,
    creds: &Credentials,
) -> Result<(), SmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if ehlo.auth_mechanisms & AUTH_PLAIN != 0 {
        let token = B64.encode(format!("\0{}\0{}", creds.username, creds.password));
        let reply = s
            .command(Stage::Auth, &format!("AUTH PLAIN {token}"))
            .await?;
        expect(Stage::Auth, reply, 235)?;
    } else if ehlo.auth_mechanisms & AUTH_LOGIN != 0 {
        let reply = s.command(Stage::Auth, "AUTH LOGIN").await?;
        expect(Stage::Auth, reply, 334)?;
        let reply = s.command(Stage::Auth, &B64.encode(&creds.username)).await?;
        expect(Stage::Auth, reply, 334)?;
        let reply = s.command(Stage::Auth, &B64.encode(&creds.password)).await?;
        expect(Stage::Auth, reply, 235)?;
    } else {
        return Err(SmtpError::Permanent(Permanent::AuthUnavailable));
    }
    Ok(())
}

/// Everything after EHLO: AUTH, the envelope, the data, QUIT.
async fn transact<S>(
    s: &mut Session<S>,
    ehlo: &EhloResponse<String>,
    cfg: &SmtpConfig,
    env: &Envelope<'_>,
) -> Result<Delivery, SmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Some(creds) = &cfg.credentials {
        authenticate(s, ehlo, creds).await?;
    }
    if ehlo.has_capability(EXT_SIZE) && ehlo.size > 0 && env.message.len() > ehlo.size {
        return Err(SmtpError::Permanent(Permanent::TooLarge {
            size: env.message.len(),
            limit: ehlo.size,
        }));
    }
    let utf8 = !env.from.is_ascii() || env.rcpts.iter().any(|r| !r.is_ascii());
    if utf8 && !ehlo.has_capability(EXT_SMTP_UTF8) {
        return Err(SmtpError::Permanent(Permanent::Utf8Unavailable));
    }
    let mut mail = format!("MAIL FROM:<{}>", env.from);
    if ehlo.has_capability(EXT_SIZE) {
        mail.push_str(&format!(" SIZE={}", env.message.len()));
    }
    // Without 8BITMIME the bytes go out all the same: re-encoding would break signatures, and
    // servers that refuse 8-bit data are long gone.
    if ehlo.has_capability(EXT_8BIT_MIME) && !env.message.is_ascii() {
        mail.push_str(" BODY=8BITMIME");
    }
    if utf8 {
        mail.push_str(" SMTPUTF8");
    }
    let reply = s.command(Stage::MailFrom, &mail).await?;
    expect(Stage::MailFrom, reply, 250)?;

    let mut delivery = Delivery::default();
    for rcpt in env.rcpts {
        let reply = s
            .command(Stage::RcptTo, &format!("RCPT TO:<{rcpt}>"))
            .await?;
        match reply.code() {
            250 | 251 => delivery.accepted.push(rcpt.clone()),
            // 421 means the server is closing the whole session, not refusing this recipient.
            421 => return Err(refused(Stage::RcptTo, reply)),
            _ if reply.is_permanent() || reply.is_transient() => delivery.refused.push(Refusal {
                recipient: rcpt.clone(),
                reply,
            }),
            _ => return Err(refused(Stage::RcptTo, reply)),
        }
    }
    if delivery.accepted.is_empty() {
        quit(s).await;
        return Ok(delivery);
    }
    let reply = s.command(Stage::Data, "DATA").await?;
    expect(Stage::Data, reply, 354)?;
    s.send_data(env.message).await?;
    let reply = s.reply(Stage::Message).await?;
    expect(Stage::Message, reply, 250)?;
    quit(s).await;
    Ok(delivery)
}

/// The message is already accepted or abandoned, so how the server takes QUIT does not matter.
async fn quit<S>(s: &mut Session<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(e) = s.command(Stage::Quit, "QUIT").await {
        log::debug!("smtp: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_that_would_break_the_command_line_are_refused() {
        for bad in [
            "",
            "a",
            "@b",
            "a@",
            "a b@c",
            "a@b>",
            "<a@b",
            "a@b\r\nRSET",
            "a\t@b",
        ] {
            assert!(check_address(bad).is_err(), "{bad:?}");
        }
        for good in ["a@b", "first.last+tag@example.net", "jörg@bücher.example"] {
            assert!(check_address(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn failures_carry_a_status_matching_the_reply_class() {
        let r = Reply::parse(b"550 5.1.1 no such user\r\n").unwrap();
        let f = Failure::from_reply(&r);
        assert_eq!(f.status.to_string(), "5.1.1");
        assert!(f.is_permanent());
        let r = Reply::parse(b"451 try later\r\n").unwrap();
        let f = Failure::from_reply(&r);
        assert_eq!(f.status.to_string(), "4.0.0");
        assert!(!f.is_permanent());
        let r = Reply::parse(b"450 5.2.2 mailbox full\r\n").unwrap();
        assert_eq!(Failure::from_reply(&r).status.to_string(), "4.0.0");
    }

    #[test]
    fn error_classes() {
        let e = SmtpError::Transient(Transient::Timeout(Stage::Data));
        assert!(!e.is_permanent());
        assert_eq!(e.failure().status.to_string(), "4.4.0");
        assert_eq!(e.to_string(), "DATA: no answer in time");
        let e = SmtpError::Permanent(Permanent::TooLarge { size: 10, limit: 5 });
        assert!(e.is_permanent());
        assert_eq!(e.failure().status.to_string(), "5.3.4");
    }
}
