//! `Authorization` header values: arbitrary bytes, and arbitrary bytes as the base64 payload of a
//! Basic header (UTF-8 or ISO-8859-1 credentials).

#![no_main]

use base64::Engine;
use easd::auth::Credentials;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = Credentials::from_header(data) {
        assert!(!c.username.is_empty());
    }
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(data)
    );
    if let Ok(c) = Credentials::from_header(header.as_bytes()) {
        assert!(!c.username.is_empty() && !c.username.contains(':'));
    }
});
