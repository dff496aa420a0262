//! TLS: what each connection's handshake showed in clear, and how far each direction got.
//!
//! [`TlsConn`] takes the reassembled bytes of both directions and follows the record layer
//! ([`record::RecordReader`]); handshake messages are read with `tls-parser` ([`hello`]). Once a
//! direction turns encrypted only record headers are followed (type and size), so nothing of
//! the payload is kept.

mod alert;
mod cert;
pub mod decrypt;
mod decrypting;
mod decryption;
mod hello;
pub mod keylog;
mod plaintext;
mod progress;
mod record;
mod sniff;
mod validate;

use sniff::{looks_like_text, starts_handshake_record};
pub use sniff::{refuses_plain_http, starts_client_hello};

pub use alert::{alert_cause_code, alert_code, alert_name};
pub use cert::CertInfo;
pub use decryption::{Decryption, DecryptionState, HandshakeSeen, MAX_HANDSHAKE_LOG};
pub use hello::{CertificateChain, ClientHello, ServerHello, cipher_name, version_name};
pub use keylog::{KeyLog, SessionSecrets};
pub use record::{
    FRAGMENTED_ALERT, HALF_ALERT, INTERLEAVED_HANDSHAKE, MAX_HANDSHAKE_MESSAGE, OVERSIZE_RECORD,
    Stopped,
};
pub use validate::{TrustStore, Validation};

use crate::tcp::{Origin, StreamChunk};

use hello::Message;
use record::{
    ALERT, APPLICATION_DATA, Body, CHANGE_CIPHER_SPEC, HANDSHAKE, RecordEvent, RecordReader,
};

/// At most this many alerts and encrypted records are kept per direction.
const MAX_ALERTS: usize = 4;
const MAX_ENCRYPTED_NOTES: usize = 8;

/// TLS version numbers.
pub const TLS12: u16 = 0x0303;
pub const TLS13: u16 = 0x0304;

/// True for TLS 1.3 and its drafts (0x7fxx), as a ServerHello names the version.
pub(crate) fn is_tls13_version(version: u16) -> bool {
    version == TLS13 || (0x7f00..=0x7fff).contains(&version)
}

/// An alert: sent in clear, or encrypted and decrypted with the key log's secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub frame: u64,
    pub ts_ns: i64,
    /// 1 warning, 2 fatal.
    pub level: u8,
    pub description: u8,
    pub from_client: bool,
    /// It was encrypted, and read by decrypting it.
    pub decrypted: bool,
}

/// A record seen once its direction was encrypted: only its type and size are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedRecord {
    pub frame: u64,
    pub ts_ns: i64,
    pub content_type: u8,
    pub length: u16,
}

/// What one direction's records showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsDirection {
    pub records: u64,
    /// The frame that carried the first record header.
    pub first_record: Option<Origin>,
    pub change_cipher_spec: Option<Origin>,
    /// The frame of the first record this direction sent encrypted.
    pub encrypted_from: Option<Origin>,
    /// Alerts in clear, the first [`MAX_ALERTS`].
    pub alerts: Vec<Alert>,
    /// application_data records (in TLS 1.3 every encrypted record is one).
    pub application_data_records: u64,
    pub first_application_data: Option<Origin>,
    /// The first encrypted records with their sizes.
    pub encrypted_records: Vec<EncryptedRecord>,
    /// The last record this direction sent once encrypted, whatever its type.
    pub last_record: Option<EncryptedRecord>,
    /// The last encrypted record that can carry application data: an application_data record
    /// that, in TLS 1.3, is larger than an alert ([`MAX_ENCRYPTED_ALERT`]). Alert records
    /// (TLS <= 1.2 content type 21, TLS 1.3 alert-sized records) are not payload.
    pub last_payload: Option<EncryptedRecord>,
    /// How many records [`Self::last_payload`] counted (TLS 1.3: the Finished flight too).
    pub payload_records: u64,
    /// The latest handshake message in clear: type and frame.
    pub last_handshake: Option<(u8, Origin)>,
    /// Why the direction stopped being followed.
    pub stopped: Option<Stopped>,
    /// Handshake messages tls-parser could not read, or too large to keep.
    pub unreadable_messages: u32,
    /// A ChangeCipherSpec was sent: the next record is the first encrypted one.
    ccs_pending: bool,
}

