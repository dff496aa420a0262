//! Bytes as DNS (layout as in `common::split_streams`): the client's part as a query datagram
//! and the server's as its answer over UDP; then over TCP twice: once with the bytes as the two
//! streams as they are (the fuzzer controls the length prefixes), once framed by the harness as
//! one length-prefixed message each way.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

/// `message` behind its DNS-over-TCP length prefix (cut at 65,535 bytes).
fn framed(message: &[u8]) -> Vec<u8> {
    let message = &message[..message.len().min(usize::from(u16::MAX))];
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

fuzz_target!(|data: &[u8]| {
    let (segment, client, server) = common::split_streams(data);
    let mut feed = common::Feed::new();
    let (c, s) = ((common::CLIENT, 33_333), (common::SERVER, 53));
    feed.raw(&common::udp_packet(c, s, client));
    feed.raw(&common::udp_packet(s, c, server));
    let port = common::CLIENT_PORT;
    common::tcp_conversation(&mut feed, port, 53, client, server, segment);
    let (client, server) = (framed(client), framed(server));
    common::tcp_conversation(&mut feed, port + 1, 53, &client, &server, segment);
    feed.finish();
});
