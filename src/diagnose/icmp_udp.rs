//! ICMP errors quoting a UDP datagram (RFC 792, RFC 1122 3.2.2, RFC 4443): for any UDP service,
//! not only DNS. UDP has no handshake and no reset: an ICMP error is the only answer a failed
//! datagram gets, so it names the cause on its own.
//!
//! The call's direction comes from the quote: the datagram's sender is the client, unless it was
//! sent from a well-known port to an ephemeral one (a server's answer quoted back, e.g. a DNS
//! response arriving at a client port already closed: a late answer, which names no failure).

use std::net::IpAddr;

use hashbrown::HashMap;

use crate::decode::IcmpMessage;
use crate::flows::Endpoint;
use crate::tcp::{IcmpNote, Mark};

use super::draft::Draft;
use super::icmp::{Kind, describe, kind};
use super::{CallNames, Cause, Confidence, Finding, Transport};

const PROTO_UDP: u8 = 17;
/// At most this many UDP flows are followed for ICMP errors (the rest are counted only).
const MAX_FLOWS: usize = 4096;
/// ICMP errors kept as evidence per flow.
const MAX_NOTES: usize = 8;
/// Ports below this are the well-known and system ports (RFC 6335) servers listen on.
const SYSTEM_PORTS: u16 = 1024;
/// UDP flows whose latest datagram is remembered, per generation (see [`LastDatagrams`]).
const DATAGRAM_FLOWS: usize = 4096;
/// Quoted datagrams kept as evidence per flow.
const MAX_QUOTED: usize = 4;

/// The latest datagram of each recent UDP flow (by sender and receiver), so an ICMP error can
/// cite the datagram it quotes. Bounded: two generations of at most [`DATAGRAM_FLOWS`] flows;
/// when the current one is full it becomes the old one and the flows not seen since are
/// forgotten (an approximate LRU, as the flow table's idle eviction is for TCP).
#[derive(Debug, Default)]
struct LastDatagrams {
    current: HashMap<(Endpoint, Endpoint), Mark, foldhash::fast::RandomState>,
    old: HashMap<(Endpoint, Endpoint), Mark, foldhash::fast::RandomState>,
}

impl LastDatagrams {
    fn record(&mut self, src: Endpoint, dst: Endpoint, mark: Mark) {
        if self.current.len() >= DATAGRAM_FLOWS && !self.current.contains_key(&(src, dst)) {
            self.old = std::mem::take(&mut self.current);
        }
        self.current.insert((src, dst), mark);
    }

    /// The latest datagram from `src` to `dst` sent before `ts_ns`.
    fn latest(&self, src: Endpoint, dst: Endpoint, ts_ns: i64) -> Option<Mark> {
        let key = (src, dst);
        self.current
            .get(&key)
            .or_else(|| self.old.get(&key))
            .copied()
            .filter(|m| m.ts_ns <= ts_ns)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.current.len() + self.old.len()
    }
}

/// ICMP errors about one UDP flow.
#[derive(Debug)]
struct Flow {
    client: Endpoint,
    server: Endpoint,
    /// The quoted datagram was the server's (an answer that could not be delivered).
    quotes_server: bool,
    notes: Vec<IcmpNote>,
    /// The datagrams the errors quote, as far as the capture holds them (the first few).
    quoted: Vec<Mark>,
    count: u64,
}

/// ICMP errors quoting UDP datagrams, gathered per flow over the capture.
#[derive(Debug, Default)]
pub struct UdpIcmpErrors {
    flows: HashMap<(Endpoint, Endpoint), Flow, foldhash::fast::RandomState>,
    order: Vec<(Endpoint, Endpoint)>,
    /// The latest datagram of each recent UDP flow.
    datagrams: LastDatagrams,
    /// Errors about flows past [`MAX_FLOWS`].
    pub untracked: u64,
}

