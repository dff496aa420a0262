//! Lost packets: a stall that never recovered (a path MTU black hole or a peer gone silent), and
//! loss that slowed a call down.

use crate::tcp::{ConnectionSummary, Mark, SideFacts, Stall};
use crate::timefmt::human_duration;

use super::draft::{Draft, after, call};
use super::sanity::RTO_FLOOR_NS;
use super::{Cause, Confidence};

/// Retransmissions of the same data, with the backoff RFC 6298 prescribes, before a stall counts
/// as the peer (or the path) being gone rather than a loss being repaired.
const STALL_RETRANSMISSIONS: u32 = 3;
/// Smallest MTU a path may have (IPv4 RFC 791: 576; IPv6 RFC 8200: 1280): packets no larger
/// cannot be lost to a path MTU problem.
pub(super) const MIN_MTU_V4: u32 = 576;
pub(super) const MIN_MTU_V6: u32 = 1280;
/// TCP/IP header bytes around a segment's payload (IPv4 + TCP with timestamps; IPv6).
const HEADERS_V4: u32 = 52;
const HEADERS_V6: u32 = 72;

/// An ICMP fragmentation-needed (type 3 code 4) or ICMPv6 packet-too-big (type 2).
pub(super) fn is_ptb_note(n: &crate::tcp::IcmpNote) -> bool {
    n.mtu.is_some() || (!n.v6 && n.icmp_type == 3 && n.code == 4) || (n.v6 && n.icmp_type == 2)
}

fn is_ptb(conn: &ConnectionSummary) -> bool {
    conn.icmp_errors.iter().any(is_ptb_note)
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
    if let Some(passed) = blackhole_evidence(conn, sender, &stall, sender_is_client) {
        return Some(blackhole(conn, sender, stall, sender_is_client, passed));
    }
    Some(unresponsive(conn, sender, stall, sender_is_client))
}

/// What shows that small packets of the sender passed while its large ones died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Passed {
    /// Smaller data segments were acknowledged.
    SmallData,
    /// Only the handshake: the peer acknowledged the sender's SYN and kept sending during the
    /// stall (it is there), while every segment the sender retransmitted was full-size.
    Handshake,
}

