//! TLS key logs as a user gives them: `--keylog` files (good, malformed, missing), pcapng
//! Decryption Secrets Blocks in the capture, and `--evidence-keys`, whose evidence file tshark
//! opens decrypted with no key log of its own. No secret reaches any output.
//!
//! The TLS session is built by hand with real cryptography (`tests/keyed`): a TLS 1.2
//! AES-128-GCM call whose request the server never answered.

mod crafted;
mod keyed_call;
use keyed_call as keyed;

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

const REQUEST: &[u8] = b"GET /orders HTTP/1.1\r\nHost: api.example\r\n\r\n";

fn faultline() -> Command {
    Command::cargo_bin("faultline").expect("binary built")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-keylog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A little-endian pcapng block: type, body padded to 32 bits, lengths around it.
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().next_multiple_of(4), 0);
    let len = (body.len() + 12) as u32;
    let mut out = kind.to_le_bytes().to_vec();
    out.extend(len.to_le_bytes());
    out.extend(body);
    out.extend(len.to_le_bytes());
    out
}

fn secrets_block(kind: u32, text: &[u8]) -> Vec<u8> {
    let mut body = kind.to_le_bytes().to_vec();
    body.extend((text.len() as u32).to_le_bytes());
    body.extend(text);
    block(0xA, &body)
}

