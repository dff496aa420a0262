//! Failures only the framing of an exchange shows: a server that closed after the request
//! without a byte back, a response cut short of its Content-Length or last chunk, a request
//! sent on a keep-alive connection the server had already closed, and a response whose first
//! byte came far later than the round trip explains.

use crate::app::AppFacts;
use crate::app::http::{Exchange, Framing};
use crate::tcp::{ConnectionSummary, Mark};
use crate::timefmt::human_duration;

use super::draft::{Draft, after, call, earliest};
use super::http::{describe, mark, status_text};
use super::stream::{outstanding_request, rst_mark};
use super::{Cause, Confidence};

/// A first response byte later than this is slow whatever the round trip (people notice a
/// second; API clients' default timeouts start at a few).
const SLOW_FLOOR_NS: i64 = 1_000_000_000;
/// ...and it must also be this many round trips: a server's think time, not the path.
const SLOW_RTTS: i64 = 20;

/// The exchange whose request the client's latest data belongs to, if HTTP was parsed.
fn request_at(app: &AppFacts, frame: u64) -> Option<&Exchange> {
    app.http.exchanges.iter().rev().find(|e| {
        e.request
            .as_ref()
            .is_some_and(|r| r.first.frame <= frame && e.response.is_none())
    })
}

/// The server closed (FIN) after the client's request, having acknowledged it, without a
/// response byte, before the client gave up. (The RST version is `server.reset_after_request`.)
pub(super) fn closed_without_response(conn: &ConnectionSummary, app: &AppFacts) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let first = client.first_data?;
    let request = outstanding_request(conn)?;
    // A FIN that does not acknowledge the request crossed it: the server was closing anyway.
    let fin = server
        .first_fin
        .filter(|f| f.frame > request.frame && server.fin_acked_peer_data)?;
    let client_close = earliest(client.first_fin, client.first_rst.map(rst_mark))
        .filter(|c| c.frame > request.frame);
    if client_close.is_some_and(|c| c.frame < fin.frame) {
        return None;
    }
    let exchange = request_at(app, request.frame);
    let (start, what) = match exchange.and_then(|e| e.request.as_ref()) {
        Some(r) => (mark(r.first), format!("request {}", describe(Some(r)))),
        None => (first, "client request (first data segment)".to_string()),
    };
    let earlier = app
        .http
        .exchanges
        .iter()
        .filter(|e| e.response.is_some())
        .count();
    // A FIN carried by the request's own last segment: the client half-closed as it asked,
    // which some servers take as the client going away.
    let half_closed = client.first_fin.filter(|f| f.frame == request.frame);
    let mut draft = Draft::new(Cause::ClosedWithoutResponse, Confidence::High);
    if let Some(half) = half_closed {
        draft = draft
            .confidence(Confidence::Medium)
            .alternative(format!("client.aborted: the client half-closed (FIN) with its request in frame {}; a server may read a half-close as the client going away and close without answering", half.frame))
            .evidence(half, "the request's last segment carries the client's FIN (half-close)");
    }
    Some(
        draft
            .summary(format!(
                "{}: the server closed the connection (FIN) {} after the request{} without sending a response{}",
                call(conn),
                after(request, fin),
                exchange
                    .and_then(|e| e.request.as_ref())
                    .map(|r| format!(" {}", describe(Some(r))))
                    .unwrap_or_default(),
                if earlier > 0 { format!(" ({earlier} earlier requests on the connection were answered)") } else { String::new() }
            ))
            .explanation("The server acknowledged the request and closed its side without a byte of response: the application closed the socket after reading the request (a crash handler, a rejected request, a worker recycled), or a proxy closed it when its upstream failed.")
            .evidence(start, what)
            .evidence(fin, "server FIN, no response data")
            .remedy(format!("Check the server application's (or proxy's) logs on {} at that time.", conn.server))
            .remedy("Clients see 'empty reply from server' / 'remote end closed connection without response': an idempotent request can be retried once on a new connection."),
    )
}

/// The server had closed its side (FIN) of a kept-alive HTTP connection, then the client sent
/// a new request on it, and the server's stack answered with RST: the client reused a stale
/// connection from its pool. (Encrypted payloads cannot show that the data was a request.)
pub(super) fn stale_keepalive_reuse(conn: &ConnectionSummary, app: &AppFacts) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let fin = server.first_fin?;
    let rst = server.first_rst?;
    if !server.fin_acked_peer_data || rst.ttl < server.ttl_min || rst.ttl > server.ttl_max {
        return None;
    }
    let request = client
        .data_after_peer_close
        .filter(|d| d.frame > fin.frame && d.frame < rst.frame)?;
    if client.first_fin.is_some_and(|f| f.frame < request.frame)
        || server.last_data.is_some_and(|d| d.frame > request.frame)
    {
        return None;
    }
    let idle = client
        .first_data
        .filter(|d| d.frame < fin.frame)
        .map(|_| ());
    // The data after the FIN must be a new HTTP request: other protocols send data after a
    // peer's FIN as part of closing (a TLS close_notify, a POP3/SMTP goodbye), which the
    // peer's stack resets just the same.
    let exchange = app.http.exchanges.iter().find(|e| {
        e.response.is_none()
            && e.request
                .as_ref()
                .is_some_and(|r| r.first.frame >= request.frame)
    })?;
    let answered = app
        .http
        .exchanges
        .iter()
        .filter(|e| e.response.is_some())
        .count();
    let at = rst_mark(rst);
    let what = describe(exchange.request.as_ref());
    Some(
        Draft::new(Cause::StaleKeepaliveReuse, Confidence::High)
            .summary(format!(
                "{}: the client sent {what} on a connection the server had closed {} earlier{}; the server answered with RST",
                call(conn),
                after(fin, request),
                match answered {
                    0 => String::new(),
                    1 => " (after 1 answered request)".to_string(),
                    n => format!(" (after {n} answered requests)"),
                }
            ))
            .explanation("The server closed the idle keep-alive connection (its FIN), but the client kept it in its pool and later sent a request on it. The server's socket was gone, so its stack answered with RST and the request was never processed. The client sees 'connection reset by peer' (or 'server disconnected').")
            .alternative(if idle.is_some() { "server.reset_after_request: the server closed while the client was about to send; the race is the same" } else { "server.reset_after_request: the server closed before the first request" })
            .evidence(fin, "server FIN: the server closes its side of the connection")
            .evidence(request, format!("client sends {what} after the server's FIN"))
            .evidence(at, "server RST: the connection no longer exists on the server")
            .remedy("Make the client's keep-alive idle timeout shorter than the server's (or load balancer's) idle timeout, so the client retires connections first.")
            .remedy("Have the client notice a peer's FIN before reuse (validate pooled connections) and retry idempotent requests once on a fresh connection after a reset."),
    )
}

