//! Certificate chains checked with `rustls-webpki` at the capture's own time, against the
//! Mozilla roots (`webpki-roots`) plus any private CAs the user names.

use std::time::Duration;

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

/// Trust anchors: the Mozilla roots and the user's own CAs.
#[derive(Debug, Default, Clone)]
pub struct TrustStore {
    private: Vec<TrustAnchor<'static>>,
}

/// The Mozilla roots alone.
static MOZILLA_ONLY: TrustStore = TrustStore {
    private: Vec::new(),
};

impl TrustStore {
    /// The Mozilla roots alone (no `--ca-file`).
    pub fn mozilla_only() -> &'static TrustStore {
        &MOZILLA_ONLY
    }

    /// The Mozilla roots plus the CA certificates in PEM text (`--ca-file`); returns how many
    /// were read, or an error naming the first that is not a CA certificate.
    pub fn with_pem(pem: &str) -> Result<TrustStore, String> {
        let mut private = Vec::new();
        for der in pem_certificates(pem) {
            let cert = CertificateDer::from(der);
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| format!("not a CA certificate: {e}"))?;
            private.push(anchor.to_owned());
        }
        if private.is_empty() {
            return Err("no PEM certificate found".into());
        }
        Ok(TrustStore { private })
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
        let mut anchors: Vec<TrustAnchor<'_>> = webpki_roots::TLS_SERVER_ROOTS.to_vec();
        anchors.extend(self.private.iter().cloned());
        let result = end_entity.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
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

/// The DER of each `-----BEGIN CERTIFICATE-----` block.
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b) = body.take()
                && let Some(der) = base64_decode(&b)
            {
                out.push(der);
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_pem_blocks_decode() {
        assert_eq!(base64_decode("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        let pem = "x\n-----BEGIN CERTIFICATE-----\naGVs\nbG8=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem), vec![b"hello".to_vec()]);
        assert!(TrustStore::with_pem(pem).is_err());
        assert!(TrustStore::with_pem("").is_err());
    }
}
