//! Incident groups, the top of every report: findings of the same cause against the same
//! server endpoint (and, for HTTP, the same method and path template) form one group, with the
//! calls it affected out of the calls made there, the clients, the first and last time, the
//! worst call and the findings that show it. Groups are ranked by impact: failed calls before
//! degraded ones, then the most calls affected, then the earliest.
//!
//! Grouping is a pure function of the shown findings and the endpoint table, so the report
//! stage can number the findings in group order and every writer sees the same groups.

use std::cmp::Reverse;
use std::net::IpAddr;

use serde::Serialize;

use crate::analysis::{Analysis, OutcomeCounts};
use crate::calls::Route;
use crate::diagnose::{CallTime, Category, Cause, Confidence, Distinct, Finding, Severity};
use crate::diagnose::{Sample, Transport};
use crate::flows::Endpoint;
use crate::timefmt::{human_duration, rfc3339};

/// Findings shown per group in the human formats unless `--max-per-group` says otherwise.
pub const DEFAULT_MAX_PER_GROUP: usize = 3;

/// Groups named in the headline.
pub const HEADLINE_GROUPS: usize = 5;

/// What findings are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    cause: Cause,
    server: Endpoint,
    transport: Transport,
    route: Option<Route>,
}

impl Key {
    fn of(f: &Finding) -> Self {
        Self {
            cause: f.cause,
            server: f.server,
            transport: f.transport,
            route: f.route.clone(),
        }
    }
}

/// One incident group.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentGroup<'a> {
    /// `G1`, `G2`, ... in impact order.
    pub id: String,
    pub code: &'a str,
    pub category: Category,
    pub severity: Severity,
    /// The lowest confidence of its findings.
    pub confidence: Confidence,
    pub server: Endpoint,
    pub transport: Transport,
    /// The method and path template, for HTTP calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// The name the calls were made under (DNS name, SNI or Host), the first finding's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// Calls that ended this way (every call counted, aggregates included).
    pub calls_affected: u64,
    /// Calls made to the same endpoint (and route) in the capture, however they ended; absent
    /// when the capture's calls were not counted by endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls_made: Option<u64>,
    /// Distinct client addresses affected.
    pub clients: Distinct,
    pub time: GroupTime,
    /// The call that took longest from its first packet to its last evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<WorstCall<'a>>,
    /// The ids of its findings, in report order (every one, whatever the human formats show).
    pub findings: Vec<&'a str>,
    /// Its findings, in report order.
    #[serde(skip)]
    pub members: Vec<&'a Finding>,
}

/// When a group's calls happened.
#[derive(Debug, Clone, Copy)]
pub struct GroupTime {
    pub first_ns: i64,
    pub last_ns: i64,
    /// The report's first frame's time, the offsets' origin.
    pub capture_start_ns: i64,
}

impl GroupTime {
    /// How long from the first call to the last evidence.
    pub fn span_ns(&self) -> i64 {
        self.last_ns.saturating_sub(self.first_ns).max(0)
    }

    /// `+12.345s`: the first call's offset into the capture.
    pub fn offset(&self) -> String {
        offset(self.first_ns - self.capture_start_ns)
    }
}

impl Serialize for GroupTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let secs = |ns: i64| (ns as f64 / 1e3).round() / 1e6;
        let mut st = s.serialize_struct("GroupTime", 5)?;
        st.serialize_field("first", &rfc3339(self.first_ns))?;
        st.serialize_field("last", &rfc3339(self.last_ns))?;
        st.serialize_field(
            "first_offset_s",
            &secs(self.first_ns - self.capture_start_ns),
        )?;
        st.serialize_field("last_offset_s", &secs(self.last_ns - self.capture_start_ns))?;
        st.serialize_field("span_s", &secs(self.span_ns()))?;
        st.end()
    }
}

/// `+12.345678s` (or `-0.5s` for a time before the origin).
pub fn offset(ns: i64) -> String {
    let sign = if ns < 0 { "-" } else { "+" };
    format!("{sign}{:.6}s", ns.unsigned_abs() as f64 / 1e9)
}

