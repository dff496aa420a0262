//! The report for a person at a terminal: findings first (failed calls before degraded ones),
//! each with its call, summary, evidence frames, explanation, remediation and Wireshark filter;
//! then a short summary of the capture. Colour only when asked for (the binary decides from the
//! terminal and `NO_COLOR`).

use std::io::{self, Write};

use owo_colors::{OwoColorize, Style};

use super::summary::AnalyzeReport;
use crate::diagnose::{Aggregate, CallNames, Finding, Severity};
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

/// Writes the report for a terminal; `color` adds ANSI styles.
pub fn write_analyze_text(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
    color: bool,
) -> io::Result<()> {
    let p = Palette::new(color);
    for f in &report.findings {
        write_finding(out, f, &p)?;
    }
    if report.findings.is_empty() {
        writeln!(out, "No failed calls found.\n")?;
    }
    write_summary(out, report, &p)
}

/// Writes one finding as the text report does, followed by a blank line: for a caller that
/// streams findings as they are decided (live capture).
pub fn write_finding_text(out: &mut impl Write, f: &Finding, color: bool) -> io::Result<()> {
    write_finding(out, f, &Palette::new(color))
}

fn write_finding(out: &mut impl Write, f: &Finding, p: &Palette) -> io::Result<()> {
    let (word, style) = match f.severity {
        Severity::Failed => ("FAILED", p.failed),
        Severity::Degraded => ("DEGRADED", p.degraded),
        Severity::Warning => ("WARNING", p.degraded),
        _ => ("INFO", p.label),
    };
    writeln!(
        out,
        "{} {} {}  {}",
        f.id.style(style),
        word.style(style),
        f.code.style(style),
        format!("(confidence {})", f.confidence).style(p.label)
    )?;
    writeln!(out, "   {}", f.summary)?;
    let label = |name: &str| format!("{name:<9}").style(p.label).to_string();
    let names = call_names(&f.names);
    writeln!(
        out,
        "   {}{} -> {} {}{}",
        label("call"),
        f.client,
        f.server,
        transport_name(f),
        names
    )?;
    if let Some(group) = &f.aggregate {
        write_aggregate(out, group, &label)?;
    }
    if let Some(first) = f.evidence.first() {
        writeln!(out, "   {}", "evidence".style(p.label))?;
        for e in &f.evidence {
            let offset = e.ts_ns.saturating_sub(first.ts_ns);
            writeln!(
                out,
                "     {} {:>10}  {}",
                format!("frame {:>7}", e.frame).style(p.frame),
                format!("+{:.6}s", offset as f64 / 1e9),
                e.note
            )?;
        }
    }
    writeln!(out, "   {}{}", label("why"), f.explanation)?;
    for alt in &f.alternatives {
        writeln!(out, "   {}{alt}", label("or"))?;
    }
    for step in &f.remediation {
        writeln!(out, "   {}{step}", label("fix"))?;
    }
    writeln!(
        out,
        "   {}{}\n",
        label("filter"),
        f.wireshark_filter.style(p.filter)
    )
}

/// What an aggregate finding stands for, then its sample calls (the evidence below is the
/// first sample's).
fn write_aggregate(
    out: &mut impl Write,
    group: &Aggregate,
    label: &dyn Fn(&str) -> String,
) -> io::Result<()> {
    writeln!(
        out,
        "   {}{} calls, {}, {}, {}, {} to {}",
        label("group"),
        group.calls,
        group.clients.counted("client", "clients"),
        group.client_ports.counted("client port", "client ports"),
        group.names.counted("name", "names"),
        rfc3339(group.first_ts_ns),
        rfc3339(group.last_ts_ns)
    )?;
    for sample in &group.samples {
        let frames: Vec<String> = sample
            .evidence
            .iter()
            .map(|e| e.frame.to_string())
            .collect();
        writeln!(
            out,
            "   {}{} -> {}  frames {}",
            label("sample"),
            sample.client,
            sample.server,
            frames.join(", ")
        )?;
    }
    Ok(())
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

fn write_summary(out: &mut impl Write, report: &AnalyzeReport<'_>, p: &Palette) -> io::Result<()> {
    let c = &report.capture;
    let label = |name: &str| format!("{name:<9}").style(p.label).to_string();
    writeln!(out, "faultline {} summary", report.tool.version)?;
    writeln!(
        out,
        "  {}{} ({} frames, {} malformed{})",
        label("capture"),
        c.files.join(", "),
        c.frames,
        c.malformed_frames,
        if c.truncated { ", file truncated" } else { "" }
    )?;
    if let (Some(first), Some(last)) = (&c.first_ts, &c.last_ts) {
        let span = report
            .span_ns()
            .map(|ns| format!(" ({})", human_duration(ns)))
            .unwrap_or_default();
        writeln!(out, "  {}{first} .. {last}{span}", label("time"))?;
    }
    writeln!(out, "  {}{}", label("links"), c.link_types.join(", "))?;
    for note in &c.notes {
        writeln!(out, "  {}{} ({})", label("note"), note.text, note.code)?;
    }
    for a in &c.anomalies {
        writeln!(out, "  {}{}: {}", label("anomaly"), a.reason, a.count)?;
    }
    writeln!(out, "  {}{} connections", label("tcp"), c.tcp_connections)?;
    writeln!(out, "  {}{}", label("calls"), report.calls.describe())?;
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
    writeln!(
        out,
        "  {}{}{categories}",
        label("findings"),
        report.findings_by_severity()
    )?;
    if let Some(filters) = &report.filters {
        writeln!(
            out,
            "  {}{}; {} findings hidden",
            label("filters"),
            filters.applied.join(", "),
            filters.hidden_findings
        )?;
    }
    Ok(())
}
