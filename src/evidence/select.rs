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
    /// TCP findings whose conversation the prescan has not found yet.
    unplaced: usize,
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
        let unplaced = targets.iter().filter(|t| t.unplaced()).count();
        Self {
            unplaced,
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
    /// false once the read is past every TCP finding's first frame and each is placed (the
    /// read can stop there).
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
                    self.unplaced -= usize::from(t.start.is_none());
                    t.start = Some(start);
                }
            }
        }
        number <= self.prescan_until || self.unplaced > 0
    }

    /// Resets the conversation tracking for the second read (the placements are kept).
    pub fn rewind(&mut self) {
        for inst in self.instances.values_mut() {
            *inst = Instances::default();
        }
    }

    /// Second read: the addresses of frame `number` when it belongs to a finding's call (or a
    /// finding names it as evidence), `None` otherwise.
    pub fn select(&mut self, number: u64, packet: &Packet<'_>) -> Option<Hit> {
        let (protocol, src_port, dst_port, tcp) = match &packet.transport {
            Wire::Tcp(s) => (PROTO_TCP, s.src_port, s.dst_port, Some((s.flags, s.seq))),
            Wire::Udp(d) => (PROTO_UDP, d.src_port, d.dst_port, None),
            Wire::Icmp(m) => {
                let quoted_key = m.quoted.and_then(|q| {
                    let (sp, dp) = q.ports?;
                    let src = Endpoint::new(q.src, sp);
                    Some(FlowKey::new(q.protocol, src, Endpoint::new(q.dst, dp)).0)
                });
                let inside = quoted_key.is_some_and(|key| self.holds(number, &key, None));
                return self.hit(number, packet, inside);
            }
            _ => return self.hit(number, packet, false),
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
        let inside = self.holds(number, &key, start);
        self.hit(number, packet, inside)
    }

    /// True when a finding on `key` holds frame `number` in its call; `start` is the
    /// conversation of a TCP segment (`None` for an ICMP error: the conversation now on the
    /// tuple).
    fn holds(&self, number: u64, key: &FlowKey, start: Option<u64>) -> bool {
        let Some(list) = self.by_flow.get(key) else {
            return false;
        };
        let current = self.instances.get(key).and_then(|i| i.current_start);
        list.iter().any(|&i| {
            let t = &self.targets[i];
            match t.transport {
                Transport::Tcp => t.start.is_some() && start.or(current) == t.start,
                Transport::Udp => (t.first_frame..=t.last_frame).contains(&number),
            }
        })
    }

    /// The addresses of a kept frame: one inside a call, or one a finding names.
    fn hit(&self, number: u64, packet: &Packet<'_>, inside: bool) -> Option<Hit> {
        if !inside && self.evidence_at(number).is_empty() {
            return None;
        }
        let ports = match &packet.transport {
            Wire::Tcp(s) => Some((s.src_port, s.dst_port)),
            Wire::Udp(d) => Some((d.src_port, d.dst_port)),
            _ => None,
        };
        Some(Hit {
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
