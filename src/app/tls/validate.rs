//! Certificate chains checked with `rustls-webpki` at the capture's own time, against the
//! Mozilla roots (`webpki-roots`) plus any private CAs the user names.

use std::sync::LazyLock;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, Error, KeyUsage};

use super::CertificateChain;

/// What a chain check found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Validation {
    /// The chain leads to a trusted root and every certificate is valid at that time.
    Ok,
    Expired,
    NotYetValid,
    /// No path to a trusted root (a private CA, a self-signed certificate, a missing
    /// intermediate).
    UnknownIssuer,
    /// Anything else webpki refused (bad signature, unsupported algorithm, wrong usage...).
    Invalid(String),
}

impl Validation {
    /// OpenSSL's wording, as Zeek's `validation_status` uses it.
    pub fn as_status(&self) -> String {
        match self {
            Validation::Ok => "ok".into(),
            Validation::Expired => "certificate has expired".into(),
            Validation::NotYetValid => "certificate is not yet valid".into(),
            Validation::UnknownIssuer => "unable to get local issuer certificate".into(),
            Validation::Invalid(why) => why.clone(),
        }
    }
}

/// Trust anchors: the Mozilla roots, plus the host's bundle and the user's own CAs, gathered
/// once so that checking a chain copies nothing.
#[derive(Debug, Clone)]
pub struct TrustStore {
    /// The Mozilla roots first, then the extra anchors.
    anchors: Vec<TrustAnchor<'static>>,
    /// Where the extra anchors came from (`--ca-file`, the host's CA bundle), for messages.
    extra_sources: Vec<&'static str>,
}

impl Default for TrustStore {
    /// The Mozilla roots alone.
    fn default() -> Self {
        Self::new()
    }
}

/// The Mozilla roots alone.
static MOZILLA_ONLY: LazyLock<TrustStore> = LazyLock::new(TrustStore::new);

impl TrustStore {
    /// The Mozilla roots alone.
    pub fn new() -> TrustStore {
        TrustStore {
            anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            extra_sources: Vec::new(),
        }
    }

    /// The Mozilla roots alone (no `--ca-file`), shared.
    pub fn mozilla_only() -> &'static TrustStore {
        &MOZILLA_ONLY
    }

    /// The Mozilla roots plus the CA certificates in PEM text (`--ca-file`), or an error naming
    /// the first that is not a CA certificate.
    pub fn with_pem(pem: &str) -> Result<TrustStore, String> {
        let mut store = TrustStore::new();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("unreadable PEM: {e}"))?;
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| format!("not a CA certificate: {e}"))?;
            store.anchors.push(anchor.to_owned());
        }
        if store.anchors.len() == webpki_roots::TLS_SERVER_ROOTS.len() {
            return Err("no PEM certificate found".into());
        }
        store.extra_sources.push("--ca-file");
        Ok(store)
    }

    /// What the anchors are, for a message: "the Mozilla roots", "the Mozilla roots or
    /// --ca-file", ...
    pub fn describe(&self) -> String {
        let mut text = String::from("the Mozilla roots");
        for source in &self.extra_sources {
            text.push_str(" or ");
            text.push_str(source);
        }
        text
    }

    /// Adds the CA certificates of a host's bundle (e.g. `/etc/ssl/certs/ca-certificates.crt`,
    /// where locally installed corporate CAs land); entries that are not usable anchors are
    /// skipped, as TLS clients skip them. Returns how many were added.
    pub fn add_bundle(&mut self, pem: &str) -> usize {
        let before = self.anchors.len();
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(&cert) {
                self.anchors.push(anchor.to_owned());
            }
        }
        let added = self.anchors.len() - before;
        if added > 0 {
            self.extra_sources.push("the host's CA bundle");
        }
        added
    }

    /// Checks `chain` (leaf first) for server authentication at `unix_secs`.
    pub fn validate(&self, chain: &CertificateChain, unix_secs: i64) -> Option<Validation> {
        let leaf = CertificateDer::from(chain.der.first()?.as_slice());
        let end_entity = EndEntityCert::try_from(&leaf).ok()?;
        let intermediates: Vec<CertificateDer<'_>> = chain
            .der
            .iter()
            .skip(1)
            .map(|d| CertificateDer::from(d.as_slice()))
            .collect();
        let time = UnixTime::since_unix_epoch(Duration::from_secs(unix_secs.max(0) as u64));
        let result = end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &intermediates,
            time,
            KeyUsage::server_auth(),
            None,
            None,
        );
        Some(match result {
            Ok(_) => Validation::Ok,
            Err(Error::CertExpired { .. }) => Validation::Expired,
            Err(Error::CertNotValidYet { .. }) => Validation::NotYetValid,
            Err(Error::UnknownIssuer) => Validation::UnknownIssuer,
            Err(other) => Validation::Invalid(format!("{other:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_that_holds_no_ca_certificate_is_refused() {
        let pem = "x\n-----BEGIN CERTIFICATE-----\naGVs\nbG8=\n-----END CERTIFICATE-----\n";
        assert!(TrustStore::with_pem(pem).is_err());
        assert!(TrustStore::with_pem("").is_err());
        assert!(TrustStore::with_pem("-----BEGIN CERTIFICATE-----\n!!\n").is_err());
        let mut store = TrustStore::new();
        assert_eq!(store.add_bundle(pem), 0);
        assert_eq!(store.describe(), "the Mozilla roots");
    }
}
