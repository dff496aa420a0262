//! Input chosen by an attacker must not hurt the person reading the report: control characters
//! in names reach no output raw (every format of `analyze`, `conns`, standard error), and
//! secrets in HTTP messages appear in no format.

mod craft;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use assert_cmd::Command;
use craft::{ACK, FIN_ACK, PSH_ACK, Pcap, RST, Tcp};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const RESOLVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 53);

/// The DNS name and the SNI: ESC (a CSI that clears the screen and an OSC that sets the window
/// title), BEL, CR, DEL and a C1 CSI.
/// The DNS name also tries to forge a report line with a line feed.
pub const EVIL_DNS: &[u8] = b"evil\x1b[2J\x07\r\nFORGED line.example";
pub const EVIL_SNI: &[u8] = b"evil\x1b]0;pwned\x07\r\x7fsni\xc2\x9b31m.example";

fn faultline() -> Command {
    Command::cargo_bin("faultline").expect("binary built")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// An unanswered lookup of [`EVIL_DNS`], and a TLS connection to [`EVIL_SNI`] that the server
/// resets after the ClientHello; a last datagram 20 s later so that the lookup is judged.
fn evil_names_capture() -> PathBuf {
    let mut pcap = Pcap::new();
    let query = craft::udp(
        (CLIENT, 40_000),
        (RESOLVER, 53),
        &craft::dns_query(EVIL_DNS),
    );
    pcap.ip(0, &query);
    let mut tls = Tcp::new((CLIENT, 50_000), (SERVER, 443));
    let t = tls.handshake(&mut pcap, 100_000);
    let hello = tls.segment(true, PSH_ACK, &craft::client_hello(EVIL_SNI));
    pcap.ip(t, &hello);
    let ack = tls.segment(false, ACK, b"");
    pcap.ip(t + 1_000, &ack);
    let reset = tls.segment(false, RST | ACK, b"");
    pcap.ip(t + 2_000, &reset);
    let later = craft::udp((CLIENT, 40_001), (Ipv4Addr::new(10, 0, 0, 9), 9), b"x");
    pcap.ip(20_000_000, &later);
    let path = scratch("evil-names.pcap");
    pcap.write(&path);
    path
}

/// Runs faultline; returns (status, stdout, stderr) as bytes.
fn run(args: &[&str]) -> (i32, Vec<u8>, Vec<u8>) {
    let out = faultline().args(args).output().expect("runs");
    (out.status.code().unwrap_or(-1), out.stdout, out.stderr)
}

/// The raw controls an attacker would use, as bytes (UTF-8 C1 CSI included).
fn raw_control(bytes: &[u8]) -> Option<String> {
    let mut layout_ok = bytes.to_vec();
    layout_ok.retain(|&b| b != b'\n' && b != b'\t');
    if let Some(b) = layout_ok.iter().find(|&&b| b < 0x20 || b == 0x7f) {
        return Some(format!("byte {b:#04x}"));
    }
    layout_ok
        .windows(2)
        .any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
        .then(|| "a C1 control".to_owned())
}

#[test]
fn control_characters_in_names_reach_no_output_raw() {
    let capture = evil_names_capture();
    let capture = capture.to_str().expect("UTF-8 path");
    // JSON keeps every character, escaped as JSON requires; the names are the capture's.
    let (_, json, _) = run(&["analyze", "--format", "json", capture]);
    assert_eq!(raw_control(&json), None);
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    let findings = doc["findings"].as_array().expect("findings");
    let codes: Vec<&str> = findings.iter().filter_map(|f| f["code"].as_str()).collect();
    assert_eq!(
        codes,
        ["dns.no_response", "tls.handshake_aborted_by_server"]
    );
    assert_eq!(
        findings[0]["names"]["dns"],
        "evil\x1b[2j\x07\r\nforged line.example"
    );
    assert_eq!(
        findings[1]["names"]["sni"],
        "evil\x1b]0;pwned\x07\r\x7fsni\u{9b}31m.example"
    );
    let text_dns = r"evil\x1b[2j\x07\r\nforged line.example";
    let text_sni = r"evil\x1b]0;pwned\x07\r\x7fsni\u{9b}31m.example";
    for args in [
        &["analyze", "--color", "never", capture][..],
        &["analyze", "--color", "never", "--stats", capture],
        &["analyze", "--format", "ndjson", capture],
        &["analyze", "--format", "markdown", capture],
        &["analyze", "--format", "html", capture],
        &["conns", capture],
        &["conns", "--format", "json", capture],
    ] {
        let (status, out, err) = run(args);
        assert_eq!(status, 0, "{args:?}: {}", String::from_utf8_lossy(&err));
        assert_eq!(raw_control(&out), None, "{args:?}");
        let out = String::from_utf8(out).expect("UTF-8");
        // Where the names are shown, their controls are visible escapes.
        let shown = |name: &str| out.contains(name);
        // (In HTML a line feed is a space: the page has no preformatted text.)
        let forged = out.lines().any(|l| l.trim_start().starts_with("forged"));
        assert!(
            !forged || args.contains(&"html"),
            "{args:?}: a name forged a line:\n{out}"
        );
        match args[1] {
            "--color" => assert!(shown(text_dns) && shown(text_sni), "{out}"),
            "--format" if args[0] == "conns" => assert!(out.contains(r"\u001b]0;pwned")),
            "--format" if args[2] == "ndjson" => assert!(out.contains(r"evil\u001b[2j\u0007\r\n")),
            "--format" => assert!(out.contains(r"x1b") && out.contains(r"pwned"), "{out}"),
            _ => assert!(shown(&format!("sni={text_sni}")), "{out}"),
        }
    }
    // Colour on: the report's own styles, but no control from the capture.
    let (_, out, _) = run(&["analyze", "--color", "always", capture]);
    let out = String::from_utf8(out).expect("UTF-8");
    assert!(out.contains("\x1b[") && out.contains(text_sni));
    for raw in [
        "\x1b]", "\x1b[2J", "\x1b[2j", "\x07", "\r", "\u{9b}", "\u{7f}",
    ] {
        assert!(!out.contains(raw), "colour output holds {raw:?}");
    }
}

#[test]
fn warnings_and_errors_on_standard_error_escape_file_names() {
    let capture = std::fs::read(evil_names_capture()).expect("read");
    let cut = scratch("cut\x1b[2J\x07.pcap");
    std::fs::write(&cut, &capture[..capture.len() - 10]).expect("write");
    let cut = cut.to_str().expect("UTF-8 path");
    let (status, out, err) = run(&["analyze", "--color", "never", cut]);
    assert_eq!(status, 0);
    for bytes in [&out, &err] {
        assert_eq!(raw_control(bytes), None);
    }
    let err = String::from_utf8(err).expect("UTF-8");
    assert!(err.contains(r"cut\x1b[2J\x07.pcap"), "{err}");
    let missing = scratch("no\x1b[2Jsuch.pcap");
    let (status, _, err) = run(&["analyze", missing.to_str().expect("UTF-8")]);
    assert_eq!(status, 2);
    assert_eq!(raw_control(&err), None);
    assert!(String::from_utf8_lossy(&err).contains(r"no\x1b[2Jsuch.pcap"));
}

/// Secrets an HTTP call carries under harmless names or none: a path parameter, a JWT as a path
/// segment, an AWS key id under `file=`, a GitHub token in the reason phrase, a Slack token in
/// the `Server` header, a hex key in `Via`.
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.dGhlLXNpZ25hdHVyZS1ieXRlcw";
const SECRETS: &[&str] = &[
    "SESSIONSECRET77",
    JWT,
    "eyJzdWIiOiJhbGljZSJ9",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefghijABCDEFGHIJ01",
    "xoxb-1111-2222-SlackSecret",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
];

fn secrets_capture() -> PathBuf {
    let mut pcap = Pcap::new();
    let mut http = Tcp::new((CLIENT, 51_000), (SERVER, 80));
    let t = http.handshake(&mut pcap, 0);
    let request = format!(
        "GET /app;jsessionid=SESSIONSECRET77/users/{JWT}/files?file=AKIAIOSFODNN7EXAMPLE&n=1 \
         HTTP/1.1\r\nHost: api.test\r\nUser-Agent: t\r\n\r\n"
    );
    let seg = http.segment(true, PSH_ACK, request.as_bytes());
    pcap.ip(t, &seg);
    let response = "HTTP/1.1 503 Down ghp_0123456789abcdefghijABCDEFGHIJ01\r\n\
         Server: edge xoxb-1111-2222-SlackSecret\r\n\
         Via: 1.1 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\r\n\
         Content-Length: 0\r\n\r\n";
    let seg = http.segment(false, PSH_ACK, response.as_bytes());
    pcap.ip(t + 20_000, &seg);
    let ack = http.segment(true, ACK, b"");
    pcap.ip(t + 21_000, &ack);
    let fin = http.segment(true, FIN_ACK, b"");
    pcap.ip(t + 22_000, &fin);
    let fin = http.segment(false, FIN_ACK, b"");
    pcap.ip(t + 23_000, &fin);
    let ack = http.segment(true, ACK, b"");
    pcap.ip(t + 24_000, &ack);
    let path = scratch("secrets.pcap");
    pcap.write(&path);
    path
}

#[test]
fn secrets_by_name_and_shape_appear_in_no_format() {
    let capture = secrets_capture();
    let capture = capture.to_str().expect("UTF-8 path");
    let evidence = scratch("secrets-evidence.pcapng");
    let evidence = evidence.to_str().expect("UTF-8 path");
    for args in [
        &["analyze", "--color", "never", capture][..],
        &["analyze", "--format", "json", capture],
        &["analyze", "--format", "ndjson", capture],
        &["analyze", "--format", "markdown", capture],
        &["analyze", "--format", "html", capture],
        &["analyze", "--evidence", evidence, capture],
        &["conns", capture],
        &["conns", "--format", "json", capture],
    ] {
        let (status, out, err) = run(args);
        assert_eq!(status, 0, "{args:?}");
        let (out, err) = (String::from_utf8_lossy(&out), String::from_utf8_lossy(&err));
        for secret in SECRETS {
            assert!(!out.contains(secret), "{args:?} shows {secret}");
            assert!(!err.contains(secret), "{args:?} says {secret}");
        }
        if args[0] == "analyze" {
            // The call is still named, its secrets replaced (Markdown escapes the `_`).
            assert!(
                out.contains("REDACTED/files?file=REDACTED"),
                "{args:?}: {out}"
            );
            assert!(out.contains("jsessionid=REDACTED"), "{args:?}");
            assert!(out.contains("503"), "{args:?}");
        }
    }
}

fn tshark_frames(file: &str) -> Option<Vec<String>> {
    let out = std::process::Command::new("tshark")
        .args([
            "-r",
            file,
            "-T",
            "fields",
            "-e",
            "frame.len",
            "-e",
            "tcp.seq_raw",
        ])
        .args(["-e", "tcp.flags", "-e", "frame.comment"])
        .output();
    match out {
        Ok(out) if out.status.success() => Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect(),
        ),
        Ok(out) => panic!("tshark failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) => {
            eprintln!("SKIPPED tshark checks: tshark is not installed (apt-get install tshark)");
            None
        }
    }
}

