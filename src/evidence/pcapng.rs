//! Writing the evidence pcapng with `pcap-file`'s `PcapNgWriter`.
//!
//! Why `pcap-file` and not `pcap-parser`'s serializer: `PcapNgWriter` streams blocks straight into
//! any `io::Write`, has typed options (`EnhancedPacketOption::Comment`) and writes their padding
//! and the end-of-options marker itself; `pcap-parser` builds a `Vec` per block and leaves the
//! option bytes and the caplen to the caller. One catch, handled here: `pcap-file` 2.0 writes
//! every packet timestamp in nanoseconds whatever the interface says, so each interface block
//! declares `if_tsresol` = 9 (10^-9 s), which is also what the capture's timestamps are kept in.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use pcap_file::DataLink;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};

use crate::source::{Frame, LinkType};

/// `if_tsresol` value for nanoseconds (a power of ten, 10^-9).
const NANOSECONDS: u8 = 9;
/// An option's length is 16 bits: a longer comment is cut (at a character boundary).
const MAX_COMMENT: usize = 65_000;

/// Writes frames to a pcapng: one interface per link type (in the order first seen), original
/// timestamps and lengths, packet comments on the frames that are evidence. Also the writer
/// under `live --write`'s rotation.
pub struct EvidenceWriter<W: Write> {
    inner: PcapNgWriter<W>,
    interfaces: Vec<LinkType>,
    written: u64,
    /// Bytes of blocks written after the section header.
    bytes: u64,
    /// Payload bytes are written as zeros (`--evidence-redact`).
    headers_only: bool,
    /// `--evidence-keys`: the TLS secrets of the sessions written.
    secrets: Option<super::secrets::SecretsWriter>,
}

impl<W: Write> std::fmt::Debug for EvidenceWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceWriter")
            .field("interfaces", &self.interfaces)
            .field("written", &self.written)
            .finish()
    }
}

impl<W: Write> EvidenceWriter<W> {
    /// Starts the file (its section header block) on `out`.
    pub fn new(out: W) -> std::io::Result<Self> {
        let inner = PcapNgWriter::new(out).map_err(into_io)?;
        Ok(Self {
            inner,
            interfaces: Vec::new(),
            written: 0,
            bytes: 0,
            headers_only: false,
            secrets: None,
        })
    }

    /// Writes the TLS secrets `keys` holds for the sessions whose ClientHello is written
    /// (`--evidence-keys`; see [`EvidenceWriter::secrets_for`]).
    pub fn with_secrets(mut self, keys: crate::app::tls::KeyLog) -> Self {
        self.secrets = Some(super::secrets::SecretsWriter::new(keys));
        self
    }

    /// Called before writing a frame that carries a ClientHello with `client_random`: with
    /// [`EvidenceWriter::with_secrets`], writes a Decryption Secrets Block with the session's
    /// key log lines (once a session, when the key log has them), so they apply from the
    /// ClientHello on.
    pub fn secrets_for(&mut self, client_random: [u8; 32]) -> std::io::Result<()> {
        // In the section's byte order (pcap-file writes the CPU's).
        let big_endian = matches!(self.inner.section().endianness, pcap_file::Endianness::Big);
        let Some(block) = self
            .secrets
            .as_mut()
            .and_then(|s| s.block_for(client_random, big_endian))
        else {
            return Ok(());
        };
        self.inner.get_mut().write_all(&block)?;
        self.bytes += block.len() as u64;
        Ok(())
    }

    /// TLS sessions whose secrets were written (`--evidence-keys`).
    pub fn secret_sessions(&self) -> u64 {
        self.secrets.as_ref().map_or(0, |s| s.sessions())
    }

    /// Writes only the headers of each frame: payload bytes become zeros, lengths are kept
    /// ([`super::payload::headers_only`]).
    pub fn headers_only(mut self, on: bool) -> Self {
        self.headers_only = on;
        self
    }

