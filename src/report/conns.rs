//! The connection listing (`faultline conns`): one row per TCP connection. The table escapes
//! control characters in what the capture named ([`crate::escape`]); JSON rows escape them as
//! JSON does.

use std::io::{self, Write};

use serde::Serialize;

use super::TlsSummary;
use super::conns_h2::{self, Http2Summary};
use super::{rfc3339, seconds};
use crate::app::AppFacts;
use crate::app::tls::TrustStore;
use crate::escape::ControlEscaper;
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
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsSummary>,
    /// Damaged application data read anyway on this connection, by reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    anomalies: Vec<super::summary::Anomaly>,
    /// HTTP/2 streams, GOAWAYs and settings, when the connection spoke HTTP/2.
    #[serde(skip_serializing_if = "Option::is_none")]
    http2: Option<Http2Summary<'a>>,
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
        duration_s: seconds(c.last_ts_ns.saturating_sub(c.first_ts_ns)),
        frames: c.frames,
        icmp_errors: &c.icmp_errors,
        tls: None,
        anomalies: Vec::new(),
        http2: None,
    }
}

/// Writes the connection listing as connections arrive: a JSON array (one object a line) or an
/// aligned text table.
pub struct ConnsWriter<W: Write> {
    out: W,
    json: bool,
    several_files: bool,
    rows: u64,
    trust: Option<&'static TrustStore>,
}

const TEXT_HEADER: [&str; 15] = [
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
    "dur_s",
];

impl<W: Write> ConnsWriter<W> {
    /// Starts the listing; `several_files` adds the file name to every JSON row and a heading per
    /// file to the table.
    pub fn new(mut out: W, json: bool, several_files: bool) -> io::Result<Self> {
        if json {
            out.write_all(b"[")?;
        }
        Ok(Self {
            out,
            json,
            several_files,
            rows: 0,
            trust: None,
        })
    }

    /// Checks server certificates against these private CAs too (`--ca-file`).
    pub fn with_trust(mut self, trust: Option<&'static TrustStore>) -> Self {
        self.trust = trust;
        self
    }

    /// Marks the start of the connections of `file`.
    pub fn start_file(&mut self, file: &str) -> io::Result<()> {
        if self.json {
            return Ok(());
        }
        let mut out = ControlEscaper::new(&mut self.out);
        if self.several_files {
            writeln!(out, "== {file}")?;
        }
        let h = TEXT_HEADER;
        writeln!(
            out,
            "{:>6} {:<46} {:<46} {:<6} {:<14} {:>13} {:>13} {:>5} {:>4} {:>4} {:>4} {:>9} {:>8} {:>8} {:>10}",
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            h[5],
            h[6],
            h[7],
            h[8],
            h[9],
            h[10],
            h[11],
            h[12],
            h[13],
            h[14]
        )
    }

    /// Writes one connection of `file`.
    pub fn row(&mut self, file: &str, c: &ConnectionSummary) -> io::Result<()> {
        self.row_with_app(file, c, &AppFacts::default())
    }

    /// Writes one connection of `file` with what its application layer showed (TLS, HTTP/2).
    pub fn row_with_app(
        &mut self,
        file: &str,
        c: &ConnectionSummary,
        app: &AppFacts,
    ) -> io::Result<()> {
        self.rows += 1;
        let tls = app.tls.as_ref().map(|t| TlsSummary::of(t, self.trust));
        if self.json {
            self.out
                .write_all(if self.rows == 1 { b"\n" } else { b",\n" })?;
            let mut row = row(self.several_files.then_some(file), c);
            row.tls = tls;
            row.http2 = app.http2.as_deref().map(Http2Summary::of);
            row.anomalies = app
                .anomalies
                .iter()
                .map(|(reason, count)| super::summary::Anomaly {
                    reason: reason.into(),
                    count,
                })
                .collect();
            return crate::escape::write_json(&mut self.out, &row, false).map_err(io::Error::from);
        }
        let (a, b) = (&c.client_to_server, &c.server_to_client);
        let irtt = c
            .initial_rtt_ns
            .map(|ns| format!("{:.3}", ns as f64 / 1e6))
            .unwrap_or_else(|| "-".into());
        // Names (SNI, certificate subjects) come from the capture: escaped for the terminal.
        let mut out = ControlEscaper::new(&mut self.out);
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
            seconds(c.last_ts_ns.saturating_sub(c.first_ts_ns)),
        )?;
        if let Some(tls) = tls {
            writeln!(out, "{:>6} {}", "", tls.text())?;
        }
        if let Some(h2) = app.http2.as_deref() {
            conns_h2::write_text(&mut out, h2)?;
        }
        for (reason, count) in app.anomalies.iter() {
            writeln!(out, "{:>6} anomaly: {reason}: {count}", "")?;
        }
        Ok(())
    }

    /// Ends the listing and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if self.json {
            self.out.write_all(b"\n]\n")?;
        }
        Ok(self.out)
    }
}
