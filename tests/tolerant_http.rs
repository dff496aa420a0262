//! HTTP/1.x heads that break the rules are still followed, as Wireshark and real servers follow
//! them, and the anomaly is counted per connection and per capture (issue 15): a 503 with a
//! control byte in a header value, obs-fold lines or hundreds of headers still gives its
//! finding, and pipelined requests are matched with their responses.

mod crafted;

use crafted::{Capture, Tcp, counted, findings};
use faultline::analysis::{Analysis, Config, analyze_path};
use faultline::app::http;

const REQUEST: &[u8] = b"GET /v1/items HTTP/1.1\r\nHost: api.test\r\n\r\n";

/// One connection: `request`, then `response` in one segment; the analysis and the frames of
/// the request and the response.
fn exchange(name: &str, request: &[u8], response: &[u8]) -> (Analysis, u64, u64) {
    let mut cap = Capture::default();
    let mut tcp = Tcp::open(&mut cap, 40_000, 8080);
    let req = tcp.send(&mut cap, true, request)[0];
    let resp = tcp.send(&mut cap, false, response)[0];
    tcp.close(&mut cap);
    let analysis = analyze_path(&cap.write(name), Config::default()).expect("a capture");
    (analysis, req, resp)
}

fn service_unavailable(headers: &[u8]) -> Vec<u8> {
    let mut out = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n".to_vec();
    out.extend_from_slice(headers);
    out.extend_from_slice(b"\r\ndown");
    out
}

fn assert_503(a: &Analysis, req: u64, resp: u64) {
    assert_eq!(
        findings(a),
        [("server.http_503".to_string(), vec![req, resp])],
        "{:#?}",
        a.findings
    );
    assert_eq!((a.calls_total, a.calls_failed), (1, 1));
}

#[test]
fn a_503_with_a_control_byte_in_a_header_value_gives_its_finding() {
    let response = service_unavailable(b"Server: lab\x1b[2Japi\r\nRetry-After: 30\r\n");
    let (a, req, resp) = exchange("control-byte.pcap", REQUEST, &response);
    assert_503(&a, req, resp);
    let conn = &a.connections[0];
    assert_eq!(conn.app.anomalies.count(http::INVALID_BYTES), 1);
    assert_eq!(counted(&a, http::INVALID_BYTES), 1);
    // The header was read (its control byte dropped), and the rest of the head with it.
    let head = &conn.app.http.exchanges[0]
        .response
        .as_ref()
        .expect("response")
        .head;
    assert_eq!(head.server(), Some("lab[2Japi"));
    assert_eq!(head.retry_after(), Some("30"));
}

#[test]
fn a_503_with_obs_fold_lines_gives_its_finding() {
    let response = service_unavailable(b"Server: lab\r\n  api\r\nVia: 1.1 edge\r\n");
    let (a, req, resp) = exchange("obs-fold.pcap", REQUEST, &response);
    assert_503(&a, req, resp);
    assert_eq!(counted(&a, http::OBS_FOLD), 1);
    assert_eq!(counted(&a, http::INVALID_BYTES), 0);
    let head = &a.connections[0].app.http.exchanges[0]
        .response
        .as_ref()
        .expect("response")
        .head;
    assert_eq!(head.server(), Some("lab  api"));
    assert_eq!(head.via(), Some("1.1 edge"));
}

fn many_headers(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| format!("X-Filler-{i}: {i}\r\n").into_bytes())
        .collect()
}

#[test]
fn a_503_with_150_or_500_headers_gives_its_finding() {
    for n in [150, 500] {
        let response = service_unavailable(&many_headers(n));
        let (a, req, resp) = exchange(&format!("headers-{n}.pcap"), REQUEST, &response);
        let resp_first = resp;
        // 500 headers take several segments: the finding cites the one the head began in.
        assert_eq!(a.findings.len(), 1, "{n} headers");
        assert_eq!(a.findings[0].code, "server.http_503", "{n} headers");
        let frames: Vec<u64> = a.findings[0].evidence.iter().map(|e| e.frame).collect();
        assert_eq!(frames[..2], [req, resp_first], "{n} headers");
        assert_eq!(counted(&a, http::MANY_HEADERS), 1, "{n} headers");
    }
}

