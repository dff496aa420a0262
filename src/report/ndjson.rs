//! `--format ndjson`: one finding per line, then one summary line, in the Elastic Common Schema
//! (see [`super::ecs`]), so Filebeat, Vector or Logstash ship the lines unchanged.
//!
//! Each line is a whole JSON object ended by `\n`; a line is written as soon as its finding is
//! known, so a live capture can stream findings and end with the summary.

use std::io::{self, Write};

use super::ecs::finding_document;
use super::ecs_metric::summary_document;
use super::summary::AnalyzeReport;
use crate::diagnose::Finding;

/// Writes one finding as one NDJSON line (an ECS `event.kind: alert` document).
pub fn write_finding_ndjson(out: &mut impl Write, finding: &Finding) -> io::Result<()> {
    write_line(out, &finding_document(finding))
}

/// Writes the run's summary as one NDJSON line (an ECS `event.kind: metric` document): capture
/// facts, call counts and findings by category.
pub fn write_summary_ndjson(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    write_line(out, &summary_document(report))
}

/// Writes every finding of the report, one per line, then the summary line.
pub fn write_analyze_ndjson(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    for finding in &report.findings {
        write_finding_ndjson(out, finding)?;
    }
    write_summary_ndjson(out, report)
}

fn write_line(out: &mut impl Write, doc: &serde_json::Value) -> io::Result<()> {
    crate::escape::write_json(&mut *out, doc, false)?;
    out.write_all(b"\n")
}
