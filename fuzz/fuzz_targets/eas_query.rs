//! The request URI's query value in both MS-ASHTTP forms. Arbitrary text goes to the parser as it
//! comes (the plain form, or base64 when it has no `Cmd=`), and the same bytes base64-encoded go
//! in as a binary base64 query. Whatever parses must survive our own encoders.

#![no_main]

use base64::Engine;
use easd::eas::EasQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(q) = EasQuery::parse(&text) {
        // The plain form carries everything but the base64-only fields, which parse leaves unset.
        if q.version.is_none() {
            assert_eq!(EasQuery::parse(&q.to_plain()), Ok(q));
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    if let Ok(q) = EasQuery::parse(&b64) {
        let version = q.version.expect("the base64 form always carries a version");
        let again = EasQuery::parse(&q.to_base64(version)).expect("re-encoded query parses");
        assert_eq!(
            (again.cmd, &again.device_id, &again.device_type),
            (q.cmd, &q.device_id, &q.device_type)
        );
    }
});