/// The worst call of a group.
#[derive(Debug, Clone, Serialize)]
pub struct WorstCall<'a> {
    /// The finding it is, or whose aggregate kept it.
    pub finding: &'a str,
    pub client: Endpoint,
    pub time: CallTime,
    pub first_frame: u64,
    pub last_frame: u64,
    pub summary: &'a str,
}

impl IncidentGroup<'_> {
    /// `83 of 90 calls` (or `83 calls` when the calls made are unknown).
    pub fn calls(&self) -> String {
        let noun = if self.calls_affected == 1 {
            "call"
        } else {
            "calls"
        };
        match self.calls_made {
            Some(made) if made >= self.calls_affected => {
                format!("{} of {made} calls", self.calls_affected)
            }
            _ => format!("{} {noun}", self.calls_affected),
        }
    }

    /// `198.18.0.2:443 (api.example) GET /v1/orders/{id}`: where the calls went.
    pub fn target(&self) -> String {
        let mut out = self.server.to_string();
        if self.transport == Transport::Udp {
            out.push_str("/udp");
        }
        if let Some(name) = self.name {
            out.push_str(&format!(" ({name})"));
        }
        if let Some(route) = &self.route {
            out.push_str(&format!(" {route}"));
        }
        out
    }

    /// `2026-12-03T10:00:01.123456Z (+1.2s) to 2026-12-03T10:03:12.456789Z, over 3m11s`.
    pub fn when(&self) -> String {
        let t = &self.time;
        if t.span_ns() == 0 {
            return format!("at {} ({})", rfc3339(t.first_ns), t.offset());
        }
        format!(
            "{} ({}) to {}, over {}",
            rfc3339(t.first_ns),
            t.offset(),
            rfc3339(t.last_ns),
            human_duration(t.span_ns())
        )
    }

    /// The headline sentence: `83 of 90 calls to TARGET from 1 client failed this way, FIRST
    /// to LAST`.
    pub fn headline(&self) -> String {
        let ended = match self.severity {
            Severity::Failed => "failed",
            Severity::Degraded => "went through degraded",
            _ => "showed this",
        };
        format!(
            "{} to {} from {} {ended}, {}",
            self.calls(),
            self.target(),
            self.clients.counted("client", "clients"),
            self.when()
        )
    }
}

/// The groups of `findings` (already in report order), ranked and numbered; `analyses` give
/// the calls made per endpoint.
pub fn build<'a>(findings: &[&'a Finding], analyses: &[Analysis]) -> Vec<IncidentGroup<'a>> {
    let capture_start = analyses
        .iter()
        .filter_map(|a| a.capture.first_ts_ns)
        .min()
        .unwrap_or(0);
    let mut keyed: Vec<(Key, Vec<&'a Finding>)> = Vec::new();
    let mut index: std::collections::HashMap<Key, usize> = Default::default();
    for &f in findings {
        let key = Key::of(f);
        match index.get(&key) {
            Some(&i) => keyed[i].1.push(f),
            None => {
                index.insert(key.clone(), keyed.len());
                keyed.push((key, vec![f]));
            }
        }
    }
    let mut groups: Vec<IncidentGroup<'a>> = keyed
        .into_iter()
        .map(|(key, members)| group_of(key, members, analyses, capture_start))
        .collect();
    groups.sort_by_key(|g| {
        (
            Reverse(g.severity),
            Reverse(g.calls_affected),
            g.time.first_ns,
            g.members.first().map_or(0, |f| f.first_frame),
        )
    });
    for (i, g) in groups.iter_mut().enumerate() {
        g.id = format!("G{}", i + 1);
    }
    groups
}

