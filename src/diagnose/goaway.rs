//! A GOAWAY (RFC 9113 6.8) that killed calls: the streams above its last-stream-id that were
//! still waiting were never processed (the client may retry them as they are), and the streams
//! at or below it that were still open when the connection then closed died with it. However
//! many calls it killed, it is one finding naming them; the other calls point to it.

use crate::app::http2::{ErrorCode, GoAway, H2Stream, Http2Facts};
use crate::calls::ApiCall;
use crate::tcp::ConnectionSummary;

use super::draft::Draft;
use super::http::mark;
use super::http2::{answered, error_meaning, name_stream, opened};
use super::judge::{CallVerdict, MAX_NAMED_CALLS};
use super::{Cause, Confidence};

/// Gives the finding of each server GOAWAY that killed calls to the first of them.
pub(super) fn killed(
    conn: &ConnectionSummary,
    app: &crate::app::AppFacts,
    h2: &Http2Facts,
    calls: &[ApiCall],
    verdicts: &mut [CallVerdict],
) {
    let closed = conn.facts.client.first_fin.is_some()
        || conn.facts.server.first_fin.is_some()
        || conn.facts.client.first_rst.is_some()
        || conn.facts.server.first_rst.is_some();
    for goaway in h2.goaways.iter().filter(|g| !g.by_client) {
        let free = |i: usize| verdicts[i].finding.is_none() && verdicts[i].covered_by.is_none();
        let mut unprocessed = Vec::new();
        let mut cut = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            let Some(s) = call.h2_stream(app) else {
                continue;
            };
            if !free(i) || s.pushed || answered(s) || s.exchange.request.is_none() {
                continue;
            }
            if s.id > goaway.last_stream_id {
                unprocessed.push((i, s));
            } else if closed && s.reset.is_none() && began_before(s, goaway) {
                cut.push((i, s));
            }
        }
        let mut all: Vec<(usize, &H2Stream)> = unprocessed.iter().chain(&cut).copied().collect();
        all.sort_by_key(|(i, _)| *i);
        let Some(&(first, first_stream)) = all.first() else {
            continue;
        };
        let draft = finding(conn, goaway, &unprocessed, &cut);
        let mut f = draft.into_finding(conn);
        super::stream_names(&mut f, app, first_stream);
        verdicts[first].finding = Some(f);
        for &(i, _) in &all[1..] {
            verdicts[i].covered_by = Some(first);
        }
    }
}

/// True when the stream's request was sent before the GOAWAY (a stream opened after it, at or
/// below last-stream-id, cannot be: only lower ids exist then).
fn began_before(s: &H2Stream, goaway: &GoAway) -> bool {
    opened(s).is_none_or(|m| m.frame <= goaway.at.frame)
}

/// The one finding of a GOAWAY that killed `unprocessed` and `cut` calls.
fn finding(
    conn: &ConnectionSummary,
    goaway: &GoAway,
    unprocessed: &[(usize, &H2Stream)],
    cut: &[(usize, &H2Stream)],
) -> Draft {
    let code = goaway.code.name();
    let debug = goaway
        .debug
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| format!(", debug data \"{d}\""))
        .unwrap_or_default();
    let total = unprocessed.len() + cut.len();
    let mut parts = Vec::new();
    if !unprocessed.is_empty() {
        parts.push(format!(
            "{} never processed (stream ids above {}: safe to retry)",
            unprocessed.len(),
            goaway.last_stream_id
        ));
    }
    if !cut.is_empty() {
        parts.push(format!(
            "{} accepted and still open when the connection closed",
            cut.len()
        ));
    }
    let cause = if goaway.code == ErrorCode::ENHANCE_YOUR_CALM {
        Cause::RateLimited
    } else {
        Cause::Http2Goaway
    };
    let why = if goaway.code == ErrorCode::NO_ERROR {
        "NO_ERROR: a graceful shutdown (a restart, a deploy, a connection age or request limit), which the client must answer by retrying the unprocessed streams on a new connection".to_string()
    } else {
        format!("{code}: {}", error_meaning(goaway.code))
    };
    let mut draft = Draft::new(cause, Confidence::High)
        .summary(format!(
            "the server sent GOAWAY {code} (last-stream-id {}{debug}) and {total} HTTP/2 call{} died with it: {} ({})",
            goaway.last_stream_id,
            if total == 1 { "" } else { "s" },
            parts.join(", "),
            conn.server
        ))
        .explanation(format!(
            "The server announced it was going away with {why}. By RFC 9113 6.8 it processed no stream above last-stream-id {}; the calls on those streams never reached the application, and the calls it had accepted ended with the connection.",
            goaway.last_stream_id
        ))
        .evidence(
            mark(goaway.at),
            format!("GOAWAY {code}, last-stream-id {}", goaway.last_stream_id),
        );
    if cause == Cause::RateLimited {
        draft = draft.remedy("The server is limiting this client (ENHANCE_YOUR_CALM): fewer concurrent streams and requests, no rapid stream resets.");
    }
    let mut named: Vec<&H2Stream> = unprocessed.iter().chain(cut).map(|(_, s)| *s).collect();
    named.sort_by_key(|s| s.id);
    for s in named.iter().take(MAX_NAMED_CALLS) {
        if let Some(m) = opened(s) {
            let fate = if s.id > goaway.last_stream_id {
                "never processed"
            } else {
                "cut by the close"
            };
            draft = draft.evidence(m, format!("{}: {fate}", name_stream(s)));
        }
    }
    if named.len() > MAX_NAMED_CALLS {
        draft = draft.append_summary(&format!(
            "; the first {MAX_NAMED_CALLS} are in the evidence"
        ));
    }
    draft
}
