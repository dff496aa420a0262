//! `faultline analyze --evidence`: the pcapng of the failed calls, checked with tshark against
//! the original capture (the frames kept, their times, lengths and link layers, and a packet
//! comment on every evidence frame).
//!
//! Needs tshark (CI installs it); without it the tests say so and pass.

mod lab;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

fn faultline() -> Command {
    Command::cargo_bin("faultline").expect("binary built")
}

fn have_tshark() -> bool {
    let found = Process::new("tshark").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: tshark is not installed (apt-get install tshark); CI installs it");
    }
    found
}

/// The key log a lab capture ships beside it (`NAME.keys`), if any.
fn keys_of(capture: &Path) -> Option<PathBuf> {
    let keys = capture.with_extension("keys");
    keys.exists().then_some(keys)
}

/// tshark's fields for the frames of `file`, decrypting TLS with its key log when it ships one
/// (and with the secrets blocks a capture or an evidence file holds, as tshark always does).
fn tshark(file: &Path, filter: Option<&str>, fields: &[&str]) -> Vec<String> {
    let mut cmd = Process::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "occurrence=a"]);
    if let Some(keys) = keys_of(file) {
        cmd.arg("-o")
            .arg(format!("tls.keylog_file:{}", keys.display()));
    }
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    for field in fields {
        cmd.args(["-e", field]);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(out.status.success(), "tshark failed on {}", file.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-evidence-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Analyses with each capture's key log and writes the evidence with the sessions' secrets, so
/// tshark decodes the evidence file's TLS exactly as it decodes the original's.
fn analyze_with_evidence(captures: &[&Path], evidence: &Path) -> Value {
    let mut cmd = faultline();
    cmd.arg("analyze");
    for keys in captures.iter().filter_map(|c| keys_of(c)) {
        cmd.arg("--keylog").arg(keys);
    }
    let out = cmd
        .args(captures)
        .args(["--format", "json", "--evidence-keys", "--evidence"])
        .arg(evidence)
        .assert()
        .success()
        .get_output()
        .clone();
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

/// The tshark filter for the frames of one finding's call in the original capture: its
/// `tcp.stream` (which also holds the ICMP errors quoting it), or for a lookup over UDP its
/// `udp.stream` between the lookup's first and last frame.
fn call_filter(capture: &Path, finding: &Value) -> String {
    let filter = finding["wireshark_filter"].as_str().expect("filter");
    if filter.starts_with("tcp.stream eq ") {
        return format!("({filter})");
    }
    let (first, last) = (&finding["first_frame"], &finding["last_frame"]);
    let streams = tshark(
        capture,
        Some(&format!("frame.number == {first}")),
        &["tcp.stream", "udp.stream"],
    );
    let row = streams.first().expect("the first frame exists");
    let mut cols = row.split('\t');
    let (tcp, udp) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""));
    if !tcp.is_empty() {
        format!("(tcp.stream eq {tcp})")
    } else {
        format!("(udp.stream eq {udp} && frame.number >= {first} && frame.number <= {last})")
    }
}

/// Checks one run: the frames kept are exactly the calls' frames (plus any frame a finding
/// names from elsewhere, e.g. a reference packet), in order, with the original time, length
/// and layers; every evidence frame carries its finding's comment. Returns frames written.
fn check(captures: &[&Path], doc: &Value, evidence: &Path) -> u64 {
    let findings = doc["findings"].as_array().expect("findings");
    let section = &doc["evidence_file"];
    assert_eq!(section["path"], evidence.to_string_lossy().as_ref());
    // Which capture each finding came from: findings are numbered file by file, in order.
    let mut expected_rows = Vec::new();
    let mut offset = 0;
    let per_file = per_file_findings(captures, findings);
    for (capture, list) in captures.iter().zip(&per_file) {
        let mut parts: Vec<String> = list.iter().map(|f| call_filter(capture, f)).collect();
        let named: BTreeSet<u64> = list
            .iter()
            .flat_map(|f| f["evidence"].as_array().expect("evidence").iter())
            .map(|e| e["frame"].as_u64().expect("frame"))
            .collect();
        parts.extend(named.iter().map(|n| format!("frame.number == {n}")));
        if parts.is_empty() {
            continue;
        }
        let fields = [
            "frame.time_epoch",
            "frame.len",
            "frame.cap_len",
            "frame.protocols",
        ];
        expected_rows.extend(tshark(capture, Some(&parts.join(" || ")), &fields));
        offset += list.len();
    }
    assert_eq!(offset, findings.len());
    let fields = [
        "frame.time_epoch",
        "frame.len",
        "frame.cap_len",
        "frame.protocols",
    ];
    let written_rows = tshark(evidence, None, &fields);
    assert_eq!(
        written_rows.len(),
        expected_rows.len(),
        "{captures:?}: frame count differs from tshark's filter on the original"
    );
    assert_eq!(written_rows, expected_rows, "{captures:?}: frames differ");
    assert_eq!(section["frames"], written_rows.len() as u64);

    // Every evidence frame carries "<id> <code>: <note>", at the number the report gives.
    let comments: BTreeMap<u64, String> = tshark(
        evidence,
        Some("frame.comment"),
        &["frame.number", "frame.comment"],
    )
    .into_iter()
    .map(|row| {
        let (n, c) = row.split_once('\t').expect("two columns");
        (n.parse().expect("frame number"), c.to_owned())
    })
    .collect();
    let mut numbered = BTreeSet::new();
    let mapping = section["findings"].as_array().expect("mapping");
    assert_eq!(mapping.len(), findings.len());
    for (f, m) in findings.iter().zip(mapping) {
        assert_eq!(m["id"], f["id"]);
        let evidence_list = f["evidence"].as_array().expect("evidence");
        let frames = m["frames"].as_array().expect("frames");
        assert_eq!(frames.len(), evidence_list.len());
        for (e, n) in evidence_list.iter().zip(frames) {
            let n = n.as_u64().expect("every evidence frame is written");
            numbered.insert(n);
            let want = format!(
                "{} {}: {}",
                f["id"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
                e["note"].as_str().unwrap()
            );
            let got = comments.get(&n).map_or("", String::as_str);
            assert!(
                got.contains(&want),
                "{captures:?}: frame {n} of the evidence file has comment {got:?}, not {want:?}"
            );
        }
    }
    let commented: BTreeSet<u64> = comments.keys().copied().collect();
    assert_eq!(
        commented, numbered,
        "{captures:?}: only evidence frames carry comments"
    );
    written_rows.len() as u64
}

/// Splits the findings by capture: the report ranks findings across files, so each is found
/// in the run of its own capture by its code, call and first frame.
fn per_file_findings<'a>(captures: &[&Path], findings: &'a [Value]) -> Vec<Vec<&'a Value>> {
    let key = |f: &Value| {
        (
            f["code"].to_string(),
            f["client"].to_string(),
            f["server"].to_string(),
            f["first_frame"].as_u64(),
        )
    };
    let mut out = Vec::new();
    for capture in captures {
        let mut cmd = faultline();
        cmd.arg("analyze");
        if let Some(keys) = keys_of(capture) {
            cmd.arg("--keylog").arg(keys);
        }
        let doc: Value = serde_json::from_slice(
            &cmd.arg(capture)
                .args(["--format", "json"])
                .assert()
                .success()
                .get_output()
                .stdout,
        )
        .expect("JSON");
        let own: Vec<_> = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(key)
            .collect();
        out.push(findings.iter().filter(|f| own.contains(&key(f))).collect());
    }
    out
}