/// Everything a connection's TLS showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// The first ClientHello (and how many there were: 2 after a HelloRetryRequest).
    pub client_hello: Option<ClientHello>,
    pub client_hellos: u32,
    /// The ServerHello (not a HelloRetryRequest).
    pub server_hello: Option<ServerHello>,
    pub hello_retry: Option<ServerHello>,
    pub server_certificates: Option<CertificateChain>,
    pub certificate_request: Option<Origin>,
    /// The client's Certificate message (TLS <= 1.2) and how many certificates it held.
    pub client_certificate: Option<(Origin, usize)>,
    pub server_hello_done: Option<Origin>,
    pub client: TlsDirection,
    pub server: TlsDirection,
    /// The server's answer to a plain HTTP request names itself a TLS port (nginx's and
    /// Apache's 400 pages).
    pub plain_http_refused: Option<Origin>,
    /// The server's first bytes were text, not a TLS record: it answered the ClientHello in
    /// another protocol (an HTTP error page, a banner).
    pub server_text: Option<Origin>,
    /// What the record layer read despite broken rules (both directions), by reason
    /// ([`OVERSIZE_RECORD`], [`FRAGMENTED_ALERT`], [`HALF_ALERT`], [`INTERLEAVED_HANDSHAKE`]).
    pub anomalies: crate::app::Anomalies,
    /// How far the encrypted records could be read with the key log's secrets.
    pub decryption: Decryption,
    /// The handshake messages seen, in clear and decrypted, in stream order per direction
    /// (the first [`MAX_HANDSHAKE_LOG`]).
    pub handshake_log: Vec<HandshakeSeen>,
}

impl TlsFacts {
    /// The version the server chose.
    pub fn version(&self) -> Option<u16> {
        self.server_hello.as_ref().map(|s| s.version)
    }

    /// True for TLS 1.3, where everything after the ServerHello is encrypted.
    pub fn is_tls13(&self) -> bool {
        self.version().is_some_and(is_tls13_version)
    }

    /// The direction from one side.
    pub fn side(&self, from_client: bool) -> &TlsDirection {
        if from_client {
            &self.client
        } else {
            &self.server
        }
    }

    /// The first alert in clear from either side, in frame order, that is not close_notify.
    pub fn first_error_alert(&self) -> Option<Alert> {
        self.client
            .alerts
            .iter()
            .chain(&self.server.alerts)
            .filter(|a| a.description != 0)
            .min_by_key(|a| a.frame)
            .copied()
    }

    /// The server's leaf certificate, read (TLS <= 1.2 only: TLS 1.3 encrypts it).
    pub fn leaf_certificate(&self) -> Option<CertInfo> {
        self.server_certificates
            .as_ref()
            .and_then(|c| c.der.first())
            .and_then(|der| CertInfo::parse(der))
    }

    /// The message of `msg_type` from one side that came encrypted and was decrypted.
    pub fn decrypted_message(&self, from_client: bool, msg_type: u8) -> Option<HandshakeSeen> {
        self.handshake_log
            .iter()
            .find(|h| h.decrypted && h.from_client == from_client && h.msg_type == msg_type)
            .copied()
    }

    /// The last alert in clear from either side.
    pub fn last_alert(&self) -> Option<Alert> {
        self.client
            .alerts
            .iter()
            .chain(&self.server.alerts)
            .max_by_key(|a| a.frame)
            .copied()
    }
}

