//! The API-call model: a call is one HTTP exchange (request and response) on a connection, or
//! the connection itself when its payload is opaque (TLS, another protocol) or it carried no
//! request (a connect that failed). Each failed call gets one finding: its root cause.
//!
//! A connection-level cause (refused, reset, silence, a stall...) belongs to the call it hit:
//! the first request left without a complete response, else the last one. Every other exchange
//! is judged on its own (status, truncation, slowness), so a keep-alive connection with one 503
//! among healthy answers gives exactly one finding, on the right request.

use crate::app::AppFacts;
use crate::app::http::HttpFacts;
use crate::diagnose::{self, Context, Evidence, Finding, Severity};
use crate::tcp::ConnectionSummary;

/// How a call ended, for the calls summary: from its finding's catalogue severity and what
/// the application parsers understood of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Outcome {
    /// Its finding's cause has severity `failed`.
    Failed,
    /// It went through, slowly or with real loss (a `degraded` finding).
    Degraded,
    /// It went through with something wrong worth saying (a `warning` finding, e.g. a client
    /// that accepted an invalid certificate) or worth knowing (`info`).
    Warning,
    /// It went through and was understood: an HTTP exchange with its response, a TLS
    /// connection whose handshake completed and that carried no request, a DNS lookup
    /// answered.
    Ok,
    /// The capture ended (or started) before the call could be judged.
    Unfinished,
    /// Its payload was not understood (HTTP/2, SSH, SMTP, requests inside TLS without the
    /// keys to read them, an HTTP response the capture missed...): no finding, but not
    /// counted as a success either.
    NotUnderstood,
}

/// One API call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// Wireshark's `tcp.stream` of the connection it used.
    pub stream: u64,
    /// The HTTP exchange (index into the connection's exchanges), or `None` for a call that is
    /// the whole connection.
    pub exchange: Option<usize>,
    /// Why it failed, if it did.
    pub finding: Option<Finding>,
    /// How it ended when it has no finding (set by [`calls_of`]).
    understood: Outcome,
}

impl ApiCall {
    /// How the call ended: its finding's severity when it has one, else what the parsers made
    /// of it ([`Outcome::Ok`], [`Outcome::Unfinished`] or [`Outcome::NotUnderstood`]).
    pub fn outcome(&self) -> Outcome {
        match self.finding.as_ref().map(|f| f.severity) {
            Some(Severity::Failed) => Outcome::Failed,
            Some(Severity::Degraded) => Outcome::Degraded,
            Some(_) => Outcome::Warning,
            None => self.understood,
        }
    }
}

/// What an HTTP exchange without a finding was.
fn exchange_outcome(http: &HttpFacts, i: usize) -> Outcome {
    let Some(e) = http.exchanges.get(i) else {
        return Outcome::NotUnderstood;
    };
    match (&e.request, &e.response) {
        (Some(_), Some(r)) if r.complete => Outcome::Ok,
        // The server answered but the capture missed the head (the client ACKed it: zeek's
        // 1000-requests-one-dropped-response): nothing says how the call went.
        _ if e.response_not_captured => Outcome::NotUnderstood,
        // No request seen: the capture started after it.
        (None, _) => Outcome::Unfinished,
        // A response cut short or still to come when the capture ended.
        _ => Outcome::Unfinished,
    }
}

/// What a call without a finding was, from the application facts: the whole connection
/// (`exchange` None) or one HTTP exchange.
fn understood(conn: &ConnectionSummary, app: &AppFacts, exchange: Option<usize>) -> Outcome {
    if let Some(i) = exchange {
        return exchange_outcome(&app.http, i);
    }
    // A connection the capture holds only the end of (no handshake, no payload): nothing of
    // the call is in the capture.
    let nothing_seen = app.client.first_data.is_none() && app.server.first_data.is_none();
    if let Some(tls) = &app.tls {
        if tls.client_hello.is_none() || !crate::diagnose::tls_handshake_completed(tls) {
            return Outcome::Unfinished;
        }
        // A request inside TLS that was not read (no keys, keys that did not decrypt, a
        // protocol inside that is not HTTP/1.x): its answer is unknown, so it is no success.
        return if crate::diagnose::tls_request_sent(tls) {
            Outcome::NotUnderstood
        } else {
            Outcome::Ok
        };
    }
    if conn.server.port == crate::app::dns::DNS_PORT && !app.dns.is_empty() {
        return Outcome::Ok;
    }
    if nothing_seen {
        return Outcome::Unfinished;
    }
    Outcome::NotUnderstood
}

