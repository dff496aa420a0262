//! What a live capture prints: each finding as it is decided, one summary at the end.

use std::io::{self, Write};

use serde::Serialize;

use crate::diagnose::Finding;
use crate::source::live::CaptureStats;

/// The output format of `faultline live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LiveFormat {
    /// For a person: each finding's block as `faultline analyze` prints it (no colour).
    #[default]
    Text,
    /// One ECS document per line: each finding (`event.kind: alert`), then the session's summary
    /// (`event.kind: metric`), as `faultline analyze --format ndjson` writes them.
    Ndjson,
}

/// The end of a live session: what was captured, analysed and lost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveSummary {
    pub interface: String,
    pub link_type: String,
    pub frames: u64,
    pub malformed_frames: u64,
    pub tcp_connections: u64,
    /// TCP packets not followed because the flow table was full.
    pub tcp_untracked_packets: u64,
    pub calls_total: u64,
    pub calls_failed: u64,
    /// Calls that went through slowly or with real losses.
    pub calls_degraded: u64,
    pub findings: u64,
    /// Capture times of the first and last packet, nanoseconds since the Unix epoch.
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    /// Encrypted TLS connections by decryption state (absent when none turned encrypted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_decryption: Option<crate::analysis::DecryptionCounts>,
    /// libpcap's counters: received by the filter, dropped by the kernel, by the interface.
    pub capture: CaptureStats,
    /// Files written with `--write` (the newest first), and packets written to them.
    pub written_files: Vec<String>,
    pub written_packets: u64,
}

/// Writes one finding and flushes, so it reaches a pipe or a terminal at once.
///
/// The one place live findings are formatted: the NDJSON arm becomes the ECS writer
/// (`report::write_finding_ndjson`) when that is merged.
pub fn emit_finding(format: LiveFormat, out: &mut dyn Write, f: &Finding) -> io::Result<()> {
    match format {
        // The ECS line `analyze --format ndjson` writes for the finding.
        LiveFormat::Ndjson => crate::report::write_finding_ndjson(&mut &mut *out, f)?,
        // The text report's block for one finding (plain: no colour in a stream).
        LiveFormat::Text => crate::report::write_finding_text(&mut &mut *out, f, false)?,
    }
    out.flush()
}

/// Writes the session's summary and flushes.
pub fn emit_summary(format: LiveFormat, out: &mut dyn Write, s: &LiveSummary) -> io::Result<()> {
    match format {
        LiveFormat::Ndjson => {
            crate::escape::write_json(&mut *out, &summary_document(s), false)?;
            writeln!(out)?;
        }
        LiveFormat::Text => {
            writeln!(out, "faultline live: {} ({})", s.interface, s.link_type)?;
            writeln!(
                out,
                "  frames   {} (malformed {})",
                s.frames, s.malformed_frames
            )?;
            writeln!(
                out,
                "  tcp      {} connections, {} packets untracked (flow table full)",
                s.tcp_connections, s.tcp_untracked_packets
            )?;
            writeln!(
                out,
                "  calls    {} total, {} failed, {} degraded, {} findings",
                s.calls_total, s.calls_failed, s.calls_degraded, s.findings
            )?;
            if let Some(counts) = &s.tls_decryption {
                writeln!(
                    out,
                    "  tls      {} encrypted connection(s): {}",
                    counts.total(),
                    counts.describe()
                )?;
            }
            writeln!(
                out,
                "  capture  {} received, {} dropped by the kernel, {} dropped by the interface",
                s.capture.received, s.capture.dropped, s.capture.if_dropped
            )?;
            if !s.written_files.is_empty() {
                writeln!(
                    out,
                    "  written  {} packets to {}",
                    s.written_packets,
                    s.written_files.join(", ")
                )?;
            }
        }
    }
    out.flush()
}

