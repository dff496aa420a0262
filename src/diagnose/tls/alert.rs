//! Alerts in clear: the one that ended the handshake, and what it means.

use super::certificate::{cert_text, certificate_problem};
use super::*;

/// The first alert in clear that ends a handshake. An alert sent after the peer had closed
/// answers the close (OpenSSL sends decode_error on an early EOF), it does not end anything.
pub(super) fn decisive_alert(conn: &ConnectionSummary, tls: &TlsFacts) -> Option<Alert> {
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

/// A decrypted alert that ended the call where the packets in clear show only a record: one
/// that refused the handshake, or a server's refusal of the client right after its Finished
/// (TLS 1.3 certificate_required), before the server sent any application data.
pub(super) fn decrypted_refusal(conn: &ConnectionSummary, tls: &TlsFacts) -> Option<Alert> {
    let alert = decisive_alert(conn, tls).filter(|a| a.decrypted)?;
    let refused_handshake = !tls.handshake_completed();
    let before_any_answer = tls.decryption.application_bytes == [0, 0];
    (refused_handshake || before_any_answer).then_some(alert)
}

fn alert_text(alert: Alert) -> String {
    let name = alert_name(alert.description).map_or(
        format!("unassigned ({})", alert.description),
        str::to_string,
    );
    let level = if alert.level == 2 { "fatal" } else { "warning" };
    let how = if alert.decrypted { " (decrypted)" } else { "" };
    format!(
        "{level} alert {name} from the {}{how}",
        side_name(alert.from_client)
    )
}

/// A finding for an alert in clear, named after what it means where it is clear.
pub(super) fn alert_finding(
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
    // A generic refusal named by what the certificate itself shows (its chain checked once).
    let certificate = (alert.from_client && GENERIC_CERT_ALERTS.contains(&alert.description))
        .then(|| certificate_problem(tls, alert.ts_ns, trust))
        .flatten();
    let (cause, confidence, meaning): (Cause, Confidence, String) =
        match (alert.description, alert.from_client) {
            _ if let Some((cause, why)) = certificate.clone() => {
                (
                    cause,
                    Confidence::High,
                    format!(
                        "The client refused the server's certificate with the generic alert {}; the certificate itself shows why: {why}.",
                        alert_name(alert.description).unwrap_or("?")
                    ),
                )
            }
            (PROTOCOL_VERSION, _) => (
                Cause::VersionMismatch,
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
                Cause::ClientCertificateRequired,
                Confidence::High,
                "The server asked for a client certificate (CertificateRequest), the client sent an empty Certificate message, and the server ended the handshake: it requires one.".into(),
            ),
            (HANDSHAKE_FAILURE, false) if tls.server_hello.is_none() && sni_missing_only(tls) => (
                Cause::SniRequired,
                Confidence::Medium,
                "The server refused with handshake_failure a ClientHello that carried no server name (SNI) while it offered suites every current server accepts (ECDHE with AES-GCM or ChaCha20-Poly1305, or the TLS 1.3 suites): what was missing is the name. Servers and CDNs that host many names choose the certificate by SNI and refuse a handshake without one.".into(),
            ),
            (HANDSHAKE_FAILURE, false) if tls.server_hello.is_none() => (
                Cause::NoSharedCipher,
                Confidence::Medium,
                "The server refused the ClientHello itself with handshake_failure: it found nothing acceptable among the client's offers, most often no cipher suite in common.".into(),
            ),
            (UNRECOGNIZED_NAME, false) => (
                Cause::SniRejected,
                Confidence::High,
                "The server does not serve the name the client asked for in SNI and refused the handshake.".into(),
            ),
            (d, _) => (
                Cause::TlsAlert(d),
                Confidence::High,
                format!(
                    "The {sender} ended the handshake with {}: {}",
                    alert_name(d).unwrap_or("an unassigned alert"),
                    alert_meaning(d, alert.from_client)
                ),
            ),
        };
    let mut draft = Draft::new(cause, confidence)
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
    if cause == Cause::ClientCertificateRequired {
        if let Some(cr) = tls.certificate_request {
            draft = draft.evidence(mark(cr), "server's CertificateRequest");
        }
        if let Some((c, _)) = tls.client_certificate {
            draft = draft.evidence(mark(c), "client's Certificate: empty");
        }
    }
    if cause == Cause::SniRequired {
        draft = draft
            .alternative("tls.no_shared_cipher: a server with an unusually narrow suite or group list refuses the same way")
            .alternative("tls.version_mismatch: no TLS version in common (some servers answer that with handshake_failure)");
    }
    if cause == Cause::NoSharedCipher {
        draft = draft
            .alternative("tls.version_mismatch: no TLS version in common (some servers answer that with handshake_failure)")
            .alternative("tls.alert_handshake_failure: no common key-exchange group or signature algorithm, or a server policy on the SNI");
    }
    draft
        .remediation(&remedies(cause, alert.from_client))
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

fn remedies(cause: Cause, from_client: bool) -> Vec<&'static str> {
    match (cause, from_client) {
        (Cause::VersionMismatch, _) => vec![
            "Compare the TLS versions each side allows (e.g. nginx ssl_protocols, OpenSSL MinProtocol/MaxProtocol, the client's --tlsv1.x / --tls-max) and enable one in common (TLS 1.2 and 1.3).",
        ],
        (Cause::ClientCertificateRequired, _) => vec![
            "Configure the client with its certificate and key (curl --cert/--key, requests cert=...), or relax the server's client-certificate requirement for this client.",
        ],
        (Cause::NoSharedCipher, _) => vec![
            "Compare the server's cipher list (nginx ssl_ciphers, openssl -cipher/-ciphersuites) with the ClientHello's cipher suites and enable one in common.",
        ],
        (Cause::SniRequired, _) => vec![
            "Connect by host name so the client sends SNI (curl --resolve / --connect-to instead of an IP address in the URL, openssl s_client -servername NAME, the library's server_hostname).",
        ],
        (Cause::SniRejected, _) => vec![
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

/// Suites every current TLS server accepts: the TLS 1.3 suites and TLS 1.2 ECDHE with AES-GCM
/// or ChaCha20-Poly1305 (RFC 8446 9.1, Mozilla's "intermediate" configuration).
const MAINSTREAM_SUITES: [u16; 9] = [
    0x1301, 0x1302, 0x1303, 0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca8, 0xcca9,
];

/// The ClientHello carried no server name although it offered mainstream suites: the name is
/// what a server that refuses it lacks.
fn sni_missing_only(tls: &TlsFacts) -> bool {
    tls.client_hello.as_ref().is_some_and(|h| {
        h.sni.is_none()
            && h.cipher_suites
                .iter()
                .any(|s| MAINSTREAM_SUITES.contains(s))
    })
}