/// The exchange a connection-level cause belongs to: the first request left without a response
/// (not one the capture merely missed), else the first response cut short, else the last.
fn hit_exchange(http: &HttpFacts) -> Option<usize> {
    let ex = &http.exchanges;
    ex.iter()
        .position(|e| e.response.is_none() && !e.response_not_captured)
        .or_else(|| {
            ex.iter()
                .position(|e| e.response.as_ref().is_some_and(|r| !r.complete))
        })
        .or_else(|| ex.len().checked_sub(1))
}

/// The calls one finished connection carried, each with its finding.
pub fn calls_of(conn: &ConnectionSummary, app: &AppFacts, ctx: &Context) -> Vec<ApiCall> {
    let connection = diagnose::diagnose_connection(conn, app, ctx);
    let exchanges = app.http.exchanges.len();
    if exchanges == 0 {
        return vec![ApiCall {
            stream: conn.stream,
            exchange: None,
            finding: connection,
            understood: understood(conn, app, None),
        }];
    }
    let mut calls: Vec<ApiCall> = (0..exchanges)
        .map(|i| ApiCall {
            stream: conn.stream,
            exchange: Some(i),
            finding: None,
            understood: understood(conn, app, Some(i)),
        })
        .collect();
    for (i, finding) in diagnose::diagnose_exchanges(conn, app) {
        if let Some(call) = calls.get_mut(i) {
            call.finding = Some(finding);
        }
    }
    if let Some(mut finding) = connection {
        let mut hit = hit_exchange(&app.http).unwrap_or(0);
        let degraded = finding.severity != Severity::Failed;
        if degraded && calls.get(hit).is_some_and(|c| c.finding.is_some()) {
            // A slowdown never hides a call's own failure: it goes to a call without one.
            match calls.iter().position(|c| c.finding.is_none()) {
                Some(free) => hit = free,
                None => return calls,
            }
        }
        if let Some(call) = calls.get_mut(hit) {
            let request = app.http.exchanges.get(hit).and_then(|e| e.request.as_ref());
            finding.names.http_host = request.and_then(|r| r.head.host.clone());
            // Name the request the cause hit, when the rule's evidence does not show it.
            if let Some(r) = request
                && !finding.evidence.iter().any(|e| e.frame == r.first.frame)
            {
                let at = finding
                    .evidence
                    .partition_point(|e| e.frame < r.first.frame);
                let host = r
                    .head
                    .host
                    .as_deref()
                    .map(|h| format!(" (Host {h})"))
                    .unwrap_or_default();
                finding.evidence.insert(
                    at,
                    Evidence {
                        frame: r.first.frame,
                        ts_ns: r.first.ts_ns,
                        note: format!(
                            "request {} {}{host}: the call this cause hit",
                            r.head.method, r.head.target
                        ),
                    },
                );
            }
            // The connection's fate is the root cause of the call it hit.
            call.finding = Some(finding);
        }
    }
    calls
}

/// How many calls the connection carried: its HTTP exchanges (those beyond the kept ones
/// included, the 401 legs of a login not counted apart), or one.
pub fn count(app: &AppFacts) -> u64 {
    // The 401 legs of a login are one call with the request they end in.
    let legs = diagnose::login_legs(&app.http) as u64;
    app.http.exchange_count().saturating_sub(legs).max(1)
}

#[cfg(test)]
mod tests {
    use super::{Outcome, exchange_outcome, hit_exchange};
    use crate::app::http::HttpStream;
    use crate::tcp::{Origin, StreamChunk};

    fn facts(requests: &[u8], responses: &[u8]) -> crate::app::http::HttpFacts {
        let mut s = HttpStream::default();
        let data = |bytes| StreamChunk::Data { offset: 0, bytes };
        s.on_chunk(true, Origin::default(), data(requests));
        s.on_chunk(false, Origin::default(), data(responses));
        s.finish()
    }

    #[test]
    fn a_connection_cause_hits_the_first_unanswered_request() {
        let three = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(hit_exchange(&facts(three, ok)), Some(1));
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab";
        assert_eq!(hit_exchange(&facts(&three[..38], cut)), Some(1));
        let all = [&ok[..], ok, ok].concat();
        assert_eq!(hit_exchange(&facts(three, &all)), Some(2));
        assert_eq!(hit_exchange(&facts(b"", b"")), None);
    }

    #[test]
    fn an_exchange_without_finding_is_ok_only_when_its_response_was_read() {
        let two = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let http = facts(two, ok);
        assert_eq!(exchange_outcome(&http, 0), Outcome::Ok);
        assert_eq!(exchange_outcome(&http, 1), Outcome::Unfinished);
        assert_eq!(exchange_outcome(&http, 7), Outcome::NotUnderstood);
    }
}
