//! Zeek's view of a connection: per-endpoint states, `conn_state` and `history` letters.
//!
//! Follows Zeek's TCP analyzer (endpoint states, the order of letters within a packet, letters
//! recorded once per direction or at the 1st/10th/100th... occurrence) so that `conns` speaks the
//! vocabulary of conn.log. Zeek's timers that split idle or unanswered attempts into separate
//! connections are not modelled: connections follow Wireshark's `tcp.stream` split.

use crate::decode::{TcpFlags, TcpSegment};

use super::seq::Seq;

/// Zeek's per-endpoint TCP state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// Originator (index 0) or responder (index 1).
const ORIG: usize = 0;
const RESP: usize = 1;

// Bits of the once-per-direction letters (orig in the low half, resp shifted by 16).
const SEEN_SYN: u32 = 0x1;
const SEEN_FIN: u32 = 0x2;
const SEEN_RST: u32 = 0x4;
const SEEN_FIN_RST: u32 = 0x8;
const SEEN_DATA: u32 = 0x10;
const SEEN_ACK: u32 = 0x20;
const SEEN_MULTI: u32 = 0x40;

/// A letter logged at the 1st, 10th, 100th, ... occurrence.
#[derive(Debug, Clone, Copy)]
struct Scaled {
    count: u32,
    threshold: u32,
}

