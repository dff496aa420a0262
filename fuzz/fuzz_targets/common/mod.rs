//! Shared by the fuzz targets: synthetic IPv4 frames (TCP and UDP) fed through the whole
//! [`Analyzer`], and the findings rendered as a user would see them.
//!
//! The stream targets (tls, http, dns) wrap the fuzzer's bytes in a made-up TCP connection so
//! each byte goes through decode → tcp reassembly → the protocol's parser → diagnosis → report,
//! exactly as it would from a capture, without a pcap writer in between.

#![allow(dead_code)] // each target uses part of this module

use faultline::analysis::{Analysis, Analyzer, Config};
use faultline::source::{Frame, LinkType};

/// The client and server of every synthetic connection.
pub const CLIENT: [u8; 4] = [10, 0, 0, 1];
pub const SERVER: [u8; 4] = [10, 0, 0, 2];
pub const CLIENT_PORT: u16 = 40_000;

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// The largest TCP payload one synthetic segment carries.
pub const MSS: usize = 1448;

/// A TCP segment to put in an IPv4 packet.
pub struct Segment<'a> {
    pub src: ([u8; 4], u16),
    pub dst: ([u8; 4], u16),
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw option bytes (padded to a multiple of 4, at most 40 kept).
    pub options: &'a [u8],
    pub payload: &'a [u8],
}

/// An IPv4 header for `payload_len` bytes of `protocol` (checksum left zero: nothing checks it).
fn ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8, payload_len: usize, out: &mut Vec<u8>) {
    let total = u16::try_from(20 + payload_len).unwrap_or(u16::MAX);
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
}

/// The bytes of one IPv4/TCP packet (link type RAW).
pub fn tcp_packet(s: &Segment<'_>) -> Vec<u8> {
    let mut options = s.options[..s.options.len().min(40)].to_vec();
    while !options.len().is_multiple_of(4) {
        options.push(0);
    }
    let header_len = 20 + options.len();
    let payload = &s.payload[..s.payload.len().min(65_535 - 20 - header_len)];
    let mut out = Vec::with_capacity(20 + header_len + payload.len());
    ipv4(s.src.0, s.dst.0, 6, header_len + payload.len(), &mut out);
    out.extend_from_slice(&s.src.1.to_be_bytes());
    out.extend_from_slice(&s.dst.1.to_be_bytes());
    out.extend_from_slice(&s.seq.to_be_bytes());
    out.extend_from_slice(&s.ack.to_be_bytes());
    out.push(((header_len / 4) as u8) << 4);
    out.push(s.flags);
    out.extend_from_slice(&s.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(&options);
    out.extend_from_slice(payload);
    out
}

/// The bytes of one IPv4/UDP packet (link type RAW).
pub fn udp_packet(src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) -> Vec<u8> {
    let payload = &payload[..payload.len().min(65_535 - 28)];
    let mut out = Vec::with_capacity(28 + payload.len());
    ipv4(src.0, dst.0, 17, 8 + payload.len(), &mut out);
    out.extend_from_slice(&src.1.to_be_bytes());
    out.extend_from_slice(&dst.1.to_be_bytes());
    out.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    out
}

/// Frames fed to one [`Analyzer`] in order, numbered from 1.
pub struct Feed {
    analyzer: Analyzer,
    number: u64,
    pub ts_ns: i64,
}

impl Feed {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A feed whose analyzer decrypts TLS with the corpus's key logs (`keyed/*.keys` under
    /// `$FAULTLINE_CORPUS`, read once): seeds cut from the keyed captures then reach the record
    /// decryption, the resynchronisation after gaps and the HTTP parser behind them.
    pub fn with_corpus_keys() -> Self {
        static KEYS: std::sync::OnceLock<faultline::app::tls::KeyLog> = std::sync::OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            let keys = faultline::app::tls::KeyLog::new();
            if let Some(dir) = std::env::var_os("FAULTLINE_CORPUS") {
                let keyed = std::path::Path::new(&dir).join("keyed");
                for entry in std::fs::read_dir(keyed).into_iter().flatten().flatten() {
                    if entry.path().extension().is_some_and(|e| e == "keys") {
                        let _ = keys.load_file(&entry.path());
                    }
                }
            }
            keys
        });
        Self::with_config(Config {
            keys: keys.clone(),
            ..Config::default()
        })
    }

    fn with_config(config: Config) -> Self {
        Self {
            analyzer: Analyzer::new(config),
            number: 0,
            ts_ns: 1_700_000_000_000_000_000,
        }
    }

    /// One frame `step_ns` after the previous one (negative: the clock went backwards).
    pub fn frame(&mut self, link_type: LinkType, bytes: &[u8], step_ns: i64) {
        self.number += 1;
        self.ts_ns = self.ts_ns.saturating_add(step_ns);
        let frame = Frame {
            number: self.number,
            ts_ns: self.ts_ns,
            link_type,
            bytes,
            orig_len: bytes.len() as u32,
        };
        self.analyzer.process(&frame);
        self.analyzer.take_connections(drop);
    }

    /// An IPv4 packet 1 ms after the previous frame.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.frame(LinkType::RAW, bytes, 1_000_000);
    }

    /// Ends the capture and renders every finding.
    pub fn finish(self) -> Analysis {
        let analysis = self.analyzer.finish();
        render(&analysis);
        analysis
    }
}

