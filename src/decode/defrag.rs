//! IP fragment reassembly with hard caps: a fragment flood or a lost last fragment can hold only
//! a bounded amount of memory, and only for a bounded amount of capture time.
//!
//! Datagrams that never reassembled (a fragment lost on the way) are evidence for the stages
//! after: [`FragmentPool::incomplete`] gives the first frame of each, those still held and the
//! last [`MAX_GIVEN_UP`] given up (older ones are only counted).

use std::collections::VecDeque;
use std::net::IpAddr;

use etherparse::defrag::IpDefragBuf;
use etherparse::{
    IpAuthHeaderSlice, IpFragOffset, IpNumber, Ipv6FragmentHeaderSlice, Ipv6RawExtHeaderSlice,
    LaxIpv6Slice, ip_number,
};
use hashbrown::HashMap;

use super::IpLayer;

/// Caps on the fragment pool.
#[derive(Debug, Clone, Copy)]
pub struct DefragLimits {
    /// Datagrams under reassembly at once; beyond it the oldest is dropped.
    pub max_datagrams: usize,
    /// Bytes held over all datagrams under reassembly.
    pub max_bytes: usize,
    /// A datagram not completed within this much capture time is dropped (Linux uses 30 s).
    pub timeout_ns: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        Self {
            max_datagrams: 1024,
            max_bytes: 16 << 20,
            timeout_ns: 30_000_000_000,
        }
    }
}

/// Counters of the fragment pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    /// Datagrams given up: timed out, evicted by the caps, or inconsistent fragments.
    pub dropped: u64,
    /// Given-up datagrams no longer listed by [`FragmentPool::incomplete`] (beyond
    /// [`MAX_GIVEN_UP`]).
    pub incomplete_forgotten: u64,
}

/// At most this many given-up datagrams are remembered (the first frame of each).
pub const MAX_GIVEN_UP: usize = 256;

/// A fragmented datagram that did not reassemble: the first of its fragments the capture holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncompleteDatagram {
    pub frame: u64,
    pub ts_ns: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IP protocol of the payload (17: UDP).
    pub protocol: u8,
}

/// Fragment header fields, IPv4 or IPv6.
#[derive(Debug, Clone, Copy)]
pub(super) struct FragmentInfo {
    pub id: u32,
    pub offset: IpFragOffset,
    pub more: bool,
}

