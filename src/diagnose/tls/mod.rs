//! TLS: a handshake that did not complete, named with who refused whom and why.
//!
//! What the packets show in clear decides first: a protocol that is not TLS on one side, an
//! alert with its sender (RFC 8446 §6, RFC 5246 §7.2). Without an alert in clear, who closed
//! after which flight tells who gave up; in TLS 1.3, where alerts are encrypted, a record of an
//! alert's size right before the close is read as one, with lowered confidence. A handshake
//! that completed is not a TLS failure, whatever happened to the call after it.

use crate::app::tls::{
    Alert, CertInfo, DecryptionState, MAX_ENCRYPTED_ALERT, TlsFacts, TrustStore, Validation,
    alert_name, cipher_name, version_name,
};
use crate::app::{AppFacts, Protocol};
use crate::tcp::{ConnectionSummary, Mark, Origin, SideFacts};

mod accepted;
mod alert;
mod certificate;
mod close;
mod silent;

pub(super) use close::closed_normally;

use super::draft::{Draft, after, call, earliest};
use super::{Cause, Confidence, Context};

use alert::{alert_finding, decisive_alert};
use silent::{aborted, closed_after_handshake, tls13_server_refused_client};

/// Alert descriptions (RFC 8446 §6.2).
const HANDSHAKE_FAILURE: u8 = 40;
const PROTOCOL_VERSION: u8 = 70;
const UNRECOGNIZED_NAME: u8 = 112;
/// Warnings that do not end a handshake: close_notify, user_canceled, no_renegotiation, and
/// unrecognized_name as a warning (servers send it and go on).
const BENIGN: [u8; 4] = [0, 90, 100, UNRECOGNIZED_NAME];
/// An empty TLS 1.3 Certificate message encrypted: 8 bytes, the inner content type and a
/// 16-byte AEAD tag.
const EMPTY_CERTIFICATE_RECORD: u16 = 25;
/// Alerts a client sends for any certificate it refuses (the reason is then in the
/// certificate): bad_certificate, unsupported_certificate, certificate_unknown.
const GENERIC_CERT_ALERTS: [u8; 3] = [42, 43, 46];

/// The alert content type: a TLS 1.2 record of this type is an alert even when encrypted.
const ALERT_RECORD: u8 = 21;

fn mark(o: Origin) -> Mark {
    Mark {
        frame: o.frame,
        ts_ns: o.ts_ns,
    }
}

fn at(frame: u64, ts_ns: i64) -> Mark {
    Mark { frame, ts_ns }
}

/// The first FIN or RST a side sent.
fn close_of(side: &SideFacts) -> Option<Mark> {
    earliest(side.first_fin, side.first_rst.map(|r| at(r.frame, r.ts_ns)))
}

fn close_word(side: &SideFacts, close: Mark) -> &'static str {
    if side.first_rst.is_some_and(|r| r.frame == close.frame) {
        "RST"
    } else {
        "FIN"
    }
}

fn side_name(from_client: bool) -> &'static str {
    if from_client { "client" } else { "server" }
}

/// The connection as its decrypted application data shows it: each side's first and last
/// data are the records that carried application data (HTTP inside TLS), so a close_notify,
/// a session ticket or the handshake is no request or answer. `None` unless HTTP (1.x or 2)
/// was read by decrypting.
pub(crate) fn application_view(
    conn: &ConnectionSummary,
    app: &AppFacts,
) -> Option<ConnectionSummary> {
    let tls = app.tls.as_ref()?;
    let decrypted = matches!(
        tls.decryption.state,
        DecryptionState::Decrypted | DecryptionState::Partial
    );
    if !decrypted || !matches!(app.inner_protocol, Protocol::Http | Protocol::Http2) {
        return None;
    }
    let mut view = conn.clone();
    let d = &tls.decryption;
    for (side, i) in [(&mut view.facts.client, 0), (&mut view.facts.server, 1)] {
        side.first_data = d.first_application[i].map(mark);
        side.last_data = d.last_application[i].map(mark);
    }
    Some(view)
}

/// The TLS facts of a connection whose client started a handshake that did not complete.
pub(super) fn failed_handshake(app: &AppFacts) -> Option<&TlsFacts> {
    app.tls
        .as_ref()
        .filter(|t| t.client_hello.is_some() && !t.handshake_completed())
}

