//! Key derivation: the TLS 1.0-1.2 key block (RFC 2246 §5-6.3, RFC 5246 §5 and §6.3) and the
//! TLS 1.3 traffic keys (RFC 8446 §7.1-7.3). Only the glue is here: HMAC and HKDF are ring's,
//! HMAC-MD5 (the TLS 1.0/1.1 PRF's other half) RustCrypto's.

use hmac::{KeyInit, Mac};
use ring::{hkdf, hmac as rhmac};
use zeroize::Zeroizing;

use super::cipher::Protection;
use super::{Suite, SuiteHash};

/// One direction's keys from the TLS 1.0-1.2 key block.
pub(super) struct KeyBlock {
    pub mac_key: Zeroizing<Vec<u8>>,
    pub enc_key: Zeroizing<Vec<u8>>,
    /// The implicit part of the nonce (GCM, CCM: 4-byte salt; ChaCha20: 12 bytes) or the first
    /// CBC IV of TLS 1.0; empty for TLS 1.1/1.2 CBC.
    pub iv: Zeroizing<Vec<u8>>,
}

impl KeyBlock {
    /// The keys of the client's (`from_client`) or the server's direction. The caller checked
    /// that the master secret is 48 bytes and the suite fits the version.
    pub fn derive(
        suite: Suite,
        version: u16,
        master_secret: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        from_client: bool,
    ) -> KeyBlock {
        let mac_len = match suite.protection {
            Protection::Cbc(mac) => mac.len(),
            _ => 0,
        };
        let key_len = usize::from(suite.key_len);
        let iv_len = match suite.protection {
            Protection::Gcm | Protection::Ccm { .. } => 4,
            Protection::ChaCha20Poly1305 => 12,
            Protection::Cbc(_) if version == 0x0301 => 16,
            Protection::Cbc(_) => 0,
        };
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        let mut block = Zeroizing::new(vec![0u8; 2 * (mac_len + key_len + iv_len)]);
        if version == 0x0303 {
            prf_tls12(
                suite.hash,
                master_secret,
                b"key expansion",
                &seed,
                &mut block,
            );
        } else {
            prf_tls10(master_secret, b"key expansion", &seed, &mut block);
        }
        // client MAC, server MAC, client key, server key, client IV, server IV.
        let pick = |offset: usize, len: usize| {
            let start = offset + if from_client { 0 } else { len };
            Zeroizing::new(block.get(start..start + len).unwrap_or_default().to_vec())
        };
        KeyBlock {
            mac_key: pick(0, mac_len),
            enc_key: pick(2 * mac_len, key_len),
            iv: pick(2 * (mac_len + key_len), iv_len),
        }
    }
}

/// The TLS 1.2 PRF (RFC 5246 §5): P_SHA256 or P_SHA384 of the secret over label + seed.
pub(super) fn prf_tls12(hash: SuiteHash, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let algorithm = match hash {
        SuiteHash::Sha256 => rhmac::HMAC_SHA256,
        SuiteHash::Sha384 => rhmac::HMAC_SHA384,
    };
    let key = rhmac::Key::new(algorithm, secret);
    p_hash(out, label, seed, |parts| {
        let mut ctx = rhmac::Context::with_key(&key);
        for part in parts {
            ctx.update(part);
        }
        Zeroizing::new(ctx.sign().as_ref().to_vec())
    });
}

/// The TLS 1.0/1.1 PRF (RFC 2246 §5): P_MD5 of the secret's first half XOR P_SHA1 of its second
/// half (the halves share the middle byte when the length is odd).
pub(super) fn prf_tls10(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let half = secret.len().div_ceil(2);
    let (s1, s2) = (&secret[..half], &secret[secret.len() - half..]);
    let md5 = hmac::Hmac::<md5::Md5>::new_from_slice(s1);
    let Ok(md5) = md5 else {
        // HMAC takes keys of any length; this cannot happen.
        out.fill(0);
        return;
    };
    p_hash(out, label, seed, |parts| {
        let mut mac = md5.clone();
        for part in parts {
            mac.update(part);
        }
        Zeroizing::new(mac.finalize().into_bytes().to_vec())
    });
    let sha1 = rhmac::Key::new(rhmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, s2);
    let mut other = Zeroizing::new(vec![0u8; out.len()]);
    p_hash(&mut other, label, seed, |parts| {
        let mut ctx = rhmac::Context::with_key(&sha1);
        for part in parts {
            ctx.update(part);
        }
        Zeroizing::new(ctx.sign().as_ref().to_vec())
    });
    for (byte, other) in out.iter_mut().zip(other.iter()) {
        *byte ^= other;
    }
}

/// P_hash (RFC 5246 §5): A(0) = label + seed, A(i) = HMAC(A(i-1)), output HMAC(A(i) + label + seed)...
fn p_hash(
    out: &mut [u8],
    label: &[u8],
    seed: &[u8],
    hmac: impl Fn(&[&[u8]]) -> Zeroizing<Vec<u8>>,
) {
    let mut a = hmac(&[label, seed]);
    let mut filled = 0;
    while filled < out.len() {
        let chunk = hmac(&[&a, label, seed]);
        let take = chunk.len().min(out.len() - filled);
        out[filled..filled + take].copy_from_slice(&chunk[..take]);
        filled += take;
        a = hmac(&[&a]);
    }
}

/// One TLS 1.3 direction's write key and IV.
pub(super) struct TrafficKeys {
    pub key: Zeroizing<Vec<u8>>,
    pub iv: Zeroizing<[u8; 12]>,
}

impl TrafficKeys {
    /// `[sender]_write_key` and `[sender]_write_iv` of RFC 8446 §7.3. The caller checked that
    /// the secret is the suite hash's length.
    pub fn derive(suite: Suite, secret: &[u8]) -> TrafficKeys {
        let mut key = Zeroizing::new(vec![0u8; usize::from(suite.key_len)]);
        hkdf_expand_label(suite.hash, secret, b"key", b"", &mut key);
        let mut iv = Zeroizing::new([0u8; 12]);
        hkdf_expand_label(suite.hash, secret, b"iv", b"", &mut iv[..]);
        TrafficKeys { key, iv }
    }
}

/// application_traffic_secret_N+1 (RFC 8446 §7.2).
pub(super) fn next_traffic_secret(hash: SuiteHash, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut next = Zeroizing::new(vec![0u8; hash.output_len()]);
    hkdf_expand_label(hash, secret, b"traffic upd", b"", &mut next);
    next
}

/// The output length ring's HKDF is asked for.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1): HKDF-Expand(secret, HkdfLabel, out.len()) with
/// HkdfLabel = length (u16) || "tls13 " + label (u8-prefixed) || context (u8-prefixed).
/// Labels and contexts here are short constants and outputs at most 48 bytes, well inside
/// HKDF's limit of 255 hash lengths.
pub(super) fn hkdf_expand_label(
    hash: SuiteHash,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) {
    let algorithm = match hash {
        SuiteHash::Sha256 => hkdf::HKDF_SHA256,
        SuiteHash::Sha384 => hkdf::HKDF_SHA384,
    };
    let prk = hkdf::Prk::new_less_safe(algorithm, secret);
    let length = u16::try_from(out.len()).unwrap_or(u16::MAX).to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).unwrap_or(u8::MAX)];
    let context_len = [u8::try_from(context.len()).unwrap_or(u8::MAX)];
    let info: [&[u8]; 6] = [&length, &label_len, b"tls13 ", label, &context_len, context];
    let filled = prk
        .expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out));
    if filled.is_err() {
        // Only an output longer than 255 hash lengths fails; none is asked for.
        out.fill(0);
    }
}
