//! ICMP and ICMPv6 errors quoting a connection (RFC 792, RFC 1812 5.2.7.1, RFC 4443): what the
//! error says, and who sent it, decide the cause.

use crate::tcp::{ConnectionSummary, IcmpNote, Mark};

use super::draft::{Draft, after, call};
use super::{Cause, Confidence};

/// A router gives up resolving a neighbour's address after about a second or more (Linux: 3
/// ARP/ND probes one second apart); an unreachable that comes later than this after the SYN
/// was made by address resolution failing, not by a filter rule.
const RESOLUTION_DELAY_NS: i64 = 1_000_000_000;

/// What an ICMP error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    NetUnreachable,
    HostUnreachable,
    ProtocolUnreachable,
    PortUnreachable,
    AdminProhibited,
    TtlExceeded,
}

pub(super) fn kind(note: &IcmpNote) -> Option<Kind> {
    use Kind::*;
    match (note.v6, note.icmp_type, note.code) {
        (false, 3, 0 | 6 | 11) => Some(NetUnreachable),
        (false, 3, 1 | 7 | 12) => Some(HostUnreachable),
        (false, 3, 2) => Some(ProtocolUnreachable),
        (false, 3, 3) => Some(PortUnreachable),
        (false, 3, 9 | 10 | 13 | 14 | 15) => Some(AdminProhibited),
        (false, 11, 0) => Some(TtlExceeded),
        (true, 1, 0 | 2) => Some(NetUnreachable),
        (true, 1, 3) => Some(HostUnreachable),
        (true, 1, 4) => Some(PortUnreachable),
        (true, 1, 1 | 5 | 6) => Some(AdminProhibited),
        (true, 3, 0) => Some(TtlExceeded),
        // Fragmentation needed / packet too big is path MTU discovery doing its job.
        _ => None,
    }
}

/// The message in words, as Wireshark names it.
pub(super) fn describe(note: &IcmpNote) -> String {
    let text = match (note.v6, note.icmp_type, note.code) {
        (false, 3, 0) => "network unreachable",
        (false, 3, 1) => "host unreachable",
        (false, 3, 2) => "protocol unreachable",
        (false, 3, 3) => "port unreachable",
        (false, 3, 6) => "destination network unknown",
        (false, 3, 7) => "destination host unknown",
        (false, 3, 9) => "network administratively prohibited",
        (false, 3, 10) => "host administratively prohibited",
        (false, 3, 11) => "network unreachable for TOS",
        (false, 3, 12) => "host unreachable for TOS",
        (false, 3, 13) => "communication administratively filtered",
        (false, 3, 14) => "host precedence violation",
        (false, 3, 15) => "precedence cutoff in effect",
        (false, 11, 0) => "time to live exceeded in transit",
        (true, 1, 0) => "no route to destination",
        (true, 1, 1) => "communication with destination administratively prohibited",
        (true, 1, 2) => "beyond scope of source address",
        (true, 1, 3) => "address unreachable",
        (true, 1, 4) => "port unreachable",
        (true, 1, 5) => "source address failed ingress/egress policy",
        (true, 1, 6) => "reject route to destination",
        (true, 3, 0) => "hop limit exceeded in transit",
        _ => "error",
    };
    let proto = if note.v6 { "ICMPv6" } else { "ICMP" };
    format!(
        "{proto} {}/{} {text} from {}",
        note.icmp_type, note.code, note.from
    )
}

fn first_error(conn: &ConnectionSummary) -> Option<(&IcmpNote, Kind)> {
    conn.icmp_errors
        .iter()
        .find_map(|n| kind(n).map(|k| (n, k)))
}

fn mark(note: &IcmpNote) -> Mark {
    Mark {
        frame: note.frame,
        ts_ns: note.ts_ns,
    }
}

/// The SYN drew an ICMP error.
pub(super) fn at_connect(conn: &ConnectionSummary, syn: Mark) -> Option<Draft> {
    let (note, kind) = first_error(conn)?;
    let draft = classify(conn, note, kind, Some(syn))
        .evidence(syn, format!("client SYN to port {}", conn.server.port))
        .evidence(
            mark(note),
            format!(
                "{}, {} after the SYN",
                describe(note),
                after(syn, mark(note))
            ),
        );
    Some(draft)
}

/// An ICMP error about an established connection that then failed (it stalled or was reset).
pub(super) fn midstream(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let failed = client.stall.is_some() || server.stall.is_some() || client.first_rst.is_some();
    if !failed {
        return None;
    }
    let (note, kind) = first_error(conn)?;
    let mut draft = classify(conn, note, kind, None).evidence(mark(note), describe(note));
    if let Some(stall) = client.stall.or(server.stall) {
        draft = draft.evidence(
            stall.first,
            format!(
                "retransmission: {} retransmissions unanswered",
                stall.retransmissions
            ),
        );
    }
    Some(draft)
}

