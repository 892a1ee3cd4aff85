//! ValidateCert (MS-ASCMD 2.2.1.22): a phone that received an S/MIME message asks whether the
//! sender's certificate chains to a CA the box trusts and may sign mail. Each certificate is checked
//! with webpki against the system trust store (`/etc/ssl/certs`), with the intermediates the phone
//! sent, for the emailProtection purpose, and gets its own status.
//!
//! Revocation lists are not fetched (a small box may have no route to every CA's CRL server): with
//! CheckCRL set, a certificate that is otherwise valid is answered "revocation status cannot be
//! determined", as the spec requires when the status cannot be verified.

use super::fields::{self, ParseError, status_element, status_enum};
use super::{Reply, Request};
use crate::app::App;
use crate::wbxml::Element;
use crate::wbxml::tags::validatecert as vc;
use base64::Engine;
use futures_rustls::rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::path::Path;
use std::sync::Arc;

status_enum!(
    /// ValidateCert Status (MS-ASCMD 2.2.3.177.18), for the command and for each certificate.
    CertStatus {
        Success = 1,
        ProtocolError = 2,
        InvalidSignature = 3,
        UntrustedSource = 4,
        InvalidChain = 5,
        NotForEmail = 6,
        Expired = 7,
        InconsistentTimes = 8,
        ImproperUsage = 9,
        MissingInformation = 10,
        IncorrectRole = 11,
        AddressMismatch = 12,
        Revoked = 13,
        RevocationServerUnreachable = 14,
        ChainRevoked = 15,
        RevocationUnknown = 16,
        ServerError = 17,
    }
);

/// DER certificates as the request carries them (base64 text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidateCertRequest {
    /// Intermediates the client offers for building chains.
    pub chain: Vec<Vec<u8>>,
    pub certificates: Vec<Vec<u8>>,
    pub check_crl: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidateCertResponse {
    pub status: CertStatus,
    /// One status per requested certificate, in request order.
    pub certificates: Vec<CertStatus>,
}

fn certs(el: Option<&Element>) -> Result<Vec<Vec<u8>>, ParseError> {
    let Some(el) = el else {
        return Ok(Vec::new());
    };
    el.all(vc::CERTIFICATE)
        .map(|c| {
            let text: String = c
                .text_content()
                .unwrap_or("")
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| ParseError::BadValue(vc::CERTIFICATE))
        })
        .collect()
}

fn encode_certs(tag: crate::wbxml::Tag, list: &[Vec<u8>]) -> Element {
    let mut el = Element::new(tag);
    for c in list {
        el.push_text(
            vc::CERTIFICATE,
            base64::engine::general_purpose::STANDARD.encode(c),
        );
    }
    el
}

impl ValidateCertRequest {
    pub fn parse(el: &Element) -> Result<ValidateCertRequest, ParseError> {
        let el = fields::root(el, vc::VALIDATE_CERT)?;
        let certificates = certs(el.first(vc::CERTIFICATES))?;
        if certificates.is_empty() {
            return Err(ParseError::Missing(vc::CERTIFICATES));
        }
        Ok(ValidateCertRequest {
            chain: certs(el.first(vc::CERTIFICATE_CHAIN))?,
            certificates,
            check_crl: fields::opt_flag(el, vc::CHECK_CRL)?.unwrap_or(false),
        })
    }

    pub fn encode(&self) -> Element {
        let mut el = Element::new(vc::VALIDATE_CERT);
        if !self.chain.is_empty() {
            el.push(encode_certs(vc::CERTIFICATE_CHAIN, &self.chain));
        }
        el.push(encode_certs(vc::CERTIFICATES, &self.certificates));
        if self.check_crl {
            el.push_text(vc::CHECK_CRL, "1");
        }
        el
    }
}

impl ValidateCertResponse {
    pub fn encode(&self) -> Element {
        let mut el = Element::new(vc::VALIDATE_CERT).with(status_element(vc::STATUS, self.status));
        for s in &self.certificates {
            el.push(Element::new(vc::CERTIFICATE).with(status_element(vc::STATUS, *s)));
        }
        el
    }

