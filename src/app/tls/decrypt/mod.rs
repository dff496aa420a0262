//! Sans-IO TLS record decryption: one direction's keys from a TLS 1.0-1.2 master secret or a
//! TLS 1.3 traffic secret, and the record protection that opens its records.
//!
//! [`schedule`] derives keys (the TLS 1.2 PRF of RFC 5246 §5, the MD5+SHA-1 PRF of TLS 1.0/1.1,
//! HKDF-Expand-Label of RFC 8446 §7.1); [`cipher`] opens records (RFC 5246 §6.2.3, RFC 7366
//! encrypt-then-MAC, RFC 7905, RFC 6655, RFC 8446 §5.2-5.3). The primitives are ring's (AES-GCM,
//! ChaCha20-Poly1305, HMAC, HKDF) and RustCrypto's where ring has none (AES-CBC, AES-CCM,
//! HMAC-MD5). Key material kept here is zeroized on drop and never printed.

mod cipher;
mod schedule;
#[cfg(test)]
mod tests;

use std::fmt;

use zeroize::Zeroizing;

use Protection::{Cbc, ChaCha20Poly1305, Gcm};
use SuiteHash::{Sha256, Sha384};
use cipher::{MacHash, Protection, State};

/// Hash of a suite's PRF (TLS 1.2) or HKDF (TLS 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteHash {
    Sha256,
    Sha384,
}

impl SuiteHash {
    /// Output length in bytes (the length of a TLS 1.3 secret of this hash).
    pub fn output_len(self) -> usize {
        match self {
            SuiteHash::Sha256 => 32,
            SuiteHash::Sha384 => 48,
        }
    }
}

/// A cipher suite faultline can decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    id: u16,
    protection: Protection,
    hash: SuiteHash,
    /// Bulk encryption key length in bytes.
    key_len: u8,
    tls13: bool,
}

const fn s(id: u16, protection: Protection, hash: SuiteHash, key_len: u8) -> Suite {
    Suite {
        id,
        protection,
        hash,
        key_len,
        tls13: false,
    }
}

const fn s13(id: u16, protection: Protection, hash: SuiteHash, key_len: u8) -> Suite {
    Suite {
        id,
        protection,
        hash,
        key_len,
        tls13: true,
    }
}

const CCM: Protection = Protection::Ccm { tag_len: 16 };
const CCM8: Protection = Protection::Ccm { tag_len: 8 };
const CBC_SHA1: Protection = Cbc(MacHash::Sha1);
const CBC_SHA256: Protection = Cbc(MacHash::Sha256);
const CBC_SHA384: Protection = Cbc(MacHash::Sha384);

