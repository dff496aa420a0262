//! `faultline conns` on HTTP/2: the lab's healthy h2 capture (nginx h2c with prior knowledge on
//! :8081 by curl and nghttp; h2 over TLS on :8443 without keys), JSON and text. The expected
//! streams are TShark's (`tshark -d tcp.port==8081,http2`): TCP stream 6 and 7 one stream each
//! (id 1), stream 8 four (ids 13-19, nghttp's first streams after its PRIORITY anchors), all 200.

use assert_cmd::Command;
use serde_json::Value;

const CAPTURE: &str = "captures/healthy-suite-h2.pcapng";

fn conns(format: &str) -> Vec<u8> {
    let out = Command::cargo_bin("faultline")
        .expect("binary built")
        .args(["conns", "--format", format, CAPTURE])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn json_lists_each_h2c_stream_with_its_status() {
    let rows: Value = serde_json::from_slice(&conns("json")).expect("JSON");
    let rows = rows.as_array().expect("array");
    let mut seen = Vec::new();
    for row in rows {
        let stream = row["stream"].as_u64().expect("stream");
        let Some(h2) = row.get("http2") else {
            continue;
        };
        assert_eq!(h2["start"], "prior_knowledge", "TCP stream {stream}");
        let ids: Vec<u64> = h2["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .map(|s| {
                assert_eq!(s["status"], 200, "TCP stream {stream}: {s}");
                assert_eq!(s["method"], "GET", "TCP stream {stream}: {s}");
                assert_eq!(s["reset"], Value::Null, "TCP stream {stream}: {s}");
                assert!(s["end_frame"].is_u64(), "TCP stream {stream}: {s}");
                s["id"].as_u64().expect("id")
            })
            .collect();
        assert_eq!(h2["stream_count"], ids.len() as u64);
        seen.push((stream, ids));
    }
    seen.sort();
    assert_eq!(
        seen,
        [(6, vec![1]), (7, vec![1]), (8, vec![13, 15, 17, 19])],
        "h2c connections and their streams"
    );
    // The TLS connections were not decrypted (no keys): nothing is claimed about them.
    assert!(
        rows.iter()
            .filter(|r| r.get("tls").is_some())
            .all(|r| r.get("http2").is_none())
    );
}

#[test]
fn text_says_h2_and_the_stream_count_under_each_h2c_connection() {
    let text = String::from_utf8(conns("text")).expect("utf-8");
    let mut h2_lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("h2 "))
        .collect();
    // Rows come as connections end: compare as a set.
    h2_lines.sort_unstable();
    assert_eq!(
        h2_lines,
        [
            "h2 (prior knowledge): 1 stream, 0 failed",
            "h2 (prior knowledge): 1 stream, 0 failed",
            "h2 (prior knowledge): 4 streams, 0 failed; GOAWAY NO_ERROR from client last stream 0 (frame 228)",
        ],
        "{text}"
    );
}
