//! Per-endpoint statistics on lab captures, against numbers read with tshark: connect times
//! (SYN-ACK minus SYN), TLS handshake times (ClientHello to the server's Finished), time to
//! first byte and total, DNS answer times, payload bytes, success rates; and a call whose
//! response never came has no time to first byte. Also the text (`--stats`) and Markdown
//! tables.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn run(capture: &str, extra: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut cmd = Command::cargo_bin("faultline").expect("binary");
    cmd.args(["analyze", "--no-system-ca"]).args(extra);
    cmd.arg(root.join(capture));
    let keys = root.join(capture).with_extension("keys");
    if keys.exists() {
        cmd.arg("--keylog").arg(keys);
    }
    let out = cmd.output().expect("runs");
    assert!(out.status.success(), "{capture}: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn endpoints(capture: &str) -> Vec<Value> {
    let doc: Value = serde_json::from_str(&run(capture, &["--format", "json"])).expect("JSON");
    doc["endpoints"]
        .as_array()
        .expect("endpoints array")
        .clone()
}

/// The row of `ip:port` over `transport` with `route` (`None`: no route).
fn row<'a>(
    rows: &'a [Value],
    ip: &str,
    port: u64,
    transport: &str,
    route: Option<&str>,
) -> &'a Value {
    rows.iter()
        .find(|r| {
            r["server"]["ip"] == ip
                && r["server"]["port"] == port
                && r["transport"] == transport
                && route.map_or(r.get("route").is_none(), |t| {
                    format!(
                        "{} {}",
                        r["route"]["method"].as_str().unwrap_or(""),
                        r["route"]["template"].as_str().unwrap_or("")
                    ) == t
                })
        })
        .unwrap_or_else(|| panic!("no row {ip}:{port} {transport} {route:?} in {rows:#?}"))
}

/// (n, p50, max) of a latency in ms.
fn latency(row: &Value, which: &str) -> Option<(u64, f64, f64)> {
    let l = row["latency"].get(which)?;
    Some((
        l["n"].as_u64().expect("n"),
        l["p50_ms"].as_f64().expect("p50"),
        l["max_ms"].as_f64().expect("max"),
    ))
}

