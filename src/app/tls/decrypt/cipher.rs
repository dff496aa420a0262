//! Record ciphers: opening one TLSCiphertext with one direction's keys.
//!
//! - TLS 1.2 AEAD (RFC 5246 §6.2.3.3): GCM and CCM carry an 8-byte explicit nonce after the
//!   4-byte implicit salt (RFC 5288, RFC 6655); ChaCha20-Poly1305 XORs the sequence number into
//!   its 12-byte IV (RFC 7905). The additional data is seq || type || version || plaintext length.
//! - TLS 1.0-1.2 CBC (RFC 5246 §6.2.3.2): MAC-then-encrypt, or encrypt-then-MAC (RFC 7366); the
//!   IV is explicit from TLS 1.1, chained from the previous record in TLS 1.0.
//! - TLS 1.3 (RFC 8446 §5.2-5.3): nonce IV XOR seq, additional data the record header, the inner
//!   plaintext ends in its content type and zero padding.

use aes::{Aes128, Aes256};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use ccm::Ccm;
use ccm::aead::consts::{U8, U12, U16};
use ccm::aead::{AeadInOut, KeyInit};
use ring::{aead, hmac};
use zeroize::Zeroizing;

use super::schedule::{KeyBlock, TrafficKeys};
use super::{OpenError, Suite};

/// How a suite protects records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protection {
    Gcm,
    Ccm {
        tag_len: u8,
    },
    ChaCha20Poly1305,
    /// AES-CBC with this HMAC.
    Cbc(MacHash),
}

/// The HMAC of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MacHash {
    Sha1,
    Sha256,
    Sha384,
}