/// The session's summary as an ECS metric document (`event.dataset: faultline.live_summary`):
/// the interface as `observer.ingress.interface.name`, the counts under `faultline.*`.
pub fn summary_document(s: &LiveSummary) -> serde_json::Value {
    let mut capture = serde_json::json!({
        "link_types": [s.link_type],
        "frames": s.frames,
        "malformed_frames": s.malformed_frames,
        "tcp_connections": s.tcp_connections,
        "tcp_untracked_packets": s.tcp_untracked_packets,
        "received": s.capture.received,
        "dropped": s.capture.dropped,
        "if_dropped": s.capture.if_dropped,
    });
    if let Some(counts) = &s.tls_decryption {
        capture["tls_decryption"] = serde_json::json!(counts);
    }
    if !s.written_files.is_empty() {
        capture["written_files"] = serde_json::json!(s.written_files);
        capture["written_packets"] = serde_json::json!(s.written_packets);
    }
    let faultline = serde_json::json!({
        "capture": capture,
        "calls": {
            "total": s.calls_total,
            "failed": s.calls_failed,
            "degraded": s.calls_degraded,
        },
        "findings": {"total": s.findings},
    });
    let metric = crate::report::Metric {
        message: format!(
            "{} frames, {} calls, {} failed, {} degraded, {} findings",
            s.frames, s.calls_total, s.calls_failed, s.calls_degraded, s.findings
        ),
        dataset: "faultline.live_summary",
        // ECS wants a time on every event: a session that captured nothing is timed now.
        start: Some(crate::report::rfc3339(s.first_ts_ns.unwrap_or_else(now_ns))),
        end: s.last_ts_ns.map(crate::report::rfc3339),
        interface: (!s.interface.is_empty()).then(|| s.interface.clone()),
    };
    crate::report::metric_document(metric, faultline)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// The warning for drop counters that rose from `before` to `now`, if they did.
pub fn drop_warning(before: CaptureStats, now: CaptureStats) -> Option<String> {
    if now.dropped <= before.dropped && now.if_dropped <= before.if_dropped {
        return None;
    }
    Some(format!(
        "packets lost to the capture: {} dropped by the kernel (+{}), {} by the interface (+{}); \
         findings may be missing or wrong",
        now.dropped,
        now.dropped.saturating_sub(before.dropped),
        now.if_dropped,
        now.if_dropped.saturating_sub(before.if_dropped),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(received: u64, dropped: u64, if_dropped: u64) -> CaptureStats {
        CaptureStats {
            received,
            dropped,
            if_dropped,
        }
    }

    #[test]
    fn a_warning_only_when_a_drop_counter_rises() {
        assert_eq!(drop_warning(stats(10, 0, 0), stats(500, 0, 0)), None);
        assert_eq!(drop_warning(stats(10, 3, 1), stats(500, 3, 1)), None);
        let kernel = drop_warning(stats(10, 3, 0), stats(500, 10, 0)).unwrap();
        assert!(kernel.contains("10 dropped by the kernel (+7)"), "{kernel}");
        let interface = drop_warning(stats(10, 0, 0), stats(500, 0, 2)).unwrap();
        assert!(interface.contains("2 by the interface (+2)"), "{interface}");
    }

    #[test]
    fn the_ndjson_summary_carries_the_drop_counters() {
        let mut decryption = crate::analysis::DecryptionCounts::default();
        decryption.add(crate::app::tls::DecryptionState::Decrypted);
        let summary = LiveSummary {
            capture: stats(42, 1, 2),
            tls_decryption: Some(decryption),
            ..LiveSummary::default()
        };
        let mut out = Vec::new();
        emit_summary(LiveFormat::Ndjson, &mut out, &summary).unwrap();
        let line: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(line["event"]["kind"], "metric");
        assert_eq!(line["ecs"]["version"], crate::report::ECS_VERSION);
        assert_eq!(line["faultline"]["capture"]["received"], 42);
        assert_eq!(line["faultline"]["capture"]["dropped"], 1);
        assert_eq!(line["faultline"]["capture"]["if_dropped"], 2);
        assert_eq!(
            line["faultline"]["capture"]["tls_decryption"]["decrypted"],
            1
        );
        let mut text = Vec::new();
        emit_summary(LiveFormat::Text, &mut text, &summary).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("42 received, 1 dropped by the kernel, 2 dropped by the interface"));
        assert!(
            text.contains("tls      1 encrypted connection(s): 1 decrypted"),
            "{text}"
        );
    }
}
