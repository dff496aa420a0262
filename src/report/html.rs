//! The HTML report (placeholder).
use std::io::{self, Write};

use super::AnalyzeReport;
use crate::evidence::EvidenceRun;

/// Writes the report as one self-contained HTML page.
pub fn write_analyze_html(
    out: &mut impl Write,
    _report: &AnalyzeReport<'_>,
    _passes: &EvidenceRun,
) -> io::Result<()> {
    writeln!(out, "<!doctype html>")
}
