//! TLS: a handshake that did not complete, named with who refused whom and why.
//!
//! What the packets show in clear decides first: a protocol that is not TLS on one side, an
//! alert with its sender (RFC 8446 §6, RFC 5246 §7.2). Without an alert in clear, who closed
//! after which flight tells who gave up; in TLS 1.3, where alerts are encrypted, a record of an
//! alert's size right before the close is read as one, with lowered confidence. A handshake
//! that completed is not a TLS failure, whatever happened to the call after it.

use crate::app::tls::{
    Alert, CertInfo, MAX_ENCRYPTED_ALERT, TlsFacts, TrustStore, Validation, alert_code, alert_name,
    cipher_name, version_name,
};
use crate::app::{AppFacts, Protocol};
use crate::tcp::{ConnectionSummary, Mark, Origin, SideFacts};

use super::draft::{Draft, after, call, earliest};
use super::{Category, Confidence, Context};

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

/// True when the handshake finished: both sides sent Finished (TLS <= 1.2), or the client's
/// encrypted flight is larger than an alert (TLS 1.3, where its Finished is all it sends).
pub(super) fn handshake_completed(tls: &TlsFacts) -> bool {
    if tls.is_tls13() {
        tls.client
            .encrypted_records
            .iter()
            .any(|r| r.length > MAX_ENCRYPTED_ALERT)
    } else {
        tls.server.encrypted_from.is_some() && tls.client.encrypted_from.is_some()
    }
}

