//! TLS for the HTTPS listeners: rustls with the ring provider, TLS 1.2 and 1.3 only, and either
//! certificate files that can be replaced on SIGHUP without touching established connections (each
//! new handshake picks up the current config), or a resolver that picks the certificate per handshake
//! (built-in ACME, which also answers acme-tls/1 validation handshakes).

use futures_rustls::rustls::server::ResolvesServerCert;
use futures_rustls::rustls::{self, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub enum TlsError {
    Certificate(PathBuf, String),
    Key(PathBuf, String),
    Config(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Certificate(p, e) => write!(f, "certificate {}: {e}", p.display()),
            TlsError::Key(p, e) => write!(f, "private key {}: {e}", p.display()),
            TlsError::Config(e) => write!(f, "TLS configuration: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// Where the certificate comes from.
enum Source {
    Files { cert: PathBuf, key: PathBuf },
    Resolver,
}

/// The current TLS configuration, swappable at run time.
pub struct Tls {
    source: Source,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let config = build(cert, key)?;
        Ok(Tls {
            source: Source::Files {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            },
            current: RwLock::new(config),
        })
    }

    /// TLS whose certificate `resolver` chooses at each handshake. acme-tls/1 is offered beside
    /// http/1.1 so that TLS-ALPN-01 validation handshakes (RFC 8737) can complete.
    pub fn with_resolver(resolver: Arc<dyn ResolvesServerCert>) -> Result<Tls, TlsError> {
        let mut config = builder()?.with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"http/1.1".to_vec(), crate::acme::ACME_TLS_ALPN.to_vec()];
        Ok(Tls {
            source: Source::Resolver,
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Whether the certificate is chosen by a resolver (ACME) rather than read from files.
    pub fn is_managed(&self) -> bool {
        matches!(self.source, Source::Resolver)
    }

    /// Re-reads the files; on error the old certificate stays in service. A resolver needs no reload:
    /// it swaps certificates itself.
    pub fn reload(&self) -> Result<(), TlsError> {
        let Source::Files { cert, key } = &self.source else {
            return Ok(());
        };
        let config = build(cert, key)?;
        if let Ok(mut cur) = self.current.write() {
            *cur = config;
        }
        Ok(())
    }

    pub fn acceptor(&self) -> futures_rustls::TlsAcceptor {
        let config = match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        futures_rustls::TlsAcceptor::from(config)
    }
}

fn build(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| TlsError::Certificate(cert.to_path_buf(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Certificate(
            cert.to_path_buf(),
            "no certificate in file".into(),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key(key.to_path_buf(), e.to_string()))?;
    let mut config = builder()?
        .with_single_cert(certs, key_der)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn builder()
-> Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(TlsError::Config)?
        .with_no_client_auth())
}
