//! The machine formats against their contracts, on every capture the lab made:
//! `--format json` against `docs/report.schema.json` (JSON Schema 2020-12, checked with the
//! `jsonschema` crate, formats asserted), `--format ndjson` against the ECS field list in
//! `docs/ecs-fields.md` (every field path listed, every value of its ECS type), one NDJSON line
//! per finding plus the summary, Community IDs against tshark's, and the Markdown report's shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::{Value, json};

mod contracts;
mod lab;

use contracts::{
    ecs_field_list, field_problems, flatten, markdown_problems, schema_errors, schema_validator,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn captures() -> Vec<PathBuf> {
    let files = lab::captures();
    assert!(files.len() >= 20, "lab captures missing: {files:?}");
    files
}

fn analyze(capture: &Path, format: &str) -> String {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["analyze", "--no-system-ca", "--format", format])
        .arg(capture)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}: {:?}", capture.display(), out);
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

// ---------------------------------------------------------------- JSON Schema

#[test]
fn every_json_report_validates_against_the_schema() {
    let validator = schema_validator();
    let mut findings = 0;
    for capture in captures() {
        let doc: Value = serde_json::from_str(&analyze(&capture, "json")).expect("JSON");
        let errors = schema_errors(&validator, &doc);
        assert!(errors.is_empty(), "{}: {errors:#?}", capture.display());
        findings += doc["findings"].as_array().map_or(0, Vec::len);
    }
    assert!(
        findings > 50,
        "the captures exercise the finding schema: {findings}"
    );
}

