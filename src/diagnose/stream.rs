//! An established connection: resets, requests left without an answer, answers abandoned, and a
//! server that stopped reading.
//!
//! Without an application parser, a "request" is the client's data and an "answer" the server's
//! data after it: an exchange is outstanding when the client's latest data has no server data
//! after it.

use crate::tcp::{ConnectionSummary, Mark, RstMark};
use crate::timefmt::human_duration;

use super::draft::{Draft, after, call, distance, earliest, ttl_text};
use super::{Cause, Confidence};

/// A client that waited at least this long for an answer gave up on the server; a shorter wait
/// is the client's own choice (a short timeout, or it closed right after asking).
const PATIENT_WAIT_NS: i64 = 1_000_000_000;

pub(super) fn rst_mark(rst: RstMark) -> Mark {
    Mark {
        frame: rst.frame,
        ts_ns: rst.ts_ns,
    }
}

/// The client's latest data, when no server data came after it.
pub(super) fn outstanding_request(conn: &ConnectionSummary) -> Option<Mark> {
    let request = conn.facts.client.last_data?;
    match conn.facts.server.last_data {
        Some(answer) if answer.frame > request.frame => None,
        _ => Some(request),
    }
}

/// The server's side sent a RST: a forged one (TTL differs from the server's own packets) or the
/// server's stack resetting a request it did not answer.
pub(super) fn server_reset(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let rst = server.first_rst?;
    server.reference?;
    // The request the RST answered: the client's latest data before it with no server data
    // after (client data sent after the RST crossed it).
    let request = outstanding_request(conn)
        .filter(|r| r.frame < rst.frame)
        .or_else(|| {
            let before = client.first_data.filter(|d| d.frame < rst.frame)?;
            server.first_data.is_none().then_some(before)
        });
    let client_closed_first = earliest(client.first_fin, client.first_rst.map(rst_mark))
        .is_some_and(|c| c.frame < rst.frame);
    let v6 = conn.server.ip.is_ipv6();
    let ttl_differs = rst.ttl < server.ttl_min || rst.ttl > server.ttl_max;
    let at = rst_mark(rst);
    if ttl_differs && !client_closed_first {
        let reference = server.first_syn.or(server.reference.map(Into::into))?;
        let mut draft = Draft::new(Cause::InjectedRst, Confidence::High)
            .summary(format!(
                "{}: the connection was reset by a RST the server did not send: {} where the server's packets have {}",
                call(conn),
                ttl_text(rst.ttl, v6),
                ttl_text(server.ttl_max, v6)
            ))
            .explanation(
                "Packets from the same host arrive with the same TTL / hop limit. This RST, \
                 carrying the server's address, arrived with a different one, so a device at \
                 another distance forged it: a firewall or IPS that matched the traffic (e.g. \
                 a URL or keyword rule, iptables -m string ... REJECT --reject-with tcp-reset), \
                 a proxy, or a middlebox that dropped the connection's state. The client sees \
                 'connection reset by peer'.",
            )
            .evidence(at, format!("RST from {}, {}", conn.server.ip, ttl_text(rst.ttl, v6)))
            .evidence(
                reference,
                format!("server's own packet: {}", ttl_text(server.ttl_max, v6)),
            )
            .remedy(format!(
                "Look for a security device {} that inspects this traffic (IPS/WAF/DLP, next-generation firewall, egress proxy) and check its logs for {} -> {} at the reset's time.",
                distance(rst.ttl),
                conn.client,
                conn.server
            ))
            .remedy("A capture on the server shows the difference: the server neither received the request nor sent this RST.")
            .alternative("server.reset_after_request: a server behind a device that rewrites TTLs (some load balancers) could send it");
        if let Some(request) = request {
            let delay = at.ts_ns.saturating_sub(request.ts_ns);
            let quicker = conn.initial_rtt_ns.filter(|rtt| delay < rtt / 2);
            let note = match quicker {
                Some(rtt) => format!(
                    "client data answered by the RST {} later, quicker than the {} round trip to the server: something nearer answered",
                    after(request, at),
                    human_duration(rtt)
                ),
                None => format!(
                    "client data answered by the RST {} later",
                    after(request, at)
                ),
            };
            draft = draft.evidence(request, note);
        }
        return Some(draft);
    }
    let request = request?;
    // The server's stack must have received the request (its RST acknowledges it) and not be
    // closing already: a RST after the server's own FIN answers data that arrived after close.
    let server_closed_first = server.first_fin.is_some_and(|f| f.frame < rst.frame);
    if client_closed_first || server_closed_first || rst.peer_data_unacked {
        return None;
    }
    let first = client.first_data.unwrap_or(request);
    let answered_before = server.first_data.is_some();
    let mut draft = Draft::new(Cause::ResetAfterRequest,
        Confidence::High,
    )
    .summary(format!(
        "{}: the server reset the connection {} after the request, before {}",
        call(conn),
        after(request, at),
        if answered_before { "answering it (earlier requests on the connection were answered)" } else { "any response" }
    ))
    .explanation(
        "The server's own stack (same TTL / hop limit as its other packets) aborted the \
         connection right after the client's request, with no response byte: the server \
         application closed the socket abortively (SO_LINGER 0), crashed, or was killed while \
         handling the request, or it closed with the request unread. The client sees \
         'connection reset by peer'.",
    )
    .evidence(first, "client request (first data segment)")
    .evidence(at, format!("RST from the server, {}", ttl_text(rst.ttl, v6)))
    .remedy(format!(
        "Check the server application's logs on {} at the reset's time for a crash, a worker killed (OOM, timeout), or a rejected request.",
        conn.server
    ))
    .remedy("If a proxy or load balancer fronts the service, check its logs too: it may reset when its upstream fails.");
    if request.frame != first.frame {
        draft = draft.evidence(request, "latest client data before the reset");
    }
    Some(draft)
}

