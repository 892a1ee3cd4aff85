//! The few facts easd needs from a DER certificate: its validity period, the DNS names it covers and
//! whether it is self-signed. Chain and signature checks are rustls's; this only reads fields, for
//! `easd doctor`'s verdicts and for deciding when an ACME certificate is due for renewal.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// subjectAltName dNSName entries, as written (wildcards included).
    pub dns_names: Vec<String>,
    pub self_signed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Error(&'static str);

impl fmt::Display for X509Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a readable X.509 certificate: {}", self.0)
    }
}

impl std::error::Error for X509Error {}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION_TAG: u8 = 0xa0;
const EXTENSIONS_TAG: u8 = 0xa3;
const DNS_NAME_TAG: u8 = 0x82;
/// 2.5.29.17, subjectAltName.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// Reads DER tag-length-value items one after another.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Result<(u8, &'a [u8]), X509Error> {
        let bad = X509Error("truncated DER");
        let (&tag, rest) = self.0.split_first().ok_or(bad.clone())?;
        let (&first, rest) = rest.split_first().ok_or(bad.clone())?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return Err(X509Error("bad DER length"));
            }
            let (bytes, rest) = rest.split_at(n);
            (
                bytes
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
                rest,
            )
        };
        if rest.len() < len {
            return Err(bad);
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Ok((tag, content))
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], X509Error> {
        match self.next()? {
            (t, content) if t == tag => Ok(content),
            _ => Err(X509Error(what)),
        }
    }
}

impl CertInfo {
    pub fn parse(der: &[u8]) -> Result<CertInfo, X509Error> {
        let cert = Der(der).expect(SEQUENCE, "no certificate sequence")?;
        let mut tbs = Der(Der(cert).expect(SEQUENCE, "no tbsCertificate")?);
        if tbs.peek_tag() == Some(VERSION_TAG) {
            tbs.next()?;
        }
        tbs.next()?; // serialNumber
        tbs.expect(SEQUENCE, "no signature algorithm")?;
        let issuer = tbs.expect(SEQUENCE, "no issuer")?;
        let mut validity = Der(tbs.expect(SEQUENCE, "no validity")?);
        let not_before = time(validity.next()?)?;
        let not_after = time(validity.next()?)?;
        let subject = tbs.expect(SEQUENCE, "no subject")?;
        tbs.expect(SEQUENCE, "no public key")?;
        let mut dns_names = Vec::new();
        while !tbs.is_empty() {
            let (tag, content) = tbs.next()?;
            if tag == EXTENSIONS_TAG {
                dns_names = san_dns_names(content)?;
            }
        }
        Ok(CertInfo {
            not_before,
            not_after,
            dns_names,
            self_signed: issuer == subject,
        })
    }

    /// Whether the certificate names `host` (one wildcard label matches one label, as browsers do).
    pub fn covers(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.dns_names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            match n.strip_prefix("*.") {
                Some(suffix) => host
                    .split_once('.')
                    .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
                None => n == host,
            }
        })
    }

    /// Time left until expiry; None once expired.
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.not_after.duration_since(now).ok()
    }
}

fn san_dns_names(extensions: &[u8]) -> Result<Vec<String>, X509Error> {
    let mut list = Der(Der(extensions).expect(SEQUENCE, "bad extensions")?);
    while !list.is_empty() {
        let mut ext = Der(list.expect(SEQUENCE, "bad extension")?);
        let oid = ext.expect(OID, "bad extension id")?;
        if ext.peek_tag() == Some(BOOLEAN) {
            ext.next()?;
        }
        let value = ext.expect(OCTET_STRING, "bad extension value")?;
        if oid != SAN_OID {
            continue;
        }
        let mut names = Der(Der(value).expect(SEQUENCE, "bad subjectAltName")?);
        let mut out = Vec::new();
        while !names.is_empty() {
            let (tag, content) = names.next()?;
            if tag == DNS_NAME_TAG {
                out.push(String::from_utf8_lossy(content).into_owned());
            }
        }
        return Ok(out);
    }
    Ok(Vec::new())
}

