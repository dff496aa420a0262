//! Golden tests: `faultline analyze --format json` on every capture the lab made, compared with
//! the `*.expected.json` beside it (written by the lab from tshark queries, never from
//! faultline). Each expected finding must be found on its stream with the same code and
//! category, its key evidence frames must all be in the finding's evidence, and no other
//! finding may appear: a healthy capture gives `"findings": []`. A capture whose clients logged
//! their TLS keys has them beside it as `NAME.keys` (NSS key log format), and faultline reads
//! them with `--keylog`; a capture with the keys inside (a pcapng Decryption Secrets Block) has
//! no `.keys` file. A finding whose expected entry names `quotes` (the server's own words, found
//! by the lab with tshark) must contain each one, case-sensitive, in its `summary` or in a
//! string of its `server_said` object.

mod lab;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    /// The TCP stream of a connection's finding, `NAME TYPE` of a DNS lookup's finding, or
    /// `CLIENT:PORT->SERVER:PORT` of a UDP flow's finding.
    stream: String,
    code: String,
    category: String,
    frames: BTreeSet<u64>,
    /// The name a DNS answer in the capture gave the server's address (`names.dns`); checked
    /// only where the expected file names one.
    names_dns: Option<String>,
    /// The HTTP/2 stream id of a finding about one stream (`http2.stream_id`); checked only
    /// where the expected file names one (`h2_stream`; for a cause that killed several
    /// streams, `h2_streams`, whose first the finding must name).
    h2_stream: Option<u64>,
    /// Expected: the words the finding must quote (`quotes`; empty where the file names none).
    quotes: Vec<String>,
    /// Reported: where the finding quotes the server: its summary and every string in its
    /// `server_said` object.
    said: Vec<String>,
}

fn expected_path(capture: &Path) -> PathBuf {
    let stem = capture.file_stem().and_then(|s| s.to_str()).expect("name");
    capture.with_file_name(format!("{stem}.expected.json"))
}

fn stream_of(filter: &str) -> String {
    if let Some(n) = filter.strip_prefix("tcp.stream eq ") {
        return n.to_string();
    }
    // dns.qry.name == "NAME" && dns.qry.type == TYPE && ...
    let lookup = filter.strip_prefix("dns.qry.name == \"").and_then(|rest| {
        let (name, rest) = rest.split_once('"')?;
        let qtype = rest
            .strip_prefix(" && dns.qry.type == ")?
            .split(' ')
            .next()?;
        Some(format!("{name} {qtype}"))
    });
    lookup.unwrap_or_else(|| panic!("unexpected wireshark_filter {filter:?}"))
}

/// Where a reported finding is: its TCP stream or DNS lookup from the filter, else (a UDP flow
/// that is not a lookup) `CLIENT:PORT->SERVER:PORT` from its endpoints.
fn place_of(f: &Value) -> String {
    let filter = f["wireshark_filter"].as_str().expect("filter");
    let lookup_or_stream =
        filter.starts_with("tcp.stream eq ") || filter.starts_with("dns.qry.name == ");
    if f["transport"] == "udp" && !lookup_or_stream {
        let side = |e: &Value| {
            let ip = e["ip"].as_str().expect("ip");
            let port = e["port"].as_u64().expect("port");
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        };
        return format!("{}->{}", side(&f["client"]), side(&f["server"]));
    }
    stream_of(filter)
}

/// Every string in a JSON value (objects and arrays walked), in document order.
fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings_in(i, out)),
        Value::Object(members) => members.values().for_each(|m| strings_in(m, out)),
        _ => {}
    }
}

/// What a reported finding says in the server's words: its summary, then the strings of its
/// `server_said` object.
fn said_of(f: &Value) -> Vec<String> {
    let mut said: Vec<String> = f["summary"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect();
    strings_in(&f["server_said"], &mut said);
    said
}

/// The expected quotes that no string of `said` contains (case-sensitive substrings).
fn unquoted<'a>(quotes: &'a [String], said: &[String]) -> Vec<&'a str> {
    quotes
        .iter()
        .filter(|q| !said.iter().any(|s| s.contains(q.as_str())))
        .map(String::as_str)
        .collect()
}

