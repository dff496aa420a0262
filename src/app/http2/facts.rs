//! What HTTP/2 parsing learns about one connection (RFC 9113): each stream as a call with its
//! request and response (the same `Exchange` HTTP/1.x fills, so one status table judges both),
//! its reset, its gRPC facts, and the connection's GOAWAYs, settings, pings and windows.
//!
//! Only what the report and the rules need is kept; header values go through the same redaction
//! and clipping as HTTP/1.x, bodies and gRPC messages are counted, never kept.

use crate::app::Anomalies;
use crate::app::http::Exchange;
use crate::tcp::Origin;

/// At most this many streams are kept per connection (healthy finished ones are dropped to make
/// room, as `http::MAX_EXCHANGES`; the count goes on).
pub const MAX_STREAMS: usize = 4096;
/// At most this many GOAWAY frames are kept per connection.
pub const MAX_GOAWAYS: usize = 8;

/// How the connection came to speak HTTP/2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Http2Start {
    /// Not HTTP/2.
    #[default]
    None,
    /// The client's connection preface on cleartext TCP (h2c with prior knowledge).
    PriorKnowledge,
    /// An HTTP/1.1 `Upgrade: h2c` request answered `101 Switching Protocols` (stream 1 is that
    /// request).
    Upgrade,
    /// TLS with ALPN `h2` (the preface inside decrypted application data).
    Alpn,
    /// The capture started after the preface: frames recognised by their headers; header blocks
    /// before the first one that decodes on a fresh HPACK table are undecodable.
    MidStream,
}

/// RFC 9113 section 7 error codes (RST_STREAM and GOAWAY), with unknown codes kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The RFC's name (`REFUSED_STREAM`), or `0x2a` for a code it does not define.
    pub fn name(self) -> String {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        match NAMES.get(self.0 as usize) {
            Some(name) => (*name).to_owned(),
            None => format!("0x{:x}", self.0),
        }
    }
}

/// An RST_STREAM frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamReset {
    pub code: ErrorCode,
    /// The client sent it (else the server).
    pub by_client: bool,
    /// The frame that carried it.
    pub at: Origin,
}

/// A GOAWAY frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoAway {
    pub code: ErrorCode,
    /// The client sent it (else the server).
    pub by_client: bool,
    /// The highest stream id the sender may have processed; streams above it (started by the
    /// receiver) were not processed and are safe to retry.
    pub last_stream_id: u32,
    /// The debug data, as text (control bytes escaped by the reports, secrets redacted, clipped).
    pub debug: Option<String>,
    pub at: Origin,
}

/// One direction's SETTINGS, as last announced (`None`: never announced, the RFC default holds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub header_table_size: Option<u32>,
    pub max_concurrent_streams: Option<u32>,
    pub initial_window_size: Option<u32>,
    pub max_frame_size: Option<u32>,
    pub max_header_list_size: Option<u32>,
    /// The frame of the first SETTINGS (the preface's), if seen.
    pub first: Option<Origin>,
}

/// A flow-control window that stayed closed: the receiver stopped granting credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowStall {
    /// The side whose data was held back (the sender): the client's request body or the
    /// server's response.
    pub sender_is_client: bool,
    /// The stream whose window closed, or 0 for the connection window.
    pub stream_id: u32,
    /// The DATA frame that used up the last credit.
    pub closed_at: Origin,
    /// A WINDOW_UPDATE that reopened it, if one came.
    pub reopened_at: Option<Origin>,
}

/// PING round trips (ACKed pings), for the connection's RTT as HTTP/2 sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pings {
    pub sent: u32,
    pub acked: u32,
    pub min_rtt_ns: Option<i64>,
    pub max_rtt_ns: Option<i64>,
}

/// gRPC's counts of length-prefixed messages in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrpcMessages {
    pub count: u64,
    /// Message bytes (without the 5-byte prefixes).
    pub bytes: u64,
    /// Messages with the compressed flag set.
    pub compressed: u64,
    /// The body ended inside a message (its prefix promised more than came).
    pub cut: bool,
    /// A capture gap may have hidden message prefixes: counting stopped there, the counts are
    /// what came before it and `cut` is not judged.
    pub lost: bool,
}

