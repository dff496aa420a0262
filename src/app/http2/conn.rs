//! One HTTP/2 connection, sans-IO: each direction's bytes (and gaps) in order, read as frames;
//! header blocks joined across CONTINUATION and decoded with that direction's HPACK table;
//! DATA counted as it streams by, never buffered.

use super::flow::Flow;
use super::frame::{self, FrameHeader, HEADER_LEN, PREFACE};
use super::hpack::Hpack;
use super::stream::Streams;
use super::{Http2Facts, Http2Start};
use crate::app::http::{BodyLimit, Request};
use crate::tcp::{Origin, StreamChunk};

pub const FRAME_TOO_LARGE: &str = "http2 frame too large";
pub const CONTINUATION_OUT_OF_PLACE: &str = "http2 CONTINUATION out of place";
pub const BLOCK_INTERRUPTED: &str = "http2 header block interrupted";
pub const BLOCK_TOO_BIG: &str = "http2 header block too big";
pub const HPACK_ERROR: &str = "http2 HPACK error";
pub const UNKNOWN_FRAME: &str = "http2 unknown frame type";
pub const BAD_FRAME: &str = "http2 malformed frame";
pub const BAD_PREFACE: &str = "http2 bad preface";
pub const RESYNC: &str = "http2 frames lost to a gap";

/// Largest header block buffered (HEADERS or PUSH_PROMISE with its CONTINUATIONs).
pub const MAX_BLOCK: usize = 256 * 1024;
/// Most bytes of another frame's payload kept (SETTINGS, GOAWAY's debug data beyond is skipped).
const MAX_PAYLOAD: usize = 16 * 1024;
/// A frame this many times longer than the receiver allows ends the direction's parsing.
const FAR_TOO_LARGE: u32 = 64;
/// Bytes searched for a frame boundary after a gap before the direction is given up.
const RESYNC_LIMIT: u64 = 1 << 20;
/// Candidate boundaries tried after a gap.
const RESYNC_TRIES: u32 = 64;

/// Where one direction's reader is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Matching the client preface (`n` bytes of it so far).
    Preface(usize),
    /// Reading a frame header (`Dir::hdr_len` bytes of it so far).
    Header,
    /// Collecting a frame's payload; `keep` more bytes are kept, `left` remain in all.
    Payload { h: FrameHeader, left: u32 },
    /// Inside a DATA frame: `pad` is the padding (once its length byte was read), `left` the
    /// payload bytes still to come.
    Data {
        h: FrameHeader,
        left: u32,
        pad: Option<u32>,
    },
    /// Passing over `left` bytes of a frame whose content does not matter.
    Skip { left: u32 },
    /// Searching for a frame boundary after lost bytes.
    Resync,
    /// No longer parsed.
    Stopped,
}

/// A header block being joined.
#[derive(Debug)]
pub(super) struct Block {
    pub(super) stream: u32,
    /// PUSH_PROMISE's promised stream.
    pub(super) promised: Option<u32>,
    /// The frame of its HEADERS or PUSH_PROMISE.
    pub(super) at: Origin,
    pub(super) end_stream: bool,
    pub(super) buf: Vec<u8>,
    /// Longer than [`MAX_BLOCK`]: its bytes were dropped.
    pub(super) too_big: bool,
}

#[derive(Debug)]
struct Dir {
    state: State,
    hdr: [u8; HEADER_LEN],
    hdr_len: usize,
    payload: Vec<u8>,
    block: Option<Block>,
    hpack: Hpack,
    /// Largest frame the other side accepts (its SETTINGS_MAX_FRAME_SIZE).
    max_frame: u32,
    /// Bytes searched and candidates tried since the last gap.
    resync_bytes: u64,
    resync_tries: u32,
    resync_buf: Vec<u8>,
    /// The next frame header must be plausible (the frame before it was found by searching).
    verify_next: bool,
}

impl Dir {
    fn new(state: State, mid_stream: bool) -> Self {
        Dir {
            state,
            hdr: [0; HEADER_LEN],
            hdr_len: 0,
            payload: Vec::new(),
            block: None,
            hpack: Hpack::new(mid_stream),
            max_frame: frame::DEFAULT_MAX_FRAME,
            resync_bytes: 0,
            resync_tries: 0,
            resync_buf: Vec::new(),
            verify_next: false,
        }
    }
}

