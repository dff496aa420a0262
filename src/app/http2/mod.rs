//! HTTP/2 (RFC 9113) over one connection: frames, HPACK header blocks (RFC 7541) and streams,
//! each stream a call with its request, response, reset and gRPC facts ([`Http2Facts`]).
//!
//! [`Http2Conn`] takes each direction's reassembled bytes and gaps ([`StreamChunk`]) as
//! HTTP/1.x's parser does: frames are read as they come (a frame header and the payload of a
//! non-DATA frame are buffered, DATA streams through and is counted); header blocks are joined
//! across CONTINUATION (bounded) and decoded with the direction's HPACK table. After bytes the
//! capture lost, the next frame is searched for and the direction's HPACK table is lost for
//! good: later header blocks are undecodable, never decoded with a wrong table.
//!
//! [`StreamChunk`]: crate::tcp::StreamChunk

mod conn;
mod facts;
mod fields;
mod flow;
mod frame;
mod frames;
mod grpc;
mod hpack;
mod stream;

pub use conn::{
    BAD_FRAME, BAD_PREFACE, BLOCK_INTERRUPTED, BLOCK_TOO_BIG, CONTINUATION_OUT_OF_PLACE,
    FRAME_TOO_LARGE, HPACK_ERROR, Http2Conn, MAX_BLOCK, RESYNC, UNKNOWN_FRAME,
};
pub use facts::{
    ErrorCode, GoAway, GrpcFacts, GrpcMessages, GrpcStatusDetails, H2Stream, Http2Facts,
    Http2Start, MAX_GOAWAYS, MAX_STREAMS, Pings, Settings, StreamReset, WindowStall,
};
pub use flow::STALL_NS;
pub use frame::{looks_like_frames, starts_preface};
pub use grpc::{
    MAX_DETAIL_TYPES, MAX_MESSAGE, MessageCounter, decode_message, parse_status_details,
    parse_timeout, split_path, status_name,
};
pub use stream::BEYOND_CAP;

#[cfg(test)]
mod tests;