/// `SNI example.com, TLS 1.3 offered`, for summaries.
fn offer_text(tls: &TlsFacts) -> String {
    let Some(hello) = &tls.client_hello else {
        return "no ClientHello".into();
    };
    let sni = hello
        .sni
        .as_deref()
        .map_or("no SNI".to_string(), |s| format!("SNI {s}"));
    format!("{sni}, up to {} offered", version_name(hello.max_version()))
}

/// Adds what the handshake had reached to a transport finding that killed it.
pub(super) fn with_context(draft: Draft, app: &AppFacts) -> Draft {
    let Some(tls) = failed_handshake(app) else {
        return draft;
    };
    let Some(hello) = &tls.client_hello else {
        return draft;
    };
    let reached = match &tls.server_hello {
        Some(s) => format!("after the ServerHello ({})", version_name(s.version)),
        None => "before any ServerHello".to_string(),
    };
    draft
        .append_summary(&format!(
            " (during the TLS handshake, {reached}; {})",
            offer_text(tls)
        ))
        .evidence(
            at(hello.frame, hello.ts_ns),
            format!("TLS ClientHello ({})", offer_text(tls)),
        )
}

/// The TLS finding for a connection, if its handshake failed (or a side spoke another
/// protocol).
pub(super) fn failure(conn: &ConnectionSummary, app: &AppFacts, ctx: &Context) -> Option<Draft> {
    if let Some(draft) = protocol_mismatch(conn, app) {
        return Some(draft);
    }
    let tls = app.tls.as_ref()?;
    let hello = tls.client_hello.as_ref()?;
    if let Some(draft) =
        tls13_server_refused_client(conn, tls).filter(|_| !tls.decryption.opened_any())
    {
        return Some(draft);
    }
    let hello_mark = at(hello.frame, hello.ts_ns);
    if let Some(alert) = alert::decrypted_refusal(conn, tls) {
        return Some(alert_finding(conn, tls, alert, hello_mark, ctx.trust));
    }
    if tls.handshake_completed() {
        return accepted::invalid_certificate_accepted(conn, tls, hello_mark, ctx.trust)
            .or_else(|| closed_after_handshake(conn, tls, hello_mark));
    }
    if let Some(alert) = decisive_alert(conn, tls) {
        return Some(alert_finding(conn, tls, alert, hello_mark, ctx.trust));
    }
    aborted(conn, tls, hello_mark, ctx.trust)
}

/// Plain HTTP to a TLS port, or TLS to a plain HTTP port.
fn protocol_mismatch(conn: &ConnectionSummary, app: &AppFacts) -> Option<Draft> {
    let client_first = conn.facts.client.first_data?;
    let server_first = conn.facts.server.first_data?;
    let tls_refused = app.tls.as_ref().and_then(|t| t.plain_http_refused);
    let (what, answer, fix) = match (app.client_protocol, app.server_protocol) {
        (Protocol::Http, Protocol::Tls) => (
            "sent a plain HTTP request to a TLS port",
            "the server answered with a TLS record (an alert: it expected a ClientHello)",
            "Use https:// for this port (or the service's plain-HTTP port for http://).",
        ),
        (Protocol::Http, Protocol::Http) if tls_refused.is_some() => (
            "sent a plain HTTP request to a TLS port",
            "the server answered with HTTP 400 saying a plain HTTP request was sent to its HTTPS port",
            "Use https:// for this port (or the service's plain-HTTP port for http://).",
        ),
        (Protocol::Tls, _) if app.tls.as_ref().is_some_and(|t| t.server_text.is_some()) => (
            "started a TLS handshake with a plain HTTP port",
            "the server answered the ClientHello with text (an HTTP error page or a banner), not a TLS record",
            "Use http:// for this port, or the service's TLS port for https:// (a proxy or load balancer may terminate TLS on another port).",
        ),
        _ => return None,
    };
    Some(
        Draft::new(Cause::ProtocolMismatch, Confidence::High)
            .summary(format!(
                "{}: the client {what} ({}); {answer}",
                call(conn),
                conn.server.port
            ))
            .explanation(
                "The two sides speak different protocols on this port: a TLS server cannot read \
                 an HTTP request line, and an HTTP server cannot read a TLS ClientHello. The \
                 client's URL scheme (http/https) does not match what listens on the port.",
            )
            .evidence(client_first, "client's first bytes")
            .evidence(server_first, "server's answer in the other protocol")
            .remedy(fix)
            .remedy(format!(
                "Check which protocol the service on {} expects (e.g. curl -v, openssl s_client -connect {}).",
                conn.server, conn.server
            )),
    )
}
