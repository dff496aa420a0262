//! The call model on the lab's HTTP captures: one call per exchange, one finding per failed
//! call, and secrets that never reach any output.

use assert_cmd::Command;

fn capture(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> String {
    let out = Command::cargo_bin("faultline")
        .expect("binary built")
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("UTF-8 output")
}

#[test]
fn every_exchange_is_a_call_and_only_failed_ones_are_counted() {
    // http-api: 9 curl calls on their own connections, 3 Python calls on one keep-alive
    // connection (one 429), and 2 on another (the second sent after the server's idle close):
    // 14 calls, of which 9 failed: /v1/ok over curl, two Python 200s and the first call of the
    // stale connection went through, and /v1/slow went through slowly (a 200 after a long
    // wait: server.slow_response, degraded, not a failed call).
    let doc: serde_json::Value = serde_json::from_str(&run(&[
        "analyze",
        "--format",
        "json",
        &capture("http-api.pcapng"),
    ]))
    .expect("JSON");
    assert_eq!(doc["calls"]["total"], 14);
    assert_eq!(doc["calls"]["failed"], 9);
    let on_keepalive: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "client.rate_limited")
        .collect();
    assert_eq!(on_keepalive.len(), 1);
    assert!(
        on_keepalive[0]["names"]["http_host"]
            .as_str()
            .is_some_and(|h| h.contains("fd0f:a17:f17:1::2"))
    );
}

#[test]
fn tokens_and_api_keys_never_reach_the_report() {
    // The 401 call sent `Authorization: Bearer expired-token-123` and `?api_key=SECRET42`.
    for format in ["json", "text"] {
        let out = run(&["analyze", "--format", format, &capture("http-api.pcapng")]);
        assert!(out.contains("api_key=REDACTED"), "{format}: {out}");
        for secret in ["expired-token-123", "SECRET42"] {
            assert!(!out.contains(secret), "{format} output shows {secret}");
        }
    }
}

fn calls(name: &str) -> (u64, u64) {
    let doc: serde_json::Value =
        serde_json::from_str(&run(&["analyze", "--format", "json", &capture(name)])).expect("JSON");
    let c = &doc["calls"];
    (
        c["total"].as_u64().expect("total"),
        c["failed"].as_u64().expect("failed"),
    )
}

#[test]
fn haystacks_count_their_calls_and_exactly_the_failed_ones() {
    // haystack: 280 GETs on 80 keep-alive connections, all 200, and 4 failed connects.
    assert_eq!(calls("haystack.pcap"), (284, 4));
    // http-haystack: 240 curl GETs on 60 connections and 20 Python calls on one; a 429, a
    // 503, a 404 and a 401 among them.
    assert_eq!(calls("http-haystack.pcap"), (260, 4));
}

#[test]
fn secrets_sent_to_a_gateway_never_reach_any_format() {
    // gateway-errors sends a JWT bearer token, an OAuth client_secret and refresh_token, and
    // an X-Auth-Token; the TLS twin sends them encrypted, decrypted here with the clients' keys.
    let secrets = [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "c2lnbmF0dXJlLW9mLXRoZS1sYWI",
        "not-the-secret",
        "rt-0123456789abcdef0123456789abcdef",
        "MIIE-lab-token",
    ];
    for (name, keys) in [
        ("gateway-errors.pcapng", None),
        (
            "https-gateway-errors.pcapng",
            Some("https-gateway-errors.keys"),
        ),
    ] {
        for format in ["json", "text", "ndjson", "markdown", "html"] {
            let mut args = vec!["analyze", "--all-findings", "--format", format];
            let keylog = keys.map(capture);
            if let Some(k) = &keylog {
                args.extend(["--keylog", k.as_str()]);
            }
            let path = capture(name);
            args.push(&path);
            let out = run(&args);
            // The calls were read: the words the server said are there.
            assert!(out.contains("The access token expired"), "{name} {format}");
            for secret in secrets {
                assert!(!out.contains(secret), "{name} {format} shows {secret}");
            }
        }
    }
}
