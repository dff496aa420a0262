//! Wireshark's TCP sequence analysis (`tcp.analysis.*`), rule for rule, so that per-stream counts
//! of retransmissions, out-of-order segments and duplicate ACKs equal tshark's on the same file.
//!
//! Each direction keeps the state Wireshark keeps (next expected sequence number, highest
//! sequence number to be acknowledged, last ACK, duplicate-ACK count, window); the checks run in
//! Wireshark's order, and some of them end the checks early as Wireshark's do. A value of 0 means
//! "not seen yet", exactly as in Wireshark.

use crate::decode::{TcpFlags, TcpSegment};
use crate::flows::Side;

use super::seq::Seq;

/// The analysis flags Wireshark sets on one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentFlags(pub u16);

impl SegmentFlags {
    pub const RETRANSMISSION: u16 = 1 << 0;
    pub const FAST_RETRANSMISSION: u16 = 1 << 1;
    pub const SPURIOUS_RETRANSMISSION: u16 = 1 << 2;
    pub const OUT_OF_ORDER: u16 = 1 << 3;
    pub const DUPLICATE_ACK: u16 = 1 << 4;
    pub const ZERO_WINDOW: u16 = 1 << 5;
    pub const ZERO_WINDOW_PROBE: u16 = 1 << 6;
    pub const ZERO_WINDOW_PROBE_ACK: u16 = 1 << 7;
    pub const LOST_SEGMENT: u16 = 1 << 8;
    pub const ACKED_UNSEEN: u16 = 1 << 9;
    pub const KEEP_ALIVE: u16 = 1 << 10;
    pub const KEEP_ALIVE_ACK: u16 = 1 << 11;
    pub const WINDOW_UPDATE: u16 = 1 << 12;
    pub const WINDOW_FULL: u16 = 1 << 13;

    /// True when `bit` is set.
    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    fn set(&mut self, bit: u16) {
        self.0 |= bit;
    }
}

/// Wireshark's window-scale bookkeeping: not known yet, or known to be off.
const WIN_SCALE_UNKNOWN: i8 = -1;
const WIN_SCALE_NONE: i8 = -2;

/// Out-of-order threshold when no initial RTT is known (Wireshark uses 3 ms).
const DEFAULT_OOO_THRESHOLD_NS: i64 = 3_000_000;
/// A retransmission within this long of the duplicate ACKs that asked for it is "fast".
const FAST_RETRANSMISSION_WINDOW_NS: i64 = 20_000_000;

/// A time difference as Wireshark computes it: unsigned, so time going backwards never passes a
/// "less than" test.
fn elapsed_below(now: i64, since: i64, limit: i64) -> bool {
    now.checked_sub(since)
        .is_some_and(|d| (0..limit).contains(&d))
}

#[derive(Debug, Clone, Copy)]
struct Direction {
    base_seq: Option<Seq>,
    next_seq: Seq,
    next_seq_ts: i64,
    max_seq_to_be_acked: Seq,
    last_ack: Seq,
    last_ack_ts: i64,
    /// Wireshark lets this go to -1 to silence repeated "ACKed unseen segment" reports.
    dup_ack_count: i32,
    /// Raw (unscaled) window of the last segment.
    window: u32,
    win_scale: i8,
    is_first_ack: bool,
    last_segment_flags: SegmentFlags,
}

impl Default for Direction {
    fn default() -> Self {
        Self {
            base_seq: None,
            next_seq: Seq(0),
            next_seq_ts: 0,
            max_seq_to_be_acked: Seq(0),
            last_ack: Seq(0),
            last_ack_ts: 0,
            dup_ack_count: 0,
            window: u32::MAX,
            win_scale: WIN_SCALE_UNKNOWN,
            is_first_ack: false,
            last_segment_flags: SegmentFlags(0),
        }
    }
}

/// Wireshark's analysis state for one connection.
#[derive(Debug, Clone, Default)]
pub struct WiresharkConn {
    dirs: [Direction; 2],
    /// Time of the latest SYN without ACK (0: none).
    last_syn_ts: i64,
    /// Initial RTT (latest SYN to the first ACK); 0 until known.
    first_rtt_ns: i64,
}

/// Wireshark's port-reuse rule: a SYN without ACK whose sequence number differs from the base
/// sequence number its direction started with opens a new conversation on the same 4-tuple.
pub fn syn_reuses_port(base_seq: Option<u32>, flags: TcpFlags, seq: u32) -> bool {
    flags.0 & (TcpFlags::SYN | TcpFlags::ACK) == TcpFlags::SYN
        && base_seq.is_some_and(|base| base != seq)
}

fn index(side: Side) -> usize {
    match side {
        Side::Low => 0,
        Side::High => 1,
    }
}

impl WiresharkConn {
    /// Port reuse: a SYN (without ACK) whose sequence number differs from the base sequence
    /// number of its direction starts a new conversation, hence a new `tcp.stream`.
    pub fn starts_new_stream(&self, side: Side, flags: TcpFlags, seq: u32) -> bool {
        syn_reuses_port(self.dirs[index(side)].base_seq.map(|s| s.0), flags, seq)
    }

