//! TCP: one connection per Wireshark `tcp.stream`, followed with Wireshark's sequence analysis
//! and Zeek's state machine, plus a bounded reassembler for the application layer.
//!
//! [`TcpTracker`] takes decoded segments and ICMP errors in capture order and produces a
//! [`ConnectionSummary`] per connection when the connection is evicted or the capture ends.

mod connection;
mod duplicates;
mod facts;
mod reassembly;
mod seq;
mod wireshark;
mod zeek;

pub use connection::{
    ConnectionSummary, DirectionCounts, IcmpNote, StreamObserver, TransportFacts,
};
pub use facts::{Hole, MAX_SYN_FRAMES, Mark, RstMark, SideFacts, Stall, TtlMark, ZeroWindow};
pub use reassembly::{ChunkSink, Origin, Reassembler, StreamChunk};
pub use seq::Seq;
pub use wireshark::SegmentFlags;
pub use zeek::EndpointState;

use std::collections::BTreeMap;
use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::{IcmpMessage, IpInfo, TcpFlags, TcpSegment};
use crate::flows::{self, Endpoint, FlowKey, FlowState, FlowTable, Side, Timeouts};

use connection::Connection;

const PROTO_TCP: u8 = 6;

/// The order in which finished connections are handed out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Delivery {
    /// In `tcp.stream` order, as Wireshark lists them. A long-lived connection holds back every
    /// later one that finished before it, so memory then grows with the connections behind it.
    #[default]
    StreamOrder,
    /// As soon as each finishes: memory follows the active connections only (for callers that
    /// sort what little they keep, such as the findings).
    AsFinished,
}

/// The most TCP connections followed at once; a packet that would open one more is counted in
/// [`TcpTracker::untracked_packets`] and not followed, so a flood of new flows (a SYN flood, a
/// scan) cannot grow memory without bound.
///
/// The default, 250,000, is about as many connections as a Linux host's own connection tracking
/// keeps by default (`nf_conntrack_max` is 262,144 on a host with 8 GB or more), and bounds the
/// tracker at about 0.5 GB: a connection costs about 2 kB in the tracker (1,976 bytes measured
/// with `size_of` on x86-64) before any application state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowCap(pub usize);

impl Default for FlowCap {
    fn default() -> Self {
        Self(250_000)
    }
}

/// Follows every TCP connection of a capture.
#[derive(Debug)]
pub struct TcpTracker {
    table: FlowTable<Box<Connection>>,
    next_stream: u64,
    /// Finished connections waiting for every lower stream index to finish too.
    finished: BTreeMap<u64, ConnectionSummary>,
    /// The lowest stream index not yet handed out by [`TcpTracker::take_ready`].
    next_ready: u64,
    /// What stays of a closed connection after it is handed out: enough to keep Wireshark's
    /// stream numbering for packets that arrive later (TIME_WAIT stragglers, a repeated SYN).
    tombstones: FlowTable<Tombstone>,
    /// Packets that arrived for a connection already closed and handed out.
    late_packets: u64,
    /// Per server address, its latest packet that was not a RST: what its real TTL looks like,
    /// for a connection the address answers only with a RST.
    hosts: HashMap<IpAddr, TtlMark, foldhash::fast::RandomState>,
    /// Per sending address, whether its IPv4 IDs number its datagrams (see [`IdHistory`]).
    ids: HashMap<IpAddr, IdHistory, foldhash::fast::RandomState>,
    /// Per server endpoint, when its latest connects began: how many arrived together.
    connects: HashMap<Endpoint, RecentConnects, foldhash::fast::RandomState>,
    /// Data retransmissions that repaired loss, over every connection so far.
    lost_data: u64,
    delivery: Delivery,
    cap: FlowCap,
    /// Packets not followed because [`FlowCap`] connections were already followed.
    untracked_packets: u64,
}

/// At most this many server addresses are remembered for TTL comparisons.
const MAX_HOSTS: usize = 65_536;

/// The latest IPv4 ID an address sent, to learn whether its IDs number datagrams: an address
/// that sends two different segments in a row with one ID (a constant ID, a packet generator)
/// does not, and an equal ID then says nothing about a frame being a copy.
#[derive(Debug, Clone, Copy)]
struct IdHistory {
    last: (u16, u32, u32, u16, u32),
    unusable: bool,
}

/// Connects to one server endpoint remembered to tell a burst.
const BURST_SLOTS: usize = 16;

/// The window a burst of connects is counted in: RFC 6298's initial retransmission timeout, the
/// time a dropped SYN waits before it is sent again.
const BURST_WINDOW_NS: i64 = 1_000_000_000;

