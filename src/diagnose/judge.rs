//! Judging the calls of one finished connection (from the `calls` stage): each call's own
//! failure first (an HTTP status, a body cut short, a stream reset, a gRPC status), then the
//! causes that killed several calls at once (a GOAWAY), then the connection's own cause, given
//! to the call it hit. One cause that killed several calls is one finding naming them; the
//! other calls it killed point to it ([`CallVerdict::covered_by`]).

use crate::app::AppFacts;
use crate::calls::{ApiCall, CallKind};
use crate::tcp::ConnectionSummary;

use super::http2::{left_open, name_stream, opened};
use super::{Context, Evidence, Finding, Severity};

/// Calls a finding that killed many names one by one in its evidence; the rest are counted.
pub(super) const MAX_NAMED_CALLS: usize = 10;

/// What the diagnosis says of one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallVerdict {
    /// Why it failed (or went through degraded), when this call carries the finding.
    pub finding: Option<Finding>,
    /// The index of the call whose finding also covers this one (one cause that killed
    /// several calls).
    pub covered_by: Option<usize>,
}

/// The verdict on each of the connection's calls, in the order of `calls`.
pub fn judge_calls(
    conn: &ConnectionSummary,
    app: &AppFacts,
    calls: &[ApiCall],
    ctx: &Context,
) -> Vec<CallVerdict> {
    let mut verdicts: Vec<CallVerdict> = calls
        .iter()
        .map(|call| CallVerdict {
            finding: own_failure(conn, app, call),
            covered_by: None,
        })
        .collect();
    if let Some(h2) = &app.http2 {
        super::goaway::killed(conn, app, h2, calls, &mut verdicts);
    }
    if let Some(finding) = super::diagnose_connection(conn, app, ctx) {
        if app.http2.is_some() {
            give_to_open_streams(app, calls, &mut verdicts, finding);
        } else {
            give_to_hit_call(app, calls, &mut verdicts, finding);
        }
    }
    verdicts
}

/// A call's failure of its own, if it had one.
fn own_failure(conn: &ConnectionSummary, app: &AppFacts, call: &ApiCall) -> Option<Finding> {
    match call.kind {
        CallKind::Connection => None,
        CallKind::Exchange(i) => super::exchange_finding(conn, app, i),
        CallKind::Http2Stream(i) => {
            let h2 = app.http2.as_deref()?;
            let s = h2.streams.get(i)?;
            let draft = super::http2::stream(conn, h2, s)?;
            let mut finding = draft.into_finding(conn);
            super::stream_names(&mut finding, app, s);
            Some(finding)
        }
    }
}

/// HTTP/1.x: the exchange a connection-level cause belongs to is the first request left
/// without a response (not one the capture merely missed), else the first response cut short,
/// else the last. A slowdown never hides a call's own failure: it goes to a call without one.
fn give_to_hit_call(
    app: &AppFacts,
    calls: &[ApiCall],
    verdicts: &mut [CallVerdict],
    mut finding: Finding,
) {
    let mut hit = calls
        .iter()
        .position(|c| {
            c.exchange(app)
                .is_some_and(|e| e.response.is_none() && !e.response_not_captured)
        })
        .or_else(|| {
            calls.iter().position(|c| {
                c.exchange(app)
                    .is_some_and(|e| e.response.as_ref().is_some_and(|r| !r.complete))
            })
        })
        .unwrap_or(calls.len().saturating_sub(1));
    let degraded = finding.severity != Severity::Failed;
    if degraded && verdicts.get(hit).is_some_and(|v| v.finding.is_some()) {
        match verdicts.iter().position(|v| v.finding.is_none()) {
            Some(free) => hit = free,
            None => return,
        }
    }
    let Some(call) = calls.get(hit) else {
        return;
    };
    let request = call.exchange(app).map(|e| e.request.as_ref());
    if let Some(request) = request {
        finding.names.http_host = request.and_then(|r| r.head.host.clone());
    }
    if let Some(r) = request.flatten() {
        finding.route = Some(crate::calls::Route::of(&r.head.method, &r.head.target));
        // Name the request the cause hit, when the rule's evidence does not show it.
        if !finding.evidence.iter().any(|e| e.frame == r.first.frame) {
            let host = r
                .head
                .host
                .as_deref()
                .map(|h| format!(" (Host {h})"))
                .unwrap_or_default();
            insert_evidence(
                &mut finding,
                r.first.frame,
                r.first.ts_ns,
                format!(
                    "request {} {}{host}: the call this cause hit",
                    r.head.method, r.head.target
                ),
            );
        }
    }
    // The connection's fate is the root cause of the call it hit.
    if let Some(v) = verdicts.get_mut(hit) {
        v.finding = Some(finding);
    }
}

/// HTTP/2: a connection-level cause killed every stream still open when it struck: one finding
/// on the first, naming them all; the others point to it. A slowdown (loss) goes to a stream
/// without a finding of its own. A failure of the connection after every stream ended (all
/// answered or reset) hit no call: the streams' own verdicts are the story.
fn give_to_open_streams(
    app: &AppFacts,
    calls: &[ApiCall],
    verdicts: &mut [CallVerdict],
    mut finding: Finding,
) {
    let open: Vec<usize> = (0..calls.len())
        .filter(|&i| verdicts[i].finding.is_none() && verdicts[i].covered_by.is_none())
        .filter(|&i| calls[i].h2_stream(app).is_some_and(left_open))
        .collect();
    if finding.severity != Severity::Failed {
        let free = verdicts
            .iter()
            .position(|v| v.finding.is_none() && v.covered_by.is_none());
        if let Some(v) = free.and_then(|i| verdicts.get_mut(i)) {
            v.finding = Some(finding);
        }
        return;
    }
    let Some(&first) = open.first() else {
        return;
    };
    let killed: Vec<_> = open
        .iter()
        .filter_map(|&i| calls[i].h2_stream(app))
        .collect();
    if let Some(s) = killed.first() {
        super::stream_names(&mut finding, app, s);
    }
    for s in killed.iter().take(MAX_NAMED_CALLS) {
        if let Some(m) = opened(s) {
            insert_evidence(
                &mut finding,
                m.frame,
                m.ts_ns,
                format!("{}: open when the connection failed", name_stream(s)),
            );
        }
    }
    let ids: Vec<String> = killed.iter().map(|s| s.id.to_string()).collect();
    finding.summary.push_str(&match killed.len() {
        1 => format!("; it killed the HTTP/2 call on stream {}", ids[0]),
        n if n <= MAX_NAMED_CALLS => format!(
            "; it killed {n} HTTP/2 calls still open on the connection (streams {})",
            ids.join(", ")
        ),
        n => format!(
            "; it killed {n} HTTP/2 calls still open on the connection (the first {MAX_NAMED_CALLS} are in the evidence)"
        ),
    });
    verdicts[first].finding = Some(finding);
    for &i in &open[1..] {
        verdicts[i].covered_by = Some(first);
    }
}

/// Adds an evidence line in frame order (a frame already there gets the note appended).
pub(super) fn insert_evidence(finding: &mut Finding, frame: u64, ts_ns: i64, note: String) {
    if let Some(e) = finding.evidence.iter_mut().find(|e| e.frame == frame) {
        e.note.push_str("; ");
        e.note.push_str(&note);
        return;
    }
    let at = finding.evidence.partition_point(|e| e.frame < frame);
    finding.evidence.insert(
        at,
        Evidence {
            frame,
            ts_ns,
            note,
            call_offset_ns: 0,
        },
    );
    finding.first_frame = finding.first_frame.min(frame);
    finding.last_frame = finding.last_frame.max(frame);
}
