//! The command line on the capture shipped in `captures/`: what a user runs and sees.

use std::io::Write;
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

const CAPTURE: &str = "captures/http-with-refused.pcapng";

fn faultline() -> Command {
    Command::cargo_bin("faultline").expect("binary built")
}

fn json(args: &[&str]) -> Value {
    let out = faultline()
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

#[test]
fn analyze_json_has_the_fixed_shape_and_names_the_refused_connect() {
    let doc = json(&["analyze", "--format", "json", CAPTURE]);
    assert_eq!(doc["tool"]["name"], "faultline");
    let capture = &doc["capture"];
    assert_eq!(capture["files"], serde_json::json!([CAPTURE]));
    assert_eq!(capture["frames"], 38);
    assert_eq!(capture["malformed_frames"], 0);
    assert_eq!(capture["truncated"], false);
    assert_eq!(capture["link_types"], serde_json::json!(["ETHERNET"]));
    assert!(
        capture["first_ts"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    // A call is an HTTP exchange: five GETs on three connections, and the refused connect.
    assert_eq!(doc["calls"]["total"], 6);
    assert_eq!(doc["calls"]["failed"], 1);
    let findings = doc["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "only the refused connect failed");
    let f = &findings[0];
    assert_eq!(f["id"], "F1");
    assert_eq!(f["code"], "server.refused");
    assert_eq!(f["category"], "server");
    assert_eq!(f["server"]["port"], 81);
    assert_eq!(f["wireshark_filter"], "tcp.stream eq 3");
    let frames: Vec<u64> = f["evidence"]
        .as_array()
        .expect("evidence")
        .iter()
        .map(|e| e["frame"].as_u64().expect("frame"))
        .collect();
    assert!(frames.contains(&37) && frames.contains(&38), "{frames:?}");
    for key in ["summary", "explanation", "confidence"] {
        assert!(f[key].as_str().is_some_and(|s| !s.is_empty()), "{key}");
    }
    assert!(!f["remediation"].as_array().expect("remediation").is_empty());
}

#[test]
fn conns_lists_each_connection_with_wireshark_stream_and_zeek_state() {
    let rows = json(&["conns", "--format", "json", CAPTURE]);
    // Rows come as connections end; each names its Wireshark stream.
    let mut rows = rows.as_array().expect("array").clone();
    rows.sort_by_key(|row| row["stream"].as_u64());
    assert_eq!(
        rows.len(),
        4,
        "three HTTP connections and one refused connect"
    );
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["stream"], i as u64);
        assert_eq!(row["client"]["ip"], "198.18.0.1");
        assert_eq!(row["server"]["ip"], "198.18.0.2");
    }
    for row in &rows[..3] {
        assert_eq!(row["conn_state"], "SF");
        assert_eq!(row["history"], "ShADadFf");
        assert_eq!(row["client_to_server"]["retransmissions"], 0);
        assert!(row["initial_rtt_s"].as_f64().is_some());
    }
    // The keep-alive connection carried three requests: frames 3..=16.
    assert_eq!(rows[0]["first_frame"], 3);
    assert_eq!(rows[0]["last_frame"], 16);
    let refused = &rows[3];
    assert_eq!(refused["server"]["port"], 81);
    assert_eq!(refused["conn_state"], "REJ");
    assert_eq!(refused["history"], "Sr");
    assert_eq!(refused["first_frame"], 37);
    assert_eq!(refused["last_frame"], 38);
}

#[test]
fn standard_input_and_gzip_give_the_same_result_as_the_file() {
    let bytes = std::fs::read(CAPTURE).expect("capture");
    let from_stdin = faultline()
        .args(["conns", "--format", "json", "-"])
        .write_stdin(bytes.clone())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let gz = scratch("healthy.pcapng.gz");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&bytes).expect("gzip");
    std::fs::write(&gz, encoder.finish().expect("gzip")).expect("write");
    let from_gz = json(&[
        "conns",
        "--format",
        "json",
        gz.to_str().expect("utf-8 path"),
    ]);
    let from_file = json(&["conns", "--format", "json", CAPTURE]);
    assert_eq!(
        serde_json::from_slice::<Value>(&from_stdin).expect("json"),
        from_file
    );
    assert_eq!(from_gz, from_file);
}

#[test]
fn a_truncated_file_gives_partial_results_and_a_warning() {
    let bytes = std::fs::read(CAPTURE).expect("capture");
    let cut = scratch("cut.pcapng");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let out = faultline()
        .args([
            "analyze",
            "--format",
            "json",
            cut.to_str().expect("utf-8 path"),
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["capture"]["truncated"], true);
    let frames = doc["capture"]["frames"].as_u64().expect("frames");
    assert!(frames > 10 && frames < 38, "{frames} frames before the cut");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("cut.pcapng"),
        "{stderr}"
    );
}

#[test]
fn missing_files_and_non_captures_are_one_line_errors_with_status_2() {
    for (path, expected) in [
        ("no/such/file.pcap", "no/such/file.pcap"),
        ("Cargo.toml", "not a pcap or pcapng capture"),
    ] {
        let out = faultline()
            .args(["analyze", path])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(out.stdout.is_empty());
    }
    // Each cause is said once, though its message already quotes the error under it.
    let out = faultline()
        .args(["analyze", "--keylog", "no/such/keys.log", CAPTURE])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("No such file or directory").count(),
        1,
        "{stderr}"
    );
    let out = faultline()
        .args(["analyze", "no/such/file.pcap"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "faultline: no/such/file.pcap: No such file or directory (os error 2)"
    );
    let empty = scratch("empty.pcap");
    std::fs::write(&empty, b"").expect("write");
    faultline()
        .args(["conns", empty.to_str().expect("utf-8 path")])
        .assert()
        .code(2);
}

#[test]
fn conns_help_offers_only_its_own_formats_and_refuses_the_report_ones() {
    let out = faultline()
        .args(["conns", "--help"])
        .assert()
        .success()
        .get_output()
        .clone();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[possible values: text, json]"), "{help}");
    for other in ["ndjson", "markdown", "html", "--evidence"] {
        assert!(!help.contains(other), "conns --help offers {other}: {help}");
    }
    let out = faultline()
        .args(["conns", "--format", "markdown", CAPTURE])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apply to `faultline analyze`"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// Every `--flag` of a help text.
fn long_flags(help: &str) -> Vec<String> {
    let mut flags: Vec<String> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

#[test]
fn the_man_page_documents_every_analyze_option_and_completions_know_them() {
    let help = faultline()
        .args(["analyze", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let flags = long_flags(&help);
    assert!(
        flags.len() > 15 && flags.contains(&"--fail-on".to_string()),
        "{flags:?}"
    );

    let man = faultline()
        .args(["man", "analyze"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    // roff escapes the dashes of options (`\-\-fail\-on`).
    let man = String::from_utf8_lossy(&man).replace("\\-", "-");
    assert!(man.contains(".TH faultline-analyze 1"), "{man}");
    for flag in &flags {
        assert!(
            man.contains(&format!("\\fB{flag}\\fR")),
            "man page lacks {flag}"
        );
    }
    let top = faultline()
        .arg("man")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let top = String::from_utf8_lossy(&top).replace("\\-", "-");
    for sub in ["analyze", "conns", "live", "completions", "man"] {
        assert!(
            top.contains(&format!("faultline-{sub}(1)")),
            "faultline(1) lacks {sub}"
        );
    }

    let bash = faultline()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let bash = String::from_utf8_lossy(&bash);
    assert!(
        bash.contains("--fail-on") && bash.contains("--code"),
        "{bash}"
    );
    assert!(bash.contains("complete -F"), "a bash completion script");
    for shell in ["zsh", "fish"] {
        faultline().args(["completions", shell]).assert().success();
    }
    // Every page into a directory, as a package would install them.
    let dir = scratch("man");
    faultline()
        .args(["man", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    for page in ["faultline.1", "faultline-analyze.1", "faultline-conns.1"] {
        assert!(dir.join(page).is_file(), "{page} not written");
    }
}
