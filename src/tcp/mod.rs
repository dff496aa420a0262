//! TCP: one connection per Wireshark `tcp.stream`, followed with Wireshark's sequence analysis
//! and Zeek's state machine, plus a bounded reassembler for the application layer.
//!
//! [`TcpTracker`] takes decoded segments and ICMP errors in capture order and produces a
//! [`ConnectionSummary`] per connection when the connection is evicted or the capture ends.

mod connection;
mod reassembly;
mod seq;
mod wireshark;
mod zeek;

pub use connection::{ConnectionSummary, DirectionCounts, IcmpNote};
pub use reassembly::{Reassembler, StreamChunk};
pub use seq::Seq;
pub use wireshark::SegmentFlags;
pub use zeek::EndpointState;

use crate::decode::{IcmpMessage, IpInfo, TcpSegment};
use crate::flows::{self, Endpoint, FlowKey, FlowTable, Timeouts};

use connection::Connection;

const PROTO_TCP: u8 = 6;

/// Follows every TCP connection of a capture.
#[derive(Debug)]
pub struct TcpTracker {
    table: FlowTable<Connection>,
    next_stream: u64,
    finished: Vec<ConnectionSummary>,
}

impl TcpTracker {
    /// A tracker whose idle flows are evicted after `timeouts` of capture time.
    pub fn new(timeouts: Timeouts) -> Self {
        Self {
            table: FlowTable::new(timeouts),
            next_stream: 0,
            finished: Vec::new(),
        }
    }

    /// The largest number of connections held at once.
    pub fn peak_flows(&self) -> usize {
        self.table.peak()
    }

    /// Processes one TCP segment.
    pub fn on_segment(
        &mut self,
        frame: u64,
        ts_ns: i64,
        wire_len: u32,
        ip: &IpInfo,
        seg: &TcpSegment<'_>,
    ) {
        let (key, side) = FlowKey::new(
            PROTO_TCP,
            Endpoint::new(ip.src, seg.src_port),
            Endpoint::new(ip.dst, seg.dst_port),
        );
        let reused = match self.table.get_mut(&key) {
            Some(entry) => {
                if entry.state.starts_new_stream(side, seg.flags, seg.seq) {
                    true
                } else {
                    entry.last_ts_ns = ts_ns;
                    entry.state.on_segment(frame, ts_ns, side, wire_len, seg);
                    return;
                }
            }
            None => false,
        };
        let mut conn = Connection::new(self.next_stream, key, side, seg.flags, frame, ts_ns);
        self.next_stream += 1;
        conn.on_segment(frame, ts_ns, side, wire_len, seg);
        if let Some(old) = self.table.insert(key, conn, ts_ns) {
            debug_assert!(reused);
            self.finished.push(old.finish(key));
        }
    }

    /// Processes an ICMP error: the quoted packet names the connection it is about.
    ///
    /// As in Wireshark, a quote holding at least 16 bytes of TCP header belongs to the stream
    /// (and opens one, with the same port-reuse rule, when its connection is unknown); a shorter
    /// quote is only attached as a note to a connection already followed.
    pub fn on_icmp_error(&mut self, frame: u64, ts_ns: i64, ip: &IpInfo, msg: &IcmpMessage<'_>) {
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
                entry.state.add_icmp_note(note);
            }
            return;
        };
        if let Some(entry) = self.table.get_mut(&key)
            && !entry.state.starts_new_stream(side, tcp.flags, tcp.seq)
        {
            entry.last_ts_ns = ts_ns;
            entry.state.on_quoted(frame, ts_ns, side, &tcp, note);
            return;
        }
        let mut conn = Connection::new(self.next_stream, key, side, tcp.flags, frame, ts_ns);
        self.next_stream += 1;
        conn.on_quoted(frame, ts_ns, side, &tcp, note);
        if let Some(old) = self.table.insert(key, conn, ts_ns) {
            self.finished.push(old.finish(key));
        }
    }

    /// Evicts connections idle past their timeout at capture time `now_ns`.
    pub fn expire(&mut self, now_ns: i64) {
        let finished = &mut self.finished;
        self.table
            .expire(now_ns, |key, conn| finished.push(conn.finish(key)));
    }

    /// Ends the capture: every connection is closed out; returns all in stream order.
    pub fn finish(mut self) -> Vec<ConnectionSummary> {
        let finished = &mut self.finished;
        self.table
            .drain(|key, conn| finished.push(conn.finish(key)));
        self.finished.sort_unstable_by_key(|c| c.stream);
        self.finished
    }
}