/// The first-SYN times of the latest connects to one server endpoint, each with whether the
/// client had to send its SYN again.
#[derive(Debug, Clone, Copy, Default)]
struct RecentConnects {
    times: [i64; BURST_SLOTS],
    retried: [bool; BURST_SLOTS],
    next: usize,
}

impl RecentConnects {
    /// Records a connect at `ts_ns` and returns how many others began in the window before it.
    fn record(&mut self, ts_ns: i64) -> u32 {
        let before = self
            .times
            .iter()
            .filter(|&&t| t != 0 && (0..=BURST_WINDOW_NS).contains(&(ts_ns - t)))
            .count();
        self.times[self.next] = ts_ns;
        self.retried[self.next] = false;
        self.next = (self.next + 1) % BURST_SLOTS;
        before as u32
    }

    /// The connect that began at `first_ts_ns` sent its SYN again.
    fn mark_retried(&mut self, first_ts_ns: i64) {
        if let Some(i) = self.times.iter().position(|&t| t == first_ts_ns) {
            self.retried[i] = true;
        }
    }

    /// Other connects that began within the window either side of `ts_ns`, and how many of
    /// them sent their SYN again (the connect at `ts_ns` itself left out once).
    fn around(&self, ts_ns: i64) -> (u32, u32) {
        let mut own = false;
        let (mut n, mut retried) = (0, 0);
        for (&t, &r) in self.times.iter().zip(&self.retried) {
            if t == 0 || (t - ts_ns).abs() > BURST_WINDOW_NS {
                continue;
            }
            if t == ts_ns && !own {
                own = true;
                continue;
            }
            n += 1;
            retried += u32::from(r);
        }
        (n, retried)
    }
}

/// Closes `conn` out with what the tracker knows around it: the connects to its server near
/// its own and the loss seen in the capture so far.
fn summarize(
    conn: Box<Connection>,
    key: FlowKey,
    connects: &HashMap<Endpoint, RecentConnects, foldhash::fast::RandomState>,
    capture_lost_data: u64,
    observer: &mut impl StreamObserver,
) -> ConnectionSummary {
    let mut summary = conn.finish(key, observer);
    let first_syn = summary.facts.client.first_syn;
    if let (Some(syn), Some(recent)) = (first_syn, connects.get(&summary.server)) {
        let (n, retried) = recent.around(syn.ts_ns);
        summary.facts.connects_around = n;
        summary.facts.retried_around = retried;
    }
    summary.facts.capture_lost_data = capture_lost_data;
    summary
}

/// A connection that closed and was handed out, remembered for twice the maximum segment
/// lifetime: a later segment on its 4-tuple stays in its stream (as in Wireshark) unless it is a
/// SYN with a new initial sequence number.
#[derive(Debug, Clone, Copy)]
struct Tombstone {
    base_seq: [Option<u32>; 2],
}

impl flows::FlowState for Tombstone {
    fn is_closed(&self) -> bool {
        true
    }
}

impl Tombstone {
    fn starts_new_stream(&self, side: Side, flags: TcpFlags, seq: u32) -> bool {
        wireshark::syn_reuses_port(self.base_seq[usize::from(side == Side::High)], flags, seq)
    }
}

impl TcpTracker {
    /// A tracker whose idle flows are evicted after `timeouts` of capture time.
    pub fn new(timeouts: Timeouts, delivery: Delivery) -> Self {
        let remembered = Timeouts {
            closed_ns: timeouts.remember_closed_ns,
            ..timeouts
        };
        Self {
            tombstones: FlowTable::new(remembered),
            late_packets: 0,
            hosts: HashMap::default(),
            connects: HashMap::default(),
            lost_data: 0,
            ids: HashMap::default(),
            delivery,
            table: FlowTable::new(timeouts),
            next_stream: 0,
            finished: BTreeMap::new(),
            next_ready: 0,
            cap: FlowCap::default(),
            untracked_packets: 0,
        }
    }

    /// The same tracker, following at most `cap` connections at once.
    pub fn with_cap(mut self, cap: FlowCap) -> Self {
        self.cap = cap;
        self
    }

    /// Packets that would have opened a connection while [`FlowCap`] were already followed:
    /// counted, not analysed.
    pub fn untracked_packets(&self) -> u64 {
        self.untracked_packets
    }

    /// True (and the packet counted) when a new connection may not be opened: the table is full.
    fn table_full(&mut self) -> bool {
        let full = self.table.len() >= self.cap.0;
        if full {
            self.untracked_packets += 1;
        }
        full
    }

    /// The largest number of connections held at once.
    pub fn peak_flows(&self) -> usize {
        self.table.peak()
    }

