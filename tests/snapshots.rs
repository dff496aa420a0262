//! Snapshots (insta) of every report format on lab captures: a change to what a user reads
//! shows up in review as a diff of `tests/snapshots/`. Accept intended changes with
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test snapshots`).

use assert_cmd::Command;

/// Lab captures that together show every kind of report: a silent drop, ICMP errors, TLS
/// alerts, DNS failures, HTTP statuses, degraded calls, a healthy capture and a haystack.
const CAPTURES: &[&str] = &[
    "syn-drop.pcap",
    "host-unreachable.pcapng",
    "tls-bad-certificate.pcap",
    "dns-rcodes.pcapng",
    "http-gateway.pcap",
    "packet-loss.pcap",
    "healthy-api.pcapng",
    "haystack.pcap",
];

/// The formats snapshotted, as `--format` names them.
const FORMATS: &[&str] = &["text", "json"];

fn report(capture: &str, format: &str) -> String {
    let out = Command::cargo_bin("faultline")
        .expect("binary built")
        .args([
            "analyze",
            "--no-system-ca",
            "--color",
            "never",
            "--format",
            format,
        ])
        .arg(format!("captures/{capture}"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("reports are UTF-8")
}

#[test]
fn every_format_on_every_snapshot_capture() {
    for capture in CAPTURES {
        let stem = capture.split('.').next().unwrap_or(capture);
        for format in FORMATS {
            insta::assert_snapshot!(format!("{stem}.{format}"), report(capture, format));
        }
    }
}
