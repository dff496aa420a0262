//! Decryption of one connection's records with the key log's secrets (sans-IO): which keys
//! protect each record, in what order they change, and what the plaintext is.
//!
//! Each direction keeps the keys it may use next, in the order the protocol switches to them:
//! TLS 1.0-1.2, one set derived from the master secret after ChangeCipherSpec; TLS 1.3, the
//! client's early-data keys (when it offered 0-RTT and the secret is logged), then handshake
//! keys, then application keys, each KeyUpdate adding the next generation. A decrypted
//! Finished moves its direction to the next keys; a record the current keys do not open is
//! tried with the later ones (a server that refused 0-RTT, a capture that missed the
//! Finished). A record that nothing opens is never passed on: its plaintext is unknown, and
//! garbage is never parsed as HTTP.
//!
//! After a TCP gap the record boundaries and sequence numbers are lost: the record reader
//! offers each possible record after the gap ([`Candidate`](super::record::RecordEvent)) and
//! the current keys try the sequence numbers the lost bytes could have used; the first that
//! authenticates puts the direction back in step.

use super::decrypt::{RecordOpener, Suite};
use super::keylog::{KeyLog, SessionSecrets};
use super::record::{ALERT, APPLICATION_DATA, HANDSHAKE};
use super::{ClientHello, DecryptionState, ServerHello, is_tls13_version};
use crate::tcp::Origin;

/// Handshake types that move a direction's keys on (RFC 8446 §4.4.4, §4.6.3).
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

/// A direction whose first records all fail gives up after this many.
const MAX_FAILED_WITHOUT_OPEN: u32 = 8;
/// After a gap, at most this many sequence numbers are tried per possible record.
const MAX_SEQ_TRIES: u64 = 64;
/// While a live key log may still bring a connection's secrets, at most this many bytes of
/// its records wait for them.
const MAX_WAITING_BYTES: usize = 256 * 1024;

/// What decrypting one record gave.
#[derive(Debug)]
pub(super) enum Opened {
    /// The record's content type (TLS 1.3: the inner one); its plaintext is
    /// [`Decryptor::take_plain`]'s.
    Plain { content_type: u8 },
    /// No keys for it (none logged, or not yet: the record waits when the key log is live).
    NoKeys,
    /// The keys did not authenticate it.
    Failed,
}

/// The keys of one direction.
#[derive(Debug, Default)]
struct Direction {
    /// Keys in the order the direction switches to them; `current` indexes the one in use.
    keys: Vec<RecordOpener>,
    current: usize,
    opened: u64,
    failed_without_open: u32,
    /// Lost step (a gap, or a record nothing opened): records are not trusted until a
    /// candidate after a gap opens again.
    lost: bool,
    /// Bytes lost since step was lost (a bound on the sequence numbers to try).
    gap_bytes: u64,
    /// Stream offset just past the last record opened.
    end: u64,
    /// Bytes each record adds to its plaintext (header, explicit nonce, tag, TLS 1.3's inner
    /// type), when the same for every record opened so far (AEAD suites without padding).
    overhead: Overhead,
}

/// What the records of a direction add to their plaintext.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Overhead {
    #[default]
    Unknown,
    Fixed(u64),
    /// CBC padding, TLS 1.3 padding: the plaintext lost in a gap cannot be told exactly.
    Varies,
}

impl Overhead {
    fn add(self, overhead: u64) -> Overhead {
        match self {
            Overhead::Unknown => Overhead::Fixed(overhead),
            Overhead::Fixed(o) if o == overhead => self,
            _ => Overhead::Varies,
        }
    }
}

impl Direction {
    /// A record at stream offset `start` opened to `plaintext` bytes.
    fn opened_record(&mut self, start: u64, body: usize, plaintext: usize) {
        self.opened += 1;
        self.end = start + 5 + body as u64;
        self.overhead = self
            .overhead
            .add((5 + body).saturating_sub(plaintext) as u64);
    }
}

/// Where the secrets of this connection stand.
#[derive(Debug, Default)]
enum Secrets {
    /// Not looked up yet.
    #[default]
    NotLooked,
    /// None in the key log as of this generation.
    Missing { generation: u64 },
    /// Found; the openers were built from them.
    Found,
    /// Found, but the suite or version is one faultline does not decrypt.
    Unsupported,
}

