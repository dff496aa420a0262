//! A connect answered only after the client sent its SYN again.
//!
//! Which SYN the SYN-ACK answers decides the reading. With timestamps (RFC 7323) the SYN-ACK
//! echoes the TSval of the SYN it answers; without them it answers the latest SYN before it.
//! A SYN-ACK to the *first* SYN means nothing was dropped before the server: the client's timer
//! fired before the answer arrived (an aggressive connect timer, or an answer delayed on its way
//! back), so the retransmissions were spurious and earn no finding.
//!
//! When a later SYN is the one answered, the earlier ones died before the server's stack
//! answered them. On loopback (or between two sockets of one host) there is no path to lose them
//! on: a listener drops SYNs when its SYN or accept queue is full (Linux `tcp_conn_request` with
//! `sk_acceptq_is_full`), so the listen queue was full. On a remote path loss and a full queue
//! look alike; a burst of connects to the same server at the same time makes the queue the
//! better reading, an isolated connect the loss. So is a connect among several to the same
//! server within a second (before or after it) of which others too were answered only on a
//! retry, while no data segment anywhere in the capture needed repair: a path that drops only
//! SYNs, and only during a burst, is a full queue, not loss.
//!
//! On one host the queue shows a second way (Linux, `tcp_abort_on_overflow` = 0): the SYN is
//! answered, but the handshake's final ACK meets a full accept queue and is dropped, so the
//! server retransmits its SYN-ACK and the client's first data is retransmitted too.

use crate::tcp::{ConnectionSummary, MAX_SYN_FRAMES, Mark};
use crate::timefmt::human_duration;

use super::draft::{Draft, after, call};
use super::{Cause, Confidence};

use super::sanity::RTO_FLOOR_NS;

/// Connects to the same server endpoint in the second before this one from which the server's
/// listen queue, not the path, is the likelier reason for a dropped SYN: more than the smallest
/// backlog in common use (5: Python socketserver's `request_queue_size`, the historical BSD
/// `SOMAXCONN`).
const BURST_CONNECTS: u32 = 5;
/// Connects to the same server within a second either side of this one that make "several at
/// once": with this one, four.
const CONCURRENT_CONNECTS: u32 = 3;

/// The client's SYNs up to the one the server's first SYN-ACK answers: `(syns, answered)`, where
/// `syns[answered]` was answered and the ones before it were not. `None` when there was no
/// SYN-ACK, one SYN only, or more SYNs than were kept.
pub(super) fn answered_syn(conn: &ConnectionSummary) -> Option<(Vec<Mark>, usize)> {
    let client = &conn.facts.client;
    let syn_ack = conn.facts.server.first_syn?;
    let count = (client.syn_count as usize).min(MAX_SYN_FRAMES);
    if count < 2 {
        return None;
    }
    let syns = client.syns[..count].to_vec();
    let echoed = conn.facts.server.first_syn_tsecr.and_then(|echo| {
        client.syn_tsvals[..count]
            .iter()
            .position(|&v| v == Some(echo))
    });
    let answered = match echoed {
        Some(i) => i,
        None => syns
            .iter()
            .filter(|s| s.frame < syn_ack.frame)
            .count()
            .checked_sub(1)?,
    };
    Some((syns, answered))
}

/// Whether client and server are one host: loopback, or the same address on both ends.
pub(super) fn same_host(conn: &ConnectionSummary) -> bool {
    conn.server.ip.is_loopback() || conn.client.ip == conn.server.ip
}

/// The SYNs the server never answered, as evidence for a finding about lost SYNs.
pub(super) fn lost_syn_evidence(conn: &ConnectionSummary, draft: Draft) -> Draft {
    let Some((syns, answered)) = answered_syn(conn).filter(|(_, a)| *a > 0) else {
        return draft;
    };
    let mut draft = draft;
    for (i, &syn) in syns[..answered].iter().enumerate() {
        draft.push_evidence(syn, syn_note(i, syns[0], syn));
    }
    draft.push_evidence(
        syns[answered],
        "SYN retransmitted, the one the server answered",
    );
    draft
}

fn syn_note(i: usize, first: Mark, syn: Mark) -> String {
    if i == 0 {
        "client SYN, never answered".to_string()
    } else {
        format!(
            "SYN retransmitted {} after the first, never answered",
            after(first, syn)
        )
    }
}

