//! One TCP connection: counters per direction, Wireshark's analysis, Zeek's state, timing.

use std::net::IpAddr;

use serde::Serialize;

use crate::decode::{IcmpMessage, IpInfo, QuotedTcp, TcpFlags, TcpOptions, TcpSegment};
use crate::flows::{Endpoint, FlowKey, FlowState, Side};

use super::facts::{ConnectionFacts, Observed, SideFacts, TtlMark};
use super::reassembly::{Origin, Reassembler, StreamChunk};
use super::seq::Seq;
use super::wireshark::{SegmentFlags, WiresharkConn};
use super::zeek::ZeekConn;

/// Ports Zeek's scripts register as likely servers; a first packet *from* one of them (that is not
/// a SYN) means the capture missed the start and the sender is the server.
const LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 25, 53, 79, 80, 81, 88, 110, 135, 139, 143, 389, 443, 445, 502, 563, 585, 587, 614,
    631, 636, 989, 990, 992, 993, 995, 1080, 1883, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269,
    5432, 6379, 6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000,
];

/// At most this many ICMP errors are kept per connection (the count goes on).
const MAX_ICMP_NOTES: usize = 8;

/// Bytes each direction's reassembler holds ahead of a hole before it gives the hole up as a gap.
/// A hole stays open about one round trip (fast retransmit) or one RTO, while the sender keeps
/// filling its window: the cap must cover a window, or a lossy transfer gets gaps that were
/// never lost. Buffers exist only while a hole is open.
const REASSEMBLY_CAP: usize = 1 << 20;

/// Receives the application bytes of every connection, in stream order per direction, and hears
/// when a connection ends (after its last bytes).
pub trait StreamObserver {
    /// Bytes (or a gap) sent by the client (`from_client`) or the server of `stream`.
    fn on_chunk(&mut self, stream: u64, from_client: bool, origin: Origin, chunk: StreamChunk<'_>);
    /// The connection `stream` is finished: no more chunks will come for it.
    fn on_end(&mut self, stream: u64);
}

/// Ignores application bytes.
impl StreamObserver for () {
    fn on_chunk(&mut self, _: u64, _: bool, _: Origin, _: StreamChunk<'_>) {}
    fn on_end(&mut self, _: u64) {}
}

/// Per-direction counts, named after the Wireshark analysis flags they count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DirectionCounts {
    pub packets: u64,
    /// Bytes on the wire (frame lengths), as `tshark -z conv,tcp` counts them.
    pub wire_bytes: u64,
    /// TCP payload bytes.
    pub payload_bytes: u64,
    /// All retransmissions, fast and spurious included (`tcp.analysis.retransmission` or
    /// `fast_retransmission` or `spurious_retransmission`).
    pub retransmissions: u64,
    pub fast_retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub out_of_order: u64,
    pub duplicate_acks: u64,
    pub zero_windows: u64,
    pub zero_window_probes: u64,
    pub lost_segments: u64,
    pub acked_unseen: u64,
    pub keep_alives: u64,
    pub window_full: u64,
}

impl DirectionCounts {
    fn count(&mut self, flags: SegmentFlags) {
        let n = |bit| u64::from(flags.has(bit));
        self.retransmissions += n(SegmentFlags::RETRANSMISSION)
            | n(SegmentFlags::FAST_RETRANSMISSION)
            | n(SegmentFlags::SPURIOUS_RETRANSMISSION);
        self.fast_retransmissions += n(SegmentFlags::FAST_RETRANSMISSION);
        self.spurious_retransmissions += n(SegmentFlags::SPURIOUS_RETRANSMISSION);
        self.out_of_order += n(SegmentFlags::OUT_OF_ORDER);
        self.duplicate_acks += n(SegmentFlags::DUPLICATE_ACK);
        self.zero_windows += n(SegmentFlags::ZERO_WINDOW);
        self.zero_window_probes += n(SegmentFlags::ZERO_WINDOW_PROBE);
        self.lost_segments += n(SegmentFlags::LOST_SEGMENT);
        self.acked_unseen += n(SegmentFlags::ACKED_UNSEEN);
        self.keep_alives += n(SegmentFlags::KEEP_ALIVE);
        self.window_full += n(SegmentFlags::WINDOW_FULL);
    }
}

/// An ICMP error that quoted a packet of the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IcmpNote {
    pub frame: u64,
    #[serde(skip)]
    pub ts_ns: i64,
    /// Who sent the error: the peer itself, or a router on the way.
    pub from: IpAddr,
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub mtu: Option<u32>,
    /// The quoted packet was the client's (`false`: the server's).
    #[serde(skip)]
    pub quotes_client: bool,
}