#[test]
fn every_lab_capture_gives_an_evidence_file_of_exactly_its_failed_calls() {
    if !have_tshark() {
        return;
    }
    let mut with_findings = 0;
    for capture in lab::captures() {
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        let evidence = scratch(&format!("{name}.evidence.pcapng"));
        let doc = analyze_with_evidence(&[&capture], &evidence);
        let written = check(&[&capture], &doc, &evidence);
        let findings = doc["findings"].as_array().unwrap().len();
        assert_eq!(
            written == 0,
            findings == 0,
            "{name}: {written} frames written"
        );
        with_findings += usize::from(findings > 0);
    }
    assert!(
        with_findings >= 20,
        "only {with_findings} captures with findings"
    );
}

#[test]
fn syn_drop_evidence_is_the_two_unanswered_connects() {
    if !have_tshark() {
        return;
    }
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap");
    let evidence = scratch("syn-drop.pcapng");
    let doc = analyze_with_evidence(&[&capture], &evidence);
    // tshark: `tcp.stream eq 1 || tcp.stream eq 3` holds 8 frames, four SYNs each.
    assert_eq!(doc["evidence_file"]["frames"], 8);
    let rows = tshark(&evidence, Some("frame.comment"), &["frame.comment"]);
    assert_eq!(rows.len(), 8);
    assert!(rows[0].starts_with("F1 firewall.syn_unanswered: client SYN to port 8443"));
    assert!(rows[3].starts_with("F1 firewall.syn_unanswered: SYN retransmitted"));
    assert!(rows[4].starts_with("F2 firewall.syn_unanswered: client SYN"));
    // The nanosecond resolution is declared, so pcap's microseconds come back unchanged.
    let times = tshark(&evidence, None, &["frame.time_epoch"]);
    let original = tshark(
        &capture,
        Some("tcp.stream eq 1 || tcp.stream eq 3"),
        &["frame.time_epoch"],
    );
    assert_eq!(times, original);
}

