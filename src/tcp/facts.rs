//! The facts of a connection's story that the diagnosis reads: SYNs, the first and last data each
//! way, FINs, RSTs with their TTL, zero windows, and retransmission stalls, each as the frame that
//! shows it. Fixed size: nothing here grows with the number of packets.

use crate::decode::TcpSegment;

use super::duplicates::RecentSegments;
use super::seq::Seq;
use super::wireshark::SegmentFlags;

/// At most this many SYN frames are kept per side (the count goes on).
pub const MAX_SYN_FRAMES: usize = 8;

/// Slots for the not-yet-acknowledged segments that grew in size (see `SideFacts`).
const GROWING_SLOTS: usize = 4;

/// Recent data segments remembered per side, to name the oldest one still unacknowledged.
const RECENT_DATA: usize = 8;

/// A frame and its capture time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    pub frame: u64,
    pub ts_ns: i64,
}

/// A frame with the TTL (IPv4) or hop limit (IPv6) it arrived with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlMark {
    pub frame: u64,
    pub ts_ns: i64,
    pub ttl: u8,
}

/// A RST a side sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RstMark {
    pub frame: u64,
    pub ts_ns: i64,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    /// The sender had not acknowledged all the data its peer sent (the RST threw data away).
    pub peer_data_unacked: bool,
}

/// A zero receive window a side advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroWindow {
    pub first: Mark,
    pub last: Mark,
    /// The window opened again after the last zero-window advertisement.
    pub reopened: bool,
}

/// Retransmissions a side sent since its peer last acknowledged anything new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    pub first: Mark,
    pub last: Mark,
    pub retransmissions: u32,
    /// Largest payload among the retransmitted segments.
    pub max_payload: u32,
    /// Packets the peer sent during the stall.
    pub peer_packets: u32,
}

/// Sequence space a side skipped: a segment (data, ACK or FIN) whose sequence number lies past
/// everything the capture saw that side send, so the bytes between never passed the capture
/// point (tshark: "previous segment not captured").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hole {
    /// The first segment past the hole.
    pub after: Mark,
    /// The sequence numbers missing: from `start` up to `end`.
    pub start: Seq,
    pub end: Seq,
}

impl Hole {
    /// Bytes missing.
    pub fn bytes(&self) -> u32 {
        self.end.diff(self.start).unsigned_abs()
    }
}

/// What one side of a connection sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideFacts {
    /// SYNs sent (SYN-ACKs for the server), the first [`MAX_SYN_FRAMES`].
    pub syns: [Mark; MAX_SYN_FRAMES],
    pub syn_count: u32,
    pub first_syn: Option<Mark>,
    /// Sequence number of the first SYN (the initial sequence number).
    pub isn: Option<Seq>,
    /// TSval (RFC 7323) of each SYN in `syns`, to tell which one a SYN-ACK answers.
    pub syn_tsvals: [Option<u32>; MAX_SYN_FRAMES],
    /// TSecr of this side's first SYN: on a SYN-ACK, the TSval of the SYN it answers.
    pub first_syn_tsecr: Option<u32>,
    /// MSS announced in the SYN.
    pub mss: Option<u16>,
    /// TTL / hop limit range of this side's packets that are not RSTs.
    pub ttl_min: u8,
    pub ttl_max: u8,
    /// The latest packet of this side that is not a RST: what its real TTL looks like.
    pub reference: Option<TtlMark>,
    pub first_data: Option<Mark>,
    pub last_data: Option<Mark>,
    /// Sequence number after the highest data byte sent.
    pub data_end: Option<Seq>,
    /// Sequence number of the first data byte.
    pub data_start: Option<Seq>,
    /// Highest acknowledgment this side received from its peer.
    pub acked: Option<Seq>,
    pub first_fin: Option<Mark>,
    /// The first FIN acknowledged all the data the peer had sent by then (the closing side had
    /// received everything, e.g. the request it is closing on).
    pub fin_acked_peer_data: bool,
    pub first_rst: Option<RstMark>,
    /// A RST this side sent that its peer had to discard: in SYN-SENT only a RST that
    /// acknowledges the SYN is acceptable (RFC 9293 3.10.7.3); any other is ignored and the
    /// handshake goes on. Never counted as `first_rst`.
    pub ignored_rst: Option<RstMark>,
    /// The first data segment sent after the peer's FIN or RST.
    pub data_after_peer_close: Option<Mark>,
    pub data_segments: u64,
    pub max_payload: u32,
    /// Largest payload of a segment the peer is known to have acknowledged.
    pub largest_acked_payload: u32,
    /// Segments not yet acknowledged that were each larger than every one sent before them:
    /// (end sequence, payload), growing in both; the oldest falls off when full.
    unacked_growing: [(Seq, u32); GROWING_SLOTS],
    unacked_growing_len: u8,
    pub zero_window: Option<ZeroWindow>,
    /// Packets sent while the peer's window was zero (probes, keep-alives).
    pub sent_into_zero_window: u32,
    /// The first retransmission (of any kind, copies of a frame excepted).
    pub first_retransmission: Option<Mark>,
    /// The first data retransmission that repaired loss (see `lost_data`).
    pub first_lost_data: Option<Mark>,
    /// Data retransmissions that repaired loss: not copies of a frame, not of bytes the peer
    /// had already acknowledged, not flagged spurious by the sequence analysis.
    pub lost_data: u64,
    /// Data retransmissions of bytes the peer had already acknowledged (spurious, no loss).
    pub spurious_data: u64,
    /// The oldest data segment sent since the peer last acknowledged all data, with the
    /// sequence number after it: what the peer still owes an acknowledgment for.
    pub oldest_unacked: Option<(Mark, Seq)>,
    /// Frames of this side the capture recorded twice (same datagram: see `duplicates.rs`);
    /// they are skipped by every fact here.
    pub duplicates: u32,
    /// The first such copy and the frame it repeats: (original, copy).
    pub first_duplicate: Option<(Mark, Mark)>,
    recent: RecentSegments,
    /// The latest data segments with the sequence number after each, oldest first from
    /// `recent_data_next` (a ring).
    recent_data: [(Mark, Seq); RECENT_DATA],
    recent_data_next: u8,
    /// The current stall; `None` once the peer acknowledges something new.
    pub stall: Option<Stall>,
    /// Time this side sat silent before its timeout (non-fast) retransmissions, summed.
    pub rto_wait_ns: i64,
    /// The longest such wait and the retransmission that ended it.
    pub longest_wait: Option<(Mark, i64)>,
    pub last_sent: Option<Mark>,
    /// Sequence number after everything this side was seen to send (SYN and FIN included).
    pub next_seq: Option<Seq>,
    /// The first hole in this side's sequence space, once its SYN was seen.
    pub hole: Option<Hole>,
}

