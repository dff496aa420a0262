//! The `analyze` document: capture facts, call counts and findings.

use std::cmp::Reverse;
use std::io::{self, Write};

use serde::Serialize;

use super::filter::FindingFilter;
use super::groups::IncidentGroup;
use super::rfc3339;
use crate::analysis::Analysis;
use crate::diagnose::{Category, Confidence, Finding, Severity};

/// The JSON document `faultline analyze --format json` prints (DESIGN.md fixes the names).
#[derive(Debug, Serialize)]
pub struct AnalyzeReport<'a> {
    pub tool: Tool,
    pub capture: CaptureSection,
    pub calls: Calls,
    /// Present only when filters hid findings from the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filters>,
    /// Incident groups, the gravest first (see [`super::groups`]).
    pub groups: Vec<IncidentGroup<'a>>,
    /// Every server endpoint (and HTTP route) called: counts, success rate, latencies, bytes
    /// (see [`super::stats`]).
    pub endpoints: super::stats::EndpointSection<'a>,
    /// The text report shows the per-endpoint table (`--stats`); Markdown always does.
    #[serde(skip)]
    pub show_stats: bool,
    /// The findings in group order (the first group's first), each group's failed calls before
    /// degraded ones, the surest first, then in time order.
    pub findings: Vec<&'a Finding>,
    /// Findings shown in full per group by the human formats (`--max-per-group`); the counts
    /// and the JSON are always complete.
    #[serde(skip)]
    pub max_per_group: usize,
    /// The most characters `--format markdown` writes (`--max-chars`; 0: no limit).
    #[serde(skip)]
    pub max_chars: usize,
    /// Where `--evidence` wrote the failed calls' frames (absent without `--evidence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_file: Option<crate::evidence::EvidenceFileSection>,
    /// First and last capture time over all files, in ns.
    #[serde(skip)]
    pub time_ns: Option<(i64, i64)>,
    /// Findings written one by one as they were decided (`--all-findings` NDJSON), counted
    /// here because `findings` does not hold them.
    #[serde(skip)]
    pub streamed: Option<FindingTally>,
}

/// How many findings a report holds, by severity and category.
#[derive(Debug, Clone, Default)]
pub struct FindingTally {
    pub total: u64,
    pub failed: u64,
    pub degraded: u64,
    pub warning: u64,
    pub info: u64,
    pub by_category: std::collections::BTreeMap<Category, u64>,
}

impl FindingTally {
    /// Counts one finding.
    pub fn add(&mut self, finding: &Finding) {
        self.total += 1;
        match finding.severity {
            Severity::Failed => self.failed += 1,
            Severity::Degraded => self.degraded += 1,
            Severity::Warning => self.warning += 1,
            _ => self.info += 1,
        }
        *self.by_category.entry(finding.category).or_default() += 1;
    }

    /// The counts of `findings`.
    pub fn of<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Self {
        let mut tally = Self::default();
        for finding in findings {
            tally.add(finding);
        }
        tally
    }
}

/// The filters a report was made with.
#[derive(Debug, Serialize)]
pub struct Filters {
    /// Each filter as given, e.g. `port 443`, `category tls`.
    pub applied: Vec<String>,
    /// Findings the filters left out.
    pub hidden_findings: u64,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Serialize)]
pub struct CaptureSection {
    pub files: Vec<String>,
    pub frames: u64,
    pub malformed_frames: u64,
    pub truncated: bool,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub link_types: Vec<String>,
    pub tcp_connections: u64,
    /// The files were read as one capture in time order (`--merge`): frame numbers are the
    /// merged capture's, as `mergecap` numbers them. Absent when false.
    #[serde(skip_serializing_if = "is_false")]
    pub merged: bool,
    /// Advice on reading the files, e.g. that several files analysed apart look like one
    /// rotated capture (`--merge`). Absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// TCP packets not followed because the flow table was full (a flood of new flows).
    /// Present only when the cap was hit, so the document's usual shape stays as DESIGN.md has it.
    #[serde(skip_serializing_if = "is_zero")]
    pub tcp_untracked_packets: u64,
    /// What a reader must know about the capture itself (e.g. frames seen twice), once per
    /// capture; absent when there is nothing to say.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<crate::diagnose::CaptureNote>,
    /// Damaged or rule-breaking application data read anyway (best reading kept), by reason;
    /// absent when every message was clean.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
    /// Encrypted TLS connections by how far their records were read with the key log
    /// (`--keylog`, the capture's secrets blocks); absent when no TLS connection turned
    /// encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_decryption: Option<crate::analysis::DecryptionCounts>,
    /// pcapng Decryption Secrets Blocks with TLS key log text the captures held; absent when
    /// none.
    #[serde(skip_serializing_if = "is_zero")]
    pub tls_secrets_blocks: u64,
}

