//! The report for a person at a terminal: the headline (the gravest incident groups, one line
//! each), the groups (calls affected out of calls made, clients, when, the worst call), then
//! the findings of each group (the first `--max-per-group`), each with its call, time,
//! summary, evidence frames, explanation, remediation and Wireshark filter; then a short
//! summary of the capture. Colour only when asked for (the binary decides from the
//! terminal and `NO_COLOR`).

use std::fmt::Display;
use std::io::{self, Write};

use owo_colors::Style;

use super::groups::{HEADLINE_GROUPS, offset};
use super::summary::AnalyzeReport;
use crate::diagnose::{Aggregate, CallNames, Finding, Severity};
use crate::escape::ControlEscaper;
use crate::timefmt::{human_duration, rfc3339};

/// Styles for the parts of the report; all plain when colour is off.
struct Palette {
    failed: Style,
    degraded: Style,
    label: Style,
    frame: Style,
    filter: Style,
}

impl Palette {
    fn new(color: bool) -> Self {
        if !color {
            return Palette {
                failed: Style::new(),
                degraded: Style::new(),
                label: Style::new(),
                frame: Style::new(),
                filter: Style::new(),
            };
        }
        Palette {
            failed: Style::new().red().bold(),
            degraded: Style::new().yellow().bold(),
            label: Style::new().dimmed(),
            frame: Style::new().cyan(),
            filter: Style::new().green(),
        }
    }
}

/// Writes the report for a terminal; `color` adds ANSI styles. Text from the capture has its
/// control characters escaped ([`crate::escape`]).
pub fn write_analyze_text(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
    color: bool,
) -> io::Result<()> {
    let p = Palette::new(color);
    let mut out = ControlEscaper::new(out);
    if report.findings.is_empty() {
        writeln!(out, "No failed calls found.\n")?;
    } else {
        write_headline(&mut out, report, &p)?;
        write_groups(&mut out, report, &p)?;
    }
    if report.show_stats {
        super::stats_markdown::write_endpoints_text(&mut out, report)?;
    }
    for group in &report.groups {
        for f in report.shown_of(group) {
            write_finding(&mut out, f, &p)?;
        }
        let hidden = group.members.len() - report.shown_of(group).len();
        if hidden > 0 {
            writeln!(
                out,
                "{}: {hidden} more finding(s) like these not shown (--max-per-group {} shows \
                 them; the group's counts above include them)\n",
                group.id,
                group.members.len()
            )?;
        }
    }
    write_summary(&mut out, report, &p)
}

/// Writes one finding as the text report does, followed by a blank line: for a caller that
/// streams findings as they are decided (live capture).
pub fn write_finding_text(out: &mut impl Write, f: &Finding, color: bool) -> io::Result<()> {
    write_finding(&mut ControlEscaper::new(out), f, &Palette::new(color))
}

/// Writes `text` in `style`: the style's own sequences raw, the text escaped.
fn paint<W: Write>(
    out: &mut ControlEscaper<W>,
    style: Style,
    text: impl Display,
) -> io::Result<()> {
    write!(out.raw(), "{}", style.prefix_formatter())?;
    write!(out, "{text}")?;
    write!(out.raw(), "{}", style.suffix_formatter())
}

/// A field label, padded to the column where values start.
fn label<W: Write>(out: &mut ControlEscaper<W>, p: &Palette, name: &str) -> io::Result<()> {
    paint(out, p.label, format_args!("{name:<9}"))
}

fn write_finding<W: Write>(
    out: &mut ControlEscaper<W>,
    f: &Finding,
    p: &Palette,
) -> io::Result<()> {
    let (word, style) = (severity_word(f.severity), severity_style(p, f.severity));
    paint(out, style, &f.id)?;
    write!(out, " ")?;
    paint(out, style, word)?;
    write!(out, " ")?;
    paint(out, style, &f.code)?;
    write!(out, "  ")?;
    paint(out, p.label, format_args!("(confidence {})", f.confidence))?;
    if !f.group.is_empty() {
        write!(out, "  ")?;
        paint(out, p.label, format_args!("group {}", f.group))?;
    }
    writeln!(out)?;
    writeln!(out, "   {}", f.summary)?;
    write!(out, "   ")?;
    label(out, p, "call")?;
    writeln!(
        out,
        "{} -> {} {}{}",
        f.client,
        f.server,
        transport_name(f),
        call_names(&f.names)
    )?;
    write!(out, "   ")?;
    label(out, p, "time")?;
    writeln!(out, "{}", call_time(f))?;
    if let Some(file) = &f.file {
        write!(out, "   ")?;
        label(out, p, "file")?;
        writeln!(out, "{file} (frame numbers count in it)")?;
    }
    if let Some(group) = &f.aggregate {
        write_aggregate(out, p, group)?;
    }
    if !f.evidence.is_empty() {
        write!(out, "   ")?;
        paint(out, p.label, "evidence")?;
        writeln!(
            out,
            " (offsets from the call's first packet, frame {})",
            f.time.start_frame
        )?;
        for e in &f.evidence {
            write!(out, "     ")?;
            paint(out, p.frame, format_args!("frame {:>7}", e.frame))?;
            writeln!(out, " {:>11}  {}", offset(e.call_offset_ns), e.note)?;
        }
    }
    let field = |out: &mut ControlEscaper<W>, name: &str, value: &str| {
        write!(out, "   ")?;
        label(out, p, name)?;
        writeln!(out, "{value}")
    };
    field(out, "why", &f.explanation)?;
    for line in super::said_lines::said_lines(f) {
        field(out, "said", &line)?;
    }
    for alt in &f.alternatives {
        field(out, "or", alt)?;
    }
    for step in &f.remediation {
        field(out, "fix", step)?;
    }
    write!(out, "   ")?;
    label(out, p, "filter")?;
    paint(out, p.filter, &f.wireshark_filter)?;
    writeln!(out, "\n")
}

