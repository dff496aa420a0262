//! What a connection finding says about its TLS: the handshake facts formats with fields for
//! them show (ECS `tls.*`), and, when the connection stayed encrypted for want of its session
//! keys, what a key log would reveal and how to get one. Said once here for every rule.

use crate::app::AppFacts;
use crate::app::tls::DecryptionState;

use super::{Cause, Finding};

/// The remediation step a finding gets when its call was encrypted and no key log held its
/// session's secrets, and the plaintext would show what the cause hit.
pub const KEYLOG_HINT: &str = "The call was encrypted and no key log had its session's secrets: \
     with them faultline reads the HTTP request and the status inside (which call it was, \
     whether an answer began). Have the client log its TLS keys and capture again: \
     `SSLKEYLOGFILE=/path/keys.log` for curl, Python, Firefox and Chrome; `node \
     --tls-keylog=/path/keys.log`; Go: `tls.Config.KeyLogWriter`; Java: an agent such as \
     jSSLKeyLog or extract-tls-secrets; `openssl s_client -keylogfile /path/keys.log`; eBPF \
     tools such as ecapture for binaries you cannot change. Then run `faultline analyze \
     --keylog /path/keys.log CAPTURE`.";

/// Causes whose diagnosis the plaintext would sharpen: which request went unanswered or was
/// cut, and whether an answer had begun.
fn plaintext_would_tell(cause: Cause) -> bool {
    matches!(
        cause,
        Cause::ServerNoResponse
            | Cause::ResetAfterRequest
            | Cause::ClosedWithoutResponse
            | Cause::Aborted
            | Cause::SlowResponse
            | Cause::StaleKeepaliveReuse
    )
}

/// Fills the finding's TLS facts from the connection's handshake (SNI, version, cipher, ALPN,
/// certificate, decryption state), and adds [`KEYLOG_HINT`] to
/// its remediation when its records stayed encrypted for want of keys.
pub(super) fn add_tls_facts(finding: &mut Finding, app: &AppFacts) {
    let Some(tls) = &app.tls else {
        return;
    };
    finding.names.sni = tls.client_hello.as_ref().and_then(|h| h.sni.clone());
    if let Some(hello) = &tls.server_hello {
        finding.wire.tls_version = Some(hello.version);
        finding.wire.tls_cipher = Some(hello.cipher_suite);
    }
    finding.wire.tls_decryption = Some(tls.decryption.state);
    finding.wire.tls_established = Some(tls.handshake_completed());
    finding.wire.tls_alpn = tls.server_hello.as_ref().and_then(|s| s.alpn.clone());
    if let Some(cert) = tls.leaf_certificate() {
        finding.wire.tls_server_subject = Some(cert.subject);
        finding.wire.tls_server_issuer = Some(cert.issuer);
        finding.wire.tls_server_not_after = Some(cert.not_after);
    }
    if tls.decryption.state == DecryptionState::NoKeys && plaintext_would_tell(finding.cause) {
        finding.remediation.push(KEYLOG_HINT.to_string());
    }
}