/// `grpc-status-details-bin`: a google.rpc.Status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrpcStatusDetails {
    pub code: Option<i32>,
    pub message: Option<String>,
    /// The type URLs of its details (`type.googleapis.com/google.rpc.ErrorInfo`), and an
    /// ErrorInfo's reason when one is there.
    pub detail_types: Vec<String>,
    pub error_info_reason: Option<String>,
}

/// What a gRPC call (a stream with `content-type: application/grpc*`) showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrpcFacts {
    /// From `:path` `/package.Service/Method`.
    pub service: String,
    pub method: String,
    /// `grpc-timeout`, the client's deadline, in nanoseconds.
    pub timeout_ns: Option<u64>,
    /// `grpc-encoding` of the request (compression), when not identity.
    pub encoding: Option<String>,
    pub requests: GrpcMessages,
    pub responses: GrpcMessages,
    /// `grpc-status` (0 OK ... 16 UNAUTHENTICATED; other numbers kept as sent).
    pub status: Option<u32>,
    /// `grpc-message`, percent-decoded, redacted and clipped.
    pub message: Option<String>,
    pub details: Option<GrpcStatusDetails>,
    /// The status came in the only HEADERS of the response (Trailers-Only: an error before any
    /// message).
    pub trailers_only: bool,
    /// The frame that carried the status.
    pub status_at: Option<Origin>,
}

/// One HTTP/2 stream: a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H2Stream {
    pub id: u32,
    /// The request and response in the form HTTP/1.x uses: method, `:path` as target,
    /// `:authority` as host, `:status`, the failure headers; `first`/`last` are the frames of the
    /// first and last HEADERS/DATA of each side; body bytes are DATA payload (padding excluded).
    /// `response.complete` is END_STREAM from the server.
    pub exchange: Exchange,
    /// The frame of the client's END_STREAM.
    pub request_end: Option<Origin>,
    /// `content-type` of the request (or the response when the request had none).
    pub content_type: Option<String>,
    /// The response's trailers (a HEADERS after DATA, END_STREAM set), with their frame.
    pub trailers_at: Option<Origin>,
    pub reset: Option<StreamReset>,
    /// A header block of this stream could not be decoded (HPACK state lost after a gap, or
    /// the capture started mid-connection): what the headers said is unknown, never guessed.
    pub headers_undecodable: bool,
    /// Set when the stream is a gRPC call.
    pub grpc: Option<Box<GrpcFacts>>,
    /// A PUSH_PROMISE opened it (server push): the server's stream, not a client call.
    pub pushed: bool,
}

/// What HTTP/2 parsing found on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http2Facts {
    pub start: Http2Start,
    /// Streams in the order they opened: every one that could have failed, up to
    /// [`MAX_STREAMS`].
    pub streams: Vec<H2Stream>,
    /// Streams opened (all, including those beyond the cap).
    pub stream_count: u64,
    pub goaways: Vec<GoAway>,
    /// SETTINGS as announced by the client (`[0]`) and the server (`[1]`).
    pub settings: [Settings; 2],
    pub pings: Pings,
    /// Windows that closed and stayed closed for at least one round trip (or to the end).
    pub stalls: Vec<WindowStall>,
    /// Frames of each kind, for the conns report: DATA, HEADERS, ... by RFC type number
    /// (0..=9; others at 10).
    pub frames: [u64; 11],
    /// The client's (`[0]`) and the server's (`[1]`) byte streams stopped being parseable
    /// HTTP/2 (a gap inside a frame header that could not be resynchronised, a frame longer
    /// than SETTINGS_MAX_FRAME_SIZE allows by far).
    pub desync: [bool; 2],
    /// Header blocks that could not be decoded (HPACK lost after a gap, mid-stream start).
    pub undecodable_header_blocks: u64,
    /// What broke the protocol's rules but was read anyway, by reason.
    pub anomalies: Anomalies,
}
