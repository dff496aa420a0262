//! The application layer receives each connection's reassembled bytes: checked on lab captures.

use faultline::analysis::{Config, analyze_path};
use faultline::app::Protocol;

fn captures(name: &str) -> String {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn https_connections_are_recognised_as_tls_in_both_directions() {
    let analysis = analyze_path(&captures("healthy-https.pcap"), Config::default()).unwrap();
    assert!(!analysis.connections.is_empty());
    for c in &analysis.connections {
        assert_eq!(
            c.app.client_protocol,
            Protocol::Tls,
            "stream {}",
            c.tcp.stream
        );
        assert_eq!(
            c.app.server_protocol,
            Protocol::Tls,
            "stream {}",
            c.tcp.stream
        );
        assert_eq!(c.app.client.gap_bytes + c.app.server.gap_bytes, 0);
    }
}

#[test]
fn lossy_http_streams_are_reassembled_whole_with_only_uncaptured_bytes_as_gaps() {
    // 5 % random loss at the router: every lost segment is retransmitted and captured, except a
    // few the capture itself missed, which the peer acknowledged anyway. Figures from tshark
    // (tcp.seq/tcp.len coverage per direction): stream lengths, and bytes never captured.
    let analysis = analyze_path(&captures("packet-loss.pcap"), Config::default()).unwrap();
    let expected = [
        // (client bytes, client never captured, server bytes, server never captured)
        (89, 0, 196_859, 1_572),
        (131_221, 524, 167, 0),
        (98, 0, 131_323, 0),
    ];
    assert_eq!(analysis.connections.len(), expected.len());
    for (c, (up, up_gap, down, down_gap)) in analysis.connections.iter().zip(expected) {
        let stream = c.tcp.stream;
        assert_eq!(c.app.client_protocol, Protocol::Http, "stream {stream}");
        assert_eq!(c.app.server_protocol, Protocol::Http, "stream {stream}");
        assert_eq!(c.app.client.gap_bytes, up_gap, "stream {stream}");
        assert_eq!(c.app.client.bytes + up_gap, up, "stream {stream}");
        assert_eq!(c.app.server.gap_bytes, down_gap, "stream {stream}");
        assert_eq!(c.app.server.bytes + down_gap, down, "stream {stream}");
        let retransmissions =
            c.tcp.client_to_server.retransmissions + c.tcp.server_to_client.retransmissions;
        assert!(retransmissions >= 3, "stream {stream}");
    }
}

#[test]
fn http_exchanges_are_parsed_whole_on_healthy_and_lossy_captures() {
    // healthy-api: 16 requests (GETs and POSTs, keep-alive and not), all answered 200 (tshark:
    // http.request, http.response.code == 200).
    let analysis = analyze_path(&captures("healthy-api.pcapng"), Config::default()).unwrap();
    let exchanges: Vec<_> = analysis
        .connections
        .iter()
        .flat_map(|c| &c.app.http.exchanges)
        .collect();
    assert_eq!(exchanges.len(), 16);
    for e in &exchanges {
        let r = e.response.as_ref().expect("answered");
        assert_eq!(r.head.status, 200);
        assert!(r.complete);
        assert!(e.request.as_ref().expect("request").last.is_some());
    }
    let posts = exchanges
        .iter()
        .filter(|e| e.request.as_ref().is_some_and(|r| r.head.method == "POST"))
        .count();
    assert_eq!(posts, 4);
    // packet-loss: three calls through 5 % loss; every response arrives whole in the end, even
    // where the capture itself missed a few segments the peer acknowledged.
    let analysis = analyze_path(&captures("packet-loss.pcap"), Config::default()).unwrap();
    for c in &analysis.connections {
        let http = &c.app.http;
        assert_eq!(http.exchanges.len(), 1, "stream {}", c.tcp.stream);
        let e = &http.exchanges[0];
        let r = e.response.as_ref().expect("answered");
        assert_eq!(r.head.status, 200, "stream {}", c.tcp.stream);
        assert!(r.complete, "stream {}", c.tcp.stream);
        let declared = r.body_declared().expect("Content-Length");
        assert_eq!(r.body_received + r.body_missing, declared);
        // Bytes the capture missed inside the body are the direction's gaps.
        assert_eq!(
            r.body_missing, c.app.server.gap_bytes,
            "stream {}",
            c.tcp.stream
        );
    }
}