/// What the connection's two sides sent, indexed like the flow key's sides. Each side's facts
/// are allocated when that side first sends (or is acknowledged): a connection attempt nobody
/// answers (a SYN flood holds hundreds of thousands at once) carries one side, not two.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFacts {
    sides: [Option<Box<SideFacts>>; 2],
}

/// The facts of a side that sent nothing.
static SILENT: std::sync::LazyLock<SideFacts> = std::sync::LazyLock::new(SideFacts::default);

/// One segment, as the facts need it.
pub struct Observed<'a, 'b> {
    pub frame: u64,
    pub ts_ns: i64,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub seg: &'a TcpSegment<'b>,
    pub flags: SegmentFlags,
}

impl ConnectionFacts {
    /// What side `i` (0 or 1) sent.
    pub fn side(&self, i: usize) -> &SideFacts {
        self.sides[i].as_deref().unwrap_or(&SILENT)
    }

    /// Records a segment sent by side `sender` (0 or 1).
    pub fn on_segment(&mut self, sender: usize, o: &Observed<'_, '_>) {
        let acks = o.seg.flags.ack() && !o.seg.flags.rst();
        let [a, b] = &mut self.sides;
        let (me, peer) = if sender == 0 { (a, b) } else { (b, a) };
        let me: &mut SideFacts = me.get_or_insert_with(Box::default);
        // The peer's facts change only when this segment acknowledges it (the rest of a silent
        // peer's facts are read, never written): a silent peer is read from a blank copy.
        let mut blank = None;
        let peer: &mut SideFacts = match peer {
            Some(peer) => peer,
            None if acks => peer.insert(Box::default()),
            None => blank.insert(SideFacts::default()),
        };
        let mark = Mark {
            frame: o.frame,
            ts_ns: o.ts_ns,
        };
        let seg = o.seg;
        let rst = seg.flags.rst();
        if let Some(original) = me.recent.duplicate_of(o.ip_id, seg, mark) {
            me.duplicates = me.duplicates.saturating_add(1);
            me.first_duplicate.get_or_insert((original, mark));
            return;
        }

        if seg.flags.ack() && !rst {
            let ack = Seq(seg.ack);
            peer.on_ack(ack);
        }
        if peer.zero_window.is_some_and(|z| !z.reopened) {
            me.sent_into_zero_window += 1;
        }
        if let Some(stall) = &mut peer.stall {
            stall.peer_packets += 1;
        }

        if !rst {
            me.on_sequence(mark, seg);
        }
        if seg.flags.syn() {
            if let Some(slot) = me.syns.get_mut(me.syn_count as usize) {
                *slot = mark;
                me.syn_tsvals[me.syn_count as usize] = seg.options.timestamp.map(|(v, _)| v);
            }
            if me.syn_count == 0 {
                me.isn = Some(Seq(seg.seq));
                me.first_syn_tsecr = seg.options.timestamp.map(|(_, e)| e);
            }
            me.syn_count = me.syn_count.saturating_add(1);
            me.first_syn.get_or_insert(mark);
            me.mss = me.mss.or(seg.options.mss);
        }
        // A peer in SYN-SENT (it sent a SYN, this side no SYN-ACK yet) accepts only a RST that
        // acknowledges its SYN.
        let peer_discards = rst
            && me.syn_count == 0
            && peer
                .isn
                .is_some_and(|isn| !seg.flags.ack() || Seq(seg.ack) != isn.wrapping_add(1));
        if peer_discards {
            me.ignored_rst.get_or_insert(RstMark {
                frame: o.frame,
                ts_ns: o.ts_ns,
                ttl: o.ttl,
                ip_id: o.ip_id,
                peer_data_unacked: false,
            });
        } else if rst {
            if me.first_rst.is_none() {
                let unacked = match (peer.data_end, me_ack_of(seg)) {
                    (Some(end), Some(ack)) => ack.lt(end),
                    (Some(end), None) => peer.acked.is_none_or(|a| a.lt(end)),
                    (None, _) => false,
                };
                me.first_rst = Some(RstMark {
                    frame: o.frame,
                    ts_ns: o.ts_ns,
                    ttl: o.ttl,
                    ip_id: o.ip_id,
                    peer_data_unacked: unacked,
                });
            }
        } else {
            if me.reference.is_none() {
                me.ttl_min = o.ttl;
                me.ttl_max = o.ttl;
            }
            me.ttl_min = me.ttl_min.min(o.ttl);
            me.ttl_max = me.ttl_max.max(o.ttl);
            me.reference = Some(TtlMark {
                frame: o.frame,
                ts_ns: o.ts_ns,
                ttl: o.ttl,
            });
        }

        if o.flags.has(SegmentFlags::ZERO_WINDOW) {
            match &mut me.zero_window {
                Some(z) => {
                    z.last = mark;
                    z.reopened = false;
                }
                None => {
                    me.zero_window = Some(ZeroWindow {
                        first: mark,
                        last: mark,
                        reopened: false,
                    })
                }
            }
        } else if seg.flags.ack()
            && !rst
            && !seg.flags.syn()
            && seg.window > 0
            && let Some(z) = &mut me.zero_window
        {
            z.reopened = true;
        }

        let retransmitted = o.flags.has(SegmentFlags::RETRANSMISSION)
            || o.flags.has(SegmentFlags::FAST_RETRANSMISSION)
            || o.flags.has(SegmentFlags::SPURIOUS_RETRANSMISSION);
        // Bytes the peer acknowledged before they were sent again: nothing was lost.
        let already_acked = seg.seg_len > 0
            && me
                .acked
                .is_some_and(|a| a.ge(Seq(seg.seq).wrapping_add(seg.seg_len)));
        if seg.seg_len > 0 {
            me.on_data(
                mark,
                seg,
                peer.first_fin.is_some() || peer.first_rst.is_some(),
            );
        }

        if retransmitted && already_acked {
            me.spurious_data += 1;
        } else if retransmitted {
            me.on_retransmission(mark, seg.seg_len, o.flags);
        }
        if seg.flags.fin() && me.first_fin.is_none() {
            me.first_fin = Some(mark);
            me.fin_acked_peer_data = peer
                .data_end
                .is_none_or(|end| me_ack_of(seg).is_some_and(|ack| ack.ge(end)));
        }
        me.last_sent = Some(mark);
    }
}

