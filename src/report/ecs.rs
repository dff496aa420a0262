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
use crate::app::tls::{cipher_name, version_name};
use crate::diagnose::{Category, Finding, Severity, Transport};

/// The ECS version the documents follow (`ecs.version`).
pub const ECS_VERSION: &str = "8.17.0";

/// Syslog severities (RFC 5424) used for `event.severity`: a failed call is an error, a
/// degraded call or a warning a warning, an info finding and the summary informational.
const SEVERITY_ERROR: u8 = 3;
const SEVERITY_WARNING: u8 = 4;
pub(super) const SEVERITY_INFO: u8 = 6;

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
    if !f.evidence.is_empty() {
        // The call from its own first packet to its last evidence (ECS: nanoseconds).
        let t = &f.time;
        event.insert("start".into(), json!(rfc3339(t.start_ns)));
        event.insert("end".into(), json!(rfc3339(t.end_ns)));
        event.insert(
            "duration".into(),
            json!(t.end_ns.saturating_sub(t.start_ns).max(0)),
        );
    }
    doc.insert("event".into(), Value::Object(event));
    doc.insert(
        "rule".into(),
        json!({"name": f.code, "category": f.category.as_str()}),
    );

    // The client opened the call: it is the source of the flow.
    let mut destination = json!({"ip": f.server.ip.to_string(), "port": f.server.port});
    if let Some(name) = server_name(f) {
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
    if let Some(url) = url(f) {
        doc.insert("url".into(), url);
    }
    if let Some(error) = server_error(f) {
        doc.insert("error".into(), error);
    }
    if let Some(dns) = dns(f) {
        doc.insert("dns".into(), dns);
    }
    doc.insert("faultline".into(), faultline_fields(f));
    Value::Object(doc)
}

/// `observer.*`: the program that observed the traffic.
pub(super) fn observer() -> Value {
    json!({"product": "faultline", "version": env!("CARGO_PKG_VERSION")})
}

/// The application protocol the finding saw on the wire, where the finding says so: a
/// ClientHello's SNI or a TLS cause is `tls`, a Host header `http` (plain: faultline does not
/// decrypt), a DNS cause `dns`. Nothing is guessed from port numbers.
fn app_protocol(f: &Finding) -> Option<&'static str> {
    if is_lookup(f) {
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

/// `http.*`: the failed request's method, the response's status, the HTTP version.
fn http(f: &Finding) -> Option<Value> {
    let mut http = Map::new();
    if let Some(method) = &f.wire.http_method {
        http.insert("request".into(), json!({"method": method}));
    }
    if let Some(status) = f.wire.http_status {
        http.insert("response".into(), json!({"status_code": status}));
    }
    if let Some(version) = f.wire.http_version {
        http.insert("version".into(), json!(version));
    }
    (!http.is_empty()).then_some(Value::Object(http))
}

/// `faultline.rpc.*`: a gRPC call's service, method and status code (named as OpenTelemetry's
/// RPC conventions name them; ECS has no RPC fields, so they are faultline's own).
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

/// Whether the finding is about a DNS lookup: its name is the question's, and its server the
/// resolver.
fn is_lookup(f: &Finding) -> bool {
    f.wire.dns_qtype.is_some() || f.category == Category::Dns
}

/// The server's own name, for `destination.domain`: the name a DNS answer in the capture gave
/// its address, else the SNI, else the Host header's name (IP literals are no names). A lookup's
/// server is the resolver, whose name the finding does not know.
fn server_name(f: &Finding) -> Option<&str> {
    if is_lookup(f) {
        return None;
    }
    let host = f
        .names
        .http_host
        .as_deref()
        .and_then(split_host)
        .map(|(h, _)| h);
    [f.names.dns.as_deref(), f.names.sni.as_deref(), host]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty() && name.parse::<IpAddr>().is_err())
}

/// `url.*`: the Host header's name and port, and the request target's path and query (redacted
/// again here: no secret reaches a line, whatever kept the target).
fn url(f: &Finding) -> Option<Value> {
    let mut url = Map::new();
    if let Some((domain, port)) = f.names.http_host.as_deref().and_then(split_host) {
        url.insert("domain".into(), json!(domain));
        if let Some(port) = port {
            url.insert("port".into(), json!(port));
        }
    }
    if let Some(target) = f.wire.http_path.as_deref() {
        let (path, query) = split_target(target);
        if let Some(path) = path {
            url.insert("path".into(), json!(crate::redact::redact_target(path)));
        }
        if let Some(query) = query {
            let redacted = crate::redact::redact_target(&format!("?{query}"));
            url.insert("query".into(), json!(redacted.trim_start_matches('?')));
        }
    }
    (!url.is_empty()).then_some(Value::Object(url))
}

/// The path and query of a request target: origin form (`/a?b`), or absolute form
/// (`http://host/a?b`, a proxy's request). The authority form of CONNECT and the asterisk form
/// of OPTIONS have no path. A query is present when a `?` is, even empty.
fn split_target(target: &str) -> (Option<&str>, Option<&str>) {
    let rest = match target.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && !scheme.contains('/') => {
            match rest.find(['/', '?']) {
                Some(at) => &rest[at..],
                None => return (Some("/"), None),
            }
        }
        _ if target.starts_with('/') => target,
        _ => return (None, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let path = match path {
        "" => "/",
        path => path,
    };
    (Some(path), query)
}

/// `dns.*` of a failed lookup: the name and record type asked, and the RCODE the cause stands
/// for.
fn dns(f: &Finding) -> Option<Value> {
    if !is_lookup(f) {
        return None;
    }
    let name = f.names.dns.as_ref()?;
    let mut question = json!({"name": name});
    if let Some(qtype) = f.wire.dns_qtype {
        question["type"] = json!(crate::app::dns::type_name(qtype));
    }
    let mut dns = json!({"question": question});
    if let Some(rcode) = dns_response_code(&f.code) {
        dns["response_code"] = json!(rcode);
    }
    Some(dns)
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
        .map(|e| {
            json!({"frame": e.frame, "ts": rfc3339(e.ts_ns), "note": e.note,
                   "call_offset_s": e.call_offset_ns as f64 / 1e9})
        })
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
    if let Some(rpc) = rpc(f) {
        fields["rpc"] = rpc;
    }
    if let Some(group) = &f.aggregate {
        fields["aggregate"] = json!(group);
    }
    if !f.group.is_empty() {
        fields["group"] = json!(f.group);
    }
    if let Some(route) = &f.route {
        fields["route"] = json!(route);
    }
    if let Some(file) = &f.file {
        fields["file"] = json!(file);
    }
    fields["time"] = json!(f.time);
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

    #[test]
    fn request_targets_split_into_path_and_query() {
        assert_eq!(
            split_target("/v1/orders?id=7"),
            (Some("/v1/orders"), Some("id=7"))
        );
        assert_eq!(split_target("/v1/orders"), (Some("/v1/orders"), None));
        assert_eq!(split_target("/?"), (Some("/"), Some("")));
        assert_eq!(
            split_target("http://api.test:8080/a/b?x=1"),
            (Some("/a/b"), Some("x=1"))
        );
        assert_eq!(split_target("http://api.test"), (Some("/"), None));
        assert_eq!(split_target("http://api.test?x"), (Some("/"), Some("x")));
        assert_eq!(split_target("api.test:443"), (None, None));
        assert_eq!(split_target("*"), (None, None));
        assert_eq!(split_target(""), (None, None));
    }
}
