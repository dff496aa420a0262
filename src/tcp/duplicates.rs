//! Frames the capture saw twice: the same IPv4 datagram (same IP identification, same TCP
//! sequence and acknowledgment numbers, flags, window and length) recorded again moments later.
//! A SPAN or mirror port that copies a packet from both the ingress and egress of a switch, or
//! `tcpdump -i any` seeing a packet on a bridge and on its member interface, does this.
//!
//! A retransmission is a new datagram: the sender's IP layer gives it a new identification
//! (RFC 6864 4.1: the ID is unique per source, destination and protocol while a datagram may be
//! alive), and it comes a retransmission timer or a round trip of duplicate ACKs later. So two
//! frames with the same non-zero IP ID and identical TCP headers within a moment are one packet
//! seen twice, not loss. Wireshark still flags the second as a retransmission; its counters stay
//! as they are, the diagnosis skips the copy.

use crate::decode::TcpSegment;

use super::facts::Mark;

/// Recent segments remembered per side to compare a new one with (duplicates arrive within a
/// few frames of their original, but other frames may come between them).
const RECENT: usize = 8;

/// The longest gap between a frame and its copy. A copy is made by the capture path within
/// microseconds to milliseconds; 100 ms is still half of Linux's smallest retransmission timeout
/// (200 ms, RFC 6298 allows no less than 1 s), so a retransmission cannot be this early by timer,
/// and an early (fast) one carries a new IP ID anyway.
const DUPLICATE_WINDOW_NS: i64 = 100_000_000;

/// What makes two frames the same datagram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Signature {
    ip_id: u16,
    seq: u32,
    ack: u32,
    flags: u16,
    window: u16,
    len: u32,
}

/// The latest segments of one side, to recognise a copy of one of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecentSegments {
    slots: [(Signature, Mark); RECENT],
    len: u8,
    next: u8,
    /// The side sent two different segments with one IP ID: its IDs do not number datagrams
    /// (a constant ID, a generator's), so equal IDs prove nothing.
    ids_unusable: bool,
}

impl RecentSegments {
    /// Remembers the segment and returns the frame it duplicates, if it is a copy of a recent
    /// one. Without an IPv4 identification (IPv6), or with ID 0 (stacks that do not number
    /// datagrams sent with DF), nothing tells a copy from a retransmission: never a duplicate.
    pub fn duplicate_of(
        &mut self,
        ip_id: Option<u16>,
        seg: &TcpSegment<'_>,
        mark: Mark,
    ) -> Option<Mark> {
        let ip_id = ip_id.filter(|&id| id != 0)?;
        let sig = Signature {
            ip_id,
            seq: seg.seq,
            ack: seg.ack,
            flags: seg.flags.0,
            window: seg.window,
            len: seg.seg_len,
        };
        let recent = &self.slots[..usize::from(self.len)];
        if recent.iter().any(|(s, _)| s.ip_id == ip_id && *s != sig) {
            self.ids_unusable = true;
        }
        if self.ids_unusable {
            return None;
        }
        let original = recent
            .iter()
            .filter(|(s, m)| {
                *s == sig && (0..=DUPLICATE_WINDOW_NS).contains(&(mark.ts_ns - m.ts_ns))
            })
            .map(|&(_, m)| m)
            .min_by_key(|m| m.frame);
        if original.is_none() {
            self.slots[usize::from(self.next)] = (sig, mark);
            self.next = (self.next + 1) % RECENT as u8;
            self.len = (self.len + 1).min(RECENT as u8);
        }
        original
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpFlags, TcpOptions};

    fn seg(seq: u32, len: u32) -> TcpSegment<'static> {
        TcpSegment {
            src_port: 1,
            dst_port: 2,
            seq,
            ack: 7,
            flags: TcpFlags(TcpFlags::ACK),
            window: 100,
            options: TcpOptions::default(),
            seg_len: len,
            payload: &[],
            damaged: false,
        }
    }

    fn at(frame: u64, ts_ns: i64) -> Mark {
        Mark { frame, ts_ns }
    }

    #[test]
    fn same_datagram_moments_later_is_a_copy() {
        let mut r = RecentSegments::default();
        assert_eq!(r.duplicate_of(Some(5), &seg(1, 100), at(1, 0)), None);
        assert_eq!(r.duplicate_of(Some(6), &seg(101, 100), at(2, 10)), None);
        assert_eq!(
            r.duplicate_of(Some(5), &seg(1, 100), at(3, 5_000)),
            Some(at(1, 0))
        );
        // A third copy still points at the original.
        assert_eq!(
            r.duplicate_of(Some(5), &seg(1, 100), at(4, 9_000)),
            Some(at(1, 0))
        );
    }

    #[test]
    fn a_retransmission_is_a_new_datagram() {
        let mut r = RecentSegments::default();
        r.duplicate_of(Some(5), &seg(1, 100), at(1, 0));
        // New IP ID: a real retransmission, even a quick one.
        assert_eq!(r.duplicate_of(Some(9), &seg(1, 100), at(2, 1_000)), None);
        // Same IP ID but a timer later: not a copy the capture made.
        assert_eq!(
            r.duplicate_of(Some(5), &seg(1, 100), at(3, 300_000_000)),
            None
        );
    }

    #[test]
    fn a_sender_that_does_not_number_datagrams_makes_no_copies() {
        let mut r = RecentSegments::default();
        r.duplicate_of(Some(1), &seg(1, 0), at(1, 0));
        // Another segment with the same ID: the IDs identify nothing on this side.
        r.duplicate_of(Some(1), &seg(500, 0), at(2, 1_000));
        assert_eq!(r.duplicate_of(Some(1), &seg(500, 0), at(3, 2_000)), None);
    }

    #[test]
    fn without_an_ip_id_nothing_is_a_copy() {
        let mut r = RecentSegments::default();
        r.duplicate_of(None, &seg(1, 100), at(1, 0));
        assert_eq!(r.duplicate_of(None, &seg(1, 100), at(2, 1)), None);
        r.duplicate_of(Some(0), &seg(1, 100), at(3, 2));
        assert_eq!(r.duplicate_of(Some(0), &seg(1, 100), at(4, 3)), None);
    }
}