/// The acknowledgment a segment carries, if its ACK flag is set.
fn me_ack_of(seg: &TcpSegment<'_>) -> Option<Seq> {
    seg.flags.ack().then_some(Seq(seg.ack))
}

impl SideFacts {
    /// Follows the sequence space this side used, noting the first hole in it.
    fn on_sequence(&mut self, mark: Mark, seg: &TcpSegment<'_>) {
        let start = Seq(seg.seq);
        if seg.flags.syn() {
            if self.next_seq.is_none() {
                self.next_seq = Some(start.wrapping_add(1));
            }
            return;
        }
        let Some(next) = self.next_seq else {
            return; // the capture began after this side's SYN: no reference
        };
        if self.hole.is_none() && start.gt(next) {
            self.hole = Some(Hole {
                after: mark,
                start: next,
                end: start,
            });
        }
        let end = start
            .wrapping_add(seg.seg_len)
            .wrapping_add(u32::from(seg.flags.fin()));
        if end.gt(next) {
            self.next_seq = Some(end);
        }
    }

    /// The peer acknowledged up to `ack`.
    fn on_ack(&mut self, ack: Seq) {
        let advanced = self.acked.is_none_or(|a| ack.gt(a));
        if !advanced {
            return;
        }
        self.acked = Some(ack);
        self.stall = None;
        if self.oldest_unacked.is_some_and(|(_, end)| ack.ge(end)) {
            // The next segment still owed, if it is among the latest ones.
            let next = usize::from(self.recent_data_next);
            self.oldest_unacked = (0..RECENT_DATA)
                .map(|i| self.recent_data[(next + i) % RECENT_DATA])
                .find(|&(m, end)| m.frame != 0 && ack.lt(end));
        }
        let pending = usize::from(self.unacked_growing_len);
        let acked = self.unacked_growing[..pending]
            .iter()
            .take_while(|(end, _)| ack.ge(*end))
            .count();
        if let Some(&(_, payload)) = self.unacked_growing[..acked].last() {
            self.largest_acked_payload = self.largest_acked_payload.max(payload);
        }
        self.unacked_growing.copy_within(acked..pending, 0);
        self.unacked_growing_len = (pending - acked) as u8;
    }

