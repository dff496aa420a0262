//! What `faultline analyze` shows and how it exits: report order, filters (`--code` too),
//! `--fail-on` by category or cause code.

use assert_cmd::Command;
use serde_json::Value;

fn faultline() -> Command {
    Command::cargo_bin("faultline").expect("binary built")
}

/// Runs analyze with `args`, expecting exit status `code`; returns the JSON document.
fn analyze(args: &[&str], code: i32) -> Value {
    let out = faultline()
        .arg("analyze")
        .args(["--format", "json", "--no-system-ca"])
        .args(args)
        .assert()
        .code(code)
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn findings(doc: &Value) -> Vec<&Value> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .collect()
}

fn codes(doc: &Value) -> Vec<String> {
    findings(doc)
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_string())
        .collect()
}

#[test]
fn failed_calls_come_before_degraded_ones_across_files_and_ids_follow_report_order() {
    // packet-loss: three degraded calls; syn-drop: two failed connects, later in time.
    let doc = analyze(&["captures/packet-loss.pcap", "captures/syn-drop.pcap"], 0);
    let all = findings(&doc);
    let severities: Vec<&str> = all
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    assert_eq!(
        severities,
        ["failed", "failed", "degraded", "degraded", "degraded"]
    );
    assert_eq!(
        codes(&doc)[..2],
        ["firewall.syn_unanswered", "firewall.syn_unanswered"]
    );
    let ids: Vec<&str> = all.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["F1", "F2", "F3", "F4", "F5"]);
    assert!(doc.get("filters").is_none(), "no filters given");
}

#[test]
fn category_filter_keeps_only_those_and_says_how_many_it_hid() {
    // haystack: two refused connects, one ICMP admin-prohibited, one dropped SYN.
    let doc = analyze(&["--category", "firewall", "captures/haystack.pcap"], 0);
    let mut got = codes(&doc);
    got.sort();
    assert_eq!(
        got,
        ["firewall.icmp_admin_prohibited", "firewall.syn_unanswered"]
    );
    assert_eq!(doc["filters"]["hidden_findings"], 2);
    assert_eq!(doc["filters"]["applied"][0], "category firewall");
    // The capture's counts describe the capture, not the filtered report.
    assert_eq!(doc["calls"]["failed"], 4);
}

#[test]
fn port_host_and_confidence_filters_match_the_call() {
    let doc = analyze(&["--port", "8081", "captures/haystack.pcap"], 0);
    assert_eq!(codes(&doc), ["server.refused", "server.refused"]);
    let doc = analyze(&["--min-confidence", "high", "captures/haystack.pcap"], 0);
    assert!(
        findings(&doc).iter().all(|f| f["confidence"] == "high"),
        "{doc}"
    );
    assert_eq!(
        findings(&doc).len(),
        3,
        "the medium syn_unanswered is hidden"
    );
    // A server address, and a block that covers every address of the lab.
    let one = findings(&analyze(&["captures/syn-drop.pcap"], 0))[0]["server"]["ip"]
        .as_str()
        .unwrap()
        .to_string();
    let doc = analyze(&["--host", &one, "captures/syn-drop.pcap"], 0);
    assert!(
        findings(&doc)
            .iter()
            .all(|f| f["server"]["ip"] == one.as_str())
    );
    assert!(!findings(&doc).is_empty());
    let doc = analyze(&["--host", "192.0.2.0/24", "captures/syn-drop.pcap"], 0);
    assert!(findings(&doc).is_empty(), "no call touches TEST-NET-1");
}

#[test]
fn host_names_match_dns_names_and_the_names_under_them() {
    let all = analyze(&["captures/dns-rcodes.pcapng"], 0);
    let name = findings(&all)[0]["names"]["dns"]
        .as_str()
        .expect("a DNS finding names its lookup")
        .to_string();
    let doc = analyze(&["--host", &name, "captures/dns-rcodes.pcapng"], 0);
    assert!(!findings(&doc).is_empty());
    assert!(
        findings(&doc)
            .iter()
            .all(|f| f["names"]["dns"] == name.as_str())
    );
    let parent = name.split_once('.').expect("a dotted name").1.to_string();
    let under = analyze(&["--host", &parent, "captures/dns-rcodes.pcapng"], 0);
    assert!(findings(&under).len() >= findings(&doc).len());
}

#[test]
fn time_window_keeps_calls_with_evidence_inside_it() {
    let all = analyze(&["captures/haystack.pcap"], 0);
    let start = all["capture"]["first_ts"].as_str().unwrap().to_string();
    let last = all["capture"]["last_ts"].as_str().unwrap().to_string();
    // The whole capture, absolute or as offsets, hides nothing.
    let doc = analyze(
        &[
            "--since",
            &start,
            "--until",
            &last,
            "captures/haystack.pcap",
        ],
        0,
    );
    assert_eq!(findings(&doc).len(), 4);
    let doc = analyze(&["--since", "+1h", "captures/haystack.pcap"], 0);
    assert!(findings(&doc).is_empty());
    assert_eq!(doc["filters"]["hidden_findings"], 4);
    // A window from the latest call's start keeps exactly the calls with evidence after it.
    let latest = findings(&all)
        .iter()
        .map(|f| f["evidence"][0]["ts"].as_str().unwrap().to_string())
        .max()
        .unwrap();
    let expected: Vec<&str> = findings(&all)
        .iter()
        .filter(|f| {
            f["evidence"].as_array().unwrap().last().unwrap()["ts"]
                .as_str()
                .unwrap()
                >= latest.as_str()
        })
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(expected.len() < 4, "the window must hide something");
    let doc = analyze(&["--since", &latest, "captures/haystack.pcap"], 0);
    let mut kept: Vec<String> = findings(&doc)
        .iter()
        .map(|f| f["first_frame"].to_string())
        .collect();
    let mut want: Vec<String> = findings(&all)
        .iter()
        .filter(|f| expected.contains(&f["id"].as_str().unwrap()))
        .map(|f| f["first_frame"].to_string())
        .collect();
    kept.sort();
    want.sort();
    assert_eq!(kept, want);
}

