//! 16.x drafts: a decoded WBXML tree as a Sync Add/Change `ApplicationData`, merged into an
//! optional stored draft, becomes a message; that message must in turn convert back to EAS.
//! Input: one length byte, that many bytes of WBXML, the rest the stored draft (if any).

#![no_main]

use easd::ProtocolVersion;
use easd::items::email::{
    DraftInput, EmailOptions, MessageMeta, draft_to_mime, to_application_data,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (wbxml, existing) = rest.split_at((len as usize * 4).min(rest.len()));
    let Ok(tree) = easd::wbxml::decode(wbxml) else {
        return;
    };
    let input = DraftInput {
        from: "\"Ann Smith\" <ann@example.org>",
        date: 1_700_000_000,
        existing: (!existing.is_empty()).then_some(existing),
    };
    if let Ok(draft) = draft_to_mime(&tree, &input) {
        let opts = EmailOptions::new(ProtocolVersion::V16_1);
        let _ = to_application_data(&draft.mime, &MessageMeta::default(), &opts);
    }
});