impl IcmpNote {
    pub(super) fn new(frame: u64, ts_ns: i64, from: IpAddr, msg: &IcmpMessage<'_>) -> Self {
        Self {
            frame,
            ts_ns,
            from,
            v6: msg.v6,
            icmp_type: msg.icmp_type,
            code: msg.code,
            mtu: msg.mtu,
            quotes_client: true,
        }
    }
}

/// Everything the tracker learned about one connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionSummary {
    /// Wireshark's `tcp.stream` for the same file.
    pub stream: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    /// Zeek's `conn_state` (S0, S1, SF, REJ, ...).
    pub conn_state: &'static str,
    /// Zeek's `history` letters.
    pub history: String,
    pub client_to_server: DirectionCounts,
    pub server_to_client: DirectionCounts,
    /// Wireshark's `tcp.analysis.initial_rtt`: first SYN to the ACK that completes the handshake.
    pub initial_rtt_ns: Option<i64>,
    /// The client's SYN was captured.
    pub syn_seen: bool,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub icmp_errors: Vec<IcmpNote>,
    /// ICMP errors about the connection (all of them; `icmp_errors` keeps the first few and the
    /// latest).
    pub icmp_error_count: u64,
    /// Frames of the connection, ICMP errors quoting it included (`tcp.stream eq N`).
    pub frames: u64,
    /// The frames that tell the connection's story, for the diagnosis.
    #[serde(skip)]
    pub facts: TransportFacts,
}

/// What each side of a connection sent, for the diagnosis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportFacts {
    pub client: SideFacts,
    pub server: SideFacts,
    /// When the server's address answered this connection only with a RST: the latest earlier
    /// packet from that address (in any connection) that was not a RST, to compare TTLs with.
    pub host_reference: Option<TtlMark>,
    /// Other connects to the same server endpoint whose first SYN came in the second before
    /// this connection's (a burst the server's listen queue had to hold).
    pub recent_connects: u32,
    /// Other connects to the same server endpoint whose first SYN came within a second either
    /// side of this connection's (as far as the tracker remembers them), and how many of those
    /// had to send their SYN again: set when the connection is handed out.
    pub connects_around: u32,
    pub retried_around: u32,
    /// Data retransmissions that repaired loss on any connection of the capture, up to the
    /// moment this connection was handed out.
    pub capture_lost_data: u64,
}

/// A connection being followed.
#[derive(Debug)]
pub(super) struct Connection {
    stream: u64,
    /// The side of the key that Zeek calls the originator: our client.
    client: Side,
    counts: [DirectionCounts; 2],
    wireshark: WiresharkConn,
    zeek: ZeekConn,
    syn_seen: bool,
    icmp_count: u64,
    first_frame: u64,
    last_frame: u64,
    first_ts_ns: i64,
    last_ts_ns: i64,
    frames: u64,
    icmp: Vec<IcmpNote>,
    closed: bool,
    facts: ConnectionFacts,
    host_reference: Option<TtlMark>,
    recent_connects: u32,
    /// Each direction's reassembler (indexed Low, High), started by its SYN or first data.
    reassembly: [Option<Reassembler>; 2],
}

