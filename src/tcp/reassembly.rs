//! Bounded in-order reassembly of one direction of a TCP connection.
//!
//! Segments that arrive in order are handed on at once, borrowed; only segments ahead of a hole
//! are copied, up to a byte cap. When the cap is hit, or the connection ends with a hole, the hole
//! is reported as an explicit gap and delivery resumes after it. Nothing is kept once the consumer
//! has had it.

use super::seq::Seq;

/// What the application layer receives, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    /// Contiguous bytes at `offset` (bytes since the start of the stream).
    Data { offset: u64, bytes: &'a [u8] },
    /// `len` bytes that were never seen (not captured, or lost beyond the buffer).
    Gap { offset: u64, len: u64 },
}

/// Reassembles one direction.
#[derive(Debug, Clone)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver.
    next: Seq,
    /// Stream offset of `next`.
    offset: u64,
    /// Out-of-order segments ahead of `next`, sorted by sequence number.
    pending: Vec<(Seq, Vec<u8>)>,
    pending_bytes: usize,
    cap: usize,
}

impl Reassembler {
    /// A reassembler whose first byte has sequence number `isn_plus_one` and that buffers at most
    /// `cap` bytes ahead of a hole.
    pub fn new(first: Seq, cap: usize) -> Self {
        Self {
            next: first,
            offset: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            cap,
        }
    }

    /// Bytes currently buffered ahead of a hole.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// Offers a segment; everything now deliverable goes to `deliver`.
    pub fn push(&mut self, seq: Seq, payload: &[u8], deliver: &mut impl FnMut(StreamChunk<'_>)) {
        if payload.is_empty() {
            return;
        }
        let end = seq.wrapping_add(payload.len() as u32);
        if end.le(self.next) {
            return; // wholly old: a retransmission of delivered bytes
        }
        if seq.le(self.next) {
            let skip = self.next.diff(seq) as usize;
            self.emit(&payload[skip..], deliver);
            self.drain_pending(deliver);
            return;
        }
        if self.pending_bytes + payload.len() > self.cap {
            // No room: give up on the hole, deliver what we hold, then this segment.
            self.skip_to_first_pending(deliver);
            if self.pending.is_empty() {
                let hole = seq.diff(self.next) as u64;
                self.gap(hole, deliver);
                self.emit(payload, deliver);
                return;
            }
        }
        let at = self.pending.partition_point(|(s, _)| s.lt(seq));
        self.pending.insert(at, (seq, payload.to_vec()));
        self.pending_bytes += payload.len();
        self.drain_pending(deliver);
    }

    /// Ends the stream: whatever is buffered is delivered after explicit gaps.
    pub fn finish(&mut self, deliver: &mut impl FnMut(StreamChunk<'_>)) {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(deliver);
        }
    }

    fn emit(&mut self, bytes: &[u8], deliver: &mut impl FnMut(StreamChunk<'_>)) {
        deliver(StreamChunk::Data {
            offset: self.offset,
            bytes,
        });
        self.offset += bytes.len() as u64;
        self.next = self.next.wrapping_add(bytes.len() as u32);
    }

    fn gap(&mut self, len: u64, deliver: &mut impl FnMut(StreamChunk<'_>)) {
        deliver(StreamChunk::Gap {
            offset: self.offset,
            len,
        });
        self.offset += len;
        self.next = self.next.wrapping_add(len as u32);
    }

    fn skip_to_first_pending(&mut self, deliver: &mut impl FnMut(StreamChunk<'_>)) {
        if let Some((seq, _)) = self.pending.first() {
            let hole = seq.diff(self.next);
            if hole > 0 {
                self.gap(hole as u64, deliver);
            }
            self.drain_pending(deliver);
        }
    }

    fn drain_pending(&mut self, deliver: &mut impl FnMut(StreamChunk<'_>)) {
        while let Some((seq, _)) = self.pending.first() {
            if seq.gt(self.next) {
                break;
            }
            let (seq, bytes) = self.pending.remove(0);
            self.pending_bytes -= bytes.len();
            let end = seq.wrapping_add(bytes.len() as u32);
            if end.gt(self.next) {
                let skip = self.next.diff(seq) as usize;
                self.emit(&bytes[skip..], deliver);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cap: usize, segments: &[(u32, &[u8])]) -> Vec<String> {
        let mut r = Reassembler::new(Seq(u32::MAX - 2), cap);
        let mut out = Vec::new();
        let mut sink = |c: StreamChunk<'_>| {
            out.push(match c {
                StreamChunk::Data { offset, bytes } => {
                    format!("{offset}:{}", String::from_utf8_lossy(bytes))
                }
                StreamChunk::Gap { offset, len } => format!("{offset}:gap{len}"),
            })
        };
        for (rel, bytes) in segments {
            r.push(Seq(u32::MAX - 2).wrapping_add(*rel), bytes, &mut sink);
        }
        r.finish(&mut sink);
        out
    }

    #[test]
    fn in_order_across_the_wrap_is_delivered_as_is() {
        assert_eq!(run(100, &[(0, b"abc"), (3, b"def")]), ["0:abc", "3:def"]);
    }

    #[test]
    fn out_of_order_and_overlapping_segments_are_put_back_in_order() {
        assert_eq!(
            run(100, &[(3, b"def"), (0, b"abc"), (1, b"bcdefg")]),
            ["0:abc", "3:def", "6:g"]
        );
    }

    #[test]
    fn a_hole_that_never_fills_becomes_an_explicit_gap() {
        assert_eq!(
            run(100, &[(0, b"ab"), (5, b"fg")]),
            ["0:ab", "2:gap3", "5:fg"]
        );
    }

    #[test]
    fn the_buffer_cap_is_never_exceeded() {
        let mut r = Reassembler::new(Seq(0), 4);
        let mut sink = |_: StreamChunk<'_>| {};
        for i in 0..100u32 {
            r.push(Seq(10 + i * 10), b"xyz", &mut sink);
            assert!(r.buffered() <= 4);
        }
    }
}