    /// Processes one TCP segment; its payload reaches `observer` in stream order.
    pub fn on_segment(
        &mut self,
        frame: u64,
        ts_ns: i64,
        wire_len: u32,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
        observer: &mut impl StreamObserver,
    ) {
        let (key, side) = FlowKey::new(
            PROTO_TCP,
            Endpoint::new(ip.src, seg.src_port),
            Endpoint::new(ip.dst, seg.dst_port),
        );
        let ip = &self.numbered_ids(ip, seg);
        // Looked up before the connection is borrowed; RSTs are rare.
        let host_reference = if seg.flags.rst() {
            self.hosts.get(&ip.src).copied()
        } else {
            None
        };
        let conn = match self.table.get_mut(&key) {
            Some(entry) if !entry.state.starts_new_stream(side, seg.flags, seg.seq) => {
                entry.last_ts_ns = ts_ns;
                &mut entry.state
            }
            Some(_) => self.open(key, side, seg.flags, frame, ts_ns, observer),
            None => {
                if self.is_late(&key, side, seg.flags, seg.seq, ts_ns) || self.table_full() {
                    return;
                }
                self.open(key, side, seg.flags, frame, ts_ns, observer)
            }
        };
        let lost_before = conn.lost_data();
        let from_server = conn.on_segment(frame, ts_ns, side, wire_len, ip, seg, observer);
        let lost_now = conn.lost_data() - lost_before;
        let syn_retried = (!from_server && seg.flags.syn() && !seg.flags.ack())
            .then(|| conn.first_syn_retried_now())
            .flatten();
        if from_server && seg.flags.rst() && conn.server_sent_only_resets() {
            conn.set_host_reference(host_reference);
        }
        self.lost_data += lost_now;
        if let Some(first) = syn_retried
            && let Some(recent) = self.connects.get_mut(&key.endpoint(side.flip()))
        {
            recent.mark_retried(first);
        }
        if !from_server {
            return;
        }
        if seg.flags.rst() {
        } else {
            let mark = TtlMark {
                frame,
                ts_ns,
                ttl: ip.ttl,
            };
            if let Some(known) = self.hosts.get_mut(&ip.src) {
                *known = mark;
            } else if self.hosts.len() < MAX_HOSTS {
                self.hosts.insert(ip.src, mark);
            }
        }
    }

    /// `ip` as the connection should see it: without its IPv4 ID when the sender's IDs are known
    /// not to number datagrams.
    fn numbered_ids(&mut self, ip: &IpInfo, seg: &TcpSegment<'_>) -> IpInfo {
        let Some(id) = ip.ip_id else {
            return *ip;
        };
        let now = (id, seg.seq, seg.ack, seg.flags.0, seg.seg_len);
        let unusable = match self.ids.get_mut(&ip.src) {
            Some(h) => {
                if h.last.0 == id && h.last != now {
                    h.unusable = true;
                }
                h.last = now;
                h.unusable
            }
            None => {
                if self.ids.len() < MAX_HOSTS {
                    self.ids.insert(
                        ip.src,
                        IdHistory {
                            last: now,
                            unusable: false,
                        },
                    );
                }
                false
            }
        };
        IpInfo {
            ip_id: if unusable { None } else { ip.ip_id },
            ..*ip
        }
    }

    /// Opens the next stream for `key` (retiring a connection the 4-tuple reuses) and returns it.
    fn open(
        &mut self,
        key: FlowKey,
        side: Side,
        flags: TcpFlags,
        frame: u64,
        ts_ns: i64,
        observer: &mut impl StreamObserver,
    ) -> &mut Connection {
        let conn = Box::new(Connection::new(
            self.next_stream,
            key,
            side,
            flags,
            frame,
            ts_ns,
        ));
        self.next_stream += 1;
        let mut conn = conn;
        if flags.syn() && !flags.ack() {
            let server = key.endpoint(side.flip());
            let room = self.connects.len() < MAX_HOSTS;
            let recent = match self.connects.get_mut(&server) {
                Some(r) => r.record(ts_ns),
                None if room => {
                    let mut r = RecentConnects::default();
                    let n = r.record(ts_ns);
                    self.connects.insert(server, r);
                    n
                }
                None => 0,
            };
            conn.set_recent_connects(recent);
        }
        let (conn, old) = self.table.insert(key, conn, ts_ns);
        if let Some(old) = old {
            let summary = summarize(old, key, &self.connects, self.lost_data, observer);
            self.finished.insert(summary.stream, summary);
        }
        conn
    }