    /// What Wireshark does for a packet that stays in this conversation before any analysis,
    /// also for a segment quoted in an ICMP error: a SYN repeating the base sequence number
    /// rewinds the next expected sequence number; a SYN-ACK with a new one replaces the base.
    pub fn on_reuse_checks(&mut self, side: Side, flags: TcpFlags, seq: u32) {
        let d = &mut self.dirs[index(side)];
        let Some(base) = d.base_seq else {
            return;
        };
        if flags.syn() && !flags.ack() && base == Seq(seq) {
            d.next_seq = d.max_seq_to_be_acked;
        } else if flags.syn() && flags.ack() && base != Seq(seq) {
            d.base_seq = Some(Seq(seq));
        }
    }

    /// Timing and window-scale bookkeeping Wireshark does for every packet, quoted ones included.
    fn after_analysis(&mut self, side: Side, seg: &TcpSegment<'_>, ts: i64) {
        let (f, r) = (index(side), 1 - index(side));
        let flags = seg.flags;
        let syn_ack = flags.0 & (TcpFlags::SYN | TcpFlags::ACK);
        if syn_ack == TcpFlags::SYN && ts != 0 {
            self.last_syn_ts = ts;
        }
        if flags.syn() {
            self.dirs[f].is_first_ack = true;
        }
        if syn_ack == TcpFlags::ACK && self.last_syn_ts != 0 && self.first_rtt_ns == 0 {
            self.first_rtt_ns = ts.saturating_sub(self.last_syn_ts);
        }
        if syn_ack == TcpFlags::ACK {
            self.dirs[f].is_first_ack = false;
        }
        if let Some(shift) = seg.options.window_scale {
            self.dirs[f].win_scale = shift.min(14) as i8;
        }
        if flags.syn() {
            if self.dirs[f].win_scale == WIN_SCALE_UNKNOWN {
                self.dirs[f].win_scale = WIN_SCALE_NONE;
                self.dirs[r].win_scale = WIN_SCALE_NONE;
            } else if flags.ack() && self.dirs[r].win_scale == WIN_SCALE_NONE {
                self.dirs[f].win_scale = WIN_SCALE_NONE;
            }
        }
    }

    /// Runs the analysis for one segment sent by `side` and returns its flags.
    pub fn analyze(&mut self, side: Side, seg: &TcpSegment<'_>, ts: i64) -> SegmentFlags {
        let (f, r) = (index(side), 1 - index(side));
        let flags = seg.flags;
        let (syn, fin, rst, ack_flag) = (flags.syn(), flags.fin(), flags.rst(), flags.ack());
        let seq = Seq(seg.seq);
        let ack = Seq(seg.ack);
        let seglen = seg.seg_len;
        let window = u32::from(seg.window);

        if self.dirs[f].base_seq.is_none() {
            self.dirs[f].base_seq = Some(if syn { seq } else { seq.wrapping_sub(1) });
        }
        if self.dirs[r].base_seq.is_none() && ack_flag {
            self.dirs[r].base_seq = Some(ack.wrapping_sub(1));
        }

        let mut out = SegmentFlags::default();
        let fwd = self.dirs[f];
        let rev = self.dirs[r];
        let no_sfr = !(syn || fin || rst);
        'fwd: {
            // Zero-window probe: 1 byte at the next expected seq while the peer's window is 0.
            if seglen == 1 && seq == fwd.next_seq && rev.window == 0 {
                out.set(SegmentFlags::ZERO_WINDOW_PROBE);
                break 'fwd;
            }
            if window == 0 && no_sfr {
                out.set(SegmentFlags::ZERO_WINDOW);
            }
            // Previous segment not captured: this one starts beyond the next expected seq.
            if fwd.next_seq != Seq(0) && seq.gt(fwd.next_seq) && !rst {
                out.set(SegmentFlags::LOST_SEGMENT);
            }
            // Keep-alive: 0 or 1 byte starting one before the next expected seq.
            if seglen <= 1 && seq == fwd.next_seq.wrapping_sub(1) && no_sfr {
                out.set(SegmentFlags::KEEP_ALIVE);
            }
            let same_position = seglen == 0 && seq == fwd.next_seq && ack == fwd.last_ack && no_sfr;
            if same_position && window != 0 && window != fwd.window {
                out.set(SegmentFlags::WINDOW_UPDATE);
            }
            if seglen > 0 && no_sfr && rev.win_scale != WIN_SCALE_UNKNOWN {
                let shift = if rev.is_first_ack || rev.win_scale == WIN_SCALE_NONE {
                    0
                } else {
                    rev.win_scale as u32
                };
                if seq.wrapping_add(seglen)
                    == rev.last_ack.wrapping_add(rev.window.wrapping_shl(shift))
                {
                    out.set(SegmentFlags::WINDOW_FULL);
                }
            }
            if same_position
                && window != 0
                && window == fwd.window
                && rev.last_segment_flags.has(SegmentFlags::KEEP_ALIVE)
            {
                out.set(SegmentFlags::KEEP_ALIVE_ACK);
                break 'fwd;
            }
            if same_position
                && window == 0
                && fwd.window == 0
                && rev.last_segment_flags.has(SegmentFlags::ZERO_WINDOW_PROBE)
            {
                out.set(SegmentFlags::ZERO_WINDOW_PROBE_ACK);
                break 'fwd;
            }
            if same_position && window != 0 && window == fwd.window {
                let d = &mut self.dirs[f];
                d.dup_ack_count = if d.dup_ack_count == -1 {
                    1
                } else {
                    d.dup_ack_count + 1
                };
                out.set(SegmentFlags::DUPLICATE_ACK);
            }
        }
        if ack != self.dirs[f].last_ack {
            self.dirs[f].dup_ack_count = 0;
        }
        // ACKed unseen segment: the ACK covers data never seen from the peer.
        let rev = &mut self.dirs[r];
        if rev.max_seq_to_be_acked != Seq(0) && ack.gt(rev.max_seq_to_be_acked) && ack_flag {
            if rev.max_seq_to_be_acked.lt(rev.next_seq) {
                rev.max_seq_to_be_acked = rev.next_seq;
                out.set(SegmentFlags::ACKED_UNSEEN);
            } else {
                if rev.dup_ack_count == 0 {
                    out.set(SegmentFlags::ACKED_UNSEEN);
                }
                rev.dup_ack_count = -1;
            }
        }

