//! Per-endpoint statistics for the reports: every server endpoint (and HTTP route) with its
//! calls, how they ended, the success rate, the latencies (connect, TLS, time to first byte,
//! total) and the payload bytes, merged over the report's files. JSON lists every row; text
//! (`--stats`) and Markdown show the first [`SHOWN_ROWS`].

use std::borrow::Cow;

use serde::Serialize;

use crate::analysis::{Analysis, EndpointStats, EndpointTable, Latency, OutcomeCounts};
use crate::calls::Route;
use crate::diagnose::Transport;
use crate::flows::Endpoint;
use crate::timefmt::rfc3339;

/// Rows the human formats show; JSON lists all.
pub const SHOWN_ROWS: usize = 20;

/// The endpoint rows of a report: one file's table, or several files' merged.
#[derive(Debug, Clone, Default)]
pub struct EndpointSection<'a> {
    table: Cow<'a, EndpointTable>,
}

impl<'a> EndpointSection<'a> {
    /// The rows of `analyses`, merged by endpoint and route.
    pub fn new(analyses: &'a [Analysis]) -> Self {
        let table = match analyses {
            [one] => Cow::Borrowed(&one.endpoints),
            _ => {
                let mut merged = EndpointTable::default();
                for a in analyses {
                    merged.merge(&a.endpoints);
                }
                Cow::Owned(merged)
            }
        };
        Self { table }
    }

    /// The rows, the most failed calls first, then the most calls, then in endpoint order.
    pub fn rows(&self) -> Vec<&EndpointStats> {
        let mut rows = self.table.rows();
        rows.sort_by(|a, b| {
            (b.counts.failed, b.counts.calls)
                .cmp(&(a.counts.failed, a.counts.calls))
                .then_with(|| a.key.cmp(&b.key))
        });
        rows
    }

    /// Calls to servers past the table's cap, counted without a row.
    pub fn overflow(&self) -> &OutcomeCounts {
        &self.table.overflow
    }

    /// True when no call was counted.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl Serialize for EndpointSection<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.rows().into_iter().map(EndpointRow::of))
    }
}

/// One endpoint row as JSON.
#[derive(Debug, Serialize)]
pub struct EndpointRow<'a> {
    pub server: Endpoint,
    pub transport: Transport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a Route>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    #[serde(flatten)]
    pub counts: &'a OutcomeCounts,
    /// Percent of judged calls that did not fail, to 0.1; absent when none was judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// The first and last call's start.
    pub first: String,
    pub last: String,
    /// Each latency measured at least once, in milliseconds.
    pub latency: LatencySection,
    pub bytes_to_server: u64,
    pub bytes_to_client: u64,
}

impl<'a> EndpointRow<'a> {
    fn of(row: &'a EndpointStats) -> Self {
        let l = &row.latency;
        Self {
            server: row.key.server,
            transport: row.key.transport,
            route: row.key.route.as_ref(),
            name: row.name.as_deref(),
            counts: &row.counts,
            success_rate: row.counts.success_rate().map(|r| (r * 10.0).round() / 10.0),
            first: rfc3339(row.first_ns),
            last: rfc3339(row.last_ns),
            latency: LatencySection {
                connect: LatencyMs::of(&l.connect),
                tls: LatencyMs::of(&l.tls),
                ttfb: LatencyMs::of(&l.ttfb),
                total: LatencyMs::of(&l.total),
            },
            bytes_to_server: row.bytes_to_server,
            bytes_to_client: row.bytes_to_client,
        }
    }
}

/// The four latencies of a row; one never measured is absent.
#[derive(Debug, Serialize)]
pub struct LatencySection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<LatencyMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<LatencyMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfb: Option<LatencyMs>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<LatencyMs>,
}

