//! HTTP/2 (RFC 9113) over one connection: frames, HPACK header blocks (RFC 7541) and streams,
//! each stream a call with its request, response, reset and gRPC facts ([`Http2Facts`]).

mod facts;

pub use facts::{
    ErrorCode, GoAway, GrpcFacts, GrpcMessages, GrpcStatusDetails, H2Stream, Http2Facts,
    Http2Start, MAX_GOAWAYS, MAX_STREAMS, Pings, Settings, StreamReset, WindowStall,
};
