//! The run's summary as an ECS document of its own kind, `event.kind: metric` (counts measured
//! over a capture), for `analyze --format ndjson` and `live --format ndjson` alike: the ECS
//! fields every line carries, and faultline's counts under the custom `faultline.*` object.

use serde_json::{Map, Value, json};

use super::ecs::{ECS_VERSION, SEVERITY_INFO, observer};
use super::summary::{AnalyzeReport, FindingTally};

/// What a metric document says besides its counts.
#[derive(Debug, Clone, Default)]
pub struct Metric {
    /// `message`: the counts in a sentence.
    pub message: String,
    /// `event.dataset`: `faultline.summary` (a file's analysis) or `faultline.live_summary`.
    pub dataset: &'static str,
    /// `@timestamp` and `event.start`: the first frame measured (RFC 3339).
    pub start: Option<String>,
    /// `event.end`: the last frame measured (RFC 3339).
    pub end: Option<String>,
    /// `observer.ingress.interface.name`: the interface a live capture read.
    pub interface: Option<String>,
}

/// An ECS `event.kind: metric` document: `metric`'s ECS fields, then `faultline` (an object of
/// faultline's own counts) as the custom `faultline.*` fields. Null members of `faultline` are
/// left out (ECS fields are absent rather than null).
pub fn metric_document(metric: Metric, faultline: Value) -> Value {
    let mut doc = Map::new();
    if let Some(start) = &metric.start {
        doc.insert("@timestamp".into(), json!(start));
    }
    doc.insert("ecs".into(), json!({"version": ECS_VERSION}));
    doc.insert("message".into(), json!(metric.message));
    doc.insert("log".into(), json!({"level": "info"}));
    let mut observer = observer();
    if let Some(interface) = &metric.interface {
        observer["ingress"] = json!({"interface": {"name": interface}});
    }
    doc.insert("observer".into(), observer);
    // No `event.outcome`: ECS advises none for metric events.
    let mut event = json!({
        "kind": "metric",
        "category": ["network"],
        "type": ["info"],
        "severity": SEVERITY_INFO,
        "module": "faultline",
        "dataset": metric.dataset,
    });
    if let Some(start) = metric.start {
        event["start"] = json!(start);
    }
    if let Some(end) = metric.end {
        event["end"] = json!(end);
    }
    doc.insert("event".into(), event);
    let mut faultline = faultline;
    if let Some(fields) = faultline.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    doc.insert("faultline".into(), faultline);
    Value::Object(doc)
}

/// The run's summary as an ECS metric document: counts measured over the capture.
pub fn summary_document(report: &AnalyzeReport<'_>) -> Value {
    let c = &report.capture;
    let tally = report
        .streamed
        .clone()
        .unwrap_or_else(|| FindingTally::of(report.findings.iter().copied()));
    let by_category: Map<String, Value> = tally
        .by_category
        .iter()
        .map(|(category, n)| (category.as_str().to_owned(), json!(n)))
        .collect();
    let mut capture = json!({
        "files": c.files,
        "frames": c.frames,
        "malformed_frames": c.malformed_frames,
        "truncated": c.truncated,
        "link_types": c.link_types,
        "tcp_connections": c.tcp_connections,
    });
    if !c.anomalies.is_empty() {
        capture["anomalies"] = json!(c.anomalies);
    }
    if let Some(counts) = &c.tls_decryption {
        capture["tls_decryption"] = json!(counts);
    }
    if c.tls_secrets_blocks > 0 {
        capture["tls_secrets_blocks"] = json!(c.tls_secrets_blocks);
    }
    if !c.notes.is_empty() {
        capture["notes"] = json!(c.notes);
    }
    let faultline = json!({
        "capture": capture,
        "calls": {
            "total": report.calls.total,
            "failed": report.calls.failed,
            "degraded": report.calls.degraded,
            "unfinished": report.calls.unfinished,
            "not_understood": report.calls.not_understood,
        },
        // No filter, no `filters` object.
        "filters": report.filters.as_ref().map(|f| json!({
            "applied": f.applied,
            "hidden_findings": f.hidden_findings,
        })),
        "findings": {
            "total": tally.total,
            "failed": tally.failed,
            "degraded": tally.degraded,
            "warning": tally.warning,
            "info": tally.info,
            "by_category": by_category,
        },
    });
    let metric = Metric {
        message: format!(
            "{} frames, {} calls, {} failed, {} degraded, {} findings",
            c.frames, report.calls.total, report.calls.failed, report.calls.degraded, tally.total
        ),
        dataset: "faultline.summary",
        start: c.first_ts.clone(),
        end: c.last_ts.clone(),
        interface: None,
    };
    metric_document(metric, faultline)
}
