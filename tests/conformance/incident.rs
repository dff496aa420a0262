//! The incident view on third-party traffic: a flood is one group whose count, clients and
//! time span fit the first screen of the text report; every corpus capture's groups account
//! for every finding and never claim more calls than were made; the Markdown stays under its
//! size limit while keeping every group's row.

use std::process::Command;

use serde_json::Value;

use super::corpus::Corpus;

fn faultline(args: &[&str], capture: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["analyze", "--no-system-ca"])
        .args(args)
        .arg(capture)
        .output()
        .expect("faultline runs");
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Streams in which tshark sees a client SYN sent again, and all streams with a client SYN.
fn tshark_syn_streams(capture: &std::path::Path) -> (usize, usize) {
    let streams = |filter: &str| {
        let out = Command::new("tshark")
            .arg("-r")
            .arg(capture)
            .args(["-Y", filter, "-T", "fields", "-e", "tcp.stream"])
            .output()
            .expect("tshark runs");
        let mut s: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        s.sort();
        s.dedup();
        s.len()
    };
    (
        streams("tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission"),
        streams("tcp.flags.syn==1 && tcp.flags.ack==0"),
    )
}

#[test]
#[ignore = "needs ../shared/corpus and tshark: cargo test --test conformance -- --include-ignored"]
fn a_flood_is_one_group_named_on_the_first_screen_with_its_count_and_span() {
    let corpus = Corpus::locate();
    let capture = corpus.path("zeek/echo-connections.pcap");
    // 500 connections to 127.0.0.1:7000, 158 of whose SYNs had to be sent again (tshark).
    let (retried, all) = tshark_syn_streams(&capture);
    assert_eq!((retried, all), (158, 500));
    for every in [false, true] {
        let flags: &[&str] = if every { &["--all-findings"] } else { &[] };
        let json: Value = serde_json::from_str(&faultline(
            &[flags, &["--format", "json"]].concat(),
            &capture,
        ))
        .expect("json");
        let groups = json["groups"].as_array().expect("groups");
        assert_eq!(groups.len(), 1, "one group, every={every}");
        let g = &groups[0];
        assert_eq!(g["code"], "server.listen_queue_full");
        assert_eq!(g["calls_affected"], retried as u64);
        assert_eq!(g["calls_made"], all as u64);
        let text = faultline(flags, &capture);
        let screen: Vec<&str> = text.lines().take(25).collect();
        let screen = screen.join("\n");
        let first = g["time"]["first"].as_str().unwrap();
        let last = g["time"]["last"].as_str().unwrap();
        for needle in [
            "G1 server.listen_queue_full",
            "158 of 500 calls to 127.0.0.1:7000 from 1 client",
            first,
            last,
            "over 3.18 s",
        ] {
            assert!(
                screen.contains(needle),
                "every={every}: the first screen lacks {needle:?}:\n{screen}"
            );
        }
    }
}

#[test]
#[ignore = "needs ../shared/corpus: cargo test --test conformance -- --include-ignored"]
fn groups_account_for_every_finding_and_markdown_fits_its_limit() {
    let corpus = Corpus::locate();
    let mut checked = 0;
    for capture in corpus.captures() {
        if std::fs::metadata(&capture).map_or(true, |m| m.len() > 8 << 20) {
            continue;
        }
        let json: Value = serde_json::from_str(&faultline(&["--format", "json"], &capture))
            .unwrap_or_else(|e| panic!("{}: {e}", capture.display()));
        let findings = json["findings"].as_array().unwrap();
        let groups = json["groups"].as_array().unwrap();
        let named: usize = groups
            .iter()
            .map(|g| g["findings"].as_array().unwrap().len())
            .sum();
        assert_eq!(named, findings.len(), "{}", capture.display());
        for f in findings {
            let group = groups.iter().find(|g| g["id"] == f["group"]);
            let group = group.unwrap_or_else(|| panic!("{}: {f}", capture.display()));
            assert!(group["findings"].as_array().unwrap().contains(&f["id"]));
            assert_eq!(group["code"], f["code"]);
        }
        for g in groups {
            let affected = g["calls_affected"].as_u64().unwrap();
            if let Some(made) = g["calls_made"].as_u64() {
                assert!(made >= affected, "{}: {g}", capture.display());
            }
        }
        if !groups.is_empty() {
            // A limit the headline, the summary and 20 group rows fit in.
            let markdown = faultline(&["--format", "markdown", "--max-chars", "10000"], &capture);
            assert!(
                markdown.chars().count() <= 10_000,
                "{}: {} characters",
                capture.display(),
                markdown.chars().count()
            );
            for g in groups.iter().take(20) {
                let id = g["id"].as_str().unwrap();
                assert!(
                    markdown.contains(&format!("| {id} |")),
                    "{}: {id} lost",
                    capture.display()
                );
            }
            let default = faultline(&["--format", "markdown"], &capture);
            assert!(default.chars().count() <= 60_000, "{}", capture.display());
        }
        checked += 1;
    }
    assert!(checked > 50, "only {checked} captures checked");
}
