//! vCard/iCalendar ⇄ EAS Contacts, Calendar, Tasks and Notes. The input is file text, optionally
//! followed by a 0xFF byte and a WBXML `ApplicationData`; the class follows from the text (so the
//! corpus's .vcf and .ics files seed the right one) and the protocol version from its length. The
//! file converts to EAS, the tree merges into the file, and what that writes converts to EAS again.

#![no_main]

use easd::ProtocolVersion;
use easd::items::calendar::{event_from_eas, event_to_eas};
use easd::items::contact::{contact_from_eas, contact_to_eas};
use easd::items::note::{note_from_eas, note_to_eas};
use easd::items::pim::{ConvertOptions, ItemError};
use easd::items::task::{task_from_eas, task_to_eas};
use easd::wbxml::Element;
use libfuzzer_sys::fuzz_target;

type ToEas = fn(&str, &ConvertOptions) -> Result<Element, ItemError>;
type FromEas = fn(&Element, Option<&str>, &ConvertOptions) -> Result<String, ItemError>;

const CLASSES: [(ToEas, FromEas); 4] = [
    (contact_to_eas, contact_from_eas),
    (event_to_eas, event_from_eas),
    (task_to_eas, task_from_eas),
    (note_to_eas, note_from_eas),
];

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0xff).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..split]);
    let class = ["VCARD", "VTODO", "VJOURNAL"]
        .iter()
        .position(|c| text.contains(c))
        .map_or(1, |i| [0, 2, 3][i]);
    let (to_eas, from_eas) = CLASSES[class];
    let versions = ProtocolVersion::ALL;
    let mut opts = ConvertOptions::new(versions[data.len() % versions.len()]);
    opts.user_addresses = vec!["ann@example.org".into()];
    opts.device_utc_offset = (data.len() % 2 == 1).then_some(-600);
    let _ = to_eas(&text, &opts);
    let tree = data
        .get(split + 1..)
        .and_then(|w| easd::wbxml::decode(w).ok());
    if let Some(tree) = tree {
        let existing = (!text.is_empty()).then_some(text.as_ref());
        if let Ok(written) = from_eas(&tree, existing, &opts) {
            let _ = to_eas(&written, &opts);
        }
    }
});
