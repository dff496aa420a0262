//! Expected findings: every finding on the third-party corpus is the one an expert gives from the
//! packets, written down with its reason in `expected_findings.tsv` (how it was made and when it
//! may change: `EXPECTED.md`). Compared as a multiset: a new finding, a missing finding, evidence
//! without a key frame, or a capture the file does not list fails, one line per difference.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;

use faultline::analysis::{Config, Connection, FindingsMode, analyze_path};
use faultline::diagnose::{Finding, Transport};

use crate::corpus::Corpus;

/// The expected findings, beside this file.
const EXPECTED: &str = include_str!("expected_findings.tsv");

/// Codes that are notes about the capture itself, not findings about a call.
const CAPTURE_NOTES: &[&str] = &["capture.duplicate_frames"];

/// (code, where): the identity of a finding in the file.
type Key = (String, String);

/// One line of the file.
#[derive(Debug, Clone)]
struct Expected {
    line: usize,
    code: String,
    place: String,
    key_frames: Vec<u64>,
}

/// The file's lines by capture, checked for shape; shape errors are differences too.
fn read_expected(errors: &mut Vec<String>) -> BTreeMap<String, Vec<Expected>> {
    let mut by_capture: BTreeMap<String, Vec<Expected>> = BTreeMap::new();
    for (i, text) in EXPECTED.lines().enumerate() {
        let line = i + 1;
        if text.trim().is_empty() || text.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = text.split('\t').collect();
        if cols.len() != 5 || cols[4].trim().is_empty() {
            errors.push(format!(
                "expected_findings.tsv:{line}: not 5 TAB-separated columns with a reason"
            ));
            continue;
        }
        let key_frames = if cols[3] == "-" {
            Vec::new()
        } else {
            match cols[3].split(',').map(str::parse::<u64>).collect() {
                Ok(frames) => frames,
                Err(_) => {
                    errors.push(format!(
                        "expected_findings.tsv:{line}: key_frames {:?} is not a list of frame numbers",
                        cols[3]
                    ));
                    continue;
                }
            }
        };
        let (code, place) = (cols[1].to_string(), cols[2].to_string());
        let place_ok = match code.as_str() {
            "none" => place == "-",
            c if CAPTURE_NOTES.contains(&c) => place == "capture",
            _ => place_shape_ok(&place),
        };
        if !place_ok {
            errors.push(format!(
                "expected_findings.tsv:{line}: where {place:?} does not fit code {code}"
            ));
        }
        by_capture
            .entry(cols[0].to_string())
            .or_default()
            .push(Expected {
                line,
                code,
                place,
                key_frames,
            });
    }
    for (capture, lines) in &by_capture {
        let none = lines.iter().filter(|e| e.code == "none").count();
        let findings = lines
            .iter()
            .filter(|e| e.code != "none" && !CAPTURE_NOTES.contains(&e.code.as_str()))
            .count();
        if none > 1 || (none == 1 && findings > 0) {
            errors.push(format!(
                "expected_findings.tsv: {capture} has a `none` line beside findings or twice"
            ));
        }
    }
    by_capture
}

/// `stream N` or `udp A:P->B:P` with both sides socket addresses.
fn place_shape_ok(place: &str) -> bool {
    if let Some(n) = place.strip_prefix("stream ") {
        return n.parse::<u64>().is_ok();
    }
    let Some(flow) = place.strip_prefix("udp ") else {
        return false;
    };
    let Some((a, b)) = flow.split_once("->") else {
        return false;
    };
    a.parse::<SocketAddr>().is_ok() && b.parse::<SocketAddr>().is_ok()
}

/// Where a finding is, in the file's terms. A lookup over TCP carries no stream of its own: it
/// is placed on the connection with its endpoints.
fn place_of(f: &Finding, connections: &[Connection]) -> String {
    let side = |ip: std::net::IpAddr, port: u16| SocketAddr::new(ip, port).to_string();
    let stream = (f.stream != u64::MAX).then_some(f.stream).or_else(|| {
        connections
            .iter()
            .find(|c| c.tcp.client == f.client && c.tcp.server == f.server)
            .map(|c| c.tcp.stream)
    });
    match f.transport {
        Transport::Tcp if stream.is_some() => format!("stream {}", stream.unwrap_or_default()),
        Transport::Tcp => format!(
            "tcp {}->{}",
            side(f.client.ip, f.client.port),
            side(f.server.ip, f.server.port)
        ),
        Transport::Udp => format!(
            "udp {}->{}",
            side(f.client.ip, f.client.port),
            side(f.server.ip, f.server.port)
        ),
    }
}

