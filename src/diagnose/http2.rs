//! HTTP/2 streams (RFC 9113): each stream the client opened is a call, judged on its own. A
//! stream reset before its response completed is named by the error code and its sender
//! (section 7: REFUSED_STREAM means the server did no processing, CANCEL that the client no
//! longer wanted the answer, ENHANCE_YOUR_CALM that the peer is rate limiting); a gRPC call by
//! its `grpc-status` (`grpc.rs`); any other stream by its `:status`, through the same table as
//! HTTP/1.x (`http.rs`); a flow-control window that stayed closed is the HTTP/2 twin of a TCP
//! zero window. A GOAWAY that killed calls is one finding for all of them (`goaway`).

use crate::app::http2::{ErrorCode, H2Stream, Http2Facts, StreamReset, WindowStall};
use crate::tcp::{ConnectionSummary, Mark};
use crate::timefmt::human_duration;

use super::draft::Draft;
use super::http::{describe, mark};
use super::{Cause, Confidence};

/// `stream 3 (GET /v1/orders (Host api.test))`.
pub(super) fn name_stream(s: &H2Stream) -> String {
    format!(
        "stream {} ({})",
        s.id,
        describe(s.exchange.request.as_ref())
    )
}

/// The frame that opened the stream (its request's first HEADERS), if seen.
pub(super) fn opened(s: &H2Stream) -> Option<Mark> {
    s.exchange.request.as_ref().map(|r| mark(r.first))
}

/// True when the server's response ended with END_STREAM.
pub(super) fn answered(s: &H2Stream) -> bool {
    s.exchange.response.as_ref().is_some_and(|r| r.complete)
}

/// True when the stream is a call still open when its connection ended: the request was sent,
/// the response did not complete and no one reset the stream.
pub(super) fn left_open(s: &H2Stream) -> bool {
    !s.pushed && s.exchange.request.is_some() && !answered(s) && s.reset.is_none()
}

/// The finding for one stream, if it failed on its own.
pub(super) fn stream(conn: &ConnectionSummary, h2: &Http2Facts, s: &H2Stream) -> Option<Draft> {
    if s.pushed {
        return None;
    }
    let draft = reset(conn, h2, s)
        .or_else(|| super::grpc::status(conn, s))
        .or_else(|| status(conn, s))
        .or_else(|| stalled(h2, s))?;
    Some(draft)
}

/// A 4xx/5xx `:status`, by the HTTP/1.x table, with the stream named.
fn status(conn: &ConnectionSummary, s: &H2Stream) -> Option<Draft> {
    let draft = super::http::status(conn, &s.exchange)?;
    let mut draft = draft.append_summary(&format!(" (HTTP/2 stream {})", s.id));
    if let Some(g) = s.grpc.as_deref() {
        // gRPC over a non-200 answer: the client maps it to a status of its own (gRPC's
        // http-grpc-status-mapping: 502, 503, 504 -> UNAVAILABLE).
        draft = draft.remedy(format!(
            "The gRPC client reports this call ({}/{}) as {}: an HTTP status, not a gRPC status, answered it, so a proxy or something else than the gRPC server answered.",
            g.service,
            g.method,
            grpc_status_for_http(s.exchange.response.as_ref().map_or(0, |r| r.head.status))
        ));
    }
    Some(draft)
}

/// The gRPC status a client reports for an HTTP status (gRPC's http-grpc-status-mapping.md).
fn grpc_status_for_http(status: u16) -> &'static str {
    match status {
        400 => "INTERNAL",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "UNIMPLEMENTED",
        429 | 502..=504 => "UNAVAILABLE",
        _ => "UNKNOWN",
    }
}

/// The finding for a stream reset before its response completed.
fn reset(conn: &ConnectionSummary, h2: &Http2Facts, s: &H2Stream) -> Option<Draft> {
    let rst = s.reset?;
    if answered(s) {
        // The whole answer came first: a reset after it (a client cancelling the rest of its
        // upload, a server declining a body it no longer needs) ends nothing.
        return None;
    }
    let what = name_stream(s);
    let sender = if rst.by_client { "client" } else { "server" };
    let code = rst.code.name();
    let started = opened(s);
    let after = started
        .map(|m| {
            format!(
                " {} after the request",
                human_duration(rst.at.ts_ns - m.ts_ns)
            )
        })
        .unwrap_or_default();
    let response_note = match &s.exchange.response {
        Some(r) => format!(
            " after the response's headers ({}) and {} body bytes",
            r.head.status, r.body_received
        ),
        None => " before any response".to_string(),
    };
    let base = |cause, confidence| {
        let mut d = Draft::new(cause, confidence)
            .summary(format!(
                "{what}: the {sender} reset the stream with {code}{after}{response_note} ({})",
                conn.server
            ))
            .evidence(mark(rst.at), format!("RST_STREAM {code} from the {sender}"));
        if let Some(m) = started {
            d = d.evidence(m, format!("HEADERS: the request, {what}"));
        }
        if let Some(r) = &s.exchange.response {
            d = d.evidence(
                mark(r.first),
                format!("HEADERS: the response, {}", r.head.status),
            );
        }
        d
    };
    if rst.by_client {
        return Some(client_reset(s, rst, base));
    }
    let draft = match rst.code {
        ErrorCode::REFUSED_STREAM => {
            let limit = h2.settings[1]
                .max_concurrent_streams
                .map(|n| format!(" The server announced SETTINGS_MAX_CONCURRENT_STREAMS {n}."))
                .unwrap_or_default();
            base(Cause::Http2RefusedStream, Confidence::High).explanation(format!(
                "The server refused the stream with REFUSED_STREAM: by RFC 9113 8.7 it did no processing of the request, so the client may retry it as is. Servers refuse streams above their concurrent-stream limit or when shedding load.{limit}"
            ))
        }
        ErrorCode::ENHANCE_YOUR_CALM => base(Cause::RateLimited, Confidence::High)
            .explanation("The server reset the stream with ENHANCE_YOUR_CALM (RFC 9113 7): it is limiting this client, which it judges to send too much (requests, resets or frames).")
            .remedy("Slow the client down: fewer concurrent streams and requests, no rapid reset of streams; check the server's or proxy's HTTP/2 abuse limits."),
        ErrorCode::NO_ERROR => base(Cause::Http2StreamReset, Confidence::Medium)
            .explanation("The server reset the stream with NO_ERROR before its response was complete: it ended the call without saying why.")
            .alternative("capture.ended: the rest of the response may have been sent on a path the capture did not see"),
        _ => base(Cause::Http2StreamReset, Confidence::High).explanation(format!(
            "The server reset the stream with {code} before its response was complete: {}",
            error_meaning(rst.code)
        )),
    };
    Some(draft)
}

