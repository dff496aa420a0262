//! The Elastic Common Schema mapping of a finding and of the run's summary (ECS 8.17, whose
//! fields used here are unchanged in 9.x): what `--format ndjson` prints, one JSON object per
//! line, nested the way ECS documents are (`{"event": {"kind": ...}}`).
//!
//! Only facts the finding carries are set; everything of faultline's own (confidence,
//! alternatives, evidence frames, the Wireshark filter, remediation) lives under `faultline.*`.
//! `docs/ecs-fields.md` lists every field with its ECS type; a test holds the output to it.

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::community_id::{IANA_TCP, IANA_UDP, community_id_v1};
use super::rfc3339;
use super::summary::{AnalyzeReport, FindingTally};
use crate::app::tls::{cipher_name, version_name};
use crate::diagnose::{Category, Finding, Severity, Transport};

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.17.0";

/// Syslog severities (RFC 5424) used for `event.severity`: a failed call is an error, a
/// degraded call or a warning a warning, an info finding and the summary informational.
const SEVERITY_ERROR: u8 = 3;
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_INFO: u8 = 6;

/// One finding as an ECS alert document.
pub fn finding_document(f: &Finding) -> Value {
    let failed = f.severity == Severity::Failed;
    let protocol = app_protocol(f);
    let mut doc = Map::new();
    if let Some(first) = f.evidence.first() {
        doc.insert("@timestamp".into(), json!(rfc3339(first.ts_ns)));
    }
    doc.insert("ecs".into(), json!({"version": ECS_VERSION}));
    doc.insert(
        "message".into(),
        json!(format!("{}: {}", f.code, f.summary)),
    );
    doc.insert(
        "log".into(),
        json!({"level": match f.severity {
            Severity::Failed => "error",
            Severity::Info => "info",
            _ => "warning",
        }}),
    );
    doc.insert("observer".into(), observer());

    let mut event = Map::new();
    event.insert("kind".into(), json!("alert"));
    event.insert("category".into(), json!(event_categories(protocol)));
    event.insert("type".into(), json!(event_types(f, protocol)));
    // A degraded call went through: slow or lossy, not failed.
    event.insert(
        "outcome".into(),
        json!(if failed { "failure" } else { "success" }),
    );
    event.insert("code".into(), json!(f.code));
    event.insert("reason".into(), json!(f.summary));
    event.insert(
        "severity".into(),
        json!(match f.severity {
            Severity::Failed => SEVERITY_ERROR,
            Severity::Info => SEVERITY_INFO,
            _ => SEVERITY_WARNING,
        }),
    );
    event.insert("module".into(), json!("faultline"));
    event.insert("dataset".into(), json!("faultline.finding"));
    if let (Some(first), Some(last)) = (f.evidence.first(), f.evidence.last()) {
        event.insert("start".into(), json!(rfc3339(first.ts_ns)));
        event.insert("end".into(), json!(rfc3339(last.ts_ns)));
    }
    doc.insert("event".into(), Value::Object(event));
    doc.insert(
        "rule".into(),
        json!({"name": f.code, "category": f.category.as_str()}),
    );

    // The client opened the call: it is the source of the flow.
    let mut destination = json!({"ip": f.server.ip.to_string(), "port": f.server.port});
    if let Some(name) = &f.names.dns {
        destination["domain"] = json!(name);
    }
    doc.insert(
        "source".into(),
        json!({"ip": f.client.ip.to_string(), "port": f.client.port}),
    );
    doc.insert("destination".into(), destination);
    doc.insert("related".into(), related(f));
    doc.insert("network".into(), network(f, protocol));

    if let Some(tls) = tls(f) {
        doc.insert("tls".into(), tls);
    }
    if let Some(http) = http(f) {
        doc.insert("http".into(), http);
    }
    if let Some((domain, port)) = f.names.http_host.as_deref().and_then(split_host) {
        let mut url = json!({"domain": domain});
        if let Some(port) = port {
            url["port"] = json!(port);
        }
        if let Some(path) = &f.wire.http_path {
            url["path"] = json!(path);
        }
        doc.insert("url".into(), url);
    }
    if let Some(rpc) = rpc(f) {
        doc.insert("rpc".into(), rpc);
    }
    if let Some(error) = server_error(f) {
        doc.insert("error".into(), error);
    }
    if f.category == Category::Dns
        && let Some(name) = &f.names.dns
    {
        let mut dns = json!({"question": {"name": name}});
        if let Some(rcode) = dns_response_code(&f.code) {
            dns["response_code"] = json!(rcode);
        }
        doc.insert("dns".into(), dns);
    }
    doc.insert("faultline".into(), faultline_fields(f));
    Value::Object(doc)
}