    /// Processes an ICMP error: the quoted packet names the connection it is about.
    ///
    /// As in Wireshark, a quote holding at least 16 bytes of TCP header belongs to the stream
    /// (and opens one, with the same port-reuse rule, when its connection is unknown); a shorter
    /// quote is only attached as a note to a connection already followed.
    pub fn on_icmp_error(
        &mut self,
        frame: u64,
        ts_ns: i64,
        ip: &IpInfo,
        msg: &IcmpMessage<'_>,
        observer: &mut impl StreamObserver,
    ) {
        let Some((key, side)) = flows::quoted_flow(msg) else {
            return;
        };
        if key.protocol != PROTO_TCP {
            return;
        }
        let note = IcmpNote::new(frame, ts_ns, ip.src, msg);
        let quoted_tcp = msg.quoted.and_then(|q| q.tcp);
        let Some(tcp) = quoted_tcp else {
            if let Some(entry) = self.table.get_mut(&key) {
                entry.state.add_icmp_note(side, note);
            }
            return;
        };
        match self.table.get_mut(&key) {
            Some(entry) if !entry.state.starts_new_stream(side, tcp.flags, tcp.seq) => {
                entry.last_ts_ns = ts_ns;
                entry.state.on_quoted(frame, ts_ns, side, &tcp, note);
                return;
            }
            Some(_) => {}
            None => {
                if self.is_late(&key, side, tcp.flags, tcp.seq, ts_ns) || self.table_full() {
                    return;
                }
            }
        }
        self.open(key, side, tcp.flags, frame, ts_ns, observer)
            .on_quoted(frame, ts_ns, side, &tcp, note);
    }

    /// Packets that belonged to a connection already closed and handed out (counted, not
    /// analysed).
    pub fn late_packets(&self) -> u64 {
        self.late_packets
    }

    /// True when a packet with no live connection belongs to a remembered closed one.
    fn is_late(
        &mut self,
        key: &FlowKey,
        side: Side,
        flags: TcpFlags,
        seq: u32,
        ts_ns: i64,
    ) -> bool {
        let Some(entry) = self.tombstones.get_mut(key) else {
            return false;
        };
        if entry.state.starts_new_stream(side, flags, seq) {
            return false;
        }
        entry.last_ts_ns = ts_ns;
        self.late_packets += 1;
        true
    }

    /// Evicts connections idle past their timeout at capture time `now_ns`.
    pub fn expire(&mut self, now_ns: i64, observer: &mut impl StreamObserver) {
        let (finished, tombstones) = (&mut self.finished, &mut self.tombstones);
        let cap = self.cap.0;
        let (connects, lost_data) = (&self.connects, self.lost_data);
        self.table.expire(now_ns, |key, conn| {
            if conn.is_closed() && tombstones.len() < cap {
                tombstones.insert(
                    key,
                    Tombstone {
                        base_seq: conn.base_seqs(),
                    },
                    now_ns,
                );
            }
            let summary = summarize(conn, key, connects, lost_data, observer);
            finished.insert(summary.stream, summary);
        });
        self.tombstones.expire(now_ns, |_, _| {});
    }

    /// Hands out finished connections while the capture is still being read: in stream order
    /// those whose lower-numbered streams have all finished, or all of them with
    /// [`Delivery::AsFinished`].
    pub fn take_ready(&mut self, mut each: impl FnMut(ConnectionSummary)) {
        while let Some(entry) = self.finished.first_entry() {
            if *entry.key() != self.next_ready && self.delivery == Delivery::StreamOrder {
                break;
            }
            each(entry.remove());
            self.next_ready += 1;
        }
    }

    /// Ends the capture: every connection still followed is closed out and handed out with
    /// those not yet taken, each with the observer back: in stream order with
    /// [`Delivery::StreamOrder`]; with [`Delivery::AsFinished`] one at a time as each is closed
    /// out, so the end of a capture with many open connections holds no second copy of them.
    pub fn finish<O: StreamObserver>(
        mut self,
        observer: &mut O,
        mut each: impl FnMut(ConnectionSummary, &mut O),
    ) {
        let in_order = self.delivery == Delivery::StreamOrder;
        let (finished, connects, lost_data) = (&mut self.finished, &self.connects, self.lost_data);
        if !in_order {
            for (_, summary) in std::mem::take(finished) {
                each(summary, observer);
            }
        }
        self.table.drain_ordered(
            |conn| conn.stream(),
            |key, conn| {
                let summary = summarize(conn, key, connects, lost_data, observer);
                if in_order {
                    finished.insert(summary.stream, summary);
                } else {
                    each(summary, observer);
                }
            },
        );
        for (_, summary) in std::mem::take(&mut self.finished) {
            each(summary, observer);
        }
    }
}
