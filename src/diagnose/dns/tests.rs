//! Lookups judged alone and with the ones around them.
use super::*;
use crate::app::dns::test_bytes::{query, response};
use crate::app::dns::{LookupTable, TYPE_A, TYPE_AAAA};
use crate::diagnose::Severity;
use crate::flows::Endpoint;
use crate::tcp::Mark;

/// Lookups from one client to one server: (name, type, rcode or None for no answer, an
/// address answered?), one second apart.
fn judge(lookups: &[(&str, u16, Option<u8>, bool)]) -> Vec<String> {
    judge_spaced(lookups, 1_000_000_000)
}

/// Like [`judge`], with the lookups `spacing_ns` apart (each answered at once).
fn judge_spaced(lookups: &[(&str, u16, Option<u8>, bool)], spacing_ns: i64) -> Vec<String> {
    let mut table = LookupTable::new();
    let client = Endpoint::new("198.18.0.2".parse().unwrap(), 40000);
    let server = Endpoint::new("198.18.2.2".parse().unwrap(), 53);
    let mut frame = 0;
    for (i, &(name, qtype, rcode, answered)) in lookups.iter().enumerate() {
        let id = i as u16;
        let ts_ns = i as i64 * spacing_ns;
        frame += 1;
        let mark = Mark { frame, ts_ns };
        table.on_message(
            &query(id, name, qtype),
            client,
            server,
            mark,
            DnsTransport::Udp,
        );
        if let Some(rcode) = rcode {
            let rdata = if qtype == TYPE_A {
                vec![198, 18, 1, 2]
            } else {
                vec![0xfd; 16]
            };
            let answers = if answered {
                vec![(name, qtype, rdata)]
            } else {
                vec![]
            };
            frame += 1;
            let mark = Mark { frame, ts_ns };
            let bytes = response(id, name, qtype, rcode, &answers);
            table.on_message(&bytes, client, server, mark, DnsTransport::Udp);
        }
    }
    table.finish(100_000_000_000);
    let mut judge = DnsJudge::new();
    let mut codes = Vec::new();
    let mut out = |v: LookupVerdict| codes.push(v.finding.map_or("ok".into(), |f| f.code));
    for lookup in table.drain().collect::<Vec<_>>() {
        judge.push(lookup, 0, &(), &mut out);
    }
    judge.finish(&(), &mut out);
    codes
}

#[test]
fn each_failure_is_named() {
    assert_eq!(
        judge(&[("a.test", TYPE_A, Some(3), false)]),
        ["dns.nxdomain"]
    );
    assert_eq!(
        judge(&[("a.test", TYPE_A, Some(2), false)]),
        ["dns.servfail"]
    );
    assert_eq!(
        judge(&[("a.test", TYPE_A, Some(5), false)]),
        ["dns.refused"]
    );
    assert_eq!(
        judge(&[("a.test", TYPE_A, Some(0), false)]),
        ["dns.no_answer"]
    );
    assert_eq!(
        judge(&[("a.test", TYPE_A, None, false)]),
        ["dns.no_response"]
    );
    assert_eq!(judge(&[("a.test", TYPE_A, Some(0), true)]), ["ok"]);
}

#[test]
fn a_truncated_udp_answer_is_left_to_the_tcp_retry() {
    let mut table = LookupTable::new();
    let client = Endpoint::new("198.18.0.2".parse().unwrap(), 40000);
    let server = Endpoint::new("198.18.2.2".parse().unwrap(), 53);
    let mark = |frame| Mark { frame, ts_ns: 0 };
    let q = query(1, "big.test", TYPE_A);
    table.on_message(&q, client, server, mark(1), DnsTransport::Udp);
    let mut r = response(1, "big.test", TYPE_A, 0, &[]);
    r[2] |= 0x02; // TC
    table.on_message(&r, client, server, mark(2), DnsTransport::Udp);
    let mut judge = DnsJudge::new();
    let mut findings = 0;
    let mut out = |v: LookupVerdict| findings += usize::from(v.finding.is_some());
    for lookup in table.drain().collect::<Vec<_>>() {
        assert!(lookup.answer.as_ref().is_some_and(|a| a.truncated));
        judge.push(lookup, 0, &(), &mut out);
    }
    judge.finish(&(), &mut out);
    assert_eq!(findings, 0);
}