impl UdpIcmpErrors {
    /// A UDP datagram from `src` to `dst`: remembered as its flow's latest, for an ICMP error
    /// that may quote it.
    pub fn on_datagram(&mut self, frame: u64, ts_ns: i64, src: Endpoint, dst: Endpoint) {
        self.datagrams.record(src, dst, Mark { frame, ts_ns });
    }

    /// An ICMP error sent by `from`; kept when it quotes a UDP datagram.
    pub fn on_error(&mut self, frame: u64, ts_ns: i64, from: IpAddr, msg: &IcmpMessage<'_>) {
        let Some(quoted) = msg.quoted.filter(|q| q.protocol == PROTO_UDP) else {
            return;
        };
        let Some((src_port, dst_port)) = quoted.ports else {
            return;
        };
        let src = Endpoint::new(quoted.src, src_port);
        let dst = Endpoint::new(quoted.dst, dst_port);
        let quotes_server = src_port < SYSTEM_PORTS && dst_port >= SYSTEM_PORTS;
        let (client, server) = if quotes_server {
            (dst, src)
        } else {
            (src, dst)
        };
        let key = (client, server);
        let note = IcmpNote {
            frame,
            ts_ns,
            from,
            v6: msg.v6,
            icmp_type: msg.icmp_type,
            code: msg.code,
            mtu: msg.mtu,
            quotes_client: !quotes_server,
        };
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= MAX_FLOWS {
                self.untracked += 1;
                return;
            }
            self.order.push(key);
            self.flows.insert(
                key,
                Flow {
                    client,
                    server,
                    quotes_server,
                    notes: Vec::new(),
                    quoted: Vec::new(),
                    count: 0,
                },
            );
        }
        let quoted = self.datagrams.latest(src, dst, ts_ns);
        if let Some(flow) = self.flows.get_mut(&key) {
            flow.count += 1;
            if flow.notes.len() < MAX_NOTES {
                flow.notes.push(note);
            }
            let new = quoted.filter(|q| !flow.quoted.contains(q));
            if let Some(q) = new.filter(|_| flow.quoted.len() < MAX_QUOTED) {
                flow.quoted.push(q);
            }
        }
    }

    /// One finding per UDP flow an ICMP error was about, in the order the flows were first seen.
    pub fn findings(self) -> Vec<Finding> {
        let mut flows = self.flows;
        self.order
            .iter()
            .filter_map(|key| flows.remove(key))
            .filter_map(|flow| finding(&flow))
            .collect()
    }
}

fn mark(n: &IcmpNote) -> Mark {
    Mark {
        frame: n.frame,
        ts_ns: n.ts_ns,
    }
}