/// The run's summary as an ECS metric document: counts measured over the capture.
pub fn summary_document(report: &AnalyzeReport<'_>) -> Value {
    let c = &report.capture;
    let tally = report
        .streamed
        .clone()
        .unwrap_or_else(|| FindingTally::of(report.findings.iter().copied()));
    let mut doc = Map::new();
    if let Some(first) = &c.first_ts {
        doc.insert("@timestamp".into(), json!(first));
    }
    doc.insert("ecs".into(), json!({"version": ECS_VERSION}));
    doc.insert(
        "message".into(),
        json!(format!(
            "{} frames, {} calls, {} failed, {} degraded, {} findings",
            c.frames, report.calls.total, report.calls.failed, report.calls.degraded, tally.total
        )),
    );
    doc.insert("log".into(), json!({"level": "info"}));
    doc.insert("observer".into(), observer());
    let mut event = json!({
        "kind": "metric",
        "category": ["network"],
        "type": ["info"],
        "severity": SEVERITY_INFO,
        "module": "faultline",
        "dataset": "faultline.summary",
    });
    if let Some(first) = &c.first_ts {
        event["start"] = json!(first);
    }
    if let Some(last) = &c.last_ts {
        event["end"] = json!(last);
    }
    doc.insert("event".into(), event);

    let by_category: Map<String, Value> = tally
        .by_category
        .iter()
        .map(|(category, n)| (category.as_str().to_owned(), json!(n)))
        .collect();
    doc.insert(
        "faultline".into(),
        json!({
            "capture": {
                "files": c.files,
                "frames": c.frames,
                "malformed_frames": c.malformed_frames,
                "truncated": c.truncated,
                "link_types": c.link_types,
                "tcp_connections": c.tcp_connections,
            },
            "calls": {
                "total": report.calls.total,
                "failed": report.calls.failed,
                "degraded": report.calls.degraded,
                "unfinished": report.calls.unfinished,
                "not_understood": report.calls.not_understood,
            },
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
        }),
    );
    if !c.anomalies.is_empty()
        && let Some(capture) = doc
            .get_mut("faultline")
            .and_then(|f| f.get_mut("capture"))
            .and_then(Value::as_object_mut)
    {
        capture.insert("anomalies".into(), json!(c.anomalies));
    }
    if let Some(capture) = doc
        .get_mut("faultline")
        .and_then(|f| f.get_mut("capture"))
        .and_then(Value::as_object_mut)
    {
        if let Some(counts) = &c.tls_decryption {
            capture.insert("tls_decryption".into(), json!(counts));
        }
        if c.tls_secrets_blocks > 0 {
            capture.insert("tls_secrets_blocks".into(), json!(c.tls_secrets_blocks));
        }
        if !c.notes.is_empty() {
            capture.insert("notes".into(), json!(c.notes));
        }
    }
    if let Some(fields) = doc.get_mut("faultline").and_then(Value::as_object_mut) {
        // No filter, no `filters` object (ECS fields are absent rather than null).
        fields.retain(|_, v| !v.is_null());
    }
    Value::Object(doc)
}

fn observer() -> Value {
    json!({"product": "faultline", "version": env!("CARGO_PKG_VERSION")})
}

/// The application protocol the finding saw on the wire, where the finding says so: a
/// ClientHello's SNI or a TLS cause is `tls`, a Host header `http` (plain: faultline does not
/// decrypt), a DNS cause `dns`. Nothing is guessed from port numbers.
fn app_protocol(f: &Finding) -> Option<&'static str> {
    if f.category == Category::Dns {
        Some("dns")
    } else if f.names.sni.is_some() || f.category == Category::Tls {
        Some("tls")
    } else if f.names.http_host.is_some() {
        Some("http")
    } else {
        None
    }
}

/// `network`, and `web` for an HTTP exchange (ECS: web server and proxy activity).
fn event_categories(protocol: Option<&str>) -> Vec<&'static str> {
    let mut categories = vec!["network"];
    if protocol == Some("http") {
        categories.push("web");
    }
    categories
}

