//! Bounded in-order reassembly of one direction of a TCP connection.
//!
//! Segments that arrive in order are handed on at once, borrowed; only segments ahead of a hole
//! are copied, up to a byte cap. When the cap is hit, or the connection ends with a hole, the hole
//! is reported as an explicit gap and delivery resumes after it. Nothing is kept once the consumer
//! has had it.

use std::collections::VecDeque;

use super::seq::Seq;

/// What the application layer receives, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamChunk<'a> {
    /// Contiguous bytes at `offset` (bytes since the start of the stream).
    Data { offset: u64, bytes: &'a [u8] },
    /// `len` bytes that were never seen (not captured, cut by the snap length, or lost beyond
    /// the buffer).
    Gap { offset: u64, len: u64 },
}

/// An acknowledgment more than this far beyond the next expected byte is not taken as proof that
/// the bytes before it were sent (a corrupt or unrelated ACK must not skip the stream ahead).
const MAX_ACK_SKIP: i32 = 1 << 30;

/// Where a chunk came from: the frame whose segment carried its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    pub frame: u64,
    pub ts_ns: i64,
}

/// A segment held ahead of a hole.
#[derive(Debug, Clone)]
struct Pending {
    seq: Seq,
    origin: Origin,
    /// Captured bytes.
    bytes: Vec<u8>,
    /// Bytes the segment carried on the wire (more than `bytes` when the snap length cut it).
    wire_len: u32,
}

/// The consumer of one direction's bytes: each chunk with the frame that carried it.
pub trait ChunkSink {
    fn chunk(&mut self, origin: Origin, chunk: StreamChunk<'_>);
}

impl<F: FnMut(Origin, StreamChunk<'_>)> ChunkSink for F {
    fn chunk(&mut self, origin: Origin, chunk: StreamChunk<'_>) {
        self(origin, chunk)
    }
}

/// Reassembles one direction.
#[derive(Debug, Clone)]
pub struct Reassembler {
    /// Sequence number of the next byte to deliver.
    next: Seq,
    /// Stream offset of `next`.
    offset: u64,
    /// Out-of-order segments ahead of `next`, sorted by sequence number.
    pending: VecDeque<Pending>,
    pending_bytes: usize,
    cap: usize,
    /// Sequence number of the sender's FIN, which an ACK covers without it being data.
    fin: Option<Seq>,
}

impl Reassembler {
    /// A reassembler whose first byte has sequence number `first` and that buffers at most `cap`
    /// bytes ahead of a hole.
    pub fn new(first: Seq, cap: usize) -> Self {
        Self {
            next: first,
            offset: 0,
            pending: VecDeque::new(),
            pending_bytes: 0,
            cap,
            fin: None,
        }
    }

    /// Bytes currently buffered ahead of a hole.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// Bytes delivered or skipped as gaps so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Offers a segment of `wire_len` bytes at `seq` of which `payload` was captured; everything
    /// now deliverable goes to `sink`.
    pub fn push(
        &mut self,
        origin: Origin,
        seq: Seq,
        payload: &[u8],
        wire_len: u32,
        sink: &mut impl ChunkSink,
    ) {
        let wire_len = wire_len.max(payload.len() as u32);
        if wire_len == 0 {
            return;
        }
        let end = seq.wrapping_add(wire_len);
        if end.le(self.next) {
            return; // wholly old: a retransmission of delivered bytes
        }
        if seq.le(self.next) {
            self.emit_segment(origin, seq, payload, wire_len, sink);
            self.drain_pending(sink);
            return;
        }
        if self.pending_bytes + payload.len() > self.cap {
            // No room: give up on the hole, deliver what we hold, then this segment.
            self.skip_to_first_pending(sink);
            if self.pending.is_empty() {
                let hole = seq.diff(self.next) as u64;
                self.gap(origin, hole, sink);
                self.emit_segment(origin, seq, payload, wire_len, sink);
                return;
            }
        }
        let at = self.pending.partition_point(|p| p.seq.lt(seq));
        self.pending.insert(
            at,
            Pending {
                seq,
                origin,
                bytes: payload.to_vec(),
                wire_len,
            },
        );
        self.pending_bytes += payload.len();
        self.drain_pending(sink);
    }

    /// The receiver acknowledged everything before `ack`: bytes below it that were never seen
    /// will not be sent again (the capture missed them), so they become a gap now and what waits
    /// behind them is delivered, instead of waiting for the buffer cap or the end.
    pub fn acknowledged(&mut self, origin: Origin, mut ack: Seq, sink: &mut impl ChunkSink) {
        if let Some(fin) = self.fin
            && ack.gt(fin)
        {
            ack = fin;
        }
        // An ACK far ahead of anything sent is bogus (or a window we never saw): ignore it.
        if !ack.gt(self.next) || ack.diff(self.next) > MAX_ACK_SKIP {
            return;
        }
        while ack.gt(self.next) {
            match self.pending.front() {
                Some(first) if first.seq.le(self.next) => self.drain_pending(sink),
                Some(first) if first.seq.lt(ack) => {
                    let hole = first.seq.diff(self.next) as u64;
                    self.gap(origin, hole, sink);
                }
                _ => {
                    let hole = ack.diff(self.next) as u64;
                    self.gap(origin, hole, sink);
                }
            }
        }
        self.drain_pending(sink);
    }

    /// The sender's FIN is at `seq` (after its last data byte).
    pub fn fin_at(&mut self, seq: Seq) {
        self.fin.get_or_insert(seq);
    }

