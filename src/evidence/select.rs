//! Which frames belong to a failed call: the flow of each finding, cut to the one connection or
//! lookup it was about.
//!
//! A TCP call owns every frame of its connection, both directions, from the connection's first
//! segment to the one before the 4-tuple is reused (Wireshark's rule: a SYN without ACK whose
//! sequence number differs from the base sequence number of its direction opens a new
//! conversation). A UDP lookup owns the frames of its 5-tuple between its first and last frame.
//! Both also own the ICMP/ICMPv6 errors that quote one of their packets.

use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::{Packet, TcpFlags, Transport as Wire};
use crate::diagnose::{Finding, Transport};
use crate::flows::{Endpoint, FlowKey, Side};

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

type Table<V> = HashMap<FlowKey, V, foldhash::fast::FixedState>;

/// Connection boundaries on one TCP 4-tuple, as Wireshark draws them on port reuse.
#[derive(Debug, Clone, Copy, Default)]
struct Instances {
    /// First frame of the conversation now on the tuple (`None` before any segment).
    current_start: Option<u64>,
    /// Base sequence number of each direction (`Side::Low`, `Side::High`).
    base_seq: [Option<u32>; 2],
}

impl Instances {
    /// Feeds one segment; returns the first frame of the conversation it belongs to.
    fn on_segment(&mut self, frame: u64, side: Side, flags: TcpFlags, seq: u32) -> u64 {
        let i = usize::from(side == Side::High);
        let syn_only = flags.0 & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN;
        let reused = syn_only && self.base_seq[i].is_some_and(|base| base != seq);
        if reused || self.current_start.is_none() {
            self.current_start = Some(frame);
            self.base_seq = [None, None];
        }
        match self.base_seq[i] {
            None => self.base_seq[i] = Some(seq),
            // A SYN-ACK with a new sequence number replaces the base (as Wireshark does).
            Some(base) if flags.syn() && flags.ack() && base != seq => self.base_seq[i] = Some(seq),
            Some(_) => {}
        }
        self.current_start.unwrap_or(frame)
    }
}

/// What decides whether a frame belongs to one finding's call.
#[derive(Debug, Clone, Copy)]
struct Target {
    transport: Transport,
    first_frame: u64,
    last_frame: u64,
    /// TCP: first frame of the conversation the call was on (found by [`Selector::prescan`]).
    start: Option<u64>,
}

/// Matches frames against the calls of a set of findings; state is per finding and per flow,
/// never per frame.
#[derive(Debug)]
pub(super) struct Selector {
    targets: Vec<Target>,
    /// Finding indices by flow.
    by_flow: Table<Vec<usize>>,
    /// TCP conversation boundaries by flow (TCP findings only).
    instances: Table<Instances>,
    /// Evidence frames: (frame, finding index, evidence index), sorted.
    evidence: Vec<(u64, usize, usize)>,
    /// The largest `first_frame` of a TCP finding: the prescan stops after it.
    prescan_until: u64,
}

/// The IP addresses of a kept frame: who sent it, and to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hit {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TCP/UDP ports (`None` for ICMP and other protocols).
    pub ports: Option<(u16, u16)>,
}

impl Selector {
    /// Targets for `findings` (their order is kept: indices below are into this slice).
    pub fn new(findings: &[Finding]) -> Self {
        let mut by_flow: Table<Vec<usize>> = Table::default();
        let mut instances = Table::default();
        let mut evidence = Vec::new();
        let mut targets = Vec::with_capacity(findings.len());
        let mut prescan_until = 0;
        for (i, f) in findings.iter().enumerate() {
            let protocol = match f.transport {
                Transport::Tcp => PROTO_TCP,
                Transport::Udp => PROTO_UDP,
            };
            let (key, _) = FlowKey::new(protocol, f.client, f.server);
            by_flow.entry(key).or_default().push(i);
            if f.transport == Transport::Tcp {
                instances.insert(key, Instances::default());
                prescan_until = prescan_until.max(f.first_frame);
            }
            evidence.extend(
                f.evidence
                    .iter()
                    .enumerate()
                    .map(|(e, ev)| (ev.frame, i, e)),
            );
            targets.push(Target {
                transport: f.transport,
                first_frame: f.first_frame,
                last_frame: f.last_frame,
                start: None,
            });
        }
        evidence.sort_unstable();
        Self {
            targets,
            by_flow,
            instances,
            evidence,
            prescan_until,
        }
    }

    /// True when the TCP findings need a first read to find where their connections start.
    pub fn needs_prescan(&self) -> bool {
        !self.instances.is_empty()
    }

    /// First read: notes the conversation each TCP finding's first frame belongs to. Returns
    /// false once every TCP finding is placed (the read can stop).
    pub fn prescan(&mut self, number: u64, packet: &Packet<'_>) -> bool {
        if let Wire::Tcp(seg) = &packet.transport
            && let Some((key, side)) = self.tcp_flow(packet, seg.src_port, seg.dst_port)
            && let Some(inst) = self.instances.get_mut(&key)
        {
            let start = inst.on_segment(number, side, seg.flags, seg.seq);
            for &i in self.by_flow.get(&key).into_iter().flatten() {
                let t = &mut self.targets[i];
                // The conversation of the last segment at or before the first frame; failing
                // that (the call began with an ICMP error), the next one.
                if t.transport == Transport::Tcp && (number <= t.first_frame || t.start.is_none()) {
                    t.start = Some(start);
                }
            }
        }
        number <= self.prescan_until || self.targets.iter().any(|t| t.unplaced())
    }

