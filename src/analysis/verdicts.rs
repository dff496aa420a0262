//! The diagnosis of each connection and lookup as it leaves the trackers, and the calls it
//! counts; findings go to a [`Findings`] sink that folds them into aggregates or queues them.

use crate::app::dns::{self, Lookup};
use crate::app::tls::TrustStore;
use crate::calls::Outcome;
use crate::diagnose::{self, Finding, Severity};

use super::aggregate::Aggregator;
use super::duplicates::Duplicates;
use super::endpoints::{CallSample, EndpointKey, EndpointTable};
use super::{Connection, FindingsMode, MAX_KEPT_LOOKUPS};
use crate::calls::host_name;

/// Where decided findings go, by [`FindingsMode`]: into the aggregator, or into a queue for
/// [`super::Analyzer::take_findings`].
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(super) mode: FindingsMode,
    pub(super) queue: Vec<Finding>,
    pub(super) aggregator: Aggregator,
    /// The capture's first frame's time: the origin of each finding's offsets.
    pub(super) capture_start_ns: i64,
}

impl Findings {
    fn push(&mut self, mut finding: Finding) {
        finding.settle_times(self.capture_start_ns);
        match self.mode {
            FindingsMode::Every => self.queue.push(finding),
            _ => self.aggregator.add(finding),
        }
    }

    /// The findings to report, in stream order (lookups over UDP last).
    pub(super) fn into_sorted(self) -> Vec<Finding> {
        let mut findings = match self.mode {
            FindingsMode::Every => self.queue,
            _ => self.aggregator.into_findings(),
        };
        findings.sort_by_key(|f| f.stream);
        findings
    }
}

/// The diagnosis of each connection as it leaves the tracker.
#[derive(Debug, Default)]
pub(super) struct Verdicts {
    pub(super) trust: Option<&'static TrustStore>,
    pub(super) calls: CallCounts,
    pub(super) findings: Findings,
    dns: diagnose::DnsJudge,
    names: NamesByAddress,
    pub(super) kept_lookups: Vec<Lookup>,
    pub(super) duplicates: Duplicates,
    /// TLS connections by decryption state.
    pub(super) decryption: super::DecryptionCounts,
    /// Every call counted by server endpoint and route.
    pub(super) endpoints: EndpointTable,
}

impl Verdicts {
    /// Verdicts trusting `trust` besides the Mozilla roots, keeping findings by `mode`.
    pub(super) fn new(trust: Option<&'static TrustStore>, mode: FindingsMode) -> Self {
        Self {
            trust,
            findings: Findings {
                mode,
                ..Findings::default()
            },
            ..Self::default()
        }
    }

