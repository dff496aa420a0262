//! A cut or corrupt `.gz` capture gives the results of what was read before the damage and a
//! warning, exactly as a plain capture cut the same way does (issue 15).

use std::io::{Read, Write};
use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

const CAPTURE: &str = "captures/http-haystack.pcap";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Exit code, the JSON report and standard error of `analyze --format json` on `bytes`.
fn analyze(name: &str, bytes: &[u8]) -> (i32, Value, String) {
    let path = scratch(name);
    std::fs::write(&path, bytes).expect("write");
    let out = Command::cargo_bin("faultline")
        .expect("binary built")
        .args(["analyze", "--format", "json"])
        .arg(&path)
        .output()
        .expect("runs");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        doc,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Each finding as (code, frames it cites).
fn findings(doc: &Value) -> Vec<(String, Vec<u64>)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let frames = f["evidence"]
                .as_array()
                .expect("evidence")
                .iter()
                .filter_map(|e| e["frame"].as_u64())
                .collect();
            (f["code"].as_str().expect("code").to_string(), frames)
        })
        .collect()
}

/// What a gzip reader gets out of `gz` before its first error.
fn decompressible_prefix(gz: &[u8]) -> Vec<u8> {
    let mut decoder = flate2::read::MultiGzDecoder::new(gz);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = decoder.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn a_gzip_cut_at_60_percent_reads_like_the_plain_capture_cut_at_the_same_byte() {
    let plain = std::fs::read(CAPTURE).expect("capture");
    let gz = gzip(&plain);
    let cut_gz = &gz[..gz.len() * 6 / 10];
    let prefix = decompressible_prefix(cut_gz);
    assert!(prefix.len() > plain.len() / 3 && prefix.len() < plain.len());

    let (code, doc, stderr) = analyze("cut.pcap.gz", cut_gz);
    let (plain_code, plain_doc, plain_stderr) = analyze("cut.pcap", &prefix);
    assert_eq!((code, plain_code), (0, 0), "{stderr}");
    assert_eq!(doc["capture"]["truncated"], true);
    assert_eq!(doc["capture"]["frames"], plain_doc["capture"]["frames"]);
    assert!(doc["capture"]["frames"].as_u64().expect("frames") > 100);
    assert_eq!(findings(&doc), findings(&plain_doc));
    // http-haystack's 429 lies in the first half; the findings are those of the frames read.
    assert!(
        findings(&doc)
            .iter()
            .any(|(code, _)| code == "client.rate_limited")
    );
    assert!(
        stderr.contains("warning") && stderr.contains("cut.pcap.gz") && stderr.contains("gzip"),
        "{stderr}"
    );
    assert!(plain_stderr.contains("warning"), "{plain_stderr}");
}

#[test]
fn a_gzip_corrupt_in_the_middle_gives_the_findings_before_the_damage_and_a_warning() {
    let plain = std::fs::read(CAPTURE).expect("capture");
    let mut gz = gzip(&plain);
    let middle = gz.len() / 2;
    for b in &mut gz[middle..middle + 16] {
        *b ^= 0x5a;
    }
    let (code, doc, stderr) = analyze("corrupt.pcap.gz", &gz);
    let (_, whole, _) = analyze("whole.pcap", &plain);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["capture"]["truncated"], true);
    assert!(
        stderr.contains("warning")
            && stderr.contains("corrupt.pcap.gz")
            && stderr.contains("damaged"),
        "{stderr}"
    );
    let frames = doc["capture"]["frames"].as_u64().expect("frames");
    assert!(frames > 100 && frames < whole["capture"]["frames"].as_u64().expect("frames"));
    // Gzip finds corruption only at its checksum, after the damaged bytes went by: findings of
    // the frames before the first damaged one are all there, and nothing else is changed
    // except what cites a damaged frame.
    let damaged = first_damaged_frame(&plain, &decompressible_prefix(&gz));
    assert!(damaged > 100 && damaged <= frames + 1, "{damaged}");
    let intact = findings(&whole);
    let read = findings(&doc);
    let before: Vec<_> = intact
        .iter()
        .filter(|(_, frames)| frames.iter().all(|&n| n < damaged))
        .collect();
    assert!(!before.is_empty());
    for f in &before {
        assert!(read.contains(f), "{f:?} is missing");
    }
    for f in &read {
        assert!(
            intact.contains(f) || f.1.iter().any(|&n| n >= damaged),
            "{f:?} cites only undamaged frames yet is not in the intact capture's findings"
        );
    }
}

/// The number of the frame whose record holds the first byte where `read` differs from
/// `plain` (a legacy pcap: a 24-byte file header, then records with a 16-byte header).
fn first_damaged_frame(plain: &[u8], read: &[u8]) -> u64 {
    let differs = plain
        .iter()
        .zip(read)
        .position(|(a, b)| a != b)
        .unwrap_or(plain.len().min(read.len()));
    let (mut at, mut frame) = (24usize, 1u64);
    while at + 16 <= plain.len() {
        let caplen = u32::from_le_bytes(plain[at + 8..at + 12].try_into().expect("4 bytes"));
        let next = at + 16 + caplen as usize;
        if differs < next {
            return frame;
        }
        at = next;
        frame += 1;
    }
    frame
}

#[test]
fn a_gzip_damaged_before_the_capture_header_is_a_one_line_error() {
    let plain = std::fs::read(CAPTURE).expect("capture");
    let gz = gzip(&plain);
    let (code, doc, stderr) = analyze("header-only.pcap.gz", &gz[..12]);
    assert_eq!(code, 2);
    assert_eq!(doc, Value::Null);
    assert!(stderr.contains("header-only.pcap.gz"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
