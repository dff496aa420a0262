//! The server's certificate at the capture's time: dates, names, chain.

use super::*;

/// `CN=api.example.com` for `api.example.com, ...; valid until 2020-01-01`.
pub(super) fn cert_text(cert: &CertInfo) -> String {
    format!(
        "certificate for {} issued by {}, valid {} .. {}",
        cert.names_text(),
        cert.issuer,
        crate::timefmt::rfc3339(cert.not_before.saturating_mul(1_000_000_000)),
        crate::timefmt::rfc3339(cert.not_after.saturating_mul(1_000_000_000))
    )
}

/// What is wrong with the server's certificate (TLS <= 1.2, where it is visible) at capture
/// time `at_ns`, as a finding name and the reason: expired, not yet valid, another name than
/// the SNI, self-signed.
pub(super) fn certificate_problem(
    tls: &TlsFacts,
    at_ns: i64,
    trust: Option<&TrustStore>,
) -> Option<(Cause, String)> {
    let cert = tls.leaf_certificate()?;
    let now = at_ns.div_euclid(1_000_000_000);
    let when = |secs: i64| crate::timefmt::rfc3339(secs.saturating_mul(1_000_000_000));
    if now > cert.not_after {
        return Some((
            Cause::CertificateExpired,
            format!(
                "it expired at {}, before the capture's {}",
                when(cert.not_after),
                when(now)
            ),
        ));
    }
    if now < cert.not_before {
        return Some((
            Cause::CertificateNotYetValid,
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
            Cause::CertificateNameMismatch,
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
            Cause::CertificateUntrusted,
            format!("it is self-signed by {}", cert.issuer),
        ));
    }
    let chain = tls.server_certificates.as_ref()?;
    let store = trust.unwrap_or(TrustStore::mozilla_only());
    match store.validate(chain, now)? {
        Validation::UnknownIssuer => Some((
            Cause::CertificateUntrusted,
            format!(
                "its chain (issuer {}) leads to no CA in {}: a private CA, or a missing intermediate",
                cert.issuer,
                store.describe()
            ),
        )),
        _ => None,
    }
}