#[test]
fn the_redacted_evidence_file_keeps_headers_and_drops_payload_bytes() {
    let capture = secrets_capture();
    let capture = capture.to_str().expect("UTF-8 path");
    let raw = scratch("raw-evidence.pcapng");
    let redacted = scratch("redacted-evidence.pcapng");
    let (raw, redacted) = (
        raw.to_str().expect("path"),
        redacted.to_str().expect("path"),
    );
    let (status, _, err) = run(&["analyze", capture, "--evidence", raw]);
    assert_eq!(status, 0);
    // Writing raw payloads is said, with the way out.
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains("payload bytes") && err.contains("--evidence-redact"),
        "{err}"
    );
    let (status, _, err) = run(&[
        "analyze",
        capture,
        "--evidence",
        redacted,
        "--evidence-redact",
    ]);
    assert_eq!(status, 0);
    assert!(String::from_utf8_lossy(&err).contains("replaced by zeros"));
    let raw_bytes = std::fs::read(raw).expect("raw evidence");
    let redacted_bytes = std::fs::read(redacted).expect("redacted evidence");
    let holds =
        |hay: &[u8], needle: &str| hay.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The raw file holds what the input held (it is a copy of the call); the redacted one not.
    assert!(holds(&raw_bytes, "AKIAIOSFODNN7EXAMPLE"));
    // (Packet comments quote the report, redacted as it is.)
    for secret in SECRETS.iter().chain(&["HTTP/1.1", "User-Agent"]) {
        assert!(
            !holds(&redacted_bytes, secret),
            "redacted evidence holds {secret}"
        );
    }
    // Same frames, lengths, sequence numbers, flags and comments for Wireshark.
    if let (Some(a), Some(b)) = (tshark_frames(raw), tshark_frames(redacted)) {
        assert_eq!(a.len(), 9, "{a:?}");
        assert_eq!(a, b);
    }
}
