//! Decodes arbitrary bytes; whatever decodes must survive encode -> decode unchanged.

#![no_main]

use easd::wbxml::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = decode(data) {
        assert_eq!(decode(&encode(&tree)), Ok(tree));
    }
});
