//! TLS session secrets matched by client random: the NSS key log format (`SSLKEYLOGFILE`, as
//! curl, browsers, Python, Go, Java agents and `openssl s_client -keylogfile` write it; the
//! same text a pcapng Decryption Secrets Block of type `TLSK` holds).
//!
//! A [`KeyLog`] is a shared, growing store: files given on the command line, secrets blocks
//! met while reading a capture and a key log followed during live capture all add to it, and
//! every connection looks its secrets up by client random when it needs them. Secrets are
//! zeroed when dropped and never printed (their `Debug` says `[secret]`).

use std::sync::{Arc, RwLock};

use hashbrown::HashMap;
use zeroize::Zeroizing;

/// At most this many warnings are kept word for word; later ones are only counted.
const MAX_WARNINGS: usize = 20;

/// One secret: its bytes are zeroed on drop and never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// The secret's bytes (for key derivation only).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[secret]")
    }
}

/// The secrets logged for one TLS session (one client random).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionSecrets {
    /// `CLIENT_RANDOM`: the TLS 1.0-1.2 master secret (48 bytes).
    pub master_secret: Option<Secret>,
    /// `CLIENT_EARLY_TRAFFIC_SECRET` (TLS 1.3 0-RTT data).
    pub client_early_traffic: Option<Secret>,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake_traffic: Option<Secret>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake_traffic: Option<Secret>,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic_0: Option<Secret>,
    /// `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic_0: Option<Secret>,
    /// `EXPORTER_SECRET` (kept so an evidence file carries the whole session's lines).
    pub exporter: Option<Secret>,
}

/// The labels of the NSS key log format, in the order an evidence file writes them.
const LABELS: [&str; 7] = [
    "CLIENT_RANDOM",
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
];

impl SessionSecrets {
    fn slot(&mut self, label: &str) -> Option<&mut Option<Secret>> {
        Some(match label {
            "CLIENT_RANDOM" => &mut self.master_secret,
            "CLIENT_EARLY_TRAFFIC_SECRET" => &mut self.client_early_traffic,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut self.client_handshake_traffic,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut self.server_handshake_traffic,
            "CLIENT_TRAFFIC_SECRET_0" => &mut self.client_traffic_0,
            "SERVER_TRAFFIC_SECRET_0" => &mut self.server_traffic_0,
            "EXPORTER_SECRET" => &mut self.exporter,
            _ => return None,
        })
    }

