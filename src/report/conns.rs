//! The connection listing (`faultline conns`): one row per TCP connection.

use std::io::{self, Write};

use serde::Serialize;

use super::{rfc3339, seconds};
use crate::analysis::Analysis;
use crate::flows::Endpoint;
use crate::tcp::{ConnectionSummary, DirectionCounts};

#[derive(Serialize)]
struct Row<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    stream: u64,
    client: Endpoint,
    server: Endpoint,
    conn_state: &'a str,
    history: &'a str,
    client_to_server: &'a DirectionCounts,
    server_to_client: &'a DirectionCounts,
    initial_rtt_s: Option<f64>,
    first_frame: u64,
    last_frame: u64,
    first_ts: String,
    last_ts: String,
    duration_s: f64,
    /// Frames in `tcp.stream eq N` (ICMP errors quoting the connection included).
    frames: u64,
    icmp_errors: &'a [crate::tcp::IcmpNote],
}

fn row<'a>(file: Option<&'a str>, c: &'a ConnectionSummary) -> Row<'a> {
    Row {
        file,
        stream: c.stream,
        client: c.client,
        server: c.server,
        conn_state: c.conn_state,
        history: &c.history,
        client_to_server: &c.client_to_server,
        server_to_client: &c.server_to_client,
        initial_rtt_s: c.initial_rtt_ns.map(seconds),
        first_frame: c.first_frame,
        last_frame: c.last_frame,
        first_ts: rfc3339(c.first_ts_ns),
        last_ts: rfc3339(c.last_ts_ns),
        duration_s: seconds(c.last_ts_ns - c.first_ts_ns),
        frames: c.frames,
        icmp_errors: &c.icmp_errors,
    }
}

/// Writes every connection as one JSON array (with a `file` field when several files were given).
pub fn write_conns_json(out: &mut impl Write, files: &[(&str, &Analysis)]) -> io::Result<()> {
    let several = files.len() > 1;
    let rows: Vec<Row<'_>> = files
        .iter()
        .flat_map(|(name, a)| {
            a.connections
                .iter()
                .map(move |c| row(several.then_some(*name), c))
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &rows)?;
    writeln!(out)
}

/// Writes an aligned table, one connection a line.
pub fn write_conns_text(out: &mut impl Write, files: &[(&str, &Analysis)]) -> io::Result<()> {
    for (name, analysis) in files {
        if files.len() > 1 {
            writeln!(out, "== {name}")?;
        }
        writeln!(
            out,
            "{:>6} {:<46} {:<46} {:<6} {:<14} {:>13} {:>13} {:>5} {:>4} {:>4} {:>4} {:>9} {:>8} {:>8} {:>10}",
            "stream",
            "client",
            "server",
            "state",
            "history",
            "c>s pkts/B",
            "s>c pkts/B",
            "retx",
            "ooo",
            "dack",
            "zwin",
            "irtt_ms",
            "first",
            "last",
            "dur_s"
        )?;
        for c in &analysis.connections {
            let (a, b) = (&c.client_to_server, &c.server_to_client);
            let irtt = c
                .initial_rtt_ns
                .map(|ns| format!("{:.3}", ns as f64 / 1e6))
                .unwrap_or_else(|| "-".into());
            writeln!(
                out,
                "{:>6} {:<46} {:<46} {:<6} {:<14} {:>13} {:>13} {:>5} {:>4} {:>4} {:>4} {:>9} {:>8} {:>8} {:>10.6}",
                c.stream,
                c.client.to_string(),
                c.server.to_string(),
                c.conn_state,
                c.history,
                format!("{}/{}", a.packets, a.payload_bytes),
                format!("{}/{}", b.packets, b.payload_bytes),
                a.retransmissions + b.retransmissions,
                a.out_of_order + b.out_of_order,
                a.duplicate_acks + b.duplicate_acks,
                a.zero_windows + b.zero_windows,
                irtt,
                c.first_frame,
                c.last_frame,
                seconds(c.last_ts_ns - c.first_ts_ns),
            )?;
        }
    }
    Ok(())
}
