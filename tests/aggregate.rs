//! Many calls failing the same way against one server are one aggregate finding with complete
//! counts and the earliest calls as samples; `--all-findings` gives every call's finding, and
//! with NDJSON streams them. Checked on the lab's listen-queue-full capture (15 connects to one
//! loopback listener, each answered only after a SYN retry), whose expected file the lab wrote
//! from tshark.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const CAPTURE: &str = "captures/listen-queue-full-loopback.pcap";

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("faultline")
        .expect("binary built")
        .arg("analyze")
        .args(args)
        .arg(CAPTURE)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("utf-8")
}

/// The first evidence frame of each call the lab expects, and the count.
fn expected_calls() -> Vec<u64> {
    let path = Path::new(CAPTURE).with_extension("expected.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("expected file")).expect("JSON");
    let mut firsts: Vec<u64> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .inspect(|f| assert_eq!(f["code"], "server.listen_queue_full"))
        .map(|f| f["evidence_frames"][0].as_u64().expect("frame"))
        .collect();
    firsts.sort_unstable();
    firsts
}

#[test]
fn calls_failing_alike_against_one_server_are_one_aggregate_with_every_call_counted() {
    let expected = expected_calls();
    assert!(expected.len() > faultline::analysis::AGGREGATE_AFTER);
    let doc: Value = serde_json::from_str(&run(&["--format", "json"])).expect("JSON");
    let findings = doc["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["code"], "server.listen_queue_full");
    let group = &f["aggregate"];
    assert_eq!(group["calls"], expected.len() as u64);
    assert_eq!(group["servers"]["count"], 1);
    assert_eq!(group["clients"]["count"], 1, "one client host");
    assert_eq!(group["client_ports"]["count"], expected.len() as u64);
    assert_eq!(group["client_ports"]["estimated"], false);
    // The samples are the earliest calls, whatever order the analysis judged them in.
    let samples = group["samples"].as_array().expect("samples");
    assert_eq!(samples.len(), faultline::analysis::SAMPLES);
    let firsts: Vec<u64> = samples
        .iter()
        .map(|s| s["evidence"][0]["frame"].as_u64().expect("frame"))
        .collect();
    assert_eq!(firsts, expected[..faultline::analysis::SAMPLES]);
    // The finding itself is the first sample, with its frames.
    assert_eq!(f["evidence"], samples[0]["evidence"]);
    let summary = f["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with(&format!("{} calls to ", expected.len())),
        "{summary}"
    );
    // The calls summary counts every call, not the one finding.
    assert_eq!(doc["calls"]["degraded"], expected.len() as u64);
}

#[test]
fn the_text_report_says_what_the_group_holds() {
    let text = run(&["--format", "text", "--color", "never"]);
    let calls = expected_calls().len();
    assert!(
        text.contains(&format!(
            "group    {calls} calls, 1 client, {calls} client ports"
        )),
        "{text}"
    );
    assert_eq!(
        text.matches("   sample   ").count(),
        faultline::analysis::SAMPLES
    );
}

#[test]
fn all_findings_gives_every_call_and_ndjson_streams_them_with_a_complete_summary() {
    let expected = expected_calls();
    let doc: Value =
        serde_json::from_str(&run(&["--format", "json", "--all-findings"])).expect("JSON");
    let findings = doc["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), expected.len());
    assert!(findings.iter().all(|f| f.get("aggregate").is_none()));

    let ndjson = run(&["--format", "ndjson", "--all-findings"]);
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let (summary, alerts) = lines.split_last().expect("a summary line");
    assert_eq!(alerts.len(), expected.len());
    let firsts: BTreeSet<u64> = alerts
        .iter()
        .map(|a| {
            a["faultline"]["evidence"][0]["frame"]
                .as_u64()
                .expect("frame")
        })
        .collect();
    assert_eq!(firsts, expected.iter().copied().collect());
    let ids: BTreeSet<&str> = alerts
        .iter()
        .map(|a| a["faultline"]["finding_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), expected.len(), "ids are unique");
    assert_eq!(summary["event"]["kind"], "metric");
    assert_eq!(
        summary["faultline"]["findings"]["total"],
        expected.len() as u64
    );
    assert_eq!(
        summary["faultline"]["findings"]["by_category"]["server"],
        expected.len() as u64
    );
}
