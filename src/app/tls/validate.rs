//! Certificate chains checked with `rustls-webpki` at the capture's own time, against the
//! Mozilla roots (`webpki-roots`) plus any private CAs the user names.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
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
#[derive(Debug)]
pub struct TrustStore {
    /// The Mozilla roots first, then the extra anchors.
    anchors: Vec<TrustAnchor<'static>>,
    /// Where the extra anchors came from (`--ca-file`, the host's CA bundle), for messages.
    extra_sources: Vec<&'static str>,
    /// Chains already checked (see [`TrustStore::validate`]).
    checked: Mutex<HashMap<[u8; 32], Checked>>,
}

impl Clone for TrustStore {
    fn clone(&self) -> Self {
        TrustStore {
            anchors: self.anchors.clone(),
            extra_sources: self.extra_sources.clone(),
            checked: Mutex::default(),
        }
    }
}

/// A chain's check, and the span of time every certificate of the chain is valid in: at any
/// time inside it no date can change the answer, so the check stands for the whole span.
#[derive(Debug, Clone)]
struct Checked {
    valid_from: i64,
    valid_until: i64,
    validation: Validation,
}

/// At most this many chains' checks are remembered (a busy capture has a few servers; a
/// capture of many distinct chains starts over rather than grow).
const MAX_CHECKED: usize = 4096;

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
            checked: Mutex::default(),
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

    /// Checks `chain` (leaf first) for server authentication at `unix_secs`. The same chain
    /// checked again at a time every one of its certificates is valid in gets the answer it
    /// got then (signatures are verified once per chain, not once per connection).
    pub fn validate(&self, chain: &CertificateChain, unix_secs: i64) -> Option<Validation> {
        let key = chain_digest(chain);
        let mut checked = self.checked.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = checked.get(&key)
            && (c.valid_from..=c.valid_until).contains(&unix_secs)
        {
            return Some(c.validation.clone());
        }
        let validation = self.verify(chain, unix_secs)?;
        let span = chain
            .der
            .iter()
            .try_fold((i64::MIN, i64::MAX), |(from, until), der| {
                let cert = super::CertInfo::parse(der)?;
                Some((from.max(cert.not_before), until.min(cert.not_after)))
            });
        if let Some((valid_from, valid_until)) = span
            && (valid_from..=valid_until).contains(&unix_secs)
        {
            if checked.len() >= MAX_CHECKED {
                checked.clear();
            }
            checked.insert(
                key,
                Checked {
                    valid_from,
                    valid_until,
                    validation: validation.clone(),
                },
            );
        }
        Some(validation)
    }

    fn verify(&self, chain: &CertificateChain, unix_secs: i64) -> Option<Validation> {
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

/// SHA-256 over the chain's certificates, each with its length.
fn chain_digest(chain: &CertificateChain) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for der in &chain.der {
        ctx.update(&(der.len() as u64).to_be_bytes());
        ctx.update(der);
    }
    let mut out = [0; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
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