#[test]
fn a_request_with_hundreds_of_headers_and_a_control_byte_is_still_paired() {
    let mut request = b"POST /v1/upload HTTP/1.1\r\nHost: api.test\r\nX-Trace: a\x01b\r\n".to_vec();
    request.extend(many_headers(300));
    request.extend_from_slice(b"Content-Length: 3\r\n\r\nabc");
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut both = request.clone();
    both.extend_from_slice(b"GET /v1/next HTTP/1.1\r\nHost: api.test\r\n\r\n");
    let responses = [&ok[..], &service_unavailable(b"")].concat();
    let (a, _, _) = exchange("request-headers.pcap", &both, &responses);
    let http = &a.connections[0].app.http;
    assert!(
        !http.client_desync,
        "the body was framed and the next request read"
    );
    let targets: Vec<&str> = http
        .exchanges
        .iter()
        .map(|e| e.request.as_ref().expect("request").head.target.as_str())
        .collect();
    assert_eq!(targets, ["/v1/upload", "/v1/next"]);
    assert_eq!(
        http.exchanges[0]
            .request
            .as_ref()
            .expect("request")
            .body_bytes,
        3
    );
    assert_eq!(a.findings.len(), 1);
    assert_eq!(a.findings[0].code, "server.http_503");
    assert_eq!(counted(&a, http::MANY_HEADERS), 1);
    assert_eq!(counted(&a, http::INVALID_BYTES), 1);
    assert_eq!((a.calls_total, a.calls_failed), (2, 1));
}

#[test]
fn clean_heads_count_no_anomaly() {
    let (a, req, resp) = exchange(
        "clean.pcap",
        REQUEST,
        &service_unavailable(b"Server: x\r\n"),
    );
    assert_503(&a, req, resp);
    assert!(a.capture.anomalies.is_empty(), "{:?}", a.capture.anomalies);
}

#[test]
fn two_hundred_pipelined_requests_are_matched_with_their_responses() {
    let mut cap = Capture::default();
    let mut tcp = Tcp::open(&mut cap, 40_001, 8080);
    let requests: Vec<u8> = (0..200)
        .flat_map(|i| format!("GET /v1/items/{i} HTTP/1.1\r\nHost: api.test\r\n\r\n").into_bytes())
        .collect();
    // All 200 requests leave before the first answer (about 9 KB, in 7 segments).
    let request_frames = tcp.send(&mut cap, true, &requests);
    let per_segment = 1400;
    let responses: Vec<u8> = (0..200)
        .flat_map(|i| {
            if i == 149 {
                service_unavailable(b"Retry-After: 5\r\n")
            } else {
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec()
            }
        })
        .collect();
    let response_frames = tcp.send(&mut cap, false, &responses);
    tcp.close(&mut cap);
    let a = analyze_path(&cap.write("pipelined.pcap"), Config::default()).expect("a capture");
    assert_eq!((a.calls_total, a.calls_failed), (200, 1));
    let http = &a.connections[0].app.http;
    assert_eq!((http.requests, http.responses), (200, 200));
    assert!(http.exchanges.iter().all(|e| e.response.is_some()));
    // Request 150 began in the segment holding its first byte; so did its answer.
    let offset = |bytes: &[u8], i: usize, line: &[u8]| {
        bytes
            .windows(line.len())
            .enumerate()
            .filter(|(_, w)| w == &line)
            .nth(i)
            .map(|(at, _)| at)
            .expect("present")
    };
    let req_at = offset(&requests, 149, b"GET ");
    let resp_at = offset(&responses, 149, b"HTTP/1.1 ");
    let expected = [
        request_frames[req_at / per_segment],
        response_frames[resp_at / per_segment],
    ];
    let got = findings(&a);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "server.http_503");
    assert_eq!(got[0].1[..2], expected[..]);
    assert!(a.capture.anomalies.is_empty(), "{:?}", a.capture.anomalies);
}

/// A keep-alive connection of `n` exchanges, one after the other; `status(i)` answers the
/// i-th. The analysis and the frames of each request and response.
fn keep_alive(name: &str, n: usize, status: impl Fn(usize) -> u16) -> (Analysis, Vec<(u64, u64)>) {
    let mut cap = Capture::default();
    let mut tcp = Tcp::open(&mut cap, 40_003, 8080);
    let mut frames = Vec::new();
    for i in 0..n {
        let req = tcp.send(
            &mut cap,
            true,
            format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(),
        )[0];
        let answer = format!("HTTP/1.1 {} X\r\nContent-Length: 0\r\n\r\n", status(i));
        let resp = tcp.send(&mut cap, false, answer.as_bytes())[0];
        frames.push((req, resp));
    }
    tcp.close(&mut cap);
    let a = analyze_path(&cap.write(name), Config::default()).expect("a capture");
    (a, frames)
}

#[test]
fn a_503_after_thousands_of_healthy_exchanges_on_one_connection_is_found() {
    let n = http::MAX_EXCHANGES + 1000;
    let (a, frames) = keep_alive("long-keep-alive.pcap", n, |i| {
        if i == n - 500 { 503 } else { 200 }
    });
    let (req, resp) = frames[n - 500];
    assert_eq!(
        findings(&a),
        [("server.http_503".to_string(), vec![req, resp])]
    );
    assert_eq!((a.calls_total, a.calls_failed), (n as u64, 1));
    assert!(a.capture.anomalies.is_empty(), "{:?}", a.capture.anomalies);
}

