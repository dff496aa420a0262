//! TLS record framing of one direction, fed in chunks of any size (RFC 5246 §6.2, RFC 8446
//! §5.1): record headers, handshake messages that span records and TCP segments, alerts.
//!
//! Only what a caller asks to parse is buffered: the body of a handshake record (until its
//! messages are whole, at most [`MAX_HANDSHAKE_MESSAGE`] bytes per message) and the two bytes
//! of an alert. Everything else (encrypted records, application data) is skipped by length.

/// A handshake message larger than this is skipped, not buffered (a certificate chain of a few
/// certificates fits; the protocol allows 16 MiB).
pub const MAX_HANDSHAKE_MESSAGE: usize = 128 * 1024;

/// Largest record body TLS allows (2^14 plus the 2048 bytes of TLS 1.2 expansion).
const MAX_RECORD_BODY: usize = (1 << 14) + 2048;

/// Records longer than TLS allows: followed by their length all the same, as Wireshark does.
pub const OVERSIZE_RECORD: &str = "TLS records longer than 2^14+2048 bytes, followed anyway";
/// An alert whose two bytes came in two records (TLS 1.2 allowed it; RFC 8446 5.1 forbids it).
pub const FRAGMENTED_ALERT: &str = "TLS alerts fragmented across records, joined";
/// An alert record that ended after one byte with no alert record to complete it.
pub const HALF_ALERT: &str = "TLS alert records cut to one byte (unreadable)";
/// A record of another type while a handshake message was incomplete (RFC 8446 5.1 forbids
/// it); the message is completed from the handshake records after it.
pub const INTERLEAVED_HANDSHAKE: &str =
    "TLS handshake messages interrupted by another record type, joined";

/// TLS content types (RFC 8446 §5.1).
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;
pub const HEARTBEAT: u8 = 24;

/// What the caller wants done with a record's body, answering its [`RecordEvent::Header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Skip it by its length.
    Skip,
    /// Parse it: handshake messages and alerts in clear.
    Parse,
    /// Hand it over whole ([`RecordEvent::Record`]): an encrypted record to decrypt.
    Collect,
}

/// What the record layer found, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordEvent<'a> {
    /// A record header: the caller answers what becomes of the body ([`Body`]).
    Header { content_type: u8, length: u16 },
    /// A whole record the caller asked to collect: where it starts in the stream, its header
    /// as on the wire and its body.
    Record {
        start: u64,
        header: [u8; 5],
        body: &'a [u8],
    },
    /// While finding the record boundaries again after a gap ([`RecordReader::resync`]): a
    /// whole record that may start here. The caller answers [`Body::Collect`] when it is one
    /// (it decrypted), anything else when not.
    Candidate {
        start: u64,
        header: [u8; 5],
        body: &'a [u8],
    },
    /// A whole handshake message, its 4-byte header included.
    Handshake(&'a [u8]),
    /// A handshake message too large to keep: its type and declared length.
    HandshakeSkipped { msg_type: u8, length: usize },
    /// One alert in clear: level and description.
    Alert { level: u8, description: u8 },
}

/// Why a direction stopped being followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// A header that is not a TLS record (bad content type or version, or an oversize length).
    NotARecord,
    /// Bytes of the stream were never seen: record boundaries are lost.
    Gap,
}