#[test]
fn search_list_walking_is_not_a_failure() {
    let codes = judge(&[
        ("api.corp.test", TYPE_A, Some(3), false),
        ("api.svc.test", TYPE_A, Some(0), true),
    ]);
    assert_eq!(codes, ["ok", "ok"]);
    // ...but a different name resolving afterwards does not excuse it.
    let codes = judge(&[
        ("api.corp.test", TYPE_A, Some(3), false),
        ("www.corp.test", TYPE_A, Some(0), true),
    ]);
    assert_eq!(codes, ["dns.nxdomain", "ok"]);
    // A walk through several suffixes: every failed step is normal.
    let codes = judge(&[
        ("api.ns.svc.test", TYPE_A, Some(3), false),
        ("api.svc.test", TYPE_A, Some(0), false),
        ("api.corp.test", TYPE_A, Some(0), true),
    ]);
    assert_eq!(codes, ["ok", "ok", "ok"]);
    // glibc with AF_UNSPEC on an IPv4-only name (zeek/wikipedia.pcap): no AAAA plain, no
    // AAAA under the search suffix, then the A record resolves.
    let codes = judge(&[
        ("upload.example.org", TYPE_AAAA, Some(0), false),
        ("upload.example.org.corp.test", TYPE_AAAA, Some(3), false),
        ("upload.example.org", TYPE_A, Some(0), true),
    ]);
    assert_eq!(codes, ["ok", "ok", "ok"]);
    // A walk that never resolves is a failure (reported on each name asked).
    let codes = judge(&[
        ("api.corp.test", TYPE_A, Some(3), false),
        ("api.svc.test", TYPE_A, Some(3), false),
    ]);
    assert_eq!(codes, ["dns.nxdomain", "dns.nxdomain"]);
}

#[test]
fn a_same_label_name_resolved_later_is_another_lookup() {
    // An NXDOMAIN for api.prod.test, then, five seconds on, api.staging.test resolves: a
    // stub would have asked for the next candidate at once, so this is not a walk.
    let codes = judge_spaced(
        &[
            ("api.prod.test", TYPE_A, Some(3), false),
            ("api.staging.test", TYPE_A, Some(0), true),
        ],
        5_000_000_000,
    );
    assert_eq!(codes, ["dns.nxdomain", "ok"]);
}

#[test]
fn an_empty_aaaa_beside_a_resolved_a_is_normal() {
    let codes = judge(&[
        ("api.test", TYPE_A, Some(0), true),
        ("api.test", TYPE_AAAA, Some(0), false),
    ]);
    assert_eq!(codes, ["ok", "ok"]);
    let codes = judge(&[
        ("api.test", TYPE_A, Some(0), false),
        ("api.test", TYPE_AAAA, Some(0), false),
    ]);
    assert_eq!(
        codes,
        ["dns.no_answer", "ok"],
        "one failed call, reported once"
    );
}

#[test]
fn both_families_failing_alike_is_one_finding() {
    let codes = judge(&[
        ("gone.test", TYPE_A, Some(3), false),
        ("gone.test", TYPE_AAAA, Some(3), false),
    ]);
    assert_eq!(codes, ["dns.nxdomain", "ok"]);
}

/// One lookup judged alone: the verdict's code (or `ok`) and whether it is unfinished.
fn judge_one(q: Vec<u8>, r: Option<Vec<u8>>, end_ns: i64, capture_ended: bool) -> (String, bool) {
    let mut table = LookupTable::new();
    let client = Endpoint::new("198.18.0.2".parse().unwrap(), 40000);
    let server = Endpoint::new("198.18.2.2".parse().unwrap(), 53);
    let mark = |frame| Mark { frame, ts_ns: 0 };
    table.on_message(&q, client, server, mark(1), DnsTransport::Udp);
    if let Some(r) = r {
        table.on_message(&r, client, server, mark(2), DnsTransport::Udp);
    }
    if capture_ended {
        table.finish(end_ns);
    } else {
        table.finish_connection(end_ns);
    }
    let mut judge = DnsJudge::new();
    let mut verdicts = Vec::new();
    let mut out =
        |v: LookupVerdict| verdicts.push((v.finding.map_or("ok".into(), |f| f.code), v.unfinished));
    for lookup in table.drain().collect::<Vec<_>>() {
        judge.push(lookup, 0, &(), &mut out);
    }
    judge.finish(&(), &mut out);
    assert_eq!(verdicts.len(), 1);
    verdicts.remove(0)
}

