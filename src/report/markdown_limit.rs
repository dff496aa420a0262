//! Keeping `--format markdown` under `--max-chars` (default [`DEFAULT_MAX_CHARS`]): a ticket
//! or a pull-request comment refuses a longer text (GitHub 65,536 characters, Jira 32,767).
//!
//! The headline, the summary table and every group's row (its numbers) come first and stay;
//! the per-endpoint table follows when it fits.
//! When the whole report does not fit, the findings' details are collapsed into `<details>`
//! blocks in their short form (an aggregate's samples left out, the first evidence rows kept);
//! when that still does not fit, details are kept in report order while they fit and the rest
//! are left out. The report then ends saying what was left out and how to get it. Only a group
//! table too long on its own (thousands of groups) loses rows, and says how many.

use std::io::{self, Write};

use super::markdown::{cell, inline};
use super::summary::AnalyzeReport;
use crate::timefmt::{human_duration, rfc3339};

/// The default limit: under GitHub's 65,536-character comment limit with room to spare.
pub const DEFAULT_MAX_CHARS: usize = 60_000;

/// Characters kept back for the closing note on what was left out.
const NOTE_RESERVE: usize = 700;

/// Characters of a finding's summary shown in its collapsed title.
const TITLE_SUMMARY: usize = 160;

/// One finding's details, in its full and short forms.
#[derive(Debug)]
pub struct Detail<'a> {
    pub id: &'a str,
    /// `F1 code: summary`, Markdown-escaped.
    pub title: String,
    pub full: String,
    pub compact: String,
}

/// The group table: its heading and header lines first, then one line per group.
pub fn group_rows(report: &AnalyzeReport<'_>) -> Vec<String> {
    let mut rows = vec![
        "\n## Incident groups\n\n".to_string(),
        "| Group | Severity | Cause | Target | Calls | Clients | First (UTC) | Span | Findings |\n"
            .to_string(),
        "|---|---|---|---|---|---|---|---|---|\n".to_string(),
    ];
    for g in &report.groups {
        let shown = report.shown_of(g).len();
        let findings = if shown < g.findings.len() {
            format!(
                "{} (+{} more)",
                g.findings[..shown].join(", "),
                g.findings.len() - shown
            )
        } else {
            g.findings.join(", ")
        };
        let cells = [
            g.id.clone(),
            g.severity.to_string(),
            format!("`{}`", g.code),
            g.target(),
            g.calls(),
            g.clients.to_string(),
            format!("{} ({})", rfc3339(g.time.first_ns), g.time.offset()),
            human_duration(g.time.span_ns()),
            findings,
        ];
        let cells: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 2 { c.clone() } else { cell(c) })
            .collect();
        rows.push(format!("| {} |\n", cells.join(" | ")));
    }
    rows
}

/// The parts of a Markdown report, in the order written.
#[derive(Debug)]
pub struct Parts<'a> {
    /// The title, the headline and the summary table: always written.
    pub head: &'a str,
    /// The group table: its heading and header lines, then one line per group.
    pub rows: &'a [String],
    /// The per-endpoint table (may be empty).
    pub endpoints: &'a str,
    pub details: &'a [Detail<'a>],
}

/// Writes the parts within the report's limit.
pub fn assemble(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
    parts: &Parts<'_>,
) -> io::Result<()> {
    let limit = report.max_chars;
    let chars = |s: &str| s.chars().count();
    let table_chars: usize = parts.rows.iter().map(|r| chars(r)).sum();
    let details_chars: usize = parts.details.iter().map(|d| chars(&d.full) + 1).sum();
    let whole = chars(parts.head) + table_chars + chars(parts.endpoints) + details_chars;
    if limit == 0 || whole <= limit {
        write!(out, "{}", parts.head)?;
        for row in parts.rows {
            write!(out, "{row}")?;
        }
        write!(out, "{}", parts.endpoints)?;
        for d in parts.details {
            writeln!(out)?;
            write!(out, "{}", d.full)?;
        }
        return Ok(());
    }
    // Rows, the endpoint table and details are taken in order while they fit beside the
    // note; a note longer than its reserve gives back the last part taken, until all fits.
    let mut reserve = NOTE_RESERVE;
    loop {
        let (body, note) = shortened(limit.saturating_sub(reserve), parts, limit);
        let total = chars(parts.head) + chars(&body) + chars(&note);
        if total <= limit || reserve >= limit {
            write!(out, "{}{body}{note}", parts.head)?;
            return Ok(());
        }
        reserve += total - limit;
    }
}