/// The capture-level notes the analysis exposes, by code, or `None` when it exposes no notes
/// at all. Read from the JSON report (`notes` at the top or under `capture`, each a code string
/// or an object with a `code`), so the test compiles whatever shape the notes take in the code.
fn exposed_notes(capture: &Path) -> Option<BTreeMap<String, Vec<u64>>> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["analyze", "--no-system-ca", "--format", "json"])
        .arg(capture)
        .output()
        .expect("faultline runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let notes = report
        .get("notes")
        .or_else(|| report.get("capture").and_then(|c| c.get("notes")))?
        .as_array()?;
    let mut by_code: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for note in notes {
        let (code, frames) = match note {
            serde_json::Value::String(s) => (s.clone(), Vec::new()),
            other => {
                let code = other.get("code").and_then(|c| c.as_str()).unwrap_or("");
                let frames = other
                    .get("evidence")
                    .or_else(|| other.get("frames"))
                    .and_then(|e| e.as_array())
                    .map(|e| {
                        e.iter()
                            .filter_map(|x| x.get("frame").unwrap_or(x).as_u64())
                            .collect()
                    })
                    .unwrap_or_default();
                (code.to_string(), frames)
            }
        };
        by_code.entry(code).or_default().extend(frames);
    }
    Some(by_code)
}

/// The key frames the evidence does not hold (`has` says whether it holds one).
fn missing_frames(key_frames: &[u64], has: impl Fn(&u64) -> bool) -> Vec<u64> {
    key_frames.iter().copied().filter(|k| !has(k)).collect()
}

/// Compares one capture's findings with its lines; appends one line per difference.
fn compare(
    name: &str,
    findings: &[Finding],
    connections: &[Connection],
    expected: &[Expected],
    diffs: &mut Vec<String>,
) {
    // Expected findings by key, in file order; each actual finding takes the first expected one
    // with its key whose key frames its evidence holds, else the first with its key.
    let mut open: BTreeMap<Key, Vec<&Expected>> = BTreeMap::new();
    for e in expected
        .iter()
        .filter(|e| e.code != "none" && !CAPTURE_NOTES.contains(&e.code.as_str()))
    {
        open.entry((e.code.clone(), e.place.clone()))
            .or_default()
            .push(e);
    }
    // Unexpected findings by key: the first frame of each.
    let mut unexpected: BTreeMap<Key, Vec<u64>> = BTreeMap::new();
    let mut lacking = Vec::new();
    for f in findings {
        let key = (f.code.clone(), place_of(f, connections));
        let frames: BTreeSet<u64> = f.evidence.iter().map(|e| e.frame).collect();
        let Some(candidates) = open.get_mut(&key).filter(|c| !c.is_empty()) else {
            unexpected.entry(key).or_default().push(f.first_frame);
            continue;
        };
        let holds = |e: &&Expected| e.key_frames.iter().all(|k| frames.contains(k));
        let i = candidates.iter().position(holds).unwrap_or(0);
        let e = candidates.remove(i);
        let missing = missing_frames(&e.key_frames, |k| frames.contains(k));
        if !missing.is_empty() {
            lacking.push(format!(
                "LACKING {name} {} {} (line {}): evidence {:?} lacks key frames {missing:?}",
                e.code, e.place, e.line, frames
            ));
        }
    }
    for ((code, place), firsts) in unexpected {
        for first in firsts {
            diffs.push(format!(
                "UNEXPECTED {name} {code} {place}: first frame {first}"
            ));
        }
    }
    for ((code, place), left) in open {
        for e in left {
            diffs.push(format!("MISSING {name} {code} {place} (line {})", e.line));
        }
    }
    diffs.extend(lacking);
}