    /// Resets the conversation tracking for the second read (the placements are kept).
    pub fn rewind(&mut self) {
        for inst in self.instances.values_mut() {
            *inst = Instances::default();
        }
    }

    /// Second read: marks in `calls` (one flag per finding) the calls frame `number` belongs
    /// to, and returns its addresses when it belongs to at least one.
    pub fn select(&mut self, number: u64, packet: &Packet<'_>, calls: &mut [bool]) -> Option<Hit> {
        calls.iter_mut().for_each(|c| *c = false);
        let (protocol, src_port, dst_port, tcp) = match &packet.transport {
            Wire::Tcp(s) => (PROTO_TCP, s.src_port, s.dst_port, Some((s.flags, s.seq))),
            Wire::Udp(d) => (PROTO_UDP, d.src_port, d.dst_port, None),
            Wire::Icmp(m) => {
                let q = m.quoted?;
                let (sp, dp) = q.ports?;
                let (key, _) = FlowKey::new(
                    q.protocol,
                    Endpoint::new(q.src, sp),
                    Endpoint::new(q.dst, dp),
                );
                self.mark(number, &key, None, calls);
                return self.hit(number, packet, calls);
            }
            _ => return self.hit(number, packet, calls),
        };
        let (key, side) = FlowKey::new(
            protocol,
            Endpoint::new(packet.ip.src, src_port),
            Endpoint::new(packet.ip.dst, dst_port),
        );
        let start = match (tcp, self.instances.get_mut(&key)) {
            (Some((flags, seq)), Some(inst)) => Some(inst.on_segment(number, side, flags, seq)),
            _ => None,
        };
        self.mark(number, &key, start, calls);
        self.hit(number, packet, calls)
    }

    /// Marks the findings on `key` whose call holds frame `number`; `start` is the conversation
    /// of a TCP segment (`None` for an ICMP error: the conversation now on the tuple).
    fn mark(&self, number: u64, key: &FlowKey, start: Option<u64>, calls: &mut [bool]) {
        let Some(list) = self.by_flow.get(key) else {
            return;
        };
        let current = self.instances.get(key).and_then(|i| i.current_start);
        for &i in list {
            let t = &self.targets[i];
            let inside = match t.transport {
                Transport::Tcp => t.start.is_some() && start.or(current) == t.start,
                Transport::Udp => (t.first_frame..=t.last_frame).contains(&number),
            };
            if let Some(flag) = calls.get_mut(i) {
                *flag |= inside;
            }
        }
    }

    /// The addresses of a kept frame; an evidence frame is always kept (with its call's flag).
    fn hit(&self, number: u64, packet: &Packet<'_>, calls: &mut [bool]) -> Option<Hit> {
        for (_, i, _) in self.evidence_at(number) {
            if let Some(flag) = calls.get_mut(*i) {
                *flag = true;
            }
        }
        let ports = match &packet.transport {
            Wire::Tcp(s) => Some((s.src_port, s.dst_port)),
            Wire::Udp(d) => Some((d.src_port, d.dst_port)),
            _ => None,
        };
        calls.iter().any(|&c| c).then_some(Hit {
            src: packet.ip.src,
            dst: packet.ip.dst,
            ports,
        })
    }

    /// The (frame, finding, evidence) entries of frame `number`.
    pub fn evidence_at(&self, number: u64) -> &[(u64, usize, usize)] {
        let from = self.evidence.partition_point(|e| e.0 < number);
        let to = self.evidence.partition_point(|e| e.0 <= number);
        &self.evidence[from..to]
    }

    fn tcp_flow(&self, packet: &Packet<'_>, sp: u16, dp: u16) -> Option<(FlowKey, Side)> {
        let (key, side) = FlowKey::new(
            PROTO_TCP,
            Endpoint::new(packet.ip.src, sp),
            Endpoint::new(packet.ip.dst, dp),
        );
        self.instances.contains_key(&key).then_some((key, side))
    }
}

impl Target {
    fn unplaced(&self) -> bool {
        self.transport == Transport::Tcp && self.start.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: TcpFlags = TcpFlags(TcpFlags::SYN);
    const SYN_ACK: TcpFlags = TcpFlags(TcpFlags::SYN | TcpFlags::ACK);
    const ACK: TcpFlags = TcpFlags(TcpFlags::ACK);

    #[test]
    fn a_retransmitted_syn_stays_in_its_conversation_and_a_new_isn_opens_the_next() {
        let mut t = Instances::default();
        assert_eq!(t.on_segment(1, Side::Low, SYN, 100), 1);
        assert_eq!(t.on_segment(2, Side::Low, SYN, 100), 1);
        assert_eq!(t.on_segment(3, Side::High, SYN_ACK, 900), 1);
        assert_eq!(t.on_segment(4, Side::Low, ACK, 101), 1);
        // The port is reused: a fresh ISN.
        assert_eq!(t.on_segment(9, Side::Low, SYN, 5000), 9);
        assert_eq!(t.on_segment(10, Side::High, SYN_ACK, 7), 9);
        assert_eq!(t.on_segment(11, Side::Low, ACK, 5001), 9);
    }

    #[test]
    fn a_connection_seen_midway_starts_at_its_first_segment() {
        let mut t = Instances::default();
        assert_eq!(t.on_segment(5, Side::High, ACK, 42), 5);
        assert_eq!(t.on_segment(6, Side::Low, ACK, 77), 5);
        // A SYN after that with a new ISN is a new connection.
        assert_eq!(t.on_segment(8, Side::Low, SYN, 1), 8);
    }
}