/// The group rows, the endpoint table and the collapsed details that fit in `budget`
/// characters after the head, and the note on what was left out.
fn shortened(budget: usize, parts: &Parts<'_>, limit: usize) -> (String, String) {
    let chars = |s: &str| s.chars().count();
    let (rows, details) = (parts.rows, parts.details);
    let mut body = String::new();
    let mut used = chars(parts.head);
    let header_rows = rows.len().min(3);
    let mut rows_left_out = 0;
    for (i, row) in rows.iter().enumerate() {
        if i >= header_rows && used + chars(row) > budget {
            rows_left_out = rows.len() - i;
            break;
        }
        used += chars(row);
        body.push_str(row);
    }
    let endpoints_left_out = !parts.endpoints.is_empty()
        && (rows_left_out > 0 || used + chars(parts.endpoints) > budget);
    if !endpoints_left_out {
        used += chars(parts.endpoints);
        body.push_str(parts.endpoints);
    }
    let mut left_out: Vec<&str> = Vec::new();
    const HEADING: &str = "\n## Details\n";
    let mut heading = false;
    for d in details {
        let block = collapsed(d);
        let heading_chars = if heading { 0 } else { chars(HEADING) };
        if rows_left_out > 0
            || !left_out.is_empty()
            || used + heading_chars + chars(&block) > budget
        {
            left_out.push(d.id);
            continue;
        }
        if !heading {
            body.push_str(HEADING);
            heading = true;
        }
        used += heading_chars + chars(&block);
        body.push_str(&block);
    }
    (
        body,
        note(limit, rows_left_out, endpoints_left_out, &left_out),
    )
}

/// A finding's short form in a `<details>` block titled with its id, cause and summary.
fn collapsed(d: &Detail<'_>) -> String {
    let mut title: String = d.title.chars().take(TITLE_SUMMARY).collect();
    if title.len() < d.title.len() {
        title.push_str("...");
    }
    format!(
        "\n<details><summary>{}</summary>\n\n{}\n</details>\n",
        title.replace('`', ""),
        d.compact
    )
}

/// What was left out to stay under the limit, and how to see it.
fn note(limit: usize, rows_left_out: usize, endpoints_left_out: bool, left_out: &[&str]) -> String {
    let mut parts = vec![
        "the findings' details are collapsed, without an aggregate's sample calls and with \
         their first evidence frames"
            .to_string(),
    ];
    if rows_left_out > 0 {
        parts.push(format!(
            "{rows_left_out} group row(s) did not fit the table"
        ));
    }
    if endpoints_left_out {
        parts.push("the per-endpoint table did not fit".to_string());
    }
    if !left_out.is_empty() {
        parts.push(format!(
            "the details of {} finding(s) are left out ({})",
            left_out.len(),
            id_ranges(left_out)
        ));
    }
    format!(
        "\n> **Shortened to stay under {limit} characters** (`--max-chars`): {}. Every group \
         row above keeps its complete counts. `--max-chars 0` writes everything; `--format \
         html` or `--format json` holds every detail too.\n",
        inline(&parts.join("; "))
    )
}

/// `F9-F12, F15`: ids in runs (at most 20 runs named).
fn id_ranges(ids: &[&str]) -> String {
    let numbers: Vec<u64> = ids
        .iter()
        .filter_map(|id| id.strip_prefix('F')?.parse().ok())
        .collect();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for n in numbers {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            _ => runs.push((n, n)),
        }
    }
    let mut named: Vec<String> = runs
        .iter()
        .take(20)
        .map(|&(a, b)| match a == b {
            true => format!("F{a}"),
            false => format!("F{a}-F{b}"),
        })
        .collect();
    if runs.len() > 20 {
        named.push("...".into());
    }
    named.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::groups::offset;
    use super::*;

    #[test]
    fn ids_are_named_in_runs() {
        assert_eq!(
            id_ranges(&["F3", "F4", "F5", "F9", "F11", "F12"]),
            "F3-F5, F9, F11-F12"
        );
    }

    #[test]
    fn offsets_read_as_signed_seconds() {
        assert_eq!(offset(1_500_000_000), "+1.500000s");
        assert_eq!(offset(-2_000), "-0.000002s");
    }
}
