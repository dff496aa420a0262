//! `faultline live` end to end, on real traffic in network namespaces (lab/live-test.sh): the
//! failed calls (refused, dropped SYN, 503, a request nobody answered), and only those, are
//! named on standard output within seconds of happening; the summary with libpcap's drop
//! counters follows SIGINT and the exit status is 0; the pcapng the session wrote gives the same
//! findings to `faultline analyze`.
//!
//! Needs root (namespaces, capture) and the lab's tools; skips with the reason otherwise.
//! Run with `cargo test --release --features live --test live`.
#![cfg(feature = "live")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The failures the script causes, and how long after the call ended each may take to appear:
/// a refused or answered call is decided when its closed connection has lingered 5 s (stragglers
/// would still belong to it); an unanswered SYN once three backoff gaps (at least 5 s) passed.
/// A request nobody answered: once the client's FIN has lingered 5 s with the server silent.
const EXPECTED: [(&str, &str, u64); 4] = [
    ("refused", "server.refused", 8_000),
    ("dropped", "firewall.syn_unanswered", 10_000),
    ("unavailable", "server.http_503", 8_000),
    ("unanswered", "server.no_response", 8_000),
];

fn skip_reason() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("not running as root (network namespaces and packet capture need it)".into());
    }
    for tool in ["ip", "iptables", "curl", "python3", "ss"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// The finding's code: `code`, or wherever a formatter put it (`event.code`, nested).
fn code_of(line: &Value) -> Option<String> {
    if let Some(code) = line.get("code").and_then(Value::as_str) {
        return Some(code.to_owned());
    }
    match line {
        Value::Object(map) => map.values().find_map(code_of),
        _ => None,
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn live_capture_names_each_failure_within_seconds_and_summarises_on_sigint() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipped: {reason}");
        return;
    }
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("faultline-live-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("bash")
        .arg(repo.join("lab/live-test.sh"))
        .arg(&out)
        .env("FAULTLINE", env!("CARGO_BIN_EXE_faultline"))
        .status()
        .expect("running lab/live-test.sh");
    assert!(status.success(), "lab/live-test.sh failed: {status}");

    // The calls did what the script meant: healthy 200, refused (curl 7), timeout (curl 28).
    let calls: BTreeMap<String, String> = read(&out.join("calls.txt"))
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_owned(), f.next()?.to_owned()))
        })
        .collect();
    let want = [
        ("healthy", "0"),
        ("refused", "7"),
        ("dropped", "28"),
        ("unanswered", "28"),
    ];
    for (name, rc) in want {
        assert_eq!(calls.get(name).map(String::as_str), Some(rc), "curl {name}");
    }

    // Each failure appeared soon after its call ended.
    let decided = read(&out.join("decided.txt"));
    for (_, code, bound_ms) in EXPECTED {
        let line = decided
            .lines()
            .find(|l| l.starts_with(&format!("{code} ")))
            .unwrap_or_else(|| panic!("no line for {code} in decided.txt:\n{decided}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let ended: u64 = fields[1].parse().unwrap();
        let seen: u64 = fields[2]
            .parse()
            .unwrap_or_else(|_| panic!("{code} never appeared on the output"));
        let after = seen.saturating_sub(ended);
        assert!(
            after <= bound_ms,
            "{code} appeared {after} ms after the call (bound {bound_ms} ms)"
        );
        eprintln!("{code}: printed {after} ms after the call ended");
    }

    // Exactly those failures, each once, then the summary as the last line.
    let output = read(&out.join("live.ndjson"));
    let lines: Vec<Value> = output
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let (summary, findings) = lines.split_last().expect("no output at all");
    let mut live_codes: Vec<String> = findings
        .iter()
        .map(|f| code_of(f).unwrap_or_else(|| panic!("a line without a code: {f}")))
        .collect();
    live_codes.sort();
    let mut expected: Vec<String> = EXPECTED.iter().map(|e| e.1.to_owned()).collect();
    expected.sort();
    assert_eq!(live_codes, expected, "findings on the live output");

    // The summary is an ECS metric document, its counts under `faultline.*`.
    assert_eq!(summary["event"]["kind"], "metric", "{summary}");
    assert_eq!(summary["observer"]["ingress"]["interface"]["name"], "c0");
    let summary = &summary["faultline"];
    for counter in ["received", "dropped", "if_dropped"] {
        assert!(
            summary["capture"][counter].is_u64(),
            "summary without capture.{counter}: {summary}"
        );
    }
    assert_eq!(
        summary["capture"]["dropped"], 0,
        "the kernel dropped packets"
    );
    assert_eq!(summary["findings"]["total"], 4);
    assert_eq!(summary["calls"]["failed"], 4);
    assert_eq!(summary["calls"]["total"], 5);
    // Root was dropped, yet the --write file in a directory only root may write to was written
    // (it is opened before root is given up).
    let err = read(&out.join("live.err"));
    assert!(err.contains("capturing as user nobody"), "{err}");
    // ... and it says that rotating there would fail, since nobody may not create files in it.
    assert!(err.contains("nobody may not create files in"), "{err}");
    assert!(
        summary["capture"]["written_packets"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert_eq!(
        read(&out.join("exit")).trim(),
        "0",
        "exit status after SIGINT"
    );

    // The capture it wrote gives the same findings to the file analysis.
    let report: Value = serde_json::from_str(&read(&out.join("analyze.json"))).unwrap();
    let mut file_codes: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(code_of)
        .collect();
    file_codes.sort();
    assert_eq!(file_codes, live_codes, "live and file analysis disagree");
    assert_eq!(report["calls"]["total"], summary["calls"]["total"]);
    assert_eq!(report["capture"]["frames"], summary["capture"]["frames"]);
    let _ = std::fs::remove_dir_all(&out);
}