/// Reads the fragment extension header of an IPv6 packet, if it has one that fragments.
///
/// Walked here over the headers the lax parse validated, with checked slicing: etherparse 0.21's
/// own iterator, after a lax parse stopped at a damaged header, follows the last good header's
/// next-header number into bytes it never validated and reads out of bounds (found by
/// `fuzz/`'s capture_reader target).
pub(super) fn ipv6_fragment(v6: &LaxIpv6Slice<'_>) -> Option<FragmentInfo> {
    let extensions = v6.extensions();
    let mut next = extensions.first_header()?;
    let mut rest = extensions.slice();
    while !rest.is_empty() {
        let len = match next {
            ip_number::IPV6_FRAG => {
                let frag = Ipv6FragmentHeaderSlice::from_slice(rest).ok()?;
                if frag.is_fragmenting_payload() {
                    return Some(FragmentInfo {
                        id: frag.identification(),
                        offset: frag.fragment_offset(),
                        more: frag.more_fragments(),
                    });
                }
                frag.slice().len()
            }
            ip_number::AUTH => IpAuthHeaderSlice::from_slice(rest).ok()?.slice().len(),
            ip_number::IPV6_HOP_BY_HOP | ip_number::IPV6_ROUTE | ip_number::IPV6_DEST_OPTIONS => {
                Ipv6RawExtHeaderSlice::from_slice(rest).ok()?.slice().len()
            }
            _ => return None,
        };
        // Every extension header starts with the next header's number.
        next = IpNumber(rest[0]);
        rest = rest.get(len..)?;
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct DatagramKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    protocol: u8,
}

#[derive(Debug)]
struct Partial {
    buf: IpDefragBuf,
    first_ts_ns: i64,
    first_frame: u64,
    bytes: usize,
}

impl Partial {
    fn incomplete(&self, key: &DatagramKey) -> IncompleteDatagram {
        IncompleteDatagram {
            frame: self.first_frame,
            ts_ns: self.first_ts_ns,
            src: key.src,
            dst: key.dst,
            protocol: key.protocol,
        }
    }
}

/// Datagrams under reassembly.
#[derive(Debug, Default)]
pub(super) struct FragmentPool {
    limits: DefragLimits,
    partial: HashMap<DatagramKey, Partial, foldhash::fast::RandomState>,
    held_bytes: usize,
    stats: DefragStats,
    /// Datagrams given up, oldest first (at most [`MAX_GIVEN_UP`]).
    given_up: VecDeque<IncompleteDatagram>,
}

impl FragmentPool {
    pub fn new(limits: DefragLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub fn stats(&self) -> DefragStats {
        self.stats
    }

    /// Datagrams that did not reassemble: the remembered given-up ones, then those still held
    /// (in no particular order).
    pub fn incomplete(&self) -> impl Iterator<Item = IncompleteDatagram> + '_ {
        self.given_up
            .iter()
            .copied()
            .chain(self.partial.iter().map(|(k, p)| p.incomplete(k)))
    }

    fn give_up(&mut self, datagram: IncompleteDatagram) {
        self.stats.dropped += 1;
        if self.given_up.len() >= MAX_GIVEN_UP {
            self.given_up.pop_front();
            self.stats.incomplete_forgotten += 1;
        }
        self.given_up.push_back(datagram);
    }

    /// Adds the fragment in `ip` (frame `frame`); when it completes its datagram, the payload is
    /// written to `out` and true is returned.
    pub fn add(&mut self, ip: &IpLayer<'_>, frame: u64, ts_ns: i64, out: &mut Vec<u8>) -> bool {
        let Some(frag) = ip.fragment else {
            return false;
        };
        self.stats.fragments += 1;
        self.expire(ts_ns);
        let key = DatagramKey {
            src: ip.info.src,
            dst: ip.info.dst,
            id: frag.id,
            protocol: ip.protocol,
        };
        if !self.partial.contains_key(&key) {
            self.make_room(ip.payload.len());
        }
        let entry = self.partial.entry(key).or_insert_with(|| Partial {
            buf: IpDefragBuf::new(IpNumber(ip.protocol), Vec::new(), Vec::new()),
            first_ts_ns: ts_ns,
            first_frame: frame,
            bytes: 0,
        });
        let added = entry.buf.add(frag.offset, frag.more, ip.payload);
        entry.bytes += ip.payload.len();
        self.held_bytes += ip.payload.len();
        if added.is_err() {
            if let Some(p) = self.remove(&key) {
                self.give_up(p.incomplete(&key));
            }
            return false;
        }
        if !entry.buf.is_complete() {
            return false;
        }
        if let Some(done) = self.remove(&key) {
            let (data, _) = done.buf.take_bufs();
            *out = data;
            self.stats.reassembled += 1;
            return true;
        }
        false
    }

    fn remove(&mut self, key: &DatagramKey) -> Option<Partial> {
        let removed = self.partial.remove(key)?;
        self.held_bytes -= removed.bytes;
        Some(removed)
    }

    fn expire(&mut self, now_ns: i64) {
        let timeout = self.limits.timeout_ns;
        let mut freed = 0;
        let mut expired = Vec::new();
        self.partial.retain(|k, p| {
            let keep = now_ns.saturating_sub(p.first_ts_ns) <= timeout;
            if !keep {
                freed += p.bytes;
                expired.push(p.incomplete(k));
            }
            keep
        });
        self.held_bytes -= freed;
        expired.sort_by_key(|d| d.frame);
        for datagram in expired {
            self.give_up(datagram);
        }
    }

    fn make_room(&mut self, incoming: usize) {
        while !self.partial.is_empty()
            && (self.partial.len() >= self.limits.max_datagrams
                || self.held_bytes + incoming > self.limits.max_bytes)
        {
            let oldest = self
                .partial
                .iter()
                .min_by_key(|(_, p)| p.first_ts_ns)
                .map(|(k, _)| *k);
            if let Some(key) = oldest
                && let Some(p) = self.remove(&key)
            {
                self.give_up(p.incomplete(&key));
            }
        }
    }
}
