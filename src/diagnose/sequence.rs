//! Rules that read a run of HTTP/1.x exchanges on one connection rather than one exchange: a
//! redirect loop (the same redirects answered again and again until the client gave up), and
//! a rate limit's allowance counted down to zero by the answers before a 429.

use crate::app::AppFacts;
use crate::app::http::Exchange;
use crate::tcp::ConnectionSummary;

use super::draft::{Draft, call};
use super::http::{describe, mark, status_text};
use super::{Cause, Confidence};

/// Fewest redirects in a run before a repeated one is called a loop.
const LOOP_MIN_REDIRECTS: usize = 3;

fn is_redirect(e: &Exchange) -> bool {
    e.response
        .as_ref()
        .is_some_and(|r| matches!(r.head.status, 301 | 302 | 303 | 307 | 308))
}

fn location(e: &Exchange) -> Option<&str> {
    e.response
        .as_ref()?
        .head
        .failure
        .as_deref()?
        .location
        .as_deref()
}

/// The finding for exchange `i` when it is the last of a run of redirects on the connection
/// in which a redirect repeated (the same target sent to the same Location again): the client
/// went round in a loop and gave up after this one (nothing but the close followed it).
pub(super) fn redirect_loop(conn: &ConnectionSummary, app: &AppFacts, i: usize) -> Option<Draft> {
    let exchanges = &app.http.exchanges;
    let last = exchanges.get(i)?;
    if !is_redirect(last) || exchanges.get(i + 1).is_some() {
        return None;
    }
    let start = exchanges[..=i]
        .iter()
        .rposition(|e| !is_redirect(e))
        .map_or(0, |p| p + 1);
    let run = &exchanges[start..=i];
    if run.len() < LOOP_MIN_REDIRECTS {
        return None;
    }
    let hops: Vec<(String, &str)> = run
        .iter()
        .filter_map(|e| Some((e.request.as_ref()?.head.target.clone(), location(e)?)))
        .collect();
    let repeated = hops
        .iter()
        .enumerate()
        .any(|(k, hop)| hops[..k].contains(hop));
    if !repeated || hops.len() < run.len() {
        return None;
    }
    let cycle: Vec<String> = hops
        .iter()
        .take(4)
        .map(|(t, l)| format!("{t} -> {l}"))
        .collect();
    let first = run.first()?;
    let mut draft = Draft::new(Cause::RedirectLoop, Confidence::High)
        .explanation(format!(
            "The server answered {} requests in a row on this connection with redirects that repeat ({}{}), and the client stopped after the last one: it was sent round in a loop and never reached a resource. Clients give up after a fixed number of redirects (curl's --max-redirs, browsers about 20) and report an error.",
            run.len(),
            cycle.join(", "),
            if hops.len() > 4 { ", ..." } else { "" }
        ))
        .remedy(Cause::RedirectLoop.fix())
        .remedy("Follow the Location headers in the order shown: the rule that sends the client back where it came from is the one to fix (often http->https at a proxy while the application redirects https->http because it does not see the original scheme: set X-Forwarded-Proto).");
    for e in [first, last] {
        if let Some(r) = &e.request {
            draft.push_evidence(mark(r.first), format!("request {}", describe(Some(r))));
        }
        if let Some(r) = &e.response {
            draft.push_evidence(
                mark(r.first),
                format!(
                    "response {} -> {}",
                    status_text(r),
                    location(e).unwrap_or("?")
                ),
            );
        }
    }
    Some(draft.summary(format!(
        "{}: redirect loop: {} redirects in a row ({}), the client gave up",
        call(conn),
        run.len(),
        cycle.join(", ")
    )))
}

/// `RateLimit-Remaining` counted down by the answers before exchange `i` on this connection
/// (`5, 4, 3, 2, 1, 0`), when at least two of them carried it: the client used up its
/// allowance rather than meeting a limit out of the blue.
pub(super) fn countdown(app: &AppFacts, i: usize) -> Option<String> {
    let before = app.http.exchanges.get(..i)?;
    let values: Vec<u64> = before
        .iter()
        .rev()
        .map_while(|e| e.response.as_ref()?.head.rate_remaining)
        .take(8)
        .collect();
    if values.len() < 2 || values.windows(2).any(|w| w[0] > w[1]) {
        return None;
    }
    let shown: Vec<String> = values.iter().rev().map(u64::to_string).collect();
    Some(format!(
        "The {} answers before it on this connection counted the allowance down (RateLimit-Remaining {}): the client used up its limit.",
        values.len(),
        shown.join(", ")
    ))
}