fn frames(list: &Value, key: Option<&str>) -> BTreeSet<u64> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| match key {
            Some(k) => v[k].as_u64().expect("frame number"),
            None => v.as_u64().expect("frame number"),
        })
        .collect()
}

/// The key log the lab wrote beside a capture (`NAME.keys`), if its clients logged keys.
fn keylog_path(capture: &Path) -> Option<PathBuf> {
    let stem = capture.file_stem()?.to_str()?;
    Some(capture.with_file_name(format!("{stem}.keys"))).filter(|p| p.is_file())
}

fn analyze(capture: &Path) -> Vec<Found> {
    let mut cmd = Command::cargo_bin("faultline").expect("binary built");
    // Every call's finding on its own: the expected files list calls, not aggregates.
    cmd.args(["analyze", "--format", "json", "--all-findings"]);
    if let Some(keys) = keylog_path(capture) {
        cmd.arg("--keylog").arg(keys);
    }
    let out = cmd
        .arg(capture)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc: Value = serde_json::from_slice(&out).expect("valid JSON");
    doc["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| Found {
            stream: place_of(f),
            code: f["code"].as_str().expect("code").to_string(),
            category: f["category"].as_str().expect("category").to_string(),
            frames: frames(&f["evidence"], Some("frame")),
            names_dns: f["names"]["dns"].as_str().map(str::to_string),
            h2_stream: f["http2"]["stream_id"].as_u64(),
            quotes: Vec::new(),
            said: said_of(f),
        })
        .collect()
}

fn expected(capture: &Path) -> Vec<Found> {
    let path = expected_path(capture);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: every capture needs its expected file: {e}",
            path.display()
        )
    });
    let doc: Value = serde_json::from_str(&text).expect("expected file is JSON");
    doc["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| Found {
            stream: match (f["dns"].as_str(), f["udp"].as_str()) {
                (Some(lookup), _) => lookup.to_string(),
                // A UDP flow's finding: `CLIENT:PORT->SERVER:PORT` ([v6]:port).
                (None, Some(flow)) => flow.to_string(),
                (None, None) => f["stream"].as_u64().expect("stream").to_string(),
            },
            code: f["code"].as_str().expect("code").to_string(),
            category: f["category"].as_str().expect("category").to_string(),
            frames: frames(&f["evidence_frames"], None),
            names_dns: f["names_dns"].as_str().map(str::to_string),
            h2_stream: f["h2_stream"]
                .as_u64()
                .or_else(|| f["h2_streams"][0].as_u64()),
            quotes: f["quotes"]
                .as_array()
                .map(|qs| {
                    qs.iter()
                        .map(|q| q.as_str().expect("a quote is a string").to_string())
                        .collect()
                })
                .unwrap_or_default(),
            said: Vec::new(),
        })
        .collect()
}

/// Differences between what faultline found and what the lab expects, one line each.
fn compare(capture: &Path) -> Vec<String> {
    let name = capture.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let found = analyze(capture);
    let want = expected(capture);
    let mut problems = Vec::new();
    // A connection may carry several calls, so several findings: each expected one is matched
    // to a finding on its stream with its code (one finding each).
    let mut unmatched: Vec<&Found> = found.iter().collect();
    for w in &want {
        let same = |f: &&Found| {
            f.stream == w.stream
                && f.code == w.code
                && f.category == w.category
                && (w.h2_stream.is_none() || f.h2_stream == w.h2_stream)
        };
        match unmatched
            .iter()
            .position(|f| same(f) && w.frames.is_subset(&f.frames))
        {
            Some(i) => {
                let f = unmatched.remove(i);
                if w.names_dns.is_some() && w.names_dns != f.names_dns {
                    problems.push(format!(
                        "{name}: stream {} {}: names.dns {:?}, expected {:?}",
                        w.stream, w.code, f.names_dns, w.names_dns
                    ));
                }
                let missing = unquoted(&w.quotes, &f.said);
                if !missing.is_empty() {
                    problems.push(format!(
                        "{name}: stream {} {}: does not quote {missing:?} (summary and server_said: {:?})",
                        w.stream, w.code, f.said
                    ));
                }
            }
            None => match unmatched.iter().position(same) {
                Some(i) => {
                    let f = unmatched.remove(i);
                    let missing: Vec<_> = w.frames.difference(&f.frames).collect();
                    problems.push(format!(
                        "{name}: stream {} {}: evidence lacks frames {missing:?} (has {:?})",
                        w.stream, w.code, f.frames
                    ));
                }
                None => {
                    let on_stream: Vec<_> = unmatched
                        .iter()
                        .filter(|f| f.stream == w.stream)
                        .map(|f| f.code.as_str())
                        .collect();
                    problems.push(format!(
                        "{name}: stream {}: expected {} ({}), found {on_stream:?}",
                        w.stream, w.code, w.category
                    ))
                }
            },
        }
    }
    for f in unmatched {
        problems.push(format!(
            "{name}: stream {}: unexpected finding {} (evidence {:?})",
            f.stream, f.code, f.frames
        ));
    }
    problems
}

