//! The API-call model, the stage between the protocol parsers and the diagnosis: which calls a
//! finished connection carried, each with the connection facts it ran on. A call is one HTTP/1.x
//! exchange (the 401 legs of a login count with the request they end in), one HTTP/2 stream the
//! client opened (a gRPC call is one), or the connection itself when its payload is opaque (TLS
//! without keys, another protocol) or it carried no request (a connect that failed). DNS lookups
//! are calls of their own, judged by `diagnose::DnsJudge`.
//!
//! This stage knows only `app` (and the TCP summary): it says what each call was and how far the
//! parsers understood it ([`Outcome`] when no rule names a cause). The diagnosis then judges
//! the calls (`diagnose::judge_calls`), giving each failed one its finding; a connection-level
//! cause goes to the call it hit, and one cause that killed several calls (a connection closed
//! with streams open, a GOAWAY) is one finding that names them all.

mod route;

pub use route::{ID, MAX_TEMPLATE, Route, host_name, path_template};

use crate::app::AppFacts;
use crate::app::http::{Exchange, HttpFacts};
use crate::app::http2::{H2Stream, Http2Facts};
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
    /// It went through and was understood: an HTTP exchange or HTTP/2 stream with its complete
    /// response, a TLS connection whose handshake completed and that carried no request, a DNS
    /// lookup answered.
    Ok,
    /// The capture ended (or started) before the call could be judged.
    Unfinished,
    /// Its payload was not understood (SSH, SMTP, requests inside TLS without the keys to read
    /// them, an HTTP response the capture missed, HTTP/2 headers that could not be decoded...):
    /// no finding, but not counted as a success either.
    NotUnderstood,
}

/// What part of its connection a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallKind {
    /// The whole connection.
    Connection,
    /// An HTTP/1.x exchange: its index in `AppFacts::http.exchanges`.
    Exchange(usize),
    /// An HTTP/2 stream the client opened: its index in `AppFacts::http2.streams`.
    Http2Stream(usize),
}

/// One API call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// Wireshark's `tcp.stream` of the connection it used.
    pub stream: u64,
    pub kind: CallKind,
    /// How it ended when no rule names a cause for it.
    pub understood: Outcome,
}

impl ApiCall {
    /// The HTTP/1.x exchange the call is, if it is one.
    pub fn exchange<'a>(&self, app: &'a AppFacts) -> Option<&'a Exchange> {
        match self.kind {
            CallKind::Exchange(i) => app.http.exchanges.get(i),
            _ => None,
        }
    }

    /// The HTTP exchange the call is: an HTTP/1.x exchange, or an HTTP/2 stream's.
    pub fn http_exchange<'a>(&self, app: &'a AppFacts) -> Option<&'a Exchange> {
        self.exchange(app)
            .or_else(|| self.h2_stream(app).map(|s| &s.exchange))
    }

    /// The HTTP/2 stream the call is, if it is one.
    pub fn h2_stream<'a>(&self, app: &'a AppFacts) -> Option<&'a H2Stream> {
        match self.kind {
            CallKind::Http2Stream(i) => app.http2.as_ref()?.streams.get(i),
            _ => None,
        }
    }
}

/// True when `ex` is a 401 challenge the client answered: the next request on the same
/// connection carries an `Authorization` header, and this one was a step of a login rather
/// than credentials refused: it carried none (a client that sends credentials only when asked,
/// curl --anyauth, browsers), or the challenge is a connection-oriented scheme's next leg
/// (NTLM, Negotiate: RFC 4559, two or three legs). The call is the last leg, and the legs
/// before it are not calls of their own. A 401 to a request that already carried a bearer
/// token or Basic credentials refused them, whatever the client sent next.
pub fn answered_challenge(ex: &Exchange, next: Option<&Exchange>) -> bool {
    let Some(response) = ex.response.as_ref() else {
        return false;
    };
    if response.head.status != 401 || !response.complete {
        return false;
    }
    let sent = ex
        .request
        .as_ref()
        .is_some_and(|r| r.head.has_authorization);
    let multi_leg = response.head.www_authenticate().is_some_and(|c| {
        c.scheme.eq_ignore_ascii_case("ntlm") || c.scheme.eq_ignore_ascii_case("negotiate")
    });
    (!sent || multi_leg)
        && next
            .and_then(|n| n.request.as_ref())
            .is_some_and(|r| r.head.has_authorization)
}