impl MacHash {
    pub fn len(self) -> usize {
        match self {
            MacHash::Sha1 => 20,
            MacHash::Sha256 => 32,
            MacHash::Sha384 => 48,
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            MacHash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            MacHash::Sha256 => hmac::HMAC_SHA256,
            MacHash::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

const AES_BLOCK: usize = 16;

/// An AEAD key: ring's where ring has the algorithm, RustCrypto's CCM otherwise.
pub(super) enum AeadKey {
    Ring(Box<aead::LessSafeKey>),
    Ccm128(Box<Ccm<Aes128, U16, U12>>),
    Ccm128Short(Box<Ccm<Aes128, U8, U12>>),
    Ccm256(Box<Ccm<Aes256, U16, U12>>),
    Ccm256Short(Box<Ccm<Aes256, U8, U12>>),
    /// The key did not fit the algorithm (cannot happen: the schedule gives the suite's length);
    /// every record then fails to authenticate.
    Invalid,
}

impl AeadKey {
    fn new(protection: Protection, key: &[u8]) -> AeadKey {
        let ring_alg = match (protection, key.len()) {
            (Protection::Gcm, 16) => Some(&aead::AES_128_GCM),
            (Protection::Gcm, 32) => Some(&aead::AES_256_GCM),
            (Protection::ChaCha20Poly1305, 32) => Some(&aead::CHACHA20_POLY1305),
            _ => None,
        };
        if let Some(alg) = ring_alg {
            return aead::UnboundKey::new(alg, key)
                .map(|key| AeadKey::Ring(Box::new(aead::LessSafeKey::new(key))))
                .unwrap_or(AeadKey::Invalid);
        }
        let ccm = match (protection, key.len()) {
            (Protection::Ccm { tag_len: 16 }, 16) => {
                KeyInit::new_from_slice(key).map(|c| AeadKey::Ccm128(Box::new(c)))
            }
            (Protection::Ccm { tag_len: 8 }, 16) => {
                KeyInit::new_from_slice(key).map(|c| AeadKey::Ccm128Short(Box::new(c)))
            }
            (Protection::Ccm { tag_len: 16 }, 32) => {
                KeyInit::new_from_slice(key).map(|c| AeadKey::Ccm256(Box::new(c)))
            }
            (Protection::Ccm { tag_len: 8 }, 32) => {
                KeyInit::new_from_slice(key).map(|c| AeadKey::Ccm256Short(Box::new(c)))
            }
            _ => return AeadKey::Invalid,
        };
        ccm.unwrap_or(AeadKey::Invalid)
    }

    fn tag_len(&self) -> usize {
        match self {
            AeadKey::Ccm128Short(_) | AeadKey::Ccm256Short(_) => 8,
            _ => 16,
        }
    }

    /// Decrypts `buf` (ciphertext and tag) in place; on success the plaintext is
    /// `buf[..buf.len() - tag_len]`.
    fn open(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<(), OpenError> {
        let split = buf
            .len()
            .checked_sub(self.tag_len())
            .ok_or(OpenError::Malformed)?;
        let ok = match self {
            AeadKey::Ring(key) => key
                .open_in_place(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(aad),
                    buf,
                )
                .is_ok(),
            AeadKey::Ccm128(c) => ccm_open(c.as_ref(), nonce, aad, buf, split),
            AeadKey::Ccm128Short(c) => ccm_open(c.as_ref(), nonce, aad, buf, split),
            AeadKey::Ccm256(c) => ccm_open(c.as_ref(), nonce, aad, buf, split),
            AeadKey::Ccm256Short(c) => ccm_open(c.as_ref(), nonce, aad, buf, split),
            AeadKey::Invalid => false,
        };
        if ok {
            Ok(())
        } else {
            Err(OpenError::Authentication)
        }
    }
}

fn ccm_open<C: AeadInOut<NonceSize = U12>>(
    cipher: &C,
    nonce: [u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    split: usize,
) -> bool {
    let (text, tag) = buf.split_at_mut(split);
    let Ok(tag) = ccm::aead::Tag::<C>::try_from(&*tag) else {
        return false;
    };
    let nonce = ccm::aead::Nonce::<C>::from(nonce);
    cipher
        .decrypt_inout_detached(&nonce, aad, text.into(), &tag)
        .is_ok()
}

/// What opens one direction's records.
pub(super) enum State {
    Aead {
        key: AeadKey,
        /// The implicit nonce: the 4-byte salt (then 8 explicit bytes from each record) or the
        /// 12-byte IV the sequence number is XORed into.
        iv: Zeroizing<[u8; 12]>,
        explicit_nonce: bool,
        tls13: bool,
    },
    Cbc(Box<CbcState>),
}

pub(super) struct CbcState {
    key: Zeroizing<Vec<u8>>,
    mac_key: hmac::Key,
    mac_len: usize,
    encrypt_then_mac: bool,
    /// TLS 1.0: the IV of the next record, the last ciphertext block of the one before.
    chained_iv: Option<Zeroizing<[u8; AES_BLOCK]>>,
}

impl State {
    pub fn tls12(suite: Suite, version: u16, keys: &KeyBlock, encrypt_then_mac: bool) -> State {
        match suite.protection {
            Protection::Cbc(mac) => {
                let chained_iv = (version == 0x0301).then(|| {
                    let mut iv = Zeroizing::new([0u8; AES_BLOCK]);
                    if keys.iv.len() == AES_BLOCK {
                        iv.copy_from_slice(&keys.iv);
                    }
                    iv
                });
                State::Cbc(Box::new(CbcState {
                    key: keys.enc_key.clone(),
                    mac_key: hmac::Key::new(mac.algorithm(), &keys.mac_key),
                    mac_len: mac.len(),
                    encrypt_then_mac,
                    chained_iv,
                }))
            }
            protection => {
                let mut iv = Zeroizing::new([0u8; 12]);
                let implicit = keys.iv.len().min(12);
                iv[..implicit].copy_from_slice(&keys.iv[..implicit]);
                State::Aead {
                    key: AeadKey::new(protection, &keys.enc_key),
                    iv,
                    explicit_nonce: protection != Protection::ChaCha20Poly1305,
                    tls13: false,
                }
            }
        }
    }

    pub fn tls13(suite: Suite, keys: &TrafficKeys) -> State {
        State::Aead {
            key: AeadKey::new(suite.protection, &keys.key),
            iv: keys.iv.clone(),
            explicit_nonce: false,
            tls13: true,
        }
    }

    /// Opens one record with sequence number `seq`; see [`super::RecordOpener::open`].
    pub fn open(
        &mut self,
        seq: u64,
        header: [u8; 5],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        let start = out.len();
        let opened = match self {
            State::Aead {
                key,
                iv,
                explicit_nonce,
                tls13,
            } => open_aead(key, iv, *explicit_nonce, *tls13, seq, header, body, out),
            State::Cbc(cbc) => cbc.open(seq, header, body, out),
        };
        if opened.is_err() {
            out.truncate(start);
        }
        opened
    }
}

/// The nonce of RFC 8446 §5.3 and RFC 7905: the IV XOR the sequence number, left-padded.
fn xor_nonce(iv: &[u8; 12], seq: u64) -> [u8; 12] {
    let mut nonce = *iv;
    for (byte, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
        *byte ^= s;
    }
    nonce
}

/// seq_num || type || version || length: the MAC input (RFC 5246 §6.2.3.1) and the TLS 1.2 AEAD
/// additional data (§6.2.3.3).
fn pseudo_header(seq: u64, header: [u8; 5], length: usize) -> Result<[u8; 13], OpenError> {
    let length = u16::try_from(length).map_err(|_| OpenError::Malformed)?;
    let mut aad = [0u8; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8..11].copy_from_slice(&header[..3]);
    aad[11..].copy_from_slice(&length.to_be_bytes());
    Ok(aad)
}

#[allow(clippy::too_many_arguments)]
fn open_aead(
    key: &AeadKey,
    iv: &[u8; 12],
    explicit_nonce: bool,
    tls13: bool,
    seq: u64,
    header: [u8; 5],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<u8, OpenError> {
    let tag_len = key.tag_len();
    let start = out.len();
    if tls13 {
        // At least the inner content type besides the tag.
        if body.len() <= tag_len {
            return Err(OpenError::Malformed);
        }
        out.extend_from_slice(body);
        key.open(xor_nonce(iv, seq), &header, &mut out[start..])?;
        let inner_end = out.len() - tag_len;
        let inner = out.get(start..inner_end).unwrap_or_default();
        let Some(type_at) = inner.iter().rposition(|&byte| byte != 0) else {
            return Err(OpenError::NoContentType);
        };
        let content_type = inner[type_at];
        out.truncate(start + type_at);
        return Ok(content_type);
    }
    let (nonce, sealed) = if explicit_nonce {
        let (explicit, sealed) = body.split_at_checked(8).ok_or(OpenError::Malformed)?;
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&iv[..4]);
        nonce[4..].copy_from_slice(explicit);
        (nonce, sealed)
    } else {
        (xor_nonce(iv, seq), body)
    };
    let plain_len = sealed
        .len()
        .checked_sub(tag_len)
        .ok_or(OpenError::Malformed)?;
    let aad = pseudo_header(seq, header, plain_len)?;
    out.extend_from_slice(sealed);
    key.open(nonce, &aad, &mut out[start..])?;
    out.truncate(start + plain_len);
    Ok(header[0])
}

impl CbcState {
    fn mac(&self, seq: u64, header: [u8; 5], parts: &[&[u8]]) -> Result<hmac::Tag, OpenError> {
        let length = parts.iter().map(|part| part.len()).sum();
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(&pseudo_header(seq, header, length)?);
        for part in parts {
            ctx.update(part);
        }
        Ok(ctx.sign())
    }

    /// Splits the IV from the ciphertext (TLS 1.1+: the first block; TLS 1.0: the chained one).
    fn iv_and_ciphertext<'a>(&self, enc: &'a [u8]) -> Result<([u8; 16], &'a [u8]), OpenError> {
        let (iv, ciphertext) = match &self.chained_iv {
            Some(iv) => (**iv, enc),
            None => {
                let (iv, ciphertext) = enc
                    .split_at_checked(AES_BLOCK)
                    .ok_or(OpenError::Malformed)?;
                let mut block = [0u8; AES_BLOCK];
                block.copy_from_slice(iv);
                (block, ciphertext)
            }
        };
        if ciphertext.is_empty() || ciphertext.len() % AES_BLOCK != 0 {
            return Err(OpenError::Malformed);
        }
        Ok((iv, ciphertext))
    }

    fn decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> Result<(), OpenError> {
        let done = match self.key.len() {
            16 => cbc::Decryptor::<Aes128>::new_from_slices(&self.key, iv)
                .map(|d| d.decrypt_padded::<NoPadding>(buf).is_ok()),
            _ => cbc::Decryptor::<Aes256>::new_from_slices(&self.key, iv)
                .map(|d| d.decrypt_padded::<NoPadding>(buf).is_ok()),
        };
        match done {
            Ok(true) => Ok(()),
            _ => Err(OpenError::Malformed),
        }
    }

    fn open(
        &mut self,
        seq: u64,
        header: [u8; 5],
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, OpenError> {
        let start = out.len();
        if self.encrypt_then_mac {
            // IV || ciphertext || MAC, the MAC over IV || ciphertext (RFC 7366 §3).
            let enc_len = body
                .len()
                .checked_sub(self.mac_len)
                .ok_or(OpenError::Malformed)?;
            let (enc, mac) = body.split_at(enc_len);
            let (iv, ciphertext) = self.iv_and_ciphertext(enc)?;
            let expected = self.mac(seq, header, &[enc])?;
            if !equal(expected.as_ref(), mac) {
                return Err(OpenError::Authentication);
            }
            out.extend_from_slice(ciphertext);
            self.decrypt(&iv, &mut out[start..])?;
            let plain = &out[start..];
            let content_len = unpad(plain, 0).ok_or(OpenError::Authentication)?;
            out.truncate(start + content_len);
            self.chain(ciphertext);
            return Ok(header[0]);
        }
        // IV || E(content || MAC || padding || padding_length) (RFC 5246 §6.2.3.2).
        let (iv, ciphertext) = self.iv_and_ciphertext(body)?;
        if ciphertext.len() < self.mac_len + 1 {
            return Err(OpenError::Malformed);
        }
        out.extend_from_slice(ciphertext);
        self.decrypt(&iv, &mut out[start..])?;
        let plain = &out[start..];
        let unpadded = unpad(plain, self.mac_len);
        // Without valid padding, the MAC is still computed (over the record minus one MAC) so a
        // bad pad and a bad MAC take alike; offline analysis needs no more than that.
        let content_len = unpadded.unwrap_or(plain.len() - self.mac_len);
        let (content, mac) = plain.split_at(content_len);
        let expected = self.mac(seq, header, &[content])?;
        let mac_ok = equal(
            expected.as_ref(),
            mac.get(..self.mac_len).unwrap_or_default(),
        );
        if unpadded.is_none() || !mac_ok {
            return Err(OpenError::Authentication);
        }
        out.truncate(start + content_len);
        self.chain(ciphertext);
        Ok(header[0])
    }

    /// TLS 1.0: the next record's IV is this record's last ciphertext block.
    fn chain(&mut self, ciphertext: &[u8]) {
        if let Some(iv) = &mut self.chained_iv
            && let Some(last) = ciphertext.len().checked_sub(AES_BLOCK)
        {
            iv.copy_from_slice(&ciphertext[last..]);
        }
    }
}

/// The length of the plaintext before its CBC padding and `mac_len` MAC bytes, when the padding
/// is well formed (every padding byte equals the padding length, RFC 5246 §6.2.3.2).
fn unpad(plain: &[u8], mac_len: usize) -> Option<usize> {
    let pad = usize::from(*plain.last()?);
    let unpadded = plain.len().checked_sub(pad + 1)?;
    let content_len = unpadded.checked_sub(mac_len)?;
    let padding = &plain[unpadded..plain.len() - 1];
    let bad = padding
        .iter()
        .fold(0u8, |acc, &byte| acc | (byte ^ pad as u8));
    (bad == 0).then_some(content_len)
}

/// Compares a MAC without stopping at the first difference.
fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
