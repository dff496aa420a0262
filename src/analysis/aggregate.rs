//! Findings folded as they are made: many calls failing the same way against the same server (a
//! flood, a storm, a scan, an outage) become one aggregate finding with counts, first and last
//! time and a few sample calls, so memory and output follow the number of distinct failures, not
//! the length of the capture.
//!
//! A group is keyed by cause and server endpoint (and transport, and for HTTP the route:
//! method and path template). A group of at most
//! [`AGGREGATE_AFTER`] findings is reported as those findings, unchanged; a larger one as one
//! finding carrying an [`Aggregate`]: every call is counted, the first [`SAMPLES`] are kept with
//! their frames. At most [`MAX_GROUPS`] groups are held; past that, a new server's findings join
//! its cause's group for "other servers" (still counted, never dropped).

use std::net::IpAddr;

use cardinality_estimator::CardinalityEstimator;
use hashbrown::HashMap;

use crate::calls::Route;
use crate::diagnose::{Aggregate, Cause, Confidence, Distinct, Finding, Sample, Transport};
use crate::flows::Endpoint;
use crate::timefmt::rfc3339;

/// A group of more findings than this is reported as one aggregate finding.
pub const AGGREGATE_AFTER: usize = 10;

/// Sample calls an aggregate finding keeps, with their frames.
pub const SAMPLES: usize = 5;

/// The most groups held at once; past it new servers' findings fold into their cause's "other
/// servers" group.
pub const MAX_GROUPS: usize = 2048;

/// What findings are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct GroupKey {
    cause: Cause,
    /// `None`: the cause's findings against servers beyond [`MAX_GROUPS`].
    server: Option<Endpoint>,
    transport: Transport,
    /// The HTTP method and path template (`None` for a call that was not an HTTP request).
    route: Option<Route>,
}

/// Distinct values counted exactly while few, estimated (HyperLogLog++) when many.
type Estimator<T> = CardinalityEstimator<T>;

/// Counts of distinct values above which [`Estimator`] estimates instead of counting: its exact
/// (array) representation holds up to 128 hashes.
const EXACT_UP_TO: usize = 128;

/// One group of findings.
#[derive(Debug)]
struct Group {
    /// Order the group was first seen in.
    seq: u64,
    calls: u64,
    /// Every finding while the group is small; the first [`SAMPLES`] once it is an aggregate.
    kept: Vec<Finding>,
    clients: Estimator<IpAddr>,
    client_ports: Estimator<u16>,
    names: Estimator<str>,
    servers: Estimator<Endpoint>,
    first_ts_ns: i64,
    last_ts_ns: i64,
    lowest_confidence: Confidence,
    /// The call that took longest from its first packet to its last evidence.
    worst: Option<Sample>,
}

impl Group {
    fn new(seq: u64, finding: &Finding) -> Self {
        Self {
            seq,
            calls: 0,
            kept: Vec::new(),
            clients: Estimator::new(),
            client_ports: Estimator::new(),
            names: Estimator::new(),
            servers: Estimator::new(),
            first_ts_ns: i64::MAX,
            last_ts_ns: i64::MIN,
            lowest_confidence: finding.confidence,
            worst: None,
        }
    }

    fn add(&mut self, finding: Finding) {
        self.calls += 1;
        self.clients.insert(&finding.client.ip);
        self.client_ports.insert(&finding.client.port);
        if let Some(name) = call_name(&finding) {
            self.names.insert(name);
        }
        self.servers.insert(&finding.server);
        for evidence in &finding.evidence {
            self.first_ts_ns = self.first_ts_ns.min(evidence.ts_ns);
            self.last_ts_ns = self.last_ts_ns.max(evidence.ts_ns);
        }
        self.lowest_confidence = self.lowest_confidence.min(finding.confidence);
        let longer = |w: &Sample| finding.time.duration_s() > w.time.duration_s();
        if self.worst.as_ref().is_none_or(longer) {
            self.worst = Some(Sample::of(&finding));
        }
        if self.kept.len() < AGGREGATE_AFTER.max(SAMPLES) {
            self.kept.push(finding);
            return;
        }
        // An aggregate from now on: the earliest calls stay as samples, whatever order the
        // connections were judged in (the end of a capture closes them in no set order).
        self.kept.sort_by_key(|f| f.first_frame);
        self.kept.truncate(SAMPLES);
        if let Some(latest) = self.kept.last_mut()
            && finding.first_frame < latest.first_frame
        {
            *latest = finding;
            self.kept.sort_by_key(|f| f.first_frame);
        }
    }

