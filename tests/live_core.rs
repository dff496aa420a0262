//! What a live capture needs from the sans-IO core, on hand-built segments: idle ticks decide a
//! call whose client gave up without waiting for more traffic, findings can be taken as they are
//! decided, and the TCP flow table has a cap that a flood of new flows hits with a count.

use etherparse::PacketBuilder;
use faultline::analysis::{Analyzer, Config, FindingsMode};
use faultline::source::{Frame, LinkType};
use faultline::tcp::FlowCap;

const SECOND: i64 = 1_000_000_000;
const CLIENT: [u8; 4] = [198, 18, 0, 2];
const SERVER: [u8; 4] = [198, 18, 1, 2];

/// A raw IPv4 TCP segment with the given flags (`S` SYN, `R` RST, `A` ACK).
fn segment(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, ack: u32, flags: &str) -> Vec<u8> {
    let mut builder = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 64_240);
    if flags.contains('S') {
        builder = builder.syn();
    }
    if flags.contains('R') {
        builder = builder.rst();
    }
    if flags.contains('A') {
        builder = builder.ack(ack);
    }
    let mut bytes = Vec::new();
    builder
        .write(&mut bytes, &[])
        .expect("writing to a Vec cannot fail");
    bytes
}

/// Feeds one frame: number `number`, at `ts_ns`.
fn feed(analyzer: &mut Analyzer, number: u64, ts_ns: i64, bytes: &[u8]) {
    analyzer.process(&Frame {
        number,
        ts_ns,
        link_type: LinkType::RAW,
        bytes,
        orig_len: bytes.len() as u32,
    });
}

/// Codes of the findings decided so far (connections are judged as they are taken).
fn decided(analyzer: &mut Analyzer) -> Vec<String> {
    analyzer.take_connections(|_| {});
    let mut codes = Vec::new();
    analyzer.take_findings(|f| codes.push(f.code));
    codes
}

/// Linux's SYN retries: 0 s, 1 s, 3 s (the backoff doubles each time).
fn unanswered_syns(analyzer: &mut Analyzer) {
    let syn = segment((CLIENT, 40_000), (SERVER, 8443), 1000, 0, "S");
    for (number, at) in [(1, 0), (2, SECOND), (3, 3 * SECOND)] {
        feed(analyzer, number, at, &syn);
    }
}

#[test]
fn an_unanswered_syn_is_decided_by_idle_ticks_once_the_client_stopped_retrying() {
    let mut analyzer = Analyzer::new(every());
    unanswered_syns(&mut analyzer);
    // Trying for 3 s: a client still trying sends again within 3 s + its first gap (Linux: at
    // 7 s); twice the time tried plus a second (7 s) of silence says it gave up.
    analyzer.tick(9 * SECOND + 9 * SECOND / 10);
    assert!(
        decided(&mut analyzer).is_empty(),
        "decided before the client could retry"
    );
    analyzer.tick(11 * SECOND);
    assert_eq!(decided(&mut analyzer), ["firewall.syn_unanswered"]);
    let analysis = analyzer.finish();
    assert!(
        analysis.findings.is_empty(),
        "the finding was taken already"
    );
    assert_eq!((analysis.calls_total, analysis.calls_failed), (1, 1));
}

#[test]
fn a_file_read_to_its_end_gives_the_same_finding_as_the_ticks() {
    let mut analyzer = Analyzer::new(every());
    unanswered_syns(&mut analyzer);
    let analysis = analyzer.finish();
    let codes: Vec<_> = analysis.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["firewall.syn_unanswered"]);
}

#[test]
fn a_long_macos_backoff_stays_one_connection_with_ticks_between_its_syns() {
    // macOS retries after 1 s five times, then doubles: 2, 4, 8, 16 s (as in a third-party
    // capture of the corpus). Each silence before the next SYN is shorter than the limit.
    let syn = segment((CLIENT, 40_002), (SERVER, 80), 5000, 0, "S");
    let times = [0, 1, 2, 3, 4, 5, 7, 11, 19, 35];
    let mut analyzer = Analyzer::new(every());
    for (i, &t) in times.iter().enumerate() {
        if i > 0 {
            // A quiet interface: ticks every 250 ms up to the next SYN.
            let mut now = times[i - 1] * SECOND;
            while now < t * SECOND {
                analyzer.tick(now);
                assert!(
                    decided(&mut analyzer).is_empty(),
                    "split before the SYN at {t} s"
                );
                now += SECOND / 4;
            }
        }
        feed(&mut analyzer, i as u64 + 1, t * SECOND, &syn);
    }
    analyzer.tick(35 * SECOND + 70 * SECOND);
    assert!(
        decided(&mut analyzer).is_empty(),
        "decided while a retry may still come"
    );
    analyzer.tick(35 * SECOND + 72 * SECOND);
    assert_eq!(decided(&mut analyzer), ["firewall.syn_unanswered"]);
    let analysis = analyzer.finish();
    assert_eq!(analysis.calls_total, 1);
}