    fn get(&self, label: &str) -> Option<&Secret> {
        match label {
            "CLIENT_RANDOM" => self.master_secret.as_ref(),
            "CLIENT_EARLY_TRAFFIC_SECRET" => self.client_early_traffic.as_ref(),
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => self.client_handshake_traffic.as_ref(),
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => self.server_handshake_traffic.as_ref(),
            "CLIENT_TRAFFIC_SECRET_0" => self.client_traffic_0.as_ref(),
            "SERVER_TRAFFIC_SECRET_0" => self.server_traffic_0.as_ref(),
            "EXPORTER_SECRET" => self.exporter.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct Store {
    sessions: HashMap<[u8; 32], SessionSecrets, foldhash::fast::RandomState>,
    /// Bumped whenever a secret is added: a connection waiting for keys looks again only then.
    generation: u64,
    warnings: Vec<String>,
    /// Warnings beyond [`MAX_WARNINGS`], counted.
    more_warnings: u64,
}

impl Store {
    fn warn(&mut self, warning: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else {
            self.more_warnings += 1;
        }
    }
}

/// Why a key log file could not be read at all.
#[derive(Debug, thiserror::Error)]
#[error("key log {path}: {source}")]
pub struct KeyLogError {
    path: String,
    #[source]
    source: std::io::Error,
}

/// A shared store of TLS session secrets, keyed by client random. Cloning is cheap and every
/// clone sees the same secrets.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    store: Arc<RwLock<Store>>,
    /// Secrets may still arrive for connections already under way (a key log followed during
    /// live capture): their records wait for them, bounded.
    live: Arc<std::sync::atomic::AtomicBool>,
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> KeyLog {
        KeyLog::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads a key log file whole; returns how many secrets it added. Malformed lines are
    /// warnings naming the file and line ([`KeyLog::take_warnings`]).
    pub fn load_file(&self, path: &std::path::Path) -> Result<usize, KeyLogError> {
        let bytes = std::fs::read(path).map_err(|source| KeyLogError {
            path: path.display().to_string(),
            source,
        })?;
        Ok(self.add_text(
            &path.display().to_string(),
            &String::from_utf8_lossy(&bytes),
            1,
        ))
    }

    /// Adds the secrets of NSS key log text; `source` names it in warnings (a file, "pcapng
    /// secrets block at frame N") and `first_line` is the line number of its first line.
    /// Comments (`#`) and blank lines are skipped; a malformed line is a warning and skipped.
    /// Returns how many secrets were added.
    pub fn add_text(&self, source: &str, text: &str, first_line: usize) -> usize {
        let mut store = self.write();
        let mut added = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok(Some((label, random, secret))) => {
                    let session = store.sessions.entry(random).or_default();
                    if let Some(slot) = session.slot(label) {
                        *slot = Some(secret);
                        added += 1;
                    }
                }
                Ok(None) => {}
                Err(why) => {
                    let n = first_line + i;
                    store.warn(format!("{source}:{n}: {why}; line skipped"));
                }
            }
        }
        if added > 0 {
            store.generation += 1;
        }
        added
    }

    /// The secrets logged for the session with this client random.
    pub fn lookup(&self, client_random: &[u8; 32]) -> Option<SessionSecrets> {
        self.read().sessions.get(client_random).cloned()
    }

    /// Marks the key log as followed while capturing: a connection whose secrets are not
    /// there yet keeps its first records (bounded) until they arrive.
    pub fn set_live(&self) {
        self.live.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// See [`KeyLog::set_live`].
    pub fn is_live(&self) -> bool {
        self.live.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Changes whenever secrets are added: a connection still without its keys looks them up
    /// again only when this moved.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// How many sessions have secrets.
    pub fn len(&self) -> usize {
        self.read().sessions.len()
    }

    /// No secret at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The warnings so far (malformed lines), each once; the last one counts those not kept.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut store = self.write();
        let mut out = std::mem::take(&mut store.warnings);
        let more = std::mem::take(&mut store.more_warnings);
        if more > 0 {
            out.push(format!("{more} more malformed key log lines skipped"));
        }
        out
    }

    /// The NSS key log lines of the given sessions (those with secrets), for embedding in an
    /// evidence file's secrets block. This is secret material: it must go nowhere else.
    pub fn nss_lines(&self, client_randoms: impl IntoIterator<Item = [u8; 32]>) -> String {
        let store = self.read();
        let mut out = String::new();
        for random in client_randoms {
            let Some(session) = store.sessions.get(&random) else {
                continue;
            };
            for label in LABELS {
                if let Some(secret) = session.get(label) {
                    out.push_str(label);
                    out.push(' ');
                    push_hex(&mut out, &random);
                    out.push(' ');
                    push_hex(&mut out, secret.bytes());
                    out.push('\n');
                }
            }
        }
        out
    }
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// A key log line's label, client random and secret.
type KeyLine<'a> = (&'a str, [u8; 32], Secret);

/// One key log line: `LABEL <client random hex> <secret hex>`. `Ok(None)` for a well-formed
/// line of a label faultline does not use (`RSA`, QUIC-only labels...). The error never
/// quotes the line (it holds a secret).
fn parse_line(line: &str) -> Result<Option<KeyLine<'_>>, &'static str> {
    let mut words = line.split_ascii_whitespace();
    let (Some(label), Some(random), Some(secret), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err("not three words (LABEL CLIENT_RANDOM SECRET)");
    };
    if !label
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("the label is not an NSS key log label");
    }
    let random = unhex(random).ok_or("the client random is not hex")?;
    let secret = Zeroizing::new(unhex(secret).ok_or("the secret is not hex")?);
    if label == "RSA" {
        // `RSA <encrypted pre-master prefix> <pre-master>`: not keyed by client random.
        return Ok(None);
    }
    let random: [u8; 32] = random
        .try_into()
        .map_err(|_| "the client random is not 32 bytes")?;
    if !LABELS.contains(&label) {
        return Ok(None);
    }
    let expected = if label == "CLIENT_RANDOM" {
        secret.len() == 48
    } else {
        matches!(secret.len(), 32 | 48)
    };
    if !expected {
        return Err("the secret has the wrong length for its label");
    }
    Ok(Some((label, random, Secret(secret))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "52362c10a2665e323a2adb4b9da0c10d4a8823719272f8b4c97af24f92784812";

    #[test]
    fn lines_are_matched_by_client_random_and_bad_lines_warned_by_number() {
        let keys = KeyLog::new();
        let master = "ab".repeat(48);
        let traffic = "cd".repeat(32);
        let text = format!(
            "# comment\n\nCLIENT_RANDOM {RANDOM} {master}\nSERVER_TRAFFIC_SECRET_0 {RANDOM} {traffic}\n\
             CLIENT_RANDOM zz {master}\nCLIENT_RANDOM {RANDOM}\nRSA 0011223344556677 {master}\n\
             CLIENT_TRAFFIC_SECRET_0 {RANDOM} abcd\n"
        );
        assert_eq!(keys.add_text("keys.txt", &text, 1), 2);
        let random: [u8; 32] = unhex(RANDOM).unwrap().try_into().unwrap();
        let session = keys.lookup(&random).expect("session");
        assert_eq!(session.master_secret.unwrap().bytes(), &[0xab; 48][..]);
        assert_eq!(session.server_traffic_0.unwrap().bytes(), &[0xcd; 32][..]);
        assert!(session.client_traffic_0.is_none());
        let warnings = keys.take_warnings();
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("keys.txt:5: the client random is not hex"));
        assert!(warnings[1].starts_with("keys.txt:6: not three words"));
        assert!(warnings[2].starts_with("keys.txt:8: the secret has the wrong length"));
        for w in &warnings {
            assert!(!w.contains("abab"), "a warning quoted a secret: {w}");
        }
        assert_eq!(keys.generation(), 1);
    }

    #[test]
    fn secrets_never_print_and_evidence_lines_round_trip() {
        let keys = KeyLog::new();
        let master = "0f".repeat(48);
        keys.add_text("k", &format!("CLIENT_RANDOM {RANDOM} {master}"), 1);
        let random: [u8; 32] = unhex(RANDOM).unwrap().try_into().unwrap();
        let shown = format!("{:?} {:?}", keys.lookup(&random), keys);
        assert!(!shown.contains("0f0f"), "{shown}");
        let lines = keys.nss_lines([random, [0; 32]]);
        assert_eq!(lines, format!("CLIENT_RANDOM {RANDOM} {master}\n"));
        let again = KeyLog::new();
        assert_eq!(again.add_text("evidence", &lines, 1), 1);
        assert_eq!(again.lookup(&random), keys.lookup(&random));
    }
}
