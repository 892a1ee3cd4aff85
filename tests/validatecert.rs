//! ValidateCert through a real server: the system trust store does not know the test CA, so a
//! well-formed chain is "untrusted source"; a request without certificates is a protocol error.

mod common;

use common::{Server, run};
use easd::eas::Command;
use easd::eas::validatecert::{CertStatus, ValidateCertRequest, ValidateCertResponse};
use easd::wbxml::Element;
use easd::wbxml::tags::validatecert as vc;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/validatecert/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn validatecert_end_to_end() {
    let server = Server::start();
    let mut phone = server.device("alice@example.com", "vc1");
    let commands = run(phone.options()).unwrap();
    assert!(
        commands
            .header("ms-asprotocolcommands")
            .unwrap()
            .contains("ValidateCert")
    );

    let req = ValidateCertRequest {
        chain: vec![data("inter.der")],
        certificates: vec![data("smime.der"), b"junk".to_vec()],
        check_crl: false,
    };
    let tree = run(phone.call(Command::ValidateCert, &req.encode())).unwrap();
    let resp = ValidateCertResponse::parse(&tree).unwrap();
    assert_eq!(resp.status, CertStatus::Success);
    assert_eq!(
        resp.certificates,
        [CertStatus::UntrustedSource, CertStatus::InvalidChain]
    );

    let empty = Element::new(vc::VALIDATE_CERT);
    let tree = run(phone.call(Command::ValidateCert, &empty)).unwrap();
    let resp = ValidateCertResponse::parse(&tree).unwrap();
    assert_eq!(resp.status, CertStatus::ProtocolError);
    assert!(resp.certificates.is_empty());
}