/// A connect whose first SYNs went unanswered and a later one was answered, with nothing else
/// lost on the connection (loss of data too is `loss::packet_loss`'s, with these SYNs).
pub(super) fn late_answer(conn: &ConnectionSummary) -> Option<Draft> {
    let Some((syns, answered)) = answered_syn(conn).filter(|(_, a)| *a > 0) else {
        // The first SYN was answered (any retries were spurious): only a dropped final ACK
        // can still tell of a full queue.
        return dropped_handshake_ack(conn);
    };
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let same_host = same_host(conn);
    // On one host, data retransmissions are the same queue's drops (no path to lose them on).
    if client.lost_data + server.lost_data > 0 && !same_host {
        return None;
    }
    let syn_ack = server.first_syn?;
    let first = syns[0];
    let last = syns[answered];
    let delay = last.ts_ns.saturating_sub(first.ts_ns);
    if delay < RTO_FLOOR_NS && !same_host {
        return None; // a client timer far below any RTO: no delay anybody felt
    }
    let dropped = answered;
    let burst = conn.facts.recent_connects;
    let facts = &conn.facts;
    let others_late = facts.connects_around >= CONCURRENT_CONNECTS
        && facts.retried_around >= 1
        && facts.capture_lost_data == 0;
    let head = format!(
        "{}: the server answered only the client's SYN number {} ({} after the first; {} SYN{} dropped)",
        call(conn),
        answered + 1,
        human_duration(delay),
        dropped,
        if dropped == 1 { "" } else { "s" }
    );
    let mut draft = if same_host {
        Draft::new(Cause::ListenQueueFull, Confidence::High)
            .summary(format!(
                "{head}: client and server are on one host, where no packet is lost on the way, so the listener's queue was full"
            ))
            .explanation(
                "On loopback (or between two sockets of one host) a SYN cannot be lost on a path. \
                 A listener whose SYN or accept queue is full drops incoming SYNs without an \
                 answer, and the client's stack sends the SYN again after its retransmission \
                 timer (1 s, then 2 s...). The answer came at once to a later SYN: by then the \
                 application had accepted connections and the queue had room.",
            )
    } else if burst >= BURST_CONNECTS {
        Draft::new(Cause::ListenQueueFull, Confidence::Medium)
            .summary(format!(
                "{head}, during a burst of {} other connects to {} in the second before: the listener's queue was likely full",
                burst, conn.server
            ))
            .explanation(
                "A listener drops SYNs without an answer while its SYN or accept queue is full, \
                 and the client sends them again after its retransmission timer. Many connects \
                 to the same server arriving together is what fills that queue; the answer to a \
                 later SYN shows the server was up.",
            )
            .alternative("network.packet_loss: the first SYNs may have been lost on the path instead; one capture point cannot tell")
    } else if others_late {
        Draft::new(Cause::ListenQueueFull, Confidence::Medium)
            .summary(format!(
                "{head}, one of {} connects to {} within a second, {} other{} of which also had to send the SYN again, while no data segment in the capture was lost: the listener's queue was likely full",
                facts.connects_around + 1,
                conn.server,
                facts.retried_around,
                if facts.retried_around == 1 { "" } else { "s" }
            ))
            .explanation(
                "A listener drops SYNs without an answer while its SYN or accept queue is full, \
                 and the client sends them again after its retransmission timer. Here several \
                 connects to the same server came together and more than one was answered only \
                 on a retry, while no data segment anywhere in the capture needed repair: a path \
                 that loses only SYNs, and only during a burst, is the server's queue.",
            )
            .alternative("network.packet_loss: the first SYNs may have been lost on the path instead; one capture point cannot tell")
    } else {
        Draft::new(Cause::PacketLoss, Confidence::Low)
            .summary(format!("{head}: the connect waited for the SYN retransmission timer"))
            .explanation(
                "The first SYN got no answer and the retransmitted one was answered at once: the \
                 first was lost on the path (or the answer to it was), and the connect waited one \
                 SYN retransmission timeout (1 s on Linux, 3 s on Windows and older stacks). \
                 Nothing else on the connection was lost.",
            )
            .alternative("server.listen_queue_full: a listener whose queue was full drops SYNs the same way; the capture shows no burst of connects that would fill it")
    };
    for (i, &syn) in syns[..answered].iter().enumerate() {
        draft.push_evidence(syn, syn_note(i, first, syn));
    }
    draft.push_evidence(
        last,
        format!("SYN retransmitted, {} after the first", after(first, last)),
    );
    draft.push_evidence(
        syn_ack,
        format!("SYN-ACK, {} after that SYN", after(last, syn_ack)),
    );
    if let Some(data) = client.first_lost_data.filter(|_| same_host) {
        draft.push_evidence(
            data,
            "client data retransmitted: the server dropped it too while its queue was full",
        );
    }
    Some(
        draft
            .check_wait(delay, same_host)
            .check_count(dropped as u64),
    )
}

