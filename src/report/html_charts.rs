//! The per-endpoint charts of the HTML report, inline SVG drawn on the server side (no script):
//!
//! - a timeline of calls over the capture, one row per endpoint (and HTTP route): each of the
//!   row's time buckets is a column of its calls stacked by how they ended, failed calls
//!   coloured by their finding's category ([`category_colour`]), degraded ones in
//!   [`DEGRADED_COLOUR`], calls that went through in the neutral [`OK_COLOUR`]; a legend names
//!   the colours and each column's `<title>` gives its counts;
//! - a latency distribution per endpoint: for connect, TLS, time to first byte and the whole
//!   call, bars over the 1-2-5 buckets (a logarithmic axis) with p50, p99 and the maximum.
//!
//! Endpoint labels come from the capture (names, routes) and go through [`escape`].

use std::io::{self, Write};

use super::html::escape;
use super::stats::EndpointSection;
use crate::analysis::{EndpointStats, Latency, TimeBucket};
use crate::diagnose::{Category, Transport};
use crate::timefmt::{human_duration, rfc3339};

/// Calls that went through: neutral.
pub const OK_COLOUR: &str = "#afb8c1";
/// Calls that went through degraded.
pub const DEGRADED_COLOUR: &str = "#e6ab02";
/// Calls unfinished, not understood, or through with a warning.
pub const OTHER_COLOUR: &str = "#8a7a66";
/// The latency bars.
pub const LATENCY_COLOUR: &str = "#4c6fa8";

/// The colour of failed calls of `category` in the timeline (and its legend).
pub fn category_colour(category: Category) -> &'static str {
    match category {
        Category::Network => "#e66100",
        Category::Firewall => "#a50f15",
        Category::Tls => "#7b3294",
        Category::Dns => "#0a7ea4",
        Category::Server => "#d6337a",
        Category::Client => "#1b9e77",
    }
}

/// Endpoint rows drawn; the rest are counted under the charts.
pub const MAX_ROWS: usize = 40;

const WIDTH: i64 = 1200;
const LABEL_W: i64 = 300;
const PLOT_X: i64 = LABEL_W + 10;
const PLOT_W: i64 = WIDTH - PLOT_X - 20;
const ROW_H: i64 = 32;
const BAR_H: i64 = 26;
const AXIS_H: i64 = 34;
/// The thinnest column and the lowest segment drawn, in pixels, so one call stays visible.
const MIN_PX: i64 = 2;

/// `198.18.1.2:443 tcp (api.example)`: the server a row's calls went to (unescaped).
fn server_label(row: &EndpointStats) -> String {
    let transport = match row.key.transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    let mut label = format!("{} {transport}", row.key.server);
    if let Some(name) = &row.name {
        label.push_str(&format!(" ({name})"));
    }
    label
}

/// `198.18.1.2:443 tcp (api.example) GET /v1/orders/{id}`: what a row stands for (unescaped).
fn endpoint_label(row: &EndpointStats) -> String {
    let mut label = server_label(row);
    if let Some(route) = &row.key.route {
        label.push_str(&format!(" {route}"));
    }
    label
}

/// Both charts for the endpoint rows (the most failed first, at most [`MAX_ROWS`]) over the
/// capture's time `span` (first and last frame, ns); nothing without rows.
pub(super) fn write_endpoint_charts(
    out: &mut impl Write,
    endpoints: &EndpointSection<'_>,
    span: Option<(i64, i64)>,
) -> io::Result<()> {
    let rows = endpoints.rows();
    let drawn = &rows[..rows.len().min(MAX_ROWS)];
    let Some((first, last)) = span.filter(|_| !drawn.is_empty()) else {
        return Ok(());
    };
    writeln!(
        out,
        "<h2 id=\"timeline\">Calls over time, per endpoint</h2>\n<p class=\"muted\">Each column \
         is the calls that started in one time bucket, stacked by how they ended; hover a \
         column for its counts.</p>"
    )?;
    write_legend(out)?;
    writeln!(out, "<div class=\"chart-box\">")?;
    write_timeline(out, drawn, first, last.max(first))?;
    writeln!(out, "</div>")?;
    if rows.len() > drawn.len() {
        writeln!(
            out,
            "<p class=\"muted\">{} more endpoint(s) with fewer failed calls not drawn.</p>",
            rows.len() - drawn.len()
        )?;
    }
    let overflow = endpoints.overflow();
    if overflow.calls > 0 {
        writeln!(
            out,
            "<p class=\"muted\">{} call(s) to servers past the table&#39;s {} endpoints are \
             counted in the capture summary but not drawn.</p>",
            overflow.calls,
            crate::analysis::MAX_ENDPOINTS
        )?;
    }
    write_latencies(out, drawn)
}