#[test]
fn several_inputs_write_one_evidence_file_each_against_its_own_capture() {
    if !have_tshark() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let (a, b) = (dir.join("syn-drop.pcap"), dir.join("dns-rcodes.pcapng"));
    let evidence = scratch("two.pcapng");
    let doc = analyze_with_evidence(&[&a, &b], &evidence);
    let written = check(&[&a, &b], &doc, &evidence);
    assert_eq!(written, 8 + 28);
}

#[test]
fn standard_input_is_refused_with_a_reason() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap");
    let out = faultline()
        .args(["analyze", "-", "--evidence"])
        .arg(scratch("stdin.pcapng"))
        .pipe_stdin(&capture)
        .expect("stdin")
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("standard input can be read only once"),
        "{err}"
    );
}

#[test]
fn the_evidence_file_never_overwrites_an_input() {
    let copy = scratch("input-copy.pcap");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap"),
        &copy,
    )
    .expect("copy");
    let before = std::fs::read(&copy).expect("read");
    faultline()
        .arg("analyze")
        .arg(&copy)
        .arg("--evidence")
        .arg(&copy)
        .assert()
        .code(2);
    assert_eq!(std::fs::read(&copy).expect("read"), before);
}

/// `--evidence` naming the input under another name: refused (status 2, a reason), the input
/// byte for byte as it was, and no file left behind.
fn refused_over(input: &Path, output: &Path, stdin_from_input: bool) {
    let before = std::fs::read(input).expect("read");
    let mut cmd = Process::new(assert_cmd::cargo::cargo_bin("faultline"));
    cmd.current_dir(input.parent().expect("dir"))
        .arg("analyze")
        .arg(input)
        .arg("--evidence")
        .arg(output);
    if stdin_from_input {
        // Standard input is the input file itself: /dev/fd/0 names it.
        cmd.stdin(std::fs::File::open(input).expect("open"));
    }
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "{}", output.display());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("same file"), "{}: {err}", output.display());
    assert_eq!(
        std::fs::read(input).expect("read"),
        before,
        "{}",
        output.display()
    );
    let dir = input.parent().expect("dir");
    let temps = std::fs::read_dir(dir)
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(temps, 0);
}

#[test]
fn the_evidence_file_is_refused_over_any_name_of_an_input() {
    let input = scratch("named-input.pcap");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap"),
        &input,
    )
    .expect("copy");
    let hard = scratch("hard-link.pcapng");
    let _ = std::fs::remove_file(&hard);
    std::fs::hard_link(&input, &hard).expect("hard link");
    refused_over(&input, &hard, false);
    let soft = scratch("symlink.pcapng");
    let _ = std::fs::remove_file(&soft);
    std::os::unix::fs::symlink(&input, &soft).expect("symlink");
    refused_over(&input, &soft, false);
    refused_over(&input, Path::new("./named-input.pcap"), false);
    refused_over(&input, Path::new("/dev/fd/0"), true);
}

#[test]
fn the_evidence_file_replaces_an_old_one_without_truncating_its_other_names() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap");
    let evidence = scratch("replaced.pcapng");
    let other_name = scratch("kept-by-another-name.pcapng");
    std::fs::write(&evidence, b"an older file").expect("write");
    let _ = std::fs::remove_file(&other_name);
    std::fs::hard_link(&evidence, &other_name).expect("hard link");
    faultline()
        .arg("analyze")
        .arg(&capture)
        .arg("--evidence")
        .arg(&evidence)
        .assert()
        .success();
    assert_eq!(std::fs::read(&other_name).expect("read"), b"an older file");
    let written = std::fs::read(&evidence).expect("read");
    assert_eq!(written[..4], [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng");
}

#[test]
fn text_output_maps_frame_numbers_between_the_files() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap");
    let evidence = scratch("text.pcapng");
    let out = faultline()
        .arg("analyze")
        .arg(&capture)
        .arg("--evidence")
        .arg(&evidence)
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("8 frames (frame here = frame in the original capture)"));
    assert!(text.contains("F1 firewall.syn_unanswered: 1 = 9, 2 = 12, 3 = 13, 4 = 14"));
    assert!(text.contains("F2 firewall.syn_unanswered: 5 = 23, 6 = 28, 7 = 29, 8 = 30"));
}

#[test]
fn conns_refuses_the_analyze_only_outputs() {
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/syn-drop.pcap");
    for extra in [&["--evidence", "x.pcapng"][..], &["--format", "html"][..]] {
        let out = faultline()
            .arg("conns")
            .arg(&capture)
            .args(extra)
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(String::from_utf8_lossy(&out.stderr).contains("apply to `faultline analyze`"));
    }
}