/// Decryption state of one connection.
#[derive(Debug, Default)]
pub(super) struct Decryptor {
    secrets: Secrets,
    dirs: [Direction; 2],
    /// Scratch buffer for one record's plaintext.
    plain: Vec<u8>,
    /// Records waiting for secrets a live key log has not brought yet.
    waiting: Vec<Waiting>,
    waiting_bytes: usize,
    /// Records seen encrypted with no secrets to open them.
    pub(super) no_keys: bool,
    pub(super) failed_at: Option<Origin>,
    pub(super) gap_at: Option<Origin>,
    pub(super) resynced: u32,
    /// A record failed after others of its direction had opened, or bytes were lost.
    pub(super) partial: bool,
}

/// A record kept until a live key log brings its connection's secrets.
#[derive(Debug)]
pub(super) struct Waiting {
    pub from_client: bool,
    pub origin: Origin,
    pub start: u64,
    pub header: [u8; 5],
    pub body: Vec<u8>,
}

/// The index of a direction in per-direction arrays: the client's 0, the server's 1.
pub(super) fn index(from_client: bool) -> usize {
    usize::from(!from_client)
}

impl Decryptor {
    /// Records decrypted, client then server.
    pub(super) fn records(&self) -> [u64; 2] {
        [self.dirs[0].opened, self.dirs[1].opened]
    }

    /// The state to report once the connection is over.
    pub(super) fn state(&self, any_encrypted: bool) -> DecryptionState {
        let opened = self.dirs.iter().any(|d| d.opened > 0);
        match self.secrets {
            _ if opened && (self.partial || self.failed_at.is_some()) => DecryptionState::Partial,
            _ if opened => DecryptionState::Decrypted,
            Secrets::Unsupported => DecryptionState::UnsupportedCipher,
            Secrets::Found if self.failed_at.is_some() => DecryptionState::KeysDidNotDecrypt,
            _ if any_encrypted => DecryptionState::NoKeys,
            _ => DecryptionState::NotEncrypted,
        }
    }

    /// Looks the session's secrets up (again, when the key log grew) and builds the keys.
    fn ensure_keys(
        &mut self,
        keys: &KeyLog,
        client: Option<&ClientHello>,
        server: Option<&ServerHello>,
    ) {
        let generation = match self.secrets {
            Secrets::NotLooked => None,
            Secrets::Missing { generation } => Some(generation),
            Secrets::Found | Secrets::Unsupported => return,
        };
        let (Some(client), Some(server)) = (client, server) else {
            return;
        };
        let now = keys.generation();
        if generation == Some(now) {
            return;
        }
        let Some(secrets) = keys.lookup(&client.random) else {
            self.secrets = Secrets::Missing { generation: now };
            return;
        };
        self.secrets = match build(&secrets, client, server) {
            Some([c, s]) => {
                self.dirs[0].keys = c;
                self.dirs[1].keys = s;
                Secrets::Found
            }
            None => Secrets::Unsupported,
        };
    }