#[test]
fn every_lab_capture_gives_its_expected_findings() {
    let captures = lab::captures();
    assert!(
        captures.len() >= 10,
        "the lab's captures are missing: {captures:?}"
    );
    let problems: Vec<String> = captures.iter().flat_map(|c| compare(c)).collect();
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_code_the_transport_diagnosis_names_has_a_capture() {
    let mut codes = BTreeSet::new();
    for capture in lab::captures() {
        codes.extend(expected(&capture).into_iter().map(|f| f.code));
    }
    let required = [
        "server.refused",
        "firewall.syn_unanswered",
        "firewall.icmp_admin_prohibited",
        "firewall.icmp_port_unreachable",
        "network.icmp_host_unreachable",
        "network.icmp_net_unreachable",
        "network.ttl_exceeded",
        "firewall.injected_rst",
        "network.packet_loss",
        "network.peer_unresponsive_midstream",
        "network.pmtu_blackhole",
        "server.reset_after_request",
        "server.no_response",
        "server.not_reading",
        "client.aborted",
        "client.http_400",
        "client.http_401",
        "client.http_403",
        "client.http_404",
        "client.http_405",
        "client.http_413",
        "client.http_415",
        "client.http_422",
        "client.http_4xx",
        "client.rate_limited",
        "server.http_500",
        "server.http_502",
        "server.http_503",
        "server.http_504",
        "server.http_5xx",
        "server.closed_without_response",
        "server.truncated_response",
        "client.stale_keepalive_reuse",
        "server.slow_response",
        "dns.nxdomain",
        "dns.servfail",
        "dns.refused",
        "dns.no_answer",
        "dns.no_response",
    ];
    let missing: Vec<_> = required.iter().filter(|c| !codes.contains(**c)).collect();
    assert!(missing.is_empty(), "no capture shows {missing:?}");
}

/// The causes issue 18 names from what the server said (bodies, challenges, gateway and
/// rate-limit headers) each have a lab capture, and every one of those findings names the words
/// it must quote.
#[test]
fn every_code_of_what_the_server_said_has_a_capture_and_quotes() {
    let mut codes = BTreeSet::new();
    for capture in lab::captures() {
        for f in expected(&capture) {
            if capture.to_string_lossy().contains("gateway-errors") {
                assert!(
                    !f.quotes.is_empty(),
                    "{}: {} on stream {} names no quote",
                    capture.display(),
                    f.code,
                    f.stream
                );
            }
            codes.insert(f.code);
        }
    }
    let required = [
        "client.token_expired",
        "client.token_invalid",
        "client.insufficient_scope",
        "client.credentials_wrong",
        "client.access_denied",
        "client.api_not_found",
        "client.wrong_stage",
        "client.quota_exhausted",
        "client.api_version_retired",
        "client.graphql_errors",
        "server.graphql_errors",
        "client.wrong_host",
        "client.http_406",
        "client.http_426",
        "server.redirect_loop",
    ];
    let missing: Vec<_> = required.iter().filter(|c| !codes.contains(**c)).collect();
    assert!(missing.is_empty(), "no capture shows {missing:?}");
}

/// The quote check: every quote must be a case-sensitive substring of the summary or of a
/// server_said string; one missing word is reported.
#[test]
fn a_quote_must_be_in_the_summary_or_what_the_server_said() {
    let f: Value = serde_json::json!({
        "summary": "401 from api.lab.test: the server says \"The access token expired\"",
        "server_said": {"shape": "bearer", "fields": [{"name": "error", "value": "invalid_token"}]}
    });
    let said = said_of(&f);
    let quotes = |qs: &[&str]| qs.iter().map(|q| q.to_string()).collect::<Vec<_>>();
    assert!(
        unquoted(
            &quotes(&["The access token expired", "invalid_token"]),
            &said
        )
        .is_empty()
    );
    assert_eq!(
        unquoted(
            &quotes(&["the access token expired", "insufficient_scope"]),
            &said
        ),
        vec!["the access token expired", "insufficient_scope"]
    );
    assert_eq!(
        unquoted(&quotes(&["expired"]), &said_of(&serde_json::json!({}))),
        vec!["expired"]
    );
}

#[test]
fn healthy_captures_give_no_findings() {
    let healthy: Vec<PathBuf> = lab::captures()
        .into_iter()
        .filter(|c| {
            c.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("healthy-"))
        })
        .collect();
    assert!(!healthy.is_empty(), "no healthy-* capture");
    for capture in healthy {
        assert_eq!(expected(&capture), vec![], "{}", capture.display());
        assert_eq!(analyze(&capture), vec![], "{}", capture.display());
    }
}