impl CaptureSection {
    /// `4 encrypted connections: 3 decrypted, 1 no keys (2 secrets blocks in the capture)`,
    /// when a TLS connection turned encrypted or the capture held secrets.
    pub fn decryption_line(&self) -> Option<String> {
        let blocks = match self.tls_secrets_blocks {
            0 => String::new(),
            n => format!(" ({n} TLS secrets block(s) in the capture)"),
        };
        match &self.tls_decryption {
            Some(counts) => {
                // What the encrypted calls carried is unknown without keys: say how to read it.
                let hint = if counts.no_keys > 0 {
                    "; with the clients' key log (--keylog FILE) their HTTP is read and judged"
                } else {
                    ""
                };
                Some(format!(
                    "{} encrypted connection(s): {}{blocks}{hint}",
                    counts.total(),
                    counts.describe()
                ))
            }
            None if !blocks.is_empty() => Some(format!("no encrypted connection{blocks}")),
            None => None,
        }
    }
}

/// What a merged capture's frame numbers mean, said in every format's capture summary.
pub const MERGED_LINE: &str = "the files were read as one capture in time order (--merge): \
     frame numbers are the merged capture's, as mergecap -w merged.pcapng FILE... numbers them";

/// One kind of damaged input the parsers read anyway, and how often it occurred.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// What was overlooked, e.g. "HTTP heads with obs-fold continuation lines, read anyway".
    pub reason: String,
    pub count: u64,
}

/// The anomalies of all `analyses`, summed by reason, in reason order.
fn anomalies(analyses: &[Analysis]) -> Vec<Anomaly> {
    let mut out: Vec<Anomaly> = Vec::new();
    for (reason, count) in analyses.iter().flat_map(|a| &a.capture.anomalies) {
        match out.iter_mut().find(|a| &a.reason == reason) {
            Some(a) => a.count += count,
            None => out.push(Anomaly {
                reason: reason.clone(),
                count: *count,
            }),
        }
    }
    out.sort_by(|a, b| a.reason.cmp(&b.reason));
    out
}

/// Calls the capture holds: all of them, and how many failed or went through degraded.
#[derive(Debug, Serialize)]
pub struct Calls {
    pub total: u64,
    pub failed: u64,
    /// Calls that went through slowly or with real losses.
    pub degraded: u64,
    /// Calls the capture ended (or started) too early to judge.
    pub unfinished: u64,
    /// Calls whose payload faultline does not understand (HTTP/2, SSH, a response the capture
    /// missed): neither failed nor counted as a success.
    pub not_understood: u64,
}

impl Calls {
    /// `14 total, 9 failed, 1 degraded`, then the calls not judged when there are any
    /// (`, 2 unfinished (the capture ended first), 3 not understood`).
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} total, {} failed, {} degraded",
            self.total, self.failed, self.degraded
        );
        if self.unfinished > 0 {
            text.push_str(&format!(
                ", {} unfinished (the capture ended first)",
                self.unfinished
            ));
        }
        if self.not_understood > 0 {
            text.push_str(&format!(", {} not understood", self.not_understood));
        }
        text
    }
}

/// The order findings are reported in: failed calls before degraded ones, high confidence
/// first, then the earliest call first.
fn rank(f: &Finding) -> (Reverse<Severity>, Reverse<Confidence>, i64, u64) {
    (
        Reverse(f.severity),
        Reverse(f.confidence),
        f.evidence.first().map_or(i64::MAX, |e| e.ts_ns),
        f.first_frame,
    )
}

/// Keeps the findings `filter` shows, groups them (see [`super::groups`]) and numbers them
/// `F1`, `F2`, ... in report order across all `analyses`: the first group's findings first,
/// each group's in rank order. Returns how many were hidden.
pub fn select_findings(analyses: &mut [Analysis], filter: &FindingFilter) -> u64 {
    let start = analyses
        .iter()
        .filter_map(|a| a.capture.first_ts_ns)
        .min()
        .unwrap_or(0);
    let mut hidden = 0;
    for a in analyses.iter_mut() {
        let before = a.findings.len();
        a.findings.retain(|f| filter.matches(f, start));
        hidden += (before - a.findings.len()) as u64;
    }
    // Which finding (analysis, index) goes where, and in which group.
    let order: Vec<((usize, usize), String)> = {
        let mut shown: Vec<((usize, usize), &Finding)> = analyses
            .iter()
            .enumerate()
            .flat_map(|(a, an)| {
                an.findings
                    .iter()
                    .enumerate()
                    .map(move |(i, f)| ((a, i), f))
            })
            .collect();
        shown.sort_by_cached_key(|(_, f)| rank(f));
        let refs: Vec<&Finding> = shown.iter().map(|(_, f)| *f).collect();
        let groups = super::groups::build(&refs, analyses);
        let at: std::collections::HashMap<*const Finding, (usize, usize)> = shown
            .iter()
            .map(|(at, f)| (*f as *const Finding, *at))
            .collect();
        groups
            .iter()
            .flat_map(|g| {
                g.members
                    .iter()
                    .map(|f| (at[&(*f as *const Finding)], g.id.clone()))
            })
            .collect()
    };
    for (n, ((a, i), group)) in order.into_iter().enumerate() {
        let f = &mut analyses[a].findings[i];
        f.id = format!("F{}", n + 1);
        f.group = group;
    }
    hidden
}