/// Whether the stall is a black hole: the stalled segments are the sender's largest, too big
/// for the smallest MTU, larger than anything acknowledged, no ICMP too-big came, and small
/// packets demonstrably passed. A peer that vanished sends nothing during the stall; one that
/// kept sending (dup ACKs, window updates, its FIN) while only the sender's full-size segments
/// went unacknowledged is behind a path that drops large packets.
fn blackhole_evidence(
    conn: &ConnectionSummary,
    sender: &SideFacts,
    stall: &Stall,
    sender_is_client: bool,
) -> Option<Passed> {
    let (min_mtu, headers) = if conn.server.ip.is_ipv6() {
        (MIN_MTU_V6, HEADERS_V6)
    } else {
        (MIN_MTU_V4, HEADERS_V4)
    };
    let large = stall.max_payload + headers > min_mtu
        && stall.max_payload >= sender.max_payload
        && stall.max_payload > sender.largest_acked_payload
        && !is_ptb(conn);
    if !large {
        return None;
    }
    if sender.some_data_acked() {
        return Some(Passed::SmallData);
    }
    let receiver = if sender_is_client {
        &conn.facts.server
    } else {
        &conn.facts.client
    };
    let full_size = super::pmtu::full_segment(sender, receiver)
        .is_some_and(|full| full > 0 && stall.max_payload >= full);
    let handshake_passed = sender.acked.is_some() && sender.isn.is_some();
    (full_size && handshake_passed && stall.peer_packets > 0).then_some(Passed::Handshake)
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
    passed: Passed,
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
    let (confidence, small) = match passed {
        Passed::SmallData => (
            Confidence::High,
            format!(
                "while smaller ones got through ({} bytes acknowledged, in segments of up to {} bytes)",
                sender.bytes_acked(),
                sender.largest_acked_payload
            ),
        ),
        Passed::Handshake => (
            Confidence::Medium,
            format!(
                "while the {peer}, which had answered the handshake, kept sending ({} packet{} during the stall, none acknowledging them)",
                stall.peer_packets,
                if stall.peer_packets == 1 { "" } else { "s" }
            ),
        ),
    };
    let mut draft = Draft::new(Cause::PmtuBlackhole, confidence)
        .summary(format!(
            "{}: full-size {who} segments of {} bytes (~{packet}-byte packets) were retransmitted {} times and never acknowledged, {small}; no ICMP {} arrived",
            call(conn),
            stall.max_payload,
            stall.retransmissions,
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
        .remedy("Or clamp the TCP MSS on the tunnel/VPN router (iptables -t mangle ... TCPMSS --clamp-mss-to-pmtu), lower the interface MTU, or enable net.ipv4.tcp_mtu_probing=1.");
    if passed == Passed::Handshake {
        draft = draft.alternative(format!("network.peer_unresponsive_midstream: the path from the {who} may have stopped passing anything after the handshake; a capture at the {peer} shows whether small packets still arrive"));
    }
    draft
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

/// Loss that explains a slow call: several data retransmissions that repaired loss (copies of
/// frames, spurious ones and SYNs are not counted: see `SideFacts::lost_data` and `syn_retry`),
/// and either a loss rate that throttles TCP or time spent waiting for retransmission timers that
/// is a large share of the call.
pub(super) fn packet_loss(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let retransmissions = client.lost_data + server.lost_data;
    let segments = client.data_segments + server.data_segments;
    let rate = |n: u64, of: u64| n as f64 / of.max(1) as f64;
    let worst_rate = rate(client.lost_data, client.data_segments)
        .max(rate(server.lost_data, server.data_segments));
    let waited = client.rto_wait_ns.saturating_add(server.rto_wait_ns);
    let duration = conn.last_ts_ns.saturating_sub(conn.first_ts_ns).max(1);
    let share = waited as f64 / duration as f64;
    let slowed = retransmissions >= 2 && waited >= RTO_FLOOR_NS && share >= 0.2;
    let lossy = retransmissions >= 3 && worst_rate >= LOSSY_RATE;
    if !slowed && !lossy {
        return None;
    }
    let first = super::draft::earliest(client.first_lost_data, server.first_lost_data)?;
    let timers = if waited >= RTO_FLOOR_NS {
        format!(
            ", {} spent waiting on retransmission timers ({:.0}% of the {} call)",
            human_duration(waited),
            share * 100.0,
            human_duration(duration)
        )
    } else {
        String::new()
    };
    let mut draft = Draft::new(Cause::PacketLoss, Confidence::Medium)
        .summary(format!(
            "{}: {retransmissions} data retransmissions in {segments} data segments (up to {:.1}% in one direction){timers}",
            call(conn),
            worst_rate * 100.0,
        ))
        .explanation(
            "Packets were lost on the path and TCP repaired the loss by retransmitting; timeout \
             retransmissions stall the call for a retransmission timeout each (at least 200 ms \
             on Linux, 1 s for a SYN), which is where the call's time went. One capture point \
             cannot tell where on the path the packets were lost.",
        )
        .evidence(first, "first retransmission of lost data")
        .alternative("network.congestion: loss from a congested queue on the path rather than a faulty link")
        .remedy("Find the lossy hop: mtr / ping with many probes toward the server from the client, and back from the server; check interface error and drop counters (ip -s link, switch ports).")
        .remedy("Check for congestion or policing on the path (rate limits, full queues, Wi-Fi/VPN links).")
        .check_count(retransmissions)
        .check_ratio(worst_rate);
    if !timers.is_empty() {
        draft = draft.check_ratio(share).check_wait(waited, false);
    }
    let longest = [client.longest_wait, server.longest_wait]
        .into_iter()
        .flatten()
        .max_by_key(|(_, w)| *w)
        .filter(|&(_, w)| w >= RTO_FLOOR_NS);
    if let Some((mark, wait)) = longest {
        draft = draft.evidence(
            mark,
            format!(
                "retransmission after {} of silence (the longest stall)",
                human_duration(wait)
            ),
        );
    }
    Some(super::syn_retry::lost_syn_evidence(conn, draft))
}

/// A retransmission timeout backs off from RFC 6298's 1 s floor (1 s, 2 s, 4 s...): a sender
/// with unacknowledged data that stays silent through three of them (7 s) has stopped, not
/// waited on a timer.
const SENDER_GONE_NS: i64 = 7_000_000_000;

/// A sender that went silent with data its peer had not acknowledged (a hole the peer's ACKs and
/// SACKs kept pointing at), never repaired it, and the peer, still there, finally gave up: the
/// sender's side stalled, whoever closed. The close is the consequence, not the cause.
pub(super) fn abandoned_transfer(conn: &ConnectionSummary) -> Option<Draft> {
    [false, true]
        .into_iter()
        .find_map(|sender_is_client| abandoned_by(conn, sender_is_client))
}

fn abandoned_by(conn: &ConnectionSummary, sender_is_client: bool) -> Option<Draft> {
    let (sender, receiver) = if sender_is_client {
        (&conn.facts.client, &conn.facts.server)
    } else {
        (&conn.facts.server, &conn.facts.client)
    };
    let (oldest, _) = sender.oldest_unacked?;
    if sender.all_data_acked() || sender.first_fin.is_some() || sender.first_rst.is_some() {
        return None;
    }
    let last = sender.last_sent?;
    let close = super::draft::earliest(
        receiver.first_fin,
        receiver.first_rst.map(super::stream::rst_mark),
    )
    .filter(|c| c.frame > last.frame)?;
    // The receiver was still there after the sender's last packet, acknowledging what it had.
    let waiting: Mark = receiver
        .reference
        .map(Into::into)
        .filter(|r: &Mark| r.frame > last.frame && r.frame < close.frame)?;
    let silence = close.ts_ns.saturating_sub(last.ts_ns);
    if silence < SENDER_GONE_NS {
        return None;
    }
    let (who, peer) = roles(sender_is_client);
    let owed = match (sender.data_end, sender.acked) {
        (Some(end), Some(acked)) => u64::from(end.diff(acked).unsigned_abs()),
        _ => 0,
    };
    Some(
        Draft::new(Cause::PeerUnresponsiveMidstream, Confidence::Medium)
            .summary(format!(
                "{}: mid-transfer the {who} went silent for {} with {owed} bytes its {peer} had not acknowledged, never retransmitting them; the {peer} kept acknowledging what it had and finally closed",
                call(conn),
                human_duration(silence)
            ))
            .explanation(format!(
                "The {peer}'s acknowledgments (and SACK blocks) pointed at data it was missing, \
                 and a live {who} retransmits unacknowledged data within a retransmission timeout \
                 (RFC 6298: 1 s, doubling). The {who} sent nothing at all: it (or the path from \
                 it) stopped mid-transfer, and the {peer} gave up waiting. The {peer}'s close is \
                 the consequence, not the cause."
            ))
            .alternative(format!("network.packet_loss: the {who}'s retransmissions may have been lost on the path after the capture point"))
            .evidence(oldest, format!("oldest {who} data the {peer} never acknowledged"))
            .evidence(waiting, format!("the {peer}'s last acknowledgment, still missing data, {} after the {who}'s last packet", after(last, waiting)))
            .evidence(close, format!("the {peer} gives up, {} after the {who}'s last packet", human_duration(silence)))
            .remedy(format!("Check what the {who} at {} was doing at that time (a stalled process, a crash, a failover) and the path from it (a stateful firewall or NAT that dropped the connection's state).", if sender_is_client { conn.client } else { conn.server }))
            .check_wait(silence, false)
            .check_count(owed),
    )
}

/// Path MTU discovery at work: a router said the connection's packets were too big (ICMP
/// fragmentation-needed / packet-too-big, RFC 1191 / RFC 8201), and the sender's data got
/// through afterwards, re-segmented: worth knowing, nothing failed.
pub(super) fn pmtu_step(conn: &ConnectionSummary) -> Option<Draft> {
    let signals: Vec<&crate::tcp::IcmpNote> =
        conn.icmp_errors.iter().filter(|n| is_ptb_note(n)).collect();
    let first = signals.first()?;
    let sender_is_client = first.quotes_client;
    let sender = if sender_is_client {
        &conn.facts.client
    } else {
        &conn.facts.server
    };
    let still_stuck = sender
        .stall
        .is_some_and(|s| s.retransmissions >= STALL_RETRANSMISSIONS);
    if still_stuck || !sender.some_data_acked() {
        return None;
    }
    let (who, _) = roles(sender_is_client);
    let mtu = signals.iter().find_map(|n| n.mtu);
    let mut draft = Draft::new(Cause::PmtuStep, Confidence::High)
        .summary(format!(
            "{}: {} ICMP {} {}quoted the {who}'s packets; the {who} re-segmented and its data was acknowledged: path MTU discovery worked",
            call(conn),
            conn.icmp_error_count,
            if first.v6 { "packet-too-big" } else { "fragmentation-needed" },
            mtu.map(|m| format!("(next-hop MTU {m}) ")).unwrap_or_default()
        ))
        .remedy(format!(
            "Nothing failed. To save the round trip, clamp the TCP MSS where the smaller link starts{} or match the interface MTU to the path.",
            mtu.map(|m| format!(" (MSS {} for IPv4)", m.saturating_sub(40))).unwrap_or_default()
        ));
    for n in &signals {
        draft.push_evidence(
            Mark {
                frame: n.frame,
                ts_ns: n.ts_ns,
            },
            format!(
                "ICMP {} from {}{}",
                if n.v6 {
                    "packet too big"
                } else {
                    "fragmentation needed"
                },
                n.from,
                n.mtu
                    .map(|m| format!(", next-hop MTU {m}"))
                    .unwrap_or_default()
            ),
        );
    }
    Some(draft.check_count(conn.icmp_error_count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::script::{ACK, PSH_ACK, RST_ACK, SYN, SYN_ACK, Step, c, run, s};

    fn handshake() -> Vec<Step> {
        vec![
            c(0, SYN, 100, 0, 0).id(1),
            s(10, SYN_ACK, 500, 101, 0).id(100),
            c(20, ACK, 101, 501, 0).id(2),
        ]
    }

    #[test]
    fn frames_seen_twice_are_not_loss() {
        let mut steps = handshake();
        for i in 0..4u32 {
            let seq = 101 + i * 100;
            let id = 3 + i as u16;
            let ms = 30 + i64::from(i);
            steps.push(c(ms, PSH_ACK, seq, 501, 100).id(id));
            // The mirror port's copy, microseconds later.
            steps.push(c(ms, PSH_ACK, seq, 501, 100).id(id));
        }
        steps.push(s(80, ACK, 501, 501, 0).id(101));
        let conn = run(&steps);
        assert_eq!(conn.facts.client.duplicates, 4);
        assert_eq!(conn.facts.client.lost_data, 0);
        // tshark's counters still see them as retransmissions.
        assert!(conn.client_to_server.retransmissions > 0);
        assert!(packet_loss(&conn).is_none());
    }

    #[test]
    fn resending_acknowledged_data_is_not_loss() {
        let mut steps = handshake();
        steps.push(c(30, PSH_ACK, 101, 501, 100).id(3));
        steps.push(s(80, ACK, 501, 201, 0).id(101));
        // Sent again with a new IP ID after it was acknowledged.
        steps.push(c(400, PSH_ACK, 101, 501, 100).id(4));
        let conn = run(&steps);
        assert_eq!(conn.facts.client.lost_data, 0);
    }

    #[test]
    fn a_sender_gone_silent_with_a_hole_is_the_stall_not_the_closing_client() {
        let mut steps = handshake();
        steps.extend([
            c(21, PSH_ACK, 101, 501, 50),
            s(30, ACK, 501, 151, 1000),
            s(31, ACK, 1501, 151, 1000), // lost before the client
            s(32, ACK, 2501, 151, 1000),
            c(40, ACK, 151, 1501, 0),
            c(13_000, ACK, 151, 1501, 0),
            c(43_000, RST_ACK, 151, 1501, 0),
        ]);
        let conn = run(&steps);
        let d = abandoned_transfer(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::PeerUnresponsiveMidstream);
        // The oldest unacknowledged server segment, the client's last ACK, its RST.
        assert_eq!(d.frames(), vec![6, 9, 10]);
    }

    #[test]
    fn a_client_closing_while_the_server_still_sends_is_no_stall() {
        let mut steps = handshake();
        steps.extend([
            c(21, PSH_ACK, 101, 501, 50),
            s(30, ACK, 501, 151, 1000),
            c(40, ACK, 151, 1501, 0),
            s(41, ACK, 1501, 151, 1000),
            c(42, RST_ACK, 151, 1501, 0),
        ]);
        assert!(abandoned_transfer(&run(&steps)).is_none());
    }

    #[test]
    fn too_big_then_resegmented_data_is_a_pmtu_step() {
        let mut steps = handshake();
        steps.extend([
            c(30, ACK, 101, 501, 1460),
            c(30, ACK, 101, 501, 1460).too_big(1492),
            c(31, ACK, 101, 501, 1452),
            s(80, ACK, 501, 1553, 0),
            c(81, PSH_ACK, 1553, 501, 8),
            s(130, ACK, 501, 1561, 0),
        ]);
        let conn = run(&steps);
        let d = pmtu_step(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::PmtuStep);
        assert_eq!(d.frames(), vec![5]);
        assert!(packet_loss(&conn).is_none());
    }
}
