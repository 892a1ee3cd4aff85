//! The request URI's query value, in both MS-ASHTTP forms: plain (`Cmd=Sync&User=..&DeviceId=..`,
//! 2.2.1.1.1.2) and base64 (2.2.1.1.1.1), parsed into one type and encodable back for our own client.

use super::command::Command;
use crate::ProtocolVersion;
use base64::Engine;
use std::fmt;

/// Protocol strings the specs bound to 64 characters (DeviceId is 32 in MS-ASHTTP; we allow 64).
pub type Short = heapless::String<64>;

/// Why a query value was refused (HTTP 400), or names an unknown command (HTTP 501).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    MissingCommand,
    UnknownCommand(String),
    MissingDeviceId,
    MissingDeviceType,
    BadValue(&'static str),
    BadBase64,
    Truncated,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::MissingCommand => f.write_str("no Cmd in the query"),
            QueryError::UnknownCommand(c) => write!(f, "unknown command {c:?}"),
            QueryError::MissingDeviceId => f.write_str("no DeviceId in the query"),
            QueryError::MissingDeviceType => f.write_str("no DeviceType in the query"),
            QueryError::BadValue(k) => write!(f, "bad value for {k}"),
            QueryError::BadBase64 => f.write_str("query is neither plain nor valid base64"),
            QueryError::Truncated => f.write_str("base64 query value is truncated"),
        }
    }
}

impl std::error::Error for QueryError {}

/// Everything the query value carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EasQuery {
    pub cmd: Command,
    pub user: Option<String>,
    pub device_id: Short,
    pub device_type: Short,
    /// Set only by the base64 form; the plain form uses the MS-ASProtocolVersion header.
    pub version: Option<ProtocolVersion>,
    /// Set only by the base64 form; the plain form uses the X-MS-PolicyKey header.
    pub policy_key: Option<u32>,
    pub locale: Option<u16>,
    pub item_id: Option<String>,
    pub collection_id: Option<Short>,
    pub long_id: Option<String>,
    pub attachment_name: Option<String>,
    pub occurrence: Option<String>,
    pub save_in_sent: bool,
    pub accept_multipart: bool,
}

impl EasQuery {
    pub fn new(cmd: Command, user: &str, device_id: &str, device_type: &str) -> EasQuery {
        EasQuery {
            cmd,
            user: Some(user.to_string()),
            device_id: short(device_id),
            device_type: short(device_type),
            version: None,
            policy_key: None,
            locale: None,
            item_id: None,
            collection_id: None,
            long_id: None,
            attachment_name: None,
            occurrence: None,
            save_in_sent: false,
            accept_multipart: false,
        }
    }

    /// Parses either form; which one is told by the presence of `Cmd=`.
    pub fn parse(query: &str) -> Result<EasQuery, QueryError> {
        let is_plain = query.split('&').any(|kv| {
            kv.split_once('=')
                .is_some_and(|(k, _)| k.eq_ignore_ascii_case("cmd"))
        });
        if is_plain {
            Self::parse_plain(query)
        } else {
            Self::parse_base64(query)
        }
    }