    fn on_data(&mut self, mark: Mark, seg: &TcpSegment<'_>, peer_closed: bool) {
        let len = seg.seg_len;
        let start = Seq(seg.seq);
        let end = start.wrapping_add(len);
        self.data_segments += 1;
        self.first_data.get_or_insert(mark);
        self.last_data = Some(mark);
        if self.data_start.is_none_or(|s| start.lt(s)) {
            self.data_start = Some(start);
        }
        if self.data_end.is_none_or(|e| end.gt(e)) {
            self.data_end = Some(end);
        }
        self.max_payload = self.max_payload.max(len);
        if self.acked.is_none_or(|a| a.lt(end)) && self.oldest_unacked.is_none() {
            self.oldest_unacked = Some((mark, end));
        }
        self.recent_data[usize::from(self.recent_data_next)] = (mark, end);
        self.recent_data_next = (self.recent_data_next + 1) % RECENT_DATA as u8;
        if peer_closed {
            self.data_after_peer_close.get_or_insert(mark);
        }
        let pending = usize::from(self.unacked_growing_len);
        let bigger = self.unacked_growing[..pending]
            .last()
            .is_none_or(|&(_, p)| len > p);
        if len > self.largest_acked_payload && bigger {
            if pending == GROWING_SLOTS {
                self.unacked_growing.copy_within(1.., 0);
                self.unacked_growing[GROWING_SLOTS - 1] = (end, len);
            } else {
                self.unacked_growing[pending] = (end, len);
                self.unacked_growing_len += 1;
            }
        }
    }

    fn on_retransmission(&mut self, mark: Mark, len: u32, flags: SegmentFlags) {
        self.first_retransmission.get_or_insert(mark);
        match &mut self.stall {
            Some(stall) => {
                stall.last = mark;
                stall.retransmissions += 1;
                stall.max_payload = stall.max_payload.max(len);
            }
            None => {
                self.stall = Some(Stall {
                    first: mark,
                    last: mark,
                    retransmissions: 1,
                    max_payload: len,
                    peer_packets: 0,
                })
            }
        }
        let repaired_loss = len > 0 && !flags.has(SegmentFlags::SPURIOUS_RETRANSMISSION);
        if repaired_loss {
            self.lost_data += 1;
            self.first_lost_data.get_or_insert(mark);
        }
        // Time spent waiting on the retransmission timer, for data only: a SYN's timer is the
        // connect's story (`diagnose::syn_retry`), a FIN's delays no answer.
        if repaired_loss
            && flags.has(SegmentFlags::RETRANSMISSION)
            && let Some(prev) = self.last_sent
        {
            let wait = mark.ts_ns.saturating_sub(prev.ts_ns).max(0);
            self.rto_wait_ns = self.rto_wait_ns.saturating_add(wait);
            if self.longest_wait.is_none_or(|(_, w)| wait > w) {
                self.longest_wait = Some((mark, wait));
            }
        }
    }

    /// Whether some of this side's data was acknowledged.
    pub fn some_data_acked(&self) -> bool {
        matches!((self.data_start, self.acked), (Some(s), Some(a)) if a.gt(s))
    }

    /// Bytes of this side's data the peer acknowledged.
    pub fn bytes_acked(&self) -> u64 {
        match (self.data_start, self.acked) {
            (Some(s), Some(a)) if a.gt(s) => u64::from(a.diff(s).unsigned_abs()),
            _ => 0,
        }
    }

    /// Whether all of this side's data was acknowledged.
    pub fn all_data_acked(&self) -> bool {
        match (self.data_end, self.acked) {
            (Some(end), Some(a)) => a.ge(end),
            (None, _) => true,
            _ => false,
        }
    }
}