/// A reset the client sent: CANCEL at the gRPC deadline is the deadline passing, CANCEL
/// otherwise the client giving up, another code the client objecting to the answer.
fn client_reset(
    s: &H2Stream,
    rst: StreamReset,
    base: impl Fn(Cause, Confidence) -> Draft,
) -> Draft {
    let code = rst.code.name();
    if matches!(rst.code, ErrorCode::CANCEL | ErrorCode::NO_ERROR) {
        if let Some(d) = super::grpc::deadline_passed(s, rst, &base) {
            return d;
        }
        return base(Cause::Http2Cancelled, Confidence::High)
            .explanation(format!(
                "The client reset the stream with {code} before the response was complete: it no longer wanted the answer (its timeout passed, or a caller cancelled the request). Nothing in the stream shows the server failing; it was still working on the answer."
            ))
            .alternative("server: the server may have been slower than the client's timeout allows for this request");
    }
    base(Cause::Http2ClientStreamReset, Confidence::High).explanation(format!(
        "The client reset the stream with {code}: {}",
        error_meaning(rst.code)
    ))
}

/// What an RST_STREAM or GOAWAY error code says (RFC 9113 7).
pub(super) fn error_meaning(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::PROTOCOL_ERROR => {
            "the sender found the peer breaking the HTTP/2 protocol (a malformed header block, a forbidden header, a frame in the wrong state)."
        }
        ErrorCode::INTERNAL_ERROR => {
            "the sender failed internally while handling the stream (in a proxy, often its upstream failing mid-answer)."
        }
        ErrorCode::FLOW_CONTROL_ERROR => {
            "the peer sent more data than the flow-control window allowed."
        }
        ErrorCode::STREAM_CLOSED => "a frame arrived for a stream already closed.",
        ErrorCode::FRAME_SIZE_ERROR => "a frame had a size the protocol does not allow.",
        ErrorCode::COMPRESSION_ERROR => {
            "the HPACK header compression state broke: the connection cannot go on."
        }
        ErrorCode::CONNECT_ERROR => {
            "the TCP connection a CONNECT request tunnelled was reset or closed abnormally."
        }
        ErrorCode::INADEQUATE_SECURITY => {
            "the TLS parameters do not meet HTTP/2's minimum (RFC 9113 9.2)."
        }
        ErrorCode::HTTP_1_1_REQUIRED => "the peer requires HTTP/1.1 for this request.",
        ErrorCode::SETTINGS_TIMEOUT => "the peer did not acknowledge SETTINGS in time.",
        _ => "a code RFC 9113 does not define (an extension's, or a peer's private one).",
    }
}

/// A window that stayed closed on this stream (or the connection's, when this was the first
/// stream waiting on it): its receiver stopped reading.
fn stalled(h2: &Http2Facts, s: &H2Stream) -> Option<Draft> {
    if answered(s) && s.reset.is_none() {
        return None;
    }
    let stall: &WindowStall = h2
        .stalls
        .iter()
        .filter(|w| w.reopened_at.is_none())
        .find(|w| w.stream_id == s.id)
        .or_else(|| {
            let first_waiting = h2.streams.iter().find(|o| left_open(o))?;
            (first_waiting.id == s.id)
                .then(|| {
                    h2.stalls
                        .iter()
                        .find(|w| w.stream_id == 0 && w.reopened_at.is_none())
                })
                .flatten()
        })?;
    let (cause, reader, data) = if stall.sender_is_client {
        (Cause::Http2ServerNotReading, "server", "request body")
    } else {
        (Cause::Http2ClientNotReading, "client", "response")
    };
    let window = if stall.stream_id == 0 {
        "the connection's flow-control window".to_string()
    } else {
        format!("the flow-control window of stream {}", stall.stream_id)
    };
    let mut draft = Draft::new(cause, Confidence::High)
        .summary(format!(
            "{}: {window} fell to zero and the {reader} never reopened it: the {data} could not go on",
            name_stream(s)
        ))
        .explanation(format!(
            "The {reader} granted no more HTTP/2 flow-control credit (no WINDOW_UPDATE) after the {data} used up {window}: its application stopped reading. The HTTP/2 twin of a TCP zero window: the TCP connection stayed open while this call could not move."
        ))
        .evidence(mark(stall.closed_at), format!("DATA: used the last of {window}"));
    if let Some(m) = opened(s) {
        draft = draft.evidence(m, format!("HEADERS: the request, {}", name_stream(s)));
    }
    Some(draft)
}
