//! The top and the body of the HTML report, by incident group: the headline (the gravest
//! groups in the words of the text report), the group table (target, calls affected of calls
//! made, clients, first and last time, span, worst call, findings as links), and the details:
//! each group's first `--max-per-group` findings in full, then how many more it holds.
//!
//! Everything from the capture goes through [`escape`].

use std::io::{self, Write};

use super::groups::{HEADLINE_GROUPS, IncidentGroup, offset};
use super::html::{escape, write_finding};
use super::summary::AnalyzeReport;
use crate::evidence::EvidenceRun;
use crate::timefmt::{human_duration, rfc3339};

/// The headline: how many groups, then the gravest [`HEADLINE_GROUPS`], one sentence each.
pub(super) fn write_headline(out: &mut impl Write, report: &AnalyzeReport<'_>) -> io::Result<()> {
    writeln!(
        out,
        "<div class=\"headline\" id=\"headline\">\n<h2>Headline</h2>"
    )?;
    if report.groups.is_empty() {
        return writeln!(
            out,
            "<p class=\"summary\">No failed calls found.</p>\n</div>"
        );
    }
    writeln!(
        out,
        "<p class=\"summary\">{}</p>\n<ol class=\"headline\">",
        escape(&super::text::headline_title(report))
    )?;
    for g in report.groups.iter().take(HEADLINE_GROUPS) {
        let sev = g.severity.as_str();
        writeln!(
            out,
            "<li><a href=\"#{id}\" class=\"badge {sev}\">{id}</a> <code>{}</code>: {}</li>",
            escape(g.code),
            escape(&g.headline()),
            id = escape(&g.id),
        )?;
    }
    writeln!(out, "</ol>")?;
    if report.groups.len() > HEADLINE_GROUPS {
        writeln!(
            out,
            "<p class=\"muted\">&hellip; and {} more group(s) in the table below</p>",
            report.groups.len() - HEADLINE_GROUPS
        )?;
    }
    writeln!(out, "</div>")
}

/// One row per group, gravest first.
pub(super) fn write_group_table(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
) -> io::Result<()> {
    if report.groups.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<h2 id=\"groups\">Incident groups</h2>\n<div class=\"table-box\"><table class=\"groups\">\
         <tr><th>group</th><th>cause</th><th>target</th><th>calls affected</th>\
         <th>first and last (offset into the capture)</th>\
         <th>worst call (first packet to last evidence)</th><th>findings</th></tr>"
    )?;
    for g in &report.groups {
        let t = &g.time;
        writeln!(
            out,
            "<tr class=\"{sev}\"><td><a href=\"#{id}\">{id}</a><br>{sev}</td>\
             <td><code>{code}</code></td><td class=\"mono\">{target}</td>\
             <td class=\"nowrap\">{calls}<br>{clients}</td>\
             <td class=\"nowrap\"><span class=\"mono\">{first} {first_off}</span><br>\
             <span class=\"mono\">{last} {last_off}</span><br>over {span}</td>\
             <td>{worst}</td><td>{findings}</td></tr>",
            sev = g.severity.as_str(),
            id = escape(&g.id),
            code = escape(g.code),
            target = target_cell(g),
            calls = escape(&g.calls()),
            clients = escape(&g.clients.counted("client", "clients")),
            first = escape(&rfc3339(t.first_ns)),
            first_off = escape(&offset(t.first_ns - t.capture_start_ns)),
            last = escape(&rfc3339(t.last_ns)),
            last_off = escape(&offset(t.last_ns - t.capture_start_ns)),
            span = escape(&human_duration(t.span_ns())),
            worst = worst_cell(report, g),
            findings = findings_cell(report, g),
        )?;
    }
    writeln!(out, "</table></div>")
}

/// The server, then the name the calls were made under and the route, each on its own line.
fn target_cell(g: &IncidentGroup<'_>) -> String {
    let mut server = g.server.to_string();
    if g.transport == crate::diagnose::Transport::Udp {
        server.push_str("/udp");
    }
    let mut cell = escape(&server).into_owned();
    if let Some(name) = g.name {
        cell.push_str(&format!("<br>{}", escape(name)));
    }
    if let Some(route) = &g.route {
        cell.push_str(&format!("<br>{}", escape(&route.to_string())));
    }
    cell
}

/// The worst call: its client, finding (a link when shown), frames and how long it took.
fn worst_cell(report: &AnalyzeReport<'_>, g: &IncidentGroup<'_>) -> String {
    let Some(w) = &g.worst else {
        return "-".into();
    };
    format!(
        "<span class=\"mono\">{}</span><br>{}, frames {}..{}<br>{}",
        escape(&w.client.to_string()),
        finding_ref(report, g, w.finding),
        w.first_frame,
        w.last_frame,
        escape(&human_duration(
            w.time.end_ns.saturating_sub(w.time.start_ns)
        ))
    )
}

/// A finding's id: a link to its section when the details show it, plain text otherwise.
fn finding_ref(report: &AnalyzeReport<'_>, g: &IncidentGroup<'_>, id: &str) -> String {
    if report.shown_of(g).iter().any(|f| f.id == id) {
        format!("<a href=\"#{id}\">{id}</a>", id = escape(id))
    } else {
        escape(id).into_owned()
    }
}

/// The group's findings: links to the ones shown, then how many more there are.
fn findings_cell(report: &AnalyzeReport<'_>, g: &IncidentGroup<'_>) -> String {
    let shown = report.shown_of(g);
    let mut links: Vec<String> = shown
        .iter()
        .map(|f| format!("<a href=\"#{id}\">{id}</a>", id = escape(&f.id)))
        .collect();
    let hidden = g.findings.len().saturating_sub(shown.len());
    if hidden > 0 {
        links.push(format!("and {hidden} more not shown"));
    }
    links.join(", ")
}

/// Each group in turn: its headline, its first findings in full, how many more it holds.
pub(super) fn write_details(
    out: &mut impl Write,
    report: &AnalyzeReport<'_>,
    passes: &EvidenceRun,
) -> io::Result<()> {
    if report.groups.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h2 id=\"details\">Details</h2>")?;
    for g in &report.groups {
        let sev = g.severity.as_str();
        writeln!(
            out,
            "<div class=\"group {sev}\" id=\"{id}\">\n<h2>{id} &middot; <code>{}</code></h2>\n\
             <p>{}</p>",
            escape(g.code),
            escape(&g.headline()),
            id = escape(&g.id),
        )?;
        let shown = report.shown_of(g);
        for f in shown {
            write_finding(out, f, passes)?;
        }
        let hidden = g.members.len() - shown.len();
        if hidden > 0 {
            writeln!(
                out,
                "<p class=\"more\">{hidden} more finding(s) in this group not shown \
                 (<code>--max-per-group {}</code> shows them; the group's counts above include \
                 them).</p>",
                g.members.len()
            )?;
        }
        writeln!(out, "</div>")?;
    }
    Ok(())
}
