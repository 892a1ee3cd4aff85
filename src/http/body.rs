//! Reading a request body with a size cap and a deadline. hyper has neither, and a phone on a bad
//! link (or an attacker) must not pin a connection or memory forever.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::fmt;
use std::time::Duration;

#[derive(Debug)]
pub enum BodyError {
    TooLarge(u64),
    Timeout,
    Io(hyper::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge(limit) => write!(f, "request body larger than {limit} bytes"),
            BodyError::Timeout => f.write_str("request body not received in time"),
            BodyError::Io(e) => write!(f, "reading request body: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

impl BodyError {
    pub fn http_status(&self) -> u16 {
        match self {
            BodyError::TooLarge(_) => 413,
            BodyError::Timeout => 408,
            BodyError::Io(_) => 400,
        }
    }
}

/// Collects the body; `declared` is the Content-Length, checked up front so a huge upload is refused
/// before any of it is buffered.
pub async fn read(
    mut body: Incoming,
    declared: Option<u64>,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge(limit));
    }
    let collect = async {
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(1 << 20) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(BodyError::Io)?;
            if let Ok(data) = frame.into_data() {
                if buf.len() as u64 + data.len() as u64 > limit {
                    return Err(BodyError::TooLarge(limit));
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(buf.freeze())
    };
    smol::future::or(collect, async {
        smol::Timer::after(timeout).await;
        Err(BodyError::Timeout)
    })
    .await
}
