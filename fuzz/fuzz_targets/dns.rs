//! Bytes as DNS: the client's part as a query datagram and the server's as the answer over UDP,
//! then both as the two streams of a DNS-over-TCP connection (length prefixes included in the
//! bytes). Layout as in `common::split_streams`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (segment, client, server) = common::split_streams(data);
    let _ = faultline::app::dns::parse(client);
    let _ = faultline::app::dns::parse(server);
    let mut feed = common::Feed::new();
    let (c, s) = ((common::CLIENT, 33_333), (common::SERVER, 53));
    feed.raw(&common::udp_packet(c, s, client));
    feed.raw(&common::udp_packet(s, c, server));
    common::tcp_conversation(&mut feed, 53, client, server, segment);
    feed.finish();
});