/// A UDP DNS query for `example.com` A.
fn dns_query(id: u16) -> Vec<u8> {
    let mut message = id.to_be_bytes().to_vec();
    message.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    message.extend_from_slice(b"\x07example\x03com\x00\x00\x01\x00\x01");
    let mut bytes = Vec::new();
    PacketBuilder::ipv4(CLIENT, SERVER, 64)
        .udp(53_000, 53)
        .write(&mut bytes, &message)
        .expect("writing to a Vec cannot fail");
    bytes
}

#[test]
fn an_unanswered_dns_query_is_decided_by_ticks() {
    let mut analyzer = Analyzer::new(every());
    feed(&mut analyzer, 1, 0, &dns_query(0x1234));
    feed(&mut analyzer, 2, SECOND, &dns_query(0x1234));
    analyzer.tick(5 * SECOND);
    assert!(
        decided(&mut analyzer).is_empty(),
        "judged before a resolver's timeout"
    );
    analyzer.tick(12 * SECOND);
    assert_eq!(decided(&mut analyzer), ["dns.no_response"]);
}

#[test]
fn a_refused_connect_is_decided_by_ticks_after_the_close_delay() {
    let mut analyzer = Analyzer::new(every());
    let syn = segment((CLIENT, 40_001), (SERVER, 9), 1000, 0, "S");
    let rst = segment((SERVER, 9), (CLIENT, 40_001), 0, 1001, "RA");
    feed(&mut analyzer, 1, 0, &syn);
    feed(&mut analyzer, 2, SECOND / 1000, &rst);
    analyzer.tick(2 * SECOND);
    assert!(decided(&mut analyzer).is_empty(), "closed flows linger 5 s");
    analyzer.tick(7 * SECOND);
    assert_eq!(decided(&mut analyzer), ["server.refused"]);
}

#[test]
fn a_tick_back_in_time_is_ignored() {
    let mut analyzer = Analyzer::new(every());
    unanswered_syns(&mut analyzer);
    analyzer.tick(SECOND);
    assert!(decided(&mut analyzer).is_empty());
}

#[test]
fn a_syn_flood_hits_the_flow_cap_with_a_count_and_no_growth() {
    let config = Config {
        max_tcp_flows: FlowCap(10),
        ..every()
    };
    let mut analyzer = Analyzer::new(config);
    for port in 0..100u16 {
        let syn = segment((CLIENT, 20_000 + port), (SERVER, 443), 7, 0, "S");
        feed(
            &mut analyzer,
            u64::from(port) + 1,
            i64::from(port) * 1000,
            &syn,
        );
    }
    assert_eq!(analyzer.facts().frames, 100);
    let analysis = analyzer.finish();
    assert_eq!(analysis.capture.peak_tcp_flows, 10);
    assert_eq!(analysis.capture.tcp_untracked_packets, 90);
    assert_eq!(analysis.connections.len(), 10);
    // What was not analysed is said, with its count and the cap.
    let note = analysis
        .capture
        .notes
        .iter()
        .find(|n| n.code == "capture.limits_reached")
        .expect("a limits note");
    assert!(
        note.text
            .contains("90 TCP packet(s) of new connections were not followed because 10"),
        "{}",
        note.text
    );
}

#[test]
fn a_followed_connection_keeps_its_packets_when_the_table_is_full() {
    let config = Config {
        max_tcp_flows: FlowCap(1),
        ..every()
    };
    let mut analyzer = Analyzer::new(config);
    let syn = segment((CLIENT, 30_000), (SERVER, 443), 7, 0, "S");
    let syn_ack = segment((SERVER, 443), (CLIENT, 30_000), 50, 8, "SA");
    let other = segment((CLIENT, 30_001), (SERVER, 443), 9, 0, "S");
    feed(&mut analyzer, 1, 0, &syn);
    feed(&mut analyzer, 2, 1000, &other);
    feed(&mut analyzer, 3, 2000, &syn_ack);
    let analysis = analyzer.finish();
    assert_eq!(analysis.capture.tcp_untracked_packets, 1);
    assert_eq!(analysis.connections.len(), 1);
    assert_eq!(analysis.connections[0].tcp.frames, 2);
}

/// A live capture's analysis: each finding handed out as it is decided.
fn every() -> Config {
    Config {
        findings: FindingsMode::Every,
        ..Config::default()
    }
}
