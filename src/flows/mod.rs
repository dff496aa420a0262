//! Flows: the table of conversations keyed by canonical 5-tuple, which side sent a packet, and
//! eviction on capture time so memory follows the active flows, not the size of the capture.
//!
//! The table is generic over the per-flow state the next stage keeps; keys come from untrusted
//! traffic, so it hashes with a randomly seeded `foldhash`.

mod key;

pub use key::{Endpoint, FlowKey, Side};

use hashbrown::HashMap;

use crate::decode::{IcmpMessage, QuotedPacket};

/// How long a flow may stay in the table without packets, by its state.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A flow that has not closed (Zeek's `tcp_inactivity_timeout` is 5 minutes; we keep longer
    /// so that long idle keep-alive connections stay one flow).
    pub open_ns: i64,
    /// A flow whose both sides closed or that was reset (Zeek's `tcp_close_delay` is 5 s).
    pub closed_ns: i64,
    /// How long the next stage may remember a closed flow after eviction, so that stragglers
    /// are recognised: twice the maximum segment lifetime (Linux's TIME_WAIT, 60 s).
    pub remember_closed_ns: i64,
    /// How often the table is swept, in capture time.
    pub sweep_every_ns: i64,
    /// A connection attempt nobody answered is over (the client gave up) when it has been idle
    /// this long, and more than twice as long as the client had been trying plus a second:
    /// stacks back off by doubling (RFC 6298), so the next retry of a client still trying comes
    /// within the time spent so far plus the first gap (Linux: 1, 2, 4 s; Windows: 3, 6 s;
    /// macOS: 1 s five times, then doubling). 5 s is above every common initial RTO (1 s, 3 s
    /// in RFC 2988 stacks), so a first retry is waited for.
    pub attempt_ns: i64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            open_ns: 3_600 * 1_000_000_000,
            closed_ns: 5 * 1_000_000_000,
            remember_closed_ns: 60 * 1_000_000_000,
            sweep_every_ns: 250_000_000,
            attempt_ns: 5 * 1_000_000_000,
        }
    }
}

/// Per-flow state kept by the stage above the table.
pub trait FlowState {
    /// True once the flow has ended (closed or reset), so the shorter timeout applies.
    fn is_closed(&self) -> bool;

    /// For a side still retransmitting unanswered (a connection attempt nobody answered yet, or
    /// a server retransmitting data after its client closed): how long it has been trying (from
    /// its first try to its last), so the table can tell when it gave up. `None` otherwise.
    fn unanswered_attempt_span_ns(&self) -> Option<i64> {
        None
    }
}

/// A flow with its state and when it last saw a packet.
#[derive(Debug)]
pub struct Entry<S> {
    pub state: S,
    pub last_ts_ns: i64,
}

/// The flow table.
#[derive(Debug)]
pub struct FlowTable<S> {
    map: HashMap<FlowKey, Entry<S>, foldhash::fast::RandomState>,
    timeouts: Timeouts,
    next_sweep_ns: Option<i64>,
    peak: usize,
}

impl<S: FlowState> FlowTable<S> {
    /// An empty table with the given timeouts.
    pub fn new(timeouts: Timeouts) -> Self {
        Self {
            map: HashMap::default(),
            timeouts,
            next_sweep_ns: None,
            peak: 0,
        }
    }

    /// The flow for `key`, if present.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Entry<S>> {
        self.map.get_mut(key)
    }

    /// Inserts a new flow; returns it, and the state it replaced (a reused 5-tuple).
    pub fn insert(&mut self, key: FlowKey, state: S, ts_ns: i64) -> (&mut S, Option<S>) {
        let held = self.map.len();
        let new = Entry {
            state,
            last_ts_ns: ts_ns,
        };
        let (slot, old) = match self.map.entry(key) {
            hashbrown::hash_map::Entry::Occupied(occupied) => {
                let slot = occupied.into_mut();
                let old = std::mem::replace(slot, new);
                (slot, Some(old.state))
            }
            hashbrown::hash_map::Entry::Vacant(vacant) => {
                self.peak = self.peak.max(held + 1);
                (vacant.insert(new), None)
            }
        };
        (&mut slot.state, old)
    }

    /// Flows currently held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no flow is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The largest number of flows held at once.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Removes the flows that timed out at capture time `now_ns`, handing each to `evicted`.
    /// Cheap to call on every packet: it sweeps only every `sweep_every_ns`.
    pub fn expire(&mut self, now_ns: i64, mut evicted: impl FnMut(FlowKey, S)) {
        let every = self.timeouts.sweep_every_ns;
        let due = *self
            .next_sweep_ns
            .get_or_insert(now_ns.saturating_add(every));
        // A sweep due more than one interval ahead means capture time went back (a clock set
        // back): sweep now rather than wait for time to catch up.
        if now_ns < due && due.saturating_sub(now_ns) <= every {
            return;
        }
        self.next_sweep_ns = Some(now_ns.saturating_add(self.timeouts.sweep_every_ns));
        let t = self.timeouts;
        let expired = self.map.extract_if(|_, e| {
            let limit = if e.state.is_closed() {
                t.closed_ns
            } else if let Some(span) = e.state.unanswered_attempt_span_ns() {
                let still_trying = span.saturating_mul(2).saturating_add(1_000_000_000);
                t.attempt_ns.max(still_trying)
            } else {
                t.open_ns
            };
            now_ns.saturating_sub(e.last_ts_ns) > limit
        });
        for (key, entry) in expired {
            evicted(key, entry.state);
        }
    }

    /// Empties the table in the order `order_of` gives each flow, handing every flow to
    /// `evicted` one at a time (end of capture: a deterministic order without a second copy of
    /// the flows, only of their keys).
    pub fn drain_ordered<K: Ord>(
        &mut self,
        order_of: impl Fn(&S) -> K,
        mut evicted: impl FnMut(FlowKey, S),
    ) {
        let mut keys: Vec<(K, FlowKey)> = self
            .map
            .iter()
            .map(|(key, entry)| (order_of(&entry.state), *key))
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (_, key) in keys {
            if let Some(entry) = self.map.remove(&key) {
                evicted(key, entry.state);
            }
        }
    }

    /// Empties the table, handing every flow to `evicted` (end of capture).
    pub fn drain(&mut self, mut evicted: impl FnMut(FlowKey, S)) {
        for (key, entry) in self.map.drain() {
            evicted(key, entry.state);
        }
    }
}

/// The flow an ICMP error is about, with the side that sent the quoted packet.
pub fn quoted_flow(message: &IcmpMessage<'_>) -> Option<(FlowKey, Side)> {
    let QuotedPacket {
        src,
        dst,
        protocol,
        ports,
        ..
    } = message.quoted?;
    let (src_port, dst_port) = ports?;
    Some(FlowKey::new(
        protocol,
        Endpoint::new(src, src_port),
        Endpoint::new(dst, dst_port),
    ))
}
