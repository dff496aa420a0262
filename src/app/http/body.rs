//! HTTP/1.x message body framing (RFC 9112 section 6): a body is delimited by Content-Length,
//! by chunked transfer coding (with trailers), or by the close of the connection. Bodies are
//! counted; the decoder walks the chunk framing and hands the body's own bytes to a collector
//! only when one asks (an error response's body, see `collect`).

/// Where the body's own bytes go when they are wanted (an error response's collector).
pub type DataSink<'a> = &'a mut dyn FnMut(&[u8]);

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// No body (a request without Content-Length / Transfer-Encoding, a response to HEAD, 1xx,
    /// 204, 304).
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// A response without either: the body runs until the server closes.
    UntilClose,
}

/// Longest chunk-size line or trailer line accepted (RFC 9112 sets no limit; real ones are
/// short). Longer lines lose the framing.
const MAX_LINE: u32 = 4096;

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size (then extensions after `;`) up to LF.
    Size { value: u64, digits: u32, ext: bool },
    /// This many data bytes left in the current chunk.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer section: `len` bytes into the current line.
    Trailer { len: u32 },
}

/// The body framing could not be followed (the rest of the direction is not parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingError;

/// Progress through one message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Body {
    pub framing: Framing,
    /// Body bytes seen (decoded: chunk framing not counted).
    pub received: u64,
    /// Body bytes the capture never saw (gaps inside the body).
    pub missing: u64,
    remaining: u64,
    chunk: Chunk,
    done: bool,
}

impl Body {
    /// A body with the given framing.
    pub fn new(framing: Framing) -> Self {
        let (remaining, done) = match framing {
            Framing::None => (0, true),
            Framing::Length(n) => (n, n == 0),
            Framing::Chunked | Framing::UntilClose => (0, false),
        };
        Body {
            framing,
            received: 0,
            missing: 0,
            remaining,
            chunk: Chunk::Size {
                value: 0,
                digits: 0,
                ext: false,
            },
            done,
        }
    }

    /// The body is complete (a close-delimited body completes only when the connection ends).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Consumes body bytes from the front of `bytes`; returns how many belong to this body
    /// (the rest starts the next message).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<usize, FramingError> {
        self.feed_data(bytes, None)
    }

    /// As [`Body::feed`], and hands the body's own bytes (chunk framing removed) to `data`
    /// when given.
    pub fn feed_data(
        &mut self,
        bytes: &[u8],
        mut data: Option<DataSink<'_>>,
    ) -> Result<usize, FramingError> {
        if self.done {
            return Ok(0);
        }
        let n = match self.framing {
            Framing::None => 0,
            Framing::Length(_) => {
                let n = take(self.remaining, bytes.len());
                self.remaining -= n as u64;
                self.received += n as u64;
                self.done = self.remaining == 0;
                n
            }
            Framing::UntilClose => {
                self.received += bytes.len() as u64;
                bytes.len()
            }
            Framing::Chunked => return self.feed_chunked(bytes, data),
        };
        if let Some(data) = data.as_mut() {
            data(&bytes[..n]);
        }
        Ok(n)
    }

    /// `len` bytes of the body were never captured. Only a Content-Length or close-delimited
    /// body, or chunk data, can skip bytes and keep its framing. Returns how many of the bytes
    /// lie beyond a Content-Length body's end (the body is then done, and a next message began
    /// inside the gap).
    pub fn gap(&mut self, len: u64) -> Result<u64, FramingError> {
        match (self.framing, &mut self.chunk) {
            (Framing::Length(_), _) => {
                let inside = len.min(self.remaining);
                self.remaining -= inside;
                self.missing += inside;
                self.done = self.remaining == 0;
                Ok(len - inside)
            }
            (Framing::UntilClose, _) => {
                self.missing += len;
                Ok(0)
            }
            (Framing::Chunked, Chunk::Data(left)) if len <= *left => {
                *left -= len;
                self.missing += len;
                if *left == 0 {
                    self.chunk = Chunk::DataEnd;
                }
                Ok(0)
            }
            _ => Err(FramingError),
        }
    }

    fn feed_chunked(
        &mut self,
        bytes: &[u8],
        mut data: Option<DataSink<'_>>,
    ) -> Result<usize, FramingError> {
        let mut i = 0;
        while i < bytes.len() && !self.done {
            let b = bytes[i];
            match &mut self.chunk {
                Chunk::Data(left) => {
                    let n = take(*left, bytes.len() - i);
                    *left -= n as u64;
                    self.received += n as u64;
                    if let Some(data) = data.as_mut() {
                        data(&bytes[i..i + n]);
                    }
                    i += n;
                    if *left == 0 {
                        self.chunk = Chunk::DataEnd;
                    }
                    continue;
                }
                Chunk::Size { value, digits, ext } => match b {
                    b'\n' => {
                        if *digits == 0 {
                            return Err(FramingError);
                        }
                        self.chunk = if *value == 0 {
                            Chunk::Trailer { len: 0 }
                        } else {
                            Chunk::Data(*value)
                        };
                    }
                    b'\r' => {}
                    _ if *ext => {
                        *digits = digits.saturating_add(1);
                        if *digits > MAX_LINE {
                            return Err(FramingError);
                        }
                    }
                    b';' | b' ' | b'\t' if *digits > 0 => *ext = true,
                    _ => {
                        let d = (b as char).to_digit(16).ok_or(FramingError)?;
                        *value = value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(d)))
                            .ok_or(FramingError)?;
                        *digits += 1;
                    }
                },
                Chunk::DataEnd => match b {
                    b'\r' => {}
                    b'\n' => {
                        self.chunk = Chunk::Size {
                            value: 0,
                            digits: 0,
                            ext: false,
                        }
                    }
                    _ => return Err(FramingError),
                },
                Chunk::Trailer { len } => match b {
                    b'\n' if *len == 0 => self.done = true,
                    b'\n' => *len = 0,
                    b'\r' => {}
                    _ => {
                        *len += 1;
                        if *len > MAX_LINE {
                            return Err(FramingError);
                        }
                    }
                },
            }
            i += 1;
        }
        Ok(i)
    }
}

