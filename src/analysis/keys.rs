//! TLS secrets for one capture: the pcapng secrets blocks the reader meets go into the run's
//! [`KeyLog`], the key log's warnings become a capture note, and the connections are counted
//! by how far their encrypted records could be read.

use serde::Serialize;

use crate::app::tls::{DecryptionState, KeyLog};
use crate::diagnose::{CaptureNote, CaptureNoteKind};
use crate::source::{ReadSummary, TlsSecretsSink};

/// TLS connections by decryption state (those that never turned encrypted are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DecryptionCounts {
    /// Every encrypted record was decrypted.
    pub decrypted: u64,
    /// Decrypted until a gap or a failed record; the rest was not read.
    pub partial: u64,
    /// Secrets were found but did not authenticate the records (wrong keys).
    pub keys_did_not_decrypt: u64,
    /// Encrypted, and no secrets for the session.
    pub no_keys: u64,
    /// Secrets were found for a cipher suite faultline does not decrypt.
    pub unsupported_cipher: u64,
}

impl DecryptionCounts {
    /// Counts one TLS connection.
    pub fn add(&mut self, state: DecryptionState) {
        match state {
            DecryptionState::Decrypted => self.decrypted += 1,
            DecryptionState::Partial => self.partial += 1,
            DecryptionState::KeysDidNotDecrypt => self.keys_did_not_decrypt += 1,
            DecryptionState::NoKeys => self.no_keys += 1,
            DecryptionState::UnsupportedCipher => self.unsupported_cipher += 1,
            _ => {}
        }
    }

    /// Adds another capture's counts.
    pub fn merge(&mut self, other: &DecryptionCounts) {
        self.decrypted += other.decrypted;
        self.partial += other.partial;
        self.keys_did_not_decrypt += other.keys_did_not_decrypt;
        self.no_keys += other.no_keys;
        self.unsupported_cipher += other.unsupported_cipher;
    }

    /// Encrypted TLS connections counted.
    pub fn total(&self) -> u64 {
        self.decrypted
            + self.partial
            + self.keys_did_not_decrypt
            + self.no_keys
            + self.unsupported_cipher
    }

    /// `3 decrypted, 1 partial, 2 no keys` (the states with connections, in this order).
    pub fn describe(&self) -> String {
        let parts = [
            (self.decrypted, "decrypted"),
            (self.partial, "partially decrypted"),
            (self.keys_did_not_decrypt, "keys did not decrypt"),
            (self.no_keys, "no keys"),
            (self.unsupported_cipher, "unsupported cipher"),
        ];
        let text: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        text.join(", ")
    }
}

/// The sink a capture reader hands its `TLSK` secrets blocks to: their lines join `keys` (and
/// apply from there on); a malformed line is a warning naming the capture and the block.
pub(super) fn secrets_sink(keys: KeyLog, path: &str) -> TlsSecretsSink {
    let path = path.to_owned();
    Box::new(move |block| {
        let source = format!("{path} (secrets block after frame {})", block.after_frame);
        keys.add_text(&source, &String::from_utf8_lossy(block.text), 1);
    })
}

/// What went wrong with the secrets so far: the key log lines skipped (`warnings`, from
/// [`KeyLog::take_warnings`]) and the secrets blocks of kinds faultline does not use. Returns
/// one warning a problem (for standard error) and the capture note that lists them all.
pub(super) fn key_log_problems(
    warnings: Vec<String>,
    read: &ReadSummary,
) -> (Vec<String>, Option<CaptureNote>) {
    let mut parts = Vec::new();
    if !warnings.is_empty() {
        parts.push(format!(
            "malformed key log lines skipped: {}",
            warnings.join("; ")
        ));
    }
    let mut lines = warnings;
    for (kind, n) in &read.other_secrets_blocks {
        let text =
            format!("{n} secrets block(s) of type {kind} skipped (only TLS key logs are used)");
        parts.push(text.clone());
        lines.push(text);
    }
    if parts.is_empty() {
        return (lines, None);
    }
    let note = CaptureNote::new(
        CaptureNoteKind::KeyLog,
        format!("key log: {}", parts.join("; ")),
        Vec::new(),
    );
    (lines, Some(note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_describe_only_the_states_seen() {
        let mut counts = DecryptionCounts::default();
        for state in [
            DecryptionState::NotEncrypted,
            DecryptionState::Decrypted,
            DecryptionState::Decrypted,
            DecryptionState::NoKeys,
            DecryptionState::Partial,
        ] {
            counts.add(state);
        }
        assert_eq!(counts.total(), 4);
        assert_eq!(
            counts.describe(),
            "2 decrypted, 1 partially decrypted, 1 no keys"
        );
    }

    #[test]
    fn the_note_names_lines_and_skipped_kinds_and_nothing_else() {
        let read = ReadSummary {
            other_secrets_blocks: vec![("WireGuard key log", 2)],
            ..ReadSummary::default()
        };
        let line = "keys.txt:3: the secret is not hex; line skipped".to_string();
        let (lines, note) = key_log_problems(vec![line.clone()], &read);
        let note = note.expect("a note");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], line);
        assert_eq!(note.code, "capture.key_log");
        assert_eq!(
            note.text,
            "key log: malformed key log lines skipped: keys.txt:3: the secret is not hex; line \
             skipped; 2 secrets block(s) of type WireGuard key log skipped (only TLS key logs are \
             used)"
        );
        assert_eq!(
            key_log_problems(Vec::new(), &ReadSummary::default()),
            (Vec::new(), None)
        );
    }
}