/// A record that is small enough to be an alert and nothing else once encrypted: 2 bytes of
/// alert, TLS 1.3's inner content type and a 16-byte AEAD tag (19), or a TLS 1.2 AEAD alert
/// (2 + 8 explicit nonce + 16 tag = 26), with room for a little padding.
pub const MAX_ENCRYPTED_ALERT: u16 = 32;

/// Where decrypted application data goes: `(from_client, origin, chunk)`, with offsets in
/// the plaintext stream of that direction.
pub type PlaintextSink<'a> = dyn FnMut(bool, Origin, StreamChunk<'_>) + 'a;

/// TLS state of one connection.
#[derive(Debug, Default)]
pub struct TlsConn {
    client: RecordReader,
    server: RecordReader,
    facts: TlsFacts,
    /// After STARTTLS: the server's bytes are plaintext until a segment starts a TLS record.
    server_in_plaintext: bool,
    /// Decryption, once an encrypted record met a key log with secrets (or a live one).
    decrypted: Option<Box<plaintext::Decrypted>>,
    /// Encrypted records were seen.
    any_encrypted: bool,
}

impl TlsConn {
    /// A connection whose client just started TLS after a plaintext exchange (STARTTLS): the
    /// server's TLS begins with its next segment that starts a handshake record.
    pub fn after_starttls() -> TlsConn {
        TlsConn {
            server_in_plaintext: true,
            ..TlsConn::default()
        }
    }

    /// Feeds one chunk of one direction (without decryption).
    pub fn on_chunk(&mut self, from_client: bool, origin: Origin, chunk: &StreamChunk<'_>) {
        self.on_chunk_decrypting(
            &KeyLog::default(),
            from_client,
            origin,
            chunk,
            &mut |_, _, _| {},
        );
    }

    /// Feeds one chunk of one direction; records the key log has secrets for are decrypted
    /// and their application data handed to `sink`.
    pub fn on_chunk_decrypting(
        &mut self,
        keys: &KeyLog,
        from_client: bool,
        origin: Origin,
        chunk: &StreamChunk<'_>,
        sink: &mut PlaintextSink<'_>,
    ) {
        if let Some(decrypted) = &mut self.decrypted {
            decrypted.release_waiting(keys, &mut self.facts, sink);
        }
        if !from_client && self.server_in_plaintext {
            match *chunk {
                StreamChunk::Data { bytes, .. } if starts_handshake_record(bytes) => {
                    self.server_in_plaintext = false;
                }
                _ => return,
            }
        }
        let reader = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        let facts = &mut self.facts;
        let decrypted = &mut self.decrypted;
        let any_encrypted = &mut self.any_encrypted;
        match *chunk {
            StreamChunk::Gap { len, .. } => {
                let resyncs = decrypted
                    .as_mut()
                    .is_some_and(|d| d.on_gap(from_client, origin, len));
                if resyncs {
                    reader.resync();
                } else {
                    reader.gap();
                }
            }
            StreamChunk::Data { offset, bytes } => {
                if offset == 0 && !from_client && looks_like_text(bytes) {
                    facts.server_text.get_or_insert(origin);
                }
                reader.at(offset);
                reader.feed(bytes, &mut |event| match event {
                    RecordEvent::Record {
                        start,
                        header,
                        body,
                    } => {
                        if let Some(d) = decrypted.as_mut() {
                            let record = plaintext::Record {
                                start,
                                header,
                                body,
                            };
                            d.on_record(keys, facts, from_client, origin, record, sink);
                        }
                        Body::Skip
                    }
                    RecordEvent::Candidate {
                        start,
                        header,
                        body,
                    } => {
                        let opened = decrypted.as_mut().is_some_and(|d| {
                            let record = plaintext::Record {
                                start,
                                header,
                                body,
                            };
                            d.on_candidate(facts, from_client, origin, record, sink)
                        });
                        if opened { Body::Collect } else { Body::Skip }
                    }
                    event => {
                        let body = on_event(facts, from_client, origin, event);
                        if body == Body::Collect {
                            // Whether to decrypt is decided once, at the connection's first
                            // encrypted record (one look at the key log, not one per record):
                            // secrets that come later in a file do not apply to it.
                            if !std::mem::replace(any_encrypted, true)
                                && (keys.is_live() || !keys.is_empty())
                            {
                                *decrypted = Some(Box::default());
                            }
                            // Records no key can open are skipped by length, as without keys.
                            if !decrypted
                                .as_ref()
                                .is_some_and(|d| d.wants_records(keys, from_client))
                            {
                                return Body::Skip;
                            }
                        }
                        body
                    }
                });
            }
        }
        let side = if from_client {
            &mut self.facts.client
        } else {
            &mut self.facts.server
        };
        side.stopped = reader.stopped();
    }