fn finding(flow: &Flow) -> Option<Finding> {
    let ptb = |n: &&IcmpNote| super::loss::is_ptb_note(n);
    let (note, kind) = match flow.notes.iter().find_map(|n| kind(n).map(|k| (n, k))) {
        Some(found) => (found.0, Some(found.1)),
        None => (flow.notes.iter().find(ptb)?, None),
    };
    // A port unreachable quoting the server's answer: the answer reached a client port already
    // closed. That is a late answer (the client gave up or moved on), not a failed call this
    // capture can prove; the lookup's or request's own rules judge the call.
    if kind == Some(Kind::PortUnreachable) && flow.quotes_server {
        return None;
    }
    let (client, server) = (flow.client, flow.server);
    let call = format!("UDP {client} -> {server}");
    let what = describe(note);
    let from_server = note.from == server.ip;
    let sender = if from_server {
        format!("the server {} itself", server.ip)
    } else if note.from == client.ip {
        format!("the client {} itself", client.ip)
    } else {
        format!("the router {}", note.from)
    };
    let draft = match kind {
        None => Draft::new(Cause::PmtuStep, Confidence::Medium)
            .summary(format!(
                "{call}: a router said the datagrams were too big for the next link{}: path MTU discovery signal",
                note.mtu.map(|m| format!(" (MTU {m})")).unwrap_or_default()
            ))
            .alternative("network.pmtu_blackhole: only if the sender ignores the signal; no later datagram shows whether it adapted"),
        Some(Kind::PortUnreachable) => Draft::new(Cause::IcmpPortUnreachable, Confidence::High)
            .summary(format!("{call}: {what}: nothing listens on UDP port {}", server.port))
            .explanation(format!(
                "{sender} answered the datagram with ICMP port unreachable: for UDP that is the \
                 stack's own answer when no socket is bound to the port (RFC 1122 3.2.2.1), or a \
                 firewall REJECT rule sending the same message."
            ))
            .remedy(format!("Check that the service runs and listens on UDP {server} (ss -lunp), and for REJECT rules on the way.")),
        Some(Kind::AdminProhibited) => Draft::new(Cause::IcmpAdminProhibited, Confidence::High)
            .summary(format!("{call}: {what}"))
            .explanation(format!("{sender} reported that a filter forbids this traffic (administratively prohibited): a firewall rule rejects UDP to port {} and says so.", server.port))
            .remedy(format!("Find the rule on {} that rejects UDP from {} to {server}; allow it or use the intended port.", note.from, client.ip)),
        Some(Kind::ProtocolUnreachable) => Draft::new(Cause::IcmpProtocolUnreachable, Confidence::High)
            .summary(format!("{call}: {what}")),
        Some(Kind::HostUnreachable) if from_server => Draft::new(Cause::IcmpHostRejected, Confidence::High)
            .summary(format!("{call}: {what}: the host rejects the datagram itself")),
        Some(Kind::NetUnreachable) if from_server => Draft::new(Cause::IcmpNetRejected, Confidence::High)
            .summary(format!("{call}: {what}: the host rejects the datagram itself")),
        Some(Kind::HostUnreachable) => Draft::new(Cause::IcmpHostUnreachable, Confidence::Medium)
            .summary(format!("{call}: {what}: {} did not answer address resolution on the last hop", server.ip))
            .alternative(format!("firewall.icmp_host_unreachable: a filter on {} rejecting with icmp-host-unreachable sends the same message", note.from)),
        Some(Kind::NetUnreachable) => Draft::new(Cause::IcmpNetUnreachable, Confidence::Medium)
            .summary(format!("{call}: {what}: no route to {}", server.ip))
            .alternative(format!("firewall.icmp_net_unreachable: a filter on {} rejecting with icmp-net-unreachable sends the same message", note.from)),
        Some(Kind::TtlExceeded) => Draft::new(Cause::TtlExceeded, Confidence::High)
            .summary(format!("{call}: {what}: a routing loop or a path longer than the TTL")),
    };
    let mut draft = draft.check_count(flow.count);
    for &q in &flow.quoted {
        let who = if flow.quotes_server {
            "server"
        } else {
            "client"
        };
        draft.push_evidence(q, format!("the {who}'s datagram the ICMP error quotes"));
    }
    for n in &flow.notes {
        draft.push_evidence(mark(n), describe(n));
    }
    let v6 = server.ip.is_ipv6();
    let (ip, icmp) = if v6 {
        ("ipv6", "icmpv6")
    } else {
        ("ip", "icmp")
    };
    let filter = format!(
        "(udp.port == {} && {ip}.addr == {}) || {icmp}",
        client.port, server.ip
    );
    Some(draft.into_finding_for(client, server, Transport::Udp, filter, CallNames::default()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::QuotedPacket;

    fn error(v6: bool, icmp_type: u8, code: u8, ports: (u16, u16)) -> IcmpMessage<'static> {
        IcmpMessage {
            v6,
            icmp_type,
            code,
            mtu: None,
            quoted: Some(QuotedPacket {
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                protocol: PROTO_UDP,
                ports: Some(ports),
                tcp: None,
            }),
            body: &[],
        }
    }

    #[test]
    fn an_error_about_any_udp_flow_is_a_finding() {
        let mut errors = UdpIcmpErrors::default();
        let router = "10.0.0.254".parse().unwrap();
        errors.on_error(7, 0, router, &error(false, 3, 13, (40000, 443)));
        errors.on_error(8, 1, router, &error(false, 3, 13, (40000, 443)));
        let findings = errors.findings();
        assert_eq!(findings.len(), 1, "one finding per flow");
        let f = &findings[0];
        assert_eq!(f.code, "firewall.icmp_admin_prohibited");
        assert_eq!(f.transport, Transport::Udp);
        assert_eq!(f.client.port, 40000);
        assert_eq!(f.server.port, 443);
        assert_eq!(f.evidence.len(), 2);
    }

    #[test]
    fn the_quoted_datagram_is_evidence() {
        let mut errors = UdpIcmpErrors::default();
        let client = Endpoint::new("10.0.0.1".parse().unwrap(), 40000);
        let server = Endpoint::new("10.0.0.2".parse().unwrap(), 443);
        errors.on_datagram(3, 0, client, server);
        errors.on_datagram(5, 10, client, server);
        // Another flow's datagram is not the one quoted.
        errors.on_datagram(6, 11, server, client);
        let router = "10.0.0.254".parse().unwrap();
        errors.on_error(7, 20, router, &error(false, 3, 13, (40000, 443)));
        let f = &errors.findings()[0];
        let frames: Vec<u64> = f.evidence.iter().map(|e| e.frame).collect();
        assert_eq!(
            frames,
            vec![5, 7],
            "the latest datagram of the flow before the error"
        );
    }

    #[test]
    fn the_datagrams_remembered_stay_bounded() {
        let mut last = LastDatagrams::default();
        let server = Endpoint::new("10.0.0.2".parse().unwrap(), 53);
        for port in 0..(3 * DATAGRAM_FLOWS) as u16 {
            let client = Endpoint::new("10.0.0.1".parse().unwrap(), port);
            last.record(
                client,
                server,
                Mark {
                    frame: u64::from(port),
                    ts_ns: 0,
                },
            );
        }
        assert!(last.len() <= 2 * DATAGRAM_FLOWS);
        let newest = Endpoint::new("10.0.0.1".parse().unwrap(), (3 * DATAGRAM_FLOWS - 1) as u16);
        assert!(last.latest(newest, server, 0).is_some());
        let oldest = Endpoint::new("10.0.0.1".parse().unwrap(), 0);
        assert!(last.latest(oldest, server, 0).is_none());
    }

    #[test]
    fn a_quoted_answer_puts_the_client_on_the_ephemeral_side() {
        // A router's TTL exceeded about the server's answer: the flow is the client's call.
        let mut errors = UdpIcmpErrors::default();
        let router = "10.0.0.254".parse().unwrap();
        errors.on_error(1, 0, router, &error(false, 11, 0, (53, 59207)));
        let f = &errors.findings()[0];
        assert_eq!(f.code, "network.ttl_exceeded");
        assert_eq!((f.client.port, f.server.port), (59207, 53));
    }

    #[test]
    fn a_late_answer_to_a_closed_client_port_is_no_finding() {
        // The client's own port unreachable quoting a DNS answer: the answer came after the
        // client closed its socket; nothing here proves a failed call.
        let mut errors = UdpIcmpErrors::default();
        let client = "10.0.0.2".parse().unwrap();
        errors.on_error(1, 0, client, &error(false, 3, 3, (53, 59207)));
        assert!(errors.findings().is_empty());
    }

    #[test]
    fn tcp_quotes_and_other_messages_are_left_alone() {
        let mut errors = UdpIcmpErrors::default();
        let mut tcp = error(false, 3, 3, (40000, 80));
        if let Some(q) = tcp.quoted.as_mut() {
            q.protocol = 6;
        }
        errors.on_error(1, 0, "10.0.0.9".parse().unwrap(), &tcp);
        // Source quench (type 4) names no cause.
        errors.on_error(
            2,
            0,
            "10.0.0.9".parse().unwrap(),
            &error(false, 4, 0, (1, 2)),
        );
        assert!(errors.findings().is_empty());
    }
}
