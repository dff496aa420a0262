//! The `analyze` document: capture facts, call counts and findings.

use std::io::{self, Write};

use serde::Serialize;

use super::rfc3339;
use crate::analysis::Analysis;
use crate::diagnose::Finding;

/// The JSON document `faultline analyze --format json` prints (DESIGN.md fixes the names).
#[derive(Debug, Serialize)]
pub struct AnalyzeReport<'a> {
    pub tool: Tool,
    pub capture: CaptureSection,
    pub calls: Calls,
    pub findings: Vec<&'a Finding>,
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
    /// TCP packets not followed because the flow table was full (a flood of new flows).
    pub tcp_untracked_packets: u64,
}

#[derive(Debug, Serialize)]
pub struct Calls {
    pub total: u64,
    pub failed: u64,
}

impl<'a> AnalyzeReport<'a> {
    /// Builds the report over the analyses of `files` (one analysis per file, in order).
    pub fn new(files: &[String], analyses: &'a [Analysis]) -> Self {
        let mut link_types = std::collections::BTreeSet::new();
        for a in analyses {
            link_types.extend(a.capture.link_types.iter().copied());
        }
        let first = analyses.iter().filter_map(|a| a.capture.first_ts_ns).min();
        let last = analyses.iter().filter_map(|a| a.capture.last_ts_ns).max();
        AnalyzeReport {
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
                tcp_untracked_packets: analyses
                    .iter()
                    .map(|a| a.capture.tcp_untracked_packets)
                    .sum(),
            },
            calls: Calls {
                total: analyses.iter().map(|a| a.calls_total).sum(),
                failed: analyses.iter().map(|a| a.calls_failed).sum(),
            },
            findings: analyses.iter().flat_map(|a| a.findings.iter()).collect(),
        }
    }
}

/// Writes the report as one pretty JSON document.
pub fn write_analyze_json(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}

/// Writes the report for a person at a terminal.
pub fn write_analyze_text(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    let c = &report.capture;
    writeln!(
        out,
        "faultline {}: {}",
        report.tool.version,
        c.files.join(", ")
    )?;
    writeln!(
        out,
        "  frames {} (malformed {}){}",
        c.frames,
        c.malformed_frames,
        if c.truncated { ", file truncated" } else { "" }
    )?;
    if let (Some(first), Some(last)) = (&c.first_ts, &c.last_ts) {
        writeln!(out, "  time   {first} .. {last}")?;
    }
    writeln!(out, "  links  {}", c.link_types.join(", "))?;
    writeln!(out, "  tcp    {} connections", c.tcp_connections)?;
    writeln!(
        out,
        "  calls  {} total, {} failed",
        report.calls.total, report.calls.failed
    )?;
    if report.findings.is_empty() {
        writeln!(out, "\nNo failed calls found.")?;
    }
    for f in &report.findings {
        writeln!(
            out,
            "\n[{}] {} ({}): {}",
            f.id, f.code, f.confidence, f.summary
        )?;
        writeln!(out, "    call:   {} -> {}", f.client, f.server)?;
        if let Some(host) = &f.names.http_host {
            writeln!(out, "    host:   {host}")?;
        }
        for e in &f.evidence {
            writeln!(out, "    frame {:>7}  {}", e.frame, e.note)?;
        }
        writeln!(out, "    why:    {}", f.explanation)?;
        for alt in &f.alternatives {
            writeln!(out, "    or:     {alt}")?;
        }
        for step in &f.remediation {
            writeln!(out, "    fix:    {step}")?;
        }
        writeln!(out, "    filter: {}", f.wireshark_filter)?;
    }
    Ok(())
}