#[test]
fn a_report_with_an_evidence_file_and_filters_validates_too() {
    let validator = schema_validator();
    let dir = std::env::temp_dir().join(format!("faultline-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let evidence = dir.join("calls.pcapng");
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args([
            "analyze",
            "--no-system-ca",
            "--format",
            "json",
            "--category",
            "firewall",
        ])
        .arg("--evidence")
        .arg(&evidence)
        .arg(root().join("captures/haystack.pcap"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        doc["evidence_file"]["frames"].as_u64().unwrap_or(0) > 0,
        "{doc}"
    );
    assert!(
        doc["filters"]["hidden_findings"].as_u64().unwrap_or(0) > 0,
        "{doc}"
    );
    let errors = schema_errors(&validator, &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A change that makes a valid report invalid.
type Breakage = Box<dyn Fn(&mut Value)>;

#[test]
fn the_schema_rejects_broken_documents() {
    let validator = schema_validator();
    let capture = root().join("captures/http-haystack.pcap");
    let good: Value = serde_json::from_str(&analyze(&capture, "json")).expect("JSON");
    assert!(schema_errors(&validator, &good).is_empty());
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "code pattern",
            Box::new(|d| d["findings"][0]["code"] = json!("Client.RateLimited")),
        ),
        (
            "category enum",
            Box::new(|d| d["findings"][0]["category"] = json!("app")),
        ),
        (
            "code/category mismatch",
            Box::new(|d| d["findings"][0]["category"] = json!("server")),
        ),
        (
            "confidence enum",
            Box::new(|d| d["findings"][0]["confidence"] = json!("sure")),
        ),
        (
            "severity enum",
            Box::new(|d| d["findings"][0]["severity"] = json!("bad")),
        ),
        (
            "transport enum",
            Box::new(|d| d["findings"][0]["transport"] = json!("sctp")),
        ),
        (
            "RFC 3339 time",
            Box::new(|d| d["findings"][0]["evidence"][0]["ts"] = json!("yesterday")),
        ),
        (
            "IP address",
            Box::new(|d| d["findings"][0]["client"]["ip"] = json!("198.18.0.999")),
        ),
        (
            "port range",
            Box::new(|d| d["findings"][0]["server"]["port"] = json!(70000)),
        ),
        (
            "frame from 1",
            Box::new(|d| d["findings"][0]["first_frame"] = json!(0)),
        ),
        (
            "required field",
            Box::new(|d| {
                d["findings"][0]
                    .as_object_mut()
                    .map(|f| f.remove("evidence"));
            }),
        ),
        (
            "unknown field",
            Box::new(|d| d["findings"][0]["extra"] = json!(1)),
        ),
        (
            "unknown top-level field",
            Box::new(|d| d["extra"] = json!(1)),
        ),
        (
            "count type",
            Box::new(|d| d["calls"]["failed"] = json!("4")),
        ),
        (
            "alternative shape",
            Box::new(|d| d["findings"][0]["alternatives"] = json!(["maybe"])),
        ),
    ];
    for (what, breaks) in breakages {
        let mut doc = good.clone();
        breaks(&mut doc);
        assert!(
            !schema_errors(&validator, &doc).is_empty(),
            "the schema accepts a document with a broken {what}"
        );
    }
}

// ---------------------------------------------------------------- ECS fields

#[test]
fn every_ndjson_field_is_listed_with_its_ecs_type() {
    let fields = ecs_field_list();
    let mut seen = std::collections::BTreeSet::new();
    for capture in captures() {
        for (i, line) in analyze(&capture, "ndjson").lines().enumerate() {
            let doc: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", capture.display(), i + 1));
            let problems = field_problems(&fields, &doc);
            assert!(
                problems.is_empty(),
                "{} line {}: {problems:#?}",
                capture.display(),
                i + 1
            );
            let mut leaves = Vec::new();
            flatten("", &doc, &mut leaves);
            seen.extend(leaves.into_iter().map(|(p, _)| p));
        }
    }
    for must in [
        "@timestamp",
        "event.kind",
        "event.code",
        "source.ip",
        "destination.port",
        "network.community_id",
        "tls.client.server_name",
        "tls.version",
        "tls.version_protocol",
        "tls.cipher",
        "http.request.method",
        "http.response.status_code",
        "url.domain",
        "dns.question.name",
        "dns.response_code",
        "faultline.evidence.frame",
    ] {
        assert!(seen.contains(must), "no capture produced {must}");
    }
}

#[test]
fn the_field_check_fails_on_unknown_fields_and_wrong_types() {
    let fields = ecs_field_list();
    let ok = json!({"@timestamp": "2026-11-29T03:16:49.341083Z", "source": {"ip": "fd0f::1", "port": 1},
                    "event": {"category": ["network", "web"]}});
    assert_eq!(field_problems(&fields, &ok), Vec::<String>::new());
    for bad in [
        json!({"source": {"address_of_doom": "x"}}),
        json!({"faultline": {"secret": 1}}),
        json!({"source": {"ip": "not-an-ip"}}),
        json!({"source": {"port": "80"}}),
        json!({"@timestamp": "29/11/2026"}),
        json!({"event": {"code": 7}}),
        json!({"faultline": {"capture": {"truncated": "no"}}}),
        json!({"faultline": {"evidence": [{"frame": 1.5}]}}),
    ] {
        assert!(!field_problems(&fields, &bad).is_empty(), "accepted {bad}");
    }
}

// ---------------------------------------------------------------- NDJSON lines

#[test]
fn ndjson_has_one_line_per_finding_then_the_summary() {
    let capture = root().join("captures/http-haystack.pcap");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("captures/http-haystack.expected.json"))
            .expect("expected file"),
    )
    .expect("JSON");
    let expected_codes: Vec<&str> = expected["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("code"))
        .collect();
    assert_eq!(expected_codes.len(), 4, "the lab made 4 failed calls");

    let text = analyze(&capture, "ndjson");
    assert!(text.ends_with('\n'));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), expected_codes.len() + 1, "{text}");
    let (summary, findings) = lines.split_last().expect("lines");
    let codes: Vec<&str> = findings
        .iter()
        .map(|f| f["event"]["code"].as_str().expect("event.code"))
        .collect();
    assert_eq!(codes, expected_codes);
    for f in findings {
        assert_eq!(f["event"]["kind"], "alert");
        assert_eq!(f["event"]["outcome"], "failure");
        assert_eq!(f["faultline"]["code"], f["event"]["code"]);
    }
    // The 429 went over IPv4, the 503 over IPv6.
    assert_eq!(findings[0]["network"]["type"], "ipv4");
    assert_eq!(findings[1]["network"]["type"], "ipv6");
    assert_eq!(findings[0]["url"]["port"], 8080);
    // The lab's 429, 503, 404 and 401, each on a GET.
    let statuses: Vec<&Value> = findings
        .iter()
        .map(|f| &f["http"]["response"]["status_code"])
        .collect();
    assert_eq!(
        statuses,
        [&json!(429), &json!(503), &json!(404), &json!(401)]
    );
    assert!(
        findings
            .iter()
            .all(|f| f["http"]["request"]["method"] == "GET")
    );
    assert_eq!(summary["event"]["kind"], "metric");
    assert_eq!(summary["faultline"]["calls"]["total"], 260);
    assert_eq!(summary["faultline"]["calls"]["failed"], 4);
    assert_eq!(summary["faultline"]["findings"]["by_category"]["client"], 3);
    assert_eq!(summary["faultline"]["findings"]["by_category"]["server"], 1);
}

