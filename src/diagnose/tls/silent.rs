//! Handshakes that ended without an alert in clear: who closed after which flight, and in TLS
//! 1.3 what the sizes of the encrypted records say.

use super::certificate::{cert_text, certificate_problem};
use super::*;

/// No decisive alert in clear: who closed after which flight.
pub(super) fn aborted(
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
            Draft::new(Cause::HandshakeAbortedByServer, Confidence::Medium)
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
        // The client can only have read and refused the server's flight once it was whole:
        // ServerHelloDone ends it (RFC 5246 7.4.5). A client that closes after a lone (or
        // unreadable) ServerHello, or a flight cut short, left before there was anything to
        // refuse.
        let flight = tls.server_hello_done.map(mark)?;
        let word = close_word(&conn.facts.client, close);
        if let Some((cause, why)) = certificate_problem(tls, close.ts_ns, trust) {
            return Some(
                Draft::new(cause, Confidence::Medium)
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
            Draft::new(Cause::HandshakeAbortedByClient, Confidence::Medium)
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
        let (cause, why) = if cert_missing {
            (
                Cause::ClientCertificateRequired,
                "it asked for a client certificate and got none",
            )
        } else {
            (
                Cause::HandshakeAbortedByServer,
                "it rejected the client's second flight",
            )
        };
        return Some(
            Draft::new(cause, Confidence::Medium)
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
        Draft::new(Cause::HandshakeAbortedByClient, Confidence::Medium)
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
pub(super) fn tls13_server_refused_client(
    conn: &ConnectionSummary,
    tls: &TlsFacts,
) -> Option<Draft> {
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
    let mut draft = Draft::new(Cause::ClientCertificateRequired, confidence)
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
    if tls.decryption.records[0] > 0 {
        return tls.decryption.application_bytes[0] > 0;
    }
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

/// The handshake completed, then the client closed without a request: it rejected something it
/// checks after the handshake. curl (OpenSSL) checks the certificate's name there, and closes
/// with close_notify.
pub(super) fn closed_after_handshake(
    conn: &ConnectionSummary,
    tls: &TlsFacts,
    hello: Mark,
) -> Option<Draft> {
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
            Draft::new(Cause::CertificateNameMismatch, Confidence::High)
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
    let mut draft = Draft::new(Cause::HandshakeAbortedByClient, Confidence::Low)
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
