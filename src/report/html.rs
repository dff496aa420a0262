//! The HTML report: one self-contained page (inline CSS and SVG, no scripts, fonts or other
//! resources fetched). It opens with the headline and the incident group table
//! ([`super::html_groups`]), then the capture summary, then the details by group: each shown
//! finding with its time, its text, a ladder diagram of the call ([`super::ladder`]) and its
//! evidence table.
//!
//! Everything that comes from the capture (notes quote Host headers, SNI, DNS names) is
//! escaped with [`escape`] before it reaches the page.

use std::borrow::Cow;
use std::io::{self, Write};

use super::ladder::write_ladder;
use super::{AnalyzeReport, rfc3339};
use crate::diagnose::{Finding, Severity};
use crate::evidence::EvidenceRun;

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 2rem auto; max-width: 1280px; padding: 0 1rem; color: #1f2328; background: #fff;
  line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.25rem; margin: 0 0 .4rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap, td.nowrap code { white-space: nowrap; word-break: normal; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .9em; }
code { background: #f6f8fa; padding: .1rem .3rem; border-radius: 4px; word-break: break-all; }
section.finding { border: 1px solid #d0d7de; border-left: 6px solid #cf222e; border-radius: 6px;
  padding: 1rem 1.2rem; margin: 1.5rem 0; }
section.finding.degraded { border-left-color: #bf8700; }
.badge { display: inline-block; font-size: .8rem; padding: .05rem .5rem; border-radius: 1rem;
  margin-right: .3rem; background: #eaeef2; }
.badge.failed { background: #ffebe9; color: #a40e26; }
.badge.degraded { background: #fff8c5; color: #7d4e00; }
.summary { font-weight: 600; }
.muted { color: #57606a; }
.ladder-box { overflow-x: auto; margin: .6rem 0; }
svg.ladder { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 11.5px; background: #fcfcfd;
  border: 1px solid #eaeef2; border-radius: 6px; }
svg.ladder .addr { fill: #57606a; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; }
div.headline ol { padding-left: 1.4rem; }
div.headline li { margin: .25rem 0; }
a.badge { text-decoration: none; color: inherit; }
.table-box { overflow-x: auto; }
table.groups td, table.groups th { font-size: .85rem; }
table.groups code { white-space: nowrap; word-break: normal; }
table.groups tr.failed td:first-child { border-left: 4px solid #cf222e; }
table.groups tr.degraded td:first-child { border-left: 4px solid #bf8700; }
div.group { margin: 2rem 0; }
div.group > h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
p.more { font-style: italic; }
.chart-box { overflow-x: auto; margin: .4rem 0 1rem; }
svg.timeline, svg.hist { font-family: system-ui, "DejaVu Sans", sans-serif; }
svg.timeline .label { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; fill: #1f2328; }
svg.timeline .label.server { font-size: 10px; fill: #57606a; }
svg.timeline .band { fill: #f6f8fa; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .tick { font-size: 10px; fill: #57606a; }
svg.hist .slot { fill: #f6f8fa; }
ul.legend { list-style: none; padding: 0; margin: .3rem 0; display: flex; flex-wrap: wrap; gap: .3rem 1rem; font-size: .85rem; }
ul.legend .swatch { display: inline-block; width: 12px; height: 12px; margin-right: .35rem; vertical-align: -1px; border-radius: 2px; }
table.latency td { vertical-align: middle; }
table.latency .pct { font-size: .75rem; color: #57606a; white-space: nowrap; }
svg.ladder g.arrow:hover text { text-decoration: underline; }
"#;

/// Writes the report as one self-contained HTML page; `passes` holds each evidence frame's
/// sender and receiver (and where `--evidence` wrote them).
pub fn write_analyze_html(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
    passes: &EvidenceRun,
) -> io::Result<()> {
    let c = &report.capture;
    let files = c.files.join(", ");
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>faultline: {}</title>", escape(&files))?;
    writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>")?;
    writeln!(
        out,
        "<h1>faultline report</h1>\n<p class=\"muted\">faultline {} &middot; {}</p>",
        escape(report.tool.version),
        escape(&files)
    )?;
    super::html_groups::write_headline(out, report)?;
    super::html_groups::write_group_table(out, report)?;
    super::html_charts::write_endpoint_charts(out, &report.endpoints, report.time_ns)?;
    write_capture(out, report)?;
    super::html_groups::write_details(out, report, passes)?;
    if let Some(section) = &report.evidence_file {
        writeln!(
            out,
            "<h2>Evidence file</h2>\n<p><code>{}</code>: {} frames of the failed calls, each \
             evidence frame with a packet comment naming its finding. The evidence tables give \
             each frame's number in it.</p>",
            escape(&section.path),
            section.frames
        )?;
    }
    writeln!(out, "</body>\n</html>")
}

fn write_capture(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    let c = &report.capture;
    writeln!(out, "<h2>Capture</h2>\n<table class=\"capture\">")?;
    let rows: [(&str, String); 7] = [
        ("files", c.files.join(", ")),
        (
            "frames",
            format!(
                "{} ({} malformed){}",
                c.frames,
                c.malformed_frames,
                if c.truncated { ", file truncated" } else { "" }
            ),
        ),
        (
            "time",
            match (&c.first_ts, &c.last_ts) {
                (Some(a), Some(b)) => format!("{a} .. {b}"),
                _ => "-".into(),
            },
        ),
        ("link types", c.link_types.join(", ")),
        ("TCP connections", c.tcp_connections.to_string()),
        ("calls", report.calls.describe()),
        ("findings", report.findings.len().to_string()),
    ];
    let anomalies = c
        .anomalies
        .iter()
        .map(|a| ("anomaly", format!("{}: {}", a.reason, a.count)));
    let decryption = c.decryption_line().map(|line| ("TLS decryption", line));
    let merged = (c.merged).then(|| ("merged", super::summary::MERGED_LINE.to_string()));
    let hint = c.hint.clone().map(|hint| ("hint", hint));
    let rows = rows.into_iter().chain(merged).chain(hint);
    for (name, value) in rows.chain(decryption).chain(anomalies) {
        writeln!(out, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value))?;
    }
    if let Some(filters) = &report.filters {
        let shown = format!(
            "{} (hid {} findings)",
            filters.applied.join(", "),
            filters.hidden_findings
        );
        writeln!(out, "<tr><th>filters</th><td>{}</td></tr>", escape(&shown))?;
    }
    for note in &c.notes {
        let text = format!("{} ({})", note.text, note.code);
        writeln!(out, "<tr><th>note</th><td>{}</td></tr>", escape(&text))?;
    }
    writeln!(out, "</table>")
}

/// One finding in full: its words, its call and time, the ladder, the evidence table, the
/// filter and the remediation.
pub(super) fn write_finding(
    out: &mut impl Write,
    f: &Finding,
    passes: &EvidenceRun,
) -> io::Result<()> {
    let sev = severity(f.severity);
    writeln!(
        out,
        "<section class=\"finding {sev}\" id=\"{}\">",
        escape(&f.id)
    )?;
    writeln!(
        out,
        "<h2>{} &middot; <code>{}</code></h2>",
        escape(&f.id),
        escape(&f.code)
    )?;
    writeln!(
        out,
        "<p><span class=\"badge {sev}\">{sev}</span><span class=\"badge\">{}</span>\
         <span class=\"badge\">confidence {}</span>{}</p>",
        f.category.as_str(),
        f.confidence,
        group_badge(f)
    )?;
    writeln!(out, "<p class=\"summary\">{}</p>", escape(&f.summary))?;
    writeln!(out, "<p class=\"mono\">{}</p>", escape(&call(f)))?;
    writeln!(
        out,
        "<p class=\"when\">{}</p>",
        escape(&super::text::call_time(f))
    )?;
    if let Some(file) = &f.file {
        writeln!(
            out,
            "<p class=\"muted\">file <code>{}</code> (frame numbers count within it)</p>",
            escape(file)
        )?;
    }
    if let Some(group) = &f.aggregate {
        let samples: Vec<String> = group
            .samples
            .iter()
            .map(|s| format!("{} → {} (frames {})", s.client, s.server, s.frames()))
            .collect();
        writeln!(
            out,
            "<p class=\"group\">{}; samples: {}</p>",
            escape(&group.describe()),
            escape(&samples.join("; "))
        )?;
    }
    let routes = passes.routes_of(&f.id);
    writeln!(out, "<div class=\"ladder-box\">")?;
    write_ladder(out, f, routes)?;
    writeln!(out, "</div>")?;
    writeln!(out, "<h3>Why</h3>\n<p>{}</p>", escape(&f.explanation))?;
    let said = super::said_lines::said_lines(f);
    if !said.is_empty() {
        writeln!(out, "<h3>What the server said</h3>\n<ul>")?;
        for line in &said {
            writeln!(out, "<li>{}</li>", escape(line))?;
        }
        writeln!(out, "</ul>")?;
    }
    if !f.alternatives.is_empty() {
        writeln!(out, "<h3>Not ruled out</h3>\n<ul>")?;
        for alt in &f.alternatives {
            writeln!(out, "<li>{}</li>", escape(alt))?;
        }
        writeln!(out, "</ul>")?;
    }
    write_evidence_table(out, f, passes)?;
    writeln!(
        out,
        "<h3>Wireshark filter</h3>\n<p><code>{}</code></p>",
        escape(&f.wireshark_filter)
    )?;
    writeln!(out, "<h3>Remediation</h3>\n<ul>")?;
    for step in &f.remediation {
        writeln!(out, "<li>{}</li>", escape(step))?;
    }
    writeln!(out, "</ul>\n</section>")
}

fn write_evidence_table(out: &mut impl Write, f: &Finding, passes: &EvidenceRun) -> io::Result<()> {
    let in_file = passes
        .section
        .as_ref()
        .and_then(|s| s.findings.iter().find(|m| m.id == f.id));
    writeln!(out, "<h3>Evidence</h3>")?;
    if let Some(file) = &f.file {
        writeln!(out, "<p>Frames of <code>{}</code>.</p>", escape(file))?;
    }
    writeln!(out, "<table class=\"evidence\"><tr><th>frame</th>")?;
    if in_file.is_some() {
        writeln!(out, "<th>in evidence file</th>")?;
    }
    writeln!(
        out,
        "<th>time</th><th>from the call&#39;s first packet (frame {})</th>\
         <th>from &rarr; to</th><th>what it shows</th></tr>",
        f.time.start_frame
    )?;
    let routes = passes.routes_of(&f.id);
    for (i, e) in f.evidence.iter().enumerate() {
        write!(out, "<tr><td class=\"num\">{}</td>", e.frame)?;
        if let Some(m) = in_file {
            match m.frames.get(i).copied().flatten() {
                Some(n) => write!(out, "<td class=\"num\">{n}</td>")?,
                None => write!(out, "<td>-</td>")?,
            }
        }
        let route = match routes.get(i).copied().flatten() {
            Some(r) => format!("{} \u{2192} {}", r.src, r.dst),
            None => "-".into(),
        };
        writeln!(
            out,
            "<td class=\"mono nowrap\">{}</td><td class=\"num\">{}</td><td class=\"mono nowrap\">{}</td>\
             <td>{}</td></tr>",
            escape(&rfc3339(e.ts_ns)),
            escape(&super::groups::offset(e.call_offset_ns)),
            escape(&route),
            escape(&e.note)
        )?;
    }
    writeln!(out, "</table>")
}

/// A link to the finding's group, when it has one.
fn group_badge(f: &Finding) -> String {
    if f.group.is_empty() {
        return String::new();
    }
    format!(
        "<a class=\"badge\" href=\"#{id}\">group {id}</a>",
        id = escape(&f.group)
    )
}

fn severity(s: Severity) -> &'static str {
    s.as_str()
}

/// `client -> server (tcp) · names`.
fn call(f: &Finding) -> String {
    let transport = match f.transport {
        crate::diagnose::Transport::Tcp => "tcp",
        crate::diagnose::Transport::Udp => "udp",
    };
    let mut s = format!("{} \u{2192} {} ({transport})", f.client, f.server);
    let names = [
        ("SNI", &f.names.sni),
        ("Host", &f.names.http_host),
        ("DNS", &f.names.dns),
    ];
    for (label, value) in names {
        if let Some(v) = value {
            s.push_str(&format!(" \u{b7} {label} {v}"));
        }
    }
    s
}

/// Text made safe for HTML and SVG text and attribute values: markup characters become
/// entities, control characters (other than tab and newline) become visible escapes (`\x1b`), as in the
/// text report.
pub fn escape(text: &str) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'') || is_control(c);
    if !text.contains(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_control(c) => {
                out.push_str(&crate::escape::escape_controls(c.encode_utf8(&mut [0; 4])))
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Shown as the text report shows it (`\x1b`, [`crate::escape`]); tabs and line feeds are
/// layout.
fn is_control(c: char) -> bool {
    crate::escape::is_unsafe(c) && c != '\t' && c != '\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_cannot_inject_markup() {
        assert_eq!(
            escape("<script>alert('x')</script>&\"\u{0}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\\x00"
        );
        assert!(matches!(escape("api.lab.test"), Cow::Borrowed(_)));
    }
}
