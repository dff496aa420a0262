//! A handshake that completed although the server's certificate fails validation: the client
//! did not verify it. A verifying TLS <= 1.2 client checks the chain and dates when the
//! Certificate message arrives and stops with an alert before its key exchange (RFC 5246
//! 7.4.2, 7.2.2), so a client that sent its Finished took the certificate. The name is the
//! exception: some clients (curl with OpenSSL, Java's HostnameVerifier) check it only after
//! the handshake and then close without a request; that case stays a rejection
//! (`silent::closed_after_handshake`).

use super::certificate::{cert_text, certificate_problem};
use super::*;

/// The chain as sent lacks the leaf's issuer: the leaf is not self-issued, no certificate
/// sent after it is its issuer, and the leaf names where its issuer's certificate can be
/// fetched (AIA caIssuers, what public CAs write): the server leaves out its intermediate.
/// Returns that URL.
pub(super) fn missing_intermediate(tls: &TlsFacts) -> Option<String> {
    let chain = tls.server_certificates.as_ref()?;
    let certs: Vec<CertInfo> = chain
        .der
        .iter()
        .filter_map(|d| CertInfo::parse(d))
        .collect();
    let leaf = certs.first()?;
    let issuer_sent = certs.iter().skip(1).any(|c| c.subject == leaf.issuer);
    if leaf.self_issued || issuer_sent || chain.count > chain.der.len() {
        return None;
    }
    leaf.ca_issuers_url.clone()
}

/// The finding for a completed TLS <= 1.2 handshake whose certificate fails validation.
pub(super) fn invalid_certificate_accepted(
    conn: &ConnectionSummary,
    tls: &TlsFacts,
    hello: Mark,
    trust: Option<&TrustStore>,
) -> Option<Draft> {
    let chain = tls.server_certificates.as_ref()?;
    // A client's alert in clear names a refusal: the alert rules judge it.
    if tls.client.alerts.iter().any(|a| a.description != 0) {
        return None;
    }
    let (problem, why) = certificate_problem(tls, chain.ts_ns, trust)?;
    let cert = tls.leaf_certificate()?;
    let request = tls.client_request();
    if problem == Cause::CertificateNameMismatch && request.is_none() {
        return None;
    }
    let answered = request.is_some_and(|r| {
        tls.server
            .last_payload
            .is_some_and(|answer| answer.frame > r.frame)
    });
    let server_finished = tls.server.encrypted_from.map(mark);
    let intermediate = (problem == Cause::CertificateUntrusted)
        .then(|| missing_intermediate(tls))
        .flatten();
    // A whole chain whose root the built-in store lacks may lead to a root that was trusted at
    // the capture's time (roots are removed over the years) or to a private CA the client
    // trusts, and a self-signed certificate may be pinned by its client (an appliance, a
    // private IRC server): only a chain missing its intermediate is wrong for every client.
    if problem == Cause::CertificateUntrusted && intermediate.is_none() {
        return None;
    }
    let went_on = if answered {
        "completed the handshake and exchanged application data"
    } else if request.is_some() {
        "completed the handshake and sent application data"
    } else {
        "completed the handshake (sent its key exchange and Finished)"
    };
    let mut draft = Draft::new(
        Cause::InvalidCertificateAccepted,
        if answered {
            Confidence::High
        } else {
            Confidence::Medium
        },
    )
    .summary(format!(
        "{}: the server's certificate fails validation ({why}) yet the client {went_on}: {} ({})",
        call(conn),
        if intermediate.is_some() {
            "it fetched the missing intermediate itself (AIA) or does not verify; clients that do neither fail on this server"
        } else {
            "it does not verify certificates"
        },
        offer_text(tls)
    ))
    .evidence(hello, format!("ClientHello ({})", offer_text(tls)))
    .evidence(at(chain.frame, chain.ts_ns), cert_text(&cert));
    if let Some(done) = tls.server_hello_done.filter(|d| d.frame != chain.frame) {
        draft = draft.evidence(mark(done), "the server's flight ends (ServerHelloDone)");
    }
    if let Some(finished) = server_finished {
        draft = draft.evidence(finished, "the server's Finished: the handshake completed");
    }
    if let Some(r) = request {
        draft = draft.evidence(
            at(r.frame, r.ts_ns),
            "client application data after the handshake",
        );
    }
    if let Some(answer) = tls.server.last_payload.filter(|_| answered) {
        draft = draft.evidence(
            at(answer.frame, answer.ts_ns),
            "server application data: the call went through",
        );
    }
    draft = match intermediate {
        Some(url) => draft
            .explanation(format!(
                "The server sends its certificate without the intermediate CA certificate that \
                 links it to a root (the certificate names its issuer at {url}). Clients that \
                 fetch missing intermediates (AIA: browsers) accept it; others (curl, Python, \
                 Go, Java) fail with 'unable to get local issuer certificate'. This client went \
                 on, so it either fetched the intermediate or does not verify: a server \
                 configuration problem either way."
            ))
            .remedy(format!(
                "Configure {} to send the full chain: the leaf followed by its intermediate(s) (nginx ssl_certificate with the fullchain file, Apache SSLCertificateChainFile).",
                conn.server
            ))
            .alternative("tls.certificate_untrusted: a client that does not fetch intermediates fails on this server"),
        None => draft
            .explanation(
                "A verifying TLS client checks the server's chain, dates and name and stops the \
                 handshake with an alert. This client went on with a certificate that fails \
                 those checks: it runs with verification turned off (curl -k, verify=False, \
                 InsecureSkipVerify) or trusts a CA the capture cannot know. The call went \
                 through, but a man in the middle would too.",
            )
            .remedy("Turn certificate verification on in the client (no curl -k, verify=True, InsecureSkipVerify=false).")
            .remedy(format!("Fix the certificate {} serves: {why}.", conn.server)),
    };
    Some(draft)
}