    /// Decrypts one whole record of one direction. `live` says the key log may still grow:
    /// a record without secrets then waits (bounded) instead of being given up.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open(
        &mut self,
        keys: &KeyLog,
        live: bool,
        client: Option<&ClientHello>,
        server: Option<&ServerHello>,
        from_client: bool,
        origin: Origin,
        start: u64,
        header: [u8; 5],
        body: &[u8],
    ) -> Opened {
        self.ensure_keys(keys, client, server);
        if !matches!(self.secrets, Secrets::Found) {
            let waits = live
                && matches!(self.secrets, Secrets::Missing { .. } | Secrets::NotLooked)
                && self.waiting_bytes + body.len() <= MAX_WAITING_BYTES;
            if waits {
                self.waiting_bytes += body.len();
                self.waiting.push(Waiting {
                    from_client,
                    origin,
                    start,
                    header,
                    body: body.to_vec(),
                });
            } else {
                self.no_keys = true;
            }
            return Opened::NoKeys;
        }
        let dir = &mut self.dirs[index(from_client)];
        if dir.keys.is_empty() {
            // The key log holds this session's secrets for the other direction only (an
            // OpenSSL client that refused the certificate logs only the server's handshake
            // secret): this direction is not read, and the connection only partly.
            self.no_keys = true;
            self.partial = true;
            return Opened::NoKeys;
        }
        if dir.lost {
            return Opened::Failed;
        }
        self.plain.clear();
        match open_in_order(dir, header, body, &mut self.plain, 1) {
            Some(content_type) => {
                dir.opened_record(start, body.len(), self.plain.len());
                dir.failed_without_open = 0;
                Opened::Plain { content_type }
            }
            None => {
                self.failed_at.get_or_insert(origin);
                if dir.opened > 0 {
                    // The keys worked before: this record is lost, and with it the step.
                    self.partial = true;
                    dir.lost = true;
                } else {
                    dir.failed_without_open += 1;
                    if dir.failed_without_open >= MAX_FAILED_WITHOUT_OPEN {
                        dir.lost = true;
                    }
                }
                Opened::Failed
            }
        }
    }

    /// Records that waited for secrets, once the key log has them: taken in order to be
    /// opened again (empty while the secrets are still missing).
    pub(super) fn take_waiting(
        &mut self,
        keys: &KeyLog,
        client: Option<&ClientHello>,
        server: Option<&ServerHello>,
    ) -> Vec<Waiting> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        self.ensure_keys(keys, client, server);
        if matches!(self.secrets, Secrets::Found | Secrets::Unsupported) {
            self.waiting_bytes = 0;
            std::mem::take(&mut self.waiting)
        } else {
            Vec::new()
        }
    }

    /// Whether a record of this direction could still open (see
    /// [`Decrypted::wants_records`](super::plaintext::Decrypted::wants_records)).
    pub(super) fn may_open(&self, live: bool, from_client: bool) -> bool {
        let dir = &self.dirs[index(from_client)];
        match self.secrets {
            Secrets::NotLooked => true,
            Secrets::Missing { .. } => live,
            Secrets::Unsupported => false,
            // A direction that failed from its first record on has given up; one that lost
            // step after opening records still records the holes (in `open`).
            Secrets::Found => !(dir.lost && dir.opened == 0),
        }
    }

    /// True when a direction lost step (a record failed after others opened, or a gap).
    pub(super) fn lost_step(&self, from_client: bool) -> bool {
        let dir = &self.dirs[index(from_client)];
        dir.lost && dir.opened > 0
    }

    /// The connection ended with records still waiting: they had no keys.
    pub(super) fn finish(&mut self) {
        if !self.waiting.is_empty() {
            self.waiting = Vec::new();
            self.no_keys = true;
        }
    }

    /// A handshake message of this direction was decrypted: Finished moves it to the next
    /// keys (TLS 1.3), KeyUpdate to the next generation.
    pub(super) fn on_handshake(&mut self, from_client: bool, msg_type: u8, tls13: bool) {
        if !tls13 {
            return;
        }
        let dir = &mut self.dirs[index(from_client)];
        match msg_type {
            FINISHED if dir.current + 1 < dir.keys.len() => dir.current += 1,
            KEY_UPDATE => {
                let next = dir.keys.get(dir.current).map(|k| k.key_update());
                if let Some(Ok(next)) = next {
                    dir.keys.truncate(dir.current + 1);
                    dir.keys.push(next);
                    dir.current += 1;
                }
            }
            _ => {}
        }
    }

    /// Bytes of this direction were lost after decryption started: the records after them are
    /// searched for ([`Decryptor::try_candidate`]).
    pub(super) fn on_gap(&mut self, from_client: bool, origin: Origin, len: u64) -> bool {
        let dir = &mut self.dirs[index(from_client)];
        if !matches!(self.secrets, Secrets::Found) || dir.keys.is_empty() {
            return false;
        }
        self.gap_at.get_or_insert(origin);
        self.partial = true;
        dir.lost = true;
        dir.gap_bytes = dir.gap_bytes.saturating_add(len);
        true
    }

    /// A possible record after a gap at stream offset `start`: tries the current keys (and
    /// the next ones) at the sequence numbers the lost bytes could have used. When it opens,
    /// the direction is back in step and its plaintext is [`Decryptor::take_plain`]'s; returns
    /// its content type and, when it can be told exactly, how many plaintext bytes the lost
    /// records held (the lost span less each lost record's fixed overhead).
    pub(super) fn try_candidate(
        &mut self,
        from_client: bool,
        start: u64,
        header: [u8; 5],
        body: &[u8],
    ) -> Option<(u8, Option<u64>)> {
        let dir = &mut self.dirs[index(from_client)];
        // Each lost record held at least 22 bytes (header, one byte, an AEAD tag).
        let tries = (dir.gap_bytes / 22 + 2).min(MAX_SEQ_TRIES);
        let before = (dir.current, dir.keys.get(dir.current)?.seq());
        self.plain.clear();
        let content_type = open_in_order(dir, header, body, &mut self.plain, tries)?;
        let seq = dir.keys.get(dir.current)?.seq().saturating_sub(1);
        let lost = match dir.overhead {
            Overhead::Fixed(o) if dir.current == before.0 => {
                let records = seq.saturating_sub(before.1);
                start
                    .checked_sub(dir.end)
                    .and_then(|span| span.checked_sub(records * o))
            }
            _ => None,
        };
        dir.lost = false;
        dir.gap_bytes = 0;
        dir.opened_record(start, body.len(), self.plain.len());
        self.resynced += 1;
        Some((content_type, lost))
    }

    /// The plaintext of the record just opened (give the buffer back after use).
    pub(super) fn take_plain(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.plain)
    }

    /// Returns the buffer [`Decryptor::take_plain`] lent, for the next record.
    pub(super) fn give_back(&mut self, mut plain: Vec<u8>) {
        plain.clear();
        self.plain = plain;
    }
}

