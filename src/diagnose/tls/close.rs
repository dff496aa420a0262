//! How a TLS connection whose handshake completed ended: normally, or with a request left
//! unanswered or an answer abandoned.
//!
//! After the handshake only record sizes and types are visible. A request is an application
//! data record the client sent after its handshake; an answer is an application data record the
//! server sent after that request. A close alert is neither: in TLS <= 1.2 it is a record of
//! content type 21 (alert), in TLS 1.3 a lone alert-sized application data record (2 bytes of
//! alert, the inner content type and a 16-byte AEAD tag) sent after the exchange (RFC 8446
//! 6.1). Every order of the closing packets is then normal: the client's FIN, the server's
//! close_notify and FIN, a close_notify racing the peer's FIN, and the RST a kernel sends for
//! data (a close_notify, TLS 1.3 session tickets) that arrives after its application called
//! `close()` (RFC 1122 4.2.2.13).

use super::*;

/// A client close this soon after its last record went with it: the client half-closed with
/// its message rather than giving up on an answer (a client that waits for an answer and times
/// out waits longer than this).
const WITH_THE_RECORD_NS: i64 = 1_000_000_000;

/// True when a TLS connection whose handshake completed ended normally: nothing was asked
/// after the handshake, or the last request got an answer and the client's close threw away
/// nothing but close records, or the client half-closed together with its only message (no
/// sign that a reply was owed). Then the transport's closes (FIN, close_notify, a kernel RST for
/// data after close) are no failure.
pub(crate) fn closed_normally(conn: &ConnectionSummary, app: &AppFacts) -> bool {
    let Some(tls) = app.tls.as_ref() else {
        return false;
    };
    if tls.client_hello.is_none() || !tls.handshake_completed() {
        return false;
    }
    // Records not followed to the end (a gap, a stream that is not TLS) leave the story open.
    if tls.client.stopped.is_some() || tls.server.stopped.is_some() {
        return false;
    }
    // Decrypted HTTP says itself whether the last request was answered: the HTTP rules judge
    // the calls as on a plain connection, and only a connection whose last request got its
    // whole answer closed normally.
    if tls.decryption.state == DecryptionState::Decrypted && app.inner_protocol == Protocol::Http {
        return app
            .http
            .exchanges
            .last()
            .is_none_or(|e| e.response.as_ref().is_some_and(|r| r.complete));
    }
    // Decrypted HTTP/2: every stream the client opened was answered or reset (each stream's
    // own verdict tells which).
    if tls.decryption.state == DecryptionState::Decrypted
        && app.inner_protocol == Protocol::Http2
        && let Some(h2) = &app.http2
    {
        return h2.streams.iter().all(|s| {
            s.pushed
                || s.reset.is_some()
                || s.exchange.response.as_ref().is_some_and(|r| r.complete)
        });
    }
    let Some(request) = tls.client_request() else {
        // The handshake was the whole call: whatever the server sent after it (TLS 1.3 session
        // tickets crossing the client's close) answered nothing.
        return true;
    };
    let answered = tls
        .server
        .last_payload
        .is_some_and(|r| r.frame > request.frame);
    let client = &conn.facts.client;
    let client_close = close_of(client);
    if answered {
        // The server's payload after the client's close was thrown away: an abandoned answer is
        // for the transport rules to judge. Close records after it are not.
        let discarded = client_close.is_some_and(|c| {
            tls.server
                .last_payload
                .is_some_and(|r| r.frame > c.frame && r.frame > request.frame)
        });
        return !discarded;
    }
    // Not answered: only a client that half-closed with its message (FIN in the same breath,
    // nothing but close records between) shows no reply was owed, when the server then closed
    // with a FIN of its own (a RST is the server's story to tell).
    let only_record = if tls.is_tls13() {
        tls.client.payload_records == 2
    } else {
        tls.client.payload_records == 1
    };
    let half_closed = client.first_fin.is_some_and(|f| {
        f.frame >= request.frame && f.ts_ns.saturating_sub(request.ts_ns) < WITH_THE_RECORD_NS
    }) && client
        .first_rst
        .is_none_or(|r| client.first_fin.is_some_and(|f| f.frame < r.frame));
    let server = &conn.facts.server;
    let server_no_reset = server
        .first_rst
        .is_none_or(|r| server.first_fin.is_some_and(|f| f.frame < r.frame));
    only_record && half_closed && server_no_reset
}
