//! gRPC calls (an HTTP/2 stream with `content-type: application/grpc*`): the `grpc-status` the
//! server put in the trailers (or in a Trailers-Only response) names the cause, with
//! `grpc-message` and the details of `grpc-status-details-bin` quoted; a client's CANCEL once
//! its `grpc-timeout` ran out is the deadline passing (gRPC's PROTOCOL-HTTP2.md and
//! statuscodes.md).

use crate::app::http2::{GrpcFacts, H2Stream, StreamReset, status_name};
use crate::tcp::ConnectionSummary;
use crate::timefmt::human_duration;

use super::draft::Draft;
use super::http::mark;
use super::http2::{name_stream, opened};
use super::{Cause, Confidence};

/// A client that cancels at 80 % or more of its deadline (as the capture times it: from the
/// request's first frame, later than the client's own start) is taken to cancel for it.
const DEADLINE_SHARE: f64 = 0.8;

/// The cause of a non-OK gRPC status code.
fn cause_of(code: u32) -> Cause {
    match code {
        1 => Cause::GrpcCancelled,
        3 => Cause::GrpcInvalidArgument,
        4 => Cause::GrpcDeadlineExceeded,
        5 => Cause::GrpcNotFound,
        6 => Cause::GrpcAlreadyExists,
        7 => Cause::GrpcPermissionDenied,
        8 => Cause::GrpcResourceExhausted,
        9 => Cause::GrpcFailedPrecondition,
        10 => Cause::GrpcAborted,
        11 => Cause::GrpcOutOfRange,
        12 => Cause::GrpcUnimplemented,
        13 => Cause::GrpcInternal,
        14 => Cause::GrpcUnavailable,
        15 => Cause::GrpcDataLoss,
        16 => Cause::GrpcUnauthenticated,
        // 2 UNKNOWN, and codes outside 0..=16, which gRPC clients treat as UNKNOWN.
        _ => Cause::GrpcUnknown,
    }
}

/// `/pkg.Service/Method`.
fn rpc(g: &GrpcFacts) -> String {
    format!("/{}/{}", g.service, g.method)
}

/// What the server said beyond the code: grpc-message, and the status details' message,
/// detail types and ErrorInfo reason.
fn said(g: &GrpcFacts) -> String {
    let mut parts = Vec::new();
    if let Some(m) = g.message.as_deref().filter(|m| !m.is_empty()) {
        parts.push(format!("grpc-message \"{m}\""));
    }
    if let Some(d) = &g.details {
        if let Some(m) = d
            .message
            .as_deref()
            .filter(|m| Some(*m) != g.message.as_deref())
        {
            parts.push(format!("status details \"{m}\""));
        }
        if let Some(r) = &d.error_info_reason {
            parts.push(format!("ErrorInfo reason {r}"));
        }
        let types: Vec<&str> = d
            .detail_types
            .iter()
            .map(|t| t.rsplit('/').next().unwrap_or(t))
            .collect();
        if !types.is_empty() {
            parts.push(format!("details: {}", types.join(", ")));
        }
    }
    parts.join("; ")
}

/// The finding for a gRPC call whose server answered a non-OK status.
pub(super) fn status(conn: &ConnectionSummary, s: &H2Stream) -> Option<Draft> {
    let g = s.grpc.as_deref()?;
    let code = g.status.filter(|&c| c != 0)?;
    let cause = cause_of(code);
    let name = status_name(code);
    let said = said(g);
    let quoted = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    let how = if g.trailers_only {
        " (Trailers-Only: before any response message)"
    } else {
        ""
    };
    let mut draft = Draft::new(cause, Confidence::High)
        .summary(format!(
            "gRPC {} -> {code} {name}{quoted} from {}{how} ({})",
            rpc(g),
            conn.server,
            name_stream(s)
        ))
        .explanation(format!(
            "{} The call is gRPC {} on HTTP/2 stream {}; the server's status was {code} {name}{}.",
            cause.meaning(),
            rpc(g),
            s.id,
            if said.is_empty() {
                String::new()
            } else {
                format!(", and it said: {said}")
            }
        ));
    if let Some(m) = opened(s) {
        draft = draft.evidence(m, format!("HEADERS: the call {}", rpc(g)));
    }
    if let Some(at) = g.status_at {
        draft = draft.evidence(mark(at), format!("grpc-status {code} {name}"));
    }
    if code == 4 {
        draft = with_deadline(draft, s, g);
    }
    Some(draft)
}

/// The client's deadline against the time the call took, for a DEADLINE_EXCEEDED the server
/// sent: near the client's deadline, the deadline passed (too slow a server, or too short a
/// deadline); well before it, a deadline inside the server ran out (on its own call to a
/// dependency), not the client's.
fn with_deadline(draft: Draft, s: &H2Stream, g: &GrpcFacts) -> Draft {
    let took = match (opened(s), g.status_at) {
        (Some(a), Some(b)) => Some(b.ts_ns - a.ts_ns),
        _ => None,
    };
    let Some(took) = took else { return draft };
    let Some(t) = g.timeout_ns else {
        return draft.explanation(format!(
            "The server answered DEADLINE_EXCEEDED after {}, and the client set no deadline (no grpc-timeout): a deadline inside the server (on its call to a dependency) or a proxy's timeout ran out.",
            human_duration(took)
        ));
    };
    let deadline = human_duration(t as i64);
    let draft = draft.append_summary(&format!(
        "; client deadline {deadline} (grpc-timeout), status after {}",
        human_duration(took)
    ));
    if (took as f64) < t as f64 * DEADLINE_SHARE {
        return draft.explanation(format!(
            "The server answered DEADLINE_EXCEEDED after {}, well before the client's own deadline of {deadline} ran out: a deadline inside the server ran out, typically on its call to a dependency (a database, another service) or one it sets itself. The slow part is behind the server, not the client's deadline.",
            human_duration(took)
        ));
    }
    draft.alternative(deadline_too_short(t))
}

/// The other reading of a deadline that passed: the client's deadline was too short.
fn deadline_too_short(timeout_ns: u64) -> String {
    format!(
        "client: the deadline of {} may be shorter than this method needs; compare it with the method's normal latency",
        human_duration(timeout_ns as i64)
    )
}

/// A client's CANCEL (or NO_ERROR) reset of a gRPC call once its deadline had (nearly) run
/// out, with no status from the server: the deadline passed.
pub(super) fn deadline_passed(
    s: &H2Stream,
    rst: StreamReset,
    base: &impl Fn(Cause, Confidence) -> Draft,
) -> Option<Draft> {
    let g = s.grpc.as_deref()?;
    let timeout = g.timeout_ns?;
    let took = rst.at.ts_ns - opened(s)?.ts_ns;
    if (took as f64) < timeout as f64 * DEADLINE_SHARE {
        return None;
    }
    Some(
        base(Cause::GrpcDeadlineExceeded, Confidence::High)
            .append_summary(&format!(
                ": gRPC {} had a deadline of {} (grpc-timeout) and the server had not answered when it ran out",
                rpc(g),
                human_duration(timeout as i64)
            ))
            .explanation(format!(
                "The client gave the call a deadline of {} (grpc-timeout) and cancelled the stream {} after sending the request, with no status from the server: the deadline passed (the client reports DEADLINE_EXCEEDED). Either the server (or a dependency) was slower than usual, or the deadline is too short for this method.",
                human_duration(timeout as i64),
                human_duration(took)
            ))
            .alternative(deadline_too_short(timeout)),
    )
}