#[test]
fn nodata_for_a_type_that_is_not_an_address_is_an_answer() {
    const TYPE_TXT: u16 = 16;
    const TYPE_HTTPS: u16 = 65;
    for qtype in [TYPE_TXT, TYPE_HTTPS] {
        let q = query(1, "a.test", qtype);
        let r = response(1, "a.test", qtype, 0, &[]);
        assert_eq!(judge_one(q, Some(r), 0, true), ("ok".into(), false));
    }
}

#[test]
fn a_query_the_capture_ended_on_is_unfinished_not_failed() {
    let q = || query(1, "a.test", TYPE_A);
    // A one-frame capture: the answer was not due yet.
    assert_eq!(judge_one(q(), None, 0, true), ("ok".into(), true));
    // The capture went on past a resolver's timeout: no response.
    let late = RESOLVER_TIMEOUT_NS + 1;
    assert_eq!(
        judge_one(q(), None, late, true),
        ("dns.no_response".into(), false)
    );
    // A retry shows the client's timer fired: the lookup is judged when the capture ends.
    let mut table = LookupTable::new();
    let client = Endpoint::new("198.18.0.2".parse().unwrap(), 40000);
    let server = Endpoint::new("198.18.2.2".parse().unwrap(), 53);
    for (frame, ts_ns) in [(1, 0), (2, 1_000_000_000)] {
        let mark = Mark { frame, ts_ns };
        table.on_message(&q(), client, server, mark, DnsTransport::Udp);
    }
    table.finish(1_000_000_000);
    let lookup = table.drain().next().unwrap();
    assert!(!unfinished(&lookup));
    // A TCP connection that ended without an answer decided it, not the capture.
    assert_eq!(
        judge_one(q(), None, 0, false),
        ("dns.no_response".into(), false)
    );
}

#[test]
fn a_refused_update_names_the_operation() {
    let with_opcode = |mut m: Vec<u8>, opcode: u8| {
        m[2] = (m[2] & !0x78) | (opcode << 3);
        m
    };
    const TYPE_SOA: u16 = 6;
    for (opcode, rcode, code) in [
        (5, 5, "dns.operation_refused"),
        (5, 4, "dns.operation_refused"),
        (4, 5, "dns.operation_refused"),
        (5, 0, "ok"),
        // YXDOMAIN: a prerequisite failed, the update's own logic.
        (5, 6, "ok"),
    ] {
        let q = with_opcode(query(7, "zone.test", TYPE_SOA), opcode);
        let r = with_opcode(response(7, "zone.test", TYPE_SOA, rcode, &[]), opcode);
        let (got, unfinished) = judge_one(q, Some(r), 0, true);
        assert_eq!(
            (got.as_str(), unfinished),
            (code, false),
            "{opcode}/{rcode}"
        );
    }
}

/// One UDP lookup of `a.test` TXT: queries (frame, seconds, id), then the answer (frame,
/// seconds, id, rcode), judged with the given datagrams that never reassembled.
fn judge_retried(
    queries: &[(u64, f64, u16)],
    answer: (u64, f64, u16, u8),
    fragments: &[IncompleteDatagram],
) -> Vec<Finding> {
    let mut table = LookupTable::new();
    let client = Endpoint::new("2001:db8::2".parse().unwrap(), 51851);
    let server = Endpoint::new("2001:db8::53".parse().unwrap(), 53);
    let at = |frame, secs: f64| Mark {
        frame,
        ts_ns: (secs * 1e9) as i64,
    };
    for &(frame, secs, id) in queries {
        let bytes = query(id, "a.test", 16);
        table.on_message(&bytes, client, server, at(frame, secs), DnsTransport::Udp);
    }
    let (frame, secs, id, rcode) = answer;
    let records = if rcode == 0 {
        vec![("a.test", 16, b"\x04text".to_vec())]
    } else {
        vec![]
    };
    let bytes = response(id, "a.test", 16, rcode, &records);
    table.on_message(&bytes, client, server, at(frame, secs), DnsTransport::Udp);
    table.finish(100_000_000_000);
    let fragments = fragments.to_vec();
    let mut judge = DnsJudge::new();
    let mut findings = Vec::new();
    let mut out = |v: LookupVerdict| findings.extend(v.finding);
    for lookup in table.drain().collect::<Vec<_>>() {
        judge.push(lookup, 0, &fragments, &mut out);
    }
    judge.finish(&fragments, &mut out);
    findings
}

