//! One frame decoded as each link type faultline reads, through the decoder and the rest of the
//! analysis (ICMP errors quoting packets, UDP, TCP, fragments).
#![no_main]

mod common;

use faultline::source::LinkType;
use libfuzzer_sys::fuzz_target;

/// Every link type the decoder knows, and one it does not.
const LINK_TYPES: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType(12),
    LinkType(14),
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

fuzz_target!(|data: &[u8]| {
    let mut feed = common::Feed::new();
    for link_type in LINK_TYPES {
        feed.frame(link_type, data, 1_000_000);
    }
    feed.finish();
});