/// A response that stopped before its declared end (Content-Length not reached, chunked body
/// without its last chunk) when the server closed the connection.
pub(super) fn truncated(conn: &ConnectionSummary, app: &AppFacts, ex: &Exchange) -> Option<Draft> {
    let r = ex.response.as_ref()?;
    if r.complete
        || ex.response_not_captured
        || r.body_missing > 0
        || app.http.server_desync
        || !matches!(r.framing, Framing::Length(_) | Framing::Chunked)
    {
        return None;
    }
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let close = earliest(server.first_fin, server.first_rst.map(rst_mark))
        .filter(|c| c.frame >= r.first.frame)?;
    let client_close = earliest(client.first_fin, client.first_rst.map(rst_mark));
    if client_close.is_some_and(|c| c.frame < close.frame) {
        return None;
    }
    let how = if server.first_rst.is_some_and(|x| x.frame == close.frame) {
        "RST"
    } else {
        "FIN"
    };
    let figures = match r.body_declared() {
        Some(n) => format!(
            "{} of the {n} body bytes its Content-Length declared",
            r.body_received
        ),
        None => format!(
            "{} body bytes of a chunked body that never sent its last (zero-size) chunk",
            r.body_received
        ),
    };
    let mut draft = Draft::new(Cause::TruncatedResponse, Confidence::High)
        .summary(format!(
            "{}: {} -> {}: the server closed the connection ({how}) after {figures}",
            call(conn),
            describe(ex.request.as_ref()),
            status_text(r)
        ))
        .explanation("The response's framing says how long the body is; the server closed the connection before it got there, so the client received a cut-off body (curl: 'transfer closed with N bytes remaining'; Python: IncompleteRead). The server process died or was killed mid-response, a proxy's upstream failed after the headers went out, or a timeout on the way closed the connection.")
        .evidence(mark(r.first), format!("response {} starts", status_text(r)))
        .evidence(mark(r.last), format!("last response bytes: {figures}"))
        .evidence(close, format!("server {how}: the body stops short"))
        .remedy(format!("Check the server (or proxy) logs on {} for a worker that crashed or timed out while writing this response.", conn.server))
        .remedy("Check proxy timeouts (send/read) and response buffering between the application and the client.");
    if let Some(req) = &ex.request {
        draft = draft.evidence(mark(req.first), format!("request {}", describe(Some(req))));
    }
    Some(draft)
}

/// A response whose first byte came far later than the connection's round trip explains.
pub(super) fn slow(conn: &ConnectionSummary, ex: &Exchange) -> Option<Draft> {
    let req = ex.request.as_ref()?;
    let sent = req.last?;
    let r = ex.response.as_ref()?;
    let first: Mark = match ex.first_interim {
        Some(i) if i.frame < r.first.frame => mark(i),
        _ => mark(r.first),
    };
    let rtt = conn.initial_rtt_ns.filter(|&rtt| rtt > 0)?;
    let ttfb = first.ts_ns.saturating_sub(sent.ts_ns);
    if ttfb < SLOW_FLOOR_NS || ttfb < rtt.saturating_mul(SLOW_RTTS) {
        return None;
    }
    Some(
        Draft::new(Cause::SlowResponse, Confidence::Medium)

            .summary(format!(
                "{}: {} -> {}: the first response byte came {} after the request, {}x the {} round trip",
                call(conn),
                describe(Some(req)),
                status_text(r),
                human_duration(ttfb),
                ttfb / rtt,
                human_duration(rtt)
            ))
            .explanation("The request reached the server quickly (the network round trip is short) but the server took long before the first byte of its answer: the time went into server-side processing, a queue in front of the workers, or a slow dependency.")
            .alternative("client.timeout_too_short: if the client gave up, its timeout may be below the server's normal latency for this request")
            .evidence(mark(sent), format!("end of the request {}", describe(Some(req))))
            .evidence(first, format!("first response byte, {} later", human_duration(ttfb)))
            .remedy(format!("Profile the handler for {} on {}: database queries, locks, calls to other services, worker pool saturation.", describe(Some(req)), conn.server))
            .remedy("Compare with the server's own request-duration metrics at this time to see whether the delay is in the application or in front of it."),
    )
}