/// A finding's place in the report: its number once [`select_findings`] numbered it, else its
/// rank.
fn report_order(f: &Finding) -> (u64, (Reverse<Severity>, Reverse<Confidence>, i64, u64)) {
    let number = f.id.strip_prefix('F').and_then(|n| n.parse().ok());
    (number.unwrap_or(u64::MAX), rank(f))
}

impl<'a> AnalyzeReport<'a> {
    /// Builds the report over the analyses of `files` (one analysis per file, in order), after
    /// [`select_findings`] chose and numbered the findings.
    pub fn new(
        files: &[String],
        analyses: &'a [Analysis],
        filter: &FindingFilter,
        hidden: u64,
    ) -> Self {
        let mut link_types = std::collections::BTreeSet::new();
        for a in analyses {
            link_types.extend(a.capture.link_types.iter().copied());
        }
        let first = analyses.iter().filter_map(|a| a.capture.first_ts_ns).min();
        let last = analyses.iter().filter_map(|a| a.capture.last_ts_ns).max();
        let mut report = AnalyzeReport {
            tool: Tool {
                name: "faultline",
                version: env!("CARGO_PKG_VERSION"),
            },
            capture: CaptureSection {
                files: files.to_vec(),
                frames: analyses.iter().map(|a| a.capture.frames).sum(),
                malformed_frames: analyses.iter().map(|a| a.capture.malformed_frames).sum(),
                truncated: analyses.iter().any(|a| a.capture.truncated),
                first_ts: first.map(rfc3339),
                last_ts: last.map(rfc3339),
                link_types: link_types.iter().map(|l| l.name()).collect(),
                tcp_connections: analyses.iter().map(|a| a.capture.tcp_connections).sum(),
                merged: false,
                hint: None,
                tcp_untracked_packets: analyses
                    .iter()
                    .map(|a| a.capture.tcp_untracked_packets)
                    .sum(),
                notes: analyses
                    .iter()
                    .flat_map(|a| a.capture.notes.iter().cloned())
                    .collect(),
                anomalies: anomalies(analyses),
                tls_decryption: {
                    let mut counts = crate::analysis::DecryptionCounts::default();
                    for a in analyses {
                        counts.merge(&a.capture.decryption);
                    }
                    (counts.total() > 0).then_some(counts)
                },
                tls_secrets_blocks: analyses.iter().map(|a| a.capture.tls_secrets_blocks).sum(),
            },
            calls: Calls {
                total: analyses.iter().map(|a| a.calls_total).sum(),
                failed: analyses.iter().map(|a| a.calls_failed).sum(),
                degraded: analyses.iter().map(|a| a.calls_degraded).sum(),
                unfinished: analyses.iter().map(|a| a.calls_unfinished).sum(),
                not_understood: analyses.iter().map(|a| a.calls_not_understood).sum(),
            },
            filters: (!filter.is_empty()).then(|| Filters {
                applied: filter.describe(),
                hidden_findings: hidden,
            }),
            time_ns: first.zip(last),
            evidence_file: None,
            streamed: None,
            groups: Vec::new(),
            endpoints: super::stats::EndpointSection::new(analyses),
            show_stats: false,
            max_per_group: super::groups::DEFAULT_MAX_PER_GROUP,
            max_chars: super::markdown_limit::DEFAULT_MAX_CHARS,
            findings: Vec::new(),
        };
        let mut shown: Vec<&Finding> = analyses.iter().flat_map(|a| a.findings.iter()).collect();
        shown.sort_by_cached_key(|f| report_order(f));
        report.groups = super::groups::build(&shown, analyses);
        report.findings = shown;
        report
    }

    /// The findings of `group` the human formats show in full: the first
    /// [`Self::max_per_group`].
    pub fn shown_of<'g>(&self, group: &'g IncidentGroup<'a>) -> &'g [&'a Finding] {
        &group.members[..group.members.len().min(self.max_per_group)]
    }

    /// How long the capture lasts, first frame to last.
    pub fn span_ns(&self) -> Option<i64> {
        self.time_ns.map(|(first, last)| last.saturating_sub(first))
    }

    /// How many findings of each severity the report shows, the gravest first, e.g.
    /// `2 failed, 1 degraded, 1 info` (`none` without findings).
    pub fn findings_by_severity(&self) -> String {
        let mut counts: std::collections::BTreeMap<Reverse<Severity>, usize> =
            std::collections::BTreeMap::new();
        for f in &self.findings {
            *counts.entry(Reverse(f.severity)).or_default() += 1;
        }
        if counts.is_empty() {
            return "none".into();
        }
        counts
            .iter()
            .map(|(Reverse(s), n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How many findings of each category the report shows, in category order.
    pub fn by_category(&self) -> Vec<(Category, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for f in &self.findings {
            *counts.entry(f.category).or_default() += 1;
        }
        counts.into_iter().collect()
    }
}

/// Writes the report as one pretty JSON document.
pub fn write_analyze_json(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    crate::escape::write_json(&mut *out, report, true)?;
    writeln!(out)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
