//! `application/x-www-form-urlencoded` bodies and query strings, and the Cookie header: parsed
//! into ordered name/value pairs, and encoded back for links and the test client.

/// Ordered name/value pairs; a name may repeat (a checkbox after its hidden "false").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Parses `a=1&b=x+y&c=%C3%A9`; malformed escapes are kept as written.
    pub fn parse(text: &str) -> Form {
        Form(
            text.split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Form {
        Form(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The last value given for `name`: a checkbox overrides the hidden field before it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value, trimmed, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map_or("", str::trim)
    }

    pub fn push(&mut self, name: &str, value: &str) {
        self.0.push((name.to_string(), value.to_string()));
    }

    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-decoding with `+` as space; invalid UTF-8 is replaced.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding of everything but unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of cookie `name` in a Cookie header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_last_value_wins() {
        let f = Form::parse("a=1&b=x+y%21&flag=false&flag=true&bad=%zz&empty");
        assert_eq!(f.get("b"), Some("x y!"));
        assert_eq!(f.get("flag"), Some("true"));
        assert_eq!(f.get("bad"), Some("%zz"));
        assert_eq!(f.get("empty"), Some(""));
        assert_eq!(f.get("none"), None);
        let g = Form::from_pairs([("k é", "a&b=c/d")]);
        assert_eq!(Form::parse(&g.encode()), g);
        assert_eq!(decode("%C3%A9"), "é");
    }

    #[test]
    fn cookies() {
        let h = "a=1; easd_admin=abc; b=\"q\"";
        assert_eq!(cookie(h, "easd_admin"), Some("abc"));
        assert_eq!(cookie(h, "b"), Some("q"));
        assert_eq!(cookie(h, "c"), None);
    }
}