#[test]
fn fail_on_turns_found_failures_into_exit_status_one() {
    analyze(&["--fail-on", "firewall", "captures/syn-drop.pcap"], 1);
    analyze(&["--fail-on", "any", "captures/syn-drop.pcap"], 1);
    analyze(&["--fail-on", "dns,tls", "captures/syn-drop.pcap"], 0);
    analyze(&["--fail-on", "any", "captures/healthy-api.pcapng"], 0);
    // Filters decide what counts: a hidden finding does not fail the run.
    analyze(
        &["--fail-on", "any", "--port", "1", "captures/syn-drop.pcap"],
        0,
    );
    // Errors are status 2, failures found or not.
    faultline()
        .args(["analyze", "--fail-on", "bogus", "captures/syn-drop.pcap"])
        .assert()
        .code(2);
    faultline()
        .args(["analyze", "--host", "not a host!", "captures/syn-drop.pcap"])
        .assert()
        .code(2);
    faultline()
        .args(["analyze", "captures/does-not-exist.pcap"])
        .assert()
        .code(2);
}

#[test]
fn fail_on_and_code_take_cause_codes_as_well_as_categories() {
    // tls-bad-certificate: expired-certificate alerts, unknown CAs, a name mismatch.
    let capture = "captures/tls-bad-certificate.pcap";
    analyze(&["--fail-on", "tls.certificate_name_mismatch", capture], 1);
    analyze(&["--fail-on", "tls.alert_certificate_expired", capture], 1);
    analyze(&["--fail-on", "tls.certificate_expired", capture], 0);
    analyze(&["--fail-on", "server.http_503,dns", capture], 0);
    analyze(&["--fail-on", "dns,tls.alert_unknown_ca", capture], 1);

    let doc = analyze(
        &[
            "--code",
            "tls.alert_unknown_ca,tls.certificate_name_mismatch",
            capture,
        ],
        0,
    );
    let mut shown = codes(&doc);
    shown.sort();
    assert_eq!(
        shown,
        [
            "tls.alert_unknown_ca",
            "tls.alert_unknown_ca",
            "tls.certificate_name_mismatch"
        ]
    );
    assert_eq!(
        doc["filters"]["applied"],
        serde_json::json!([
            "code tls.alert_unknown_ca",
            "code tls.certificate_name_mismatch"
        ])
    );
    assert_eq!(doc["filters"]["hidden_findings"], 6);
    // A category in --code, and --code with --category: both must pass.
    let doc = analyze(
        &["--code", "server.http_503", "captures/http-haystack.pcap"],
        0,
    );
    assert_eq!(codes(&doc), ["server.http_503"]);
    let doc = analyze(&["--code", "client", "captures/http-haystack.pcap"], 0);
    assert_eq!(codes(&doc).len(), 3, "{:?}", codes(&doc));
    let doc = analyze(
        &[
            "--code",
            "server.http_503",
            "--category",
            "client",
            "captures/http-haystack.pcap",
        ],
        0,
    );
    assert!(codes(&doc).is_empty());
}

#[test]
fn an_unknown_code_says_how_to_find_the_right_one() {
    for flag in ["--code", "--fail-on"] {
        let out = faultline()
            .args([
                "analyze",
                flag,
                "tls.certificate_expird",
                "captures/syn-drop.pcap",
            ])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("`tls.certificate_expird` is not a cause code"),
            "{stderr}"
        );
        // The codes of the category it named, and where all are described.
        assert!(stderr.contains("tls.certificate_expired"), "{stderr}");
        assert!(stderr.contains("docs/causes.md"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
    let out = faultline()
        .args(["analyze", "--code", "nonsense", "captures/syn-drop.pcap"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("network, firewall, tls, dns, server, client"),
        "{stderr}"
    );
}

#[test]
fn text_report_opens_with_the_groups_then_findings_and_colours_only_when_asked() {
    let out = faultline()
        .args(["analyze", "--no-system-ca", "captures/syn-drop.pcap"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf-8");
    // The headline: the groups ranked, one line each, before anything else.
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("2 incident group(s) (2 failed) from 2 finding(s) covering 2 call(s)")
    );
    let first = lines.next().expect("the first group");
    assert!(
        first.starts_with("  G1 firewall.syn_unanswered: 1 of 1 calls to 198.18.1.2:8443"),
        "{first}"
    );
    assert!(text.find("\nG1 FAILED").expect("the group") < text.find("\nF1 FAILED").unwrap());
    let summary = text.find("summary").expect("a summary");
    assert!(text.find("F2 FAILED").expect("second finding") < summary);
    assert!(!text.contains('\u{1b}'), "no colour when not a terminal");
    let coloured = faultline()
        .args(["analyze", "--color", "always", "captures/syn-drop.pcap"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(coloured.contains(&0x1b));
}
