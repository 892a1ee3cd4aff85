//! Built-in ACME (RFC 8555): with `[acme] enabled`, easd orders its certificate itself, proves control
//! of the names with TLS-ALPN-01 on its own TLS listener (no port 80, no web server), keeps the result
//! in `<data_dir>/acme` and renews it when two thirds of its lifetime have passed.
//!
//! The protocol work is rustls-acme's (runtime-agnostic, ring, no tokio); this module configures it,
//! supplies the cache and runs its event stream on easd's executor.

pub mod cache;
pub mod settings;

pub use settings::AcmeSettings;

use crate::config::Config;
use rustls_acme::{EventOk, ResolvesServerCertAcme};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use smol::Executor;
use smol::stream::StreamExt;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Where the certificate and account are kept.
pub fn cache_dir(config: &Config) -> PathBuf {
    config.server.data_dir.join("acme")
}

/// The cached certificate file (private key and chain, PEM), once one was obtained.
pub fn certificate_path(config: &Config) -> PathBuf {
    cache_dir(config).join(cache::CERTIFICATE)
}

#[derive(Debug)]
pub enum AcmeError {
    /// No CA to trust for the directory's HTTPS.
    NoRoots(String),
    DirectoryCa(PathBuf, String),
}

impl fmt::Display for AcmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcmeError::NoRoots(m) => write!(f, "ACME: no trusted CAs to reach the directory: {m}"),
            AcmeError::DirectoryCa(p, m) => write!(f, "acme.directory_ca {}: {m}", p.display()),
        }
    }
}

impl std::error::Error for AcmeError {}

/// Starts ordering (or loading) the certificate in the background and returns the resolver the TLS
/// listener must use: it serves the certificate once there is one and answers acme-tls/1 challenges.
pub fn start(
    config: &Config,
    ex: &Executor<'static>,
) -> Result<Arc<ResolvesServerCertAcme>, AcmeError> {
    let acme = &config.acme;
    let domains = acme.domains(config);
    let client = client_config(acme.directory_ca.as_deref())?;
    let mut state = rustls_acme::AcmeConfig::new_with_client_config(domains.clone(), client)
        .contact(acme.contact.iter())
        .directory(&acme.directory_url)
        .cache(cache::FileCache::new(cache_dir(config)))
        .state();
    let resolver = state.resolver();
    let names = domains.join(", ");
    log::info!("acme: certificate for {names} from {}", acme.directory_url);
    ex.spawn(async move {
        while let Some(event) = state.next().await {
            match event {
                Ok(EventOk::DeployedNewCert) => {
                    log::info!("acme: new certificate for {names} in service")
                }
                Ok(EventOk::DeployedCachedCert) => {
                    log::info!("acme: cached certificate for {names} in service")
                }
                Ok(other) => log::debug!("acme: {other:?}"),
                // rustls-acme retries with a growing back-off; the old certificate stays in service.
                Err(e) => log::error!("acme: {e}"),
            }
        }
    })
    .detach();
    Ok(resolver)
}

/// The system's CAs, plus the configured one for a test directory.
fn client_config(
    extra_ca: Option<&Path>,
) -> Result<Arc<futures_rustls::rustls::ClientConfig>, AcmeError> {
    use futures_rustls::rustls::{self, ClientConfig, RootCertStore};
    let mut roots = RootCertStore::empty();
    if let Ok(certs) = CertificateDer::pem_file_iter(crate::doctor::cert::SYSTEM_ROOTS) {
        for c in certs.flatten() {
            let _ = roots.add(c);
        }
    }
    if let Some(path) = extra_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| AcmeError::DirectoryCa(path.to_path_buf(), e.to_string()))?;
        for c in certs {
            roots
                .add(c)
                .map_err(|e| AcmeError::DirectoryCa(path.to_path_buf(), e.to_string()))?;
        }
    }
    if roots.is_empty() {
        return Err(AcmeError::NoRoots(format!(
            "{} is missing (apt-get install ca-certificates)",
            crate::doctor::cert::SYSTEM_ROOTS
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::NoRoots(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