    /// The group as reported: its findings when few, one aggregate finding when many.
    fn into_findings(mut self, out: &mut Vec<Finding>) {
        if self.calls as usize <= AGGREGATE_AFTER {
            out.append(&mut self.kept);
            return;
        }
        self.kept.sort_by_key(|f| f.first_frame);
        self.kept.truncate(SAMPLES);
        let mut kept = self.kept.into_iter();
        let Some(mut base) = kept.next() else {
            return;
        };
        let samples: Vec<Sample> = std::iter::once(&base)
            .chain(kept.as_slice())
            .map(Sample::of)
            .collect();
        let aggregate = Aggregate {
            calls: self.calls,
            clients: distinct(&self.clients),
            client_ports: distinct(&self.client_ports),
            names: distinct(&self.names),
            servers: distinct(&self.servers),
            first_ts_ns: self.first_ts_ns,
            last_ts_ns: self.last_ts_ns,
            samples,
            worst: self.worst,
        };
        let server = if aggregate.servers.count > 1 {
            format!("{} servers", aggregate.servers)
        } else {
            base.server.to_string()
        };
        base.summary = format!(
            "{} calls to {server} from {} ended this way between {} and {}; the first: {}",
            aggregate.calls,
            aggregate.clients.counted("client", "clients"),
            rfc3339(aggregate.first_ts_ns),
            rfc3339(aggregate.last_ts_ns),
            base.summary
        );
        base.explanation = format!(
            "{} The {} calls in this group ended the same way; the first {} are kept as samples \
             with their frames (`--all-findings` lists every one).",
            base.explanation,
            aggregate.calls,
            aggregate.samples.len()
        );
        // The frames, filter and evidence stay the first sample's: that call is what the
        // evidence file and the ladder show; the group's span is in the aggregate.
        base.confidence = self.lowest_confidence;
        base.aggregate = Some(Box::new(aggregate));
        out.push(base);
    }
}

/// Folds findings into groups as they are made.
#[derive(Debug, Default)]
pub(crate) struct Aggregator {
    groups: HashMap<GroupKey, Group, foldhash::fast::RandomState>,
    next_seq: u64,
}

impl Aggregator {
    /// Adds one finding to its group.
    pub(crate) fn add(&mut self, finding: Finding) {
        let mut key = GroupKey {
            cause: finding.cause,
            server: Some(finding.server),
            transport: finding.transport,
            route: finding.route.clone(),
        };
        if !self.groups.contains_key(&key) && self.groups.len() >= MAX_GROUPS {
            key.server = None;
            key.route = None;
        }
        let seq = self.next_seq;
        let group = self.groups.entry(key).or_insert_with(|| {
            // Only a new group takes a sequence number.
            Group::new(seq, &finding)
        });
        if group.seq == seq {
            self.next_seq += 1;
        }
        group.add(finding);
    }

    /// The findings to report: small groups' findings as they are, large groups as one
    /// aggregate finding each, in the order the groups were first seen.
    pub(crate) fn into_findings(self) -> Vec<Finding> {
        let mut groups: Vec<Group> = self.groups.into_values().collect();
        groups.sort_by_key(|g| g.seq);
        let mut out = Vec::new();
        for group in groups {
            group.into_findings(&mut out);
        }
        out
    }
}

/// The name a call was made under: the DNS name asked (or the server was looked up as), the
/// TLS server name, or the HTTP Host.
fn call_name(finding: &Finding) -> Option<&str> {
    let names = &finding.names;
    names
        .dns
        .as_deref()
        .or(names.sni.as_deref())
        .or(names.http_host.as_deref())
}

fn distinct<T: std::hash::Hash + ?Sized>(estimator: &Estimator<T>) -> Distinct {
    let count = estimator.estimate() as u64;
    Distinct {
        count,
        estimated: count as usize > EXACT_UP_TO,
    }
}