/// The TLS facts of a connection whose client started a handshake that did not complete.
pub(super) fn failed_handshake(app: &AppFacts) -> Option<&TlsFacts> {
    app.tls
        .as_ref()
        .filter(|t| t.client_hello.is_some() && !handshake_completed(t))
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
    if let Some(draft) = tls13_server_refused_client(conn, tls) {
        return Some(draft);
    }
    let hello_mark = at(hello.frame, hello.ts_ns);
    if handshake_completed(tls) {
        return closed_after_handshake(conn, tls, hello_mark);
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
        Draft::new(Category::Client, "protocol_mismatch", Confidence::High)
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

/// The first alert in clear that ends a handshake. An alert sent after the peer had closed
/// answers the close (OpenSSL sends decode_error on an early EOF), it does not end anything.
fn decisive_alert(conn: &ConnectionSummary, tls: &TlsFacts) -> Option<Alert> {
    let client_close = close_of(&conn.facts.client);
    let server_close = close_of(&conn.facts.server);
    let mut alerts: Vec<Alert> = tls
        .client
        .alerts
        .iter()
        .chain(&tls.server.alerts)
        .filter(|a| {
            let peer_close = if a.from_client {
                server_close
            } else {
                client_close
            };
            peer_close.is_none_or(|c| c.frame >= a.frame)
        })
        .copied()
        .collect();
    alerts.sort_by_key(|a| a.frame);
    alerts
        .iter()
        .find(|a| a.level == 2 && a.description != 0)
        .or_else(|| alerts.iter().find(|a| !BENIGN.contains(&a.description)))
        .copied()
}

fn alert_text(alert: Alert) -> String {
    let name = alert_name(alert.description).map_or(
        format!("unassigned ({})", alert.description),
        str::to_string,
    );
    let level = if alert.level == 2 { "fatal" } else { "warning" };
    format!(
        "{level} alert {name} from the {}",
        side_name(alert.from_client)
    )
}

/// A finding for an alert in clear, named after what it means where it is clear.
fn alert_finding(
    conn: &ConnectionSummary,
    tls: &TlsFacts,
    alert: Alert,
    hello: Mark,
    trust: Option<&TrustStore>,
) -> Draft {
    let sender = side_name(alert.from_client);
    let peer = side_name(!alert.from_client);
    let alert_mark = at(alert.frame, alert.ts_ns);
    let empty_client_cert =
        tls.certificate_request.is_some() && tls.client_certificate.is_some_and(|(_, n)| n == 0);
    let generic_refusal = alert.from_client && GENERIC_CERT_ALERTS.contains(&alert.description);
    let (name, confidence, meaning): (&'static str, Confidence, String) =
        match (alert.description, alert.from_client) {
            _ if generic_refusal && certificate_problem(tls, alert.ts_ns, trust).is_some() => {
                let (name, why) = certificate_problem(tls, alert.ts_ns, trust).unwrap_or_default();
                (
                    name,
                    Confidence::High,
                    format!(
                        "The client refused the server's certificate with the generic alert {}; the certificate itself shows why: {why}.",
                        alert_name(alert.description).unwrap_or("?")
                    ),
                )
            }
            (PROTOCOL_VERSION, _) => (
                "version_mismatch",
                Confidence::High,
                format!(
                    "The {sender} refuses the protocol version {}: the two sides have no TLS version in common (one allows only newer or only older versions than the other).",
                    match (&tls.server_hello, alert.from_client) {
                        (Some(s), true) => format!("the server chose ({})", version_name(s.version)),
                        _ => format!("the client offered ({})", offer_text(tls)),
                    }
                ),
            ),
            (HANDSHAKE_FAILURE, false) if empty_client_cert => (
                "client_certificate_required",
                Confidence::High,
                "The server asked for a client certificate (CertificateRequest), the client sent an empty Certificate message, and the server ended the handshake: it requires one.".into(),
            ),
            (HANDSHAKE_FAILURE, false) if tls.server_hello.is_none() => (
                "no_shared_cipher",
                Confidence::Medium,
                "The server refused the ClientHello itself with handshake_failure: it found nothing acceptable among the client's offers, most often no cipher suite in common.".into(),
            ),
            (UNRECOGNIZED_NAME, false) => (
                "sni_rejected",
                Confidence::High,
                "The server does not serve the name the client asked for in SNI and refused the handshake.".into(),
            ),
            (d, _) => (
                alert_code(d),
                Confidence::High,
                format!(
                    "The {sender} ended the handshake with {}: {}",
                    alert_name(d).unwrap_or("an unassigned alert"),
                    alert_meaning(d, alert.from_client)
                ),
            ),
        };
    let mut draft = Draft::new(Category::Tls, name, confidence)
        .summary(format!(
            "{}: TLS handshake refused by the {sender}: {} {} after the ClientHello ({})",
            call(conn),
            alert_text(alert),
            after(hello, alert_mark),
            offer_text(tls)
        ))
        .explanation(meaning)
        .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
        .evidence(alert_mark, alert_text(alert));
    if let Some(s) = &tls.server_hello {
        draft = draft.evidence(
            at(s.frame, s.ts_ns),
            format!(
                "ServerHello: {}, {}",
                version_name(s.version),
                cipher_name(s.cipher_suite)
            ),
        );
    }
    if let Some(chain) = &tls.server_certificates {
        draft = draft.evidence(
            at(chain.frame, chain.ts_ns),
            match tls.leaf_certificate() {
                Some(cert) => format!(
                    "server's Certificate ({} in the chain): {}",
                    chain.count,
                    cert_text(&cert)
                ),
                None => format!("server's Certificate ({} in the chain)", chain.count),
            },
        );
    }
    if name == "client_certificate_required" {
        if let Some(cr) = tls.certificate_request {
            draft = draft.evidence(mark(cr), "server's CertificateRequest");
        }
        if let Some((c, _)) = tls.client_certificate {
            draft = draft.evidence(mark(c), "client's Certificate: empty");
        }
    }
    if name == "no_shared_cipher" {
        draft = draft
            .alternative("tls.version_mismatch: no TLS version in common (some servers answer that with handshake_failure)")
            .alternative("tls.alert_handshake_failure: no common key-exchange group or signature algorithm, or a server policy on the SNI");
    }
    draft
        .remediation(&remedies(name, alert.from_client))
        .remedy(format!(
            "The {sender}'s logs name the reason; the {peer} only sees the alert."
        ))
}

/// What an alert says, for the explanation.
fn alert_meaning(description: u8, from_client: bool) -> &'static str {
    match (description, from_client) {
        (45, true) => {
            "the server's certificate has expired (or is not yet valid) by the client's clock."
        }
        (48, true) => {
            "the server's certificate chain does not lead to a CA the client trusts (self-signed, a private CA, or a missing intermediate)."
        }
        (42, true) => "the client found the server's certificate bad (signature, name or format).",
        (46, true) => {
            "the client could not accept the server's certificate (often a name mismatch or an untrusted chain)."
        }
        (45, false) | (48, false) | (42, false) | (46, false) => {
            "the server rejected the client's certificate."
        }
        (116, false) => "the server requires a client certificate and none was sent.",
        (40, _) => "no acceptable set of security parameters (cipher, group, signature algorithm).",
        (47, _) => "a field in the handshake had a value the peer refuses.",
        (50, _) => {
            "the peer could not decode a handshake message (a middlebox mangling it, or a broken stack)."
        }
        (120, _) => {
            "the server supports none of the application protocols (ALPN) the client offered."
        }
        (71, _) => "the peer requires stronger parameters than offered.",
        (86, _) => "a fallback to a lower version was detected and refused.",
        _ => "the peer's logs name the reason.",
    }
}

fn remedies(name: &str, from_client: bool) -> Vec<&'static str> {
    match (name, from_client) {
        ("version_mismatch", _) => vec![
            "Compare the TLS versions each side allows (e.g. nginx ssl_protocols, OpenSSL MinProtocol/MaxProtocol, the client's --tlsv1.x / --tls-max) and enable one in common (TLS 1.2 and 1.3).",
        ],
        ("client_certificate_required", _) => vec![
            "Configure the client with its certificate and key (curl --cert/--key, requests cert=...), or relax the server's client-certificate requirement for this client.",
        ],
        ("no_shared_cipher", _) => vec![
            "Compare the server's cipher list (nginx ssl_ciphers, openssl -cipher/-ciphersuites) with the ClientHello's cipher suites and enable one in common.",
        ],
        ("sni_rejected", _) => vec![
            "Check that the server has a certificate / virtual host for the SNI name the client sent, and that the client uses the right host name.",
        ],
        (_, true) => vec![
            "Check the server's certificate for this name (openssl s_client -connect HOST:PORT -servername NAME -showcerts): dates, names (SANs), and the chain up to a CA the client trusts; add the private CA to the client's trust store if it is one.",
        ],
        (_, false) => vec![
            "Check what the server requires of this client (client certificate, versions, ciphers) in its TLS configuration.",
        ],
    }
}

/// No decisive alert in clear: who closed after which flight.
fn aborted(
    conn: &ConnectionSummary,
    tls: &TlsFacts,
    hello: Mark,
    trust: Option<&TrustStore>,
) -> Option<Draft> {
    let client_close = close_of(&conn.facts.client).filter(|c| c.frame > hello.frame);
    let server_close = close_of(&conn.facts.server).filter(|c| c.frame > hello.frame);
    let server_answered = tls.server.first_record.is_some();
    let first_close = earliest(client_close, server_close)?;
    let server_first = server_close.is_some_and(|s| s.frame == first_close.frame);
    if !server_answered {
        if !server_first {
            return None; // the client gave up waiting: the transport rules name the silence
        }
        let word = close_word(&conn.facts.server, first_close);
        return Some(
            Draft::new(Category::Tls, "handshake_aborted_by_server", Confidence::Medium)
                .summary(format!(
                    "{}: the server closed the connection ({word}) {} after the ClientHello without answering it ({})",
                    call(conn),
                    after(hello, first_close),
                    offer_text(tls)
                ))
                .explanation(
                    "The server (or a device that speaks for it) read the ClientHello and closed \
                     without a ServerHello or an alert: it refused something in the offer \
                     (version, cipher suites, SNI) without saying so, or the port is not a TLS \
                     service.",
                )
                .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
                .evidence(first_close, format!("server closes ({word}) without a ServerHello"))
                .alternative("tls.version_mismatch: servers that refuse a version silently close like this")
                .alternative("firewall.sni_filter: a middlebox that filters on the SNI closes in the server's name")
                .remedy("Check the server's TLS error log at this time, and try the handshake with openssl s_client -connect HOST:PORT -servername NAME (-tls1_2 / -tls1_3) to see which offer it accepts."),
        );
    }
    if tls.is_tls13() {
        return tls13_client_refused(conn, tls, hello, client_close?);
    }
    // TLS <= 1.2, the server's flight in clear: the side that stopped answering refused.
    let client_encrypted = tls.client.encrypted_from;
    if !server_first && client_encrypted.is_none() {
        let close = client_close?;
        let flight = tls
            .server_hello_done
            .or(tls.server.last_handshake.map(|(_, o)| o))
            .map(mark)?;
        let word = close_word(&conn.facts.client, close);
        if let Some((name, why)) = certificate_problem(tls, close.ts_ns, trust) {
            return Some(
                Draft::new(Category::Tls, name, Confidence::Medium)
                    .summary(format!(
                        "{}: the client left the handshake right after the server's certificate ({word}, no alert): {why}",
                        call(conn)
                    ))
                    .explanation("The client read the server's flight and closed without going on and without an alert; the certificate it was shown explains it.")
                    .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
                    .evidence(flight, "the server's handshake flight ends")
                    .evidence(close, format!("client closes ({word})"))
                    .alternative("tls.handshake_aborted_by_client: the client refused something else in the server's flight")
                    .remedy("Renew or replace the server's certificate so that it is valid now, for the name the clients use, from a CA they trust."),
            );
        }
        return Some(
            Draft::new(Category::Tls, "handshake_aborted_by_client", Confidence::Medium)
                .summary(format!(
                    "{}: the client closed ({word}) {} after the server's handshake flight without an alert or key exchange ({})",
                    call(conn),
                    after(flight, close),
                    offer_text(tls)
                ))
                .explanation(
                    "The client read the server's ServerHello and Certificate and left without \
                     going on: it rejected something in them, most often the certificate \
                     (untrusted, expired, another name), and closed without saying why.",
                )
                .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
                .evidence(flight, "the server's handshake flight ends")
                .evidence(close, format!("client closes ({word})"))
                .alternative("tls.certificate_untrusted: the most common reason a client walks away here")
                .remedy("Look at the client's error message and check the server's certificate (openssl s_client -connect HOST:PORT -servername NAME -showcerts)."),
        );
    }
    if server_first && client_encrypted.is_some() && tls.server.encrypted_from.is_none() {
        let close = server_close?;
        let word = close_word(&conn.facts.server, close);
        let cert_missing =
            tls.certificate_request.is_some() && tls.client_certificate.is_none_or(|(_, n)| n == 0);
        let (name, why) = if cert_missing {
            (
                "client_certificate_required",
                "it asked for a client certificate and got none",
            )
        } else {
            (
                "handshake_aborted_by_server",
                "it rejected the client's second flight",
            )
        };
        return Some(
            Draft::new(Category::Tls, name, Confidence::Medium)
                .summary(format!(
                    "{}: the server closed ({word}) after the client's Finished instead of sending its own: {why}",
                    call(conn)
                ))
                .explanation("The client finished its side of the handshake; the server closed without its ChangeCipherSpec and Finished, and without an alert in clear.")
                .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
                .evidence(close, format!("server closes ({word})"))
                .remedy("Check the server's TLS error log, and whether it requires a client certificate (and which CAs it accepts)."),
        );
    }
    None
}

/// TLS 1.3: the client answered the server's encrypted flight with only an alert-sized record,
/// then closed, with no Finished: it refused the server, most often its certificate.
fn tls13_client_refused(
    conn: &ConnectionSummary,
    tls: &TlsFacts,
    hello: Mark,
    close: Mark,
) -> Option<Draft> {
    let server_flight = tls.server.encrypted_records.last()?;
    let record = tls
        .client
        .encrypted_records
        .first()
        .filter(|r| r.length <= MAX_ENCRYPTED_ALERT && r.frame <= close.frame)?;
    let word = close_word(&conn.facts.client, close);
    let record_mark = at(record.frame, record.ts_ns);
    Some(
        Draft::new(Category::Tls, "handshake_aborted_by_client", Confidence::Medium)
            .summary(format!(
                "{}: the client refused the server's TLS 1.3 handshake: it answered the server's flight with one encrypted {}-byte record (an alert's size) and closed ({word}) ({})",
                call(conn),
                record.length,
                offer_text(tls)
            ))
            .explanation(
                "In TLS 1.3 the server's certificate and the client's alert are encrypted. The \
                 client sent no Finished: its only encrypted record has the size of an alert \
                 (2 bytes, the inner content type and a 16-byte tag), and it closed right after. \
                 A client that refuses the server's certificate (untrusted CA, expired, another \
                 name) does exactly this.",
            )
            .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
            .evidence(
                at(server_flight.frame, server_flight.ts_ns),
                "the server's encrypted flight (EncryptedExtensions, Certificate, Finished)",
            )
            .evidence(record_mark, format!("client's encrypted {}-byte record: an alert", record.length))
            .evidence(close, format!("client closes ({word})"))
            .alternative("tls.certificate_untrusted: the server's chain does not lead to a CA the client trusts (the most common case)")
            .alternative("tls.certificate_name_mismatch: the certificate is for another name")
            .alternative("tls.certificate_expired: the certificate is outside its validity period")
            .remedy("Check the server's certificate as the client sees it (openssl s_client -connect HOST:PORT -servername NAME -showcerts): chain, dates and names; the client's error message names the reason."),
    )
}

/// TLS 1.3: the server answered the client's Finished with only an alert-sized record and
/// closed, sending no application data (no session ticket): it refused the client, most often
/// because it requires a client certificate.
fn tls13_server_refused_client(conn: &ConnectionSummary, tls: &TlsFacts) -> Option<Draft> {
    if !tls.is_tls13() {
        return None;
    }
    let finished = tls
        .client
        .encrypted_records
        .iter()
        .find(|r| r.length > MAX_ENCRYPTED_ALERT)?;
    let mut after_finished = tls
        .server
        .encrypted_records
        .iter()
        .filter(|r| r.frame > finished.frame);
    let record = after_finished.next()?;
    if record.length > MAX_ENCRYPTED_ALERT || after_finished.next().is_some() {
        return None;
    }
    // An answer to the client's own close_notify is not a refusal.
    let client_alert_first = tls.client.encrypted_records.iter().any(|r| {
        r.frame > finished.frame && r.frame <= record.frame && r.length <= MAX_ENCRYPTED_ALERT
    });
    let client_closed_first = close_of(&conn.facts.client).is_some_and(|c| c.frame < record.frame);
    if client_alert_first || client_closed_first {
        return None;
    }
    // The server's record list is capped: it must not have sent more than we kept.
    if tls.server.records > tls.server.encrypted_records.len() as u64 + 2 {
        return None;
    }
    let close = close_of(&conn.facts.server).filter(|c| c.frame >= record.frame)?;
    let word = close_word(&conn.facts.server, close);
    let finished_mark = at(finished.frame, finished.ts_ns);
    let record_mark = at(record.frame, record.ts_ns);
    // An empty Certificate message (8 bytes) encrypted: the client's answer to a
    // CertificateRequest when it has no certificate.
    let empty_certificate = tls
        .client
        .encrypted_records
        .iter()
        .find(|r| r.frame <= finished.frame && r.length == EMPTY_CERTIFICATE_RECORD);
    let confidence = if empty_certificate.is_some() {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    let mut draft = Draft::new(Category::Tls, "client_certificate_required", confidence)
            .summary(format!(
                "{}: the server refused the client after its TLS 1.3 Finished: one encrypted {}-byte record (an alert's size) and a close ({word}), no response ({})",
                call(conn),
                record.length,
                offer_text(tls)
            ))
            .explanation(
                "In TLS 1.3 the server's CertificateRequest and its alert are encrypted. The \
                 server answered the client's Finished with a single alert-sized record and \
                 closed, where a server that accepts the client goes on (session tickets, the \
                 response). A server that requires a client certificate the client did not send \
                 (or did not accept the one sent) does exactly this.",
            )
            .evidence(finished_mark, "client's encrypted Finished flight")
            .evidence(record_mark, format!("server's encrypted {}-byte record: an alert", record.length))
            .evidence(close, format!("server closes ({word})"))
            .alternative("tls.alert_bad_certificate: the client sent a certificate the server rejected (unknown CA, expired)")
            .alternative("tls.handshake_aborted_by_server: another server policy refused the client")
            .remedy("Check whether the server requires client certificates (nginx ssl_verify_client, openssl s_server -Verify) and give the client its certificate and key (curl --cert/--key).");
    if let Some(r) = empty_certificate {
        draft = draft.evidence(
            at(r.frame, r.ts_ns),
            "client's encrypted 25-byte handshake record before its Finished: the size of an empty Certificate (it was asked for one and had none)",
        );
    }
    Some(draft)
}

/// True when the client sent application data after its handshake (its request).
fn client_sent_request(tls: &TlsFacts) -> bool {
    if tls.is_tls13() {
        let records = &tls.client.encrypted_records;
        records.len() >= 8
            || records
                .iter()
                .filter(|r| r.length > MAX_ENCRYPTED_ALERT)
                .count()
                >= 2
    } else {
        tls.client.application_data_records > 0
    }
}

/// `CN=api.example.com` for `api.example.com, ...; valid until 2020-01-01`.
fn cert_text(cert: &CertInfo) -> String {
    format!(
        "certificate for {} issued by {}, valid {} .. {}",
        cert.names_text(),
        cert.issuer,
        crate::timefmt::rfc3339(cert.not_before.saturating_mul(1_000_000_000)),
        crate::timefmt::rfc3339(cert.not_after.saturating_mul(1_000_000_000))
    )
}

/// The handshake completed, then the client closed without a request: it rejected something it
/// checks after the handshake. curl (OpenSSL) checks the certificate's name there, and closes
/// with close_notify.
fn closed_after_handshake(conn: &ConnectionSummary, tls: &TlsFacts, hello: Mark) -> Option<Draft> {
    if client_sent_request(tls) {
        return None;
    }
    let close = close_of(&conn.facts.client)?;
    if close_of(&conn.facts.server).is_some_and(|s| s.frame < close.frame) {
        return None;
    }
    // A server that sent an alert first (an encrypted one is still visible as an alert record
    // in TLS 1.2, or is alert-sized) ended the call itself.
    let server_alerted_first = tls.server.encrypted_records.iter().any(|r| {
        r.frame < close.frame
            && (r.content_type == ALERT_RECORD
                || (tls.is_tls13() && r.length <= MAX_ENCRYPTED_ALERT))
    });
    if server_alerted_first {
        return None;
    }
    let word = close_word(&conn.facts.client, close);
    // Without SNI the packets do not say which name the client expected, and clients that
    // send none (scanners, probes by address) often connect only to look.
    let asked = tls.client_hello.as_ref().and_then(|h| h.sni.clone());
    asked.as_ref()?;
    let leaf = tls.leaf_certificate();
    let mismatch = leaf
        .as_ref()
        .zip(asked.as_deref())
        .filter(|(cert, name)| !cert.covers_name(name));
    if let (Some((cert, asked)), Some(chain)) = (mismatch, &tls.server_certificates) {
        return Some(
            Draft::new(Category::Tls, "certificate_name_mismatch", Confidence::High)
                .summary(format!(
                    "{}: the server's certificate is for {}, not {asked}: the client completed the handshake and closed ({word}) without a request",
                    call(conn),
                    cert.names_text()
                ))
                .explanation(
                    "The client asked for one name and the server's certificate covers others \
                     (subjectAltName). Clients that check the name after the handshake (curl \
                     with OpenSSL) finish it, then close with close_notify without sending \
                     their request; the user sees 'no alternative certificate subject name \
                     matches target host name'.",
                )
                .evidence(hello, format!("ClientHello for {asked}"))
                .evidence(at(chain.frame, chain.ts_ns), cert_text(cert))
                .evidence(close, format!("client closes ({word}) without a request"))
                .remedy(format!(
                    "Install a certificate that covers {asked} on {} (or add it to the certificate's subjectAltName), or call the server by a name the certificate covers.",
                    conn.server
                )),
        );
    }
    let last = tls
        .client
        .encrypted_records
        .last()
        .map_or(close, |r| at(r.frame, r.ts_ns));
    let mut draft = Draft::new(Category::Tls, "handshake_aborted_by_client", Confidence::Low)
        .summary(format!(
            "{}: the client completed the TLS handshake, then closed ({word}) without sending a request ({})",
            call(conn),
            offer_text(tls)
        ))
        .explanation(
            "The handshake finished but the client sent no application data: it rejected \
             something it checks after the handshake. curl (OpenSSL) checks the certificate's \
             name there and closes with close_notify; in TLS 1.3 the certificate is encrypted, \
             so the packets cannot show which check failed.",
        )
        .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
        .evidence(last, "client's last encrypted record (its Finished, or a close_notify)")
        .evidence(close, format!("client closes ({word}) without a request"))
        .alternative("tls.certificate_name_mismatch: the server's certificate is for another name (curl's check after the handshake)")
        .alternative("client.aborted: the client program chose to close (a probe, a health check, a cancelled call)")
        .remedy("Look at the client's error message; check the server's certificate names (openssl s_client -connect HOST:PORT -servername NAME) against the name the client uses.");
    if let (Some(cert), Some(chain)) = (&leaf, &tls.server_certificates) {
        draft = draft.evidence(at(chain.frame, chain.ts_ns), cert_text(cert));
    }
    Some(draft)
}

/// What is wrong with the server's certificate (TLS <= 1.2, where it is visible) at capture
/// time `at_ns`, as a finding name and the reason: expired, not yet valid, another name than
/// the SNI, self-signed.
fn certificate_problem(
    tls: &TlsFacts,
    at_ns: i64,
    trust: Option<&TrustStore>,
) -> Option<(&'static str, String)> {
    let cert = tls.leaf_certificate()?;
    let now = at_ns.div_euclid(1_000_000_000);
    let when = |secs: i64| crate::timefmt::rfc3339(secs.saturating_mul(1_000_000_000));
    if now > cert.not_after {
        return Some((
            "certificate_expired",
            format!(
                "it expired at {}, before the capture's {}",
                when(cert.not_after),
                when(now)
            ),
        ));
    }
    if now < cert.not_before {
        return Some((
            "certificate_not_yet_valid",
            format!(
                "it is valid only from {} (capture time {})",
                when(cert.not_before),
                when(now)
            ),
        ));
    }
    let sni = tls.client_hello.as_ref().and_then(|h| h.sni.as_deref());
    if let Some(name) = sni.filter(|n| !cert.covers_name(n)) {
        return Some((
            "certificate_name_mismatch",
            format!("it is for {}, not {name}", cert.names_text()),
        ));
    }
    if cert.self_issued
        && tls
            .server_certificates
            .as_ref()
            .is_some_and(|c| c.count == 1)
    {
        return Some((
            "certificate_untrusted",
            format!("it is self-signed by {}", cert.issuer),
        ));
    }
    let chain = tls.server_certificates.as_ref()?;
    let store = trust.unwrap_or(TrustStore::mozilla_only());
    match store.validate(chain, now)? {
        Validation::UnknownIssuer => Some((
            "certificate_untrusted",
            format!(
                "its chain (issuer {}) leads to no CA in the Mozilla roots{}: a private CA, or a missing intermediate",
                cert.issuer,
                if trust.is_some() { " or --ca-file" } else { "" }
            ),
        )),
        _ => None,
    }
}