/// What each colour means, as HTML (swatches drawn with CSS).
fn write_legend(out: &mut impl Write) -> io::Result<()> {
    write!(out, "<ul class=\"legend\">")?;
    let mut item = |colour: &str, text: &str| {
        write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{colour}\"></span>{text}</li>"
        )
    };
    item(OK_COLOUR, "ok")?;
    item(DEGRADED_COLOUR, "degraded")?;
    for c in Category::ALL {
        item(category_colour(c), &format!("failed: {}", c.as_str()))?;
    }
    item(OTHER_COLOUR, "unfinished, not understood or warning")?;
    writeln!(out, "</ul>")
}

/// The segments of one column, bottom up: failed by category, degraded, other, ok.
fn segments(b: &TimeBucket) -> Vec<(&'static str, u32, String)> {
    let mut out = Vec::new();
    for (c, &n) in Category::ALL.iter().zip(&b.failed) {
        out.push((
            category_colour(*c),
            n,
            format!("{n} failed ({})", c.as_str()),
        ));
    }
    out.push((
        DEGRADED_COLOUR,
        b.degraded,
        format!("{} degraded", b.degraded),
    ));
    out.push((OTHER_COLOUR, b.other, format!("{} other", b.other)));
    out.push((OK_COLOUR, b.ok, format!("{} ok", b.ok)));
    out.retain(|(_, n, _)| *n > 0);
    out
}

/// Segment heights for counts scaled so `peak` fills [`BAR_H`], each at least [`MIN_PX`], the
/// column never taller than [`BAR_H`] (the tallest segment gives way).
fn heights(counts: &[u32], peak: u64) -> Vec<i64> {
    let peak = peak.max(1) as f64;
    let mut h: Vec<i64> = counts
        .iter()
        .map(|&n| ((f64::from(n) / peak * BAR_H as f64).round() as i64).max(MIN_PX))
        .collect();
    let excess = h.iter().sum::<i64>() - BAR_H;
    if excess > 0
        && let Some(tallest) = h.iter_mut().max()
    {
        *tallest = (*tallest - excess).max(MIN_PX);
    }
    h
}