fn classify(conn: &ConnectionSummary, note: &IcmpNote, kind: Kind, syn: Option<Mark>) -> Draft {
    let from_server = note.from == conn.server.ip;
    let sender = if from_server {
        format!("the server {} itself", conn.server.ip)
    } else {
        format!("the router {}", note.from)
    };
    let what = describe(note);
    let phase = if syn.is_some() {
        "the connect"
    } else {
        "the established connection"
    };
    let summary = format!("{}: {phase} failed: {what}", call(conn));
    let port = conn.server.port;
    match kind {
        Kind::AdminProhibited => Draft::new(Cause::IcmpAdminProhibited, Confidence::High)
            .summary(summary)
            .explanation(format!(
                "{sender} reported that a filter forbids this traffic (administratively \
                 prohibited): a firewall rule REJECTs it and says so with ICMP (e.g. iptables \
                 REJECT --reject-with icmp-admin-prohibited). The client reports 'no route to host' \
                 or 'host unreachable'."
            ))
            .remedy(format!("Find the rule on {} (or the firewall it fronts) that rejects TCP from {} to {}:{port}; allow it or use the intended port.", note.from, conn.client.ip, conn.server.ip))
            .remedy("Check security groups / network ACLs / host firewalls (nftables, iptables, firewalld zones) between the client and the server."),
        Kind::PortUnreachable => Draft::new(Cause::IcmpPortUnreachable, Confidence::High)
            .summary(summary)
            .explanation(format!(
                "{sender} answered with ICMP port unreachable. A TCP stack answers a closed port \
                 with a RST, not ICMP: port unreachable for TCP is what a firewall REJECT rule \
                 sends by default (iptables REJECT, --reject-with icmp-port-unreachable). \
                 The client reports 'connection refused'."
            ))
            .remedy(format!(
                "Look for a REJECT rule for TCP port {port} on {} (iptables -S / nft list ruleset): it answers instead of the service.",
                if from_server { "the server host" } else { "the device that sent the ICMP" }
            ))
            .remedy("If the port is meant to be closed, point the client at the right port or host."),
        Kind::ProtocolUnreachable => Draft::new(Cause::IcmpProtocolUnreachable, Confidence::High)
            .summary(summary)
            .explanation(format!("{sender} answered with ICMP protocol unreachable, which for TCP comes from a REJECT rule (--reject-with icmp-proto-unreachable)."))
            .remedy(format!("Find the rule on {} that rejects TCP to {}:{port}.", note.from, conn.server.ip)),
        Kind::HostUnreachable | Kind::NetUnreachable if from_server => {
            let cause = if kind == Kind::HostUnreachable { Cause::IcmpHostRejected } else { Cause::IcmpNetRejected };
            Draft::new(cause, Confidence::High)
                .summary(summary)
                .explanation(format!(
                    "{sender} reported itself unreachable. A host that answers cannot be \
                     unreachable: this is its own firewall rejecting the connection with an ICMP \
                     unreachable (e.g. iptables REJECT --reject-with icmp-host-unreachable, firewalld's default reject)."
                ))
                .remedy(format!("Check the host firewall on {} (iptables -S, nft list ruleset, firewall-cmd --list-all) for a rule rejecting TCP port {port} from {}.", conn.server.ip, conn.client.ip))
        }
        Kind::HostUnreachable => {
            let delay = syn.map(|s| note.ts_ns.saturating_sub(s.ts_ns));
            let resolved_late = delay.is_some_and(|d| d >= RESOLUTION_DELAY_NS);
            let draft = Draft::new(Cause::IcmpHostUnreachable,
                if resolved_late { Confidence::High } else { Confidence::Medium },
            )
            .summary(summary)
            .explanation(format!(
                "{sender} could not deliver to {}: on its last hop the address did not answer \
                 address resolution (ARP / neighbour discovery), so the host is down, unplugged, \
                 or the address is wrong.{}",
                conn.server.ip,
                if resolved_late { " The error came long after the SYN, the time a router spends on address resolution before giving up." } else { "" }
            ))
            .remedy(format!("Check that {} is up and holds that address (ping it from {}'s network; look at the router's neighbour table: ip neigh).", conn.server.ip, note.from))
            .remedy("Check DNS / configuration for a stale address of the service.");
            if resolved_late {
                draft
            } else {
                draft.alternative(format!("firewall.icmp_host_unreachable: a filter on {} rejecting with icmp-host-unreachable sends the same message at once", note.from))
            }
        }
        Kind::NetUnreachable => Draft::new(Cause::IcmpNetUnreachable, Confidence::Medium)
            .summary(summary)
            .explanation(format!(
                "{sender} has no route to {}'s network and said so. The client reports \
                 'network is unreachable'.",
                conn.server.ip
            ))
            .alternative(format!("firewall.icmp_net_unreachable: a filter on {} rejecting with icmp-net-unreachable sends the same message", note.from))
            .remedy(format!("Check the routing table of {} for {} (ip route get {}), and the route advertisements (BGP/VPC route tables) that should carry it.", note.from, conn.server.ip, conn.server.ip))
            .remedy("Check that the client uses the right address for the service (a private address from another network, a stale DNS record)."),
        Kind::TtlExceeded => Draft::new(Cause::TtlExceeded, Confidence::High)
            .summary(summary)
            .explanation(format!(
                "{sender} dropped the packet because its TTL / hop limit ran out. With a normal \
                 initial TTL (64 or more) this means a routing loop between routers that keep \
                 handing the packet to each other, or a path longer than the TTL allows."
            ))
            .remedy(format!("Trace the path (traceroute -T -p {port} {} / mtr) and look for the same routers repeating: a loop.", conn.server.ip))
            .remedy(format!("Check the routes for {} on {} and its neighbours (static routes pointing at each other, a default route back the way the packet came).", conn.server.ip, note.from)),
    }
}
