//! The DATA encoding of RFC 5321 §4.5.2: every line ends in CRLF, a line that starts with '.'
//! gets a second one, and the message ends with "CRLF.CRLF". Works on pieces of the message so
//! a large one is never copied whole.

/// Encodes a message piece by piece; the state carries line boundaries across pieces.
pub struct DotStuffer {
    at_line_start: bool,
    after_cr: bool,
}

impl Default for DotStuffer {
    fn default() -> DotStuffer {
        DotStuffer {
            at_line_start: true,
            after_cr: false,
        }
    }
}

impl DotStuffer {
    /// Appends the encoding of `input` to `out`. Bare LF and bare CR become CRLF, since SMTP
    /// forbids both and servers differ in what they make of them.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.after_cr {
                self.after_cr = false;
                out.push(b'\n');
                self.at_line_start = true;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => {
                    out.push(b'\r');
                    self.after_cr = true;
                }
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.at_line_start = true;
                }
                _ => {
                    if self.at_line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.at_line_start = false;
                }
            }
        }
    }

    /// Ends the last line if the message left it open, and appends the terminating dot.
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.after_cr {
            out.push(b'\n');
        } else if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_in(pieces: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::default();
        let mut out = Vec::new();
        for p in pieces {
            s.push(p, &mut out);
        }
        s.finish(&mut out);
        out
    }

    fn encode(msg: &[u8]) -> Vec<u8> {
        encode_in(&[msg])
    }

    #[test]
    fn dots_at_line_start_are_doubled() {
        assert_eq!(
            encode(b".hidden\r\nmid.dle\r\n.\r\n..two\r\n"),
            b"..hidden\r\nmid.dle\r\n..\r\n...two\r\n.\r\n"
        );
    }

    #[test]
    fn line_ends_are_normalised() {
        assert_eq!(encode(b"a\nb\rc\r\nd"), b"a\r\nb\r\nc\r\nd\r\n.\r\n");
        assert_eq!(encode(b"a\r"), b"a\r\n.\r\n");
        assert_eq!(encode(b""), b".\r\n");
        assert_eq!(encode(b"\n.x"), b"\r\n..x\r\n.\r\n");
    }

    #[test]
    fn piece_boundaries_do_not_matter() {
        let whole = b"x\r\n.y\r\n\r\n.\rz\n.".as_slice();
        let expected = encode(whole);
        for cut in 0..=whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(encode_in(&[a, b]), expected, "cut at {cut}");
        }
    }
}