/// The capture as a pcapng (raw IPv4), with `secrets` (type, text) blocks before frame `at`
/// (1-based; past the last frame: after them all).
fn pcapng(cap: &crafted::Capture, at: usize, secrets: &[(u32, &[u8])]) -> Vec<u8> {
    let mut shb = vec![0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
    shb.extend((-1i64).to_le_bytes());
    let mut out = block(0x0A0D_0D0A, &shb);
    // LINKTYPE_RAW, microseconds.
    out.extend(block(1, &[101, 0, 0, 0, 0, 0, 0, 0]));
    let dsbs: Vec<u8> = secrets
        .iter()
        .flat_map(|(kind, text)| secrets_block(*kind, text))
        .collect();
    for (i, (ts_ns, bytes)) in cap.frames.iter().enumerate() {
        if i + 1 == at {
            out.extend(&dsbs);
        }
        let us = (1_700_000_000_000_000 + ts_ns / 1000) as u64;
        let mut body = 0u32.to_le_bytes().to_vec();
        body.extend(((us >> 32) as u32).to_le_bytes());
        body.extend((us as u32).to_le_bytes());
        body.extend((bytes.len() as u32).to_le_bytes());
        body.extend((bytes.len() as u32).to_le_bytes());
        body.extend(bytes);
        out.extend(block(6, &body));
    }
    if at > cap.frames.len() {
        out.extend(&dsbs);
    }
    out
}

/// The block types of a pcapng, in file order.
fn block_types(file: &[u8]) -> Vec<u32> {
    let mut types = Vec::new();
    let mut at = 0;
    while let (Some(kind), Some(len)) = (file.get(at..at + 4), file.get(at + 4..at + 8)) {
        types.push(u32::from_le_bytes(kind.try_into().unwrap()));
        at += u32::from_le_bytes(len.try_into().unwrap()) as usize;
    }
    types
}

fn json_report(args: &[&str], keylog: Option<&Path>, capture: &Path) -> Value {
    let mut cmd = faultline();
    cmd.arg("analyze").args(["--format", "json"]).args(args);
    if let Some(keys) = keylog {
        cmd.arg("--keylog").arg(keys);
    }
    let out = cmd.arg(capture).assert().success().get_output().clone();
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn a_key_log_decrypts_the_call_and_without_it_the_finding_says_how_to_get_one() {
    let (cap, session) = keyed::unanswered_call(3, REQUEST);
    let capture = scratch("plain.pcap");
    std::fs::write(&capture, cap.pcap()).unwrap();
    let keys = scratch("good.keys");
    std::fs::write(&keys, session.key_log_line()).unwrap();

    let keyed = json_report(&[], Some(&keys), &capture);
    assert_eq!(keyed["findings"][0]["code"], "server.no_response");
    // The Host header was read inside the TLS records.
    assert_eq!(
        keyed["findings"][0]["names"]["http_host"], "api.example",
        "{keyed:#}"
    );
    assert_eq!(keyed["capture"]["tls_decryption"]["decrypted"], 1);
    let remedies = keyed["findings"][0]["remediation"].to_string();
    assert!(!remedies.contains("SSLKEYLOGFILE"), "{remedies}");

    let unkeyed = json_report(&[], None, &capture);
    assert_eq!(unkeyed["findings"][0]["code"], "server.no_response");
    assert_eq!(unkeyed["findings"][0]["names"]["http_host"], Value::Null);
    assert_eq!(unkeyed["capture"]["tls_decryption"]["no_keys"], 1);
    let remedies = unkeyed["findings"][0]["remediation"].to_string();
    for hint in [
        "SSLKEYLOGFILE",
        "--tls-keylog",
        "KeyLogWriter",
        "faultline analyze --keylog",
    ] {
        assert!(remedies.contains(hint), "no {hint} in {remedies}");
    }

    // The summary says it in text; conns says it per connection.
    let text = faultline()
        .args(["analyze", "--keylog"])
        .arg(&keys)
        .arg(&capture)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("tls      1 encrypted connection(s): 1 decrypted"),
        "{text}"
    );
    let rows = faultline()
        .args(["conns", "--format", "json"])
        .arg(&capture)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Value = serde_json::from_slice(&rows).unwrap();
    assert_eq!(rows[0]["tls"]["decryption"], "no_keys");
}

#[test]
fn malformed_lines_are_warned_by_number_once_and_no_secret_reaches_any_output() {
    let (cap, session) = keyed::unanswered_call(4, REQUEST);
    let capture = scratch("malformed.pcap");
    std::fs::write(&capture, cap.pcap()).unwrap();
    // Line 2: a secret one byte short; line 4: one word.
    let short = hex(&[0x5c; 47]);
    let keys = scratch("malformed.keys");
    let text = format!(
        "# written by a test\nCLIENT_RANDOM {} {short}\n\nCLIENT_RANDOM\n{}",
        hex(&[9; 32]),
        session.key_log_line()
    );
    std::fs::write(&keys, text).unwrap();
    let secrets = [hex(&session.master_secret), short];
    for format in ["text", "json", "ndjson", "markdown", "html"] {
        let out = faultline()
            .args(["analyze", "--format", format, "--keylog"])
            .arg(&keys)
            .arg(&capture)
            .assert()
            .success()
            .get_output()
            .clone();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let keys_name = keys.display().to_string();
        for line in [2, 4] {
            let warning = format!("{keys_name}:{line}: ");
            assert_eq!(
                stderr.matches(&warning).count(),
                1,
                "{format}: line {line} not warned once: {stderr}"
            );
            assert!(stdout.contains(&format!(":{line}: ")), "{format}: {stdout}");
        }
        assert!(
            stdout.contains("key log: malformed key log lines skipped"),
            "{format}: {stdout}"
        );
        for secret in &secrets {
            assert!(
                !stdout.contains(secret.as_str()),
                "{format}: a secret in the report"
            );
            assert!(
                !stderr.contains(secret.as_str()),
                "{format}: a secret on stderr"
            );
        }
    }
    for format in ["text", "json"] {
        let out = faultline()
            .args(["conns", "--format", format, "--keylog"])
            .arg(&keys)
            .arg(&capture)
            .assert()
            .success()
            .get_output()
            .clone();
        let all = [out.stdout, out.stderr].concat();
        let all = String::from_utf8_lossy(&all);
        assert!(all.contains(":2: the secret has the wrong length"), "{all}");
        for secret in &secrets {
            assert!(!all.contains(secret.as_str()), "conns {format}: a secret");
        }
    }
}

#[test]
fn a_key_log_that_cannot_be_read_is_an_error_naming_it() {
    let (cap, _) = keyed::unanswered_call(5, REQUEST);
    let capture = scratch("missing.pcap");
    std::fs::write(&capture, cap.pcap()).unwrap();
    let absent = scratch("absent.keys");
    for command in ["analyze", "conns"] {
        let out = faultline()
            .args([command, "--keylog"])
            .arg(&absent)
            .arg(&capture)
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&absent.display().to_string()),
            "{command}: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{command}: a report despite the error"
        );
    }
}