    fn parse_plain(query: &str) -> Result<EasQuery, QueryError> {
        let mut cmd = None;
        let mut q = EasQuery::new(Command::Sync, "", "", "");
        q.user = None;
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = percent_decode(v).ok_or(QueryError::BadValue("query"))?;
            match k.to_ascii_lowercase().as_str() {
                "cmd" => {
                    cmd = Some(Command::from_name(&v).ok_or(QueryError::UnknownCommand(v))?);
                }
                "user" => q.user = Some(v),
                "deviceid" => q.device_id = device_id_value(&v)?,
                "devicetype" => q.device_type = bounded(&v, "DeviceType")?,
                "itemid" => q.item_id = Some(v),
                "collectionid" => q.collection_id = Some(bounded(&v, "CollectionId")?),
                "longid" => q.long_id = Some(v),
                "attachmentname" => q.attachment_name = Some(v),
                "occurrence" => q.occurrence = Some(v),
                "saveinsent" => q.save_in_sent = v.eq_ignore_ascii_case("T"),
                "acceptmultipart" => q.accept_multipart = v.eq_ignore_ascii_case("T"),
                _ => {}
            }
        }
        q.cmd = cmd.ok_or(QueryError::MissingCommand)?;
        q.check()
    }

    fn parse_base64(query: &str) -> Result<EasQuery, QueryError> {
        if query.is_empty() {
            return Err(QueryError::MissingCommand);
        }
        // Base64 never contains a space, but its '+' reaches us unescaped from many clients (ours
        // included) and form decoding turns that into one: put it back.
        let text = percent_decode(query)
            .ok_or(QueryError::BadBase64)?
            .replace(' ', "+");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| QueryError::BadBase64)?;
        let mut r = Reader(&raw);
        let version = ProtocolVersion::from_byte(r.byte()?)
            .ok_or(QueryError::BadValue("protocol version"))?;
        let code = r.byte()?;
        let cmd = Command::from_code(code).ok_or(QueryError::UnknownCommand(code.to_string()))?;
        let locale = u16::from_le_bytes([r.byte()?, r.byte()?]);
        let len = r.byte()?;
        let id = r.take(len)?;
        // The binary DeviceId has no defined text form; hex is what other servers show for it too.
        let device_id = if id.iter().all(|b| b.is_ascii_alphanumeric()) {
            String::from_utf8_lossy(id).into_owned()
        } else {
            id.iter().map(|b| format!("{b:02x}")).collect()
        };
        let mut q = EasQuery::new(cmd, "", "", "");
        q.user = None;
        q.version = Some(version);
        q.locale = Some(locale);
        q.device_id = device_id_value(&device_id)?;
        let len = r.byte()?;
        let key = r.take(len)?;
        q.policy_key = match key.len() {
            0 => None,
            4 => Some(u32::from_le_bytes([key[0], key[1], key[2], key[3]])),
            _ => return Err(QueryError::BadValue("PolicyKey")),
        };
        let len = r.byte()?;
        q.device_type = bounded(&String::from_utf8_lossy(r.take(len)?), "DeviceType")?;
        while !r.0.is_empty() {
            let tag = r.byte()?;
            let len = r.byte()?;
            let value = r.take(len)?;
            let text = || String::from_utf8_lossy(value).into_owned();
            match tag {
                0 => q.attachment_name = Some(text()),
                1 => q.collection_id = Some(bounded(&text(), "CollectionId")?),
                3 => q.item_id = Some(text()),
                4 => q.long_id = Some(text()),
                6 => q.occurrence = Some(text()),
                7 => {
                    let bits = value.first().copied().unwrap_or(0);
                    q.save_in_sent = bits & 0x01 != 0;
                    q.accept_multipart = bits & 0x02 != 0;
                }
                8 => q.user = Some(text()),
                _ => {}
            }
        }
        q.check()
    }

    fn check(self) -> Result<EasQuery, QueryError> {
        if self.device_id.is_empty() {
            return Err(QueryError::MissingDeviceId);
        }
        if self.device_type.is_empty() {
            return Err(QueryError::MissingDeviceType);
        }
        Ok(self)
    }

    /// The plain form, as our client sends it.
    pub fn to_plain(&self) -> String {
        let mut s = format!("Cmd={}", self.cmd.name());
        let mut add = |k: &str, v: &str| {
            s.push('&');
            s.push_str(k);
            s.push('=');
            s.push_str(&percent_encode(v));
        };
        if let Some(u) = &self.user {
            add("User", u);
        }
        add("DeviceId", &self.device_id);
        add("DeviceType", &self.device_type);
        for (k, v) in [
            ("ItemId", self.item_id.as_deref()),
            ("CollectionId", self.collection_id.as_deref()),
            ("LongId", self.long_id.as_deref()),
            ("AttachmentName", self.attachment_name.as_deref()),
            ("Occurrence", self.occurrence.as_deref()),
        ] {
            if let Some(v) = v {
                add(k, v);
            }
        }
        if self.save_in_sent {
            add("SaveInSent", "T");
        }
        if self.accept_multipart {
            add("AcceptMultiPart", "T");
        }
        s
    }

    /// The base64 form for `version` (which the plain form would send as a header).
    pub fn to_base64(&self, version: ProtocolVersion) -> String {
        let mut b = vec![version.as_byte(), self.cmd.code()];
        b.extend_from_slice(&self.locale.unwrap_or(0x0409).to_le_bytes());
        push_field(&mut b, self.device_id.as_bytes());
        match self.policy_key {
            Some(k) => push_field(&mut b, &k.to_le_bytes()),
            None => b.push(0),
        }
        push_field(&mut b, self.device_type.as_bytes());
        let params = [
            (0u8, self.attachment_name.as_deref()),
            (1, self.collection_id.as_deref()),
            (3, self.item_id.as_deref()),
            (4, self.long_id.as_deref()),
            (6, self.occurrence.as_deref()),
            (8, self.user.as_deref()),
        ];
        for (tag, value) in params {
            if let Some(v) = value {
                b.push(tag);
                push_field(&mut b, v.as_bytes());
            }
        }
        let bits = u8::from(self.save_in_sent) | (u8::from(self.accept_multipart) << 1);
        if bits != 0 {
            b.extend_from_slice(&[7, 1, bits]);
        }
        base64::engine::general_purpose::STANDARD.encode(b)
    }
}

fn push_field(b: &mut Vec<u8>, v: &[u8]) {
    let v = &v[..v.len().min(255)];
    b.push(v.len() as u8);
    b.extend_from_slice(v);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, QueryError> {
        let (&b, rest) = self.0.split_first().ok_or(QueryError::Truncated)?;
        self.0 = rest;
        Ok(b)
    }
    fn take(&mut self, n: u8) -> Result<&'a [u8], QueryError> {
        if self.0.len() < n as usize {
            return Err(QueryError::Truncated);
        }
        let (head, rest) = self.0.split_at(n as usize);
        self.0 = rest;
        Ok(head)
    }
}