fn write_timeline(
    out: &mut impl Write,
    rows: &[&EndpointStats],
    first: i64,
    last: i64,
) -> io::Result<()> {
    // At least 100 ms across, so a capture of one instant still has an axis.
    let duration = (last - first).max(100_000_000);
    let x_of = |t: i64| PLOT_X + ((t - first) as f64 / duration as f64 * PLOT_W as f64) as i64;
    let height = rows.len() as i64 * ROW_H + AXIS_H + 6;
    writeln!(
        out,
        "<svg class=\"timeline\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" shape-rendering=\"crispEdges\" \
         role=\"img\"><title>Calls over time per endpoint, {} to {}</title>",
        escape(&rfc3339(first)),
        escape(&rfc3339(last))
    )?;
    for (i, row) in rows.iter().enumerate() {
        let top = i as i64 * ROW_H + 4;
        // Two lines: the route (when HTTP) over the server; one line otherwise.
        let server = server_label(row);
        let y = top + BAR_H / 2 + 4;
        let text = match &row.key.route {
            Some(route) => format!(
                "<text class=\"label\" x=\"{x}\" y=\"{}\" text-anchor=\"end\">{}</text>\
                 <text class=\"label server\" x=\"{x}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                y - 6,
                escape(&shorten(&route.to_string(), 44)),
                y + 6,
                escape(&shorten(&server, 48)),
                x = PLOT_X - 8,
            ),
            None => format!(
                "<text class=\"label\" x=\"{}\" y=\"{y}\" text-anchor=\"end\">{}</text>",
                PLOT_X - 8,
                escape(&shorten(&server, 44)),
            ),
        };
        let c = &row.counts;
        writeln!(
            out,
            "<g class=\"row\"><title>{} — {} call(s): {} failed, {} degraded</title>\
             <rect class=\"band\" x=\"{PLOT_X}\" y=\"{top}\" width=\"{PLOT_W}\" \
             height=\"{BAR_H}\"/>{text}</g>",
            escape(&endpoint_label(row)),
            c.calls,
            c.failed,
            c.degraded,
        )?;
        let t = &row.timeline;
        let peak = t.buckets.iter().map(TimeBucket::calls).max().unwrap_or(0);
        for (j, b) in t.buckets.iter().enumerate() {
            let segs = segments(b);
            if segs.is_empty() {
                continue;
            }
            let start = t
                .start_ns
                .saturating_add(t.bucket_ns.saturating_mul(j as i64));
            let end = start.saturating_add(t.bucket_ns);
            let x0 = x_of(start.max(first)).clamp(PLOT_X, PLOT_X + PLOT_W - MIN_PX);
            let x1 = x_of(end.min(last)).clamp(x0 + MIN_PX, PLOT_X + PLOT_W);
            let counts: Vec<u32> = segs.iter().map(|s| s.1).collect();
            let what: Vec<&str> = segs.iter().map(|s| s.2.as_str()).collect();
            write!(
                out,
                "<g class=\"bucket\"><title>{} (+{}), {}: {}</title>",
                escape(&rfc3339(start)),
                escape(&human_duration(start - first)),
                escape(&human_duration(t.bucket_ns)),
                escape(&what.join(", "))
            )?;
            let mut y = top + BAR_H;
            for ((colour, _, _), h) in segs.iter().zip(heights(&counts, peak)) {
                y -= h;
                write!(
                    out,
                    "<rect x=\"{x0}\" y=\"{y}\" width=\"{}\" height=\"{h}\" fill=\"{colour}\"/>",
                    x1 - x0
                )?;
            }
            writeln!(out, "</g>")?;
        }
    }
    write_axis(out, rows.len() as i64 * ROW_H + 4, first, duration)?;
    writeln!(out, "</svg>")
}

