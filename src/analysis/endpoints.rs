//! Every call counted by where it went: per server endpoint (and, for HTTP, per route: method
//! and path template), how many calls were made and how each ended. The incident groups take
//! "calls affected out of calls made" from here, and the per-endpoint statistics are read from
//! it.
//!
//! Memory follows the number of distinct endpoints and routes, bounded by [`MAX_ENDPOINTS`]:
//! past it a new route's calls are counted under its server without a route, and a new
//! server's under [`EndpointTable::overflow`] (counted, never dropped).

use hashbrown::HashMap;
use serde::Serialize;

use crate::calls::{Outcome, Route};
use crate::diagnose::Transport;
use crate::flows::Endpoint;

/// The most endpoint rows held.
pub const MAX_ENDPOINTS: usize = 4096;

/// Where a call went.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct EndpointKey {
    pub server: Endpoint,
    pub transport: Transport,
    /// The HTTP method and path template, for an HTTP call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
}

/// How the calls to one endpoint (or route) ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub calls: u64,
    pub failed: u64,
    pub degraded: u64,
    /// Went through with something worth saying (a warning or info finding).
    pub warning: u64,
    /// Went through and were understood.
    pub ok: u64,
    /// The capture ended (or started) before the call could be judged.
    pub unfinished: u64,
    /// Payload not understood: neither failed nor a success.
    pub not_understood: u64,
}

impl OutcomeCounts {
    /// Counts one call.
    pub fn add(&mut self, outcome: Outcome) {
        self.calls += 1;
        match outcome {
            Outcome::Failed => self.failed += 1,
            Outcome::Degraded => self.degraded += 1,
            Outcome::Warning => self.warning += 1,
            Outcome::Ok => self.ok += 1,
            Outcome::Unfinished => self.unfinished += 1,
            _ => self.not_understood += 1,
        }
    }

    /// Adds another row's counts.
    pub fn merge(&mut self, other: &OutcomeCounts) {
        self.calls += other.calls;
        self.failed += other.failed;
        self.degraded += other.degraded;
        self.warning += other.warning;
        self.ok += other.ok;
        self.unfinished += other.unfinished;
        self.not_understood += other.not_understood;
    }

    /// The share of judged calls (failed, degraded, warning or ok) that did not fail, in
    /// percent; `None` when no call was judged.
    pub fn success_rate(&self) -> Option<f64> {
        let judged = self.failed + self.degraded + self.warning + self.ok;
        (judged > 0).then(|| 100.0 * (judged - self.failed) as f64 / judged as f64)
    }
}

/// What one call contributes to its endpoint's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSample {
    pub outcome: Outcome,
    /// The call's first packet's time.
    pub start_ns: i64,
}

/// One endpoint's (or route's) calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointStats {
    #[serde(flatten)]
    pub key: EndpointKey,
    #[serde(flatten)]
    pub counts: OutcomeCounts,
    /// The first and last call's start.
    #[serde(skip)]
    pub first_ns: i64,
    #[serde(skip)]
    pub last_ns: i64,
}

impl EndpointStats {
    fn new(key: EndpointKey) -> Self {
        Self {
            key,
            counts: OutcomeCounts::default(),
            first_ns: i64::MAX,
            last_ns: i64::MIN,
        }
    }

    fn add(&mut self, sample: &CallSample) {
        self.counts.add(sample.outcome);
        self.first_ns = self.first_ns.min(sample.start_ns);
        self.last_ns = self.last_ns.max(sample.start_ns);
    }
}

/// Every call's endpoint row.
#[derive(Debug, Clone, Default)]
pub struct EndpointTable {
    rows: HashMap<EndpointKey, EndpointStats, foldhash::fast::RandomState>,
    /// Calls to servers beyond [`MAX_ENDPOINTS`] rows.
    pub overflow: OutcomeCounts,
}