    /// Judges one finished connection at capture time `now_ns`; `fragments` are the datagrams
    /// that never reassembled (DNS answers lost in fragments).
    pub(super) fn judge(
        &mut self,
        conn: &Connection,
        now_ns: i64,
        fragments: &dyn diagnose::IncompleteDatagrams,
    ) {
        self.duplicates.add(&conn.tcp);
        if let Some(tls) = &conn.app.tls {
            self.decryption.add(tls.decryption.state);
        }
        let ctx = diagnose::Context {
            now_ns,
            trust: self.trust,
        };
        let calls = crate::calls::calls_of(&conn.tcp, &conn.app);
        let verdicts = diagnose::judge_calls(&conn.tcp, &conn.app, &calls, &ctx);
        let connection_failed = verdicts.iter().any(|v| v.finding.is_some());
        let speaks_dns = conn.tcp.server.port == dns::DNS_PORT && !conn.app.dns.is_empty();
        if speaks_dns {
            // DNS over TCP: each lookup is a call, judged with the others. When the connection
            // itself failed, that finding is the story of its unanswered lookups (one call).
            for lookup in &conn.app.dns {
                if connection_failed && lookup.answer.is_none() {
                    continue;
                }
                let mut lookup = lookup.clone();
                lookup.client = conn.tcp.client;
                lookup.server = conn.tcp.server;
                self.lookup(lookup, now_ns, fragments);
            }
        }
        let counted = !speaks_dns || connection_failed;
        if counted {
            self.calls.total += crate::calls::count(&conn.app);
        }
        // Each call's finding: its own, or the one that covers it.
        let decided =
            |v: &diagnose::CallVerdict| v.finding.as_ref().map(|f| (f.severity, f.category));
        let decisions: Vec<_> = verdicts
            .iter()
            .map(|v| decided(v).or_else(|| v.covered_by.and_then(|i| decided(&verdicts[i]))))
            .collect();
        let name = self
            .names
            .get(conn.tcp.server.ip)
            .or_else(|| conn.app.tls.as_ref()?.client_hello.as_ref()?.sni.as_deref());
        for (i, ((call, verdict), decision)) in
            calls.iter().zip(verdicts).zip(decisions).enumerate()
        {
            let severity = decision.map(|d| d.0);
            let outcome = severity.map_or(call.understood, finding_outcome);
            if counted {
                let (key, host) = call_endpoint(conn, call);
                let sample = CallSample {
                    outcome,
                    start_ns: call_start(conn, call),
                    category: decision.map(|d| d.1),
                    measures: super::measure::measure(&conn.tcp, &conn.app, call, i == 0),
                };
                self.endpoints.record_named(key, name.or(host), sample);
            }
            match outcome {
                Outcome::Failed => self.calls.failed += 1,
                Outcome::Degraded => self.calls.degraded += 1,
                // A DNS-over-TCP connection's lookups are the calls counted, not the connection.
                Outcome::Unfinished if counted => self.calls.unfinished += 1,
                Outcome::NotUnderstood if counted => self.calls.not_understood += 1,
                _ => {}
            }
            if let Some(mut finding) = verdict.finding {
                if finding.names.dns.is_none() {
                    finding.names.dns = self.names.get(conn.tcp.server.ip).map(str::to_owned);
                }
                self.findings.push(finding);
            }
        }
    }

    /// One finished DNS lookup: its answers are remembered, it is judged with those around it.
    pub(super) fn lookup(
        &mut self,
        lookup: Lookup,
        now_ns: i64,
        fragments: &dyn diagnose::IncompleteDatagrams,
    ) {
        if self.kept_lookups.len() < MAX_KEPT_LOOKUPS {
            self.kept_lookups.push(lookup.clone());
        }
        if let Some(answer) = &lookup.answer {
            for &address in &answer.addresses {
                self.names.insert(address, &lookup.name);
            }
        }
        let mut tally = Tally {
            calls: &mut self.calls,
            findings: &mut self.findings,
            endpoints: &mut self.endpoints,
        };
        self.dns.push(lookup, now_ns, fragments, &mut |verdict| {
            tally.count(verdict)
        });
    }

    /// Capture time moved on to `now_ns`: lookups old enough are judged.
    pub(super) fn advance_dns(
        &mut self,
        now_ns: i64,
        finished: bool,
        fragments: &dyn diagnose::IncompleteDatagrams,
    ) {
        let mut tally = Tally {
            calls: &mut self.calls,
            findings: &mut self.findings,
            endpoints: &mut self.endpoints,
        };
        let mut out = |verdict| tally.count(verdict);
        if finished {
            self.dns.finish(fragments, &mut out);
        } else {
            self.dns.advance(now_ns, fragments, &mut out);
        }
    }
}

/// The counters a DNS verdict adds to: one call, failed or degraded by its finding's severity.
pub(super) struct Tally<'a> {
    pub(super) calls: &'a mut CallCounts,
    pub(super) findings: &'a mut Findings,
    pub(super) endpoints: &'a mut EndpointTable,
}

/// Calls judged so far, by how they ended.
#[derive(Debug, Default)]
pub(super) struct CallCounts {
    pub(super) total: u64,
    pub(super) failed: u64,
    pub(super) degraded: u64,
    pub(super) unfinished: u64,
    pub(super) not_understood: u64,
}

