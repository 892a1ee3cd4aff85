//! TLS towards the smarthost: rustls with the ring provider, trusting the system's CA bundle
//! plus an optional extra CA file, or (when the admin says so) any certificate at all.

use super::config::{CertTrust, SmtpConfig};
use super::session::timed;
use super::smtp::{SmtpError, Stage, Transient};
use futures_rustls::TlsConnector;
use futures_rustls::client::TlsStream;
use futures_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use futures_rustls::rustls::crypto::{
    WebPkiSupportedAlgorithms, ring, verify_tls12_signature, verify_tls13_signature,
};
use futures_rustls::rustls::{
    self, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use smol::io::{AsyncRead, AsyncWrite};
use std::path::Path;
use std::sync::Arc;

/// Where Debian, Ubuntu, Alpine and Arch keep the system's trusted CAs.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn setup(detail: String) -> SmtpError {
    SmtpError::Transient(Transient::Setup(detail))
}

/// Runs the client handshake on `stream`.
pub async fn handshake<S>(
    cfg: &SmtpConfig,
    stream: S,
    stage: Stage,
) -> Result<TlsStream<S>, SmtpError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = client_config(&cfg.trust)?;
    let name = ServerName::try_from(cfg.host.clone())
        .map_err(|e| setup(format!("{:?} as TLS server name: {e}", cfg.host)))?;
    let connector = TlsConnector::from(config);
    timed(cfg.timeout, stage, connector.connect(name, stream))
        .await
        .map_err(|e| match e {
            SmtpError::Transient(Transient::Io { error, .. }) => {
                SmtpError::Transient(Transient::Tls(error.to_string()))
            }
            other => other,
        })
}

fn client_config(trust: &CertTrust) -> Result<Arc<ClientConfig>, SmtpError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| setup(format!("TLS configuration: {e}")))?;
    let config = match trust {
        CertTrust::Verify { extra_ca } => builder
            .with_root_certificates(roots(extra_ca.as_deref())?)
            .with_no_client_auth(),
        CertTrust::AcceptInvalid => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn roots(extra_ca: Option<&Path>) -> Result<RootCertStore, SmtpError> {
    let mut store = RootCertStore::empty();
    match CertificateDer::pem_file_iter(SYSTEM_BUNDLE) {
        Ok(certs) => {
            store.add_parsable_certificates(certs.filter_map(Result::ok));
        }
        Err(e) if extra_ca.is_none() => {
            return Err(setup(format!("system CA bundle {SYSTEM_BUNDLE}: {e}")));
        }
        Err(_) => {}
    }
    if let Some(path) = extra_ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| setup(format!("CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(setup(format!(
                "CA file {}: no certificate in it",
                path.display()
            )));
        }
        for cert in certs {
            store
                .add(cert)
                .map_err(|e| setup(format!("CA file {}: {e}", path.display())))?;
        }
    }
    Ok(store)
}

/// Believes every certificate but still checks the handshake signatures, so the session is at
/// least encrypted to whoever holds the key of the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn missing_extra_ca_is_a_setup_error() {
        let err = client_config(&CertTrust::Verify {
            extra_ca: Some(PathBuf::from("/nonexistent/ca.pem")),
        })
        .unwrap_err();
        assert!(
            matches!(err, SmtpError::Transient(Transient::Setup(_))),
            "{err}"
        );
    }

    #[test]
    fn accept_invalid_builds() {
        assert!(client_config(&CertTrust::AcceptInvalid).is_ok());
    }
}
