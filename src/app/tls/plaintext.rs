//! What decrypted records carry, put where their clear twins go: handshake messages and
//! alerts into the connection's TLS facts (a TLS 1.3 Certificate read exactly as a TLS 1.2
//! one), application data into the plaintext stream the HTTP parser reads.

use super::decrypting::{Decryptor, Opened, index, known_inner_type};
use super::hello::{self, Message};
use super::record::{ALERT, APPLICATION_DATA, Body, HANDSHAKE, RecordEvent, RecordReader};
use super::{
    Alert, Decryption, KeyLog, MAX_ALERTS, PlaintextSink, TlsFacts, log_handshake, take_message,
};
use crate::tcp::{Origin, StreamChunk};

/// TLS 1.3 EncryptedExtensions: where the server's ALPN choice is.
const ENCRYPTED_EXTENSIONS: u8 = 8;
/// TLS 1.3 Certificate: the layout differs from TLS 1.2's.
const CERTIFICATE: u8 = 11;

/// One whole encrypted record: where it starts in its direction's stream, its header and body.
#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'a> {
    pub start: u64,
    pub header: [u8; 5],
    pub body: &'a [u8],
}

/// Decryption of one connection and where its plaintext stands.
#[derive(Debug, Default)]
pub(super) struct Decrypted {
    decryptor: Decryptor,
    /// Framing of decrypted handshake messages and alerts (a message may span records),
    /// client then server.
    inner: [RecordReader; 2],
    /// Bytes of application data handed on per direction: the plaintext stream's offset.
    offsets: [u64; 2],
    /// Application data bytes decrypted per direction (the offsets less the gaps).
    application_bytes: [u64; 2],
    /// The first and last record of application data per direction.
    first_application: [Option<Origin>; 2],
    last_application: [Option<Origin>; 2],
    /// Bytes lost in TCP gaps not yet handed on as a plaintext gap: the plaintext they held is
    /// told once the records after them decrypt (or, when they never do, at the end).
    pending_gap: [u64; 2],
}

impl Decrypted {
    /// Decrypts one whole encrypted record and passes its content on.
    pub(super) fn on_record(
        &mut self,
        keys: &KeyLog,
        facts: &mut TlsFacts,
        from_client: bool,
        origin: Origin,
        record: Record<'_>,
        sink: &mut PlaintextSink<'_>,
    ) {
        let opened = self.decryptor.open(
            keys,
            keys.is_live(),
            facts.client_hello.as_ref(),
            facts.server_hello.as_ref(),
            from_client,
            origin,
            record.start,
            record.header,
            record.body,
        );
        match opened {
            Opened::Plain { content_type } => {
                let plaintext = self.decryptor.take_plain();
                self.deliver(facts, from_client, origin, content_type, &plaintext, sink);
                self.decryptor.give_back(plaintext);
            }
            // A record lost after others opened: the plaintext stream has a hole of at most
            // its size, told now so the HTTP parser never reads on across it.
            Opened::Failed if self.decryptor.lost_step(from_client) => {
                self.hole(from_client, origin, record.body.len() as u64, sink);
            }
            Opened::Failed | Opened::NoKeys => {}
        }
    }

    /// A hole of `len` plaintext bytes (at most) in a direction's plaintext stream.
    fn hole(&mut self, from_client: bool, origin: Origin, len: u64, sink: &mut PlaintextSink<'_>) {
        let i = index(from_client);
        if len == 0 {
            return;
        }
        sink(
            from_client,
            origin,
            StreamChunk::Gap {
                offset: self.offsets[i],
                len,
            },
        );
        self.offsets[i] += len;
    }

    /// Whether this direction's next record is worth collecting: not when its secrets are
    /// known missing for good (a key log that will not grow), the suite is not decrypted, or
    /// the direction lost step for good.
    pub(super) fn wants_records(&self, keys: &KeyLog, from_client: bool) -> bool {
        self.decryptor.may_open(keys.is_live(), from_client)
    }

    /// A possible record after a gap: true when it decrypted (the plaintext the gap held is
    /// handed on as a gap, exactly when the suite's records have a fixed overhead, then the
    /// record's content).
    pub(super) fn on_candidate(
        &mut self,
        facts: &mut TlsFacts,
        from_client: bool,
        origin: Origin,
        record: Record<'_>,
        sink: &mut PlaintextSink<'_>,
    ) -> bool {
        let Some((content_type, lost)) =
            self.decryptor
                .try_candidate(from_client, record.start, record.header, record.body)
        else {
            return false;
        };
        let i = index(from_client);
        let pending = std::mem::take(&mut self.pending_gap[i]);
        self.hole(from_client, origin, lost.unwrap_or(pending), sink);
        let plaintext = self.decryptor.take_plain();
        self.deliver(facts, from_client, origin, content_type, &plaintext, sink);
        self.decryptor.give_back(plaintext);
        true
    }

