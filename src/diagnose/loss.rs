//! Lost packets: a stall that never recovered (a path MTU black hole or a peer gone silent), and
//! loss that slowed a call down.

use crate::tcp::{ConnectionSummary, SideFacts, Stall};
use crate::timefmt::human_duration;

use super::draft::{Draft, after, call};
use super::{Cause, Confidence};

/// Retransmissions of the same data, with the backoff RFC 6298 prescribes, before a stall counts
/// as the peer (or the path) being gone rather than a loss being repaired.
const STALL_RETRANSMISSIONS: u32 = 3;
/// Smallest MTU a path may have (IPv4 RFC 791: 576; IPv6 RFC 8200: 1280): packets no larger
/// cannot be lost to a path MTU problem.
const MIN_MTU_V4: u32 = 576;
const MIN_MTU_V6: u32 = 1280;
/// TCP/IP header bytes around a segment's payload (IPv4 + TCP with timestamps; IPv6).
const HEADERS_V4: u32 = 52;
const HEADERS_V6: u32 = 72;

fn is_ptb(conn: &ConnectionSummary) -> bool {
    conn.icmp_errors.iter().any(|n| {
        n.mtu.is_some() || (!n.v6 && n.icmp_type == 3 && n.code == 4) || (n.v6 && n.icmp_type == 2)
    })
}

/// A side whose last retransmissions were never acknowledged, to the end of the connection.
pub(super) fn stalled(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let (sender, stall, sender_is_client) = match (client.stall, server.stall) {
        (Some(s), _) if s.retransmissions >= STALL_RETRANSMISSIONS => (client, s, true),
        (_, Some(s)) if s.retransmissions >= STALL_RETRANSMISSIONS => (server, s, false),
        _ => return None,
    };
    if stall.max_payload == 0 {
        return None; // SYN, FIN or keep-alive retransmissions: handled elsewhere
    }
    if is_blackhole(conn, sender, &stall) {
        return Some(blackhole(conn, sender, stall, sender_is_client));
    }
    Some(unresponsive(conn, sender, stall, sender_is_client))
}

fn is_blackhole(conn: &ConnectionSummary, sender: &SideFacts, stall: &Stall) -> bool {
    let (min_mtu, headers) = if conn.server.ip.is_ipv6() {
        (MIN_MTU_V6, HEADERS_V6)
    } else {
        (MIN_MTU_V4, HEADERS_V4)
    };
    stall.max_payload + headers > min_mtu
        && stall.max_payload >= sender.max_payload
        && stall.max_payload > sender.largest_acked_payload
        && sender.some_data_acked()
        && !is_ptb(conn)
}

fn roles(sender_is_client: bool) -> (&'static str, &'static str) {
    if sender_is_client {
        ("client", "server")
    } else {
        ("server", "client")
    }
}

fn blackhole(
    conn: &ConnectionSummary,
    sender: &SideFacts,
    stall: Stall,
    sender_is_client: bool,
) -> Draft {
    let (who, peer) = roles(sender_is_client);
    let v6 = conn.server.ip.is_ipv6();
    let headers = if v6 { HEADERS_V6 } else { HEADERS_V4 };
    let packet = stall.max_payload + headers;
    let ping = if v6 {
        format!(
            "ping -6 -M do -s {} {}",
            packet.saturating_sub(48),
            conn.server.ip
        )
    } else {
        format!(
            "ping -M do -s {} {}",
            packet.saturating_sub(28),
            conn.server.ip
        )
    };
    Draft::new(Cause::PmtuBlackhole, Confidence::High)
        .summary(format!(
            "{}: {who} segments of {} bytes (~{packet}-byte packets) were retransmitted {} times and never acknowledged, while smaller ones got through ({} bytes acknowledged, in segments of up to {} bytes); no ICMP {} arrived",
            call(conn),
            stall.max_payload,
            stall.retransmissions,
            sender.bytes_acked(),
            sender.largest_acked_payload,
            if v6 { "packet-too-big" } else { "fragmentation-needed" }
        ))
        .explanation(format!(
            "A link on the path has a smaller MTU than the {who}'s, and the router in front of it \
             drops full-size packets without the ICMP {} message path MTU discovery relies on \
             (RFC 1191 / RFC 8201), usually because a firewall filters ICMP. Small packets \
             (handshake, headers, ACKs) pass; every full-size segment dies, so the transfer hangs \
             at its first large write.",
            if v6 { "packet-too-big" } else { "fragmentation-needed" }
        ))
        .alternative("firewall.drops_large_packets: a filter dropping packets by size looks the same")
        .evidence(stall.first, format!("first retransmission of a {}-byte segment", stall.max_payload))
        .evidence(stall.last, format!("still unacknowledged after {} retransmissions ({} after the first)", stall.retransmissions, after(stall.first, stall.last)))
        .remedy(format!("Confirm from the {who}: `{ping}` fails while smaller sizes pass; lower -s until it passes to find the path MTU."))
        .remedy(format!("Let ICMP {} through every firewall on the path (and do not filter it on the {peer}'s side).", if v6 { "type 2 (packet too big)" } else { "type 3 code 4 (fragmentation needed)" }))
        .remedy("Or clamp the TCP MSS on the tunnel/VPN router (iptables -t mangle ... TCPMSS --clamp-mss-to-pmtu), lower the interface MTU, or enable net.ipv4.tcp_mtu_probing=1.")
}