/// The HTTP/2 parser of one connection.
#[derive(Debug)]
pub struct Http2Conn {
    facts: Http2Facts,
    /// The client's (`[0]`) and the server's (`[1]`) reader.
    dirs: [Dir; 2],
    streams: Streams,
    flow: Flow,
    /// Unanswered PINGs: opaque data, sender, time.
    pings: Vec<([u8; 8], bool, i64)>,
}

fn d(from_client: bool) -> usize {
    usize::from(!from_client)
}

impl Http2Conn {
    /// A parser for a connection that speaks HTTP/2 as `start` says.
    pub fn new(start: Http2Start) -> Self {
        let mid = start == Http2Start::MidStream;
        let client = if mid {
            State::Resync
        } else {
            State::Preface(0)
        };
        let server = if mid { State::Resync } else { State::Header };
        Http2Conn {
            facts: Http2Facts {
                start,
                ..Http2Facts::default()
            },
            dirs: [Dir::new(client, mid), Dir::new(server, mid)],
            streams: Streams::new(mid),
            flow: Flow::new(!mid),
            pings: Vec::new(),
        }
    }

    /// The parser reading at most `limit` bytes of each error response's body.
    pub fn with_body_limit(mut self, limit: BodyLimit) -> Self {
        self.streams.set_body_limit(limit);
        self
    }

    /// A connection upgraded from HTTP/1.1 (`Upgrade: h2c`): stream 1 is `request`, already
    /// ended by the client; the server's bytes after its 101 start with SETTINGS, the client's
    /// with the preface.
    pub fn after_upgrade(request: &Request) -> Self {
        let mut conn = Http2Conn::new(Http2Start::Upgrade);
        let at = request.last.unwrap_or(request.first);
        let an = &mut conn.facts.anomalies;
        conn.streams.on_headers(true, 1, true, None, at, an);
        conn.streams.set_request(1, request.clone());
        conn
    }

    /// Bytes or a gap from the client (`from_client`) or the server, in stream order.
    pub fn on_chunk(&mut self, from_client: bool, origin: Origin, chunk: StreamChunk<'_>) {
        match chunk {
            StreamChunk::Data { bytes, .. } => self.feed(from_client, origin, bytes),
            StreamChunk::Gap { len, .. } => self.gap(from_client, origin, len),
        }
    }

    /// The connection ended: the facts are final.
    pub fn finish(mut self) -> Http2Facts {
        for from_client in [true, false] {
            if self.dir(from_client).block.is_some() {
                self.facts.anomalies.add(BLOCK_INTERRUPTED, 1);
                self.lose_block(from_client);
            }
        }
        let streams = &self.streams;
        self.facts.stalls = self
            .flow
            .finish(|c, s| streams.sending(c, s), |c| streams.any_sending(c));
        self.facts.stream_count = self.streams.count;
        self.facts.streams = self.streams.finish();
        self.facts
    }

    fn dir(&mut self, from_client: bool) -> &mut Dir {
        &mut self.dirs[d(from_client)]
    }