/// ECS `event.type` values expected with the `network` category: a firewall's refusal is a
/// `denied` connection, a failure inside TLS/HTTP/DNS a `protocol` event, any other a
/// `connection` event; an HTTP error is also a web `error`.
fn event_types(f: &Finding, protocol: Option<&str>) -> Vec<&'static str> {
    let mut types = Vec::new();
    match f.category {
        Category::Firewall => types.extend(["connection", "denied"]),
        Category::Tls | Category::Dns => types.push("protocol"),
        _ if protocol == Some("http") => types.extend(["protocol", "error"]),
        _ => types.push("connection"),
    }
    types
}

fn network(f: &Finding, protocol: Option<&str>) -> Value {
    let (transport, iana) = match f.transport {
        Transport::Tcp => ("tcp", IANA_TCP),
        Transport::Udp => ("udp", IANA_UDP),
    };
    let mut network = json!({
        "transport": transport,
        "iana_number": iana.to_string(),
        "type": match f.client.ip {
            IpAddr::V4(_) => "ipv4",
            IpAddr::V6(_) => "ipv6",
        },
    });
    if let Some(protocol) = protocol {
        network["protocol"] = json!(protocol);
    }
    if let Some(id) = community_id_v1(
        0,
        iana,
        (f.client.ip, f.client.port),
        (f.server.ip, f.server.port),
    ) {
        network["community_id"] = json!(id);
    }
    network
}

/// Both addresses and every name the call went by (IP literals are not host names), for
/// pivoting.
fn related(f: &Finding) -> Value {
    let mut hosts: Vec<&str> = Vec::new();
    let host_name = f
        .names
        .http_host
        .as_deref()
        .and_then(split_host)
        .map(|(h, _)| h);
    for name in [f.names.dns.as_deref(), f.names.sni.as_deref(), host_name]
        .into_iter()
        .flatten()
    {
        if name.parse::<IpAddr>().is_err() && !hosts.contains(&name) {
            hosts.push(name);
        }
    }
    let mut related = json!({"ip": [f.client.ip.to_string(), f.server.ip.to_string()]});
    if !hosts.is_empty() {
        related["hosts"] = json!(hosts);
    }
    related
}

/// `tls.*`: the SNI the client asked for, the version, cipher suite and ALPN protocol the
/// server chose, whether the handshake completed, and the server's certificate (read in clear,
/// or decrypted from a TLS 1.3 handshake with the key log).
fn tls(f: &Finding) -> Option<Value> {
    let mut tls = Map::new();
    if let Some(sni) = &f.names.sni {
        tls.insert("client".into(), json!({"server_name": sni}));
    }
    // ECS splits `TLS 1.3` into `tls.version_protocol: tls` and `tls.version: 1.3`.
    let version = f.wire.tls_version.map(version_name);
    if let Some((protocol, number)) = version.as_deref().and_then(|v| v.split_once(' '))
        && matches!(protocol, "TLS" | "SSL")
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        tls.insert(
            "version_protocol".into(),
            json!(protocol.to_ascii_lowercase()),
        );
        tls.insert("version".into(), json!(number));
    }
    // Only a suite with an IANA name: an unknown number is no cipher name.
    if let Some(name) = f.wire.tls_cipher.map(cipher_name)
        && !name.starts_with("0x")
    {
        tls.insert("cipher".into(), json!(name));
    }
    if let Some(established) = f.wire.tls_established {
        tls.insert("established".into(), json!(established));
    }
    if let Some(alpn) = &f.wire.tls_alpn {
        tls.insert("next_protocol".into(), json!(alpn));
    }
    let mut server = Map::new();
    if let Some(subject) = &f.wire.tls_server_subject {
        server.insert("subject".into(), json!(subject));
    }
    if let Some(issuer) = &f.wire.tls_server_issuer {
        server.insert("issuer".into(), json!(issuer));
    }
    if let Some(not_after) = f.wire.tls_server_not_after {
        server.insert(
            "not_after".into(),
            json!(rfc3339(not_after.saturating_mul(1_000_000_000))),
        );
    }
    if !server.is_empty() {
        tls.insert("server".into(), Value::Object(server));
    }
    (!tls.is_empty()).then_some(Value::Object(tls))
}