impl Default for Scaled {
    fn default() -> Self {
        Self {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    /// Counts one occurrence; true when the letter is due.
    fn bump(&mut self) -> bool {
        self.count += 1;
        if self.count != self.threshold {
            return false;
        }
        match self.threshold.checked_mul(10) {
            Some(next) => self.threshold = next,
            None => self.count = 0,
        }
        true
    }
}

#[derive(Debug, Clone, Default)]
struct Endpoint {
    state: EndpointState,
    prev_state: EndpointState,
    did_close: bool,
    fin_count: u32,
    isn: Seq,
    /// One past the highest sequence number sent.
    last_seq: Seq,
    /// Highest ACK the peer sent for this endpoint's data.
    ack_seq: Seq,
    /// Relative seq of the next byte not yet seen contiguously (Zeek's reassembler `delivered`).
    delivered: Seq,
    /// Out-of-order payload ranges ahead of `delivered` (few; capped).
    ahead: Vec<(Seq, Seq)>,
    fin_end: Option<Seq>,
    last_hist: [u32; 3],
    window_zero: Scaled,
    retransmit: Scaled,
    gap: Scaled,
}

impl Endpoint {
    fn set_state(&mut self, state: EndpointState) {
        if self.state != state {
            self.prev_state = self.state;
            self.state = state;
        }
    }

    fn init_seq(&mut self, seq: Seq, end: Seq, syn: bool) {
        if syn {
            self.isn = seq;
            self.last_seq = end;
        } else {
            self.isn = seq.wrapping_sub(1);
            self.last_seq = seq;
        }
        self.ack_seq = self.isn;
        self.delivered = self.isn.wrapping_add(1);
        self.ahead.clear();
    }

    fn is_clean(&self) -> bool {
        self.state == EndpointState::Established
            || (self.state == EndpointState::Closed
                && self.prev_state == EndpointState::Established)
    }

    /// Bytes of payload the endpoint sent, by sequence space (Zeek's `size`).
    fn size(&self) -> u64 {
        let top = if self.ack_seq.gt(self.last_seq) {
            self.ack_seq
        } else {
            self.last_seq
        };
        let mut size = u64::from(top.0.wrapping_sub(self.isn.0)).saturating_sub(1);
        if self.fin_count > 0 && size > 0 {
            size -= 1;
        }
        size
    }
}

/// Zeek's connection model for one TCP connection.
#[derive(Debug, Clone, Default)]
pub struct ZeekConn {
    ep: [Endpoint; 2],
    history: String,
    seen: u32,
    /// The connection started without a clean handshake (no gap letters for the first bytes).
    partial: bool,
}

impl ZeekConn {
    /// The history string so far.
    pub fn history(&self) -> &str {
        &self.history
    }

    /// Marks a connection whose first packet came from the responder (history starts with `^`).
    pub fn flip_at_start(&mut self) {
        self.history.push('^');
    }

    /// True once both endpoints closed or either reset.
    pub fn both_closed(&self) -> bool {
        let (o, r) = (&self.ep[ORIG], &self.ep[RESP]);
        (o.did_close && r.did_close)
            || o.state == EndpointState::Reset
            || r.state == EndpointState::Reset
    }

    /// Appends `^`: the originator and responder swapped mid-connection.
    pub fn flip(&mut self) {
        self.ep.swap(ORIG, RESP);
        self.history.push('^');
    }

    fn letter(&mut self, from_orig: bool, upper: char) {
        self.history.push(if from_orig {
            upper
        } else {
            upper.to_ascii_lowercase()
        });
    }

    fn once(&mut self, from_orig: bool, bit: u32, upper: char) {
        let mask = if from_orig { bit } else { bit << 16 };
        if self.seen & mask == 0 {
            self.seen |= mask;
            self.letter(from_orig, upper);
        }
    }

    /// True if a pure SYN from the responder, arriving while the responder is INACTIVE and the
    /// originator sent a SYN-ACK first, reverses the roles (Zeek's SYN/SYN-ACK reversal).
    fn syn_reverses_roles(&self, from_orig: bool, seg: &TcpSegment<'_>) -> bool {
        let (o, r) = (&self.ep[ORIG], &self.ep[RESP]);
        !from_orig
            && seg.flags.syn()
            && !seg.flags.ack()
            && r.state == EndpointState::Inactive
            && o.state == EndpointState::SynAckSent
            && Seq(seg.seq) == r.isn
    }

    /// Feeds one segment sent by the originator (`from_orig`) or the responder. Returns true when
    /// the segment swapped the roles (the responder's SYN answered an earlier SYN-ACK).
    pub fn on_segment(&mut self, from_orig: bool, seg: &TcpSegment<'_>) -> bool {
        let reverses = self.syn_reverses_roles(from_orig, seg);
        let (e, p) = if from_orig {
            (ORIG, RESP)
        } else {
            (RESP, ORIG)
        };
        let flags = seg.flags;
        let (syn, fin, rst, ack) = (flags.syn(), flags.fin(), flags.rst(), flags.ack());
        let seq = Seq(seg.seq);
        let mut seg_len = seg.seg_len + u32::from(syn) + u32::from(fin);
        if rst {
            seg_len = seg_len.saturating_sub(seg.seg_len);
        }
        let end = seq.wrapping_add(seg_len);

        // Sequence bookkeeping from the endpoint's state before this packet.
        let ep = &mut self.ep[e];
        match ep.state {
            EndpointState::Inactive => ep.init_seq(seq, end, syn),
            EndpointState::SynSent | EndpointState::SynAckSent if syn && seq != ep.isn => {
                ep.init_seq(seq, end, true)
            }
            EndpointState::Established | EndpointState::Partial if syn => {
                ep.init_seq(seq, end, true)
            }
            EndpointState::Reset if syn && ep.prev_state == EndpointState::Inactive => {
                ep.init_seq(seq, end, true)
            }
            _ => {}
        }
        let rel = seq.diff(self.ep[e].isn) as u32;
        self.flag_letters(from_orig, e, flags, rel, seg.seg_len);

        // Zero window.
        let (sender, peer) = (self.ep[e].state, self.ep[p].state);
        if seg.window == 0
            && !rst
            && sender != EndpointState::Reset
            && peer != EndpointState::Closed
            && self.ep[e].window_zero.bump()
        {
            self.letter(from_orig, 'W');
        }

        // The peer learns what we acknowledged.
        if ack {
            let peer = &mut self.ep[p];
            if peer.state == EndpointState::Inactive {
                peer.isn = Seq(seg.ack).wrapping_sub(1);
                peer.ack_seq = peer.isn;
                peer.last_seq = peer.isn;
                peer.delivered = Seq(seg.ack);
            } else if !rst && Seq(seg.ack).gt(peer.ack_seq) {
                peer.ack_seq = Seq(seg.ack);
            }
        }

        // Retransmission: a segment whose end does not advance the highest end seen.
        self.retransmission(from_orig, e, seg, end);
        self.transition(from_orig, e, p, flags, seg.seg_len);
        if fin {
            let ep = &mut self.ep[e];
            ep.fin_count += 1;
            ep.fin_end = Some(seq.wrapping_add(seg.seg_len + 1));
        }

        if ack {
            self.content_gap(p, !from_orig, Seq(seg.ack));
        }
        // Zeek's reassembler only takes payload that was captured in full.
        if seg.seg_len > 0 && !rst && seg.payload.len() as u32 == seg.seg_len {
            self.receive(e, seq, seg.seg_len);
        }
        if reverses {
            self.ep[p].set_state(EndpointState::Established);
            self.flip();
        }
        reverses
    }

    fn flag_letters(&mut self, from_orig: bool, e: usize, flags: TcpFlags, rel: u32, len: u32) {
        let (syn, fin, rst) = (flags.syn(), flags.fin(), flags.rst());
        let n = u8::from(syn) + u8::from(fin) + u8::from(rst);
        if n >= 2 {
            if fin && rst {
                self.once(from_orig, SEEN_FIN_RST, 'I');
            } else {
                self.once(from_orig, SEEN_MULTI, 'Q');
            }
            return;
        }
        let repeat = |this: &mut Self, bit: u32, slot: usize, key: u32, letter: char| {
            let mask = if from_orig { bit } else { bit << 16 };
            let last = this.ep[e].last_hist[slot];
            if this.seen & mask == 0 || key != last {
                this.seen |= mask;
                this.letter(from_orig, letter);
            }
            this.ep[e].last_hist[slot] = key;
        };
        if syn {
            let letter = if flags.ack() { 'H' } else { 'S' };
            repeat(self, SEEN_SYN, 0, rel, letter);
        } else if fin {
            repeat(self, SEEN_FIN, 1, rel.wrapping_add(len), 'F');
        } else if rst {
            repeat(self, SEEN_RST, 2, rel, 'R');
        } else if len > 0 {
            self.once(from_orig, SEEN_DATA, 'D');
        } else if flags.ack() {
            self.once(from_orig, SEEN_ACK, 'A');
        }
    }

    fn retransmission(&mut self, from_orig: bool, e: usize, seg: &TcpSegment<'_>, end: Seq) {
        let flags = seg.flags;
        let ep = &mut self.ep[e];
        let delta = end.diff(ep.last_seq);
        if (flags.syn() || flags.rst()) && delta.unsigned_abs() > 1 << 20 {
            return;
        }
        if flags.fin() && ep.last_seq == ep.isn.wrapping_add(1) {
            ep.last_seq = end;
            return;
        }
        if ep.state == EndpointState::Reset {
            return;
        }
        if delta > 0 {
            ep.last_seq = end;
        } else if seg.seg_len > 0 && ep.retransmit.bump() {
            self.letter(from_orig, 'T');
        }
    }

    fn transition(&mut self, from_orig: bool, e: usize, p: usize, flags: TcpFlags, len: u32) {
        use EndpointState::*;
        let (syn, fin, rst, ack) = (flags.syn(), flags.fin(), flags.rst(), flags.ack());
        let state = self.ep[e].state;
        match state {
            Inactive => {
                if syn {
                    if from_orig {
                        self.ep[e].set_state(if ack { SynAckSent } else { SynSent });
                    } else {
                        if self.ep[p].state == SynSent {
                            self.ep[p].set_state(Established);
                        }
                        self.ep[e].set_state(Established);
                    }
                }
                if fin {
                    self.close(e, Closed);
                }
                if rst {
                    self.close(e, Reset);
                }
                if !syn && !fin && !rst {
                    if !from_orig && len == 0 && self.ep[p].state == SynSent {
                        // a pure ACK before the SYN-ACK: stays inactive
                    } else if ack && self.ep[p].state == Established {
                        self.ep[e].set_state(Established);
                        self.partial = false;
                    } else {
                        self.ep[e].set_state(Partial);
                        self.partial = true;
                    }
                }
            }
            SynSent | SynAckSent => {
                if fin {
                    self.close(e, Closed);
                }
                if rst {
                    self.close(e, Reset);
                }
            }
            Established | Partial => {
                if syn && !ack && state == Partial && self.ep[p].state == Inactive {
                    self.ep[e].set_state(SynSent);
                }
                if fin && !rst {
                    self.close(e, Closed);
                    let peer = &mut self.ep[p];
                    if peer.state == Reset && peer.prev_state == Closed {
                        peer.set_state(Closed);
                    }
                }
                if rst {
                    self.close(e, Reset);
                }
            }
            Closed => {
                if rst && self.ep[p].state != Closed {
                    self.ep[e].set_state(Reset);
                }
            }
            Reset => {}
        }
    }

    fn close(&mut self, e: usize, state: EndpointState) {
        self.ep[e].set_state(state);
        self.ep[e].did_close = true;
    }

    /// Records payload [seq, seq+len) in endpoint `e`'s model of Zeek's reassembler.
    fn receive(&mut self, e: usize, seq: Seq, len: u32) {
        const MAX_RANGES: usize = 64;
        let ep = &mut self.ep[e];
        let end = seq.wrapping_add(len);
        if end.le(ep.delivered) {
            return;
        }
        if seq.gt(ep.delivered) {
            if ep.ahead.len() < MAX_RANGES {
                ep.ahead.push((seq, end));
            }
            return;
        }
        ep.delivered = end;
        while let Some(i) = ep.ahead.iter().position(|&(s, _)| s.le(ep.delivered)) {
            let (_, range_end) = ep.ahead.swap_remove(i);
            if range_end.gt(ep.delivered) {
                ep.delivered = range_end;
            }
        }
    }

    /// An ACK for `ack` reached endpoint `y`'s data: bytes acknowledged but never seen are a gap.
    fn content_gap(&mut self, y: usize, y_is_orig: bool, ack: Seq) {
        let clean = self.ep[ORIG].is_clean() && self.ep[RESP].is_clean();
        let ep = &mut self.ep[y];
        if ep.state == EndpointState::Inactive {
            return;
        }
        let mut ack = ack;
        if let Some(fin_end) = ep.fin_end
            && ack.ge(fin_end)
        {
            ack = fin_end.wrapping_sub(1);
        }
        if !ack.gt(ep.delivered) {
            return;
        }
        let rel_ack = ack.diff(ep.isn);
        let ignored = rel_ack <= 2 && self.partial;
        ep.ahead.retain(|&(_, e2)| e2.gt(ack));
        ep.delivered = ack;
        if !ignored && clean && ep.gap.bump() {
            self.letter(y_is_orig, 'G');
        }
    }

    /// Zeek's `conn_state` for the connection as it stands.
    pub fn conn_state(&self) -> &'static str {
        use EndpointState::*;
        let (o, r) = (&self.ep[ORIG], &self.ep[RESP]);
        let inactive = |s: EndpointState| matches!(s, Inactive | Partial);
        if r.state == Reset {
            if matches!(o.state, SynSent | SynAckSent)
                || (o.state == Reset && o.size() == 0 && r.size() == 0)
            {
                return "REJ";
            }
            return if inactive(o.state) { "RSTRH" } else { "RSTR" };
        }
        if o.state == Reset {
            if inactive(r.state) {
                return if history_is_rstos0(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                };
            }
            return "RSTO";
        }
        match (o.state, r.state) {
            (Closed, Closed) => "SF",
            (Closed, rs) => {
                if inactive(rs) {
                    "SH"
                } else {
                    "S2"
                }
            }
            (os, Closed) => {
                if inactive(os) {
                    "SHR"
                } else {
                    "S3"
                }
            }
            (SynSent, Inactive) => "S0",
            (Established, Established) => "S1",
            _ => "OTH",
        }
    }
}

/// `^?S[^HAFGIQ]*R.*`: the originator's SYN, then its RST, before any answer.
fn history_is_rstos0(history: &str) -> bool {
    let rest = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = rest.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rstos0_pattern() {
        assert!(history_is_rstos0("SR"));
        assert!(history_is_rstos0("^StR"));
        assert!(!history_is_rstos0("SHR"));
        assert!(
            history_is_rstos0("ShR"),
            "lower-case letters may come between"
        );
        assert!(!history_is_rstos0("SAR"));
        assert!(!history_is_rstos0("R"));
    }

    #[test]
    fn scaled_letters_fire_at_powers_of_ten() {
        let mut s = Scaled::default();
        let fired: Vec<u32> = (1..=1000).filter(|_| s.bump()).collect();
        assert_eq!(fired.len(), 4);
    }
}