fn group_of<'a>(
    key: Key,
    members: Vec<&'a Finding>,
    analyses: &[Analysis],
    capture_start_ns: i64,
) -> IncidentGroup<'a> {
    let first = members[0];
    let mut calls_affected = 0;
    let mut exact_clients: Vec<IpAddr> = Vec::new();
    let mut estimated_clients = Distinct {
        count: 0,
        estimated: false,
    };
    let (mut first_ns, mut last_ns) = (i64::MAX, i64::MIN);
    let mut worst: Option<(&'a Finding, &'a Sample)> = None;
    let mut worst_single: Option<&'a Finding> = None;
    for f in &members {
        match f.aggregate.as_deref() {
            Some(a) => {
                calls_affected += a.calls;
                estimated_clients.count += a.clients.count;
                estimated_clients.estimated |= a.clients.estimated;
                first_ns = first_ns.min(a.first_ts_ns);
                last_ns = last_ns.max(a.last_ts_ns);
                if let Some(w) = &a.worst
                    && worst.is_none_or(|(_, s)| w.time.duration_s() > s.time.duration_s())
                {
                    worst = Some((f, w));
                }
            }
            None => {
                calls_affected += 1;
                if !exact_clients.contains(&f.client.ip) {
                    exact_clients.push(f.client.ip);
                }
                first_ns = first_ns.min(f.time.start_ns);
                last_ns = last_ns.max(f.time.end_ns);
                if worst_single.is_none_or(|w| f.time.duration_s() > w.time.duration_s()) {
                    worst_single = Some(f);
                }
            }
        }
    }
    let clients = Distinct {
        count: exact_clients.len() as u64 + estimated_clients.count,
        estimated: estimated_clients.estimated,
    };
    let worst = pick_worst(worst, worst_single);
    let calls_made = calls_made(&key, analyses);
    IncidentGroup {
        id: String::new(),
        code: &first.code,
        category: first.category,
        severity: first.severity,
        confidence: members
            .iter()
            .map(|f| f.confidence)
            .min()
            .unwrap_or(first.confidence),
        server: key.server,
        transport: key.transport,
        route: key.route,
        name: call_name(first),
        calls_affected,
        calls_made,
        clients,
        time: GroupTime {
            first_ns,
            last_ns: last_ns.max(first_ns),
            capture_start_ns,
        },
        worst,
        findings: members.iter().map(|f| f.id.as_str()).collect(),
        members,
    }
}

/// The longer of an aggregate's worst sample and the longest single finding.
fn pick_worst<'a>(
    sampled: Option<(&'a Finding, &'a Sample)>,
    single: Option<&'a Finding>,
) -> Option<WorstCall<'a>> {
    let from_sample = sampled.map(|(f, s)| WorstCall {
        finding: &f.id,
        client: s.client,
        time: s.time,
        first_frame: s.first_frame,
        last_frame: s.last_frame,
        summary: &s.summary,
    });
    let from_single = single.map(|f| WorstCall {
        finding: &f.id,
        client: f.client,
        time: f.time,
        first_frame: f.first_frame,
        last_frame: f.last_frame,
        summary: &f.summary,
    });
    match (from_sample, from_single) {
        (Some(a), Some(b)) => Some(if b.time.duration_s() > a.time.duration_s() {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

/// Calls made to the group's endpoint: on its route for an HTTP group, else to the server
/// whatever the call.
fn calls_made(key: &Key, analyses: &[Analysis]) -> Option<u64> {
    let mut counts = OutcomeCounts::default();
    for a in analyses {
        match &key.route {
            Some(route) => {
                if let Some(row) = a.endpoints.get(key.server, key.transport, Some(route)) {
                    counts.merge(&row.counts);
                }
            }
            None => counts.merge(&a.endpoints.server_counts(key.server, key.transport)),
        }
    }
    (counts.calls > 0).then_some(counts.calls)
}

/// The name a call was made under: the DNS name, the TLS server name, or the HTTP Host when
/// it is a name (an address literal names no more than the endpoint).
fn call_name(f: &Finding) -> Option<&str> {
    let n = &f.names;
    n.dns
        .as_deref()
        .or(n.sni.as_deref())
        .or(n.http_host.as_deref().and_then(crate::calls::host_name))
}