/// Every suite faultline decrypts: RSA, DHE_RSA, ECDHE_RSA and ECDHE_ECDSA key exchange with
/// AES-CBC (HMAC-SHA1/256/384), AES-GCM, AES-CCM(_8) and ChaCha20-Poly1305, and the five TLS 1.3
/// suites.
const SUITES: &[Suite] = &[
    // AES-CBC with HMAC-SHA1 (TLS 1.0-1.2; the PRF is SHA-256 in TLS 1.2).
    s(0x002f, CBC_SHA1, Sha256, 16), // TLS_RSA_WITH_AES_128_CBC_SHA
    s(0x0033, CBC_SHA1, Sha256, 16), // TLS_DHE_RSA_WITH_AES_128_CBC_SHA
    s(0x0035, CBC_SHA1, Sha256, 32), // TLS_RSA_WITH_AES_256_CBC_SHA
    s(0x0039, CBC_SHA1, Sha256, 32), // TLS_DHE_RSA_WITH_AES_256_CBC_SHA
    s(0xc009, CBC_SHA1, Sha256, 16), // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
    s(0xc00a, CBC_SHA1, Sha256, 32), // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
    s(0xc013, CBC_SHA1, Sha256, 16), // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    s(0xc014, CBC_SHA1, Sha256, 32), // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
    // AES-CBC with HMAC-SHA256/384 (TLS 1.2 only).
    s(0x003c, CBC_SHA256, Sha256, 16), // TLS_RSA_WITH_AES_128_CBC_SHA256
    s(0x003d, CBC_SHA256, Sha256, 32), // TLS_RSA_WITH_AES_256_CBC_SHA256
    s(0x0067, CBC_SHA256, Sha256, 16), // TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
    s(0x006b, CBC_SHA256, Sha256, 32), // TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
    s(0xc023, CBC_SHA256, Sha256, 16), // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
    s(0xc024, CBC_SHA384, Sha384, 32), // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
    s(0xc027, CBC_SHA256, Sha256, 16), // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
    s(0xc028, CBC_SHA384, Sha384, 32), // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    // AES-GCM (RFC 5288, RFC 5289).
    s(0x009c, Gcm, Sha256, 16), // TLS_RSA_WITH_AES_128_GCM_SHA256
    s(0x009d, Gcm, Sha384, 32), // TLS_RSA_WITH_AES_256_GCM_SHA384
    s(0x009e, Gcm, Sha256, 16), // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
    s(0x009f, Gcm, Sha384, 32), // TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
    s(0xc02b, Gcm, Sha256, 16), // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    s(0xc02c, Gcm, Sha384, 32), // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    s(0xc02f, Gcm, Sha256, 16), // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    s(0xc030, Gcm, Sha384, 32), // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    // AES-CCM and AES-CCM_8 (RFC 6655, RFC 7251).
    s(0xc09c, CCM, Sha256, 16),  // TLS_RSA_WITH_AES_128_CCM
    s(0xc09d, CCM, Sha256, 32),  // TLS_RSA_WITH_AES_256_CCM
    s(0xc09e, CCM, Sha256, 16),  // TLS_DHE_RSA_WITH_AES_128_CCM
    s(0xc09f, CCM, Sha256, 32),  // TLS_DHE_RSA_WITH_AES_256_CCM
    s(0xc0a0, CCM8, Sha256, 16), // TLS_RSA_WITH_AES_128_CCM_8
    s(0xc0a1, CCM8, Sha256, 32), // TLS_RSA_WITH_AES_256_CCM_8
    s(0xc0a2, CCM8, Sha256, 16), // TLS_DHE_RSA_WITH_AES_128_CCM_8
    s(0xc0a3, CCM8, Sha256, 32), // TLS_DHE_RSA_WITH_AES_256_CCM_8
    s(0xc0ac, CCM, Sha256, 16),  // TLS_ECDHE_ECDSA_WITH_AES_128_CCM
    s(0xc0ad, CCM, Sha256, 32),  // TLS_ECDHE_ECDSA_WITH_AES_256_CCM
    s(0xc0ae, CCM8, Sha256, 16), // TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8
    s(0xc0af, CCM8, Sha256, 32), // TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8
    // ChaCha20-Poly1305 (RFC 7905).
    s(0xcca8, ChaCha20Poly1305, Sha256, 32), // TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    s(0xcca9, ChaCha20Poly1305, Sha256, 32), // TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    s(0xccaa, ChaCha20Poly1305, Sha256, 32), // TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    // TLS 1.3 (RFC 8446 §B.4).
    s13(0x1301, Gcm, Sha256, 16),              // TLS_AES_128_GCM_SHA256
    s13(0x1302, Gcm, Sha384, 32),              // TLS_AES_256_GCM_SHA384
    s13(0x1303, ChaCha20Poly1305, Sha256, 32), // TLS_CHACHA20_POLY1305_SHA256
    s13(0x1304, CCM, Sha256, 16),              // TLS_AES_128_CCM_SHA256
    s13(0x1305, CCM8, Sha256, 16),             // TLS_AES_128_CCM_8_SHA256
];

impl Suite {
    /// The suite with this IANA id, when faultline can decrypt it (None: RC4, 3DES, NULL,
    /// export, PSK-only oddities, unknown...).
    pub fn from_id(id: u16) -> Option<Suite> {
        SUITES.iter().find(|suite| suite.id == id).copied()
    }

    /// Every suite faultline can decrypt.
    pub fn all() -> impl Iterator<Item = Suite> {
        SUITES.iter().copied()
    }

    /// The IANA id.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The PRF (TLS 1.2) or HKDF (TLS 1.3) hash.
    pub fn hash(&self) -> SuiteHash {
        self.hash
    }

    /// True for the TLS 1.3 suites (0x1301..=0x1305).
    pub fn is_tls13(&self) -> bool {
        self.tls13
    }

    /// True for the CBC suites (the only ones TLS 1.0 and 1.1 can use, and the only ones
    /// encrypt-then-MAC applies to).
    pub fn is_cbc(&self) -> bool {
        matches!(self.protection, Cbc(_))
    }
}

/// Why a record did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The tag or MAC did not verify, or the CBC padding was bad: wrong keys, a wrong sequence
    /// number, or a damaged record.
    #[error("record did not authenticate")]
    Authentication,
    /// The body is too short for the cipher (or a CBC body is not whole blocks).
    #[error("record too short for its cipher")]
    Malformed,
    /// A TLS 1.3 record authenticated but its inner plaintext is all zero padding, with no
    /// content type (RFC 8446 §5.4 makes this an unexpected_message error).
    #[error("TLS 1.3 record has no inner content type")]
    NoContentType,
}

/// Why keys could not be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The master secret is not 48 bytes, or the traffic secret not the suite's hash length.
    #[error("secret has the wrong length for the suite")]
    WrongSecretLength,
    /// A TLS 1.3 suite given TLS 1.2 secrets or the reverse (also: a KeyUpdate asked of a TLS 1.2
    /// opener).
    #[error("cipher suite does not fit this key schedule")]
    UnsupportedSuite,
    /// The version is not TLS 1.0-1.2, or the suite cannot be used in it (GCM, CCM, ChaCha20 and
    /// SHA-256/384 MACs are TLS 1.2 only).
    #[error("protocol version not supported with this suite")]
    UnsupportedVersion,
}

