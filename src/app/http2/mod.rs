//! HTTP/2 (RFC 9113) over one connection: frames, HPACK header blocks (RFC 7541) and streams,
//! each stream a call with its request, response, reset and gRPC facts ([`Http2Facts`]).

mod facts;
mod grpc;

pub use facts::{
    ErrorCode, GoAway, GrpcFacts, GrpcMessages, GrpcStatusDetails, H2Stream, Http2Facts,
    Http2Start, MAX_GOAWAYS, MAX_STREAMS, Pings, Settings, StreamReset, WindowStall,
};
pub use grpc::{
    MAX_DETAIL_TYPES, MAX_MESSAGE, MessageCounter, decode_message, parse_status_details,
    parse_timeout, split_path, status_name,
};
