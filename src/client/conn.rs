//! One keep-alive HTTP/1.1 connection (plain or TLS) that reconnects when the server closes it.

use super::{ClientError, Reply};
use futures_rustls::rustls::{self, ClientConfig};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use rustls_pki_types::ServerName;
use smol::net::TcpStream;
use smol_hyper::rt::FuturesIo;
use std::sync::Arc;

/// Where to connect, and how.
#[derive(Clone)]
pub struct Target {
    pub addr: String,
    pub host: String,
    pub tls: Option<Arc<ClientConfig>>,
}

impl Target {
    pub fn http(addr: impl Into<String>) -> Target {
        let addr = addr.into();
        let host = addr
            .rsplit_once(':')
            .map_or(addr.clone(), |(h, _)| h.to_string());
        Target {
            addr,
            host,
            tls: None,
        }
    }

    /// Parses `http://host:port` or `https://host:port` (path ignored). With `insecure`, any
    /// certificate is accepted: for loopback tests and benchmarks against self-signed servers.
    pub fn from_url(url: &str, insecure: bool) -> Result<Target, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{url}: not an http:// or https:// URL"));
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.to_string()),
            _ => (
                authority.to_string(),
                if tls { "443" } else { "80" }.to_string(),
            ),
        };
        let tls = match tls {
            true => Some(Arc::new(client_config(insecure)?)),
            false => None,
        };
        Ok(Target {
            addr: format!("{host}:{port}"),
            host: host.trim_matches(['[', ']']).to_string(),
            tls,
        })
    }
}

fn client_config(insecure: bool) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client: {e}"))?;
    Ok(if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        for path in ["/etc/ssl/certs/ca-certificates.crt"] {
            if let Ok(certs) = rustls_pki_types::CertificateDer::pem_file_iter(path) {
                for cert in certs.flatten() {
                    let _ = roots.add(cert);
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    })
}

use rustls_pki_types::pem::PemObject;

/// Accepts any server certificate (signatures are still checked, names and chains are not).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<bytes::Bytes>>>,
}

impl Connection {
    pub fn new(target: Target) -> Connection {
        Connection {
            target,
            sender: None,
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Drops the connection, as a phone does when it gives up on a request.
    pub fn close(&mut self) {
        self.sender = None;
    }

    async fn connect(&self) -> Result<SendRequest<Full<bytes::Bytes>>, ClientError> {
        let tcp = TcpStream::connect(&self.target.addr)
            .await
            .map_err(ClientError::Connect)?;
        let _ = tcp.set_nodelay(true);
        match &self.target.tls {
            None => handshake(tcp).await,
            Some(config) => {
                let name = ServerName::try_from(self.target.host.clone())
                    .map_err(|e| ClientError::Http(format!("bad TLS name: {e}")))?;
                let tls = futures_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(ClientError::Connect)?;
                handshake(tls).await
            }
        }
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Reply, ClientError> {
        // A kept-alive connection the server has since closed fails on first use: retry once fresh.
        for attempt in 0..2 {
            let reusable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
            if !reusable {
                self.sender = Some(self.connect().await?);
            }
            let Some(sender) = self.sender.as_mut() else {
                continue;
            };
            let mut req = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("Host", &self.target.host);
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let req = req
                .body(Full::new(bytes::Bytes::from(body.clone())))
                .map_err(|e| ClientError::Http(e.to_string()))?;
            match sender.send_request(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map_err(|e| ClientError::Http(e.to_string()))?
                        .to_bytes();
                    return Ok(Reply {
                        status: parts.status.as_u16(),
                        headers: parts.headers,
                        body,
                    });
                }
                Err(e) if attempt == 0 && reusable && e.is_canceled() || e.is_closed() => {
                    self.sender = None;
                }
                Err(e) => return Err(ClientError::Http(e.to_string())),
            }
        }
        Err(ClientError::Http("connection closed".into()))
    }
}

async fn handshake<S>(io: S) -> Result<SendRequest<Full<bytes::Bytes>>, ClientError>
where
    S: smol::io::AsyncRead + smol::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(FuturesIo::new(io))
        .await
        .map_err(|e| ClientError::Http(e.to_string()))?;
    smol::spawn(async move {
        let _ = conn.await;
    })
    .detach();
    Ok(sender)
}
