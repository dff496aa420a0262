//! Damaged DNS messages and TLS records give their best reading and a counted anomaly, never
//! silence (issue 15): a SERVFAIL cut short is still a SERVFAIL, a compression loop does not
//! hide an NXDOMAIN, an alert in a record of length 0xFFFF or fragmented across records is still
//! the server's alert.

mod crafted;

use crafted::{CLIENT, Capture, SERVER, Tcp, counted, findings};
use faultline::analysis::{Analysis, Config, analyze_path};
use faultline::app::{dns, tls};

fn analyze(cap: &Capture, name: &str) -> Analysis {
    analyze_path(&cap.write(name), Config::default()).expect("a capture")
}

// --- DNS -------------------------------------------------------------------------------------

fn qname(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend(qname(name));
    out.extend_from_slice(&[0, 1, 0, 1]); // A, IN
    out
}

/// A response header and question with `rcode` and the given counts (answer, authority),
/// then `records` as raw bytes.
fn response(id: u16, name: &str, rcode: u8, counts: (u16, u16), records: &[u8]) -> Vec<u8> {
    let mut out = query(id, name);
    out[2] = 0x81;
    out[3] = 0x80 | rcode;
    out[6..8].copy_from_slice(&counts.0.to_be_bytes());
    out[8..10].copy_from_slice(&counts.1.to_be_bytes());
    out.extend_from_slice(records);
    out
}

/// An A record owned by the question's name (a pointer to offset 12).
fn a_record(address: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4];
    out.extend(address);
    out
}

/// One UDP lookup: the query and `answer`; the analysis and both frames.
fn udp_lookup(name: &str, id: u16, answer: &[u8]) -> (Analysis, u64, u64) {
    let mut cap = Capture::default();
    let q = cap.udp((CLIENT, 40_053), (SERVER, 53), &query(id, "api.lab.test"));
    let r = cap.udp((SERVER, 53), (CLIENT, 40_053), answer);
    (analyze(&cap, name), q, r)
}

#[test]
fn a_servfail_cut_short_in_its_answer_is_still_a_servfail() {
    let mut answer = response(7, "api.lab.test", 2, (1, 0), &a_record([198, 18, 1, 2]));
    answer.truncate(answer.len() - 3);
    let (a, q, r) = udp_lookup("dns-cut.pcap", 7, &answer);
    assert_eq!(findings(&a), [("dns.servfail".to_string(), vec![q, r])]);
    assert_eq!(counted(&a, dns::CUT_SHORT), 1);
    assert_eq!(a.capture.dns.malformed, 0);
}

#[test]
fn a_compression_loop_does_not_hide_an_nxdomain() {
    // The authority section's SOA owner is a pointer to itself.
    let at = query(9, "gone.lab.test").len() as u8;
    let soa = [0xc0, at, 0, 6, 0, 1, 0, 0, 0, 60, 0, 0];
    let answer = response(9, "gone.lab.test", 3, (0, 1), &soa);
    let mut cap = Capture::default();
    let q = cap.udp((CLIENT, 40_054), (SERVER, 53), &query(9, "gone.lab.test"));
    let r = cap.udp((SERVER, 53), (CLIENT, 40_054), &answer);
    let a = analyze(&cap, "dns-loop.pcap");
    assert_eq!(findings(&a), [("dns.nxdomain".to_string(), vec![q, r])]);
    assert_eq!(counted(&a, dns::COMPRESSION_LOOP), 1);
    assert_eq!(a.dns_lookups[0].name, "gone.lab.test");
}

