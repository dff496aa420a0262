//! What the server said about a failed HTTP call (`server_said`), as the lines the text,
//! Markdown and HTML reports show: who answered, its error fields, what they mean, its rate
//! limit. The values are redacted and clipped by the parser already.

use crate::diagnose::{Finding, SaidReport};

/// One line per fact the finding's `server_said` holds (none without it).
pub fn said_lines(f: &Finding) -> Vec<String> {
    let Some(s) = f.server_said.as_deref() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    lines.push(answered(s));
    if let Some(page) = &s.default_page {
        lines.push(format!("page: {page}'s default error page"));
    }
    for (name, value) in [
        ("code", &s.code),
        ("title", &s.title),
        ("message", &s.message),
        ("instance", &s.instance),
    ] {
        if let Some(v) = value {
            lines.push(format!("{name}: {v}"));
        }
    }
    lines.extend(s.fields.iter().cloned());
    if let Some(n) = s.graphql_error_count {
        let shown: Vec<String> = s
            .graphql_errors
            .iter()
            .map(|e| {
                let mut t = e.message.clone().unwrap_or_default();
                if let Some(c) = &e.code {
                    t.push_str(&format!(" [{c}]"));
                }
                if let Some(p) = &e.path {
                    t.push_str(&format!(" at {p}"));
                }
                t
            })
            .collect();
        lines.push(format!("GraphQL errors ({n}): {}", shown.join("; ")));
    }
    if let Some(m) = s.meaning {
        match &s.meaning_because {
            Some(b) => lines.push(format!("meaning: {m} ({b})")),
            None => lines.push(format!("meaning: {m}")),
        }
    }
    if let Some(r) = &s.rate_limit {
        let parts: Vec<String> = [
            ("limit", r.limit),
            ("remaining", r.remaining),
            ("window s", r.window_secs),
            ("resets in s", r.reset_secs),
            ("retry after s", r.retry_after_secs),
        ]
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
        .collect();
        lines.push(format!("rate limit: {}", parts.join(", ")));
    }
    if let Some(i) = &s.incomplete {
        lines.push(format!("body: {i}"));
    }
    lines
}

fn answered(s: &SaidReport) -> String {
    let role = match s.answered_by {
        "gateway" => "a gateway",
        "maybe_gateway" => "a web server that may be a reverse proxy",
        _ => "the application (nothing says a proxy answered)",
    };
    let mut line = format!("answered by: {role}");
    if let Some(p) = s.product {
        line.push_str(&format!(" ({p})"));
    }
    if !s.answered_because.is_empty() {
        line.push_str(&format!(": {}", s.answered_because.join(", ")));
    }
    line
}