    fn feed(&mut self, from_client: bool, origin: Origin, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let used = self.step(from_client, origin, bytes);
            if used == 0 {
                return;
            }
            bytes = bytes.get(used..).unwrap_or_default();
        }
    }

    /// Reads from the front of `bytes`; how many were used (0: the direction stopped).
    fn step(&mut self, from_client: bool, origin: Origin, bytes: &[u8]) -> usize {
        let start = self.facts.start;
        let dir = &mut self.dirs[d(from_client)];
        match dir.state {
            State::Stopped => 0,
            State::Preface(n) => {
                let want = PREFACE.get(n..).unwrap_or_default();
                let take = want.len().min(bytes.len());
                if bytes.get(..take) == want.get(..take) {
                    dir.state = if n + take == PREFACE.len() {
                        State::Header
                    } else {
                        State::Preface(n + take)
                    };
                    take
                } else if n == 0 && start == Http2Start::Upgrade {
                    // Some clients start frames at once; read them.
                    dir.state = State::Header;
                    self.step(from_client, origin, bytes)
                } else {
                    self.facts.anomalies.add(BAD_PREFACE, 1);
                    self.resync(from_client);
                    self.step(from_client, origin, bytes)
                }
            }
            State::Header => {
                let take = (HEADER_LEN - dir.hdr_len).min(bytes.len());
                if let (Some(dst), Some(src)) = (
                    dir.hdr.get_mut(dir.hdr_len..dir.hdr_len + take),
                    bytes.get(..take),
                ) {
                    dst.copy_from_slice(src);
                }
                dir.hdr_len += take;
                if dir.hdr_len == HEADER_LEN {
                    dir.hdr_len = 0;
                    if let Some(h) = FrameHeader::parse(&dir.hdr) {
                        self.on_header(from_client, origin, h);
                    }
                }
                take
            }
            State::Payload { h, left } => {
                let take = (left as usize).min(bytes.len());
                let room = MAX_PAYLOAD.saturating_sub(dir.payload.len());
                let keep = if matches!(
                    h.kind,
                    frame::HEADERS | frame::CONTINUATION | frame::PUSH_PROMISE
                ) {
                    MAX_BLOCK.saturating_sub(dir.payload.len())
                } else {
                    room
                };
                if let Some(src) = bytes.get(..take.min(keep)) {
                    dir.payload.extend_from_slice(src);
                }
                let left = left - take as u32;
                dir.state = State::Payload { h, left };
                if left == 0 {
                    dir.state = State::Header;
                    let payload = std::mem::take(&mut self.dir(from_client).payload);
                    let whole = payload.len() == h.len as usize;
                    self.on_frame(from_client, origin, h, &payload, whole);
                    let dir = self.dir(from_client);
                    if dir.payload.capacity() == 0 && payload.capacity() <= MAX_PAYLOAD {
                        dir.payload = payload;
                        dir.payload.clear();
                    }
                }
                take
            }
            State::Data { h, left, pad } => {
                let mut used = 0;
                let mut left = left;
                let mut pad = pad;
                if pad.is_none()
                    && let Some(&p) = bytes.first()
                {
                    used = 1;
                    left -= 1;
                    pad = Some(u32::from(p));
                    if u32::from(p) > left {
                        self.facts.anomalies.add(BAD_FRAME, 1);
                        pad = Some(left);
                    }
                }
                let pad_len = pad.unwrap_or(0);
                let content_left = left.saturating_sub(pad_len);
                let rest = bytes.get(used..).unwrap_or_default();
                let take = (left as usize).min(rest.len());
                let content = rest
                    .get(..take.min(content_left as usize))
                    .unwrap_or_default();
                if !content.is_empty() {
                    self.streams.on_data_bytes(from_client, h.stream, content);
                }
                let left = left - take as u32;
                self.dir(from_client).state = State::Data { h, left, pad };
                if left == 0 {
                    self.data_end(from_client, origin, h);
                }
                used + take
            }
            State::Skip { left } => {
                let take = (left as usize).min(bytes.len());
                let left = left - take as u32;
                dir.state = if left == 0 {
                    State::Header
                } else {
                    State::Skip { left }
                };
                take
            }
            State::Resync => self.search(from_client, origin, bytes),
        }
    }

    /// A whole frame header was read.
    fn on_header(&mut self, from_client: bool, origin: Origin, h: FrameHeader) {
        let dir = self.dir(from_client);
        if std::mem::take(&mut dir.verify_next) && !h.plausible(frame_cap(dir), Some(from_client)) {
            self.facts.anomalies.add(RESYNC, 1);
            self.resync(from_client);
            return;
        }
        let dir = self.dir(from_client);
        let max = dir.max_frame;
        self.facts.frames[usize::from(h.kind.min(10))] += 1;
        if h.len > max {
            self.facts.anomalies.add(FRAME_TOO_LARGE, 1);
            if h.len / FAR_TOO_LARGE > max {
                self.stop(from_client);
                return;
            }
        }
        if h.kind != frame::CONTINUATION && self.dir(from_client).block.is_some() {
            self.facts.anomalies.add(BLOCK_INTERRUPTED, 1);
            self.lose_block(from_client);
        }
        let state = match h.kind {
            frame::DATA => {
                self.streams.on_data_start(
                    from_client,
                    h.stream,
                    origin,
                    &mut self.facts.anomalies,
                );
                let pad = (h.flags & frame::PADDED == 0).then_some(0);
                if h.flags & frame::PADDED != 0 && h.len == 0 {
                    self.facts.anomalies.add(BAD_FRAME, 1);
                }
                State::Data {
                    h,
                    left: h.len,
                    pad: if h.len == 0 { Some(0) } else { pad },
                }
            }
            k if k > frame::CONTINUATION => {
                self.facts.anomalies.add(UNKNOWN_FRAME, 1);
                State::Skip { left: h.len }
            }
            _ => State::Payload { h, left: h.len },
        };
        let dir = self.dir(from_client);
        dir.state = state;
        match dir.state {
            State::Data { left: 0, .. } => self.data_end(from_client, origin, h),
            State::Payload { left: 0, .. } => {
                dir.state = State::Header;
                self.on_frame(from_client, origin, h, &[], true);
            }
            State::Skip { left: 0 } => dir.state = State::Header,
            _ => {}
        }
    }

    fn data_end(&mut self, from_client: bool, origin: Origin, h: FrameHeader) {
        self.dir(from_client).state = State::Header;
        let end = h.flags & frame::END_STREAM != 0;
        self.streams.on_data_end(from_client, h.stream, end, origin);
        let more = !end && self.streams.sending(from_client, h.stream);
        self.flow
            .on_data(from_client, h.stream, h.len, more, origin);
    }

    /// The header block of `from_client` being joined is lost.
    fn lose_block(&mut self, from_client: bool) {
        let Some(b) = self.dir(from_client).block.take() else {
            return;
        };
        self.dir(from_client).hpack.lose();
        self.facts.undecodable_header_blocks += 1;
        let an = &mut self.facts.anomalies;
        match b.promised {
            Some(promised) => self.streams.on_push_promise(promised, None, b.at, an),
            None => self
                .streams
                .on_headers(from_client, b.stream, false, None, b.at, an),
        }
    }

    fn stop(&mut self, from_client: bool) {
        self.lose_block(from_client);
        let dir = self.dir(from_client);
        dir.state = State::Stopped;
        dir.payload = Vec::new();
        dir.resync_buf = Vec::new();
        dir.hpack.lose();
        self.facts.desync[d(from_client)] = true;
        self.flow.stop();
    }

    /// The frame boundary is lost: search for the next frame; the HPACK table is gone.
    fn resync(&mut self, from_client: bool) {
        self.lose_block(from_client);
        self.flow.stop();
        let dir = self.dir(from_client);
        dir.hpack.lose();
        dir.state = State::Resync;
        dir.hdr_len = 0;
        dir.payload.clear();
        dir.verify_next = false;
    }

    /// Searching after a gap: the bytes go into the search window; at a plausible frame
    /// header, reading goes on from there (the next header is checked too).
    fn search(&mut self, from_client: bool, origin: Origin, bytes: &[u8]) -> usize {
        let dir = self.dir(from_client);
        let cap = frame_cap(dir);
        dir.resync_buf.extend_from_slice(bytes);
        dir.resync_bytes = dir.resync_bytes.saturating_add(bytes.len() as u64);
        let buf = std::mem::take(&mut dir.resync_buf);
        if let Some(at) = frame::find_frame(&buf, cap, from_client) {
            let mid = self.facts.start == Http2Start::MidStream;
            let dir = self.dir(from_client);
            dir.resync_tries += 1;
            dir.state = State::Header;
            // A late join's first frame starts the bytes; any other found frame's successor must
            // be plausible too.
            dir.verify_next = !(mid && at == 0 && dir.resync_tries == 1);
            let rest = buf.get(at..).unwrap_or_default().to_vec();
            self.feed(from_client, origin, &rest);
            return bytes.len();
        }
        let dir = self.dir(from_client);
        if dir.resync_bytes > RESYNC_LIMIT || dir.resync_tries > RESYNC_TRIES {
            self.stop(from_client);
            return bytes.len();
        }
        // Keep the tail where a header could begin.
        let keep = buf.len().saturating_sub(HEADER_LEN - 1);
        dir.resync_buf = buf.get(keep..).unwrap_or_default().to_vec();
        bytes.len()
    }

    /// `len` bytes of the direction the capture never saw.
    fn gap(&mut self, from_client: bool, origin: Origin, len: u64) {
        let dir = self.dir(from_client);
        match dir.state {
            State::Stopped => {}
            State::Resync => {
                dir.resync_buf.clear();
                dir.resync_bytes = 0;
            }
            State::Data { h, left, pad } => {
                let content_left = left.saturating_sub(pad.unwrap_or(0));
                let missing = len.min(u64::from(content_left));
                self.streams.on_data_missing(from_client, h.stream, missing);
                if len < u64::from(left) {
                    let left = left - len as u32;
                    // The padding length byte may have been lost: the rest counts as content.
                    let pad = pad.or(Some(0));
                    self.dir(from_client).state = State::Data { h, left, pad };
                } else {
                    self.data_end(from_client, origin, h);
                    if len > u64::from(left) {
                        self.gap_lost(from_client);
                    }
                }
            }
            State::Skip { left } => self.skip_gap(from_client, len, left),
            State::Payload { h, left } => {
                if matches!(
                    h.kind,
                    frame::HEADERS | frame::CONTINUATION | frame::PUSH_PROMISE
                ) {
                    // Its header block is lost, and with it the table.
                    let stream = h.stream;
                    if self.dir(from_client).block.is_none() {
                        self.dir(from_client).block = Some(Block {
                            stream,
                            promised: None,
                            at: origin,
                            end_stream: false,
                            buf: Vec::new(),
                            too_big: false,
                        });
                    }
                    self.lose_block(from_client);
                }
                self.dir(from_client).payload.clear();
                self.skip_gap(from_client, len, left);
            }
            State::Header | State::Preface(_) => self.gap_lost(from_client),
        }
    }

    /// A gap of `len` bytes inside a frame with `left` payload bytes to come: skipped when it
    /// ends within the frame, the frame boundary lost when it runs past it.
    fn skip_gap(&mut self, from_client: bool, len: u64, left: u32) {
        if len < u64::from(left) {
            self.dir(from_client).state = State::Skip {
                left: left - len as u32,
            };
        } else if len == u64::from(left) {
            self.dir(from_client).state = State::Header;
        } else {
            self.gap_lost(from_client);
        }
    }

    /// A gap took frame boundaries with it.
    fn gap_lost(&mut self, from_client: bool) {
        self.facts.anomalies.add(RESYNC, 1);
        self.resync(from_client);
        let dir = self.dir(from_client);
        dir.resync_bytes = 0;
        dir.resync_tries = 0;
        dir.resync_buf.clear();
    }

    /// A whole frame (`whole`: its payload was kept entirely) other than DATA.
    fn on_frame(&mut self, from_client: bool, at: Origin, h: FrameHeader, p: &[u8], whole: bool) {
        super::frames::on_frame(self, from_client, at, h, p, whole);
    }
}

/// The longest frame a search accepts as plausible for this direction.
fn frame_cap(dir: &Dir) -> u32 {
    dir.max_frame.max(frame::DEFAULT_MAX_FRAME)
}

/// What `frames.rs` reaches inside the connection.
impl Http2Conn {
    pub(super) fn facts_mut(&mut self) -> &mut Http2Facts {
        &mut self.facts
    }

    pub(super) fn parts(&mut self) -> (&mut Http2Facts, &mut Streams, &mut Flow) {
        (&mut self.facts, &mut self.streams, &mut self.flow)
    }

    pub(super) fn block_mut(&mut self, from_client: bool) -> &mut Option<Block> {
        &mut self.dir(from_client).block
    }

    pub(super) fn set_max_frame(&mut self, to_client: bool, size: u32) {
        self.dir(!to_client).max_frame = size;
    }

    pub(super) fn hpack_mut(&mut self, from_client: bool) -> &mut Hpack {
        &mut self.dir(from_client).hpack
    }

    pub(super) fn pings_mut(&mut self) -> &mut Vec<([u8; 8], bool, i64)> {
        &mut self.pings
    }

    pub(super) fn lose(&mut self, from_client: bool) {
        self.lose_block(from_client);
    }
}