/// Expected capture notes against what the analysis exposes.
fn compare_notes(capture: &Path, name: &str, expected: &[Expected], diffs: &mut Vec<String>) {
    let wanted: Vec<&Expected> = expected
        .iter()
        .filter(|e| CAPTURE_NOTES.contains(&e.code.as_str()))
        .collect();
    let exposed = exposed_notes(capture);
    let Some(exposed) = exposed else {
        for e in wanted {
            diffs.push(format!(
                "MISSING {name} {} capture (line {}): the analysis exposes no capture notes \
                 (no `notes` in the JSON report)",
                e.code, e.line
            ));
        }
        return;
    };
    for e in &wanted {
        match exposed.get(&e.code) {
            None => diffs.push(format!(
                "MISSING {name} {} capture (line {})",
                e.code, e.line
            )),
            Some(frames) if !frames.is_empty() => {
                let missing = missing_frames(&e.key_frames, |k| frames.contains(k));
                if !missing.is_empty() {
                    diffs.push(format!(
                        "LACKING {name} {} capture (line {}): lacks key frames {missing:?}",
                        e.code, e.line
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for code in exposed.keys() {
        if CAPTURE_NOTES.contains(&code.as_str()) && !wanted.iter().any(|e| &e.code == code) {
            diffs.push(format!("UNEXPECTED {name} {code} capture"));
        }
    }
}

#[test]
#[ignore = "needs ../shared/corpus: cargo test --test conformance -- --include-ignored"]
fn findings_on_the_corpus_are_the_expected_ones() {
    let corpus = Corpus::locate();
    let mut diffs = Vec::new();
    let expected = read_expected(&mut diffs);
    let captures = corpus.captures();
    let names: BTreeSet<String> = captures.iter().map(|c| corpus.relative(c)).collect();
    for listed in expected.keys() {
        if !names.contains(listed) {
            diffs.push(format!(
                "UNKNOWN {listed}: listed in expected_findings.tsv but not in the corpus"
            ));
        }
    }
    for capture in &captures {
        let name = corpus.relative(capture);
        let Some(lines) = expected.get(&name) else {
            diffs.push(format!("UNLISTED {name}: no line in expected_findings.tsv"));
            continue;
        };
        // Every call's finding on its own: the expert lists calls, not aggregates.
        let every = Config {
            findings: FindingsMode::Every,
            ..Config::default()
        };
        let analysis = analyze_path(&capture.to_string_lossy(), every)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        compare(
            &name,
            &analysis.findings,
            &analysis.connections,
            lines,
            &mut diffs,
        );
        compare_notes(capture, &name, lines, &mut diffs);
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &diffs {
        *kinds.entry(d.split(' ').next().unwrap_or("")).or_default() += 1;
    }
    assert!(
        diffs.is_empty(),
        "{} differences from tests/conformance/expected_findings.tsv ({kinds:?}); change the \
         file only when the packets are reread (EXPECTED.md):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// The default report folds the expert's per-call list: a capture whose calls failed alike
/// against one server in numbers gives one aggregate finding counting each of them, and every
/// other capture's findings are unchanged (the same codes and counts, with each aggregate
/// standing for its calls).
#[test]
#[ignore = "needs ../shared/corpus: cargo test --test conformance -- --include-ignored"]
fn the_default_report_aggregates_the_expected_calls_without_losing_one() {
    let corpus = Corpus::locate();
    let mut errors = Vec::new();
    let expected = read_expected(&mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    let echo = corpus.path("zeek/echo-connections.pcap");
    let analysis =
        analyze_path(echo.to_str().expect("utf-8 path"), Config::default()).expect("capture reads");
    let calls = expected["zeek/echo-connections.pcap"]
        .iter()
        .filter(|e| e.code == "server.listen_queue_full")
        .count() as u64;
    assert!(calls > faultline::analysis::AGGREGATE_AFTER as u64);
    assert_eq!(analysis.findings.len(), 1, "{:#?}", analysis.findings);
    let group = analysis.findings[0]
        .aggregate
        .as_ref()
        .expect("an aggregate finding");
    assert_eq!(analysis.findings[0].code, "server.listen_queue_full");
    assert_eq!(group.calls, calls);
    for capture in corpus.captures() {
        let name = corpus.relative(&capture);
        let Some(lines) = expected.get(&name) else {
            continue;
        };
        let analysis = analyze_path(&capture.to_string_lossy(), Config::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut ours: BTreeMap<&str, u64> = BTreeMap::new();
        for f in &analysis.findings {
            *ours.entry(&f.code).or_default() += f.aggregate.as_ref().map_or(1, |g| g.calls);
        }
        let mut theirs: BTreeMap<&str, u64> = BTreeMap::new();
        for e in lines
            .iter()
            .filter(|e| e.code != "none" && !e.code.starts_with("capture."))
        {
            *theirs.entry(&e.code).or_default() += 1;
        }
        assert_eq!(ours, theirs, "{name}");
    }
}