/// What an aggregate finding stands for, then its sample calls (the evidence below is the
/// first sample's).
fn write_aggregate<W: Write>(
    out: &mut ControlEscaper<W>,
    p: &Palette,
    group: &Aggregate,
) -> io::Result<()> {
    write!(out, "   ")?;
    label(out, p, "group")?;
    writeln!(out, "{}", group.describe())?;
    for sample in &group.samples {
        write!(out, "   ")?;
        label(out, p, "sample")?;
        writeln!(
            out,
            "{} -> {}  frames {}",
            sample.client,
            sample.server,
            sample.frames()
        )?;
    }
    Ok(())
}

/// `2026-12-03T10:00:01.123456Z (+1.234567s into the capture), 2.5 s to its last evidence`.
pub(super) fn call_time(f: &Finding) -> String {
    let t = &f.time;
    let lasted = t.end_ns.saturating_sub(t.start_ns);
    let duration = if lasted > 0 {
        format!(", {} to its last evidence", human_duration(lasted))
    } else {
        String::new()
    };
    format!(
        "{} ({} into the capture){duration}",
        rfc3339(t.start_ns),
        offset(t.start_ns - t.capture_start_ns)
    )
}

/// The headline: how many groups, then the gravest ones, one line each.
fn write_headline<W: Write>(
    out: &mut ControlEscaper<W>,
    report: &AnalyzeReport<'_>,
    p: &Palette,
) -> io::Result<()> {
    writeln!(out, "{}", headline_title(report))?;
    for g in report.groups.iter().take(HEADLINE_GROUPS) {
        write!(out, "  ")?;
        paint(out, severity_style(p, g.severity), &g.id)?;
        write!(out, " ")?;
        paint(out, severity_style(p, g.severity), g.code)?;
        writeln!(out, ": {}", g.headline())?;
    }
    if report.groups.len() > HEADLINE_GROUPS {
        writeln!(
            out,
            "  ... and {} more group(s) below",
            report.groups.len() - HEADLINE_GROUPS
        )?;
    }
    writeln!(out)
}

/// `3 incident groups (2 failed, 1 degraded) from 14 findings`.
pub(super) fn headline_title(report: &AnalyzeReport<'_>) -> String {
    let mut by_severity: Vec<(Severity, usize)> = Vec::new();
    for g in &report.groups {
        match by_severity.iter_mut().find(|(s, _)| *s == g.severity) {
            Some((_, n)) => *n += 1,
            None => by_severity.push((g.severity, 1)),
        }
    }
    let counts: Vec<String> = by_severity
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!(
        "{} incident group(s) ({}) from {} finding(s) covering {} call(s)",
        report.groups.len(),
        counts.join(", "),
        report.findings.len(),
        report.groups.iter().map(|g| g.calls_affected).sum::<u64>()
    )
}

/// Every group: its numbers, its worst call, its findings.
fn write_groups<W: Write>(
    out: &mut ControlEscaper<W>,
    report: &AnalyzeReport<'_>,
    p: &Palette,
) -> io::Result<()> {
    for g in &report.groups {
        let style = severity_style(p, g.severity);
        paint(out, style, &g.id)?;
        write!(out, " ")?;
        paint(out, style, severity_word(g.severity))?;
        write!(out, " ")?;
        paint(out, style, g.code)?;
        write!(out, "  ")?;
        paint(out, p.label, format_args!("(confidence {})", g.confidence))?;
        writeln!(out)?;
        let field = |out: &mut ControlEscaper<W>, name: &str, value: &str| {
            write!(out, "   ")?;
            label(out, p, name)?;
            writeln!(out, "{value}")
        };
        field(out, "target", &g.target())?;
        let calls = format!("{}, {}", g.calls(), g.clients.counted("client", "clients"));
        field(out, "calls", &calls)?;
        field(out, "when", &g.when())?;
        if let Some(w) = g.worst.as_ref().filter(|_| g.calls_affected > 1) {
            let worst = format!(
                "{} ({}, frames {}..{}), {} from its first packet to its last evidence",
                w.client,
                w.finding,
                w.first_frame,
                w.last_frame,
                human_duration(w.time.end_ns.saturating_sub(w.time.start_ns))
            );
            field(out, "worst", &worst)?;
        }
        let shown = report.shown_of(g).len();
        let ids = if shown < g.findings.len() {
            format!(
                "{} ({} of {} shown below)",
                g.findings[..shown].join(", "),
                shown,
                g.findings.len()
            )
        } else {
            g.findings.join(", ")
        };
        field(out, "findings", &ids)?;
        writeln!(out)?;
    }
    Ok(())
}

