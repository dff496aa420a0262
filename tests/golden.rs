//! Golden tests: `faultline analyze --format json` on every capture the lab made, compared with
//! the `*.expected.json` beside it (written by the lab from tshark queries, never from
//! faultline). Each expected finding must be found on its stream with the same code and
//! category, its key evidence frames must all be in the finding's evidence, and no other
//! finding may appear: a healthy capture gives `"findings": []`.

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

fn analyze(capture: &Path) -> Vec<Found> {
    let out = Command::cargo_bin("faultline")
        .expect("binary built")
        // Every call's finding on its own: the expected files list calls, not aggregates.
        .args(["analyze", "--format", "json", "--all-findings"])
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
        let same =
            |f: &&Found| f.stream == w.stream && f.code == w.code && f.category == w.category;
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
    ];
    let missing: Vec<_> = required.iter().filter(|c| !codes.contains(**c)).collect();
    assert!(missing.is_empty(), "no capture shows {missing:?}");
}