/// A latency's percentiles in milliseconds (to the microsecond) over `n` calls.
#[derive(Debug, Serialize)]
pub struct LatencyMs {
    pub n: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencyMs {
    fn of(latency: &Latency) -> Option<Self> {
        let s = latency.summary()?;
        Some(Self {
            n: s.n,
            p50_ms: ms(s.p50_ns),
            p90_ms: ms(s.p90_ns),
            p99_ms: ms(s.p99_ns),
            max_ms: ms(s.max_ns),
        })
    }
}

/// Nanoseconds as milliseconds to the microsecond.
fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

/// What a person reads in a table: the endpoint, its route, counts and latencies as strings.
pub(super) struct HumanRow {
    pub endpoint: String,
    pub route: String,
    pub calls: String,
    pub failed: String,
    pub degraded: String,
    pub success: String,
    /// connect, TLS, TTFB, total: `p50/p90/p99/max (n)` in ms, `-` when not measured.
    pub latencies: [String; 4],
    /// `to server / to client`.
    pub bytes: String,
}

/// The header of the human tables, matching [`HumanRow`].
pub(super) const HEADER: [&str; 11] = [
    "endpoint",
    "route",
    "calls",
    "failed",
    "degraded",
    "success",
    "connect ms",
    "TLS ms",
    "TTFB ms",
    "total ms",
    "bytes up / down",
];

impl HumanRow {
    /// The row as strings (text from the capture not yet escaped: each format escapes it).
    pub(super) fn of(row: &EndpointStats) -> Self {
        let transport = match row.key.transport {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        };
        let mut endpoint = format!("{} {transport}", row.key.server);
        if let Some(name) = &row.name {
            endpoint.push_str(&format!(" ({name})"));
        }
        let c = &row.counts;
        let l = &row.latency;
        Self {
            endpoint,
            route: row
                .key
                .route
                .as_ref()
                .map_or(String::new(), Route::to_string),
            calls: c.calls.to_string(),
            failed: c.failed.to_string(),
            degraded: c.degraded.to_string(),
            success: c.success_rate().map_or("-".into(), |r| format!("{r:.1}%")),
            latencies: [&l.connect, &l.tls, &l.ttfb, &l.total].map(latency_cell),
            bytes: format!(
                "{} / {}",
                human_bytes(row.bytes_to_server),
                human_bytes(row.bytes_to_client)
            ),
        }
    }

    /// The cells in [`HEADER`] order.
    pub(super) fn cells(self) -> Vec<String> {
        let [connect, tls, ttfb, total] = self.latencies;
        vec![
            self.endpoint,
            self.route,
            self.calls,
            self.failed,
            self.degraded,
            self.success,
            connect,
            tls,
            ttfb,
            total,
            self.bytes,
        ]
    }
}

/// `0.05/0.06/0.09/0.10 (3)`: the percentiles in ms and how many calls they are over; one
/// value when they are all the same (a single call: `40.7 (1)`).
fn latency_cell(latency: &Latency) -> String {
    match latency.summary() {
        Some(s) if s.p50_ns == s.max_ns => format!("{} ({})", short_ms(s.max_ns), s.n),
        Some(s) => format!(
            "{}/{}/{}/{} ({})",
            short_ms(s.p50_ns),
            short_ms(s.p90_ns),
            short_ms(s.p99_ns),
            short_ms(s.max_ns),
            s.n
        ),
        None => "-".into(),
    }
}

/// Milliseconds with about three significant digits: `0.042`, `3.21`, `45.6`, `1234`.
fn short_ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// `812 B`, `3.4 KiB`, `12.0 MiB`.
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The line under a table cut at [`SHOWN_ROWS`], and the one for calls past the table's cap.
pub(super) fn footnotes(section: &EndpointSection<'_>, shown: usize, total: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if total > shown {
        notes.push(format!(
            "{} more endpoint(s): --format json lists all",
            total - shown
        ));
    }
    let overflow = section.overflow();
    if overflow.calls > 0 {
        notes.push(format!(
            "{} call(s) ({} failed) to servers past the table's {} rows, counted without a row",
            overflow.calls,
            overflow.failed,
            crate::analysis::MAX_ENDPOINTS
        ));
    }
    notes
}

/// The percentiles' meaning, said once under each human table.
pub(super) const LEGEND: &str = "Latencies in ms as p50/p90/p99/max (n: the calls measured, \
    those whose packets show both ends; one value when all four are equal); connect (SYN to \
    SYN-ACK) and TLS (ClientHello to the handshake's end) once per connection; TTFB: request's \
    first byte to response's first byte; total: to the response's last byte (a connection: SYN \
    to FIN/RST; DNS: query to answer). Bytes up / down: HTTP bodies, or a connection's TCP \
    payload.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_read_well() {
        assert_eq!(short_ms(42_000), "0.042");
        assert_eq!(short_ms(3_210_000), "3.21");
        assert_eq!(short_ms(1_234_000_000), "1234");
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(3 * 1024 + 400), "3.4 KiB");
        assert_eq!(ms(40_300), 0.04);
    }
}
