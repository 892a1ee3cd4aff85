//! An EAS client over real sockets: the integration tests' phone and `easd bench`'s simulated
//! devices. It speaks only the wire protocol (HTTP/1.1, Basic auth, WBXML), so it works against any
//! EAS server, not just easd.

mod commands;
mod conn;

pub use conn::{Connection, Target};

use crate::ProtocolVersion;
use crate::eas::{Command, EasQuery};
use crate::wbxml::{self, Element};
use base64::Engine;
use bytes::Bytes;
use std::fmt;

#[derive(Debug)]
pub enum ClientError {
    Connect(std::io::Error),
    Http(String),
    Wbxml(wbxml::DecodeError),
    Timeout,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "connect: {e}"),
            ClientError::Http(e) => write!(f, "http: {e}"),
            ClientError::Wbxml(e) => write!(f, "response WBXML: {e}"),
            ClientError::Timeout => f.write_str("timed out"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One HTTP response, with the body decoded when it is WBXML.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_wbxml(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with("application/vnd.ms-sync.wbxml"))
            && !self.body.is_empty()
    }

    /// The decoded WBXML body.
    pub fn tree(&self) -> Result<Element, ClientError> {
        wbxml::decode(&self.body).map_err(ClientError::Wbxml)
    }
}

/// A simulated phone: one account on one server with one DeviceId.
pub struct Device {
    pub conn: Connection,
    pub user: String,
    pub password: String,
    pub device_id: String,
    pub device_type: String,
    pub user_agent: String,
    pub version: ProtocolVersion,
    pub policy_key: Option<u32>,
    /// Send the base64 query form instead of the plain one.
    pub base64_query: bool,
}

impl Device {
    pub fn new(target: Target, user: &str, password: &str, device_id: &str) -> Device {
        Device {
            conn: Connection::new(target),
            user: user.to_string(),
            password: password.to_string(),
            device_id: device_id.to_string(),
            device_type: "easdTest".to_string(),
            user_agent: "easd-client/1.0".to_string(),
            version: ProtocolVersion::V14_1,
            policy_key: None,
            base64_query: false,
        }
    }

    pub fn query(&self, cmd: Command) -> EasQuery {
        let mut q = EasQuery::new(cmd, &self.user, &self.device_id, &self.device_type);
        q.policy_key = self.policy_key;
        q
    }

    /// Sends a command with a WBXML body (or none).
    pub async fn command(
        &mut self,
        cmd: Command,
        body: Option<&Element>,
    ) -> Result<Reply, ClientError> {
        let q = self.query(cmd);
        let body = body.map(wbxml::encode).unwrap_or_default();
        self.post(&q, "application/vnd.ms-sync.wbxml", body).await
    }

    /// Sends a command and returns the decoded WBXML answer, failing on any other HTTP status.
    pub async fn call(&mut self, cmd: Command, body: &Element) -> Result<Element, ClientError> {
        let reply = self.command(cmd, Some(body)).await?;
        if reply.status != 200 || !reply.is_wbxml() {
            return Err(ClientError::Http(format!(
                "{cmd}: HTTP {} ({} body bytes)",
                reply.status,
                reply.body.len()
            )));
        }
        reply.tree()
    }

    /// A POST with an arbitrary query and body, for commands like SendMail in 12.x form.
    pub async fn post(
        &mut self,
        q: &EasQuery,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        let path = if self.base64_query {
            format!("/Microsoft-Server-ActiveSync?{}", q.to_base64(self.version))
        } else {
            format!("/Microsoft-Server-ActiveSync?{}", q.to_plain())
        };
        let mut headers = vec![
            ("Authorization".to_string(), self.authorization()),
            ("User-Agent".to_string(), self.user_agent.clone()),
            ("Content-Type".to_string(), content_type.to_string()),
        ];
        if !self.base64_query {
            headers.push(("MS-ASProtocolVersion".to_string(), self.version.to_string()));
            if let Some(k) = self.policy_key {
                headers.push(("X-MS-PolicyKey".to_string(), k.to_string()));
            }
        }
        self.conn.request("POST", &path, &headers, body).await
    }

    pub async fn options(&mut self) -> Result<Reply, ClientError> {
        let headers = vec![("Authorization".to_string(), self.authorization())];
        self.conn
            .request(
                "OPTIONS",
                "/Microsoft-Server-ActiveSync",
                &headers,
                Vec::new(),
            )
            .await
    }

    pub fn authorization(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}
