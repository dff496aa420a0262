//! Floods and damaged clocks on small crafted captures: a SYN flood is one aggregate finding
//! counting every attempt, streamed one by one on request; one frame stamped in 2106 among
//! healthy conversations gives no finding and is named in a capture note.

mod craft;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use assert_cmd::Command;
use craft::{ACK, FIN_ACK, Pcap, SYN, Tcp};
use faultline::analysis::{Config, analyze_path};
use serde_json::Value;

const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(198, 19, 0, 1), 443);

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-floods-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// `n` clients each sending one SYN nobody answers, 50 ms apart, then a quiet 30 s, written
/// under a name of the calling test's own (`tag`): tests run in parallel, and two writing one
/// file would read each other's half-written capture.
fn syn_flood(tag: &str, n: u32) -> PathBuf {
    let mut pcap = Pcap::new();
    for i in 0..n {
        let client = (
            Ipv4Addr::from(0xC612_0000 + i),
            40_000 + (i % 20_000) as u16,
        );
        let mut tcp = Tcp::new(client, SERVER);
        pcap.ip(u64::from(i) * 50_000, &tcp.segment(true, SYN, b""));
    }
    // A last frame long after, so every attempt has timed out before the capture ends.
    let mut late = Tcp::new(
        (Ipv4Addr::new(198, 18, 255, 1), 1),
        (Ipv4Addr::new(198, 19, 9, 9), 9),
    );
    pcap.ip(
        u64::from(n) * 50_000 + 30_000_000,
        &late.segment(true, ACK, b""),
    );
    let path = scratch(&format!("syn-flood-{tag}-{n}.pcap"));
    pcap.write(&path);
    path
}

#[test]
fn a_syn_flood_is_one_aggregate_finding_counting_every_attempt() {
    let n = 300;
    let path = syn_flood("aggregate", n);
    let analysis = analyze_path(path.to_str().expect("utf-8"), Config::default()).expect("reads");
    assert_eq!(analysis.calls_failed, u64::from(n));
    assert_eq!(analysis.findings.len(), 1, "{:#?}", analysis.findings);
    let f = &analysis.findings[0];
    assert_eq!(f.code, "firewall.syn_unanswered");
    let group = f.aggregate.as_ref().expect("aggregate");
    assert_eq!(group.calls, u64::from(n));
    assert_eq!(group.servers.count, 1);
    // 300 distinct sources: past the exact range, estimated and said so.
    assert!(group.clients.estimated);
    assert!(
        group.clients.count.abs_diff(u64::from(n)) <= 15,
        "{:?}",
        group.clients
    );
    assert_eq!(group.samples.len(), faultline::analysis::SAMPLES);
    assert_eq!(group.samples[0].first_frame, 1);
}

#[test]
fn all_findings_streams_each_attempt_as_ndjson() {
    let n = 300;
    let path = syn_flood("ndjson", n);
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["analyze", "--all-findings", "--format", "ndjson"])
        .arg(&path)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(
        lines.len(),
        n as usize + 1,
        "one line per attempt, then the summary"
    );
    assert!(
        lines[..n as usize]
            .iter()
            .all(|l| l["event"]["code"] == "firewall.syn_unanswered")
    );
    assert_eq!(lines[n as usize]["faultline"]["findings"]["total"], n);
}

#[test]
fn one_frame_stamped_in_2106_among_healthy_conversations_is_named_not_believed() {
    let mut pcap = Pcap::new();
    let mut stamped = 0;
    let n = 50u64;
    for i in 0..n {
        let client = (Ipv4Addr::new(198, 18, 1, (i + 1) as u8), 50_000);
        let mut tcp = Tcp::new(client, SERVER);
        let t = i * 100_000;
        let t = tcp.handshake(&mut pcap, t);
        pcap.ip(t, &tcp.segment(true, FIN_ACK, b""));
        pcap.ip(t + 1_000, &tcp.segment(false, FIN_ACK, b""));
        // The last ACK of the middle conversation carries a broken stamp: 2106-02-07.
        let last = if i == n / 2 {
            stamped = pcap.frames + 1;
            (0xFFFF_FFFF - 1_700_000_000) * 1_000_000
        } else {
            t + 2_000
        };
        pcap.ip(last, &tcp.segment(true, ACK, b""));
    }
    let path = scratch("healthy-2106.pcap");
    pcap.write(&path);
    let analysis = analyze_path(path.to_str().expect("utf-8"), Config::default()).expect("reads");
    assert!(analysis.findings.is_empty(), "{:#?}", analysis.findings);
    assert_eq!(analysis.calls_total, n);
    assert_eq!(analysis.capture.clock.implausible, 1);
    let note = analysis
        .capture
        .notes
        .iter()
        .find(|n| n.code == "capture.damaged_timestamps")
        .expect("a note");
    assert_eq!(note.frames, vec![stamped]);
    // The capture's span is the real one, not 80 years.
    let span = analysis.capture.last_ts_ns.unwrap() - analysis.capture.first_ts_ns.unwrap();
    assert!(span < 10_000_000_000, "{span}");
}