/// What one direction's reassembler hands on, addressed to `observer` as `stream`'s bytes from
/// the client (`from_client`) or the server.
fn chunk_sink<O: StreamObserver>(
    observer: &mut O,
    stream: u64,
    from_client: bool,
) -> impl FnMut(Origin, StreamChunk<'_>) + '_ {
    move |origin, chunk| observer.on_chunk(stream, from_client, origin, chunk)
}

fn index(side: Side) -> usize {
    match side {
        Side::Low => 0,
        Side::High => 1,
    }
}

/// Zeek's rule for the originator of a connection first seen through `seg`, sent by `side`.
fn originator(key: &FlowKey, side: Side, flags: TcpFlags) -> Side {
    if flags.syn() && !flags.ack() {
        return side;
    }
    let src_port = key.endpoint(side).port;
    let dst_port = key.endpoint(side.flip()).port;
    let src_server = LIKELY_SERVER_PORTS.contains(&src_port);
    let dst_server = LIKELY_SERVER_PORTS.contains(&dst_port);
    let flip = match (src_server, dst_server) {
        (true, true) => !flags.syn() && src_port < dst_port,
        (true, false) => true,
        _ => false,
    };
    if flip { side.flip() } else { side }
}

impl Connection {
    /// Wireshark's `tcp.stream` of the connection.
    pub fn stream(&self) -> u64 {
        self.stream
    }

    pub fn new(
        stream: u64,
        key: FlowKey,
        side: Side,
        flags: TcpFlags,
        frame: u64,
        ts_ns: i64,
    ) -> Self {
        let client = originator(&key, side, flags);
        let mut zeek = ZeekConn::default();
        if client != side {
            zeek.flip_at_start();
        }
        Self {
            stream,
            client,
            counts: Default::default(),
            wireshark: WiresharkConn::default(),
            zeek,
            syn_seen: false,
            icmp_count: 0,
            first_frame: frame,
            last_frame: frame,
            first_ts_ns: ts_ns,
            last_ts_ns: ts_ns,
            frames: 0,
            icmp: Vec::new(),
            closed: false,
            facts: ConnectionFacts::default(),
            host_reference: None,
            recent_connects: 0,
            reassembly: [None, None],
        }
    }

    /// Wireshark's rule: a SYN whose sequence number differs from the one this direction started
    /// with opens a new stream on the same 4-tuple (port reuse).
    pub fn starts_new_stream(&self, side: Side, flags: TcpFlags, seq: u32) -> bool {
        self.wireshark.starts_new_stream(side, flags, seq)
    }

    /// Follows one segment sent by `side`, handing its bytes on to `observer` in stream order;
    /// returns true when the sender is the server.
    #[allow(clippy::too_many_arguments)]
    pub fn on_segment(
        &mut self,
        frame: u64,
        ts_ns: i64,
        side: Side,
        wire_len: u32,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        observer: &mut impl StreamObserver,
    ) -> bool {
        self.touch(frame, ts_ns);
        self.wireshark.on_reuse_checks(side, seg.flags, seg.seq);
        let flags = self.wireshark.analyze(side, seg, ts_ns);
        self.facts.on_segment(
            index(side),
            &Observed {
                frame,
                ts_ns,
                ttl: ip.ttl,
                ip_id: ip.ip_id,
                seg,
                flags,
            },
        );
        let counts = &mut self.counts[index(side)];
        counts.packets += 1;
        counts.wire_bytes += u64::from(wire_len);
        counts.payload_bytes += u64::from(seg.seg_len);
        counts.count(flags);
        if seg.flags.syn() && !seg.flags.ack() {
            self.syn_seen = true;
        }

        if self.zeek.on_segment(self.client == side, seg) {
            self.client = self.client.flip();
        }
        if seg.flags.rst() || self.zeek.both_closed() {
            self.closed = true;
        }
        self.reassemble(frame, ts_ns, side, seg, observer);
        side != self.client
    }

    /// Feeds the segment's payload to its direction's reassembler (a SYN or, when the SYN was
    /// missed, the first data segment fixes where the stream starts). RST payloads are
    /// diagnostic text, not stream data.
    fn reassemble(
        &mut self,
        frame: u64,
        ts_ns: i64,
        side: Side,
        seg: &TcpSegment<'_>,
        observer: &mut impl StreamObserver,
    ) {
        if seg.flags.rst() {
            return;
        }
        let (stream, from_client) = (self.stream, side == self.client);
        let origin = Origin { frame, ts_ns };
        if seg.flags.ack()
            && let Some(peer) = self.reassembly[index(side.flip())].as_mut()
        {
            let mut sink = chunk_sink(observer, stream, !from_client);
            peer.acknowledged(origin, Seq(seg.ack), &mut sink);
        }
        let slot = &mut self.reassembly[index(side)];
        let mut seq = Seq(seg.seq);
        if seg.flags.syn() {
            slot.get_or_insert_with(|| Reassembler::new(seq.wrapping_add(1), REASSEMBLY_CAP));
            seq = seq.wrapping_add(1);
        }
        if seg.seg_len > 0 {
            let reassembler = slot.get_or_insert_with(|| Reassembler::new(seq, REASSEMBLY_CAP));
            let mut sink = chunk_sink(observer, stream, from_client);
            reassembler.push(origin, seq, seg.payload, seg.seg_len, &mut sink);
        }
        if seg.flags.fin()
            && let Some(reassembler) = slot.as_mut()
        {
            reassembler.fin_at(seq.wrapping_add(seg.seg_len));
        }
    }

    /// True when the server's side has sent only RSTs so far (nothing to compare a RST's TTL
    /// with inside the connection).
    pub fn server_sent_only_resets(&self) -> bool {
        self.facts
            .side(index(self.client.flip()))
            .reference
            .is_none()
    }

    /// Keeps the host-wide reference packet for a connection the server answered only with RST.
    pub fn set_host_reference(&mut self, reference: Option<TtlMark>) {
        if self.host_reference.is_none() {
            self.host_reference = reference;
        }
    }

    /// Other connects to the same server endpoint just before this one (see
    /// [`TransportFacts::recent_connects`]).
    pub fn set_recent_connects(&mut self, n: u32) {
        self.recent_connects = n;
    }

    /// A segment of this connection quoted in an ICMP error (Wireshark: part of the stream, no
    /// sequence analysis).
    pub fn on_quoted(
        &mut self,
        frame: u64,
        ts_ns: i64,
        side: Side,
        tcp: &QuotedTcp,
        note: IcmpNote,
    ) {
        self.touch(frame, ts_ns);
        self.wireshark.on_reuse_checks(side, tcp.flags, tcp.seq);
        let seg = TcpSegment {
            src_port: 0,
            dst_port: 0,
            seq: tcp.seq,
            ack: tcp.ack,
            flags: tcp.flags,
            window: tcp.window,
            options: TcpOptions::default(),
            seg_len: 0,
            payload: &[],
            damaged: false,
        };
        self.wireshark.quoted(side, &seg, ts_ns);
        self.add_icmp_note(side, note);
    }

    /// Keeps an ICMP error about a packet `side` sent on this connection: the first few and
    /// always the latest (the last slot is overwritten), so a finding can show how long the
    /// errors went on; the rest are only counted.
    pub fn add_icmp_note(&mut self, side: Side, mut note: IcmpNote) {
        note.quotes_client = side == self.client;
        self.icmp_count += 1;
        if self.icmp.len() < MAX_ICMP_NOTES {
            self.icmp.push(note);
        } else if let Some(last) = self.icmp.last_mut() {
            *last = note;
        }
    }

    fn touch(&mut self, frame: u64, ts_ns: i64) {
        self.frames += 1;
        self.last_frame = frame;
        self.last_ts_ns = ts_ns;
    }

    /// Each direction's base sequence number (Wireshark's), indexed Low, High.
    pub fn base_seqs(&self) -> [Option<u32>; 2] {
        self.wireshark.base_seqs()
    }

    /// For an attempt nobody answered (the client sent only SYNs, the server nothing at all, not
    /// even a RST): how long the client has been trying, from its first SYN to its last.
    pub fn unanswered_attempt_span_ns(&self) -> Option<i64> {
        let (c, s) = (index(self.client), index(self.client.flip()));
        let client = self.facts.side(c);
        let only_syns =
            client.syn_count > 0 && u64::from(client.syn_count) == self.counts[c].packets;
        if self.closed || !only_syns || self.counts[s].packets > 0 {
            return None;
        }
        let first = client.first_syn?;
        let last = client.last_sent.unwrap_or(first);
        Some(last.ts_ns.saturating_sub(first.ts_ns))
    }

    /// The client sent its FIN; the server has neither closed nor reset its side.
    fn closed_by_client_only(&self) -> bool {
        let (c, s) = (index(self.client), index(self.client.flip()));
        let (client, server) = (self.facts.side(c), self.facts.side(s));
        client.first_fin.is_some() && server.first_fin.is_none() && server.first_rst.is_none()
    }

    /// The time of the client's first SYN, when the client has just sent its first retry.
    pub fn first_syn_retried_now(&self) -> Option<i64> {
        let client = self.facts.side(index(self.client));
        (client.syn_count == 2).then_some(client.syns[0].ts_ns)
    }

    /// Data retransmissions that repaired loss, both sides.
    pub fn lost_data(&self) -> u64 {
        self.facts.side(0).lost_data + self.facts.side(1).lost_data
    }

    /// A server still retransmitting data its client never acknowledged: how long it has
    /// been at it (first to latest retransmission).
    pub fn server_retrying_span_ns(&self) -> Option<i64> {
        let server = &self.facts.side(index(self.client.flip()));
        server
            .stall
            .filter(|s| s.max_payload > 0)
            .map(|s| s.last.ts_ns.saturating_sub(s.first.ts_ns))
    }

    /// Closes the connection out: what its reassemblers still hold goes to `observer`, which
    /// then hears the end of the stream.
    pub fn finish(mut self, key: FlowKey, observer: &mut impl StreamObserver) -> ConnectionSummary {
        for side in [Side::Low, Side::High] {
            if let Some(reassembler) = self.reassembly[index(side)].as_mut() {
                let mut sink = chunk_sink(observer, self.stream, side == self.client);
                reassembler.finish(&mut sink);
            }
        }
        observer.on_end(self.stream);
        let c = index(self.client);
        ConnectionSummary {
            stream: self.stream,
            client: key.endpoint(self.client),
            server: key.endpoint(self.client.flip()),
            conn_state: self.zeek.conn_state(),
            history: self.zeek.history().to_string(),
            client_to_server: self.counts[c],
            server_to_client: self.counts[1 - c],
            initial_rtt_ns: self.wireshark.initial_rtt_ns(),
            syn_seen: self.syn_seen,
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            first_ts_ns: self.first_ts_ns,
            last_ts_ns: self.last_ts_ns,
            icmp_errors: self.icmp,
            icmp_error_count: self.icmp_count,
            frames: self.frames,
            facts: TransportFacts {
                client: *self.facts.side(c),
                server: *self.facts.side(1 - c),
                host_reference: self.host_reference,
                recent_connects: self.recent_connects,
                connects_around: 0,
                retried_around: 0,
                capture_lost_data: 0,
            },
        }
    }
}

impl FlowState for Box<Connection> {
    /// Closed, or closed by the client while the server stays silent: the client is done with
    /// it (it gave up waiting, or finished), so it lingers like a closed connection instead of
    /// waiting out the open timeout for a server that may never close its half. Zeek likewise
    /// reports a partial close a few seconds after one side's FIN (`tcp_partial_close_delay`).
    /// A connection the client closed while its server still retransmits unacknowledged data
    /// (a black hole swallowing the server's segments) is not over: it lingers like an
    /// unanswered attempt, for the server's next backed-off retransmission.
    fn is_closed(&self) -> bool {
        self.closed || (self.closed_by_client_only() && self.server_retrying_span_ns().is_none())
    }

    fn unanswered_attempt_span_ns(&self) -> Option<i64> {
        Connection::unanswered_attempt_span_ns(self).or_else(|| {
            self.closed_by_client_only()
                .then(|| self.server_retrying_span_ns())
                .flatten()
        })
    }
}
