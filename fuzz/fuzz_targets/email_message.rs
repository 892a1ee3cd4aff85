//! MIME → EAS Email: a raw message becomes `ApplicationData` under options taken from the first
//! input bytes (protocol version, BodyPreferences, MIMESupport, 2.5 truncation), and each listed
//! attachment is fetched by index. Must never panic, and the result must encode as WBXML.

#![no_main]

use easd::ProtocolVersion;
use easd::items::email::{
    EmailOptions, MessageMeta, MimeSupport, attachment, mime_truncation_limit, to_application_data,
    truncation_limit,
};
use easd::items::{BodyPreference, BodyType};
use libfuzzer_sys::fuzz_target;

const HEADER: usize = 8;

fn options(h: &[u8; HEADER]) -> EmailOptions {
    let versions = ProtocolVersion::ALL;
    let mut opts = EmailOptions::new(versions[h[0] as usize % versions.len()]);
    opts.mime_support = MimeSupport::try_from(h[1] % 3).unwrap_or_default();
    opts.truncation = truncation_limit(h[2] % 10).ok().flatten();
    opts.mime_truncation = mime_truncation_limit(h[3] % 9).ok().flatten();
    let types = [
        BodyType::PlainText,
        BodyType::Html,
        BodyType::Rtf,
        BodyType::Mime,
    ];
    for (i, &b) in h[4..].iter().enumerate().take((h[2] >> 4) as usize % 5) {
        opts.body_preferences.push(BodyPreference {
            body_type: types[(b & 3) as usize],
            truncation_size: (b & 4 != 0).then_some(u32::from(b) * (i as u32 + 1) * 7),
            all_or_none: b & 8 != 0,
            preview: (b & 16 != 0).then_some(u32::from(b >> 5) * 40),
        });
    }
    opts
}

fuzz_target!(|data: &[u8]| {
    let Some((head, raw)) = data.split_first_chunk::<HEADER>() else {
        return;
    };
    let meta = MessageMeta {
        read: head[1] & 0x10 != 0,
        flagged: head[1] & 0x20 != 0,
        draft: head[1] & 0x40 != 0,
        received: i64::from(head[3]) * 86_400,
        file_ref_base: "7:42".into(),
        ..MessageMeta::default()
    };
    let app = to_application_data(raw, &meta, &options(head));
    let _ = easd::wbxml::encode(&app);
    for index in 0..4 {
        let _ = attachment(raw, index);
    }
});