/// The time axis under the rows: five ticks, offsets into the capture, the start's clock time.
fn write_axis(out: &mut impl Write, y: i64, first: i64, duration: i64) -> io::Result<()> {
    writeln!(
        out,
        "<line class=\"axis\" x1=\"{PLOT_X}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
        PLOT_X + PLOT_W
    )?;
    for k in 0..=4 {
        let x = PLOT_X + PLOT_W * k / 4;
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let at = match k {
            0 => "0".to_string(),
            _ => human_duration(duration * k / 4),
        };
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{x}\" y1=\"{y}\" x2=\"{x}\" y2=\"{}\"/>\
             <text class=\"tick\" x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\">+{}</text>",
            y + 5,
            y + 17,
            escape(&at)
        )?;
    }
    writeln!(
        out,
        "<text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">from {}</text>",
        PLOT_X - 8,
        y + 17,
        escape(&rfc3339(first))
    )
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// One table row per endpoint, one small bar chart per latency measured.
fn write_latencies(out: &mut impl Write, rows: &[&EndpointStats]) -> io::Result<()> {
    let measured = |r: &&&EndpointStats| r.latency.named().iter().any(|(_, l)| l.count() > 0);
    if !rows.iter().any(|r| measured(&r)) {
        return writeln!(
            out,
            "<h2 id=\"latency\">Latency per endpoint</h2>\n<p>No latency measured: no call \
             showed both ends of a connect, TLS handshake or exchange.</p>"
        );
    }
    writeln!(
        out,
        "<h2 id=\"latency\">Latency per endpoint</h2>\n<p class=\"muted\">Calls per latency \
         bucket (1-2-5 steps, a logarithmic axis); connect and TLS once per connection.</p>\n\
         <div class=\"table-box\"><table class=\"latency\"><tr><th>endpoint</th>\
         <th>connect</th><th>TLS</th><th>time to first byte</th><th>total</th></tr>"
    )?;
    for row in rows.iter().filter(measured) {
        write!(
            out,
            "<tr><td class=\"mono\">{}</td>",
            escape(&endpoint_label(row))
        )?;
        for (_, latency) in row.latency.named() {
            write!(out, "<td>")?;
            write_distribution(out, latency)?;
            write!(out, "</td>")?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</table></div>")
}

const HIST_W: i64 = 150;
const HIST_H: i64 = 40;

/// One latency's bars and its percentiles, or `-` when it was never measured.
fn write_distribution(out: &mut impl Write, latency: &Latency) -> io::Result<()> {
    let Some(s) = latency.summary() else {
        return write!(out, "<span class=\"muted\">-</span>");
    };
    let bars = latency.distribution();
    let peak = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let n = bars.len().max(1) as i64;
    let bar_w = (HIST_W / n).max(MIN_PX);
    let width = bar_w * n;
    write!(
        out,
        "<svg class=\"hist\" width=\"{width}\" \
         height=\"{}\" viewBox=\"0 0 {width} {}\" shape-rendering=\"crispEdges\" role=\"img\">",
        HIST_H + 14,
        HIST_H + 14
    )?;
    let lower = |i: usize| match i {
        0 => lower_of(bars[0].0),
        _ => bars[i - 1].0,
    };
    for (i, &(upper, count)) in bars.iter().enumerate() {
        let h = match count {
            0 => 0,
            c => ((c as f64 / peak as f64 * HIST_H as f64).round() as i64).max(MIN_PX),
        };
        let x = i as i64 * bar_w;
        write!(
            out,
            "<g><title>{} to {}: {count} call(s)</title><rect class=\"slot\" x=\"{x}\" y=\"0\" \
             width=\"{bar_w}\" height=\"{HIST_H}\"/><rect x=\"{x}\" y=\"{}\" width=\"{}\" \
             height=\"{h}\" fill=\"{LATENCY_COLOUR}\"/></g>",
            escape(&human_duration(lower(i) as i64)),
            escape(&human_duration(upper as i64)),
            HIST_H - h,
            (bar_w - 1).max(1),
        )?;
    }
    let (lo, hi) = (
        bars.first().map_or(0, |b| lower_of(b.0)),
        bars.last().map_or(0, |b| b.0),
    );
    write!(
        out,
        "<text class=\"tick\" x=\"0\" y=\"{y}\">{}</text><text class=\"tick\" x=\"{width}\" \
         y=\"{y}\" text-anchor=\"end\">{}</text></svg>",
        escape(&human_duration(lo as i64)),
        escape(&human_duration(hi as i64)),
        y = HIST_H + 12
    )?;
    write!(
        out,
        "<div class=\"pct\">p50 {} · p99 {} · max {} ({} call{})</div>",
        escape(&human_duration(s.p50_ns as i64)),
        escape(&human_duration(s.p99_ns as i64)),
        escape(&human_duration(s.max_ns as i64)),
        s.n,
        if s.n == 1 { "" } else { "s" }
    )
}

/// The lower bound of the first bucket: the 1-2-5 step below `upper`.
fn lower_of(upper: u64) -> u64 {
    let mut decade = 1;
    while decade * 10 <= upper {
        decade *= 10;
    }
    match upper / decade {
        1 => decade / 2,
        2 => decade,
        _ => decade * 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_call_stays_visible_and_a_full_column_fits() {
        assert_eq!(heights(&[1], 1000), vec![MIN_PX]);
        let h = heights(&[1, 1, 1, 100], 103);
        assert_eq!(h.iter().sum::<i64>(), BAR_H);
        assert!(h.iter().all(|&x| x >= MIN_PX));
    }

    #[test]
    fn lower_bounds_step_one_two_five() {
        assert_eq!(lower_of(1_000), 500);
        assert_eq!(lower_of(2_000), 1_000);
        assert_eq!(lower_of(5_000_000), 2_000_000);
    }

    #[test]
    fn each_category_has_its_own_colour() {
        let mut colours: Vec<&str> = Category::ALL.iter().map(|c| category_colour(*c)).collect();
        colours.extend([OK_COLOUR, DEGRADED_COLOUR, OTHER_COLOUR]);
        let n = colours.len();
        colours.sort();
        colours.dedup();
        assert_eq!(colours.len(), n);
    }
}
