//! Reading pcap and pcapng records with `pcap-parser`, tolerating damage at the end of a file.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError};

use super::{Frame, LinkType, SourceError};

/// Initial read buffer; grown on demand for oversized records up to [`MAX_BUFFER`].
const INITIAL_BUFFER: usize = 1 << 20;
/// Largest record we accept; a record header claiming more marks the file as damaged.
const MAX_BUFFER: usize = 16 << 20;

/// What reading a whole capture produced, besides the frames themselves.
#[derive(Debug, Clone, Default)]
pub struct ReadSummary {
    /// Packet records seen (the last frame number).
    pub frames: u64,
    /// The file ended inside a record, or a record was damaged: results cover what came before.
    pub truncated: bool,
    /// A human-readable reason when `truncated` is set.
    pub warning: Option<String>,
    /// Packet records that could not be turned into frames (e.g. an unknown interface id).
    pub unreadable_records: u64,
    /// pcapng Decryption Secrets Blocks of type `TLSK` (TLS key log text), handed to the
    /// sink given with [`CaptureReader::with_tls_secrets`].
    pub tls_secrets_blocks: u64,
    /// Decryption Secrets Blocks of other types (WireGuard, ZigBee, OPC UA...), by type name:
    /// counted and skipped.
    pub other_secrets_blocks: Vec<(&'static str, u64)>,
}

/// The key log text of one pcapng Decryption Secrets Block of type `TLSK`, and where it was.
#[derive(Clone, Copy)]
pub struct TlsSecretsText<'a> {
    /// The block came after this many packet records (its secrets apply to the ones after).
    pub after_frame: u64,
    /// The NSS key log text, as the block holds it (secret material: never print it).
    pub text: &'a [u8],
}

impl std::fmt::Debug for TlsSecretsText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSecretsText")
            .field("after_frame", &self.after_frame)
            .field(
                "text",
                &format_args!("[{} bytes of secrets]", self.text.len()),
            )
            .finish()
    }
}

/// Where a reader hands the text of each `TLSK` secrets block, as it meets it in the file.
pub type TlsSecretsSink = Box<dyn FnMut(TlsSecretsText<'_>) + Send>;

/// Decryption Secrets Block types (pcapng spec, section 4.7).
const SECRETS_TLS: u32 = 0x544c_534b;
const SECRETS_TYPES: [(u32, &str); 5] = [
    (0x5353_484b, "SSH key log"),
    (0x5747_4b4c, "WireGuard key log"),
    (0x5a4e_574b, "Zigbee NWK key"),
    (0x5a41_5053, "Zigbee APS key"),
    (0x5541_4b4c, "OPC UA key log"),
];

/// One pcapng interface: how to decode its packets and their timestamps.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link_type: LinkType,
    /// Timestamp units per second (10^6 by default).
    units_per_sec: u64,
    offset_secs: i64,
    snaplen: u32,
}

/// A pull reader over one capture file in either format.
pub struct CaptureReader {
    path: String,
    inner: Box<dyn PcapReaderIterator + Send>,
    legacy_link: LinkType,
    legacy_nanos: bool,
    interfaces: Vec<Interface>,
    buffer_size: usize,
    /// Why a decompressor ended the stream early, once it has (see [`CaptureReader::with_damage`]).
    damage: Option<Arc<OnceLock<String>>>,
    /// Where `TLSK` Decryption Secrets Blocks go (see [`CaptureReader::with_tls_secrets`]).
    secrets: Option<TlsSecretsSink>,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("path", &self.path)
            .finish()
    }
}

enum Step {
    Continue,
    End,
}

impl CaptureReader {
    /// Wraps a byte stream that holds a pcap or pcapng capture; `path` names it in messages.
    pub fn new(path: &str, reader: Box<dyn Read + Send>) -> Result<Self, SourceError> {
        let inner = pcap_parser::create_reader(INITIAL_BUFFER, reader).map_err(|e| match e {
            PcapError::Eof => SourceError::Empty { path: path.into() },
            PcapError::HeaderNotRecognized => SourceError::NotACapture { path: path.into() },
            PcapError::ReadError => SourceError::Io {
                path: path.into(),
                source: std::io::Error::other("read failed"),
            },
            other => SourceError::BadHeader {
                path: path.into(),
                detail: format!("{other:?}"),
            },
        })?;
        Ok(Self {
            path: path.into(),
            inner,
            legacy_link: LinkType::ETHERNET,
            legacy_nanos: false,
            interfaces: Vec::new(),
            buffer_size: INITIAL_BUFFER,
            damage: None,
            secrets: None,
        })
    }

    /// The byte stream ends early when `damage` holds a reason (a cut or corrupt gzip): reading
    /// then stops there as at a cut in a plain file, with that reason in the warning.
    pub(crate) fn with_damage(mut self, damage: Arc<OnceLock<String>>) -> Self {
        self.damage = Some(damage);
        self
    }

