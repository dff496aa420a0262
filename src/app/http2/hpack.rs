//! HPACK (RFC 7541) for one direction: the `hpack_codec` decoder with the direction's dynamic
//! table, and what happens when that table is lost (bytes the capture missed, a block that did
//! not decode, a capture that joined the connection late). A block is decoded only with a table
//! known to be the encoder's; otherwise it is undecodable, never decoded with a wrong table.

use hpack_codec::Decoder;

/// Largest dynamic table `hpack_codec` can hold (its sizes are `u16`).
const MAX_TABLE: u16 = u16::MAX;
/// SETTINGS_HEADER_TABLE_SIZE before the receiver announces one.
const DEFAULT_TABLE: u32 = 4096;

/// Why a block was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecodable {
    /// The table was already lost (a gap, an earlier failure).
    Lost,
    /// This block failed to decode (malformed, or a reference to an entry the table lacks):
    /// the table is lost from here on.
    Error,
}

/// One direction's HPACK decoding state.
pub struct Hpack {
    decoder: Option<Decoder>,
    /// Joined mid-connection: a fresh table may lack entries the encoder refers to; a block
    /// that decodes is exact (an index either names an entry both tables hold or fails).
    mid_stream: bool,
}

impl std::fmt::Debug for Hpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hpack")
            .field("lost", &self.decoder.is_none())
            .field("mid_stream", &self.mid_stream)
            .finish()
    }
}

impl Hpack {
    /// A decoder from the connection's start, or for a capture that joined it late.
    pub fn new(mid_stream: bool) -> Self {
        // Joined late: the table size is unknown, so the largest is allowed (entries the real
        // table evicted are never referred to; ones it holds keep their indexes).
        let size = if mid_stream {
            MAX_TABLE
        } else {
            DEFAULT_TABLE as u16
        };
        Hpack {
            decoder: Some(Decoder::new(size)),
            mid_stream,
        }
    }

    /// The table is gone for good (bytes of a header block were lost).
    pub fn lose(&mut self) {
        self.decoder = None;
    }

    /// The receiver announced SETTINGS_HEADER_TABLE_SIZE: the encoder's table may not grow past
    /// it.
    pub fn set_limit(&mut self, size: u32) {
        if self.mid_stream {
            return;
        }
        let size = u16::try_from(size).unwrap_or(MAX_TABLE);
        if let Some(d) = self.decoder.as_mut() {
            // Refused while the encoder's current size is above it (it must shrink first).
            let _ = d.set_dynamic_table_size_hard_limit(size);
        }
    }

    /// Decodes one whole header block, giving each field to `field`; on failure the table is
    /// lost (fields already given stay given: the caller drops them).
    pub fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), Undecodable> {
        let Some(decoder) = self.decoder.as_mut() else {
            return Err(Undecodable::Lost);
        };
        let limit = decoder.table().dynamic().size_soft_limit();
        if !entries_fit(block, limit) {
            self.decoder = None;
            return Err(Undecodable::Error);
        }
        // hpack_codec takes every leading byte with bit 0x20 set for a table size update, an
        // indexed field such as 0xbe (index 62) too: the block goes to it with the genuine
        // size updates first, then one static field (0x82, `:method: GET`) that is dropped, so
        // what follows is read as fields.
        let updates = leading_size_updates(block);
        let mut buf = Vec::with_capacity(block.len() + 1);
        buf.extend_from_slice(block.get(..updates).unwrap_or_default());
        buf.push(0x82);
        buf.extend_from_slice(block.get(updates..).unwrap_or_default());
        let ok = (|| {
            let mut fields = decoder.enter_header_block(&buf).ok()?;
            fields.decode_field().ok()??;
            loop {
                match fields.decode_field() {
                    Ok(Some(f)) => field(f.name(), f.value()),
                    Ok(None) => return Some(()),
                    Err(_) => return None,
                }
            }
        })();
        match ok {
            Some(()) => Ok(()),
            None => {
                self.decoder = None;
                Err(Undecodable::Error)
            }
        }
    }
}

/// The block stays within what `hpack_codec` reads exactly: its integers are `u16` (a larger
/// one, or one encoded in more than three continuation bytes, is misread or overflows a shift),
/// and so are its table entry sizes (one above 65535 would wrap). Names taken from the dynamic
/// table are counted at the table's size (no entry is larger); a Huffman string at 8/5 its
/// length (the shortest code is 5 bits). A block cut short passes: the decoder refuses it.
/// Only header fields above 64 KiB are refused here; real ones are far smaller.
fn entries_fit(block: &[u8], table_limit: u16) -> bool {
    let mut r = Reader {
        bytes: block,
        too_big: false,
    };
    while let Some(&b) = r.bytes.first() {
        let step = if b & 0x80 != 0 {
            r.int(7).map(|_| true)
        } else if b & 0x20 != 0 && b & 0xc0 == 0 {
            r.int(5).map(|_| true)
        } else {
            let indexing = b & 0xc0 == 0x40;
            let prefix = if indexing { 6 } else { 4 };
            (|| {
                let index = r.int(prefix)?;
                let name = match index {
                    0 => r.string()?,
                    1..=61 => 32,
                    _ => u64::from(table_limit),
                };
                let value = r.string()?;
                Some(!indexing || name.saturating_add(value).saturating_add(32) <= 65_535)
            })()
        };
        match step {
            Some(true) => {}
            Some(false) => return false,
            None => return !r.too_big,
        }
    }
    true
}

/// How many bytes the dynamic table size updates at the start of a block take.
fn leading_size_updates(block: &[u8]) -> usize {
    let mut r = Reader {
        bytes: block,
        too_big: false,
    };
    while r.bytes.first().is_some_and(|b| b & 0xe0 == 0x20) {
        if r.int(5).is_none() {
            break;
        }
    }
    block.len() - r.bytes.len()
}

/// A cursor over HPACK primitives (RFC 7541 section 5).
struct Reader<'a> {
    bytes: &'a [u8],
    /// An integer beyond `u16` (or its encoding beyond three continuation bytes) was met.
    too_big: bool,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(b)
    }

    fn int(&mut self, prefix: u32) -> Option<u64> {
        let mask = (1u64 << prefix) - 1;
        let mut value = u64::from(self.byte()?) & mask;
        if value < mask {
            return Some(value);
        }
        for shift in [0, 7, 14] {
            let b = self.byte()?;
            value += u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                if value > u64::from(u16::MAX) {
                    break;
                }
                return Some(value);
            }
        }
        self.too_big = true;
        None
    }

    /// Skips a string literal; its decoded length at most.
    fn string(&mut self) -> Option<u64> {
        let huffman = self.bytes.first()? & 0x80 != 0;
        let len = self.int(7)?;
        let n = usize::try_from(len).ok()?;
        self.bytes = self.bytes.get(n..)?;
        Some(if huffman {
            len.saturating_mul(8) / 5
        } else {
            len
        })
    }
}