fn unresponsive(
    conn: &ConnectionSummary,
    sender: &SideFacts,
    stall: Stall,
    sender_is_client: bool,
) -> Draft {
    let (who, peer) = roles(sender_is_client);
    let gave_up = sender.first_rst.map(|r| crate::tcp::Mark {
        frame: r.frame,
        ts_ns: r.ts_ns,
    });
    let mut draft = Draft::new(Cause::PeerUnresponsiveMidstream, Confidence::Medium)
        .summary(format!(
            "{}: mid-transfer the {peer} stopped acknowledging: the {who} retransmitted the same data {} times over {} with no answer{}",
            call(conn),
            stall.retransmissions,
            after(stall.first, stall.last),
            if stall.peer_packets == 0 { format!(" (nothing at all came from the {peer})") } else { String::new() }
        ))
        .explanation(format!(
            "The connection worked, then every packet from the {who} went unacknowledged and the \
             {who} backed off exponentially (RFC 6298) until it gave up. Something between them \
             stopped passing the flow or the {peer} vanished: the host crashed or lost its network, \
             a stateful firewall or NAT dropped the connection's state (failover, idle timeout), \
             or a route changed."
        ))
        .alternative(format!("server.host_down: the {peer} host crashed or was disconnected"))
        .alternative("firewall.state_lost: a stateful firewall/NAT forgot the connection and now drops its packets")
        .evidence(stall.first, "first retransmission that was never acknowledged")
        .evidence(stall.last, format!("retransmission {} of the same data, {} after the first", stall.retransmissions, after(stall.first, stall.last)))
        .remedy(format!("Check whether {} was up and reachable at that time (monitoring, kernel logs, a capture on its side).", conn.server))
        .remedy("Check stateful devices on the path (firewalls, NAT gateways, load balancers) for state-table drops, failovers or idle timeouts at that time.")
        .remedy("Enable TCP keep-alives or application heartbeats shorter than the devices' idle timeouts on long-lived connections.");
    if let Some(rst) = gave_up.filter(|r| r.frame > stall.last.frame) {
        draft = draft.evidence(rst, format!("the {who} gives up and resets"));
    }
    draft
}

/// Loss rate (retransmitted / data segments in a direction) from which TCP's throughput suffers
/// visibly: by the Mathis et al. model, 1% loss caps a flow near 12 x MSS per RTT.
const LOSSY_RATE: f64 = 0.01;

/// Loss that explains a slow call: several retransmissions, and either a loss rate that throttles
/// TCP or time spent waiting for retransmission timers that is a large share of the call.
pub(super) fn packet_loss(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let c2s = &conn.client_to_server;
    let s2c = &conn.server_to_client;
    let lost = |d: &crate::tcp::DirectionCounts| d.retransmissions - d.spurious_retransmissions;
    let retransmissions = lost(c2s) + lost(s2c);
    let segments = client.data_segments + server.data_segments;
    let rate = |n: u64, of: u64| n as f64 / of.max(1) as f64;
    let worst_rate =
        rate(lost(c2s), client.data_segments).max(rate(lost(s2c), server.data_segments));
    let waited = client.rto_wait_ns.saturating_add(server.rto_wait_ns);
    let duration = conn.last_ts_ns.saturating_sub(conn.first_ts_ns).max(1);
    let share = waited as f64 / duration as f64;
    let slowed = retransmissions >= 2 && waited >= 200_000_000 && share >= 0.2;
    let lossy = retransmissions >= 3 && worst_rate >= LOSSY_RATE;
    if !slowed && !lossy {
        return None;
    }
    let first = earliest_retransmission(client, server)?;
    let only_syns = server.first_syn.is_some()
        && u64::from(client.syn_count.saturating_sub(1)) == retransmissions;
    let mut draft = Draft::new(Cause::PacketLoss, Confidence::Medium)

        .summary(format!(
            "{}: {retransmissions} retransmissions in {segments} data segments (up to {:.1}% in one direction), {} spent waiting on retransmission timers ({:.0}% of the {} call)",
            call(conn),
            worst_rate * 100.0,
            human_duration(waited),
            share * 100.0,
            human_duration(duration)
        ))
        .explanation(
            "Packets were lost on the path and TCP repaired the loss by retransmitting; timeout \
             retransmissions stall the call for a retransmission timeout each (at least 200 ms \
             on Linux, 1 s for a SYN), which is where the call's time went. One capture point \
             cannot tell where on the path the packets were lost.",
        )
        .evidence(first, "first retransmission")
        .alternative(if only_syns {
            "server.syn_backlog_full: only SYNs were retransmitted; a listener whose queues are full drops SYNs until it accepts again"
        } else {
            "network.congestion: loss from a congested queue on the path rather than a faulty link"
        })
        .remedy("Find the lossy hop: mtr / ping with many probes toward the server from the client, and back from the server; check interface error and drop counters (ip -s link, switch ports).")
        .remedy("Check for congestion or policing on the path (rate limits, full queues, Wi-Fi/VPN links).");
    let longest = [client.longest_wait, server.longest_wait]
        .into_iter()
        .flatten()
        .max_by_key(|(_, w)| *w);
    if let Some((mark, wait)) = longest {
        draft = draft.evidence(
            mark,
            format!(
                "retransmission after {} of silence (the longest stall)",
                human_duration(wait)
            ),
        );
    }
    Some(draft)
}

fn earliest_retransmission(client: &SideFacts, server: &SideFacts) -> Option<crate::tcp::Mark> {
    super::draft::earliest(client.first_retransmission, server.first_retransmission)
}