#[test]
fn secrets_blocks_in_the_capture_apply_from_where_they_stand() {
    let (cap, session) = keyed::unanswered_call(6, REQUEST);
    let line = session.key_log_line();
    // Before the ClientHello (frame 4), with a malformed line and a WireGuard block beside it.
    let text = format!("CLIENT_RANDOM 00\n{line}");
    let before = scratch("dsb-before.pcapng");
    std::fs::write(
        &before,
        pcapng(
            &cap,
            4,
            &[(0x544c_534b, text.as_bytes()), (0x5747_4b4c, b"wg secrets")],
        ),
    )
    .unwrap();
    let report = json_report(&[], None, &before);
    assert_eq!(report["capture"]["tls_secrets_blocks"], 1);
    assert_eq!(
        report["capture"]["tls_decryption"]["decrypted"], 1,
        "{report:#}"
    );
    assert_eq!(
        report["findings"][0]["names"]["http_host"], "api.example",
        "{report:#}"
    );
    let note = report["capture"]["notes"].to_string();
    assert!(
        note.contains("secrets block after frame 3):1: not three words"),
        "{note}"
    );
    assert!(
        note.contains("1 secrets block(s) of type WireGuard key log skipped"),
        "{note}"
    );
    assert!(!note.contains(&hex(&session.master_secret)), "{note}");

    // After the whole connection: its records were read without them.
    let after = scratch("dsb-after.pcapng");
    let last = cap.frames.len() + 1;
    std::fs::write(
        &after,
        pcapng(&cap, last, &[(0x544c_534b, line.as_bytes())]),
    )
    .unwrap();
    let report = json_report(&[], None, &after);
    assert_eq!(report["capture"]["tls_secrets_blocks"], 1);
    assert_eq!(
        report["capture"]["tls_decryption"]["no_keys"], 1,
        "{report:#}"
    );
    // In the middle of the connection, after its encrypted Finished messages (frames 8 and
    // 10): the connection had no keys when it turned encrypted, and says so (not that keys
    // failed, which would blame a key log that is right).
    let middle = scratch("dsb-middle.pcapng");
    std::fs::write(&middle, pcapng(&cap, 12, &[(0x544c_534b, line.as_bytes())])).unwrap();
    let report = json_report(&[], None, &middle);
    assert_eq!(
        report["capture"]["tls_decryption"]["no_keys"], 1,
        "{report:#}"
    );
}

fn have_tshark() -> bool {
    let found = Process::new("tshark").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: tshark is not installed (apt-get install tshark); CI installs it");
    }
    found
}

/// The request URIs tshark decodes in `file` with no key log of its own.
fn tshark_uris(file: &Path) -> Vec<String> {
    let out = Process::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-o", "tls.keylog_file:/dev/null", "-Y", "http.request"])
        .args(["-T", "fields", "-e", "http.request.uri"])
        .output()
        .expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark could not read {}",
        file.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn evidence_keys_put_the_sessions_secrets_before_its_client_hello_and_tshark_decrypts_it() {
    let (cap, session) = keyed::unanswered_call(8, REQUEST);
    // The key log also holds another session's secrets: only the failed call's are written.
    let capture = scratch("evidence-in.pcap");
    std::fs::write(&capture, cap.pcap()).unwrap();
    let other = keyed::Session::new(99);
    let keys = scratch("evidence.keys");
    std::fs::write(
        &keys,
        [other.key_log_line(), session.key_log_line()].concat(),
    )
    .unwrap();

    let with_keys = scratch("with-keys.pcapng");
    let out = faultline()
        .args([
            "analyze",
            "--format",
            "json",
            "--evidence-keys",
            "--evidence",
        ])
        .arg(&with_keys)
        .arg("--keylog")
        .arg(&keys)
        .arg(&capture)
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("holds the TLS session secrets of 1 connection(s)"),
        "{stderr}"
    );
    let file = std::fs::read(&with_keys).unwrap();
    // Section, interface, SYN, SYN-ACK, ACK, then the secrets just before the ClientHello.
    assert_eq!(&block_types(&file)[..6], [0x0A0D_0D0A, 1, 6, 6, 6, 0xA]);
    let text = String::from_utf8_lossy(&file);
    assert!(text.contains(session.key_log_line().trim_end()));
    assert!(
        !text.contains(&hex(&other.master_secret)),
        "another session's secret"
    );

    let without = scratch("without-keys.pcapng");
    let out = faultline()
        .args(["analyze", "--format", "json", "--evidence"])
        .arg(&without)
        .arg("--keylog")
        .arg(&keys)
        .arg(&capture)
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("secrets"));
    let file = std::fs::read(&without).unwrap();
    assert!(
        !block_types(&file).contains(&0xA),
        "a secrets block without --evidence-keys"
    );
    assert!(!String::from_utf8_lossy(&file).contains(&hex(&session.master_secret)));

    if !have_tshark() {
        return;
    }
    assert_eq!(tshark_uris(&with_keys), ["/orders"]);
    assert!(tshark_uris(&without).is_empty());
}