/// On one host, a SYN answered at once whose SYN-ACK the server had to send again while the
/// client's ACK and first data went out: the server dropped the handshake's final ACK because
/// its accept queue was full (Linux with `tcp_abort_on_overflow` = 0 keeps the request and
/// retransmits the SYN-ACK), and the client's data with it.
fn dropped_handshake_ack(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    if !same_host(conn) || server.syn_count < 2 {
        return None;
    }
    let count = (server.syn_count as usize).min(MAX_SYN_FRAMES);
    let syn_acks = &server.syns[..count];
    let first_syn_ack = syn_acks[0];
    // The client, connected in its own view, had to send its first data again.
    let data = client.first_lost_data?;
    let first_syn = client.first_syn?;
    let mut draft = Draft::new(Cause::ListenQueueFull, Confidence::High)
        .summary(format!(
            "{}: the server sent its SYN-ACK {} times although the client answered it: client and server are on one host, so the server dropped the handshake's last ACK because its accept queue was full",
            call(conn),
            server.syn_count
        ))
        .explanation(
            "On one host no packet is lost on the way. A listener whose accept queue is full \
             drops the ACK that completes a handshake (Linux, tcp_abort_on_overflow = 0), keeps \
             the half-open connection and sends its SYN-ACK again; the client, which thinks it \
             is connected, retransmits its first data until the application accepts.",
        )
        .evidence(first_syn, "client SYN")
        .evidence(first_syn_ack, "SYN-ACK");
    for &again in &syn_acks[1..] {
        draft.push_evidence(
            again,
            format!(
                "SYN-ACK retransmitted, {} after the first",
                after(first_syn_ack, again)
            ),
        );
    }
    draft.push_evidence(data, "client data retransmitted: the server had dropped it");
    Some(draft.check_count(u64::from(server.syn_count - 1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::script::{ACK, PSH_ACK, SYN, SYN_ACK, c, run, run_between, run_ports, s};

    fn connect_after_retry(first_retry_ms: i64) -> Vec<crate::diagnose::script::Step> {
        vec![
            c(0, SYN, 100, 0, 0),
            c(first_retry_ms, SYN, 100, 0, 0),
            s(first_retry_ms + 50, SYN_ACK, 500, 101, 0),
            c(first_retry_ms + 100, ACK, 101, 501, 0),
            c(first_retry_ms + 110, PSH_ACK, 101, 501, 10),
            s(first_retry_ms + 160, PSH_ACK, 501, 111, 20),
            c(first_retry_ms + 200, ACK, 111, 521, 0),
        ]
    }

    #[test]
    fn an_isolated_remote_syn_loss_is_packet_loss_with_low_confidence() {
        let conn = run(&connect_after_retry(3000));
        let d = late_answer(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::PacketLoss);
        assert_eq!(d.confidence_level(), Confidence::Low);
        assert!(d.failed_check().is_none());
    }

    #[test]
    fn on_loopback_a_late_answer_is_a_full_listen_queue() {
        let steps = [
            c(0, SYN, 100, 0, 0),
            c(1000, SYN, 100, 0, 0),
            c(3000, SYN, 100, 0, 0),
            s(3000, SYN_ACK, 500, 101, 0),
            c(3001, ACK, 101, 501, 0),
        ];
        let conn = run_between("127.0.0.1", "127.0.0.1", &steps).remove(0);
        let d = late_answer(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::ListenQueueFull);
        assert_eq!(d.confidence_level(), Confidence::High);
    }

    #[test]
    fn on_loopback_retransmitted_data_does_not_hide_the_full_queue() {
        let steps = [
            c(0, SYN, 100, 0, 0),
            c(1000, SYN, 100, 0, 0),
            s(1000, SYN_ACK, 500, 101, 0),
            c(1001, ACK, 101, 501, 0),
            c(1002, PSH_ACK, 101, 501, 10),
            c(1210, PSH_ACK, 101, 501, 10),
            s(1211, ACK, 501, 111, 0),
        ];
        let conn = run_between("127.0.0.1", "127.0.0.1", &steps).remove(0);
        let d = late_answer(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::ListenQueueFull);
        assert_eq!(d.frames(), vec![1, 2, 3, 6]);
    }

    #[test]
    fn on_loopback_a_retransmitted_syn_ack_is_a_full_accept_queue() {
        let steps = [
            c(0, SYN, 100, 0, 0),
            s(0, SYN_ACK, 500, 101, 0),
            c(1, ACK, 101, 501, 0),
            c(2, PSH_ACK, 101, 501, 10),
            s(1000, SYN_ACK, 500, 101, 0),
            c(1001, PSH_ACK, 101, 501, 10),
            s(1002, ACK, 501, 111, 0),
        ];
        let conn = run_between("127.0.0.1", "127.0.0.1", &steps).remove(0);
        let d = late_answer(&conn).expect("a finding");
        assert_eq!(d.cause(), Cause::ListenQueueFull);
        assert_eq!(d.confidence_level(), Confidence::High);
        assert!(d.frames().contains(&5), "the retransmitted SYN-ACK");
        // On a remote path the same packets are no finding of this kind.
        assert!(dropped_handshake_ack(&run(&steps)).is_none());
    }

    #[test]
    fn other_connects_around_answered_late_make_the_queue_the_reading() {
        // Four connects within a second; two others needed a retry too, no data was lost.
        let mut steps = Vec::new();
        for (i, port) in (40001..40004).enumerate() {
            let ms = 100 + 60 * i as i64;
            steps.push((port, c(ms, SYN, 100, 0, 0)));
            if port == 40001 {
                steps.push((port, s(ms + 40, SYN_ACK, 500, 101, 0)));
            } else {
                steps.push((port, c(ms + 1000, SYN, 100, 0, 0)));
                steps.push((port, s(ms + 1040, SYN_ACK, 500, 101, 0)));
            }
        }
        steps.push((40000, c(0, SYN, 100, 0, 0)));
        steps.push((40000, c(1000, SYN, 100, 0, 0)));
        steps.push((40000, s(1040, SYN_ACK, 500, 101, 0)));
        steps.sort_by_key(|(_, st)| st.ms);
        let conns = run_ports("192.0.2.10", "198.51.100.5", &steps);
        let ours = conns
            .iter()
            .find(|c| c.client.port == 40000)
            .expect("our connection");
        assert_eq!(ours.facts.recent_connects, 0, "nobody connected before it");
        assert_eq!(
            (ours.facts.connects_around, ours.facts.retried_around),
            (3, 2)
        );
        let d = late_answer(ours).expect("a finding");
        assert_eq!(d.cause(), Cause::ListenQueueFull);
        assert_eq!(d.confidence_level(), Confidence::Medium);
    }

    #[test]
    fn a_syn_ack_to_the_first_syn_makes_the_retries_spurious() {
        // The SYN-ACK echoes the first SYN's TSval although it arrives after the second SYN.
        let steps = [
            c(0, SYN, 100, 0, 0).ts(10, 0),
            c(100, SYN, 100, 0, 0).ts(20, 0),
            s(101, SYN_ACK, 500, 101, 0).ts(900, 10),
            c(102, ACK, 101, 501, 0).ts(21, 900),
        ];
        let conn = run(&steps);
        assert_eq!(answered_syn(&conn).map(|(_, i)| i), Some(0));
        assert!(late_answer(&conn).is_none());
        assert!(super::super::loss::packet_loss(&conn).is_none());
    }

    #[test]
    fn a_quick_client_timer_on_a_remote_path_is_no_finding() {
        // Second SYN 100 ms after the first, answered: below any RTO, nothing felt.
        let conn = run(&connect_after_retry(100));
        assert!(late_answer(&conn).is_none());
    }

    #[test]
    fn a_burst_of_connects_makes_the_listen_queue_the_reading() {
        let mut steps = Vec::new();
        for (i, port) in (40001..40007).enumerate() {
            let ms = i as i64;
            steps.push((port, c(ms, SYN, 100, 0, 0)));
            steps.push((port, s(ms + 1, SYN_ACK, 500, 101, 0)));
            steps.push((port, c(ms + 2, ACK, 101, 501, 0)));
        }
        steps.push((40000, c(10, SYN, 100, 0, 0)));
        steps.push((40000, c(1010, SYN, 100, 0, 0)));
        steps.push((40000, s(1011, SYN_ACK, 500, 101, 0)));
        steps.push((40000, c(1012, ACK, 101, 501, 0)));
        let conns = run_ports("192.0.2.10", "198.51.100.5", &steps);
        let ours = conns
            .iter()
            .find(|c| c.client.port == 40000)
            .expect("our connection");
        let d = late_answer(ours).expect("a finding");
        assert_eq!(d.cause(), Cause::ListenQueueFull);
        assert_eq!(d.confidence_level(), Confidence::Medium);
    }
}