/// A RST carrying the client's address whose TTL / hop limit differs from the client's own
/// packets: forged toward the server (what a capture at or near the server shows).
pub(super) fn client_reset_forged(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let rst = client.first_rst?;
    client.reference?;
    if (client.ttl_min..=client.ttl_max).contains(&rst.ttl) {
        return None;
    }
    let server_closed_first = earliest(
        conn.facts.server.first_fin,
        conn.facts.server.first_rst.map(rst_mark),
    )
    .is_some_and(|c| c.frame < rst.frame);
    if server_closed_first {
        return None;
    }
    let v6 = conn.client.ip.is_ipv6();
    let reference = client.first_syn.or(client.reference.map(Into::into))?;
    Some(
        Draft::new(Cause::InjectedRst, Confidence::High)
            .summary(format!(
                "{}: the connection was reset by a RST the client did not send: {} where the client's packets have {}",
                call(conn),
                ttl_text(rst.ttl, v6),
                ttl_text(client.ttl_max, v6)
            ))
            .explanation(
                "Packets from the same host arrive with the same TTL / hop limit. This RST carries                  the client's address but arrived with a different one, so a device at another                  distance forged it toward the server: a firewall or IPS resetting the connection                  in both directions. The client sees its own connection reset.",
            )
            .evidence(rst_mark(rst), format!("RST from {}, {}", conn.client.ip, ttl_text(rst.ttl, v6)))
            .evidence(reference, format!("client's own packet: {}", ttl_text(client.ttl_max, v6)))
            .remedy(format!(
                "Look for a security device {} that inspects this traffic (IPS, next-generation firewall, proxy) and check its logs for {} -> {}.",
                distance(rst.ttl),
                conn.client,
                conn.server
            ))
            .alternative("client.aborted: a client behind a device that rewrites TTLs could send it"),
    )
}

/// The server's receive window went to zero and stayed there while the client had data to send.
pub(super) fn not_reading(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let zero = conn.facts.server.zero_window?;
    if zero.reopened || client.sent_into_zero_window == 0 {
        return None;
    }
    let close = earliest(client.first_fin, client.first_rst.map(rst_mark))
        .filter(|c| c.frame > zero.first.frame);
    let end = close.map_or(conn.last_ts_ns, |c| c.ts_ns);
    let held = human_duration(end.saturating_sub(zero.first.ts_ns));
    let mut draft = Draft::new(Cause::ServerNotReading, Confidence::High)
        .summary(format!(
            "{}: the server stopped reading: its receive window stayed at zero for {held} while the client had data to send{}",
            call(conn),
            if close.is_some() { "; the client gave up" } else { "" }
        ))
        .explanation(format!(
            "A zero window means the server's receive buffer is full because the application \
             does not read from its socket. The client kept probing ({} packets into the closed \
             window) and the window never opened again: the server application is stuck, \
             overloaded, or waiting on something else before it reads the request body.",
            client.sent_into_zero_window
        ))
        .evidence(zero.first, "server advertises a zero receive window")
        .remedy(format!("Look at what the server process on {} is doing (thread dumps, blocked workers, a slow dependency) while requests hang.", conn.server))
        .remedy("Check the server's worker/thread pool and request body handling: a handler that reads the body only after other work stalls uploads.");
    if zero.last.frame != zero.first.frame {
        draft = draft.evidence(zero.last, "still a zero window");
    }
    if let Some(close) = close {
        draft = draft.evidence(close, format!("client closes, {held} into the zero window"));
    }
    Some(draft)
}

