//! The incident view on lab captures: groups by cause, endpoint and route with the calls made
//! there, call times with evidence offsets from the call's own first packet, `--max-per-group`
//! and the Markdown size limit.

use assert_cmd::Command;
use serde_json::Value;

fn analyze(args: &[&str]) -> String {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["analyze", "--no-system-ca"])
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&analyze(&[args, &["--format", "json"]].concat())).expect("json")
}

#[test]
fn a_group_counts_the_calls_made_on_its_route() {
    // gateway-errors: stream 21 made 11 GET /v1/items (tshark: frames 232..256), the first ten
    // answered 200 with RateLimit-Remaining counting down, the last 429.
    let doc = json(&["captures/gateway-errors.pcapng"]);
    let groups = doc["groups"].as_array().unwrap();
    let g = groups
        .iter()
        .find(|g| g["route"]["template"] == "/v1/items")
        .expect("the /v1/items group");
    assert_eq!(g["code"], "client.rate_limited");
    assert_eq!(g["route"]["method"], "GET");
    assert_eq!(
        (g["calls_affected"].as_u64(), g["calls_made"].as_u64()),
        (Some(1), Some(11))
    );
    // The finding names its group and route.
    let id = g["findings"][0].as_str().unwrap();
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap();
    assert_eq!(f["group"], g["id"]);
    assert_eq!(f["route"], g["route"]);
    // An id in the path is folded: GET /v1/orders/{id} (the 406).
    assert!(
        groups
            .iter()
            .any(|g| g["route"]["template"] == "/v1/orders/{id}" && g["code"] == "client.http_406")
    );
    // Failed groups come first, most calls affected first.
    let severities: Vec<&str> = groups
        .iter()
        .map(|g| g["severity"].as_str().unwrap())
        .collect();
    let first_other = severities
        .iter()
        .position(|s| *s != "failed")
        .unwrap_or(severities.len());
    assert!(
        severities[first_other..].iter().all(|s| *s != "failed"),
        "{severities:?}"
    );
}

#[test]
fn evidence_offsets_run_from_the_calls_own_first_packet() {
    // http-with-refused F1: the SYN to port 81 is frame 37 (tshark: 1795434781.539275580);
    // frame 35 is the server's packet on another connection 0.218117 s before, cited for its
    // TTL; the RST/ACK is frame 38, 0.035 ms after the SYN.
    let doc = json(&["captures/http-with-refused.pcapng"]);
    let f = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "server.refused")
        .expect("the refused call");
    assert_eq!(f["time"]["start_frame"], 37);
    assert_eq!(f["time"]["start"], "2026-11-23T11:53:01.539275Z");
    let offsets: Vec<(u64, f64)> = f["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["frame"].as_u64().unwrap(),
                e["call_offset_s"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(offsets, [(35, -0.218117), (37, 0.0), (38, 0.000035)]);
    let text = analyze(&["captures/http-with-refused.pcapng"]);
    assert!(text.contains("evidence (offsets from the call's first packet, frame 37)"));
    assert!(text.contains("frame      35  -0.218117s"), "{text}");
    assert!(text.contains("2026-11-23T11:53:01.539275Z (+0.656609s into the capture)"));
}

#[test]
fn max_per_group_limits_the_details_shown_never_the_counts() {
    // tls-aborted: four handshakes the server aborted, one group.
    let capture = "captures/tls-aborted.pcapng";
    let text = analyze(&["--max-per-group", "1", capture]);
    assert!(
        text.contains("G1 tls.handshake_aborted_by_server: 4 of 4 calls"),
        "{text}"
    );
    assert!(text.contains("findings F1 (1 of 4 shown below)"), "{text}");
    assert!(text.contains("G1: 3 more finding(s) like these not shown (--max-per-group 4"));
    assert!(text.contains("\nF1 FAILED") && !text.contains("\nF2 FAILED"));
    // JSON keeps every finding.
    let doc = json(&["--max-per-group", "1", capture]);
    let in_g1 = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["group"] == "G1");
    assert_eq!(in_g1.count(), 4);
    assert_eq!(doc["groups"][0]["findings"].as_array().unwrap().len(), 4);
}

#[test]
fn markdown_stays_under_its_limit_and_keeps_every_groups_row() {
    // gateway-errors: 23 groups, the largest Markdown of the lab captures (about 44,000
    // characters in full).
    let capture = "captures/gateway-errors.pcapng";
    let full = analyze(&["--format", "markdown", capture]);
    assert!(full.chars().count() <= 60_000);
    assert!(!full.contains("Shortened"));
    let groups = json(&[capture])["groups"].as_array().unwrap().len();
    assert_eq!(groups, 23);
    for limit in [30_000, 15_000] {
        let short = analyze(&[
            "--format",
            "markdown",
            "--max-chars",
            &limit.to_string(),
            capture,
        ]);
        assert!(
            short.chars().count() <= limit,
            "{} > {limit}",
            short.chars().count()
        );
        for i in 1..=groups {
            assert!(short.contains(&format!("| G{i} |")), "G{i} lost at {limit}");
        }
        assert!(short.contains("<details><summary>F1 "));
        assert!(short.contains(&format!("**Shortened to stay under {limit} characters**")));
        assert!(short.contains("`--max-chars 0` writes everything"));
    }
    let tight = analyze(&["--format", "markdown", "--max-chars", "15000", capture]);
    assert!(tight.contains("finding(s) are left out (F"), "{tight}");
}
