//! A TLS 1.2 connection built by hand with real cryptography, and its key log: the client
//! random, a chosen master secret, the key block from the TLS 1.2 PRF (RFC 5246 §5, §6.3) and
//! AES-128-GCM records (RFC 5288) with ring. Wireshark decrypts it with the key log line, so
//! tests can check what reaches a decoder that was given the secrets.

#![allow(dead_code)]

use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hmac;

use super::crafted::{Capture, Tcp};

/// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
pub const CIPHER: u16 = 0xc02f;

/// One keyed TLS 1.2 session: its randoms, master secret and traffic keys.
pub struct Session {
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub master_secret: [u8; 48],
    keys: [Direction; 2],
}

struct Direction {
    key: LessSafeKey,
    iv: [u8; 4],
    seq: u64,
}

/// P_SHA256 (RFC 5246 §5): `len` bytes from `secret`, `label` and `seed`.
fn prf(secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let label_seed = [label, seed].concat();
    let mut a = hmac::sign(&key, &label_seed).as_ref().to_vec();
    let mut out = Vec::new();
    while out.len() < len {
        out.extend(hmac::sign(&key, &[a.as_slice(), &label_seed].concat()).as_ref());
        a = hmac::sign(&key, &a).as_ref().to_vec();
    }
    out.truncate(len);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 3, 3];
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(body);
    out
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![msg_type];
    out.extend(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend(body);
    out
}

impl Session {
    /// A session whose randoms and master secret are derived from `seed`.
    pub fn new(seed: u8) -> Session {
        let client_random = [seed; 32];
        let mut server_random = [seed.wrapping_add(1); 32];
        server_random[0] = 0x5e;
        let master_secret = [seed ^ 0xa5; 48];
        let block = prf(
            &master_secret,
            b"key expansion",
            &[server_random.as_slice(), &client_random].concat(),
            40,
        );
        let direction = |key: &[u8], iv: &[u8]| Direction {
            key: LessSafeKey::new(UnboundKey::new(&AES_128_GCM, key).expect("16-byte key")),
            iv: iv.try_into().expect("4-byte iv"),
            seq: 0,
        };
        Session {
            client_random,
            server_random,
            master_secret,
            keys: [
                direction(&block[0..16], &block[32..36]),
                direction(&block[16..32], &block[36..40]),
            ],
        }
    }

    /// The session's NSS key log line.
    pub fn key_log_line(&self) -> String {
        format!(
            "CLIENT_RANDOM {} {}\n",
            hex(&self.client_random),
            hex(&self.master_secret)
        )
    }

    /// The ClientHello record (SNI `api.example`, one cipher suite).
    pub fn client_hello(&self) -> Vec<u8> {
        let name = b"api.example";
        let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
        sni.push(0);
        sni.extend((name.len() as u16).to_be_bytes());
        sni.extend(name);
        let mut exts = vec![0, 0];
        exts.extend((sni.len() as u16).to_be_bytes());
        exts.extend(sni);
        let mut body = vec![3, 3];
        body.extend(self.client_random);
        body.push(0);
        body.extend([0, 2]);
        body.extend(CIPHER.to_be_bytes());
        body.extend([1, 0]);
        body.extend((exts.len() as u16).to_be_bytes());
        body.extend(exts);
        record(22, &handshake(1, &body))
    }

    /// ServerHello and ServerHelloDone in one record.
    pub fn server_hello(&self) -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend(self.server_random);
        body.push(0);
        body.extend(CIPHER.to_be_bytes());
        body.push(0);
        let mut messages = handshake(2, &body);
        messages.extend(handshake(14, &[]));
        record(22, &messages)
    }

    /// A record of `content_type` holding `plaintext`, encrypted by the client (`from_client`)
    /// or the server with the next sequence number.
    pub fn encrypt(&mut self, from_client: bool, content_type: u8, plaintext: &[u8]) -> Vec<u8> {
        let dir = &mut self.keys[usize::from(!from_client)];
        let explicit = dir.seq.to_be_bytes();
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&dir.iv);
        nonce[4..].copy_from_slice(&explicit);
        let mut aad = dir.seq.to_be_bytes().to_vec();
        aad.extend([content_type, 3, 3]);
        aad.extend((plaintext.len() as u16).to_be_bytes());
        let mut sealed = plaintext.to_vec();
        dir.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut sealed,
            )
            .expect("sealing cannot fail");
        dir.seq += 1;
        record(content_type, &[explicit.as_slice(), &sealed].concat())
    }

    /// The client's ClientKeyExchange, ChangeCipherSpec and encrypted Finished (one segment).
    pub fn client_finished(&mut self) -> Vec<u8> {
        let mut out = record(22, &handshake(16, &[32; 33]));
        out.extend(record(20, &[1]));
        out.extend(self.encrypt(true, 22, &handshake(20, &[0x11; 12])));
        out
    }

    /// The server's ChangeCipherSpec and encrypted Finished.
    pub fn server_finished(&mut self) -> Vec<u8> {
        let mut out = record(20, &[1]);
        out.extend(self.encrypt(false, 22, &handshake(20, &[0x22; 12])));
        out
    }
}

/// A TLS 1.2 call to port 443 whose request the server acknowledged and never answered: the
/// client gave up after 30 s and closed. Returns the capture and the session.
pub fn unanswered_call(seed: u8, request: &[u8]) -> (Capture, Session) {
    let mut cap = Capture::default();
    let mut session = Session::new(seed);
    let mut tcp = Tcp::open(&mut cap, 50_000 + u16::from(seed), 443);
    tcp.send(&mut cap, true, &session.client_hello());
    tcp.send(&mut cap, false, &session.server_hello());
    let finished = session.client_finished();
    tcp.send(&mut cap, true, &finished);
    let finished = session.server_finished();
    tcp.send(&mut cap, false, &finished);
    let request = session.encrypt(true, 23, request);
    tcp.send(&mut cap, true, &request);
    cap.now_ns += 30_000_000_000;
    tcp.close(&mut cap);
    (cap, session)
}
