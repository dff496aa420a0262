//! The TLS facts of a connection as the listing shows them.

use serde::Serialize;

use crate::app::tls::{
    DecryptionState, TlsFacts, TrustStore, alert_name, cipher_name, version_name,
};
use crate::timefmt::rfc3339;

/// What a user needs to know of a connection's TLS.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TlsSummary {
    /// Negotiated version (`TLS 1.3`), when a ServerHello was seen.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub sni: Option<String>,
    /// The ALPN protocol the server chose, else what the client offered.
    pub alpn: Vec<String>,
    /// The server's leaf certificate (TLS <= 1.2).
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
    pub cert_not_after: Option<String>,
    /// The chain checked at the time of the certificate's frame against the Mozilla roots and
    /// `--ca-file` (OpenSSL's words: `ok`, `certificate has expired`, ...).
    pub validation: Option<String>,
    /// The last alert in clear (`unknown_ca`) and who sent it.
    pub alert: Option<String>,
    pub alert_sender: Option<&'static str>,
    /// A HelloRetryRequest was seen.
    pub hello_retry: bool,
    /// How far the encrypted records were read with the key log: `not_encrypted`, `no_keys`,
    /// `unsupported_cipher`, `decrypted`, `keys_did_not_decrypt` or `partial`.
    pub decryption: &'static str,
}

impl TlsSummary {
    /// The summary of a connection's TLS facts.
    pub fn of(tls: &TlsFacts, trust: Option<&TrustStore>) -> TlsSummary {
        let hello = tls.client_hello.as_ref();
        let server = tls.server_hello.as_ref();
        let cert = tls.leaf_certificate();
        let alert = tls.last_alert();
        let alpn = match server.and_then(|s| s.alpn.clone()) {
            Some(chosen) => vec![chosen],
            None => hello.map(|h| h.alpn.clone()).unwrap_or_default(),
        };
        TlsSummary {
            version: server.map(|s| version_name(s.version)),
            cipher: server.map(|s| cipher_name(s.cipher_suite)),
            sni: hello.and_then(|h| h.sni.clone()),
            alpn,
            cert_subject: cert.as_ref().map(|c| c.subject.clone()),
            cert_issuer: cert.as_ref().map(|c| c.issuer.clone()),
            cert_not_after: cert
                .as_ref()
                .map(|c| rfc3339(c.not_after.saturating_mul(1_000_000_000))),
            validation: tls.server_certificates.as_ref().and_then(|chain| {
                trust
                    .unwrap_or(TrustStore::mozilla_only())
                    .validate(chain, chain.ts_ns.div_euclid(1_000_000_000))
                    .map(|v| v.as_status())
            }),
            alert: alert.map(|a| {
                alert_name(a.description).map_or_else(|| a.description.to_string(), str::to_string)
            }),
            alert_sender: alert.map(|a| if a.from_client { "client" } else { "server" }),
            hello_retry: tls.hello_retry.is_some(),
            decryption: tls.decryption.state.as_str(),
        }
    }

    /// One line for the text table: `TLS 1.3 TLS_AES_128_GCM_SHA256 sni=api alert=unknown_ca(client)`.
    pub fn text(&self) -> String {
        let mut parts = vec![
            self.version
                .clone()
                .unwrap_or_else(|| "TLS (no ServerHello)".into()),
        ];
        parts.extend(self.cipher.clone());
        if let Some(sni) = &self.sni {
            parts.push(format!("sni={sni}"));
        }
        if !self.alpn.is_empty() {
            parts.push(format!("alpn={}", self.alpn.join(",")));
        }
        if let Some(subject) = &self.cert_subject {
            parts.push(format!("cert=\"{subject}\""));
        }
        if let Some(not_after) = &self.cert_not_after {
            parts.push(format!("not_after={not_after}"));
        }
        if let Some(validation) = &self.validation {
            parts.push(format!("validation=\"{validation}\""));
        }
        if let (Some(alert), Some(sender)) = (&self.alert, self.alert_sender) {
            parts.push(format!("alert={alert}({sender})"));
        }
        if self.decryption != DecryptionState::NotEncrypted.as_str() {
            parts.push(format!("decryption={}", self.decryption));
        }
        parts.join(" ")
    }
}
