//! A small binary encoding for state records: LEB128 varints, length-prefixed bytes. Records
//! start with a version byte so a future layout can be told apart; decoding never panics.

use std::fmt;

/// A record that is truncated, too long, or of an unknown layout version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodecError(pub &'static str);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt state record: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new(version: u8) -> Writer {
        Writer { buf: vec![version] }
    }

    pub fn u64(&mut self, mut v: u64) -> &mut Self {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return self;
            }
            self.buf.push(byte | 0x80);
        }
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.u64(u64::from(v))
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(u8::from(v));
        self
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
        self
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.bytes(v.as_bytes())
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the version byte.
    pub fn new(buf: &'a [u8], version: u8) -> Result<Reader<'a>, CodecError> {
        match buf.split_first() {
            Some((&v, rest)) if v == version => Ok(Reader { buf: rest }),
            Some(_) => Err(CodecError("unknown layout version")),
            None => Err(CodecError("empty record")),
        }
    }

    pub fn u64(&mut self) -> Result<u64, CodecError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .buf
                .split_first()
                .ok_or(CodecError("truncated varint"))?;
            self.buf = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(CodecError("varint too long"))
    }

    pub fn u32(&mut self) -> Result<u32, CodecError> {
        u32::try_from(self.u64()?).map_err(|_| CodecError("value out of range"))
    }

    pub fn usize(&mut self) -> Result<usize, CodecError> {
        usize::try_from(self.u64()?).map_err(|_| CodecError("length out of range"))
    }

    pub fn bool(&mut self) -> Result<bool, CodecError> {
        match self.u64()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError("bad boolean")),
        }
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let len = self.usize()?;
        if len > self.buf.len() {
            return Err(CodecError("truncated bytes"));
        }
        let (head, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(head)
    }

    pub fn str(&mut self) -> Result<&'a str, CodecError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| CodecError("bad UTF-8"))
    }

    /// A count of following entries, bounded by the bytes left (each entry takes at least one),
    /// so a corrupt count cannot make the caller allocate without limit.
    pub fn count(&mut self) -> Result<usize, CodecError> {
        let n = self.usize()?;
        if n > self.buf.len() {
            return Err(CodecError("count exceeds record"));
        }
        Ok(n)
    }

    pub fn end(&self) -> Result<(), CodecError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(CodecError("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let mut w = Writer::new(3);
        w.u64(0)
            .u64(300)
            .u64(u64::MAX)
            .bool(true)
            .str("héllo")
            .u32(7);
        let buf = w.finish();
        let mut r = Reader::new(&buf, 3).unwrap();
        assert_eq!(r.u64().unwrap(), 0);
        assert_eq!(r.u64().unwrap(), 300);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert!(r.bool().unwrap());
        assert_eq!(r.str().unwrap(), "héllo");
        assert_eq!(r.u32().unwrap(), 7);
        r.end().unwrap();
        assert!(Reader::new(&buf, 4).is_err());
        for cut in 1..buf.len() {
            let mut r = Reader::new(&buf[..cut], 3).unwrap();
            let ok = (|| -> Result<(), CodecError> {
                r.u64()?;
                r.u64()?;
                r.u64()?;
                r.bool()?;
                r.str()?;
                r.u32()?;
                r.end()
            })();
            assert!(ok.is_err(), "cut at {cut}");
        }
        let huge = [3u8, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(Reader::new(&huge, 3).unwrap().count().is_err());
    }
}
