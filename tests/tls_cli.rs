//! The TLS facts `conns` shows, and `--ca-file`, on the lab's captures.

use assert_cmd::Command;
use serde_json::Value;

fn capture(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn conns_shows_version_cipher_sni_certificate_and_alert_with_its_sender() {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["conns", "--format", "json"])
        .arg(capture("tls-bad-certificate.pcap"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Value = serde_json::from_slice(&out).expect("JSON");
    // Stream 0: curl TLS 1.2 refusing the certificate that expired on 2020-01-01.
    let tls = &rows[0]["tls"];
    assert_eq!(tls["version"], "TLS 1.2");
    assert_eq!(tls["sni"], "api.lab.test");
    assert_eq!(tls["cert_subject"], "CN=api.lab.test");
    assert_eq!(tls["cert_not_after"], "2020-01-01T00:00:00.000000Z");
    assert_eq!(tls["validation"], "certificate has expired");
    assert_eq!(tls["alert"], "certificate_expired");
    assert_eq!(tls["alert_sender"], "client");
    // Stream 1: TLS 1.3, the certificate encrypted; the alert still in clear.
    let tls = &rows[1]["tls"];
    assert_eq!(tls["version"], "TLS 1.3");
    assert_eq!(tls["cert_subject"], Value::Null);
    assert_eq!(tls["alert"], "certificate_expired");
}

#[test]
fn a_ca_file_without_certificates_is_a_one_line_error() {
    let dir = std::env::temp_dir().join(format!("faultline-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pem = dir.join("empty.pem");
    std::fs::write(&pem, "not a certificate\n").expect("write");
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["analyze", "--ca-file"])
        .arg(&pem)
        .arg(capture("tls-refused.pcapng"))
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let message = String::from_utf8_lossy(&out);
    assert!(message.contains("no PEM certificate found"), "{message}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The validation of `tls-refused.pcapng`'s stream 4 (openssl s_server sends its lab CA in the
/// chain), with the given extra `conns` arguments.
fn stream_4_validation(extra: &[&str]) -> Value {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["conns", "--format", "json", "--no-system-ca"])
        .args(extra)
        .arg(capture("tls-refused.pcapng"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Value = serde_json::from_slice(&out).expect("JSON");
    rows[4]["tls"]["validation"].clone()
}

#[test]
fn a_private_ca_given_with_ca_file_makes_its_chain_trusted() {
    // tests/fixtures/lab-ca.pem is the lab CA's certificate, extracted from that very chain
    // with tshark (no key). The chain sent with a self-signed CA is not trusted by itself.
    assert_eq!(
        stream_4_validation(&[]),
        "unable to get local issuer certificate"
    );
    let ca = format!("{}/tests/fixtures/lab-ca.pem", env!("CARGO_MANIFEST_DIR"));
    assert_eq!(stream_4_validation(&["--ca-file", &ca]), "ok");
}

#[test]
fn the_hosts_ca_bundle_is_trusted_unless_no_system_ca() {
    let ca = format!("{}/tests/fixtures/lab-ca.pem", env!("CARGO_MANIFEST_DIR"));
    let validation = |no_system: bool| {
        let mut cmd = Command::cargo_bin("faultline").expect("binary");
        cmd.env("SSL_CERT_FILE", &ca)
            .args(["conns", "--format", "json"]);
        if no_system {
            cmd.arg("--no-system-ca");
        }
        let out = cmd
            .arg(capture("tls-refused.pcapng"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let rows: Value = serde_json::from_slice(&out).expect("JSON");
        rows[4]["tls"]["validation"].clone()
    };
    assert_eq!(validation(false), "ok");
    assert_eq!(validation(true), "unable to get local issuer certificate");
}