fn severity_style(p: &Palette, s: Severity) -> Style {
    match s {
        Severity::Failed => p.failed,
        Severity::Degraded | Severity::Warning => p.degraded,
        _ => p.label,
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Failed => "FAILED",
        Severity::Degraded => "DEGRADED",
        Severity::Warning => "WARNING",
        _ => "INFO",
    }
}

fn transport_name(f: &Finding) -> &'static str {
    match f.transport {
        crate::diagnose::Transport::Tcp => "(tcp)",
        crate::diagnose::Transport::Udp => "(udp)",
    }
}

/// `  name (dns, sni)` for the names the call was made under, each distinct name once.
fn call_names(names: &CallNames) -> String {
    let mut seen: Vec<(&str, Vec<&str>)> = Vec::new();
    let all = [
        ("dns", &names.dns),
        ("sni", &names.sni),
        ("host", &names.http_host),
    ];
    for (source, name) in all {
        let Some(name) = name.as_deref() else {
            continue;
        };
        match seen.iter_mut().find(|(n, _)| *n == name) {
            Some((_, sources)) => sources.push(source),
            None => seen.push((name, vec![source])),
        }
    }
    seen.iter()
        .map(|(name, sources)| format!("  {name} ({})", sources.join(", ")))
        .collect()
}

fn write_summary<W: Write>(
    out: &mut ControlEscaper<W>,
    report: &AnalyzeReport<'_>,
    p: &Palette,
) -> io::Result<()> {
    let c = &report.capture;
    writeln!(out, "faultline {} summary", report.tool.version)?;
    summary_line(
        out,
        p,
        "capture",
        format_args!(
            "{} ({} frames, {} malformed{})",
            c.files.join(", "),
            c.frames,
            c.malformed_frames,
            if c.truncated { ", file truncated" } else { "" }
        ),
    )?;
    if c.merged {
        summary_line(
            out,
            p,
            "merged",
            format_args!("{}", super::summary::MERGED_LINE),
        )?;
    }
    if let Some(hint) = &c.hint {
        summary_line(out, p, "hint", format_args!("{hint}"))?;
    }
    if let (Some(first), Some(last)) = (&c.first_ts, &c.last_ts) {
        let span = report
            .span_ns()
            .map(|ns| format!(" ({})", human_duration(ns)))
            .unwrap_or_default();
        summary_line(out, p, "time", format_args!("{first} .. {last}{span}"))?;
    }
    summary_line(out, p, "links", format_args!("{}", c.link_types.join(", ")))?;
    for note in &c.notes {
        summary_line(
            out,
            p,
            "note",
            format_args!("{} ({})", note.text, note.code),
        )?;
    }
    for a in &c.anomalies {
        summary_line(out, p, "anomaly", format_args!("{}: {}", a.reason, a.count))?;
    }
    summary_line(
        out,
        p,
        "tcp",
        format_args!("{} connections", c.tcp_connections),
    )?;
    if let Some(line) = c.decryption_line() {
        summary_line(out, p, "tls", format_args!("{line}"))?;
    }
    summary_line(out, p, "calls", format_args!("{}", report.calls.describe()))?;
    let by_category: Vec<String> = report
        .by_category()
        .iter()
        .map(|(c, n)| format!("{} {n}", c.as_str()))
        .collect();
    let categories = if by_category.is_empty() {
        String::new()
    } else {
        format!(" ({})", by_category.join(", "))
    };
    summary_line(
        out,
        p,
        "findings",
        format_args!("{}{categories}", report.findings_by_severity()),
    )?;
    if let Some(filters) = &report.filters {
        summary_line(
            out,
            p,
            "filters",
            format_args!(
                "{}; {} findings hidden",
                filters.applied.join(", "),
                filters.hidden_findings
            ),
        )?;
    }
    Ok(())
}

/// One summary line: `  label    value`.
fn summary_line<W: Write>(
    out: &mut ControlEscaper<W>,
    p: &Palette,
    name: &str,
    value: std::fmt::Arguments<'_>,
) -> io::Result<()> {
    write!(out, "  ")?;
    label(out, p, name)?;
    writeln!(out, "{value}")
}
