//! HTTP/2 frame headers (RFC 9113 section 4.1), the client preface, and how plausible a run of
//! bytes is as frames (for a capture that starts mid-connection and for finding the next frame
//! after bytes the capture lost).

/// The client connection preface (RFC 9113 section 3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Bytes in a frame header.
pub const HEADER_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE before a peer announces one.
pub const DEFAULT_MAX_FRAME: u32 = 16_384;

pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const PRIORITY: u8 = 0x2;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PUSH_PROMISE: u8 = 0x5;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const WINDOW_UPDATE: u8 = 0x8;
pub const CONTINUATION: u8 = 0x9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;
pub const PRIORITY_FLAG: u8 = 0x20;

/// One frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub len: u32,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    /// The reserved bit before the stream id was set.
    pub reserved: bool,
}

impl FrameHeader {
    /// Reads a frame header from the first nine bytes, if there are nine.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        let raw = u32::from_be_bytes([b[5], b[6], b[7], b[8]]);
        Some(FrameHeader {
            len: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream: raw & 0x7fff_ffff,
            reserved: raw & 0x8000_0000 != 0,
        })
    }

    /// A header as a well-behaved peer writes it: a known type, only that type's flags, the
    /// reserved bit clear, the stream id (zero or not) and length the type requires, and a length
    /// within `max_len`. `from_client`, when known, checks the parity of a HEADERS stream id.
    pub fn plausible(&self, max_len: u32, from_client: Option<bool>) -> bool {
        if self.reserved || self.len > max_len {
            return false;
        }
        let on_stream = self.stream != 0;
        let (flags, stream_ok, len_ok) = match self.kind {
            DATA => (END_STREAM | PADDED, on_stream, true),
            HEADERS => (
                END_STREAM | END_HEADERS | PADDED | PRIORITY_FLAG,
                on_stream && from_client.is_none_or(|c| !c || self.stream % 2 == 1),
                self.len > 0,
            ),
            PRIORITY => (0, on_stream, self.len == 5),
            RST_STREAM => (0, on_stream, self.len == 4),
            SETTINGS => (
                ACK,
                !on_stream,
                self.len % 6 == 0 && (self.flags & ACK == 0 || self.len == 0),
            ),
            PUSH_PROMISE => (
                END_HEADERS | PADDED,
                on_stream && from_client != Some(true),
                self.len >= 4,
            ),
            PING => (ACK, !on_stream, self.len == 8),
            GOAWAY => (0, !on_stream, self.len >= 8),
            WINDOW_UPDATE => (0, true, self.len == 4),
            CONTINUATION => (END_HEADERS, on_stream, true),
            _ => return false,
        };
        self.flags & !flags == 0 && stream_ok && len_ok
    }
}

/// The bytes start with the client connection preface, or are a prefix of it at least four
/// bytes long (`PRI ` is no HTTP/1.x method).
pub fn starts_preface(bytes: &[u8]) -> bool {
    if bytes.len() >= PREFACE.len() {
        bytes.starts_with(PREFACE)
    } else {
        bytes.len() >= 4 && PREFACE.starts_with(bytes)
    }
}

/// The bytes look like HTTP/2 frames of a connection the capture joined late: at least two
/// consecutive frame headers a peer would write (known type and flags, length within 16 KiB,
/// the default most frames respect, reserved bit clear, the stream ids and lengths the types
/// require, a client's HEADERS on an odd stream), the second one where the first frame ends.
/// Conservative: TLS records, HTTP/1.x, DNS and random bytes are not taken for frames.
pub fn looks_like_frames(bytes: &[u8], from_client: bool) -> bool {
    let mut at = 0usize;
    let mut frames = 0;
    while let Some(h) = bytes.get(at..).and_then(FrameHeader::parse) {
        if !h.plausible(DEFAULT_MAX_FRAME, Some(from_client)) {
            return false;
        }
        frames += 1;
        if frames >= 2 {
            return true;
        }
        at = at + HEADER_LEN + h.len as usize;
    }
    false
}

/// Where, in `bytes`, the next frame plausibly starts: the first offset whose header is
/// plausible and is followed (where the bytes reach) by another plausible header.
pub fn find_frame(bytes: &[u8], max_len: u32, from_client: bool) -> Option<usize> {
    (0..bytes.len()).find(|&i| {
        let Some(h) = bytes.get(i..).and_then(FrameHeader::parse) else {
            return false;
        };
        if !h.plausible(max_len, Some(from_client)) {
            return false;
        }
        let next = i + HEADER_LEN + h.len as usize;
        match bytes.get(next..).and_then(FrameHeader::parse) {
            Some(n) => n.plausible(max_len, Some(from_client)),
            // The next header lies beyond these bytes: checked when it arrives.
            None => true,
        }
    })
}