fn short(s: &str) -> Short {
    let mut out = Short::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

fn bounded(s: &str, key: &'static str) -> Result<Short, QueryError> {
    if s.chars().any(char::is_control) {
        return Err(QueryError::BadValue(key));
    }
    Short::try_from(s).map_err(|_| QueryError::BadValue(key))
}

/// DeviceIds key device state and appear in logs: keep them to a plain alphabet.
fn device_id_value(s: &str) -> Result<Short, QueryError> {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        bounded(s, "DeviceId")
    } else {
        Err(QueryError::BadValue("DeviceId"))
    }
}

/// Decodes `%XX` and `+` (form encoding, which some clients use for spaces). None on bad escapes or
/// invalid UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                // Two hex digits exactly: from_str_radix alone would also take a sign ("%+D").
                let hex = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'@' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_form() {
        let q = EasQuery::parse(
            "Cmd=SmartReply&User=alice%40example.com&DeviceId=ApplF17&DeviceType=iPhone&ItemId=5%3A12&CollectionId=5&SaveInSent=T",
        )
        .unwrap();
        assert_eq!(q.cmd, Command::SmartReply);
        assert_eq!(q.user.as_deref(), Some("alice@example.com"));
        assert_eq!(q.device_id.as_str(), "ApplF17");
        assert_eq!(q.item_id.as_deref(), Some("5:12"));
        assert!(q.save_in_sent);
        assert_eq!(EasQuery::parse(&q.to_plain()).unwrap(), q);
    }

    #[test]
    fn percent_escapes_are_two_hex_digits() {
        assert_eq!(percent_decode("a%2Fb%2f").as_deref(), Some("a/b/"));
        for bad in ["%+D", "%-1", "% 1", "%1", "%zz", "%"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn base64_with_a_plus_sign() {
        // Found by fuzz/eas_query: a base64 query with '+' parsed only when the '+' was escaped.
        let crash = b"\xa1\x01\x00\x02\x05\x00\x0f\x00\x00\x0f\x00\x01\xee\x2b\x00\x01\x00\x08\x26\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xd4\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x29\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let b64 = base64::engine::general_purpose::STANDARD.encode(crash);
        let q = EasQuery::parse(&b64).unwrap();
        let encoded = q.to_base64(q.version.unwrap());
        assert!(encoded.contains('+'), "{encoded}");
        for form in [encoded.clone(), encoded.replace('+', "%2B")] {
            assert_eq!(EasQuery::parse(&form).unwrap(), q);
        }
    }

    #[test]
    fn base64_form_round_trips() {
        let mut q = EasQuery::new(Command::Sync, "rmjones", "v140Device", "SmartPhone");
        q.policy_key = Some(3_942_919_513);
        q.collection_id = Some(short("7"));
        q.save_in_sent = true;
        let encoded = q.to_base64(ProtocolVersion::V14_0);
        let back = EasQuery::parse(&encoded).unwrap();
        assert_eq!(back.version, Some(ProtocolVersion::V14_0));
        assert_eq!(back.locale, Some(0x0409));
        assert_eq!(back.policy_key, q.policy_key);
        assert_eq!(
            (back.cmd, back.user.as_deref()),
            (Command::Sync, Some("rmjones"))
        );
        assert_eq!(back.collection_id.as_deref(), Some("7"));
        assert!(back.save_in_sent && !back.accept_multipart);
    }

    #[test]
    fn binary_device_id_becomes_hex() {
        let mut b = vec![141u8, 0, 0x09, 0x04, 4, 0xde, 0xad, 0xbe, 0xef, 0, 2];
        b.extend_from_slice(b"WP");
        let q = EasQuery::parse(&base64::engine::general_purpose::STANDARD.encode(&b)).unwrap();
        assert_eq!(q.device_id.as_str(), "deadbeef");
        assert_eq!(q.device_type.as_str(), "WP");
    }

    #[test]
    fn refusals() {
        assert_eq!(EasQuery::parse(""), Err(QueryError::MissingCommand));
        assert_eq!(
            EasQuery::parse("Cmd=Frobnicate&DeviceId=a&DeviceType=b"),
            Err(QueryError::UnknownCommand("Frobnicate".into()))
        );
        assert_eq!(
            EasQuery::parse("Cmd=Sync&DeviceType=b"),
            Err(QueryError::MissingDeviceId)
        );
        assert!(EasQuery::parse("Cmd=Sync&DeviceId=a/../b&DeviceType=b").is_err());
        assert!(
            EasQuery::parse(&format!(
                "Cmd=Sync&DeviceId={}&DeviceType=b",
                "x".repeat(65)
            ))
            .is_err()
        );
        assert!(EasQuery::parse("Cmd=Sync&DeviceId=%ZZ&DeviceType=b").is_err());
        assert_eq!(EasQuery::parse("!!!notbase64"), Err(QueryError::BadBase64));
        let truncated = base64::engine::general_purpose::STANDARD.encode([141u8, 0, 9, 4, 10, 1]);
        assert_eq!(EasQuery::parse(&truncated), Err(QueryError::Truncated));
    }
}
