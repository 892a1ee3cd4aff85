//! The chunked transfer coding of request bodies (RFC 9112 section 7.1), decoded incrementally from
//! whatever bytes have arrived. Chunk extensions are skipped and trailer fields dropped; both are
//! capped so a client cannot keep a connection busy with them.

use std::fmt;

/// Longest chunk-size line (size and extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// Most trailer bytes accepted.
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    BadSize,
    SizeLineTooLong,
    MissingCrlf,
    TrailersTooLong,
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkError::BadSize => "bad chunk size",
            ChunkError::SizeLineTooLong => "chunk size line too long",
            ChunkError::MissingCrlf => "chunk data not followed by CRLF",
            ChunkError::TrailersTooLong => "chunked trailers too long",
        })
    }
}

impl std::error::Error for ChunkError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of the size read so far (`digits` of them).
    Size {
        size: u64,
        digits: u8,
    },
    /// After the size: extensions up to the line end; `seen` bytes of the line so far.
    Extension {
        size: u64,
        seen: usize,
    },
    Data(u64),
    /// The CRLF after a chunk's data; `cr` once the CR has come.
    DataEnd {
        cr: bool,
    },
    /// Trailer lines after the last chunk; `line` bytes into the current one, `total` overall.
    Trailer {
        line: usize,
        total: usize,
    },
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunked {
    state: State,
}

/// What one call to [`Chunked::decode`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used; the rest belongs to whatever follows the body.
    pub consumed: usize,
    /// Body bytes found.
    pub data: usize,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size { size: 0, digits: 0 },
        }
    }
}

impl Chunked {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as it can, appending the body bytes to `out` (or counting them
    /// only). Stops at the end of the body.
    pub fn decode(
        &mut self,
        input: &[u8],
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<Decoded, ChunkError> {
        let mut i = 0;
        let mut data = 0;
        while i < input.len() {
            match self.state {
                State::Done => break,
                State::Data(left) => {
                    let n = left.min((input.len() - i) as u64) as usize;
                    if let Some(out) = out.as_deref_mut() {
                        out.extend_from_slice(&input[i..i + n]);
                    }
                    data += n;
                    i += n;
                    self.state = match left - n as u64 {
                        0 => State::DataEnd { cr: false },
                        rest => State::Data(rest),
                    };
                }
                state => {
                    self.state = byte(state, input[i])?;
                    i += 1;
                }
            }
        }
        Ok(Decoded { consumed: i, data })
    }
}

/// One byte of framing (everything but chunk data).
fn byte(state: State, b: u8) -> Result<State, ChunkError> {
    Ok(match state {
        State::Size { size, digits } => match (b as char).to_digit(16) {
            Some(d) => {
                if digits >= 16 {
                    return Err(ChunkError::BadSize);
                }
                State::Size {
                    size: size << 4 | u64::from(d),
                    digits: digits + 1,
                }
            }
            None if digits == 0 => return Err(ChunkError::BadSize),
            None => return extension(size, 0, b),
        },
        State::Extension { size, seen } => return extension(size, seen, b),
        State::DataEnd { cr: false } if b == b'\r' => State::DataEnd { cr: true },
        State::DataEnd { .. } if b == b'\n' => State::Size { size: 0, digits: 0 },
        State::DataEnd { .. } => return Err(ChunkError::MissingCrlf),
        State::Trailer { line, total } => {
            if total >= MAX_TRAILERS {
                return Err(ChunkError::TrailersTooLong);
            }
            match b {
                b'\n' if line == 0 => State::Done,
                b'\n' => State::Trailer {
                    line: 0,
                    total: total + 1,
                },
                // A CR alone does not start a line: "\r\n" on its own is the empty line.
                b'\r' => State::Trailer {
                    line,
                    total: total + 1,
                },
                _ => State::Trailer {
                    line: line + 1,
                    total: total + 1,
                },
            }
        }
        State::Data(_) | State::Done => state,
    })
}

/// A byte after the size digits: extensions and whitespace are skipped to the line's end.
fn extension(size: u64, seen: usize, b: u8) -> Result<State, ChunkError> {
    if b == b'\n' {
        return Ok(match size {
            0 => State::Trailer { line: 0, total: 0 },
            n => State::Data(n),
        });
    }
    if seen >= MAX_SIZE_LINE {
        return Err(ChunkError::SizeLineTooLong);
    }
    if seen == 0 && !matches!(b, b';' | b' ' | b'\t' | b'\r') {
        return Err(ChunkError::BadSize);
    }
    Ok(State::Extension {
        size,
        seen: seen + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut c = Chunked::default();
        let mut out = Vec::new();
        let d = c.decode(input, Some(&mut out))?;
        assert!(c.is_done(), "incomplete: {c:?}");
        Ok((out, d.consumed))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers() {
        let body = b"5\r\nhello\r\n6;name=x\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT";
        let (out, used) = all(body).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(&body[used..], b"NEXT");
        let (out, _) = all(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap();
        assert_eq!(out, b"0123456789");
    }

    #[test]
    fn decodes_one_byte_at_a_time() {
        let body = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        let mut c = Chunked::default();
        let mut out = Vec::new();
        for b in body.chunks(1) {
            assert_eq!(c.decode(b, Some(&mut out)).unwrap().consumed, 1);
        }
        assert!(c.is_done());
        assert_eq!(out, b"abc0123456789abcdef");
    }

    #[test]
    fn refuses_broken_framing() {
        assert_eq!(all(b"x\r\n").unwrap_err(), ChunkError::BadSize);
        assert_eq!(all(b"\r\n").unwrap_err(), ChunkError::BadSize);
        assert_eq!(all(b"3z\r\n").unwrap_err(), ChunkError::BadSize);
        assert_eq!(all(b"3\r\nabcX").unwrap_err(), ChunkError::MissingCrlf);
        assert_eq!(
            all(b"11111111111111111\r\n").unwrap_err(),
            ChunkError::BadSize
        );
        let mut long = b"1;".to_vec();
        long.resize(MAX_SIZE_LINE + 10, b'a');
        assert_eq!(all(&long).unwrap_err(), ChunkError::SizeLineTooLong);
        let mut trailers = b"0\r\n".to_vec();
        trailers.resize(MAX_TRAILERS + 10, b'a');
        assert_eq!(all(&trailers).unwrap_err(), ChunkError::TrailersTooLong);
    }

    #[test]
    fn counts_without_keeping() {
        let mut c = Chunked::default();
        let d = c.decode(b"4\r\nabcd\r\n0\r\n\r\n", None).unwrap();
        assert_eq!(d.data, 4);
        assert!(c.is_done());
    }
}