    /// The connection's bytes ended: records still waiting for a live key log's secrets are
    /// opened if they came, and a direction whose decryption lost step and never found it
    /// again hands its plaintext stream a gap, so the HTTP parser knows bytes were lost.
    pub fn end_of_streams(&mut self, keys: &KeyLog, sink: &mut PlaintextSink<'_>) {
        if let Some(decrypted) = &mut self.decrypted {
            // A live key log's secrets that came after the connection's last record still
            // open the records that waited for them.
            decrypted.release_waiting(keys, &mut self.facts, sink);
            decrypted.end_of_streams(sink);
        }
    }

    /// Notes that the server answered a plain HTTP request as a TLS port does.
    pub fn plain_http_refused(&mut self, origin: Origin) {
        self.facts.plain_http_refused.get_or_insert(origin);
    }

    /// Bytes held for handshake messages that span chunks, both directions.
    pub fn buffered(&self) -> usize {
        self.client.buffered() + self.server.buffered()
    }

    /// The facts so far.
    pub fn facts(&self) -> &TlsFacts {
        &self.facts
    }

    /// The facts, once the connection is over.
    pub fn into_facts(mut self) -> TlsFacts {
        for reader in [&mut self.client, &mut self.server] {
            reader.finish();
            self.facts.anomalies.merge(reader.anomalies());
        }
        self.facts.decryption = match self.decrypted {
            Some(mut decrypted) => decrypted.finish(self.any_encrypted),
            None if self.any_encrypted => Decryption {
                state: DecryptionState::NoKeys,
                ..Decryption::default()
            },
            None => Decryption::default(),
        };
        self.facts
    }
}

/// Whether the client's ChangeCipherSpec switches it to encryption: not in TLS 1.3, where it
/// is a compatibility no-op (RFC 8446 §D.4), also after a HelloRetryRequest.
fn ccs_encrypts(facts: &TlsFacts, from_client: bool) -> bool {
    if facts.is_tls13() || facts.hello_retry.is_some() {
        return false;
    }
    !from_client || facts.server_hello.is_some()
}

