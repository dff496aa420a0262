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
use crate::diagnose::{Category, Transport};
use crate::flows::Endpoint;

use super::latency::Latency;
use super::timeline::Timeline;

/// The most endpoint rows held.
pub const MAX_ENDPOINTS: usize = 1024;

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
    /// The category of the finding that decided the outcome (failed or degraded calls).
    pub category: Option<Category>,
    /// What the packets showed of the call's times and bytes.
    pub measures: CallMeasures,
}

impl CallSample {
    /// A call with nothing measured.
    pub fn new(outcome: Outcome, start_ns: i64) -> Self {
        Self {
            outcome,
            start_ns,
            category: None,
            measures: CallMeasures::default(),
        }
    }
}

/// A call's latencies (each only when the packets showed both its ends) and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallMeasures {
    /// First SYN to the first SYN-ACK: on the first call of a connection only.
    pub connect_ns: Option<i64>,
    /// ClientHello to the end of the handshake the capture shows (TLS 1.2: the server's
    /// Finished; TLS 1.3: the last record of the server's first flight): first call only.
    pub tls_ns: Option<i64>,
    /// The request's first byte to the response's first byte.
    pub ttfb_ns: Option<i64>,
    /// The request's first byte to the response's last (a connection: its first packet to its
    /// FIN or RST; a DNS lookup: the first query to the answer).
    pub total_ns: Option<i64>,
    /// Payload from the client (HTTP: the request body; a connection: its TCP payload).
    pub bytes_to_server: u64,
    /// Payload from the server (HTTP: the response body; a connection: its TCP payload).
    pub bytes_to_client: u64,
}

/// The four latencies of an endpoint's calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    /// TCP connect: the first SYN to the first SYN-ACK, once per connection.
    pub connect: Latency,
    /// TLS handshake: the ClientHello to the handshake's end as seen, once per connection.
    pub tls: Latency,
    /// Time to first byte: request's first byte to the response's first byte.
    pub ttfb: Latency,
    /// The whole call: request's first byte to the response's last (see [`CallMeasures`]).
    pub total: Latency,
}

impl Latencies {
    fn add(&mut self, m: &CallMeasures) {
        let pairs = [
            (&mut self.connect, m.connect_ns),
            (&mut self.tls, m.tls_ns),
            (&mut self.ttfb, m.ttfb_ns),
            (&mut self.total, m.total_ns),
        ];
        for (latency, value) in pairs {
            if let Some(ns) = value {
                latency.record(ns);
            }
        }
    }

    fn merge(&mut self, other: &Latencies) {
        self.connect.merge(&other.connect);
        self.tls.merge(&other.tls);
        self.ttfb.merge(&other.ttfb);
        self.total.merge(&other.total);
    }

    /// Each latency with its name: `connect`, `tls`, `ttfb`, `total`.
    pub fn named(&self) -> [(&'static str, &Latency); 4] {
        [
            ("connect", &self.connect),
            ("tls", &self.tls),
            ("ttfb", &self.ttfb),
            ("total", &self.total),
        ]
    }
}

/// One endpoint's (or route's) calls.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStats {
    pub key: EndpointKey,
    /// The name the calls were made under (the DNS name the client looked up, else the TLS
    /// SNI or HTTP Host), the first one seen.
    pub name: Option<String>,
    pub counts: OutcomeCounts,
    /// The first and last call's start.
    pub first_ns: i64,
    pub last_ns: i64,
    pub latency: Latencies,
    /// Payload bytes of the calls (see [`CallMeasures`]).
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
    /// Calls over time.
    pub timeline: Timeline,
}

impl EndpointStats {
    fn new(key: EndpointKey) -> Self {
        Self {
            key,
            name: None,
            counts: OutcomeCounts::default(),
            first_ns: i64::MAX,
            last_ns: i64::MIN,
            latency: Latencies::default(),
            bytes_to_server: 0,
            bytes_to_client: 0,
            timeline: Timeline::default(),
        }
    }

    fn add(&mut self, sample: &CallSample) {
        self.counts.add(sample.outcome);
        self.first_ns = self.first_ns.min(sample.start_ns);
        self.last_ns = self.last_ns.max(sample.start_ns);
        self.latency.add(&sample.measures);
        let m = &sample.measures;
        self.bytes_to_server = self.bytes_to_server.saturating_add(m.bytes_to_server);
        self.bytes_to_client = self.bytes_to_client.saturating_add(m.bytes_to_client);
        self.timeline
            .record(sample.start_ns, sample.outcome, sample.category);
    }

    fn merge(&mut self, other: &EndpointStats) {
        if self.name.is_none() {
            self.name.clone_from(&other.name);
        }
        self.counts.merge(&other.counts);
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        self.latency.merge(&other.latency);
        self.bytes_to_server = self.bytes_to_server.saturating_add(other.bytes_to_server);
        self.bytes_to_client = self.bytes_to_client.saturating_add(other.bytes_to_client);
        self.timeline.merge(&other.timeline);
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
    pub fn record(&mut self, key: EndpointKey, sample: CallSample) {
        self.record_named(key, None, sample);
    }

    /// Counts one call to `key`, made under `name` (a DNS name, SNI or Host) when known.
    pub fn record_named(&mut self, mut key: EndpointKey, name: Option<&str>, sample: CallSample) {
        if !self.rows.contains_key(&key) && self.rows.len() >= MAX_ENDPOINTS {
            key.route = None;
            if !self.rows.contains_key(&key) {
                self.overflow.add(sample.outcome);
                return;
            }
        }
        let row = self
            .rows
            .entry(key)
            .or_insert_with_key(|key| EndpointStats::new(key.clone()));
        if row.name.is_none() {
            row.name = name.map(str::to_owned);
        }
        row.add(&sample);
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
            self.rows
                .entry(row.key.clone())
                .or_insert_with(|| EndpointStats::new(row.key.clone()))
                .merge(row);
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
        CallSample::new(outcome, 5)
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