#[test]
fn failures_beyond_the_record_of_failures_are_counted_not_dropped_silently() {
    let n = http::MAX_EXCHANGES + 100;
    let (a, _) = keep_alive("all-failing.pcap", n, |_| 503);
    // Every judged 503 is counted, in one aggregate finding (same cause, same server).
    assert_eq!(a.findings.len(), 1);
    let group = a.findings[0].aggregate.as_ref().expect("an aggregate");
    assert_eq!(group.calls, http::MAX_EXCHANGES as u64);
    assert_eq!(a.calls_total, n as u64);
    assert_eq!(counted(&a, http::BEYOND_CAP), 100);
}

#[test]
fn exchanges_beyond_the_kept_ones_are_counted_as_calls_and_as_an_anomaly() {
    let mut cap = Capture::default();
    let mut tcp = Tcp::open(&mut cap, 40_002, 8080);
    let n = http::MAX_EXCHANGES + 4;
    let requests: Vec<u8> = (0..n)
        .flat_map(|i| format!("GET /{i} HTTP/1.1\r\n\r\n").into_bytes())
        .collect();
    let responses: Vec<u8> = (0..n)
        .flat_map(|_| b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec())
        .collect();
    tcp.send(&mut cap, true, &requests);
    tcp.send(&mut cap, false, &responses);
    tcp.close(&mut cap);
    let a = analyze_path(&cap.write("beyond-cap.pcap"), Config::default()).expect("a capture");
    assert_eq!(a.calls_total, n as u64);
    assert_eq!(counted(&a, http::BEYOND_CAP), 4);
}

mod contracts;

/// Runs `analyze --format <format>` on `path`.
fn report(path: &str, format: &str) -> String {
    let out = assert_cmd::Command::cargo_bin("faultline")
        .expect("binary built")
        .args(["analyze", "--no-system-ca", "--format", format, path])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn every_report_format_says_what_was_read_despite_damage() {
    let mut cap = Capture::default();
    for (port, headers) in [
        (40_010, &b"Server: a\x07b\r\n"[..]),
        (40_011, &b"Server: a\r\n b\r\n"[..]),
        (40_012, &b"Server: a\x01\r\n"[..]),
    ] {
        let mut tcp = Tcp::open(&mut cap, port, 8080);
        tcp.send(&mut cap, true, REQUEST);
        tcp.send(&mut cap, false, &service_unavailable(headers));
        tcp.close(&mut cap);
    }
    let path = cap.write("anomalies.pcap");

    let doc: serde_json::Value = serde_json::from_str(&report(&path, "json")).expect("JSON");
    let errors = contracts::schema_errors(&contracts::schema_validator(), &doc);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        doc["capture"]["anomalies"],
        serde_json::json!([
            {"reason": http::INVALID_BYTES, "count": 2},
            {"reason": http::OBS_FOLD, "count": 1},
        ])
    );
    assert_eq!(doc["findings"].as_array().map(Vec::len), Some(3));

    let text = report(&path, "text");
    assert!(
        text.contains(&format!("anomaly  {}: 2", http::INVALID_BYTES)),
        "{text}"
    );
    assert!(text.contains(&format!("{}: 1", http::OBS_FOLD)), "{text}");
    for format in ["markdown", "html"] {
        let out = report(&path, format);
        assert!(
            out.contains(&format!("{}: 2", http::INVALID_BYTES)),
            "{format}: {out}"
        );
    }
    let fields = contracts::ecs_field_list();
    let summary: serde_json::Value = report(&path, "ndjson")
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .expect("a summary line");
    assert_eq!(
        summary["faultline"]["capture"]["anomalies"][0]["count"], 2,
        "{summary}"
    );
    let problems = contracts::field_problems(&fields, &summary);
    assert!(problems.is_empty(), "{problems:#?}");

    // Per connection: the listing names the anomaly on the connection that had it.
    let out = assert_cmd::Command::cargo_bin("faultline")
        .expect("binary built")
        .args(["conns", "--format", "json", &path])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let by_port: Vec<(u64, serde_json::Value)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["client"]["port"].as_u64().unwrap_or(0),
                r["anomalies"].clone(),
            )
        })
        .collect();
    assert_eq!(
        by_port[1],
        (
            40_011,
            serde_json::json!([{"reason": http::OBS_FOLD, "count": 1}])
        ),
        "{rows}"
    );
}