/// A fragment from the server (2001:db8::53) to the client, first seen in `frame`.
fn fragment(frame: u64, protocol: u8) -> IncompleteDatagram {
    IncompleteDatagram {
        frame,
        ts_ns: frame as i64 * 1_000_000_000,
        src: "2001:db8::53".parse().unwrap(),
        dst: "2001:db8::2".parse().unwrap(),
        protocol,
    }
}

fn frames(f: &Finding) -> Vec<u64> {
    f.evidence.iter().map(|e| e.frame).collect()
}

#[test]
fn an_answer_only_after_the_clients_timer_fired_is_loss() {
    let findings = judge_retried(&[(3, 15.0, 7), (5, 20.0, 7)], (8, 20.08, 7, 0), &[]);
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    assert_eq!(f.code, "network.packet_loss");
    assert_eq!(f.severity, Severity::Degraded);
    assert_eq!(f.confidence, Confidence::Medium);
    assert_eq!(frames(f), [3, 5, 8]);
    assert!(f.alternatives[0].starts_with("server.slow_response"));
    assert_eq!(f.transport, Transport::Udp);
}

#[test]
fn a_fragment_of_the_answer_that_never_reassembled_is_cited() {
    let lost = [fragment(4, 17)];
    let findings = judge_retried(&[(3, 15.0, 7), (5, 20.0, 7)], (8, 20.08, 7, 0), &lost);
    let f = &findings[0];
    assert_eq!(f.confidence, Confidence::High);
    assert_eq!(frames(f), [3, 4, 5, 8]);
    assert!(f.evidence[1].note.contains("the rest never arrived"));
    assert!(f.alternatives.is_empty());
}

#[test]
fn fragments_elsewhere_are_not_the_answers() {
    // After the retry, not UDP, or the other way: not a fragment of the lost answer.
    let mut upstream = fragment(4, 17);
    std::mem::swap(&mut upstream.src, &mut upstream.dst);
    for lost in [fragment(6, 17), fragment(4, 6), upstream] {
        let findings = judge_retried(&[(3, 15.0, 7), (5, 20.0, 7)], (8, 20.08, 7, 0), &[lost]);
        assert_eq!(findings[0].confidence, Confidence::Medium, "{lost:?}");
        assert_eq!(frames(&findings[0]), [3, 5, 8]);
    }
}

#[test]
fn no_loss_without_a_timer_or_when_the_first_query_was_answered() {
    // A second query moments after the first is not the client's timer.
    assert!(judge_retried(&[(1, 0.0, 7), (2, 0.2, 7)], (3, 0.3, 7, 0), &[]).is_empty());
    // The answer carries the first query's id only: the server answered it late.
    assert!(judge_retried(&[(1, 0.0, 7), (2, 5.0, 8)], (3, 5.5, 7, 0), &[]).is_empty());
    // One query, answered.
    assert!(judge_retried(&[(1, 0.0, 7)], (2, 0.1, 7, 0), &[]).is_empty());
    // The retry was answered with a new id: loss.
    let findings = judge_retried(&[(1, 0.0, 7), (2, 5.0, 8)], (3, 5.1, 8, 0), &[]);
    assert_eq!(findings[0].code, "network.packet_loss");
}

#[test]
fn a_retried_lookup_that_failed_keeps_its_failure() {
    let findings = judge_retried(&[(1, 0.0, 7), (2, 5.0, 7)], (3, 5.1, 7, 3), &[]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].code, "dns.nxdomain");
}
