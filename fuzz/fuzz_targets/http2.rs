//! Bytes as the client and server streams of an HTTP/2 connection in clear on port 80: the
//! client's connection preface is put before the client's bytes, so both directions reach the
//! HTTP/2 parser (frames, HPACK, streams, gRPC) and on to the rendered findings (see
//! `common::split_streams`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

/// RFC 9113 3.4.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let (segment, client, server) = common::split_streams(data);
    let client = [PREFACE, client].concat();
    let mut feed = common::Feed::new();
    common::tcp_conversation(&mut feed, common::CLIENT_PORT, 80, &client, server, segment);
    feed.finish();
});