/// Renders every finding as the text and NDJSON reports do (hostile names must not panic there).
pub fn render(analysis: &Analysis) {
    let mut out = Vec::new();
    for finding in &analysis.findings {
        faultline::report::write_finding_text(&mut out, finding, true).expect("write to a Vec");
        faultline::report::write_finding_ndjson(&mut out, finding).expect("write to a Vec");
        out.clear();
    }
}

/// One TCP connection from `client_port`, handshake to FIN, carrying `client` then `server`
/// bytes to `port`, in
/// segments of `segment` bytes; the client sends its second half only after the server
/// answered the first, so request/response protocols see an exchange.
pub fn tcp_conversation(
    feed: &mut Feed,
    client_port: u16,
    port: u16,
    client: &[u8],
    server: &[u8],
    segment: usize,
) {
    let mut conn = Conversation {
        ends: [(CLIENT, client_port), (SERVER, port)],
        next: [1_000, 5_000],
    };
    conn.send(feed, 0, SYN, &[]);
    conn.send(feed, 1, SYN | ACK, &[]);
    conn.send(feed, 0, ACK, &[]);
    let segment = segment.clamp(1, MSS);
    let (c1, c2) = client.split_at(client.len() / 2);
    let (s1, s2) = server.split_at(server.len() / 2);
    for (side, half) in [(0, c1), (1, s1), (0, c2), (1, s2)] {
        for chunk in half.chunks(segment) {
            conn.send(feed, side, PSH | ACK, chunk);
        }
    }
    conn.send(feed, 0, FIN | ACK, &[]);
    conn.send(feed, 1, FIN | ACK, &[]);
    conn.send(feed, 0, ACK, &[]);
}

/// Both ends of a synthetic connection (0: client, 1: server) and the next sequence number each
/// sends.
struct Conversation {
    ends: [([u8; 4], u16); 2],
    next: [u32; 2],
}

impl Conversation {
    /// One in-order segment from `side`, acknowledging everything the other side sent.
    fn send(&mut self, feed: &mut Feed, side: usize, flags: u8, payload: &[u8]) {
        let other = 1 - side;
        feed.raw(&tcp_packet(&Segment {
            src: self.ends[side],
            dst: self.ends[other],
            seq: self.next[side],
            ack: if flags & ACK != 0 {
                self.next[other]
            } else {
                0
            },
            flags,
            window: 65_535,
            options: &[],
            payload,
        }));
        let advance = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        self.next[side] = self.next[side].wrapping_add(advance);
    }
}

/// The two directions of a stream target's input: byte 0 chooses the segment size (0: a full
/// [`MSS`]), bytes 1-2 the client's length (big-endian), then the client's bytes and the
/// server's. `fuzz/seed.sh` writes its seeds in this layout.
pub fn split_streams(data: &[u8]) -> (usize, &[u8], &[u8]) {
    let Some((&seg, rest)) = data.split_first() else {
        return (MSS, &[], &[]);
    };
    let segment = if seg == 0 { MSS } else { usize::from(seg) };
    if rest.len() < 2 {
        return (segment, rest, &[]);
    }
    let client_len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
    let rest = &rest[2..];
    let (client, server) = rest.split_at(client_len.min(rest.len()));
    (segment, client, server)
}
