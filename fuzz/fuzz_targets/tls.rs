//! Bytes as both directions of a TLS connection on port 443 (see `common::split_streams`),
//! analysed with the corpus's TLS key logs, so seeds from its keyed captures are decrypted.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (segment, client, server) = common::split_streams(data);
    let mut feed = common::Feed::with_corpus_keys();
    common::tcp_conversation(&mut feed, common::CLIENT_PORT, 443, client, server, segment);
    feed.finish();
});
