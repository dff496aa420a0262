//! What decryption achieved on one connection, and the handshake messages it revealed.

use serde::Serialize;

use crate::tcp::Origin;

/// At most this many handshake messages are listed per connection.
pub const MAX_HANDSHAKE_LOG: usize = 64;

/// How far a TLS connection's encrypted records could be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecryptionState {
    /// Nothing was encrypted (the handshake ended before encryption, or the connection was
    /// not TLS).
    #[default]
    NotEncrypted,
    /// Encrypted records, and no secrets for this session's client random (or no ClientHello
    /// in the capture to match them by).
    NoKeys,
    /// Secrets were found but the cipher suite is one faultline does not decrypt.
    UnsupportedCipher,
    /// Every encrypted record seen was authenticated and decrypted.
    Decrypted,
    /// Secrets were found but did not authenticate the records: wrong keys (another session's,
    /// or a damaged key log). Nothing of the payload was read.
    KeysDidNotDecrypt,
    /// Records were decrypted until bytes were lost (a TCP gap) or a record failed after
    /// others had opened (what came after was not read), or the key log held the secrets of
    /// one direction only.
    Partial,
}

impl DecryptionState {
    /// The word reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            DecryptionState::NotEncrypted => "not_encrypted",
            DecryptionState::NoKeys => "no_keys",
            DecryptionState::UnsupportedCipher => "unsupported_cipher",
            DecryptionState::Decrypted => "decrypted",
            DecryptionState::KeysDidNotDecrypt => "keys_did_not_decrypt",
            DecryptionState::Partial => "partial",
        }
    }
}

/// Decryption of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decryption {
    pub state: DecryptionState,
    /// Records decrypted, from the client and from the server.
    pub records: [u64; 2],
    /// Application data bytes decrypted, from the client and from the server.
    pub application_bytes: [u64; 2],
    /// The records that carried the first and the last decrypted application data byte, from
    /// the client and from the server: where the calls inside TLS begin and end (alerts,
    /// session tickets and the handshake are not application data).
    pub first_application: [Option<Origin>; 2],
    pub last_application: [Option<Origin>; 2],
    /// The first record that did not open (wrong keys, or lost sync after a gap).
    pub failed_at: Option<Origin>,
    /// The first place bytes were lost after decryption had started.
    pub gap_at: Option<Origin>,
    /// Records found again after a gap, by trying the plausible sequence numbers.
    pub resynced: u32,
}

impl Decryption {
    /// Records were read by decrypting them (all, or up to a loss).
    pub fn opened_any(&self) -> bool {
        self.records.iter().any(|&n| n > 0)
    }
}

/// One handshake message, in clear or decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HandshakeSeen {
    /// The frame carrying the message's last byte.
    pub frame: u64,
    pub from_client: bool,
    /// The handshake type (RFC 8446 §4: 1 ClientHello, 2 ServerHello, 8 EncryptedExtensions,
    /// 11 Certificate, 15 CertificateVerify, 20 Finished, 4 NewSessionTicket, 24 KeyUpdate...).
    pub msg_type: u8,
    /// It came in an encrypted record that faultline decrypted.
    pub decrypted: bool,
}
