//! `--format markdown`: a report to paste into a ticket (GitHub, GitLab, Jira's Markdown
//! paste). A summary table, then each finding (failed calls before degraded ones) with its call,
//! cause, confidence, an evidence table with frame numbers and times, the Wireshark filter and
//! the remediation steps.
//!
//! Tables are GitHub-flavoured pipe tables drawn by `comfy-table`'s `ASCII_MARKDOWN` preset.
//! Every text from the capture (names, notes, summaries) is escaped so that a `|`, a backtick,
//! a `<` or a `*` in it stays text: it can neither break a table nor inject HTML.

use std::io::{self, Write};

use comfy_table::Table;
use comfy_table::presets::ASCII_MARKDOWN;

use super::summary::AnalyzeReport;
use crate::app::tls::{cipher_name, version_name};
use crate::diagnose::{Category, Finding, Transport};

/// Writes the report as GitHub-flavoured Markdown, within [`AnalyzeReport::max_chars`]
/// characters (0: no limit): the headline, the summary and the group table always; the
/// findings' details as far as they fit (see [`super::markdown_limit`]).
pub fn write_analyze_markdown(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    let mut head = Vec::new();
    write_head(&mut head, report)?;
    let mut rows = Vec::new();
    let mut details = Vec::new();
    if !report.findings.is_empty() {
        rows = super::markdown_limit::group_rows(report);
        for group in &report.groups {
            for f in report.shown_of(group) {
                let (mut full, mut compact) = (Vec::new(), Vec::new());
                write_finding(&mut full, f, true)?;
                write_finding(&mut compact, f, false)?;
                details.push(super::markdown_limit::Detail {
                    id: &f.id,
                    title: format!("{} {}: {}", f.id, code_span(&f.code), inline(&f.summary)),
                    full: String::from_utf8_lossy(&full).into_owned(),
                    compact: String::from_utf8_lossy(&compact).into_owned(),
                });
            }
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    // The per-endpoint table follows the group table: the groups' numbers come first when
    // the report must be shortened.
    let mut endpoints = Vec::new();
    super::stats_markdown::write_endpoints_markdown(&mut endpoints, report)?;
    let endpoints = String::from_utf8_lossy(&endpoints).into_owned();
    let parts = super::markdown_limit::Parts {
        head: &head,
        rows: &rows,
        endpoints: &endpoints,
        details: &details,
    };
    super::markdown_limit::assemble(out, report, &parts)
}

/// The title, the headline (the gravest groups) and the summary table.
fn write_head(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    let c = &report.capture;
    writeln!(out, "# faultline report: {}", inline(&c.files.join(", ")))?;
    writeln!(out)?;
    if !report.findings.is_empty() {
        writeln!(
            out,
            "**{}**\n",
            inline(&super::text::headline_title(report))
        )?;
        for g in report.groups.iter().take(super::groups::HEADLINE_GROUPS) {
            writeln!(
                out,
                "- **{}** {}: {}",
                g.id,
                code_span(g.code),
                inline(&g.headline())
            )?;
        }
        if report.groups.len() > super::groups::HEADLINE_GROUPS {
            writeln!(
                out,
                "- ... and {} more group(s) in the table below",
                report.groups.len() - super::groups::HEADLINE_GROUPS
            )?;
        }
        writeln!(out)?;
    }
    let mut summary = table(&["Item", "Value"]);
    summary.add_row(vec![cell("Capture"), cell(&c.files.join(", "))]);
    if c.merged {
        summary.add_row(vec![cell("Merged"), cell(super::summary::MERGED_LINE)]);
    }
    if let Some(hint) = &c.hint {
        summary.add_row(vec![cell("Hint"), cell(hint)]);
    }
    summary.add_row(vec![
        cell("Frames"),
        cell(&format!(
            "{} ({} malformed{})",
            c.frames,
            c.malformed_frames,
            if c.truncated { ", file truncated" } else { "" }
        )),
    ]);
    if let (Some(first), Some(last)) = (&c.first_ts, &c.last_ts) {
        summary.add_row(vec![cell("Time"), cell(&format!("{first} .. {last}"))]);
    }
    for note in &c.notes {
        summary.add_row(vec![
            cell("Note"),
            cell(&format!("{} (`{}`)", note.text, note.code)),
        ]);
    }
    for a in &c.anomalies {
        summary.add_row(vec![
            cell("Anomaly"),
            cell(&format!("{}: {}", a.reason, a.count)),
        ]);
    }
    if let Some(line) = c.decryption_line() {
        summary.add_row(vec![cell("TLS decryption"), cell(&line)]);
    }
    summary.add_row(vec![cell("Calls"), cell(&report.calls.describe())]);
    summary.add_row(vec![cell("Findings"), cell(&findings_by_category(report))]);
    if let Some(filters) = &report.filters {
        summary.add_row(vec![
            cell("Filters"),
            cell(&format!(
                "{} ({} findings hidden)",
                filters.applied.join(", "),
                filters.hidden_findings
            )),
        ]);
    }
    summary.add_row(vec![
        cell("Analysed by"),
        cell(&format!("faultline {}", report.tool.version)),
    ]);
    writeln!(out, "{summary}")?;

    if report.findings.is_empty() {
        writeln!(out, "\nNo failed calls found.")?;
    }
    Ok(())
}

/// One finding's details; `full` adds an aggregate's sample calls and every evidence row
/// (the compact form keeps the first [`COMPACT_EVIDENCE`]).
fn write_finding(out: &mut impl Write, f: &Finding, full: bool) -> io::Result<()> {
    let severity = f.severity.as_str();
    writeln!(
        out,
        "\n## {} {}: {}\n",
        inline(&f.id),
        code_span(&f.code),
        inline(&f.summary)
    )?;
    writeln!(
        out,
        "- **Call:** {} {} → {}{}",
        code_span(match f.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }),
        code_span(&f.client.to_string()),
        code_span(&f.server.to_string()),
        names(f)
    )?;
    writeln!(
        out,
        "- **Outcome:** {severity} ({} cause)",
        f.category.as_str()
    )?;
    if let Some(version) = f.wire.tls_version {
        let cipher = f
            .wire
            .tls_cipher
            .map(|c| format!(" {}", code_span(&cipher_name(c))));
        writeln!(
            out,
            "- **TLS:** {}{}",
            inline(&version_name(version)),
            cipher.unwrap_or_default()
        )?;
    }
    writeln!(out, "- **Confidence:** {}", f.confidence)?;
    if !f.group.is_empty() {
        writeln!(out, "- **Group:** {}", f.group)?;
    }
    writeln!(out, "- **Time:** {}", inline(&super::text::call_time(f)))?;
    match &f.file {
        Some(file) => writeln!(
            out,
            "- **Frames:** {} to {} in {}",
            f.first_frame,
            f.last_frame,
            code_span(file)
        )?,
        None => writeln!(out, "- **Frames:** {} to {}", f.first_frame, f.last_frame)?,
    }
    if let Some(group) = &f.aggregate {
        writeln!(out, "- **Calls:** {}", group.describe())?;
        for sample in group.samples.iter().filter(|_| full) {
            writeln!(
                out,
                "  - sample {} → {}, frames {}",
                code_span(&sample.client.to_string()),
                code_span(&sample.server.to_string()),
                sample.frames()
            )?;
        }
    }
    writeln!(out, "\n**Cause:** {}", inline(&f.explanation))?;
    let said = super::said_lines::said_lines(f);
    if !said.is_empty() {
        writeln!(out, "\n**What the server said:**\n")?;
        for line in &said {
            writeln!(out, "- {}", inline(line))?;
        }
    }
    if !f.alternatives.is_empty() {
        writeln!(out, "\n**Not ruled out:**\n")?;
        for alt in &f.alternatives {
            writeln!(out, "- {}", inline(alt))?;
        }
    }
    if !f.evidence.is_empty() {
        writeln!(
            out,
            "\n**Evidence** (times from the call's first packet, frame {}):\n",
            f.time.start_frame
        )?;
        let mut evidence = table(&["Frame", "Time", "What it shows"]);
        let rows = if full {
            f.evidence.len()
        } else {
            COMPACT_EVIDENCE
        };
        for e in f.evidence.iter().take(rows) {
            evidence.add_row(vec![
                cell(&e.frame.to_string()),
                cell(&super::groups::offset(e.call_offset_ns)),
                cell(&e.note),
            ]);
        }
        writeln!(out, "{evidence}")?;
        if f.evidence.len() > rows {
            writeln!(
                out,
                "\n({} more evidence frames: `--max-chars 0` or `--format json`)",
                f.evidence.len() - rows
            )?;
        }
    }
    writeln!(
        out,
        "\n**Wireshark filter:** {}",
        code_span(&f.wireshark_filter)
    )?;
    if !f.remediation.is_empty() {
        writeln!(out, "\n**Remediation:**\n")?;
        for step in &f.remediation {
            writeln!(out, "- {}", inline(step))?;
        }
    }
    Ok(())
}

/// Evidence rows a finding keeps when details must be shortened.
const COMPACT_EVIDENCE: usize = 6;

/// ` (DNS name, SNI, Host)`: the names the call was made under, if any.
fn names(f: &Finding) -> String {
    let mut parts = Vec::new();
    if let Some(name) = &f.names.dns {
        parts.push(format!("DNS {}", code_span(name)));
    }
    if let Some(name) = &f.names.sni {
        parts.push(format!("SNI {}", code_span(name)));
    }
    if let Some(name) = &f.names.http_host {
        parts.push(format!("Host {}", code_span(name)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// `3 (2 failed, 1 degraded): network 1, tls 2`, or `none`.
fn findings_by_category(report: &AnalyzeReport<'_>) -> String {
    if report.findings.is_empty() {
        return "none".into();
    }
    let mut counts: Vec<(Category, usize)> = Vec::new();
    for f in &report.findings {
        match counts.iter_mut().find(|(c, _)| *c == f.category) {
            Some((_, n)) => *n += 1,
            None => counts.push((f.category, 1)),
        }
    }
    counts.sort();
    let by_category: Vec<String> = counts
        .iter()
        .map(|(c, n)| format!("{} {n}", c.as_str()))
        .collect();
    format!(
        "{} ({}): {}",
        report.findings.len(),
        report.findings_by_severity(),
        by_category.join(", ")
    )
}

fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_style(ASCII_MARKDOWN);
    table.set_header(header.to_vec());
    table
}

/// A table cell: inline text on one line.
pub(super) fn cell(text: &str) -> String {
    inline(text)
}

/// Escapes text for Markdown inline content (headings, list items, table cells): backslash
/// escapes for every ASCII punctuation CommonMark gives a meaning (`|` included, which GFM
/// tables need even inside code spans), HTML entities for `<` (no tag can open) and `&` (no
/// entity can form); `>` stays, as text never starts a line (no block quote). Line breaks are
/// folded into spaces so a cell or heading stays one line; other control characters are shown
/// as the text report shows them (`\\x1b`, [`crate::escape`]).
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\t' => out.push(' '),
            c if crate::escape::is_unsafe(c) => {
                // `\x1b` as text: its backslash escaped for Markdown.
                for e in crate::escape::escape_controls(c.encode_utf8(&mut [0; 4])).chars() {
                    if e == '\\' {
                        out.push('\\');
                    }
                    out.push(e);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds `text` literally: fenced with one backtick more than the longest run
/// inside it, padded with spaces when it starts or ends with a backtick; `|` escaped (GFM
/// tables split on it even in code spans, and GitHub renders `\|` as `|` there).
pub fn code_span(text: &str) -> String {
    let one_line: String = text.replace(['\n', '\t'], " ");
    let one_line = crate::escape::escape_controls(&one_line);
    let longest = one_line
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if one_line.starts_with('`') || one_line.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", one_line.replace('|', "\\|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_break_a_table_or_inject_html() {
        assert_eq!(
            inline("a|b `c` <script>&*x*_[l](u)\nnext"),
            "a\\|b \\`c\\` &lt;script>&amp;\\*x\\*\\_\\[l\\](u) next"
        );
        assert_eq!(inline("C:\\path #1 ~x !y"), "C:\\\\path \\#1 \\~x \\!y");
        assert_eq!(inline("bell\u{7}\r"), "bell\\\\x07\\\\r");
    }

    #[test]
    fn code_spans_hold_backticks_and_pipes() {
        assert_eq!(code_span("tcp.stream eq 3"), "`tcp.stream eq 3`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x`"), "`` `x` ``");
        assert_eq!(
            code_span("dns.qry.name == \"a\" || tcp"),
            "`dns.qry.name == \"a\" \\|\\| tcp`"
        );
        assert_eq!(code_span("two\nlines"), "`two lines`");
    }

    #[test]
    fn tables_are_github_pipe_tables() {
        let mut t = table(&["Frame", "What it shows"]);
        t.add_row(vec![cell("7"), cell("RST | ACK <b>")]);
        let text = t.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("| Frame"), "{text}");
        assert!(
            lines[1].chars().all(|c| c == '|' || c == '-'),
            "delimiter row: {text}"
        );
        assert!(
            lines[2].contains("RST \\| ACK &lt;b>"),
            "escaped cell: {text}"
        );
        // Every row has the same number of unescaped pipes: the cell's pipe is not a column.
        let columns = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(lines.iter().all(|l| columns(l) == 3), "{text}");
    }
}