impl EndpointTable {
    /// Counts one call to `key`.
    pub fn record(&mut self, mut key: EndpointKey, sample: CallSample) {
        if !self.rows.contains_key(&key) && self.rows.len() >= MAX_ENDPOINTS {
            key.route = None;
            if !self.rows.contains_key(&key) {
                self.overflow.add(sample.outcome);
                return;
            }
        }
        match self.rows.get_mut(&key) {
            Some(row) => row.add(&sample),
            None => {
                let mut row = EndpointStats::new(key.clone());
                row.add(&sample);
                self.rows.insert(key, row);
            }
        }
    }

    /// The calls made to `server` over `transport` on `route` (`None`: the calls that were
    /// not HTTP requests, or whose route was folded away).
    pub fn get(
        &self,
        server: Endpoint,
        transport: Transport,
        route: Option<&Route>,
    ) -> Option<&EndpointStats> {
        self.rows.get(&EndpointKey {
            server,
            transport,
            route: route.cloned(),
        })
    }

    /// Every call made to `server` over `transport`, whatever its route.
    pub fn server_counts(&self, server: Endpoint, transport: Transport) -> OutcomeCounts {
        let mut counts = OutcomeCounts::default();
        for row in self.rows.values() {
            if row.key.server == server && row.key.transport == transport {
                counts.merge(&row.counts);
            }
        }
        counts
    }

    /// The rows in endpoint order (server, transport, route).
    pub fn rows(&self) -> Vec<&EndpointStats> {
        let mut rows: Vec<&EndpointStats> = self.rows.values().collect();
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        rows
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no call was counted.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.overflow.calls == 0
    }

    /// Adds another table's rows (another file's calls).
    pub fn merge(&mut self, other: &EndpointTable) {
        for row in other.rows.values() {
            let mine = self
                .rows
                .entry(row.key.clone())
                .or_insert_with(|| EndpointStats::new(row.key.clone()));
            mine.counts.merge(&row.counts);
            mine.first_ns = mine.first_ns.min(row.first_ns);
            mine.last_ns = mine.last_ns.max(row.last_ns);
        }
        self.overflow.merge(&other.overflow);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16, route: Option<&str>) -> EndpointKey {
        EndpointKey {
            server: Endpoint::new([198, 18, 0, 2].into(), port),
            transport: Transport::Tcp,
            route: route.map(|t| Route::of("GET", t)),
        }
    }

    fn sample(outcome: Outcome) -> CallSample {
        CallSample {
            outcome,
            start_ns: 5,
        }
    }

    #[test]
    fn calls_count_by_route_and_server() {
        let mut t = EndpointTable::default();
        t.record(key(80, Some("/a/1")), sample(Outcome::Failed));
        t.record(key(80, Some("/a/2")), sample(Outcome::Ok));
        t.record(key(80, None), sample(Outcome::NotUnderstood));
        let route = Route::of("GET", "/a/9");
        let row = t.get(key(80, None).server, Transport::Tcp, Some(&route));
        let counts = &row.expect("the route's row").counts;
        assert_eq!((counts.calls, counts.failed, counts.ok), (2, 1, 1));
        assert_eq!(counts.success_rate(), Some(50.0));
        let all = t.server_counts(key(80, None).server, Transport::Tcp);
        assert_eq!((all.calls, all.not_understood), (3, 1));
    }

    #[test]
    fn rows_are_bounded_and_every_call_counted() {
        let mut t = EndpointTable::default();
        for i in 0..(MAX_ENDPOINTS as u16 + 10) {
            t.record(key(i, Some(&format!("/r{i}x"))), sample(Outcome::Ok));
        }
        assert_eq!(t.len(), MAX_ENDPOINTS);
        let counted: u64 = t.rows().iter().map(|r| r.counts.calls).sum::<u64>() + t.overflow.calls;
        assert_eq!(counted, MAX_ENDPOINTS as u64 + 10);
    }
}
