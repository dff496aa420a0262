//! DNS lookups as the analysis sees them, checked on lab captures against tshark's reading of
//! the same packets (`tshark -Y dns -T fields -e frame.number -e dns.flags.response
//! -e dns.qry.name -e dns.qry.type -e dns.flags.rcode -e dns.a -e dns.aaaa -e tcp.stream`).

use faultline::analysis::{Config, analyze_path};
use faultline::app::dns::DnsTransport;

fn captures(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_lookup_has_its_frames_rcode_and_addresses() {
    let analysis = analyze_path(&captures("dns-rcodes.pcapng"), Config::default()).unwrap();
    let mut got: Vec<_> = analysis
        .dns_lookups
        .iter()
        .map(|l| {
            let answer = l.answer.as_ref().expect("every lookup was answered");
            let addresses: Vec<String> = answer.addresses.iter().map(|a| a.to_string()).collect();
            (
                l.first().frame,
                answer.mark.frame,
                l.name.as_str(),
                l.qtype,
                answer.rcode,
                addresses,
                l.transport,
            )
        })
        .collect();
    got.sort_by_key(|g| g.0);
    let none = Vec::<String>::new;
    let expected = vec![
        (1, 2, "missing.lab.test", 1, 3, none(), DnsTransport::Udp),
        (3, 4, "www.broken.test", 1, 2, none(), DnsTransport::Udp),
        (5, 6, "www.example.net", 1, 5, none(), DnsTransport::Udp),
        (7, 8, "v4only.lab.test", 28, 0, none(), DnsTransport::Udp),
        (
            9,
            10,
            "api.lab.test",
            1,
            0,
            vec!["198.18.1.2".to_string()],
            DnsTransport::Udp,
        ),
        (14, 16, "gone.lab.test", 28, 3, none(), DnsTransport::Tcp),
        (
            24,
            26,
            "api.lab.test",
            28,
            0,
            vec!["fd0f:a17:f17:1::2".to_string()],
            DnsTransport::Tcp,
        ),
        (34, 36, "www.example.org", 1, 5, none(), DnsTransport::Tcp),
    ];
    assert_eq!(got, expected);
    for l in &analysis.dns_lookups {
        let t = l.time_to_answer_ns().expect("answered");
        assert!((0..1_000_000_000).contains(&t), "{}: {t} ns", l.name);
    }
    // Each lookup is a call; the TCP connections that carried DNS are not calls of their own.
    assert_eq!((analysis.calls_total, analysis.calls_failed), (8, 6));
    assert_eq!(analysis.capture.dns.malformed, 0);
}

#[test]
fn search_list_walking_and_dual_stack_lookups_are_healthy() {
    let analysis = analyze_path(&captures("healthy-dns.pcapng"), Config::default()).unwrap();
    // 13 queries in the capture, each its own lookup (no retries), all answered.
    assert_eq!(analysis.dns_lookups.len(), 13);
    assert!(analysis.dns_lookups.iter().all(|l| l.answer.is_some()));
    assert_eq!(analysis.capture.dns.unmatched_responses, 0);
    assert_eq!(analysis.calls_failed, 0);
    assert!(analysis.findings.is_empty());
}

#[test]
fn retries_are_grouped_into_one_unanswered_lookup() {
    let analysis = analyze_path(&captures("dns-no-response.pcap"), Config::default()).unwrap();
    let lookups: Vec<_> = analysis
        .dns_lookups
        .iter()
        .map(|l| (l.name.as_str(), l.query_count, l.answer.is_some()))
        .collect();
    assert_eq!(
        lookups,
        [("api.lab.test", 2, false), ("db.lab.test", 2, false)]
    );
}