/// A request that got no answer (the server stayed silent until the client gave up), or an
/// answer the client walked away from.
pub(super) fn unanswered(conn: &ConnectionSummary) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let first = client.first_data?;
    if let Some(draft) = aborted(conn, first) {
        return Some(draft);
    }
    let request = outstanding_request(conn)?;
    let client_close = earliest(client.first_fin, client.first_rst.map(rst_mark))
        .filter(|c| c.frame > request.frame);
    // A FIN that does not acknowledge the request crossed it: the server was closing anyway.
    let server_fin = server
        .first_fin
        .filter(|f| f.frame > request.frame && server.fin_acked_peer_data);
    match (client_close, server_fin) {
        // The server closed first: `http_framing::closed_without_response` owns that case.
        (_, Some(fin)) if client_close.is_none_or(|c| fin.frame < c.frame) => None,
        (Some(close), _) => {
            let waited = close.ts_ns.saturating_sub(request.ts_ns);
            if waited < PATIENT_WAIT_NS {
                return None;
            }
            let acked = client.all_data_acked();
            Some(
                Draft::new(Cause::ServerNoResponse,
                    if acked { Confidence::High } else { Confidence::Medium },
                )
                .summary(format!(
                    "{}: the server {}sent nothing back; the client gave up after waiting {}",
                    call(conn),
                    if acked { "acknowledged the request but " } else { "" },
                    human_duration(waited)
                ))
                .explanation(
                    "The request reached the server's TCP stack (it was acknowledged) but the \
                     application never answered: it is hung, overloaded, or waiting on a slow \
                     dependency longer than the client's timeout. The client timed out and closed.",
                )
                .alternative("client.timeout_too_short: the server may have answered later than the client was willing to wait")
                .evidence(first, "client request (first data segment)")
                .evidence(close, format!("client closes after waiting {}", human_duration(waited)))
                .remedy(format!("Check the server application on {} for requests that hang (slow queries, locks, exhausted worker pools, a dependency timing out).", conn.server))
                .remedy("Compare the client's timeout with the server's worst-case latency; add server-side timeouts shorter than the client's."),
            )
        }
        _ => None,
    }
}

/// The server was answering when the client closed and threw the rest away.
fn aborted(conn: &ConnectionSummary, first_request: Mark) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let answer = server
        .first_data
        .filter(|a| a.frame > first_request.frame)?;
    let rst = client.first_rst?;
    let close = earliest(client.first_fin, Some(rst_mark(rst)))?;
    let server_finished_first = server.first_fin.is_some_and(|f| f.frame < close.frame);
    let discarded = rst.peer_data_unacked || server.data_after_peer_close.is_some();
    if server_finished_first || !discarded {
        return None;
    }
    Some(
        Draft::new(Cause::Aborted, Confidence::High)
            .summary(format!(
                "{}: the client closed the connection {} after the request while the server was still sending its answer ({} bytes received)",
                call(conn),
                after(first_request, close),
                conn.server_to_client.payload_bytes
            ))
            .explanation(
                "The server had started answering and had not finished (no FIN from it) when \
                 the client closed; the client's RST shows it discarded response data it had \
                 not read. The client gave up, usually on its own timeout, on an answer that was \
                 coming slowly.",
            )
            .alternative("server.slow_response: the server trickled its answer slower than the client's timeout")
            .evidence(first_request, "client request (first data segment)")
            .evidence(answer, "server starts answering")
            .evidence(close, "client closes before the answer is complete")
            .evidence(rst_mark(rst), "client RST: response data discarded")
            .remedy("Check the client's timeout (total / read timeout) against how long this response takes; raise it or make the response faster.")
            .remedy(format!("Check why {} sends this response so slowly (large body, slow generation, a throttled link).", conn.server)),
    )
}
