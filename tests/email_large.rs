//! A message with a 25 MB attachment, generated here (not committed): converting it for Sync
//! holds at most one decoded copy of the attachment and sends none of it; fetching it returns the
//! exact bytes without copying the decoded buffer again. Peak heap use is measured with a
//! counting allocator, so this binary has exactly one test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use easd::ProtocolVersion;
use easd::items::email::{EmailOptions, MessageMeta, attachment, to_application_data};
use easd::items::{BodyPreference, BodyType};
use easd::wbxml::encode;
use easd::wbxml::tags::airsyncbase;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes allocated at the peak of `f`, above what was live before it.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

const SIZE: usize = 25 * 1024 * 1024;

fn payload() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..SIZE)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

fn message(data: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let mut raw = Vec::with_capacity(encoded.len() * 78 / 76 + 1024);
    raw.extend_from_slice(
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\n\
          Content-Type: multipart/mixed; boundary=b\r\n\r\n\
          --b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n\
          --b\r\nContent-Type: application/octet-stream; name=big.bin\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    for line in encoded.as_bytes().chunks(76) {
        raw.extend_from_slice(line);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}

#[test]
fn large_attachment_is_not_copied_needlessly() {
    let data = payload();
    let raw = message(&data);
    let opts = EmailOptions {
        body_preferences: vec![BodyPreference {
            truncation_size: Some(32 * 1024),
            ..BodyPreference::whole(BodyType::Html)
        }],
        ..EmailOptions::new(ProtocolVersion::V14_1)
    };
    let meta = MessageMeta {
        file_ref_base: "big".into(),
        ..MessageMeta::default()
    };

    let (app, peak) = peak_during(|| to_application_data(&raw, &meta, &opts));
    assert!(
        peak < SIZE + SIZE / 4,
        "Sync conversion peaked at {peak} bytes for a {SIZE}-byte attachment"
    );
    let att = app
        .first(airsyncbase::ATTACHMENTS)
        .and_then(|a| a.first(airsyncbase::ATTACHMENT))
        .unwrap();
    assert_eq!(
        att.child_text(airsyncbase::ESTIMATED_DATA_SIZE),
        Some(SIZE.to_string().as_str())
    );
    assert!(
        encode(&app).len() < 4096,
        "attachment data leaked into Sync"
    );
    drop(app);

    let (fetched, peak) = peak_during(|| attachment(&raw, 0).unwrap());
    assert!(
        peak < SIZE + SIZE / 4,
        "fetch peaked at {peak} bytes for a {SIZE}-byte attachment"
    );
    assert_eq!(fetched.name, "big.bin");
    assert!(fetched.data == data, "fetched bytes differ");
}