    /// Bytes of a direction were lost: true when decryption will look for the records after
    /// them.
    pub(super) fn on_gap(&mut self, from_client: bool, origin: Origin, len: u64) -> bool {
        if !self.decryptor.on_gap(from_client, origin, len) {
            return false;
        }
        let i = index(from_client);
        // A handshake message or alert cut by the gap cannot be completed.
        self.inner[i] = RecordReader::default();
        self.pending_gap[i] = self.pending_gap[i].saturating_add(len);
        true
    }

    /// The connection's bytes ended: gaps the records after which never decrypted are handed
    /// on (their size in ciphertext, a bound on the plaintext they held).
    pub(super) fn end_of_streams(&mut self, sink: &mut PlaintextSink<'_>) {
        for from_client in [true, false] {
            let pending = std::mem::take(&mut self.pending_gap[index(from_client)]);
            let origin = self.decryptor.gap_at.unwrap_or_default();
            self.hole(from_client, origin, pending, sink);
        }
    }

    /// Records that waited for a live key log's secrets are decrypted once they arrived.
    pub(super) fn release_waiting(
        &mut self,
        keys: &KeyLog,
        facts: &mut TlsFacts,
        sink: &mut PlaintextSink<'_>,
    ) {
        let waiting = self.decryptor.take_waiting(
            keys,
            facts.client_hello.as_ref(),
            facts.server_hello.as_ref(),
        );
        for w in waiting {
            let record = Record {
                start: w.start,
                header: w.header,
                body: &w.body,
            };
            self.on_record(keys, facts, w.from_client, w.origin, record, sink);
        }
    }

    /// What decryption achieved, once the connection is over.
    pub(super) fn finish(&mut self, any_encrypted: bool) -> Decryption {
        self.decryptor.finish();
        let d = &self.decryptor;
        Decryption {
            state: d.state(any_encrypted),
            records: d.records(),
            application_bytes: self.application_bytes,
            first_application: self.first_application,
            last_application: self.last_application,
            failed_at: d.failed_at,
            gap_at: d.gap_at,
            resynced: d.resynced,
        }
    }

    fn deliver(
        &mut self,
        facts: &mut TlsFacts,
        from_client: bool,
        origin: Origin,
        content_type: u8,
        plaintext: &[u8],
        sink: &mut PlaintextSink<'_>,
    ) {
        let i = index(from_client);
        if !known_inner_type(content_type) {
            return;
        }
        if content_type == APPLICATION_DATA {
            if !plaintext.is_empty() {
                sink(
                    from_client,
                    origin,
                    StreamChunk::Data {
                        offset: self.offsets[i],
                        bytes: plaintext,
                    },
                );
                self.offsets[i] += plaintext.len() as u64;
                self.application_bytes[i] += plaintext.len() as u64;
                self.first_application[i].get_or_insert(origin);
                self.last_application[i] = Some(origin);
            }
            return;
        }
        // Handshake messages and alerts are framed as in clear: a record header of the inner
        // type, then its plaintext (at most 2^14 bytes, so its length fits).
        let Ok(length) = u16::try_from(plaintext.len()) else {
            return;
        };
        let [hi, lo] = length.to_be_bytes();
        let tls13 = facts.is_tls13();
        let decryptor = &mut self.decryptor;
        let mut on_inner = |event: RecordEvent<'_>| {
            on_inner_event(facts, decryptor, tls13, from_client, origin, event)
        };
        let reader = &mut self.inner[i];
        reader.feed(&[content_type, 3, 3, hi, lo], &mut on_inner);
        reader.feed(plaintext, &mut on_inner);
    }
}

/// A handshake message or alert that came encrypted.
fn on_inner_event(
    facts: &mut TlsFacts,
    decryptor: &mut Decryptor,
    tls13: bool,
    from_client: bool,
    origin: Origin,
    event: RecordEvent<'_>,
) -> Body {
    match event {
        RecordEvent::Header {
            content_type: HANDSHAKE | ALERT,
            ..
        } => Body::Parse,
        RecordEvent::Alert { level, description } => {
            let side = if from_client {
                &mut facts.client
            } else {
                &mut facts.server
            };
            if side.alerts.len() < MAX_ALERTS {
                side.alerts.push(Alert {
                    frame: origin.frame,
                    ts_ns: origin.ts_ns,
                    level,
                    description,
                    from_client,
                    decrypted: true,
                });
            }
            Body::Skip
        }
        RecordEvent::Handshake(bytes) => {
            let msg_type = bytes.first().copied().unwrap_or(0);
            log_handshake(facts, from_client, msg_type, origin, true);
            let message = match msg_type {
                CERTIFICATE if tls13 => hello::read_tls13_certificate(bytes, origin),
                ENCRYPTED_EXTENSIONS => {
                    if let Some(alpn) = hello::encrypted_extensions_alpn(bytes)
                        && let Some(server) = &mut facts.server_hello
                    {
                        server.alpn.get_or_insert(alpn);
                    }
                    Message::Other { parsed: true }
                }
                _ => hello::read_message(bytes, origin),
            };
            take_message(facts, from_client, message, origin);
            decryptor.on_handshake(from_client, msg_type, tls13);
            Body::Skip
        }
        _ => Body::Skip,
    }
}