/// `http.*`: the failed request's method and the response's status.
fn http(f: &Finding) -> Option<Value> {
    let mut http = Map::new();
    if let Some(method) = &f.wire.http_method {
        http.insert("request".into(), json!({"method": method}));
    }
    if let Some(status) = f.wire.http_status {
        http.insert("response".into(), json!({"status_code": status}));
    }
    if f.wire.h2_stream.is_some() {
        http.insert("version".into(), json!("2"));
    }
    (!http.is_empty()).then_some(Value::Object(http))
}

/// `rpc.*` (OpenTelemetry's semantic conventions for RPC): a gRPC call's service, method and
/// status code.
fn rpc(f: &Finding) -> Option<Value> {
    let rpc = f.wire.rpc.as_ref()?;
    let mut value = json!({"system": "grpc", "service": rpc.service, "method": rpc.method});
    if let Some(status) = rpc.grpc_status {
        value["grpc"] = json!({"status_code": status});
    }
    Some(value)
}

/// `error.*`: what the server said about a failed HTTP call, in its own words (redacted and
/// clipped already): its error code, its message, and what faultline read into them.
fn server_error(f: &Finding) -> Option<Value> {
    let said = f.server_said.as_deref()?;
    let mut error = serde_json::Map::new();
    if let Some(code) = &said.code {
        error.insert("code".into(), json!(code));
    }
    if let Some(message) = said.message.as_ref().or(said.title.as_ref()) {
        error.insert("message".into(), json!(message));
    }
    if let Some(meaning) = said.meaning {
        error.insert("type".into(), json!(meaning));
    }
    (!error.is_empty()).then_some(Value::Object(error))
}

/// `host[:port]` of a Host header (`[v6]:port` for IPv6), as ECS's `url.domain` and `url.port`.
fn split_host(host: &str) -> Option<(&str, Option<u16>)> {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((ip, port));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => Some((name, port.parse().ok())),
        _ if host.is_empty() => None,
        _ => Some((host, None)),
    }
}

/// The DNS RCODE a DNS cause stands for (RFC 1035 names, as ECS's `dns.response_code`).
fn dns_response_code(code: &str) -> Option<&'static str> {
    match code {
        "dns.nxdomain" => Some("NXDOMAIN"),
        "dns.servfail" => Some("SERVFAIL"),
        "dns.refused" => Some("REFUSED"),
        "dns.no_answer" => Some("NOERROR"),
        _ => None,
    }
}

/// faultline's own fields: the finding as the JSON report has it, less what ECS fields carry.
fn faultline_fields(f: &Finding) -> Value {
    let evidence: Vec<Value> = f
        .evidence
        .iter()
        .map(|e| json!({"frame": e.frame, "ts": rfc3339(e.ts_ns), "note": e.note}))
        .collect();
    let mut fields = json!({
        "finding_id": f.id,
        "code": f.code,
        "category": f.category.as_str(),
        "confidence": f.confidence.to_string(),
        "severity": f.severity.as_str(),
        "explanation": f.explanation,
        "first_frame": f.first_frame,
        "last_frame": f.last_frame,
        "evidence": evidence,
        "wireshark_filter": f.wireshark_filter,
        "remediation": f.remediation,
    });
    if !f.alternatives.is_empty() {
        fields["alternatives"] = json!(f.alternatives);
    }
    if let Some(host) = &f.names.http_host {
        fields["http_host"] = json!(host);
    }
    if let Some(state) = f.wire.tls_decryption {
        fields["tls_decryption"] = json!(state.as_str());
    }
    if let Some(id) = f.wire.h2_stream {
        fields["http2_stream"] = json!(id);
    }
    if let Some(group) = &f.aggregate {
        fields["aggregate"] = json!(group);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_headers_split_into_domain_and_port() {
        assert_eq!(
            split_host("api.lab.test:8080"),
            Some(("api.lab.test", Some(8080)))
        );
        assert_eq!(split_host("api.lab.test"), Some(("api.lab.test", None)));
        assert_eq!(
            split_host("[fd0f:a17::2]:8080"),
            Some(("fd0f:a17::2", Some(8080)))
        );
        assert_eq!(split_host("fd0f:a17::2"), Some(("fd0f:a17::2", None)));
        assert_eq!(split_host(""), None);
        assert_eq!(split_host("[broken"), None);
    }
}