#[test]
fn counts_beyond_the_records_keep_the_records_present() {
    let answer = response(11, "api.lab.test", 0, (3, 0), &a_record([198, 18, 1, 2]));
    let (a, _, r) = udp_lookup("dns-counts.pcap", 11, &answer);
    assert_eq!(findings(&a), []);
    assert_eq!(counted(&a, dns::COUNTS_EXCEED), 1);
    let got = a.dns_lookups[0].answer.as_ref().expect("answered");
    assert_eq!(got.mark.frame, r);
    assert_eq!(
        got.addresses,
        ["198.18.1.2".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn a_noerror_whose_answers_loop_is_not_called_an_empty_answer() {
    // The answer's owner name points at itself: whether it held the address is unknown.
    let at = query(12, "api.lab.test").len() as u8;
    let looped = [0xc0, at, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4];
    let answer = response(12, "api.lab.test", 0, (1, 0), &looped);
    let (a, _, r) = udp_lookup("dns-answer-loop.pcap", 12, &answer);
    assert_eq!(
        findings(&a),
        [],
        "no dns.no_answer (nor no_response) from a damaged answer"
    );
    assert_eq!(counted(&a, dns::COMPRESSION_LOOP), 1);
    assert_eq!(
        a.dns_lookups[0].answer.as_ref().map(|x| x.mark.frame),
        Some(r)
    );
}

#[test]
fn unreadable_datagrams_on_port_53_are_counted_malformed() {
    let (a, q, _) = udp_lookup("dns-garbage.pcap", 13, &[0x00, 0x0d, 0x81, 0x83, 0x00]);
    // The query stays unanswered; the garbage is counted, not read as its answer.
    assert_eq!(a.dns_lookups.len(), 1);
    assert_eq!(a.dns_lookups[0].first().frame, q);
    assert!(a.dns_lookups[0].answer.is_none());
    assert_eq!(a.capture.dns.malformed, 1);
    assert_eq!(counted(&a, dns::UNREADABLE), 1);
}

#[test]
fn a_tcp_dns_answer_the_connection_cut_short_is_read_as_far_as_it_goes() {
    let mut cap = Capture::default();
    let mut tcp = Tcp::open(&mut cap, 40_055, 53);
    let framed = |m: Vec<u8>, len: u16| {
        let mut out = len.to_be_bytes().to_vec();
        out.extend(m);
        out
    };
    let q = query(21, "gone.lab.test");
    let q_frame = tcp.send(&mut cap, true, &framed(q.clone(), q.len() as u16))[0];
    // The length prefix promises 200 bytes; the server sends 40 and closes.
    let answer = response(21, "gone.lab.test", 3, (0, 1), &[0xc0, 12, 0, 6]);
    let r_frame = tcp.send(&mut cap, false, &framed(answer, 200))[0];
    tcp.close(&mut cap);
    let a = analyze(&cap, "dns-tcp-cut.pcap");
    assert_eq!(
        findings(&a),
        [("dns.nxdomain".to_string(), vec![q_frame, r_frame])]
    );
    assert_eq!(counted(&a, dns::CUT_SHORT), 1);
    assert_eq!(a.connections[0].app.anomalies.count(dns::CUT_SHORT), 1);
}

// --- TLS -------------------------------------------------------------------------------------

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 3, 3];
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(body);
    out
}

/// A ClientHello handshake message (no record header) for `api.lab.test`.
fn client_hello_message() -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.push(0);
    body.extend([0, 4, 0x13, 0x01, 0xc0, 0x2f, 1, 0]);
    let name = b"api.lab.test";
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend((name.len() as u16).to_be_bytes());
    sni.extend(name);
    let mut ext = vec![0, 0];
    ext.extend((sni.len() as u16).to_be_bytes());
    ext.extend(sni);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut out = vec![1];
    out.extend(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend(body);
    out
}

/// A client sends its hello (as `hello` records), the server answers with `answer` segments and
/// closes. The analysis, the hello frames and the server's frames.
fn tls_exchange(name: &str, hello: &[&[u8]], answer: &[&[u8]]) -> (Analysis, Vec<u64>, Vec<u64>) {
    let mut cap = Capture::default();
    let mut tcp = Tcp::open(&mut cap, 40_443, 443);
    let h = tcp.send_pieces(&mut cap, true, hello);
    let s = tcp.send_pieces(&mut cap, false, answer);
    tcp.close(&mut cap);
    (analyze(&cap, name), h, s)
}

/// The server's alerts as (frame, level, description).
fn server_alerts(a: &Analysis) -> Vec<(u64, u8, u8)> {
    let tls = a.connections[0].app.tls.as_ref().expect("TLS facts");
    tls.server
        .alerts
        .iter()
        .map(|x| (x.frame, x.level, x.description))
        .collect()
}

#[test]
fn an_alert_in_a_record_of_length_0xffff_is_still_the_servers_alert() {
    let hello = record(22, &client_hello_message());
    // handshake_failure in a record whose header claims 65535 bytes.
    let alert = [21, 3, 3, 0xff, 0xff, 2, 40];
    let (a, h, s) = tls_exchange("tls-oversize.pcap", &[&hello], &[&alert]);
    assert_eq!(server_alerts(&a), [(s[0], 2, 40)]);
    let got = findings(&a);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].0.starts_with("tls."), "{got:?}");
    assert!(
        got[0].1.contains(&h[0]) && got[0].1.contains(&s[0]),
        "{got:?}"
    );
    assert_eq!(counted(&a, tls::OVERSIZE_RECORD), 1);
}

#[test]
fn an_alert_fragmented_across_records_and_segments_is_joined() {
    let hello = record(22, &client_hello_message());
    let (a, _, s) = tls_exchange(
        "tls-fragmented-alert.pcap",
        &[&hello],
        &[&record(21, &[2]), &record(21, &[40])],
    );
    // The alert is complete in the second segment.
    assert_eq!(server_alerts(&a), [(s[1], 2, 40)]);
    assert_eq!(a.findings.len(), 1, "{:?}", findings(&a));
    assert!(a.findings[0].evidence.iter().any(|e| e.frame == s[1]));
    assert_eq!(counted(&a, tls::FRAGMENTED_ALERT), 1);
    assert_eq!(counted(&a, tls::HALF_ALERT), 0);
}

#[test]
fn a_handshake_message_split_across_records_is_read_whole() {
    let msg = client_hello_message();
    let (first, second) = msg.split_at(30);
    let (a, _, _) = tls_exchange(
        "tls-split-hello.pcap",
        &[&record(22, first), &record(22, second)],
        &[&record(21, &[2, 40])],
    );
    let tls = a.connections[0].app.tls.as_ref().expect("TLS facts");
    let hello = tls.client_hello.as_ref().expect("the ClientHello was read");
    assert_eq!(hello.sni.as_deref(), Some("api.lab.test"));
    // Splitting a handshake message across records is allowed (RFC 8446 5.1): no anomaly.
    assert!(a.capture.anomalies.is_empty(), "{:?}", a.capture.anomalies);

    // Another record type between the pieces is not allowed; the message is still joined.
    let (a, _, _) = tls_exchange(
        "tls-interleaved-hello.pcap",
        &[&record(22, first), &record(20, &[1]), &record(22, second)],
        &[&record(21, &[2, 40])],
    );
    let tls = a.connections[0].app.tls.as_ref().expect("TLS facts");
    assert_eq!(
        tls.client_hello.as_ref().and_then(|h| h.sni.as_deref()),
        Some("api.lab.test")
    );
    assert_eq!(counted(&a, tls::INTERLEAVED_HANDSHAKE), 1);
}
