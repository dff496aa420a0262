//! A path MTU black hole (RFC 1191 / RFC 8201 discovery defeated: a router drops packets larger
//! than its next link and the ICMP that should say so never arrives), seen from the side that
//! receives the big packets.
//!
//! The sender's full-size segments die on the way; only small packets (ACKs, a FIN, short
//! segments) arrive. The receiver's capture then shows a hole in the sender's sequence space:
//! a later packet of the sender (an ACK of the receiver's FIN, the short last segment of a
//! flight) carries a sequence number past everything that arrived (tshark: "previous segment
//! not captured"), the receiver's ACKs stay below the hole to the end, and no full-size segment
//! of the sender ever appears. When the missing bytes are a whole number of full-size segments
//! the black hole is the reading; loss of large segments elsewhere on the path is the
//! alternative, never a silent server.

use crate::tcp::{ConnectionSummary, Hole, SideFacts};

use super::draft::{Draft, call, earliest};
use super::loss::{MIN_MTU_V4, MIN_MTU_V6};
use super::stream::rst_mark;
use super::{Cause, Confidence};

/// IP and TCP headers without options (IPv4 20 + 20; IPv6 40 + 20).
const BARE_HEADERS_V4: u32 = 40;
const BARE_HEADERS_V6: u32 = 60;
/// The TCP timestamp option as stacks pad it (10 bytes + 2 NOPs), carried by every segment once
/// both SYNs offered it (RFC 7323).
const TIMESTAMP_OPTION: u32 = 12;

/// The payload of a full-size segment from `sender` to `receiver`: the smaller of the two MSS
/// announcements (a sender's own MSS reflects its interface MTU) less the timestamp option
/// when both SYNs carried it. `None` when a SYN was not seen.
pub(super) fn full_segment(sender: &SideFacts, receiver: &SideFacts) -> Option<u32> {
    let mss = u32::from(receiver.mss?.min(sender.mss?));
    let timestamps = sender.syn_tsvals[0].is_some() && receiver.syn_tsvals[0].is_some();
    Some(mss.saturating_sub(if timestamps { TIMESTAMP_OPTION } else { 0 }))
}

/// Whether a packet carrying `payload` bytes of TCP data can exceed the smallest path MTU, so
/// that a path MTU problem can kill it.
pub(super) fn can_exceed_min_mtu(conn: &ConnectionSummary, payload: u32) -> bool {
    if conn.server.ip.is_ipv6() {
        payload + BARE_HEADERS_V6 > MIN_MTU_V6
    } else {
        payload + BARE_HEADERS_V4 > MIN_MTU_V4
    }
}

/// The black hole seen from the receiver: a hole in the sender's sequence space that the
/// receiver never acknowledged past, made of whole full-size segments, while no full-size
/// segment of the sender ever arrived and the receiver gave up (FIN or RST).
pub(super) fn seen_by_receiver(conn: &ConnectionSummary) -> Option<Draft> {
    [false, true]
        .into_iter()
        .find_map(|sender_is_client| receiver_view(conn, sender_is_client))
}

