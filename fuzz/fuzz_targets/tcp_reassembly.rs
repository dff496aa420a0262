//! A sequence of TCP segments derived from the input, between two hosts on two connections,
//! through the TCP tracker (reassembly, retransmissions, windows, handshakes, teardown) and the
//! protocol parsers above it.
//!
//! Input: 8 bytes of initial sequence numbers (client, server), then records of 10 header bytes
//! followed by option and payload bytes:
//! 0: bit 0 server→client, bit 1 the second connection (another client port), bit 2 port 443
//!    instead of 80 on the server; 1: TCP flags; 2-3: sequence number as a signed offset from
//!    the next one this side would send; 4-5: acknowledgement as a signed offset from the next
//!    one the other side would send; 6: window / 256; 7: payload length; 8: time step (ms; 255 is
//!    two minutes, past idle timeouts; 254 is one second backwards); 9: option words (low 3 bits).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let isn = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    // next[connection][side]
    let mut next = [[isn(&data[0..4]), isn(&data[4..8])]; 2];
    let mut rest = &data[8..];
    let mut feed = common::Feed::new();
    while rest.len() >= 10 {
        let (head, tail) = rest.split_at(10);
        let side = usize::from(head[0] & 1);
        let conn = usize::from((head[0] >> 1) & 1);
        let port = if head[0] & 4 != 0 { 443 } else { 80 };
        let flags = head[1];
        let seq_off = i16::from_be_bytes([head[2], head[3]]);
        let ack_off = i16::from_be_bytes([head[4], head[5]]);
        let window = u16::from(head[6]) << 8;
        let (options, tail) = tail.split_at((usize::from(head[9] & 7) * 4).min(tail.len()));
        let (payload, tail) = tail.split_at(usize::from(head[7]).min(tail.len()));
        rest = tail;
        let step_ns = match head[8] {
            255 => 120_000_000_000,
            254 => -1_000_000_000,
            ms => i64::from(ms) * 1_000_000,
        };
        let client = (common::CLIENT, common::CLIENT_PORT + conn as u16);
        let server = (common::SERVER, port);
        let (src, dst) = if side == 0 {
            (client, server)
        } else {
            (server, client)
        };
        let seq = next[conn][side].wrapping_add_signed(i32::from(seq_off));
        let ack = next[conn][1 - side].wrapping_add_signed(i32::from(ack_off));
        let packet = common::tcp_packet(&common::Segment {
            src,
            dst,
            seq,
            ack,
            flags,
            window,
            options,
            payload,
        });
        feed.frame(faultline::source::LinkType::RAW, &packet, step_ns);
        if seq_off >= 0 {
            let syn_fin = u32::from(flags & (common::SYN | common::FIN) != 0);
            next[conn][side] = seq.wrapping_add(payload.len() as u32 + syn_fin);
        }
    }
    feed.finish();
});
