//! `--evidence-keys`: the TLS secrets of the connections an evidence file holds, written into it
//! as pcapng Decryption Secrets Blocks so Wireshark opens it decrypted.
//!
//! A connection's secrets are found by the client random of its ClientHello, read from the
//! evidence frame that carries it (the record header, the handshake header and the version come
//! first: the random is bytes 11..43 of the segment). Its block is written just before that
//! frame: secrets apply from where they stand in the file, and nothing before a ClientHello
//! needs them. Nothing is written without `--evidence-keys`.

use hashbrown::HashSet;
use zeroize::Zeroizing;

use crate::app::tls::KeyLog;
use crate::decode::{Packet, Transport};

/// pcapng block type of a Decryption Secrets Block.
const DSB: u32 = 0x0000_000A;
/// Secrets type: TLS key log (`TLSK`).
const TLSK: u32 = 0x544c_534b;

/// The client random of a TLS ClientHello at the start of this packet's TCP payload.
pub fn client_random(packet: &Packet<'_>) -> Option<[u8; 32]> {
    let Transport::Tcp(segment) = &packet.transport else {
        return None;
    };
    let p = segment.payload;
    // Record: handshake (22), version 3.x; handshake message: ClientHello (1).
    if p.first() != Some(&22) || p.get(1) != Some(&3) || p.get(5) != Some(&1) {
        return None;
    }
    p.get(11..43)?.try_into().ok()
}

/// Writes the secrets of the sessions met, one block each, at most once a session.
#[derive(Debug)]
pub(super) struct SecretsWriter {
    keys: KeyLog,
    written: HashSet<[u8; 32], foldhash::fast::RandomState>,
}

impl SecretsWriter {
    pub(super) fn new(keys: KeyLog) -> Self {
        Self {
            keys,
            written: HashSet::default(),
        }
    }

    /// Sessions whose secrets were written.
    pub(super) fn sessions(&self) -> u64 {
        self.written.len() as u64
    }

    /// The block to write before the frame carrying the ClientHello with `random`: its
    /// session's key log lines, the first time it is met and when the key log has them.
    pub(super) fn block_for(
        &mut self,
        random: [u8; 32],
        big_endian: bool,
    ) -> Option<Zeroizing<Vec<u8>>> {
        if self.written.contains(&random) {
            return None;
        }
        let lines = Zeroizing::new(self.keys.nss_lines([random]));
        if lines.is_empty() {
            return None;
        }
        self.written.insert(random);
        Some(block(lines.as_bytes(), big_endian))
    }
}

/// A Decryption Secrets Block of type `TLSK` holding `text`, in the byte order of the section
/// (`big_endian`): block type, total length, secrets type, secrets length, the text padded to
/// 32 bits, total length.
pub(super) fn block(text: &[u8], big_endian: bool) -> Zeroizing<Vec<u8>> {
    let padded = text.len().next_multiple_of(4);
    let total = u32::try_from(20 + padded).unwrap_or(u32::MAX);
    let word = |w: u32| {
        if big_endian {
            w.to_be_bytes()
        } else {
            w.to_le_bytes()
        }
    };
    let mut out = Zeroizing::new(Vec::with_capacity(20 + padded));
    out.extend(word(DSB));
    out.extend(word(total));
    out.extend(word(TLSK));
    out.extend(word(text.len() as u32));
    out.extend(text);
    out.resize(16 + padded, 0);
    out.extend(word(total));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_padded_and_framed_by_its_length() {
        let b = block(b"CLIENT_RANDOM 1", false);
        assert_eq!(b.len(), 20 + 16);
        assert_eq!(&b[..4], &10u32.to_le_bytes());
        assert_eq!(&b[4..8], &36u32.to_le_bytes());
        assert_eq!(&b[8..12], b"KSLT");
        assert_eq!(&b[12..16], &15u32.to_le_bytes());
        assert_eq!(&b[16..31], b"CLIENT_RANDOM 1");
        assert_eq!(b[31], 0);
        assert_eq!(&b[32..], &36u32.to_le_bytes());
    }

    #[test]
    fn each_session_is_written_once_and_only_when_it_has_secrets() {
        let keys = KeyLog::new();
        let random = [7u8; 32];
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        keys.add_text(
            "k",
            &format!("CLIENT_RANDOM {} {}", hex(&random), hex(&[1; 48])),
            1,
        );
        let mut writer = SecretsWriter::new(keys);
        assert!(writer.block_for([8; 32], false).is_none());
        let block = writer.block_for(random, false).expect("a block");
        let text = String::from_utf8_lossy(&block[16..]);
        assert!(text.starts_with(&format!("CLIENT_RANDOM {}", hex(&random))));
        assert!(writer.block_for(random, false).is_none());
        assert_eq!(writer.sessions(), 1);
    }
}
