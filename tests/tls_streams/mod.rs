//! The TLS streams of a capture as the TCP stage hands them out, and the check that the TLS
//! parser reads them the same however they are cut: no panic, a bounded buffer, the same facts.

#![allow(dead_code)]

use std::collections::BTreeMap;

use faultline::app::tls::{MAX_HANDSHAKE_MESSAGE, TlsConn};
use faultline::decode::{Decoded, Decoder, DefragLimits, Transport};
use faultline::flows::Timeouts;
use faultline::source::open_path;
use faultline::tcp::{Delivery, Origin, StreamChunk, StreamObserver, TcpTracker};

/// The first bytes of each direction of each stream are kept, at most this many (enough for
/// the handshake and the first encrypted records).
pub const PREFIX: usize = 4096;

/// Each stream's client and server bytes (in order, up to the first gap).
#[derive(Default)]
struct Collector {
    streams: BTreeMap<u64, [Vec<u8>; 2]>,
    gapped: BTreeMap<(u64, usize), bool>,
}

impl StreamObserver for Collector {
    fn on_chunk(
        &mut self,
        stream: u64,
        from_client: bool,
        _origin: Origin,
        chunk: StreamChunk<'_>,
    ) {
        let side = usize::from(!from_client);
        if *self.gapped.get(&(stream, side)).unwrap_or(&false) {
            return;
        }
        match chunk {
            StreamChunk::Data { bytes, .. } => {
                let buf = &mut self.streams.entry(stream).or_default()[side];
                let room = PREFIX.saturating_sub(buf.len());
                buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            StreamChunk::Gap { .. } => {
                self.gapped.insert((stream, side), true);
            }
        }
    }

    fn on_end(&mut self, _stream: u64) {}
}

/// Client and server byte prefixes of every stream whose client starts with a TLS record.
pub fn tls_streams(path: &str) -> Vec<(u64, [Vec<u8>; 2])> {
    let Ok(mut reader) = open_path(path) else {
        return Vec::new();
    };
    let mut decoder = Decoder::new(DefragLimits::default());
    let mut tcp = TcpTracker::new(Timeouts::default(), Delivery::default());
    let mut collector = Collector::default();
    reader.for_each_frame(|frame| {
        if let Ok(Decoded::Packet(packet)) = decoder.decode(frame)
            && let Transport::Tcp(segment) = packet.transport
        {
            tcp.on_segment(
                frame.number,
                frame.ts_ns,
                frame.orig_len,
                &packet.ip,
                &segment,
                &mut collector,
            );
        }
    });
    tcp.finish(&mut collector, |_, _| {});
    collector
        .streams
        .into_iter()
        .filter(|(_, [client, _])| matches!(client.as_slice(), [22, 3, ..]))
        .collect()
}

fn feed(pieces: &[(bool, &[u8])]) -> TlsConn {
    let origin = Origin { frame: 1, ts_ns: 0 };
    let mut conn = TlsConn::default();
    let mut offsets = [0u64; 2];
    for &(from_client, bytes) in pieces {
        let offset = &mut offsets[usize::from(!from_client)];
        conn.on_chunk(
            from_client,
            origin,
            &StreamChunk::Data {
                offset: *offset,
                bytes,
            },
        );
        *offset += bytes.len() as u64;
        assert!(
            conn.buffered() <= 2 * MAX_HANDSHAKE_MESSAGE,
            "buffer beyond its cap"
        );
    }
    conn
}

/// Feeds the stream whole, then cut in two at every byte boundary of each direction: the
/// facts must be the same (the client's bytes first, then the server's; one origin for all).
/// Returns the number of cuts tried.
pub fn check_every_cut(name: &str, stream: u64, [client, server]: &[Vec<u8>; 2]) -> usize {
    let whole = feed(&[(true, client), (false, server)]).into_facts();
    let mut cuts = 0;
    for cut in 0..=client.len() {
        let (a, b) = client.split_at(cut);
        let facts = feed(&[(true, a), (true, b), (false, server)]).into_facts();
        assert_eq!(facts, whole, "{name} stream {stream}: client cut at {cut}");
        cuts += 1;
    }
    for cut in 0..=server.len() {
        let (a, b) = server.split_at(cut);
        let facts = feed(&[(true, client), (false, a), (false, b)]).into_facts();
        assert_eq!(facts, whole, "{name} stream {stream}: server cut at {cut}");
        cuts += 1;
    }
    cuts
}