/// Opens a record with the direction's current keys, else a later set; `tries` sequence
/// numbers from the expected one (1 in step; more after a gap). Moves the direction to the
/// keys that opened it.
fn open_in_order(
    dir: &mut Direction,
    header: [u8; 5],
    body: &[u8],
    out: &mut Vec<u8>,
    tries: u64,
) -> Option<u8> {
    for k in dir.current..dir.keys.len() {
        let opener = &mut dir.keys[k];
        let start = opener.seq();
        // Later keys start at sequence 0; the current ones where they are.
        let first = if k == dir.current { start } else { 0 };
        for seq in first..first.saturating_add(tries) {
            opener.set_seq(seq);
            if let Ok(content_type) = opener.open(header, body, out) {
                dir.current = k;
                return Some(content_type);
            }
        }
        opener.set_seq(start);
    }
    None
}

/// The keys of both directions, in switching order: `None` when the suite or version is not
/// one faultline decrypts, or the secrets the version needs are missing.
fn build(
    secrets: &SessionSecrets,
    client: &ClientHello,
    server: &ServerHello,
) -> Option<[Vec<RecordOpener>; 2]> {
    let suite = Suite::from_id(server.cipher_suite)?;
    if is_tls13_version(server.version) {
        let mut c = Vec::new();
        let mut s = Vec::new();
        let add = |to: &mut Vec<RecordOpener>, secret: &Option<super::keylog::Secret>| {
            if let Some(secret) = secret
                && let Ok(opener) = RecordOpener::tls13(suite, secret.bytes())
            {
                to.push(opener);
            }
        };
        if client.early_data {
            add(&mut c, &secrets.client_early_traffic);
        }
        add(&mut c, &secrets.client_handshake_traffic);
        add(&mut c, &secrets.client_traffic_0);
        add(&mut s, &secrets.server_handshake_traffic);
        add(&mut s, &secrets.server_traffic_0);
        return (!c.is_empty() || !s.is_empty()).then_some([c, s]);
    }
    let master = secrets.master_secret.as_ref()?;
    let etm = client.encrypt_then_mac && server.encrypt_then_mac;
    let opener = |from_client| {
        RecordOpener::tls12(
            suite,
            server.version,
            master.bytes(),
            &client.random,
            &server.random,
            from_client,
            etm,
        )
        .ok()
    };
    Some([vec![opener(true)?], vec![opener(false)?]])
}

/// True for the record types a decrypted record can hold.
pub(super) fn known_inner_type(content_type: u8) -> bool {
    matches!(content_type, ALERT | HANDSHAKE | APPLICATION_DATA)
}