    /// Hands the text of each pcapng Decryption Secrets Block of type `TLSK` to `sink` when the
    /// reading meets it, before the packet records after it are handed out: its secrets then
    /// apply from there on, as in Wireshark. Without a sink the blocks are only counted.
    pub fn with_tls_secrets(mut self, sink: TlsSecretsSink) -> Self {
        self.secrets = Some(sink);
        self
    }

    /// The name given at construction.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Calls `on_frame` for every packet record in file order. Never fails: damage stops the
    /// reading and is reported in the returned summary.
    pub fn for_each_frame(&mut self, mut on_frame: impl FnMut(&Frame<'_>)) -> ReadSummary {
        self.for_each_frame_while(|frame| {
            on_frame(frame);
            true
        })
    }

    /// Like [`for_each_frame`](Self::for_each_frame), but stops reading after the first frame
    /// for which `on_frame` returns false (the summary then counts the frames read so far).
    pub fn for_each_frame_while(
        &mut self,
        mut on_frame: impl FnMut(&Frame<'_>) -> bool,
    ) -> ReadSummary {
        let mut summary = ReadSummary::default();
        let mut go_on = true;
        while go_on && self.advance(&mut summary, &mut |frame| go_on = on_frame(frame)) {}
        summary
    }

    /// Reads up to the next frame and hands it to `on_frame`: true when one was handed, false
    /// when the capture ended (damage then recorded in `summary`, as the whole reading does).
    /// The pull form of [`for_each_frame`](Self::for_each_frame), for a reader that interleaves
    /// several captures (`source::merge`).
    pub(crate) fn advance(
        &mut self,
        summary: &mut ReadSummary,
        on_frame: &mut impl FnMut(&Frame<'_>),
    ) -> bool {
        loop {
            // One block at a time: at most one frame per step.
            let mut handed = false;
            let stepped = self.step(summary, &mut |frame: &Frame<'_>| {
                handed = true;
                on_frame(frame)
            });
            let stopped = match stepped {
                Ok(Step::Continue) if handed => return true,
                Ok(Step::Continue) => continue,
                Ok(Step::End) => None,
                Err(reason) => Some(reason),
            };
            // A decompressor that stopped at damage explains the end (and a record cut by it).
            let reason = match (self.damage.as_ref().and_then(|d| d.get()), stopped) {
                (Some(damage), Some(reason)) => format!("{damage}; {reason}"),
                (Some(damage), None) => damage.clone(),
                (None, Some(reason)) => reason,
                (None, None) => return false,
            };
            summary.truncated = true;
            summary.warning = Some(format!(
                "{}: {reason}; results cover the {} frames before it",
                self.path, summary.frames
            ));
            return false;
        }
    }

    fn step(
        &mut self,
        summary: &mut ReadSummary,
        on_frame: &mut impl FnMut(&Frame<'_>),
    ) -> Result<Step, String> {
        let consumed_before = self.inner.consumed();
        match self.inner.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(header) => {
                        self.legacy_link = LinkType(header.network.0 as u32);
                        self.legacy_nanos = header.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(record) => {
                        summary.frames += 1;
                        let sub = u64::from(record.ts_usec);
                        let ns = if self.legacy_nanos { sub } else { sub * 1000 };
                        let captured = record.caplen as usize;
                        let bytes = &record.data[..captured.min(record.data.len())];
                        on_frame(&Frame {
                            number: summary.frames,
                            ts_ns: i64::from(record.ts_sec) * 1_000_000_000 + ns as i64,
                            link_type: self.legacy_link,
                            bytes,
                            orig_len: record.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::DecryptionSecrets(dsb)) => {
                        on_secrets(&mut self.secrets, &dsb, summary)
                    }
                    PcapBlockOwned::NG(block) => {
                        handle_ng_block(&mut self.interfaces, block, summary, on_frame)
                    }
                }
                // The buffer is shifted only when a refill needs the room (one copy per refill,
                // not one per half buffer).
                self.inner.consume_noshift(offset);
                Ok(Step::Continue)
            }
            Err(PcapError::Eof) => Ok(Step::End),
            Err(PcapError::Incomplete(_)) => {
                self.inner
                    .refill()
                    .map_err(|e| format!("read error after byte {consumed_before}: {e:?}"))?;
                Ok(Step::Continue)
            }
            Err(PcapError::UnexpectedEof) => {
                if self.inner.data().is_empty() {
                    Ok(Step::End)
                } else {
                    Err(format!(
                        "the file ends inside a record at byte {consumed_before}"
                    ))
                }
            }
            Err(PcapError::BufferTooSmall) => {
                if self.buffer_size >= MAX_BUFFER {
                    return Err(format!(
                        "damaged record header at byte {consumed_before} (claims more than {} MiB)",
                        MAX_BUFFER >> 20
                    ));
                }
                self.buffer_size *= 2;
                self.inner.grow(self.buffer_size);
                self.inner
                    .refill()
                    .map_err(|e| format!("read error after byte {consumed_before}: {e:?}"))?;
                Ok(Step::Continue)
            }
            Err(other) => Err(format!(
                "damaged record at byte {consumed_before} ({})",
                describe(&other)
            )),
        }
    }
}

fn describe(error: &PcapError<&[u8]>) -> String {
    match error {
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => format!("{kind:?}"),
        other => format!("{other:?}"),
    }
}

/// One Decryption Secrets Block: a `TLSK` one's text goes to the sink, others are counted.
fn on_secrets(
    sink: &mut Option<TlsSecretsSink>,
    dsb: &pcap_parser::pcapng::DecryptionSecretsBlock<'_>,
    summary: &mut ReadSummary,
) {
    let kind = dsb.secrets_type.0;
    if kind == SECRETS_TLS {
        summary.tls_secrets_blocks += 1;
        // The data is padded to 32 bits: the secrets length says where the text ends.
        let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
        let text = dsb.data.get(..len).unwrap_or(dsb.data);
        if let Some(sink) = sink {
            sink(TlsSecretsText {
                after_frame: summary.frames,
                text,
            });
        }
        return;
    }
    let name = SECRETS_TYPES
        .iter()
        .find(|(t, _)| *t == kind)
        .map_or("unknown type", |(_, name)| name);
    match summary
        .other_secrets_blocks
        .iter_mut()
        .find(|(n, _)| *n == name)
    {
        Some((_, count)) => *count += 1,
        None => summary.other_secrets_blocks.push((name, 1)),
    }
}

fn handle_ng_block(
    interfaces: &mut Vec<Interface>,
    block: Block<'_>,
    summary: &mut ReadSummary,
    on_frame: &mut impl FnMut(&Frame<'_>),
) {
    match block {
        Block::SectionHeader(_) => interfaces.clear(),
        Block::InterfaceDescription(idb) => interfaces.push(Interface {
            link_type: LinkType(idb.linktype.0 as u32),
            units_per_sec: idb.ts_resolution().unwrap_or(1_000_000),
            offset_secs: idb.ts_offset(),
            snaplen: idb.snaplen,
        }),
        Block::EnhancedPacket(epb) => {
            summary.frames += 1;
            let Some(iface) = interfaces.get(epb.if_id as usize) else {
                summary.unreadable_records += 1;
                return;
            };
            let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
            on_frame(&Frame {
                number: summary.frames,
                ts_ns: units_to_ns(units, iface.units_per_sec, iface.offset_secs),
                link_type: iface.link_type,
                bytes: epb.packet_data(),
                orig_len: epb.origlen,
            });
        }
        Block::SimplePacket(spb) => {
            summary.frames += 1;
            let Some(iface) = interfaces.first() else {
                summary.unreadable_records += 1;
                return;
            };
            let mut bytes = spb.packet_data();
            if iface.snaplen > 0 {
                bytes = &bytes[..bytes.len().min(iface.snaplen as usize)];
            }
            on_frame(&Frame {
                number: summary.frames,
                ts_ns: 0,
                link_type: iface.link_type,
                bytes,
                orig_len: spb.origlen,
            });
        }
        _ => {}
    }
}

/// Converts a pcapng timestamp in interface units to nanoseconds since the epoch, saturating.
fn units_to_ns(units: u64, units_per_sec: u64, offset_secs: i64) -> i64 {
    let per_sec = u128::from(units_per_sec.max(1));
    let ns = u128::from(units) * 1_000_000_000 / per_sec;
    let ns = i64::try_from(ns).unwrap_or(i64::MAX);
    ns.saturating_add(offset_secs.saturating_mul(1_000_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-record legacy pcap: `magic` decides byte order and resolution.
    fn pcap(big_endian: bool, nanos: bool, link: u32) -> Vec<u8> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let words = |v: &[u32]| -> Vec<u8> {
            v.iter()
                .flat_map(|w| {
                    if big_endian {
                        w.to_be_bytes()
                    } else {
                        w.to_le_bytes()
                    }
                })
                .collect()
        };
        let halves = |v: &[u16]| -> Vec<u8> {
            v.iter()
                .flat_map(|h| {
                    if big_endian {
                        h.to_be_bytes()
                    } else {
                        h.to_le_bytes()
                    }
                })
                .collect()
        };
        let mut out = words(&[magic]);
        out.extend(halves(&[2, 4]));
        out.extend(words(&[0, 0, 65535, link]));
        out.extend(words(&[1_700_000_000, 250, 4, 60]));
        out.extend([1, 2, 3, 4]);
        out
    }

    /// (number, ts_ns, link type, bytes, orig_len) of each frame.
    type Seen = Vec<(u64, i64, LinkType, Vec<u8>, u32)>;

    fn frames(bytes: Vec<u8>) -> (Seen, ReadSummary) {
        let mut reader =
            CaptureReader::new("test", Box::new(std::io::Cursor::new(bytes))).expect("a capture");
        let mut seen = Vec::new();
        let summary = reader.for_each_frame(|f| {
            seen.push((f.number, f.ts_ns, f.link_type, f.bytes.to_vec(), f.orig_len))
        });
        (seen, summary)
    }

    #[test]
    fn legacy_pcap_in_both_byte_orders_and_resolutions() {
        for big_endian in [false, true] {
            for nanos in [false, true] {
                let (seen, summary) = frames(pcap(big_endian, nanos, 276));
                let sub = if nanos { 250 } else { 250_000 };
                assert_eq!(summary.frames, 1);
                assert!(!summary.truncated);
                assert_eq!(
                    seen,
                    [(
                        1,
                        1_700_000_000_000_000_000 + sub,
                        LinkType::LINUX_SLL2,
                        vec![1, 2, 3, 4],
                        60
                    )],
                    "big endian {big_endian}, nanoseconds {nanos}"
                );
            }
        }
    }

    #[test]
    fn a_record_cut_short_is_a_truncation_not_an_error() {
        let mut bytes = pcap(false, false, 1);
        bytes.truncate(bytes.len() - 2);
        let (seen, summary) = frames(bytes);
        assert!(seen.is_empty());
        assert!(summary.truncated);
        assert!(
            summary
                .warning
                .is_some_and(|w| w.contains("ends inside a record"))
        );
    }

    /// A little-endian pcapng block: type, body, padded to 32 bits, lengths around it.
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        body.resize(body.len().next_multiple_of(4), 0);
        let len = (body.len() + 12) as u32;
        let mut out = kind.to_le_bytes().to_vec();
        out.extend(len.to_le_bytes());
        out.extend(body);
        out.extend(len.to_le_bytes());
        out
    }

    fn secrets_block(kind: u32, text: &[u8]) -> Vec<u8> {
        let mut body = kind.to_le_bytes().to_vec();
        body.extend((text.len() as u32).to_le_bytes());
        body.extend(text);
        block(0xA, &body)
    }

    #[test]
    fn secrets_blocks_reach_the_sink_where_they_are_and_other_types_are_counted() {
        let mut file = block(
            0x0A0D_0D0A,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        file.extend(block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        let packet = |n: u8| {
            let mut body = vec![0u8; 20];
            body[12] = 3; // caplen
            body[16] = 3; // origlen
            body.extend([n, n, n]);
            block(6, &body)
        };
        file.extend(packet(1));
        // Not a multiple of 4: the padding must not reach the sink.
        file.extend(secrets_block(SECRETS_TLS, b"CLIENT_RANDOM 00 11\n#"));
        file.extend(packet(2));
        file.extend(secrets_block(0x5747_4b4c, b"wg"));
        file.extend(secrets_block(0x5747_4b4c, b"wg"));
        file.extend(secrets_block(SECRETS_TLS, b""));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink_seen = Arc::clone(&seen);
        let mut reader = CaptureReader::new("mem", Box::new(std::io::Cursor::new(file)))
            .unwrap()
            .with_tls_secrets(Box::new(move |s| {
                sink_seen
                    .lock()
                    .unwrap()
                    .push((s.after_frame, s.text.to_vec()))
            }));
        let summary = reader.for_each_frame(|_| {});
        assert!(!summary.truncated, "{summary:?}");
        assert_eq!(summary.frames, 2);
        assert_eq!(summary.tls_secrets_blocks, 2);
        assert_eq!(summary.other_secrets_blocks, [("WireGuard key log", 2)]);
        assert_eq!(
            *seen.lock().unwrap(),
            [(1, b"CLIENT_RANDOM 00 11\n#".to_vec()), (2, Vec::new())]
        );
        let shown = format!(
            "{:?}",
            TlsSecretsText {
                after_frame: 1,
                text: b"CLIENT_RANDOM"
            }
        );
        assert!(!shown.contains("CLIENT_RANDOM"), "{shown}");
    }

    #[test]
    fn pcapng_units_convert_to_nanoseconds() {
        assert_eq!(units_to_ns(1_500_000, 1_000_000, 0), 1_500_000_000);
        assert_eq!(units_to_ns(1_500_000_000, 1_000_000_000, 0), 1_500_000_000);
        assert_eq!(units_to_ns(3, 2, 10), 11_500_000_000);
        assert_eq!(units_to_ns(u64::MAX, 1, 0), i64::MAX);
    }
}
