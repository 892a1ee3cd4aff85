//! Email2 ConversationId and ConversationIndex (MS-ASEMAIL 2.2.2.21/2.2.2.22, MS-ASCON 2.2.2.4)
//! for messages that never passed through Exchange.
//!
//! ConversationId: 16 bytes, the FNV-1a 128-bit hash of the thread root's key. The root is the
//! first References entry, else the first In-Reply-To entry, else the message's own Message-ID
//! (so a thread's first message and its replies agree), else the base subject (Re:/Fwd: removed,
//! lower-cased), else the start of the raw message. Message IDs are hashed without angle
//! brackets, subjects with a `subject:` prefix so the two kinds never collide. FNV is used because
//! it is stable across builds and platforms, which std's hasher is not; it is not a security
//! boundary.
//!
//! ConversationIndex: the 5-byte Conversation Index Header only — the top 40 bits of the
//! FILETIME of the message's Date (delivery time if it has none), big-endian. Response levels are
//! left out: their times are not known for mail from other systems.

use super::parsed::Parsed;

const FNV_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// Seconds from 1601-01-01 (FILETIME epoch) to 1970-01-01.
const FILETIME_UNIX_OFFSET: i64 = 11_644_473_600;

/// Bytes of a message without thread headers that identify it for hashing.
const RAW_KEY_LEN: usize = 4096;

pub fn conversation_id(parsed: &Parsed<'_>) -> [u8; 16] {
    let references = parsed.references();
    let in_reply_to = parsed.in_reply_to();
    let root_id = references
        .first()
        .or(in_reply_to.first())
        .copied()
        .or_else(|| parsed.message_id())
        .map(|id| id.trim().trim_matches(['<', '>']))
        .filter(|id| !id.is_empty());
    let hash = match root_id {
        Some(id) => fnv1a(id.as_bytes()),
        None => match parsed.message().and_then(|m| m.thread_name()) {
            Some(topic) if !topic.trim().is_empty() => {
                fnv1a(format!("subject:{}", topic.trim().to_lowercase()).as_bytes())
            }
            _ => {
                let raw = parsed.raw();
                fnv1a(raw.get(..RAW_KEY_LEN).unwrap_or(raw))
            }
        },
    };
    hash.to_be_bytes()
}

pub fn conversation_index(sent: i64) -> [u8; 5] {
    let ticks =
        (sent.saturating_add(FILETIME_UNIX_OFFSET).max(0) as u64).saturating_mul(10_000_000);
    let [_, _, _, b0, b1, b2, b3, b4] = (ticks >> 24).to_be_bytes();
    [b0, b1, b2, b3, b4]
}

fn fnv1a(data: &[u8]) -> u128 {
    data.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u128::from(b)).wrapping_mul(FNV_PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> [u8; 16] {
        conversation_id(&Parsed::new(raw.as_bytes()))
    }

    #[test]
    fn thread_members_share_an_id() {
        let root = id("Message-ID: <root@x>\r\nSubject: Plans\r\n\r\nx");
        let reply =
            id("Message-ID: <r1@x>\r\nIn-Reply-To: <root@x>\r\nSubject: Re: Plans\r\n\r\nx");
        let deep = id("Message-ID: <r2@x>\r\nIn-Reply-To: <r1@x>\r\n\
                       References: <root@x> <r1@x>\r\nSubject: Re: Re: Plans\r\n\r\nx");
        assert_eq!(root, reply);
        assert_eq!(root, deep);
        assert_ne!(root, id("Message-ID: <other@x>\r\nSubject: Plans\r\n\r\nx"));
    }

    #[test]
    fn subject_and_raw_fallbacks() {
        assert_eq!(
            id("Subject: Re: Lunch\r\n\r\na"),
            id("Subject: lunch\r\n\r\nb")
        );
        assert_ne!(id("X: 1\r\n\r\na"), id("X: 2\r\n\r\na"));
        assert_eq!(id("X: 1\r\n\r\na"), id("X: 1\r\n\r\na"));
    }

    #[test]
    fn known_fnv_vector() {
        assert_eq!(fnv1a(b""), FNV_OFFSET);
        assert_eq!(fnv1a(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }

    #[test]
    fn index_is_filetime_prefix() {
        // 2009-11-12T00:45:06Z is FILETIME 0x01CA6331_60AD5500; the header is its top five bytes.
        assert_eq!(
            conversation_index(1_257_986_706),
            [0x01, 0xca, 0x63, 0x31, 0x60]
        );
        assert_eq!(conversation_index(i64::MIN), [0; 5]);
    }
}