/// One direction's record protection (RFC 5246 §6.2.3, RFC 8446 §5.2-5.3), with its sequence
/// number.
pub struct RecordOpener {
    suite: Suite,
    seq: u64,
    state: State,
    /// TLS 1.3: the traffic secret, for KeyUpdate.
    secret: Option<Zeroizing<Vec<u8>>>,
}

impl fmt::Debug for RecordOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordOpener")
            .field("suite", &format_args!("0x{:04x}", self.suite.id))
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl RecordOpener {
    /// TLS 1.0-1.2: keys for one direction from the 48-byte master secret (the key block by
    /// the PRF: TLS 1.2 P_SHA256 / P_SHA384 by suite; TLS 1.0/1.1 the MD5+SHA-1 PRF). `version`
    /// is the negotiated version (0x0301..=0x0303). `from_client` picks the client_write or
    /// server_write keys. `encrypt_then_mac` (RFC 7366) when both hellos carried the extension
    /// (CBC suites only; ignored for AEAD suites).
    pub fn tls12(
        suite: Suite,
        version: u16,
        master_secret: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        from_client: bool,
        encrypt_then_mac: bool,
    ) -> Result<RecordOpener, KeyError> {
        if suite.tls13 {
            return Err(KeyError::UnsupportedSuite);
        }
        let tls12 = match version {
            0x0303 => true,
            0x0301 | 0x0302 => false,
            _ => return Err(KeyError::UnsupportedVersion),
        };
        if !tls12 && suite.protection != CBC_SHA1 {
            return Err(KeyError::UnsupportedVersion);
        }
        if master_secret.len() != 48 {
            return Err(KeyError::WrongSecretLength);
        }
        let keys = schedule::KeyBlock::derive(
            suite,
            version,
            master_secret,
            client_random,
            server_random,
            from_client,
        );
        Ok(RecordOpener {
            suite,
            seq: 0,
            state: State::tls12(suite, version, &keys, encrypt_then_mac),
            secret: None,
        })
    }

    /// TLS 1.3: keys from a traffic secret (HKDF-Expand-Label "key"/"iv", RFC 8446 §7.3).
    /// Works for handshake, application and early-data secrets alike.
    pub fn tls13(suite: Suite, traffic_secret: &[u8]) -> Result<RecordOpener, KeyError> {
        if !suite.tls13 {
            return Err(KeyError::UnsupportedSuite);
        }
        if traffic_secret.len() != suite.hash.output_len() {
            return Err(KeyError::WrongSecretLength);
        }
        let keys = schedule::TrafficKeys::derive(suite, traffic_secret);
        Ok(RecordOpener {
            suite,
            seq: 0,
            state: State::tls13(suite, &keys),
            secret: Some(Zeroizing::new(traffic_secret.to_vec())),
        })
    }

    /// TLS 1.3 KeyUpdate: the opener of the next traffic secret generation ("traffic upd",
    /// RFC 8446 §7.2), sequence 0.
    pub fn key_update(&self) -> Result<RecordOpener, KeyError> {
        let secret = self.secret.as_ref().ok_or(KeyError::UnsupportedSuite)?;
        let next = schedule::next_traffic_secret(self.suite.hash, secret);
        RecordOpener::tls13(self.suite, &next)
    }

    /// Authenticates and decrypts one record: `header` is its 5-byte record header as on the
    /// wire (type, version, length), `body` the record body. On success the plaintext is
    /// appended to `out` (TLS 1.3: the inner plaintext's content, padding and inner type
    /// removed) and the record's content type is returned (TLS 1.3: the inner content type); the
    /// sequence number advances. On failure `out` and the sequence number are unchanged.
    ///
    /// Only protected records are given: TLS 1.0-1.2 those after the direction's
    /// ChangeCipherSpec, TLS 1.3 those of outer type application_data (23) once the direction is
    /// protected (a ChangeCipherSpec sent for middlebox compatibility stays in clear). Never
    /// panics, whatever the header and body.
    pub fn open(
        &mut self,
        header: [u8; 5],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        let content_type = self.state.open(self.seq, header, body, out)?;
        self.seq = self.seq.wrapping_add(1);
        Ok(content_type)
    }

    /// The sequence number of the next record.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Sets the sequence number of the next record (after records the capture missed). TLS 1.0
    /// CBC also chains each record's IV from the last ciphertext block of the record before,
    /// which only a record that opened advances: after a missed record the next one fails
    /// to authenticate whatever the sequence number.
    pub fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// The suite this opener decrypts.
    pub fn suite(&self) -> Suite {
        self.suite
    }
}