    pub fn parse(el: &Element) -> Result<ValidateCertResponse, ParseError> {
        let el = fields::root(el, vc::VALIDATE_CERT)?;
        Ok(ValidateCertResponse {
            status: fields::status(el, vc::STATUS)?,
            certificates: el
                .all(vc::CERTIFICATE)
                .map(|c| fields::status(c, vc::STATUS))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// 1.3.6.1.5.5.7.3.4, id-kp-emailProtection, as webpki wants it (the OID's DER value).
const EKU_EMAIL_PROTECTION: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x04];

/// The CAs of a PEM bundle; an unreadable bundle trusts nothing.
pub fn load_roots(bundle: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    if let Ok(certs) = CertificateDer::pem_file_iter(bundle) {
        for c in certs.flatten() {
            let _ = roots.add(c);
        }
    }
    roots
}

/// Checks every certificate of the request at `now`.
pub fn validate(
    req: &ValidateCertRequest,
    roots: &RootCertStore,
    now: UnixTime,
) -> ValidateCertResponse {
    let provider = futures_rustls::rustls::crypto::ring::default_provider();
    let algs = provider.signature_verification_algorithms.all;
    let chain: Vec<CertificateDer<'_>> = req
        .chain
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let certificates = req
        .certificates
        .iter()
        .map(|der| {
            let der = CertificateDer::from(der.as_slice());
            let status = match webpki::EndEntityCert::try_from(&der) {
                Err(e) => status_of(&e),
                Ok(ee) => match ee.verify_for_usage(
                    algs,
                    &roots.roots,
                    &chain,
                    now,
                    // RFC 5280: a certificate without the extension may serve any purpose; issuers usually
                    // carry none, so the purpose is required only where one is stated.
                    webpki::KeyUsage::required_if_present(EKU_EMAIL_PROTECTION),
                    None,
                    None,
                ) {
                    Ok(_) => CertStatus::Success,
                    Err(e) => status_of(&e),
                },
            };
            match status {
                CertStatus::Success if req.check_crl => CertStatus::RevocationUnknown,
                s => s,
            }
        })
        .collect();
    ValidateCertResponse {
        status: CertStatus::Success,
        certificates,
    }
}

fn status_of(e: &webpki::Error) -> CertStatus {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer | E::CertDistrusted => CertStatus::UntrustedSource,
        E::CertExpired { .. } | E::CertNotValidYet { .. } | E::InvalidCertValidity => {
            CertStatus::Expired
        }
        E::InvalidSignatureForPublicKey
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => CertStatus::InvalidSignature,
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => CertStatus::NotForEmail,
        E::CaUsedAsEndEntity | E::EndEntityUsedAsCa | E::PathLenConstraintViolated => {
            CertStatus::IncorrectRole
        }
        E::CertRevoked => CertStatus::Revoked,
        E::UnknownRevocationStatus => CertStatus::RevocationUnknown,
        E::NameConstraintViolation => CertStatus::ImproperUsage,
        _ => CertStatus::InvalidChain,
    }
}

pub async fn handle(_app: Arc<App>, req: Arc<Request>) -> Reply {
    let parsed = match req.tree.as_ref().map(ValidateCertRequest::parse) {
        Some(Ok(p)) => p,
        Some(Err(e)) => {
            log::info!("{} [{}] ValidateCert: {e}", req.query.device_id, req.user);
            let resp = ValidateCertResponse {
                status: CertStatus::ProtocolError,
                certificates: Vec::new(),
            };
            return Reply::Wbxml(resp.encode());
        }
        None => return Reply::Status(400),
    };
    // Reading the CA bundle and checking signatures is blocking work.
    let resp = crate::work::unblock(move || {
        let roots = load_roots(Path::new(crate::doctor::cert::SYSTEM_ROOTS));
        validate(&parsed, &roots, UnixTime::now())
    })
    .await;
    Reply::Wbxml(resp.encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eas::fields::StatusCode;

    fn data(name: &str) -> Vec<u8> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/validatecert/");
        std::fs::read(format!("{dir}{name}")).unwrap()
    }

    fn roots() -> RootCertStore {
        load_roots(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/validatecert/root.pem"
        )))
    }

    /// 2027-06-01, inside the test certificates' ten years.
    fn mid_life() -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_811_808_000))
    }

    fn check(certs: &[&str], chain: &[&str], check_crl: bool, now: UnixTime) -> Vec<CertStatus> {
        let req = ValidateCertRequest {
            chain: chain.iter().map(|c| data(c)).collect(),
            certificates: certs.iter().map(|c| data(c)).collect(),
            check_crl,
        };
        let resp = validate(&req, &roots(), now);
        assert_eq!(resp.status, CertStatus::Success);
        resp.certificates
    }

    #[test]
    fn status_per_certificate() {
        use CertStatus::*;
        assert_eq!(
            check(
                &["smime.der", "server.der", "self.der"],
                &["inter.der"],
                false,
                mid_life()
            ),
            [Success, NotForEmail, UntrustedSource]
        );
        // Without the intermediate the chain cannot be built.
        assert_eq!(
            check(&["smime.der"], &[], false, mid_life()),
            [UntrustedSource]
        );
        assert_eq!(
            check(&["smime.der"], &["inter.der"], true, mid_life()),
            [RevocationUnknown]
        );
        let later = UnixTime::since_unix_epoch(std::time::Duration::from_secs(2_500_000_000));
        assert_eq!(
            check(&["smime.der"], &["inter.der"], false, later),
            [Expired]
        );
        assert_eq!(
            check(&["inter.der"], &[], false, mid_life()),
            [IncorrectRole]
        );
        let garbage = ValidateCertRequest {
            chain: Vec::new(),
            certificates: vec![b"not a certificate".to_vec()],
            check_crl: false,
        };
        assert_eq!(
            validate(&garbage, &roots(), mid_life()).certificates,
            [InvalidChain]
        );
    }

    #[test]
    fn both_directions() {
        let req = ValidateCertRequest {
            chain: vec![data("inter.der")],
            certificates: vec![data("smime.der"), data("self.der")],
            check_crl: true,
        };
        assert_eq!(ValidateCertRequest::parse(&req.encode()), Ok(req));
        let resp = ValidateCertResponse {
            status: CertStatus::Success,
            certificates: vec![CertStatus::Success, CertStatus::Expired],
        };
        assert_eq!(ValidateCertResponse::parse(&resp.encode()), Ok(resp));
        for code in 1..=17 {
            assert_eq!(
                CertStatus::from_code(code).map(StatusCode::code),
                Some(code)
            );
        }
    }

    #[test]
    fn malformed_requests() {
        let no_certs = Element::new(vc::VALIDATE_CERT);
        assert_eq!(
            ValidateCertRequest::parse(&no_certs),
            Err(ParseError::Missing(vc::CERTIFICATES))
        );
        let bad = Element::new(vc::VALIDATE_CERT)
            .with(Element::new(vc::CERTIFICATES).with_text(vc::CERTIFICATE, "***"));
        assert_eq!(
            ValidateCertRequest::parse(&bad),
            Err(ParseError::BadValue(vc::CERTIFICATE))
        );
    }
}