impl Tally<'_> {
    /// One lookup's verdict: a call, unfinished when the capture ended first.
    fn count(&mut self, verdict: diagnose::LookupVerdict) {
        let otherwise = match verdict.unfinished {
            true => Outcome::Unfinished,
            false => Outcome::Ok,
        };
        let severity = verdict.finding.as_ref().map(|f| f.severity);
        let outcome = severity.map_or(otherwise, finding_outcome);
        let key = EndpointKey {
            server: verdict.server,
            transport: verdict.transport,
            route: None,
        };
        let mut sample = CallSample::new(outcome, verdict.start_ns);
        sample.category = verdict.finding.as_ref().map(|f| f.category);
        sample.measures.total_ns = verdict.answered_in_ns;
        self.endpoints.record(key, sample);
        if verdict.unfinished && verdict.finding.is_none() {
            self.calls.unfinished += 1;
        }
        self.call(verdict.finding);
    }

    /// One UDP flow an ICMP error was about: a call to its server, with its finding.
    pub(super) fn udp_call(&mut self, finding: Finding) {
        let key = EndpointKey {
            server: finding.server,
            transport: finding.transport,
            route: None,
        };
        let outcome = finding_outcome(finding.severity);
        let start_ns = finding.evidence.first().map_or(0, |e| e.ts_ns);
        let mut sample = CallSample::new(outcome, start_ns);
        sample.category = Some(finding.category);
        self.endpoints.record(key, sample);
        self.call(Some(finding));
    }

    /// One call, failed or degraded by its finding's severity.
    pub(super) fn call(&mut self, finding: Option<Finding>) {
        self.calls.total += 1;
        if let Some(finding) = finding {
            match finding.severity {
                Severity::Failed => self.calls.failed += 1,
                Severity::Degraded => self.calls.degraded += 1,
                _ => {}
            }
            self.findings.push(finding);
        }
    }
}

/// The name each address was last answered for, so a connection's finding can name the host the
/// client looked up (bounded: the oldest address is forgotten first).
#[derive(Debug, Default)]
struct NamesByAddress {
    names: hashbrown::HashMap<std::net::IpAddr, String, foldhash::fast::RandomState>,
    order: std::collections::VecDeque<std::net::IpAddr>,
}

impl NamesByAddress {
    const MAX: usize = 4096;

    fn insert(&mut self, address: std::net::IpAddr, name: &str) {
        if self.names.insert(address, name.to_owned()).is_none() {
            self.order.push_back(address);
        }
        while self.order.len() > Self::MAX {
            if let Some(old) = self.order.pop_front() {
                self.names.remove(&old);
            }
        }
    }

    fn get(&self, address: std::net::IpAddr) -> Option<&str> {
        self.names.get(&address).map(String::as_str)
    }
}

/// Where a call on `conn` went: the server, and the route of an HTTP request (with the Host it
/// named).
fn call_endpoint<'c>(
    conn: &'c Connection,
    call: &crate::calls::ApiCall,
) -> (EndpointKey, Option<&'c str>) {
    let request = call
        .http_exchange(&conn.app)
        .and_then(|ex| ex.request.as_ref());
    let key = EndpointKey {
        server: conn.tcp.server,
        transport: diagnose::Transport::Tcp,
        route: request.map(|r| crate::calls::Route::of(&r.head.method, &r.head.target)),
    };
    (
        key,
        request.and_then(|r| host_name(r.head.host.as_deref()?)),
    )
}

/// How a call with a finding of `severity` ended: failed, degraded, or through with a warning
/// or note.
fn finding_outcome(severity: Severity) -> Outcome {
    match severity {
        Severity::Failed => Outcome::Failed,
        Severity::Degraded => Outcome::Degraded,
        _ => Outcome::Warning,
    }
}

/// When a call on `conn` started: its request's first frame, or the connection's.
fn call_start(conn: &Connection, call: &crate::calls::ApiCall) -> i64 {
    call.http_exchange(&conn.app)
        .and_then(|ex| ex.request.as_ref())
        .map_or(conn.tcp.first_ts_ns, |r| r.first.ts_ns)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_host_header_names_an_endpoint_unless_it_is_an_address() {
        use super::host_name;
        assert_eq!(host_name("api.lab.test:8443"), Some("api.lab.test"));
        assert_eq!(host_name("api.lab.test"), Some("api.lab.test"));
        for literal in ["198.18.1.2", "198.18.1.2:80", "[fd0f::2]:80", "fd0f::2", ""] {
            assert_eq!(host_name(literal), None, "{literal}");
        }
    }
}