fn time((tag, content): (u8, &[u8])) -> Result<SystemTime, X509Error> {
    let bad = X509Error("bad time");
    let text = std::str::from_utf8(content).map_err(|_| bad.clone())?;
    let text = text.strip_suffix('Z').ok_or(bad.clone())?;
    // Byte offsets below are character offsets only for ASCII.
    if !text.is_ascii() {
        return Err(bad);
    }
    let (year, rest) = match tag {
        UTC_TIME if text.len() == 12 => {
            let yy: i64 = text
                .get(..2)
                .and_then(|s| s.parse().ok())
                .ok_or(bad.clone())?;
            (
                if yy >= 50 { 1900 + yy } else { 2000 + yy },
                text.get(2..).unwrap_or(""),
            )
        }
        GENERALIZED_TIME if text.len() == 14 => (
            text.get(..4)
                .and_then(|s| s.parse().ok())
                .ok_or(bad.clone())?,
            text.get(4..).unwrap_or(""),
        ),
        _ => return Err(bad),
    };
    let field = |i: usize| -> Result<i64, X509Error> {
        rest.get(i..i + 2)
            .and_then(|s| s.parse().ok())
            .ok_or(X509Error("bad time"))
    };
    let (month, day, h, m, s) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return Err(bad);
    }
    let secs = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).map_err(|_| bad)?;
    Ok(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` (UTC) of a time, for messages about certificate dates.
pub fn format_date(t: SystemTime) -> String {
    let days = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2038, 1, 19), 24_855);
        for days in [0, 59, 60, 11_016, 11_017, 24_855, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(
            format_date(UNIX_EPOCH + Duration::from_secs(2_111_006_432)),
            "2036-11-22"
        );
    }

    #[test]
    fn times() {
        let t = time((UTC_TIME, b"491231235959Z")).unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(2_524_607_999));
        let t = time((GENERALIZED_TIME, b"20500101000000Z")).unwrap();
        assert_eq!(t, UNIX_EPOCH + Duration::from_secs(2_524_608_000));
        for bad in [
            &b"4912312359Z"[..],
            b"491331235959Z",
            b"491231235959",
            b"49123123595aZ",
            "4\u{e9}123123595Z".as_bytes(),
        ] {
            assert!(time((UTC_TIME, bad)).is_err());
        }
    }

    #[test]
    fn wildcards_cover_one_label() {
        let c = CertInfo {
            not_before: UNIX_EPOCH,
            not_after: UNIX_EPOCH,
            dns_names: vec!["*.Example.com".into(), "example.com".into()],
            self_signed: true,
        };
        assert!(c.covers("autodiscover.example.com"));
        assert!(c.covers("EXAMPLE.com."));
        assert!(!c.covers("a.b.example.com"));
        assert!(!c.covers("example.org"));
    }

    #[test]
    fn reads_an_openssl_certificate() {
        let der = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/x509/selfsigned.der"
        ))
        .unwrap();
        let c = CertInfo::parse(&der).unwrap();
        assert_eq!(
            c.not_before,
            UNIX_EPOCH + Duration::from_secs(1_795_646_432)
        );
        assert_eq!(c.not_after, UNIX_EPOCH + Duration::from_secs(2_111_006_432));
        assert_eq!(
            c.dns_names,
            [
                "mail.example.com",
                "autodiscover.example.com",
                "*.example.org"
            ]
        );
        assert!(c.self_signed);
        assert!(c.covers("autodiscover.example.com") && c.covers("x.example.org"));
        for cut in [10, 100, der.len() - 1] {
            assert!(CertInfo::parse(&der[..cut]).is_err());
        }
        // Every single-byte corruption gives a value or an error, never a panic.
        for i in 0..der.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = der.clone();
                bad[i] ^= flip;
                let _ = CertInfo::parse(&bad);
            }
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x03, 0x30, 0x01],
            &[0x04, 0x00],
        ] {
            assert!(CertInfo::parse(bad).is_err());
        }
    }
}
