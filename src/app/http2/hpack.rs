//! HPACK (RFC 7541) for one direction: the `hpack_codec` decoder with the direction's dynamic
//! table, and what happens when that table is lost (bytes the capture missed, a block that did
//! not decode, a capture that joined the connection late).
//!
//! A lost table is never guessed at: decoding starts again on an empty table. That is exact
//! whenever a block decodes: entries are indexed from the newest, every entry inserted since the
//! restart is one of the encoder's newest, in the same order, so an index either names the same
//! entry in both tables or lies beyond the restarted one, and the block fails. A block that
//! fails is undecodable (its fields are dropped) and the table starts again, since the entries
//! the rest of that block would have inserted are missing.

use hpack_codec::Decoder;

/// Largest dynamic table `hpack_codec` can hold (its sizes are `u16`).
const MAX_TABLE: u16 = u16::MAX;
/// SETTINGS_HEADER_TABLE_SIZE before the receiver announces one.
const DEFAULT_TABLE: u32 = 4096;

/// A block failed to decode (malformed, or a reference to an entry the table lacks: one
/// inserted before the table was lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecodable;

/// One direction's HPACK decoding state.
pub struct Hpack {
    decoder: Decoder,
    /// The table was restarted (joined mid-connection, lost to a gap or a failed block): it
    /// may lack entries the encoder refers to, and its size limit is unknown.
    restarted: bool,
}

impl std::fmt::Debug for Hpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hpack")
            .field("restarted", &self.restarted)
            .finish()
    }
}

impl Hpack {
    /// A decoder from the connection's start, or for a capture that joined it late.
    pub fn new(mid_stream: bool) -> Self {
        let mut h = Hpack {
            decoder: Decoder::new(DEFAULT_TABLE as u16),
            restarted: false,
        };
        if mid_stream {
            h.lose();
        }
        h
    }

    /// The table is no longer the encoder's (bytes of a header block were lost, a block
    /// failed): decoding starts again on an empty table allowed the largest size (entries the
    /// encoder's table evicted are never referred to; the ones it holds keep their indexes).
    pub fn lose(&mut self) {
        self.decoder = Decoder::new(MAX_TABLE);
        self.restarted = true;
    }

    /// The table was restarted: it may lack entries the encoder refers to.
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    /// The receiver announced SETTINGS_HEADER_TABLE_SIZE: the encoder's table may not grow past
    /// it.
    pub fn set_limit(&mut self, size: u32) {
        if self.restarted {
            return;
        }
        let size = u16::try_from(size).unwrap_or(MAX_TABLE);
        // Refused while the encoder's current size is above it (it must shrink first).
        let _ = self.decoder.set_dynamic_table_size_hard_limit(size);
    }

    /// Decodes one whole header block, giving each field to `field`; on failure the table
    /// starts again (fields already given stay given: the caller drops them).
    pub fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), Undecodable> {
        let decoder = &mut self.decoder;
        let limit = decoder.table().dynamic().size_soft_limit();
        if !entries_fit(block, limit) {
            self.lose();
            return Err(Undecodable);
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
                self.lose();
                Err(Undecodable)
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
