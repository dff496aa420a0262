//! How far a TLS connection got, read from its facts: whether the handshake completed and
//! whether the client then sent a request. The calls stage and the diagnosis both ask.

use super::{EncryptedRecord, MAX_ENCRYPTED_ALERT, TlsFacts};

/// The Finished handshake message type.
const FINISHED: u8 = 20;

impl TlsFacts {
    /// True when the handshake finished: the client's Finished decrypted, or, encrypted, both
    /// sides sent encrypted records (TLS <= 1.2), or the client's encrypted flight is larger
    /// than an alert (TLS 1.3, where its Finished is all it sends).
    pub fn handshake_completed(&self) -> bool {
        if self.decrypted_message(true, FINISHED).is_some() {
            return true;
        }
        // Decrypted and no client Finished among the client's records: known absent.
        if self.is_tls13() && self.decryption.records[0] > 0 {
            return false;
        }
        if self.is_tls13() {
            self.client
                .encrypted_records
                .iter()
                .any(|r| r.length > MAX_ENCRYPTED_ALERT)
        } else {
            self.server.encrypted_from.is_some() && self.client.encrypted_from.is_some()
        }
    }

    /// The client's last request after its handshake as the encrypted records show it: in
    /// TLS <= 1.2 its last application data record; in TLS 1.3, where the client's Finished
    /// (and any Certificate) is an application data record too, its last payload record once it
    /// sent more than its Finished.
    pub fn client_request(&self) -> Option<EncryptedRecord> {
        let client = &self.client;
        let sent = if self.is_tls13() {
            client.payload_records >= 2
        } else {
            client.payload_records >= 1
        };
        client.last_payload.filter(|_| sent)
    }

    /// True when the client sent application data after its handshake (a request): decrypted,
    /// any application data byte; encrypted, an application data record (TLS 1.3: besides its
    /// Finished).
    pub fn request_sent(&self) -> bool {
        if self.decryption.records[0] > 0 {
            return self.decryption.application_bytes[0] > 0;
        }
        self.client_request().is_some()
    }
}