#[test]
fn evidence_keys_need_an_evidence_file_with_its_payload() {
    faultline()
        .args(["analyze", "--evidence-keys", "x.pcap"])
        .assert()
        .code(2);
    faultline()
        .args([
            "analyze",
            "--evidence",
            "out.pcapng",
            "--evidence-redact",
            "--evidence-keys",
            "x.pcap",
        ])
        .assert()
        .code(2);
}

#[test]
fn a_live_key_log_line_that_arrives_after_the_first_records_still_decrypts_the_call() {
    use faultline::analysis::{Analyzer, Config};
    use faultline::app::tls::KeyLog;
    use faultline::source::{Frame, LinkType};

    let (cap, session) = keyed::unanswered_call(10, REQUEST);
    let frames = cap.frames.len();
    let run = |keys: KeyLog, line_before_frame: usize| {
        let mut analyzer = Analyzer::new(Config {
            keys: keys.clone(),
            ..Config::default()
        });
        for (i, (ts_ns, bytes)) in cap.frames.iter().enumerate() {
            if i + 1 == line_before_frame {
                keys.add_text("followed.keys", &session.key_log_line(), 1);
            }
            analyzer.process(&Frame {
                number: i as u64 + 1,
                ts_ns: *ts_ns,
                link_type: LinkType::RAW,
                bytes,
                orig_len: bytes.len() as u32,
            });
        }
        if line_before_frame > frames {
            keys.add_text("followed.keys", &session.key_log_line(), 1);
        }
        let analysis = analyzer.finish();
        analysis.capture.decryption
    };
    // The line is appended after both encrypted Finished messages went by (frames 8 and 10),
    // before the request (frame 12): followed live, the connection kept its records and is
    // decrypted.
    let live = || {
        let keys = KeyLog::new();
        keys.set_live();
        keys
    };
    assert_eq!(run(live(), 12).decrypted, 1);
    // The line comes only after the connection's last packet: its records still waited, and
    // open when the connection is closed out.
    assert_eq!(run(live(), frames + 1).decrypted, 1);
    // Not followed live (a file read whole, a secrets block), records before the secrets are
    // not kept: the request cannot be read.
    assert_eq!(run(KeyLog::new(), 12).decrypted, 0);
}

#[test]
fn without_the_clients_application_secret_the_servers_answers_are_still_read() {
    use faultline::analysis::{Config, analyze_path};
    use faultline::app::tls::{DecryptionState, KeyLog};

    let capture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/https-gateway-tls13.pcapng"
    );
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/https-gateway-tls13.keys"
    ))
    .expect("keys");
    let run = |text: &str| {
        let keys = KeyLog::new();
        keys.add_text("keys", text, 1);
        analyze_path(
            capture,
            Config {
                keys,
                ..Config::default()
            },
        )
        .expect("analysis")
    };
    let whole = run(&text);
    let statuses = |a: &faultline::analysis::Analysis| -> Vec<u16> {
        a.connections
            .iter()
            .flat_map(|c| &c.app.http.exchanges)
            .filter_map(|e| e.response.as_ref().map(|r| r.head.status))
            .collect()
    };
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("CLIENT_TRAFFIC_SECRET_0"))
        .map(|l| format!("{l}\n"))
        .collect();
    let half = run(&without);
    // The requests are not read, the answers are, and the connections say they were read in part.
    assert!(!statuses(&whole).is_empty());
    assert_eq!(statuses(&half), statuses(&whole));
    let requests = half
        .connections
        .iter()
        .flat_map(|c| &c.app.http.exchanges)
        .filter(|e| e.request.is_some())
        .count();
    assert_eq!(requests, 0);
    for c in &half.connections {
        let tls = c.app.tls.as_ref().expect("TLS");
        if tls.decryption.application_bytes[1] > 0 {
            assert_eq!(
                tls.decryption.state,
                DecryptionState::Partial,
                "stream {}",
                c.tcp.stream
            );
        }
    }
}
