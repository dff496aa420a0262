//! The TLS facts `conns` shows, and `--ca-file`, on the lab's captures.

use assert_cmd::Command;
use serde_json::Value;

fn capture(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The rows `conns --format json` prints for the lab capture `name`, with the extra arguments
/// `args`.
fn conns_json(cmd: &mut Command, args: &[&str], name: &str) -> Value {
    let out = cmd
        .args(["conns", "--format", "json"])
        .args(args)
        .arg(capture(name))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("JSON")
}

#[test]
fn conns_shows_version_cipher_sni_certificate_and_alert_with_its_sender() {
    let rows = conns_json(
        &mut Command::cargo_bin("faultline").expect("binary"),
        &[],
        "tls-bad-certificate.pcap",
    );
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

/// The lab CA's certificate, extracted with tshark from the chain of `tls-refused.pcapng`'s
/// stream 4 (openssl s_server sends its CA along; no key).
fn lab_ca() -> String {
    format!("{}/tests/fixtures/lab-ca.pem", env!("CARGO_MANIFEST_DIR"))
}

/// The validation `conns` shows for `tls-refused.pcapng`'s stream 4, with `SSL_CERT_FILE` set
/// to `host_bundle` (when given) and the extra arguments `args`.
fn stream_4_validation(host_bundle: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = Command::cargo_bin("faultline").expect("binary");
    if let Some(bundle) = host_bundle {
        cmd.env("SSL_CERT_FILE", bundle);
    }
    conns_json(&mut cmd, args, "tls-refused.pcapng")[4]["tls"]["validation"].clone()
}

#[test]
fn a_private_ca_given_with_ca_file_makes_its_chain_trusted() {
    // The chain sent with a self-signed CA is not trusted by itself.
    assert_eq!(
        stream_4_validation(None, &["--no-system-ca"]),
        "unable to get local issuer certificate"
    );
    let ca = lab_ca();
    assert_eq!(
        stream_4_validation(None, &["--no-system-ca", "--ca-file", &ca]),
        "ok"
    );
}

#[test]
fn the_hosts_ca_bundle_is_trusted_unless_no_system_ca() {
    let ca = lab_ca();
    assert_eq!(stream_4_validation(Some(&ca), &[]), "ok");
    assert_eq!(
        stream_4_validation(Some(&ca), &["--no-system-ca"]),
        "unable to get local issuer certificate"
    );
}