/// `min(left, available)` as a usize.
fn take(left: u64, available: usize) -> usize {
    usize::try_from(left).map_or(available, |l| l.min(available))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(body: &mut Body, bytes: &[u8]) -> Result<usize, FramingError> {
        body.feed(bytes)
    }

    #[test]
    fn content_length_stops_at_its_count() {
        let mut b = Body::new(Framing::Length(5));
        assert_eq!(feed_all(&mut b, b"abc"), Ok(3));
        assert!(!b.is_done());
        assert_eq!(feed_all(&mut b, b"deHTTP/1.1"), Ok(2));
        assert!(b.is_done());
        assert_eq!(b.received, 5);
    }

    #[test]
    fn chunked_with_extensions_and_trailers_cut_at_every_byte() {
        let wire = b"4;name=v\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\nNEXT";
        let body_len = wire.len() - 4;
        for cut in 0..=wire.len() {
            for cut2 in cut..=wire.len() {
                let mut b = Body::new(Framing::Chunked);
                let mut used = 0;
                for part in [&wire[..cut], &wire[cut..cut2], &wire[cut2..]] {
                    if b.is_done() {
                        break;
                    }
                    used += b.feed(part).expect("valid framing");
                }
                assert!(b.is_done(), "cut {cut}/{cut2}");
                assert_eq!(used, body_len, "cut {cut}/{cut2}");
                assert_eq!(b.received, 23);
            }
        }
    }

    #[test]
    fn chunked_body_that_stops_is_not_done() {
        let mut b = Body::new(Framing::Chunked);
        assert_eq!(b.feed(b"10\r\n0123456789"), Ok(14));
        assert!(!b.is_done());
        assert_eq!(b.received, 10);
    }

    #[test]
    fn bad_chunk_size_and_huge_sizes_lose_the_framing() {
        assert_eq!(
            Body::new(Framing::Chunked).feed(b"zz\r\n"),
            Err(FramingError)
        );
        assert_eq!(
            Body::new(Framing::Chunked).feed(b"fffffffffffffffffffff\r\n"),
            Err(FramingError)
        );
        assert_eq!(Body::new(Framing::Chunked).feed(b"\r\n"), Err(FramingError));
        let mut long = Body::new(Framing::Chunked);
        let line = [b'x'; 5000];
        assert_eq!(long.feed(b"1;"), Ok(2));
        assert_eq!(long.feed(&line), Err(FramingError));
    }

    #[test]
    fn gaps_inside_a_length_body_are_counted_as_missing() {
        let mut b = Body::new(Framing::Length(10));
        b.feed(b"abc").unwrap();
        assert_eq!(b.gap(4), Ok(0));
        assert_eq!(b.feed(b"xyzNEXT"), Ok(3));
        assert!(b.is_done());
        assert_eq!((b.received, b.missing), (6, 4));
        let mut short = Body::new(Framing::Length(2));
        assert_eq!(short.gap(3), Ok(1));
        assert!(short.is_done());
        assert_eq!(short.missing, 2);
        assert_eq!(Body::new(Framing::Chunked).gap(1), Err(FramingError));
    }
}