#[test]
fn calls_without_a_response_have_a_connect_time_but_no_time_to_first_byte() {
    let rows = endpoints("no-response.pcapng");
    let r = row(&rows, "198.18.1.2", 8080, "tcp", Some("GET /api/report"));
    assert_eq!(
        (r["calls"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["success_rate"].as_f64(), Some(0.0));
    // tshark: stream 0 SYN 0.000000000, SYN-ACK 0.040787165; stream 1 SYN 5.169656216,
    // SYN-ACK 5.210536461.
    assert_eq!(latency(r, "connect"), Some((2, 40.787, 40.88)));
    assert_eq!(latency(r, "ttfb"), None);
    assert_eq!(latency(r, "total"), None);
    let v6 = row(
        &rows,
        "fd0f:a17:f17:1::2",
        8080,
        "tcp",
        Some("GET /api/report"),
    );
    // Stream 2: SYN 9.246818727, SYN-ACK 9.287514270.
    assert_eq!(latency(v6, "connect"), Some((1, 40.696, 40.696)));
}

#[test]
fn tls12_handshake_and_http_times_equal_tsharks() {
    let rows = endpoints("https-api-tls12.pcapng");
    let admin = row(&rows, "198.18.1.2", 8443, "tcp", Some("GET /v1/admin"));
    // tshark -o tls.keylog_file: stream 1 SYN 0.195230506, SYN-ACK 0.235949700, ClientHello
    // 0.238615296, server Finished 0.324682603, request 0.325045000, 403 at 0.365903421.
    assert_eq!(latency(admin, "connect"), Some((1, 40.719, 40.719)));
    assert_eq!(latency(admin, "tls"), Some((1, 86.067, 86.067)));
    assert_eq!(latency(admin, "ttfb"), Some((1, 40.858, 40.858)));
    // The slow call: request 1.280253597, 200 at 3.821574591.
    let slow = row(&rows, "198.18.1.2", 8443, "tcp", Some("GET /v1/slow"));
    assert_eq!(latency(slow, "ttfb"), Some((1, 2541.321, 2541.321)));
    // A body the capture cut: its first byte came (TTFB), its last never did (no total).
    let cut = row(&rows, "198.18.1.2", 8443, "tcp", Some("GET /v1/truncated"));
    assert!(latency(cut, "ttfb").is_some());
    assert_eq!(latency(cut, "total"), None);
    // No response at all.
    let crash = row(&rows, "198.18.1.2", 8443, "tcp", Some("GET /v1/crash"));
    assert_eq!(latency(crash, "ttfb"), None);
    // Three calls answered 200, one refused.
    let ok = row(&rows, "fd0f:a17:f17:1::2", 8443, "tcp", Some("GET /v1/ok"));
    assert_eq!(
        (ok["calls"].as_u64(), ok["failed"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(ok["success_rate"].as_f64(), Some(75.0));
    assert_eq!(ok["name"], "api.lab.test");
}

#[test]
fn encrypted_connections_count_their_payload_and_tls13_ends_at_the_server_flight() {
    let rows = endpoints("healthy-https.pcap");
    let r = row(&rows, "198.18.1.2", 443, "tcp", None);
    // Connections read without keys: each is one call, not understood (no success rate).
    assert_eq!(
        (r["calls"].as_u64(), r["not_understood"].as_u64()),
        (Some(4), Some(4))
    );
    assert!(r.get("success_rate").is_none());
    // tshark -Y 'ip.dst==198.18.1.2' / 'ip.src==198.18.1.2', tcp.len summed.
    assert_eq!(r["bytes_to_server"].as_u64(), Some(2396));
    assert_eq!(r["bytes_to_client"].as_u64(), Some(6357));
    // TLS 1.2 stream 0: ClientHello 0.042570, server Finished 0.126020 (83.45 ms, the
    // longest); TLS 1.3 stream 2: ClientHello 0.408960, server flight 0.449882 (40.922 ms).
    let (n, p50, max) = latency(r, "tls").expect("TLS times");
    assert_eq!((n, p50, max), (4, 40.922, 83.45));
    // Each connection SYN to its last packet (stream 0: 0.251316 s, as tshark's conv says).
    assert_eq!(latency(r, "total").map(|l| (l.0, l.2)), Some((4, 251.316)));
}

#[test]
fn dns_lookups_time_query_to_answer() {
    let rows = endpoints("healthy-dns.pcapng");
    let udp = row(&rows, "198.18.1.2", 53, "udp", None);
    // tshark dns.time of the 12 answers: the 6th smallest 0.020732570, the largest 0.021987830.
    assert_eq!(latency(udp, "total"), Some((12, 20.733, 21.988)));
    assert_eq!(udp["success_rate"].as_f64(), Some(100.0));
    let tcp = row(&rows, "fd0f:a17:f17:1::2", 53, "tcp", None);
    assert_eq!(latency(tcp, "total"), Some((1, 25.385, 25.385)));
}

#[test]
fn text_shows_the_table_only_when_asked_and_markdown_always() {
    let plain = run("no-response.pcapng", &["--color", "never"]);
    assert!(!plain.contains("Per endpoint"));
    let text = run("no-response.pcapng", &["--color", "never", "--stats"]);
    let table = text.split("Per endpoint").nth(1).expect("the table");
    let line = table
        .lines()
        .find(|l| l.contains("198.18.1.2:8080"))
        .expect("the endpoint's line");
    assert!(line.contains("GET /api/report"), "{line}");
    assert!(line.contains("40.8/40.9/40.9/40.9 (2)"), "{line}");
    assert!(line.contains("0.0%"), "{line}");
    let md = run("no-response.pcapng", &["--format", "markdown"]);
    assert!(md.contains("## Per endpoint"));
    assert!(md.contains("| 198.18.1.2:8080 tcp"), "{md}");
}