    /// Ends the stream: whatever is buffered is delivered after explicit gaps.
    pub fn finish(&mut self, sink: &mut impl ChunkSink) {
        while !self.pending.is_empty() {
            self.skip_to_first_pending(sink);
        }
    }

    /// Delivers the part of a segment at `seq` (<= next) beyond `next`: its captured bytes, then
    /// a gap for what the snap length cut.
    fn emit_segment(
        &mut self,
        origin: Origin,
        seq: Seq,
        payload: &[u8],
        wire_len: u32,
        sink: &mut impl ChunkSink,
    ) {
        let skip = self.next.diff(seq).max(0) as usize;
        if skip < payload.len() {
            self.emit(origin, &payload[skip..], sink);
        }
        let end = seq.wrapping_add(wire_len);
        let missing = end.diff(self.next);
        if missing > 0 {
            self.gap(origin, missing as u64, sink);
        }
    }

    fn emit(&mut self, origin: Origin, bytes: &[u8], sink: &mut impl ChunkSink) {
        sink.chunk(
            origin,
            StreamChunk::Data {
                offset: self.offset,
                bytes,
            },
        );
        self.offset += bytes.len() as u64;
        self.next = self.next.wrapping_add(bytes.len() as u32);
    }

    fn gap(&mut self, origin: Origin, len: u64, sink: &mut impl ChunkSink) {
        sink.chunk(
            origin,
            StreamChunk::Gap {
                offset: self.offset,
                len,
            },
        );
        self.offset += len;
        self.next = self.next.wrapping_add(len as u32);
    }

    fn skip_to_first_pending(&mut self, sink: &mut impl ChunkSink) {
        if let Some(first) = self.pending.front() {
            let hole = first.seq.diff(self.next);
            if hole > 0 {
                let origin = first.origin;
                self.gap(origin, hole as u64, sink);
            }
            self.drain_pending(sink);
        }
    }

    fn drain_pending(&mut self, sink: &mut impl ChunkSink) {
        while let Some(first) = self.pending.front() {
            if first.seq.gt(self.next) {
                break;
            }
            let Some(piece) = self.pending.pop_front() else {
                break;
            };
            self.pending_bytes -= piece.bytes.len();
            let end = piece.seq.wrapping_add(piece.wire_len);
            if end.gt(self.next) {
                self.emit_segment(piece.origin, piece.seq, &piece.bytes, piece.wire_len, sink);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl StreamChunk<'_> {
        fn to_owned_string(self) -> String {
            match self {
                StreamChunk::Data { offset, bytes } => {
                    format!("{offset}:{}", String::from_utf8_lossy(bytes))
                }
                StreamChunk::Gap { offset, len } => format!("{offset}:gap{len}"),
            }
        }
    }

    fn run(cap: usize, segments: &[(u32, &[u8])]) -> Vec<String> {
        let mut r = Reassembler::new(Seq(u32::MAX - 2), cap);
        let mut out = Vec::new();
        let mut sink = |_: Origin, c: StreamChunk<'_>| out.push(c.to_owned_string());
        for (rel, bytes) in segments {
            let seq = Seq(u32::MAX - 2).wrapping_add(*rel);
            r.push(Origin::default(), seq, bytes, bytes.len() as u32, &mut sink);
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
        let mut sink = |_: Origin, _: StreamChunk<'_>| {};
        for i in 0..100u32 {
            r.push(Origin::default(), Seq(10 + i * 10), b"xyz", 3, &mut sink);
            assert!(r.buffered() <= 4);
        }
    }

    #[test]
    fn bytes_acknowledged_but_never_captured_become_a_gap_at_once() {
        let mut r = Reassembler::new(Seq(0), 1000);
        let mut out = Vec::new();
        let mut sink = |o: Origin, c: StreamChunk<'_>| out.push((o.frame, c.to_owned_string()));
        let at = |frame| Origin { frame, ts_ns: 0 };
        r.push(at(1), Seq(0), b"ab", 2, &mut sink);
        r.push(at(3), Seq(4), b"ef", 2, &mut sink);
        r.acknowledged(at(4), Seq(6), &mut sink);
        r.acknowledged(at(5), Seq(9), &mut sink);
        r.push(at(6), Seq(9), b"j", 1, &mut sink);
        r.fin_at(Seq(10));
        r.acknowledged(at(7), Seq(11), &mut sink);
        assert_eq!(
            out,
            [
                (1, "0:ab".to_string()),
                (4, "2:gap2".to_string()),
                (3, "4:ef".to_string()),
                (5, "6:gap3".to_string()),
                (6, "9:j".to_string())
            ]
        );
    }

    #[test]
    fn bytes_cut_by_the_snap_length_become_a_gap() {
        let mut r = Reassembler::new(Seq(100), 100);
        let mut out = Vec::new();
        let mut sink = |o: Origin, c: StreamChunk<'_>| out.push((o.frame, c.to_owned_string()));
        let at = |frame| Origin { frame, ts_ns: 0 };
        r.push(at(2), Seq(110), b"kl", 10, &mut sink);
        r.push(at(1), Seq(100), b"abcd", 10, &mut sink);
        r.finish(&mut sink);
        assert_eq!(
            out,
            [
                (1, "0:abcd".to_string()),
                (1, "4:gap6".to_string()),
                (2, "10:kl".to_string()),
                (2, "12:gap8".to_string())
            ]
        );
    }
}
