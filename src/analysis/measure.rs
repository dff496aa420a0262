//! What the packets show of one call's times and bytes, for its endpoint row. A latency is
//! measured only when both its ends were captured: a call whose response never came has no
//! time to first byte, a handshake that never finished no TLS time.

use crate::app::AppFacts;
use crate::app::tls::TlsFacts;
use crate::calls::ApiCall;
use crate::tcp::ConnectionSummary;

use super::endpoints::CallMeasures;

/// The TLS content type of application data records.
const APPLICATION_DATA: u8 = 23;

/// The measures of `call` on a connection; `first` marks the connection's first call, which
/// carries the connection's connect and TLS handshake times (once per connection).
pub(super) fn measure(
    tcp: &ConnectionSummary,
    app: &AppFacts,
    call: &ApiCall,
    first: bool,
) -> CallMeasures {
    let mut m = CallMeasures::default();
    if first {
        m.connect_ns = connect_ns(tcp);
        m.tls_ns = app.tls.as_ref().and_then(tls_ns);
    }
    match call.http_exchange(app) {
        Some(ex) => {
            let request = ex.request.as_ref();
            let response = ex.response.as_ref();
            if let Some((q, r)) = request.zip(response) {
                m.ttfb_ns = nonnegative(r.first.ts_ns - q.first.ts_ns);
                if r.complete {
                    m.total_ns = nonnegative(r.last.ts_ns - q.first.ts_ns);
                }
            }
            m.bytes_to_server = request.map_or(0, |q| q.body_bytes);
            m.bytes_to_client = response.map_or(0, |r| r.body_received);
        }
        None => {
            m.total_ns = connection_span_ns(tcp);
            m.bytes_to_server = tcp.client_to_server.payload_bytes;
            m.bytes_to_client = tcp.server_to_client.payload_bytes;
        }
    }
    m
}

fn nonnegative(ns: i64) -> Option<i64> {
    (ns >= 0).then_some(ns)
}

/// The client's first SYN to the server's first SYN-ACK: how long the client waited for the
/// connection (a SYN it had to send again included).
fn connect_ns(tcp: &ConnectionSummary) -> Option<i64> {
    let syn = tcp.facts.client.first_syn?;
    let syn_ack = tcp.facts.server.first_syn?;
    nonnegative(syn_ack.ts_ns - syn.ts_ns)
}

/// A connection that is a call of its own: its first packet (the SYN) to its last, when the
/// capture holds both its opening and its close (a FIN or RST from either side).
fn connection_span_ns(tcp: &ConnectionSummary) -> Option<i64> {
    let (c, s) = (&tcp.facts.client, &tcp.facts.server);
    let closed = c.first_fin.is_some()
        || s.first_fin.is_some()
        || c.first_rst.is_some()
        || s.first_rst.is_some();
    (tcp.syn_seen && closed)
        .then(|| tcp.last_ts_ns - tcp.first_ts_ns)
        .and_then(nonnegative)
}

/// The ClientHello to the handshake's end as the capture shows it: in TLS 1.2 the server's
/// Finished (its first encrypted record, after its ChangeCipherSpec, in a full or an
/// abbreviated handshake); in TLS 1.3 the last record of the server's first flight (the last
/// server record before the client's Finished). Only for a handshake that completed.
fn tls_ns(tls: &TlsFacts) -> Option<i64> {
    let hello = tls.client_hello.as_ref()?;
    if !tls.handshake_completed() {
        return None;
    }
    let end = if tls.is_tls13() {
        let server_from = tls.server.encrypted_from?;
        // The client's Finished: its first application data record after the server's
        // encrypted flight began (early data comes before it).
        let finished = tls
            .client
            .encrypted_records
            .iter()
            .find(|r| r.content_type == APPLICATION_DATA && r.frame > server_from.frame)?;
        let before = |frame: u64| frame < finished.frame;
        let notes = &tls.server.encrypted_records;
        match tls.server.last_record {
            Some(last) if before(last.frame) => last.ts_ns,
            // The kept records reach past the client's Finished: the flight's end is among them.
            _ if notes.iter().any(|r| !before(r.frame)) => {
                notes.iter().rev().find(|r| before(r.frame))?.ts_ns
            }
            // The flight went on past the records kept: its end was not recorded.
            _ => return None,
        }
    } else {
        tls.server.encrypted_from?.ts_ns
    };
    nonnegative(end - hello.ts_ns)
}