/// How many of the connection's HTTP exchanges are answered 401 challenges, login legs that
/// belong to the call their last leg ends.
pub fn login_legs(http: &HttpFacts) -> usize {
    let ex = &http.exchanges;
    (0..ex.len())
        .filter(|&i| answered_challenge(&ex[i], ex.get(i + 1)))
        .count()
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

/// What an HTTP/2 stream without a finding was.
fn stream_outcome(s: &H2Stream) -> Outcome {
    if s.headers_undecodable {
        // What was asked or answered is unknown: never counted as a success.
        return Outcome::NotUnderstood;
    }
    let answered = s.exchange.response.as_ref().is_some_and(|r| r.complete);
    let grpc_ok = s
        .grpc
        .as_ref()
        .is_none_or(|g| g.status.is_none_or(|c| c == 0));
    // Not asked in the capture (it started later), or not answered before it ended.
    if s.exchange.request.is_some() && answered && grpc_ok {
        Outcome::Ok
    } else {
        Outcome::Unfinished
    }
}

/// What a call that is the whole connection was, when no rule names a cause.
fn connection_outcome(conn: &ConnectionSummary, app: &AppFacts) -> Outcome {
    // A connection the capture holds only the end of (no handshake, no payload): nothing of
    // the call is in the capture.
    let nothing_seen = app.client.first_data.is_none() && app.server.first_data.is_none();
    if let Some(tls) = &app.tls {
        if tls.client_hello.is_none() || !tls.handshake_completed() {
            return Outcome::Unfinished;
        }
        // A request inside TLS that was not read (no keys, keys that did not decrypt, a
        // protocol inside that is not HTTP): its answer is unknown, so it is no success.
        return if tls.request_sent() {
            Outcome::NotUnderstood
        } else {
            Outcome::Ok
        };
    }
    if conn.server.port == crate::app::dns::DNS_PORT && !app.dns.is_empty() {
        return Outcome::Ok;
    }
    // HTTP/2 that opened no stream (a preface, SETTINGS and PINGs): nothing asked, nothing
    // failed.
    if app.http2.is_some() {
        return Outcome::Ok;
    }
    if nothing_seen {
        return Outcome::Unfinished;
    }
    Outcome::NotUnderstood
}

/// The client's HTTP/2 streams that are calls: those the client opened (server pushes are the
/// server's, answered within the call that caused them).
fn h2_calls(h2: &Http2Facts) -> impl Iterator<Item = (usize, &H2Stream)> {
    h2.streams.iter().enumerate().filter(|(_, s)| !s.pushed)
}

/// The calls one finished connection carried, in the order they started, each with what the
/// parsers understood of it.
pub fn calls_of(conn: &ConnectionSummary, app: &AppFacts) -> Vec<ApiCall> {
    let call = |kind, understood| ApiCall {
        stream: conn.stream,
        kind,
        understood,
    };
    let mut calls: Vec<ApiCall> = (0..app.http.exchanges.len())
        // An `Upgrade: h2c` request answered 101 is the HTTP/2 stream 1 that follows.
        .filter(|&i| !(app.http2.is_some() && upgraded_to_h2(&app.http.exchanges[i])))
        .map(|i| call(CallKind::Exchange(i), exchange_outcome(&app.http, i)))
        .collect();
    if let Some(h2) = &app.http2 {
        calls.extend(h2_calls(h2).map(|(i, s)| call(CallKind::Http2Stream(i), stream_outcome(s))));
    }
    if calls.is_empty() {
        calls.push(call(CallKind::Connection, connection_outcome(conn, app)));
    }
    calls
}

/// An exchange the server answered `101 Switching Protocols`.
fn upgraded_to_h2(ex: &Exchange) -> bool {
    ex.response.as_ref().is_some_and(|r| r.head.status == 101)
}

/// How many calls the connection carried: its HTTP exchanges (those beyond the kept ones
/// included, the 401 legs of a login not counted apart) and its client's HTTP/2 streams (those
/// beyond the kept ones included), or one.
pub fn count(app: &AppFacts) -> u64 {
    let legs = login_legs(&app.http) as u64;
    let mut exchanges = app.http.exchange_count().saturating_sub(legs);
    let mut streams = 0;
    if let Some(h2) = &app.http2 {
        let pushed = h2.streams.iter().filter(|s| s.pushed).count() as u64;
        streams = h2.stream_count.saturating_sub(pushed);
        if app.http.exchanges.iter().any(upgraded_to_h2) {
            exchanges = exchanges.saturating_sub(1);
        }
    }
    (exchanges + streams).max(1)
}

#[cfg(test)]
mod tests {
    use super::{Outcome, exchange_outcome};
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
    fn an_exchange_without_finding_is_ok_only_when_its_response_was_read() {
        let two = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let http = facts(two, ok);
        assert_eq!(exchange_outcome(&http, 0), Outcome::Ok);
        assert_eq!(exchange_outcome(&http, 1), Outcome::Unfinished);
        assert_eq!(exchange_outcome(&http, 7), Outcome::NotUnderstood);
    }
}