        if seglen > 0 || syn || fin {
            self.retransmission_type(f, r, seq, seglen, u32::from(syn || fin), ts, &mut out);
        }

        let mut end = seq.wrapping_add(seglen);
        if syn || fin {
            end = end.wrapping_add(1);
        }
        let d = &mut self.dirs[f];
        let probe = out.has(SegmentFlags::ZERO_WINDOW_PROBE);
        if (d.next_seq == Seq(0) || end.gt(d.next_seq)) && !probe {
            d.next_seq = end;
            d.next_seq_ts = ts;
        }
        if (d.max_seq_to_be_acked == Seq(0) || seq == d.max_seq_to_be_acked) && !probe {
            d.max_seq_to_be_acked = d.next_seq;
        }
        d.window = window;
        d.last_ack = ack;
        d.last_ack_ts = ts;
        d.last_segment_flags = out;
        self.after_analysis(side, seg, ts);
        out
    }

    /// Each direction's base sequence number, indexed Low, High.
    pub fn base_seqs(&self) -> [Option<u32>; 2] {
        [
            self.dirs[0].base_seq.map(|s| s.0),
            self.dirs[1].base_seq.map(|s| s.0),
        ]
    }

    /// Wireshark's `tcp.analysis.initial_rtt`, once known.
    pub fn initial_rtt_ns(&self) -> Option<i64> {
        (self.first_rtt_ns != 0).then_some(self.first_rtt_ns)
    }

    /// Wireshark's bookkeeping for a segment quoted inside an ICMP error: no analysis.
    pub fn quoted(&mut self, side: Side, seg: &TcpSegment<'_>, ts: i64) {
        self.after_analysis(side, seg, ts);
    }

    #[allow(clippy::too_many_arguments)]
    fn retransmission_type(
        &mut self,
        f: usize,
        r: usize,
        seq: Seq,
        seglen: u32,
        syn_fin: u32,
        ts: i64,
        out: &mut SegmentFlags,
    ) {
        let (fwd, rev) = (self.dirs[f], self.dirs[r]);
        if out.has(SegmentFlags::KEEP_ALIVE) {
            return;
        }
        let mut not_advanced = fwd.next_seq != Seq(0) && seq.lt(fwd.next_seq);
        if seglen > 1 && seq == fwd.next_seq.wrapping_sub(1) {
            not_advanced = false; // overlaps the byte of a zero-window probe
        }
        if seglen > 0 && rev.last_ack != Seq(0) && seq.wrapping_add(seglen).le(rev.last_ack) {
            out.set(SegmentFlags::SPURIOUS_RETRANSMISSION);
            return;
        }
        if not_advanced
            && rev.dup_ack_count >= 2
            && rev.last_ack == seq
            && elapsed_below(ts, rev.last_ack_ts, FAST_RETRANSMISSION_WINDOW_NS)
        {
            out.set(SegmentFlags::FAST_RETRANSMISSION);
            return;
        }
        let threshold = if self.first_rtt_ns == 0 {
            DEFAULT_OOO_THRESHOLD_NS
        } else {
            self.first_rtt_ns
        };
        if not_advanced
            && elapsed_below(ts, fwd.next_seq_ts, threshold)
            && fwd.next_seq != seq.wrapping_add(seglen).wrapping_add(syn_fin)
        {
            out.set(SegmentFlags::OUT_OF_ORDER);
            return;
        }
        if not_advanced {
            out.set(SegmentFlags::RETRANSMISSION);
        }
    }
}
