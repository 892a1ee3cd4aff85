//! Notification datagrams, with and without a shared secret; whatever parses must format and parse
//! back to the same notification.

#![no_main]

use easd::push::datagram::Notification;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "s3cret";

fuzz_target!(|data: &[u8]| {
    for secret in [None, Some(SECRET)] {
        if let Ok(n) = Notification::parse(data, secret) {
            let line = n.format(secret);
            assert_eq!(Notification::parse(line.as_bytes(), secret), Ok(n));
        }
    }
});