fn receiver_view(conn: &ConnectionSummary, sender_is_client: bool) -> Option<Draft> {
    let (sender, receiver) = if sender_is_client {
        (&conn.facts.client, &conn.facts.server)
    } else {
        (&conn.facts.server, &conn.facts.client)
    };
    let hole: Hole = sender.hole?;
    let full = full_segment(sender, receiver).filter(|&f| f > 0)?;
    let bytes = hole.bytes();
    let whole_segments = bytes >= full && bytes.is_multiple_of(full);
    // Everything of the sender that arrived was smaller than a full segment, and the receiver
    // never acknowledged past the hole.
    let only_small = sender.max_payload < full;
    let never_filled = sender.acked.is_none_or(|a| !a.gt(hole.start));
    if !whole_segments || !only_small || !never_filled || !can_exceed_min_mtu(conn, full) {
        return None;
    }
    let gave_up = earliest(receiver.first_fin, receiver.first_rst.map(rst_mark))?;
    let (who, peer) = if sender_is_client {
        ("client", "server")
    } else {
        ("server", "client")
    };
    let segments = bytes / full;
    let small = if sender.data_segments > 0 {
        format!(
            "only {} smaller segment{} of up to {} bytes arrived",
            sender.data_segments,
            if sender.data_segments == 1 { "" } else { "s" },
            sender.max_payload
        )
    } else {
        "only packets without data (ACKs, a FIN) arrived".to_string()
    };
    let v6 = conn.server.ip.is_ipv6();
    let mut draft = Draft::new(Cause::PmtuBlackhole, Confidence::Medium)
        .summary(format!(
            "{}: the {who}'s later packet shows {bytes} bytes sent that never arrived, {segments} full-size segment{} of {full} bytes, while {small}; the {peer}'s acknowledgments stayed below the hole until it gave up",
            call(conn),
            if segments == 1 { "" } else { "s" },
        ))
        .explanation(format!(
            "Seen from the {peer}: every full-size segment of the {who} was lost on the way while \
             small packets passed. That is a path MTU black hole: a link on the path has a \
             smaller MTU, and the router in front of it drops full-size packets without the ICMP \
             {} message path MTU discovery relies on (RFC 1191 / RFC 8201), usually because a \
             firewall filters ICMP. The {who}'s sequence numbers prove it sent the data; the \
             {peer} never received it and timed out.",
            if v6 { "packet-too-big" } else { "fragmentation-needed" }
        ))
        .alternative(format!("network.packet_loss: large segments lost elsewhere on the path (a filter dropping packets by size looks the same); a capture at the {who} shows its retransmissions"))
        .evidence(hole.after, format!("{who} packet past {bytes} bytes that never arrived (previous segments not captured)"))
        .evidence(gave_up, format!("the {peer} gives up, still acknowledging below the hole"))
        .remedy(format!("Let ICMP {} through every firewall on the path.", if v6 { "type 2 (packet too big)" } else { "type 3 code 4 (fragmentation needed)" }))
        .remedy("Or clamp the TCP MSS on the tunnel/VPN router (iptables -t mangle ... TCPMSS --clamp-mss-to-pmtu), lower the interface MTU, or enable net.ipv4.tcp_mtu_probing=1.")
        .check_count(u64::from(segments));
    if let Some(last) = receiver
        .reference
        .filter(|r| r.frame > hole.after.frame && r.frame != gave_up.frame)
    {
        draft = draft.evidence(
            last.into(),
            format!("the {peer}'s latest acknowledgment, still below the hole"),
        );
    }
    Some(draft)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::script::{ACK, PSH_ACK, SYN, SYN_ACK, Step, c, run, s};

    const FIN_ACK: u16 = crate::decode::TcpFlags::FIN | crate::decode::TcpFlags::ACK;

    fn handshake() -> Vec<Step> {
        vec![
            c(0, SYN, 100, 0, 0).mss(1460),
            s(40, SYN_ACK, 500, 101, 0).mss(1460),
            c(80, ACK, 101, 501, 0),
            c(81, PSH_ACK, 101, 501, 80),
            s(120, ACK, 501, 181, 0),
        ]
    }

    #[test]
    fn a_hole_of_full_segments_the_client_never_acknowledged_is_a_black_hole() {
        let mut steps = handshake();
        steps.extend([
            // Ten 1460-byte segments die; the client gives up and the server's ACK of its FIN
            // shows how far the server had sent.
            c(8000, FIN_ACK, 181, 501, 0),
            s(8040, ACK, 501 + 14_600, 182, 0),
        ]);
        let conn = run(&steps);
        let d = seen_by_receiver(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::PmtuBlackhole);
        let mut frames = d.frames();
        frames.sort_unstable();
        // The client's FIN and the server's ACK of it, past the hole.
        assert_eq!(frames, vec![6, 7]);
        assert!(d.failed_check().is_none());
    }

    #[test]
    fn a_hole_the_client_acknowledged_later_is_no_black_hole() {
        let mut steps = handshake();
        steps.extend([
            s(130, PSH_ACK, 501 + 1460, 181, 1460),
            s(400, PSH_ACK, 501, 181, 1460),
            c(401, ACK, 181, 501 + 2920, 0),
            c(500, FIN_ACK, 181, 501 + 2920, 0),
        ]);
        assert!(seen_by_receiver(&run(&steps)).is_none());
    }

    #[test]
    fn a_hole_not_made_of_full_segments_is_no_black_hole() {
        let mut steps = handshake();
        steps.extend([
            c(8000, FIN_ACK, 181, 501, 0),
            s(8040, ACK, 501 + 1000, 182, 0),
        ]);
        assert!(seen_by_receiver(&run(&steps)).is_none());
    }
}
