//! Several files: `--merge` reads them as one capture in time order (as mergecap does), and
//! without it each finding names the file its frame numbers count in.
//!
//! Lab captures are split at test time with Wireshark's `editcap -c` (a rotation) and
//! `tshark -Y` (two capture points of the same period); without those tools the tests say so
//! and pass (CI installs them).

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

mod contracts;

fn faultline() -> Command {
    Command::cargo_bin("faultline").expect("binary built")
}

fn have(tool: &str) -> bool {
    let found = Process::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: {tool} is not installed (apt-get install tshark); CI installs it");
    }
    found
}

fn lab(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// A fresh folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-merge-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run(tool: &str, args: &[&std::ffi::OsStr]) {
    let out = Process::new(tool).args(args).output().expect("tool runs");
    assert!(
        out.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `editcap -c frames`: the capture cut into files of `frames` frames each, as rotation cuts
/// it (`NAME_00000_<time>.pcap`, `NAME_00001_...`), in order.
fn rotate(capture: &Path, frames: u32, dir: &Path) -> Vec<PathBuf> {
    let name = capture.file_name().expect("a file name");
    let out = dir.join(name);
    let n = frames.to_string();
    run(
        "editcap",
        &[
            "-c".as_ref(),
            n.as_ref(),
            capture.as_os_str(),
            out.as_os_str(),
        ],
    );
    let mut parts: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .collect();
    parts.sort();
    parts
}

/// `tshark -Y filter -w out`: the frames of `capture` the filter keeps.
fn pick(capture: &Path, filter: &str, out: &Path) {
    run(
        "tshark",
        &[
            "-r".as_ref(),
            capture.as_os_str(),
            "-Y".as_ref(),
            filter.as_ref(),
            "-w".as_ref(),
            out.as_os_str(),
        ],
    );
}

/// `analyze --format json` with `args`; the document validates against the report schema.
fn analyze(args: &[&std::ffi::OsStr]) -> Value {
    let out = faultline()
        .arg("analyze")
        .args(args)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let doc = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let errors = contracts::schema_errors(&contracts::schema_validator(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    doc
}

fn paths(files: &[PathBuf]) -> Vec<&std::ffi::OsStr> {
    files.iter().map(|p| p.as_os_str()).collect()
}

/// What a user compares between two reports: each finding's cause, frames and evidence
/// frames, the connections and the calls.
fn essence(doc: &Value) -> Value {
    let findings: Vec<Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let evidence: Vec<&Value> = f["evidence"]
                .as_array()
                .expect("evidence")
                .iter()
                .map(|e| &e["frame"])
                .collect();
            serde_json::json!([f["code"], f["first_frame"], f["last_frame"], evidence])
        })
        .collect();
    serde_json::json!({
        "findings": findings,
        "frames": doc["capture"]["frames"],
        "tcp_connections": doc["capture"]["tcp_connections"],
        "calls": doc["calls"],
    })
}

#[test]
fn a_rotated_capture_merged_is_the_capture_it_was_cut_from() {
    if !have("editcap") {
        return;
    }
    let original = lab("packet-loss.pcap");
    let dir = scratch("rotated");
    let parts = rotate(&original, 700, &dir);
    assert_eq!(parts.len(), 3, "{parts:?}");
    let whole = analyze(&[original.as_os_str()]);
    // Given in any order: the merge follows the time stamps, not the arguments.
    let shuffled = [parts[2].clone(), parts[0].clone(), parts[1].clone()];
    let mut args = vec!["--merge".as_ref()];
    args.extend(paths(&shuffled));
    let merged = analyze(&args);
    assert_eq!(essence(&merged), essence(&whole));
    // The connection cut by the rotation is one connection, and its call one finding.
    assert_eq!(merged["capture"]["tcp_connections"], 3);
    assert_eq!(merged["capture"]["merged"], true);
    assert!(merged["capture"].get("hint").is_none());
    for f in merged["findings"].as_array().unwrap() {
        assert!(
            f.get("file").is_none(),
            "a merged capture is one capture: {f}"
        );
    }
}

#[test]
fn files_analysed_apart_name_their_file_and_count_frames_in_it() {
    if !have("editcap") {
        return;
    }
    let original = lab("packet-loss.pcap");
    let dir = scratch("apart");
    let parts = rotate(&original, 700, &dir);
    let whole = analyze(&[original.as_os_str()]);
    let apart = analyze(&paths(&parts));
    let names: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    // Apart, the connections cut by the rotation are counted once per file.
    assert_eq!(apart["capture"]["tcp_connections"], 5);
    assert!(apart["capture"].get("merged").is_none());
    assert_eq!(
        apart["capture"]["hint"],
        "these files look like one rotated capture; --merge reads them as one"
    );
    // Every finding names its file, and its frames are that file's: frame n of part k is
    // frame 700 k + n of the original. The call that starts in the first part is found there,
    // at the original's frames.
    let findings = apart["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        let file = f["file"].as_str().expect("each finding names its file");
        assert!(names.iter().any(|n| n == file), "one of the inputs: {file}");
        let last = f["last_frame"].as_u64().unwrap();
        assert!(last <= 700, "frame numbers count in {file}: {f}");
    }
    let first_whole = &whole["findings"][0];
    let first_part = findings
        .iter()
        .find(|f| f["file"] == names[0].as_str())
        .expect("a finding in the first part");
    assert_eq!(
        first_part["evidence"][0]["frame"],
        first_whole["evidence"][0]["frame"]
    );
    assert_eq!(first_part["code"], first_whole["code"]);
    // Each frame a finding names in part k is the original's frame 700 k + n: the same
    // time stamp.
    for f in findings {
        let k = names.iter().position(|n| f["file"] == n.as_str()).unwrap() as u64;
        for e in f["evidence"].as_array().unwrap() {
            let n = e["frame"].as_u64().unwrap();
            let here = frame_time(&parts[k as usize], n);
            assert_eq!(here, frame_time(&original, 700 * k + n), "{f}");
        }
    }
    // The text report says it next to the frames.
    let out = faultline()
        .arg("analyze")
        .args(paths(&parts))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains(&format!(
        "file     {} (frame numbers count in it)",
        names[0]
    )));
    assert!(text.contains("hint     these files look like one rotated capture"));
}

/// The capture time of frame `n` of `capture`, as tshark prints it.
fn frame_time(capture: &Path, n: u64) -> String {
    if !have("tshark") {
        return String::new();
    }
    let out = Process::new("tshark")
        .arg("-r")
        .arg(capture)
        .args(["-Y", &format!("frame.number == {n}")])
        .args(["-T", "fields", "-e", "frame.time_epoch"])
        .output()
        .expect("tshark runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_evidence_pass_reads_a_merged_capture_merged() {
    if !have("editcap") {
        return;
    }
    let original = lab("packet-loss.pcap");
    let dir = scratch("evidence");
    let parts = rotate(&original, 700, &dir);
    let (whole_ev, merged_ev) = (dir.join("whole.pcapng"), dir.join("merged.pcapng"));
    let mut args = vec![
        original.as_os_str(),
        "--evidence".as_ref(),
        whole_ev.as_os_str(),
    ];
    let whole = analyze(&args);
    args = vec![
        "--merge".as_ref(),
        "--evidence".as_ref(),
        merged_ev.as_os_str(),
    ];
    args.extend(paths(&parts));
    let merged = analyze(&args);
    assert_eq!(
        merged["evidence_file"]["frames"],
        whole["evidence_file"]["frames"]
    );
    assert_eq!(
        merged["evidence_file"]["findings"],
        whole["evidence_file"]["findings"]
    );
    assert_eq!(
        std::fs::read(&merged_ev).unwrap().len(),
        std::fs::read(&whole_ev).unwrap().len()
    );
    // The HTML report's ladders come from the same second pass.
    let out = faultline()
        .args(["analyze", "--merge", "--format", "html"])
        .args(paths(&parts))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let html = String::from_utf8(out).unwrap();
    assert!(html.contains("<th>merged</th>"));
}

#[test]
fn two_capture_points_of_one_period_interleave_by_time() {
    if !have("tshark") {
        return;
    }
    // Two hosts' captures of the same minutes: the connections split between them.
    let original = lab("gateway-errors.pcapng");
    let dir = scratch("points");
    let (one, two) = (dir.join("host1.pcapng"), dir.join("host2.pcapng"));
    pick(&original, "tcp.stream < 8 || !tcp", &one);
    pick(&original, "tcp.stream >= 8", &two);
    let whole = analyze(&[original.as_os_str()]);
    let merged = analyze(&["--merge".as_ref(), two.as_os_str(), one.as_os_str()]);
    assert_eq!(essence(&merged), essence(&whole));
    // Apart, the names look numbered but the times overlap: no rotation hint.
    let apart = analyze(&[one.as_os_str(), two.as_os_str()]);
    assert!(
        apart["capture"].get("hint").is_none(),
        "{}",
        apart["capture"]
    );
    let files: Vec<&str> = apart["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().expect("each finding names its file"))
        .collect();
    assert!(files.contains(&one.to_str().unwrap()) && files.contains(&two.to_str().unwrap()));
}

#[test]
fn frame_numbers_are_mergecaps() {
    if !have("tshark") || !have("mergecap") {
        return;
    }
    // Interleaved frames (every other one), given in reverse: mergecap's output and --merge
    // number the frames the same.
    let original = lab("http-haystack.pcap");
    let dir = scratch("mergecap");
    let (odd, even) = (dir.join("odd.pcap"), dir.join("even.pcap"));
    pick(&original, "frame.number % 2 == 1", &odd);
    pick(&original, "frame.number % 2 == 0", &even);
    let by_mergecap = dir.join("mergecap.pcapng");
    run(
        "mergecap",
        &[
            "-w".as_ref(),
            by_mergecap.as_os_str(),
            even.as_os_str(),
            odd.as_os_str(),
        ],
    );
    let theirs = analyze(&[by_mergecap.as_os_str()]);
    let ours = analyze(&["--merge".as_ref(), even.as_os_str(), odd.as_os_str()]);
    assert_eq!(essence(&ours), essence(&theirs));
    assert_eq!(essence(&ours), essence(&analyze(&[original.as_os_str()])));
}

#[test]
fn secrets_blocks_in_any_file_feed_the_key_log() {
    if !have("tshark") {
        return;
    }
    // The capture's Decryption Secrets Block goes with each part tshark writes; the second
    // part alone lacks the handshake of a connection cut by the split.
    let original = lab("https-api-tls13-dsb.pcapng");
    let dir = scratch("secrets");
    let (one, two) = (dir.join("one.pcapng"), dir.join("two.pcapng"));
    pick(&original, "frame.number <= 80", &one);
    pick(&original, "frame.number > 80", &two);
    let whole = analyze(&[original.as_os_str()]);
    let merged = analyze(&["--merge".as_ref(), two.as_os_str(), one.as_os_str()]);
    assert_eq!(essence(&merged), essence(&whole));
    assert_eq!(
        merged["capture"]["tls_decryption"],
        whole["capture"]["tls_decryption"]
    );
    assert_eq!(whole["capture"]["tls_decryption"]["no_keys"], 0);
}