/// Record framing state of one direction.
#[derive(Debug, Default)]
pub struct RecordReader {
    header: [u8; 5],
    header_len: usize,
    /// Body bytes left in the current record (0: expecting a header).
    body_left: usize,
    /// Content type of the current record, when its body is parsed.
    parsing: Option<u8>,
    /// The body of a record being collected, when it is ([`Body::Collect`]).
    collecting: Option<Vec<u8>>,
    /// The header of the record being collected.
    collected_header: [u8; 5],
    /// Bytes after a gap, searched for the next record boundary ([`RecordReader::resync`]).
    scanning: Option<Vec<u8>>,
    /// Records offered since the gap ([`MAX_CANDIDATES`]).
    candidates: u32,
    /// Stream offset of the next byte fed.
    pos: u64,
    /// Stream offset of the current record's header.
    record_start: u64,
    /// Stream offset of the first byte in `scanning`.
    scan_base: u64,
    /// A handshake message spanning records or chunks.
    message: Vec<u8>,
    /// Bytes left of a handshake message too large to keep.
    message_skip: usize,
    /// The first byte of an alert whose second byte is in the next chunk (or record).
    alert_half: Option<u8>,
    /// `alert_half` came in a record that has ended.
    alert_half_in_earlier_record: bool,
    stopped: Option<Stopped>,
    /// What was read despite breaking the record layer's rules, by reason.
    anomalies: crate::app::Anomalies,
}

impl RecordReader {
    /// Why the direction is no longer followed, if it is not.
    pub fn stopped(&self) -> Option<Stopped> {
        self.stopped
    }

    /// What was read despite breaking the record layer's rules ([`OVERSIZE_RECORD`],
    /// [`FRAGMENTED_ALERT`]...).
    pub fn anomalies(&self) -> &crate::app::Anomalies {
        &self.anomalies
    }

    /// Bytes held for messages and records that span chunks.
    pub fn buffered(&self) -> usize {
        self.message.len()
            + self.collecting.as_ref().map_or(0, Vec::len)
            + self.scanning.as_ref().map_or(0, Vec::len)
    }

    /// Bytes of the stream were lost: stop following it.
    pub fn gap(&mut self) {
        self.stop(Stopped::Gap);
    }

    /// Bytes of the stream were lost, and the caller can tell a real record from bytes that
    /// only look like a header (it decrypts): the bytes after the gap are searched for a
    /// record boundary, each possible record offered as a [`RecordEvent::Candidate`] until
    /// one is accepted; framing goes on from there. [`Self::stopped`] says `Gap` meanwhile.
    pub fn resync(&mut self) {
        self.stopped = Some(Stopped::Gap);
        self.scan_base = self.pos;
        self.message = Vec::new();
        self.message_skip = 0;
        self.alert_half = None;
        self.collecting = None;
        self.header_len = 0;
        self.body_left = 0;
        self.parsing = None;
        self.scanning = Some(Vec::new());
        self.candidates = 0;
    }

    fn stop(&mut self, why: Stopped) {
        if self.stopped.is_none() {
            self.stopped = Some(why);
        }
        self.message = Vec::new();
        self.collecting = None;
        self.scanning = None;
    }