/// Each finding's `network.community_id` is the one tshark's Community ID dissector computes
/// for the finding's stream (checked where tshark is installed).
#[test]
fn community_ids_agree_with_tshark() {
    let capture = root().join("captures/http-haystack.pcap");
    let tshark = Process::new("tshark")
        .arg("-r")
        .arg(&capture)
        .args(["--enable-protocol", "communityid", "-T", "fields"])
        .args(["-e", "tcp.stream", "-e", "communityid"])
        .output();
    let Some(out) = tshark.ok().filter(|o| o.status.success()) else {
        eprintln!("tshark not available: Community IDs checked by the unit test vectors only");
        return;
    };
    let by_stream: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (stream, id) = l.split_once('\t')?;
            Some((stream.to_string(), id.to_string()))
        })
        .collect();
    let mut checked = 0;
    for line in analyze(&capture, "ndjson").lines() {
        let doc: Value = serde_json::from_str(line).expect("JSON");
        let Some(filter) = doc["faultline"]["wireshark_filter"].as_str() else {
            continue;
        };
        let stream = filter.strip_prefix("tcp.stream eq ").expect("a TCP stream");
        assert_eq!(
            doc["network"]["community_id"].as_str(),
            by_stream.get(stream).map(String::as_str),
            "stream {stream}"
        );
        checked += 1;
    }
    assert_eq!(checked, 4);
}

// ---------------------------------------------------------------- Markdown

#[test]
fn markdown_puts_failed_calls_first_with_their_evidence_tables() {
    let capture = root().join("captures/http-api.pcapng");
    let json: Value = serde_json::from_str(&analyze(&capture, "json")).expect("JSON");
    let md = analyze(&capture, "markdown");
    assert!(md.starts_with("# faultline report: "), "{md}");
    let findings = json["findings"].as_array().expect("findings");
    // Headings in order: every failed finding before every degraded one.
    // (The per-endpoint section is not a finding.)
    let headings: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("## ") && *l != "## Per endpoint")
        .collect();
    assert_eq!(headings.len(), findings.len(), "{md}");
    let severity_of = |heading: &str| {
        let id = heading[3..].split(' ').next().expect("id");
        findings
            .iter()
            .find(|f| f["id"] == id)
            .map(|f| f["severity"].as_str().expect("severity"))
            .expect("heading names a finding")
    };
    let severities: Vec<&str> = headings.iter().map(|h| severity_of(h)).collect();
    let first_degraded = severities.iter().position(|s| *s == "degraded");
    assert!(first_degraded.is_some(), "this capture has a degraded call");
    assert!(
        severities[first_degraded.unwrap_or(0)..]
            .iter()
            .all(|s| *s == "degraded"),
        "{severities:?}"
    );
    // Every evidence frame is a row of a pipe table, every filter a code span.
    for f in findings {
        for e in f["evidence"].as_array().expect("evidence") {
            let row = format!("| {} ", e["frame"]);
            assert!(md.lines().any(|l| l.starts_with(&row)), "frame row {row}");
        }
        let filter = f["wireshark_filter"].as_str().expect("filter");
        assert!(md.contains(&format!("`{filter}`")), "filter {filter}");
    }
    // Tables are well formed and no HTML gets through.
    let problems = markdown_problems(&md);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_markdown_check_fails_on_ragged_rows_and_html() {
    let good = "| a | b |\n|---|---|\n| 1 \\| 2 | 3 |\n\ntext\n\n| c |\n|---|\n";
    assert_eq!(markdown_problems(good), Vec::<String>::new());
    assert_eq!(
        markdown_problems("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n").len(),
        1
    );
    assert_eq!(markdown_problems("note <script>\n").len(), 1);
}

/// Filters shrink every format alike and say what they hid: the schema and the ECS list cover
/// the `filters` part too.
#[test]
fn filtered_reports_keep_the_contracts() {
    let capture = root().join("captures/http-haystack.pcap");
    let run = |format: &str| {
        let out = Command::cargo_bin("faultline")
            .expect("binary")
            .args(["analyze", "--no-system-ca", "--category", "server"])
            .args(["--format", format])
            .arg(&capture)
            .output()
            .expect("runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let json: Value = serde_json::from_str(&run("json")).expect("JSON");
    assert_eq!(
        schema_errors(&schema_validator(), &json),
        Vec::<String>::new()
    );
    assert_eq!(json["findings"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["filters"]["hidden_findings"], 3);

    let fields = ecs_field_list();
    let ndjson = run("ndjson");
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "{ndjson}");
    for doc in &lines {
        assert_eq!(field_problems(&fields, doc), Vec::<String>::new());
    }
    assert_eq!(lines[0]["event"]["code"], "server.http_503");
    assert_eq!(lines[1]["faultline"]["filters"]["hidden_findings"], 3);

    let md = run("markdown");
    assert!(md.contains("| Filters "), "{md}");
    assert_eq!(markdown_problems(&md), Vec::<String>::new());
}
