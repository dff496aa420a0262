//! Bytes as both directions of a TLS connection on port 443 (see `common::split_streams`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (segment, client, server) = common::split_streams(data);
    let mut feed = common::Feed::new();
    common::tcp_conversation(&mut feed, common::CLIENT_PORT, 443, client, server, segment);
    feed.finish();
});