/// Takes one record-layer event in clear; for a header, says what becomes of the body: parsed
/// (handshake and alerts in clear), collected (encrypted: to decrypt) or skipped.
fn on_event(
    facts: &mut TlsFacts,
    from_client: bool,
    origin: Origin,
    event: RecordEvent<'_>,
) -> Body {
    let tls13 = facts.is_tls13();
    let side = if from_client {
        &mut facts.client
    } else {
        &mut facts.server
    };
    match event {
        RecordEvent::Header {
            content_type,
            length,
        } => {
            side.records += 1;
            side.first_record.get_or_insert(origin);
            if std::mem::take(&mut side.ccs_pending) {
                side.encrypted_from.get_or_insert(origin);
            }
            // A TLS 1.3 server encrypts everything after its ServerHello.
            if tls13
                && !from_client
                && side.encrypted_from.is_none()
                && content_type != CHANGE_CIPHER_SPEC
            {
                side.encrypted_from = Some(origin);
            }
            if content_type == APPLICATION_DATA {
                side.encrypted_from.get_or_insert(origin);
                side.application_data_records += 1;
                side.first_application_data.get_or_insert(origin);
            }
            let encrypted = side.encrypted_from.is_some();
            if encrypted {
                let record = EncryptedRecord {
                    frame: origin.frame,
                    ts_ns: origin.ts_ns,
                    content_type,
                    length,
                };
                if side.encrypted_records.len() < MAX_ENCRYPTED_NOTES {
                    side.encrypted_records.push(record);
                }
                side.last_record = Some(record);
                if content_type == APPLICATION_DATA && !(tls13 && length <= MAX_ENCRYPTED_ALERT) {
                    side.last_payload = Some(record);
                    side.payload_records += 1;
                }
            }
            if content_type == CHANGE_CIPHER_SPEC {
                side.change_cipher_spec.get_or_insert(origin);
                let encrypts = ccs_encrypts(facts, from_client);
                let side = if from_client {
                    &mut facts.client
                } else {
                    &mut facts.server
                };
                // The records after this one are encrypted.
                side.ccs_pending = encrypts && side.encrypted_from.is_none();
                return Body::Skip;
            }
            if encrypted {
                Body::Collect
            } else if matches!(content_type, HANDSHAKE | ALERT) {
                Body::Parse
            } else {
                Body::Skip
            }
        }
        RecordEvent::Alert { level, description } => {
            if side.alerts.len() < MAX_ALERTS {
                side.alerts.push(Alert {
                    frame: origin.frame,
                    ts_ns: origin.ts_ns,
                    level,
                    description,
                    from_client,
                    decrypted: false,
                });
            }
            Body::Skip
        }
        RecordEvent::HandshakeSkipped { msg_type, .. } => {
            side.unreadable_messages += 1;
            side.last_handshake = Some((msg_type, origin));
            Body::Skip
        }
        RecordEvent::Handshake(bytes) => {
            let msg_type = bytes.first().copied().unwrap_or(0);
            side.last_handshake = Some((msg_type, origin));
            log_handshake(facts, from_client, msg_type, origin, false);
            take_message(
                facts,
                from_client,
                hello::read_message(bytes, origin),
                origin,
            );
            Body::Skip
        }
        // Whole records are handed over only when asked for, and candidates only after a gap
        // while decrypting: the caller takes both.
        RecordEvent::Record { .. } | RecordEvent::Candidate { .. } => Body::Skip,
    }
}

/// Notes a handshake message in the connection's list (the first [`MAX_HANDSHAKE_LOG`]).
fn log_handshake(
    facts: &mut TlsFacts,
    from_client: bool,
    msg_type: u8,
    origin: Origin,
    decrypted: bool,
) {
    if facts.handshake_log.len() < MAX_HANDSHAKE_LOG {
        facts.handshake_log.push(HandshakeSeen {
            frame: origin.frame,
            from_client,
            msg_type,
            decrypted,
        });
    }
}

fn take_message(facts: &mut TlsFacts, from_client: bool, message: Message, origin: Origin) {
    match message {
        Message::ClientHello(hello) if from_client => {
            facts.client_hellos += 1;
            facts.client_hello.get_or_insert(hello);
        }
        Message::ServerHello(hello) if !from_client => {
            if hello.hello_retry {
                facts.hello_retry.get_or_insert(hello);
            } else {
                facts.server_hello.get_or_insert(hello);
            }
        }
        Message::Certificate(chain) if !from_client => {
            facts.server_certificates.get_or_insert(chain);
        }
        Message::Certificate(chain) => {
            facts
                .client_certificate
                .get_or_insert((origin, chain.count));
        }
        Message::CertificateRequest if !from_client => {
            facts.certificate_request.get_or_insert(origin);
        }
        Message::ServerHelloDone if !from_client => {
            facts.server_hello_done.get_or_insert(origin);
        }
        Message::Other { parsed: false, .. } => {
            let side = if from_client {
                &mut facts.client
            } else {
                &mut facts.server
            };
            side.unreadable_messages += 1;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