    /// Searches the bytes after a gap for a record the caller accepts; feeds what follows it.
    fn scan(&mut self, bytes: &[u8], on: &mut impl FnMut(RecordEvent<'_>) -> Body) {
        let Some(mut buf) = self.scanning.take() else {
            return;
        };
        buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(at) = next_plausible_header(&buf[start..]).map(|i| start + i) {
            let length = usize::from(u16::from_be_bytes([buf[at + 3], buf[at + 4]]));
            let end = at + 5 + length;
            if end > buf.len() {
                // The candidate's body is not all here yet.
                start = at;
                break;
            }
            let header = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]];
            self.candidates += 1;
            if self.candidates > MAX_CANDIDATES {
                // Bytes full of header-like patterns that never decrypt: give up.
                self.stopped = Some(Stopped::Gap);
                return;
            }
            if on(RecordEvent::Candidate {
                start: self.scan_base + at as u64,
                header,
                body: &buf[at + 5..end],
            }) == Body::Collect
            {
                self.stopped = None;
                let rest = buf[end..].to_vec();
                self.pos = self.scan_base + end as u64;
                self.feed(&rest, on);
                return;
            }
            start = at + 1;
            if start >= buf.len() {
                break;
            }
        }
        if next_plausible_header(&buf[start..]).is_none() {
            // Keep the last 4 bytes: a header may begin in them.
            start = start.max(buf.len().saturating_sub(4));
        }
        buf.drain(..start);
        self.scan_base += start as u64;
        if buf.len() > MAX_SCAN {
            // A boundary was not found in this much: give up on the direction.
            self.stopped = Some(Stopped::Gap);
            return;
        }
        self.scanning = Some(buf);
    }

    /// The stream offset of the next bytes fed (a chunk's offset: after a gap it moves on).
    pub fn at(&mut self, offset: u64) {
        if self.scanning.as_ref().is_some_and(Vec::is_empty) {
            self.scan_base = offset;
        }
        self.pos = offset;
    }

    /// Feeds the next in-order bytes; `on` receives each event and, for a header, answers
    /// what becomes of the body.
    pub fn feed(&mut self, mut bytes: &[u8], on: &mut impl FnMut(RecordEvent<'_>) -> Body) {
        if self.scanning.is_some() {
            self.pos += bytes.len() as u64;
            self.scan(bytes, on);
            return;
        }
        while !bytes.is_empty() && self.stopped.is_none() {
            if self.body_left == 0 {
                let need = 5 - self.header_len;
                let n = need.min(bytes.len());
                if self.header_len == 0 {
                    self.record_start = self.pos;
                }
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                self.pos += n as u64;
                bytes = &bytes[n..];
                if self.header_len < 5 {
                    return;
                }
                self.header_len = 0;
                let [content_type, major, _minor, hi, lo] = self.header;
                let length = u16::from_be_bytes([hi, lo]);
                if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content_type) || major != 3 {
                    self.stop(Stopped::NotARecord);
                    return;
                }
                // A valid type and version with an impossible length: still a record (a broken
                // or hostile peer); its length is the best reading of where the next one is.
                if usize::from(length) > MAX_RECORD_BODY {
                    self.anomalies.add(OVERSIZE_RECORD, 1);
                }
                self.record_starts(content_type);
                let body = on(RecordEvent::Header {
                    content_type,
                    length,
                });
                self.body_left = usize::from(length);
                self.parsing = (body == Body::Parse && matches!(content_type, HANDSHAKE | ALERT))
                    .then_some(content_type);
                self.collecting = (body == Body::Collect).then(|| {
                    let mut kept = self.collecting.take().unwrap_or_default();
                    kept.clear();
                    // Exactly the record's size: the buffer is then kept for the next one.
                    kept.reserve_exact(usize::from(length));
                    kept
                });
                self.collected_header = self.header;
                if self.body_left == 0 {
                    self.record_collected(on);
                }
                continue;
            }
            let n = self.body_left.min(bytes.len());
            let (body, rest) = bytes.split_at(n);
            bytes = rest;
            self.pos += n as u64;
            self.body_left -= n;
            match self.parsing {
                Some(HANDSHAKE) => self.handshake_bytes(body, on),
                Some(ALERT) => self.alert_bytes(body, on),
                _ => {}
            }
            if let Some(kept) = &mut self.collecting {
                kept.extend_from_slice(body);
                if self.body_left == 0 {
                    self.record_collected(on);
                }
            }
            if self.body_left == 0 && self.alert_half.is_some() {
                // The alert may continue in the next record (TLS 1.2 allowed fragmenting it).
                self.alert_half_in_earlier_record = true;
            }
        }
    }

    /// A collected record is whole: hand it over (its buffer is kept for the next one).
    fn record_collected(&mut self, on: &mut impl FnMut(RecordEvent<'_>) -> Body) {
        if let Some(kept) = self.collecting.take() {
            on(RecordEvent::Record {
                start: self.record_start,
                header: self.collected_header,
                body: &kept,
            });
            // Only a buffer of a normal record's size is kept between records.
            if kept.capacity() <= MAX_RECORD_BODY {
                self.collecting = Some(kept);
            }
        }
    }

    /// A record of `content_type` begins: a half alert or a handshake message waiting for the
    /// rest is continued only by a record of its own type.
    fn record_starts(&mut self, content_type: u8) {
        if content_type != ALERT && self.alert_half.take().is_some() {
            self.anomalies.add(HALF_ALERT, 1);
            self.alert_half_in_earlier_record = false;
        }
        if content_type != HANDSHAKE && (!self.message.is_empty() || self.message_skip > 0) {
            self.anomalies.add(INTERLEAVED_HANDSHAKE, 1);
        }
    }

    /// The stream ended: an alert left at one byte is counted.
    pub fn finish(&mut self) {
        if self.alert_half.take().is_some() {
            self.anomalies.add(HALF_ALERT, 1);
        }
    }

    /// Frames handshake messages, parsing them straight from `body` when whole in it and
    /// buffering only a message that continues beyond it.
    fn handshake_bytes(&mut self, mut body: &[u8], on: &mut impl FnMut(RecordEvent<'_>) -> Body) {
        while !body.is_empty() {
            if self.message_skip > 0 {
                let n = self.message_skip.min(body.len());
                self.message_skip -= n;
                body = &body[n..];
                continue;
            }
            if self.message.is_empty()
                && let Some(total) = message_length(body)
                && total <= body.len()
                && total <= MAX_HANDSHAKE_MESSAGE
            {
                on(RecordEvent::Handshake(&body[..total]));
                body = &body[total..];
                continue;
            }
            let have = self.message.len();
            let need = match message_length(&self.message) {
                Some(total) => total - have,
                None => 4 - have,
            };
            let n = need.min(body.len());
            self.message.extend_from_slice(&body[..n]);
            body = &body[n..];
            let Some(total) = message_length(&self.message) else {
                continue;
            };
            if total > MAX_HANDSHAKE_MESSAGE {
                let msg_type = self.message.first().copied().unwrap_or(0);
                on(RecordEvent::HandshakeSkipped {
                    msg_type,
                    length: total - 4,
                });
                self.message_skip = total - self.message.len();
                self.message.clear();
            } else if self.message.len() == total {
                on(RecordEvent::Handshake(&self.message));
                self.message.clear();
            }
        }
    }

    fn alert_bytes(&mut self, body: &[u8], on: &mut impl FnMut(RecordEvent<'_>) -> Body) {
        for &b in body {
            match self.alert_half.take() {
                None => self.alert_half = Some(b),
                Some(level) => {
                    if std::mem::take(&mut self.alert_half_in_earlier_record) {
                        self.anomalies.add(FRAGMENTED_ALERT, 1);
                    }
                    on(RecordEvent::Alert {
                        level,
                        description: b,
                    });
                }
            }
        }
    }
}

/// After a gap, at most this many possible records are offered before giving up.
const MAX_CANDIDATES: u32 = 64;

/// After a gap, at most this many bytes are searched for a record boundary.
const MAX_SCAN: usize = 4 * (MAX_RECORD_BODY + 5);

/// Where in `bytes` a header of an encrypted record may begin: an application_data,
/// handshake or alert record of TLS 1.0-1.3's version with a length an encrypted record can
/// have (at least an AEAD tag).
fn next_plausible_header(bytes: &[u8]) -> Option<usize> {
    bytes.windows(5).position(|w| {
        let length = usize::from(u16::from_be_bytes([w[3], w[4]]));
        matches!(w[0], ALERT..=APPLICATION_DATA)
            && w[1] == 3
            && w[2] <= 4
            && (16..=MAX_RECORD_BODY).contains(&length)
    })
}

/// Total length (header included) of the handshake message `bytes` starts with, once its
/// 4-byte header is there.
fn message_length(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [_, a, b, c, ..] => {
            Some(4 + (usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello-like handshake message split over two records, an alert, a CCS and an
    /// application-data record.
    fn sample() -> Vec<u8> {
        let mut msg = vec![1u8, 0, 0, 40];
        msg.extend((0..40).map(|i| i as u8));
        let mut out = Vec::new();
        out.extend([22, 3, 1, 0, 20]);
        out.extend(&msg[..20]);
        out.extend([22, 3, 3, 0, 24]);
        out.extend(&msg[20..]);
        out.extend([21, 3, 3, 0, 2, 2, 40]);
        out.extend([20, 3, 3, 0, 1, 1]);
        out.extend([23, 3, 3, 0, 3, 9, 9, 9]);
        out
    }

    fn events(chunks: &[&[u8]]) -> (Vec<String>, usize) {
        let mut reader = RecordReader::default();
        let mut seen = Vec::new();
        let mut peak = 0;
        for chunk in chunks {
            reader.feed(chunk, &mut |e| {
                seen.push(match e {
                    RecordEvent::Handshake(m) => format!("hs {} {}", m[0], m.len()),
                    other => format!("{other:?}"),
                });
                Body::Parse
            });
            peak = peak.max(reader.buffered());
        }
        (seen, peak)
    }

    #[test]
    fn records_and_messages_are_the_same_at_every_cut() {
        let bytes = sample();
        let (whole, _) = events(&[&bytes]);
        assert!(whole.contains(&"hs 1 44".to_string()), "{whole:?}");
        assert!(whole.contains(&"Alert { level: 2, description: 40 }".to_string()));
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            let (seen, peak) = events(&[a, b]);
            assert_eq!(seen, whole, "cut at {cut}");
            assert!(peak <= 44);
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(events(&singles).0, whole);
    }

    #[test]
    fn broken_record_rules_are_read_through_and_counted() {
        // An oversize record, an alert in two records, a half alert cut by a handshake record
        // that interrupts nothing, and a half alert at the end.
        let mut bytes = vec![23, 3, 3, 0xff, 0xff];
        bytes.resize(5 + 0xffff, 0);
        bytes.extend([21, 3, 3, 0, 1, 2, 21, 3, 3, 0, 1, 40]);
        bytes.extend([21, 3, 3, 0, 1, 1, 22, 3, 3, 0, 4, 14, 0, 0, 0]);
        bytes.extend([21, 3, 3, 0, 1, 2]);
        let mut reader = RecordReader::default();
        let mut alerts = Vec::new();
        for cut in bytes.chunks(7) {
            reader.feed(cut, &mut |e| {
                if let RecordEvent::Alert { level, description } = e {
                    alerts.push((level, description));
                }
                Body::Parse
            });
        }
        reader.finish();
        assert_eq!(alerts, [(2, 40)]);
        assert_eq!(reader.stopped(), None);
        let a = reader.anomalies();
        assert_eq!(
            [
                OVERSIZE_RECORD,
                FRAGMENTED_ALERT,
                HALF_ALERT,
                INTERLEAVED_HANDSHAKE
            ]
            .map(|r| a.count(r)),
            [1, 1, 2, 0]
        );
    }

    #[test]
    fn non_tls_stops_and_oversize_messages_are_skipped() {
        let (seen, _) = events(&[b"GET / HTTP/1.1\r\n"]);
        assert!(seen.is_empty());
        let mut big = vec![22, 3, 3, 0x40, 0];
        big.extend([11, 0x10, 0, 0]);
        big.resize(5 + 0x4000, 7);
        let mut reader = RecordReader::default();
        let mut seen = Vec::new();
        for _ in 0..80 {
            reader.feed(&big, &mut |e| {
                seen.push(format!("{e:?}"));
                Body::Parse
            });
            assert!(reader.buffered() <= MAX_HANDSHAKE_MESSAGE);
        }
        assert!(
            seen.iter().any(|s| s.starts_with("HandshakeSkipped")),
            "{seen:?}"
        );
        assert_eq!(reader.stopped(), None);
    }
}