    /// Frames written so far (the number the last one has in the new file).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes of interface and packet blocks written so far (for a writer that caps file size).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Pushes what is buffered in `W` on.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.get_mut().flush()
    }

    /// Appends `frame` with one packet comment per entry of `comments`; returns its frame
    /// number in the new file.
    pub fn write(&mut self, frame: &Frame<'_>, comments: &[String]) -> std::io::Result<u64> {
        let interface_id = self.interface(frame.link_type)?;
        let options = comments
            .iter()
            .map(|c| EnhancedPacketOption::Comment(Cow::Borrowed(cut(c))))
            .collect();
        let block = EnhancedPacketBlock {
            interface_id,
            // Before 1970 cannot be written (pcapng timestamps are unsigned): 0 then.
            timestamp: Duration::from_nanos(u64::try_from(frame.ts_ns).unwrap_or(0)),
            original_len: frame.orig_len.max(frame.bytes.len() as u32),
            data: match self.headers_only {
                true => Cow::Owned(super::payload::headers_only(frame.link_type, frame.bytes)),
                false => Cow::Borrowed(frame.bytes),
            },
            options,
        };
        self.bytes += self.inner.write_pcapng_block(block).map_err(into_io)? as u64;
        self.written += 1;
        Ok(self.written)
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> std::io::Result<W> {
        let mut out = self.inner.into_inner();
        out.flush()?;
        Ok(out)
    }

    /// The interface id for `link`, writing its description block the first time.
    fn interface(&mut self, link: LinkType) -> std::io::Result<u32> {
        if let Some(i) = self.interfaces.iter().position(|&l| l == link) {
            return Ok(i as u32);
        }
        let idb = InterfaceDescriptionBlock {
            linktype: DataLink::from(link.0),
            // 0: no limit (frames keep the length they were captured with).
            snaplen: 0,
            options: vec![InterfaceDescriptionOption::IfTsResol(NANOSECONDS)],
        };
        self.bytes += self.inner.write_pcapng_block(idb).map_err(into_io)? as u64;
        self.interfaces.push(link);
        Ok(self.interfaces.len() as u32 - 1)
    }
}

/// `text` cut to fit a pcapng option, at a character boundary.
fn cut(text: &str) -> &str {
    if text.len() <= MAX_COMMENT {
        return text;
    }
    let mut end = MAX_COMMENT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn into_io(e: pcap_file::PcapError) -> std::io::Error {
    match e {
        pcap_file::PcapError::IoError(io) => io,
        other => std::io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::CaptureReader;

    #[test]
    fn frames_read_back_with_their_time_link_lengths_and_comments() {
        let mut w = EvidenceWriter::new(Vec::new()).unwrap();
        let bytes = [0u8; 60];
        let a = Frame {
            number: 7,
            ts_ns: 1_764_000_000_123_456_789,
            link_type: LinkType::ETHERNET,
            bytes: &bytes,
            orig_len: 1514,
        };
        let b = Frame {
            link_type: LinkType::RAW,
            ts_ns: a.ts_ns + 1,
            ..a
        };
        assert_eq!(w.write(&a, &["F1 x.y: ünïcode".into()]).unwrap(), 1);
        assert_eq!(w.write(&b, &[]).unwrap(), 2);
        let out = w.finish().unwrap();
        let mut reader = CaptureReader::new("mem", Box::new(std::io::Cursor::new(out))).unwrap();
        let mut seen = Vec::new();
        let summary = reader.for_each_frame(|f| {
            seen.push((f.number, f.ts_ns, f.link_type, f.bytes.len(), f.orig_len))
        });
        assert!(!summary.truncated, "{summary:?}");
        assert_eq!(
            seen,
            vec![
                (1, a.ts_ns, LinkType::ETHERNET, 60, 1514),
                (2, a.ts_ns + 1, LinkType::RAW, 60, 1514)
            ]
        );
    }

    #[test]
    fn long_comments_are_cut_on_a_character_boundary() {
        let long = "é".repeat(40_000);
        let c = cut(&long);
        assert!(c.len() <= MAX_COMMENT && long.starts_with(c));
    }
}