#[test]
fn every_code_the_tls_diagnosis_names_has_a_capture() {
    let mut codes = BTreeSet::new();
    for capture in lab::captures() {
        codes.extend(expected(&capture).into_iter().map(|f| f.code));
    }
    let required = [
        "tls.alert_certificate_expired",
        "tls.alert_unknown_ca",
        "tls.certificate_name_mismatch",
        "tls.handshake_aborted_by_client",
        "tls.version_mismatch",
        "tls.no_shared_cipher",
        "tls.sni_rejected",
        "tls.client_certificate_required",
        "client.protocol_mismatch",
        "tls.certificate_expired",
        "tls.handshake_aborted_by_server",
        "tls.certificate_untrusted",
        "tls.certificate_not_yet_valid",
    ];
    let missing: Vec<_> = required.iter().filter(|c| !codes.contains(**c)).collect();
    assert!(missing.is_empty(), "no capture shows {missing:?}");
}

/// The lab's key logs are what a user hands faultline: NSS key log lines exactly as curl,
/// Python, gnutls-cli and openssl s_client wrote them, each beside its capture, and every keyed
/// capture (`https-*`, `healthy-https-keyed`) has its keys, beside it or embedded (`-dsb`).
#[test]
fn every_keyed_capture_has_its_keys_in_nss_format() {
    const LABELS: [&str; 8] = [
        "CLIENT_RANDOM",
        "RSA",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
        "CLIENT_EARLY_TRAFFIC_SECRET",
    ];
    let captures = lab::captures();
    let mut keyed = 0;
    for capture in &captures {
        let name = capture.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let embedded = name.ends_with("-dsb.pcapng");
        let wants_keys = name.starts_with("https-") || name.starts_with("healthy-https-keyed");
        match keylog_path(capture) {
            Some(keys) => {
                assert!(!embedded, "{name}: keys both embedded and beside it");
                let text = std::fs::read_to_string(&keys).expect("key log readable");
                let mut lines = 0;
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let fields: Vec<&str> = line.split(' ').collect();
                    let hex = |f: &str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_hexdigit());
                    assert!(
                        fields.len() == 3
                            && LABELS.contains(&fields[0])
                            && hex(fields[1])
                            && hex(fields[2]),
                        "{}:{}: not an NSS key log line",
                        keys.display(),
                        i + 1
                    );
                    lines += 1;
                }
                assert!(lines > 0, "{}: empty key log", keys.display());
                keyed += 1;
            }
            None => assert!(
                !wants_keys || embedded,
                "{name}: a keyed capture without its key log"
            ),
        }
    }
    assert!(keyed >= 7, "only {keyed} captures have key logs");
    // No key log without its capture.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    for entry in std::fs::read_dir(&dir).expect("captures/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "keys") {
            assert!(
                captures
                    .iter()
                    .any(|c| keylog_path(c).as_deref() == Some(path.as_path())),
                "{}: a key log without its capture",
                path.display()
            );
        }
    }
}
