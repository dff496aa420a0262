//! HTTP/2 and gRPC calls judged on facts built by hand: each stream its own verdict, a reset by
//! its code and sender, a gRPC status, a deadline, one finding for a GOAWAY or a close that
//! killed several calls.

use crate::app::AppFacts;
use crate::app::http::{Exchange, Framing, Request, RequestHead, Response, ResponseHead};
use crate::app::http2::{
    ErrorCode, GoAway, GrpcFacts, H2Stream, Http2Facts, Http2Start, StreamReset,
};
use crate::tcp::{ConnectionSummary, Origin};

use super::CallVerdict;
use super::script::{ACK, PSH_ACK, SYN, SYN_ACK, c, codes, exchanged, judge_app, run, s};

fn at(frame: u64, ms: i64) -> Origin {
    Origin {
        frame,
        ts_ns: ms * 1_000_000,
    }
}

/// A stream whose request was sent at `frame`/`ms`.
fn stream(id: u32, frame: u64, ms: i64, path: &str) -> H2Stream {
    H2Stream {
        id,
        exchange: Exchange {
            request: Some(Request {
                head: RequestHead {
                    method: "POST".into(),
                    target: path.into(),
                    host: Some("api.test".into()),
                    ..RequestHead::default()
                },
                first: at(frame, ms),
                last: Some(at(frame, ms)),
                body_bytes: 0,
            }),
            interim: 0,
            first_interim: None,
            response: None,
            response_not_captured: false,
        },
        request_end: Some(at(frame, ms)),
        content_type: None,
        trailers_at: None,
        reset: None,
        headers_undecodable: false,
        grpc: None,
        pushed: false,
    }
}

/// `s` answered `status` at `frame`/`ms`, complete.
fn answered(mut st: H2Stream, status: u16, frame: u64, ms: i64) -> H2Stream {
    st.exchange.response = Some(Response {
        head: ResponseHead {
            status,
            ..ResponseHead::default()
        },
        framing: Framing::None,
        first: at(frame, ms),
        last: at(frame, ms),
        body_received: 0,
        body_missing: 0,
        complete: true,
        said: None,
    });
    st
}

fn grpc(mut st: H2Stream, timeout_ms: Option<u64>, status: Option<(u32, u64, i64)>) -> H2Stream {
    let mut g = GrpcFacts {
        service: "lab.Echo".into(),
        method: "Say".into(),
        timeout_ns: timeout_ms.map(|t| t * 1_000_000),
        ..GrpcFacts::default()
    };
    if let Some((code, frame, ms)) = status {
        g.status = Some(code);
        g.message = Some("backend down".into());
        g.status_at = Some(at(frame, ms));
        g.trailers_only = true;
    }
    st.grpc = Some(Box::new(g));
    st
}

/// The same connection, then closed by the server's FIN and the client's.
fn closed() -> ConnectionSummary {
    let fin = crate::decode::TcpFlags::FIN | ACK;
    run(&[
        c(0, SYN, 0, 0, 0),
        s(1, SYN_ACK, 0, 1, 0),
        c(2, ACK, 1, 1, 0),
        c(3, PSH_ACK, 1, 1, 100),
        s(4, PSH_ACK, 1, 101, 100),
        c(5, ACK, 101, 101, 0),
        s(14, fin, 101, 101, 0),
        c(15, fin, 101, 102, 0),
        s(16, ACK, 102, 102, 0),
    ])
}

fn judge(conn: &ConnectionSummary, h2: Http2Facts) -> Vec<CallVerdict> {
    let app = AppFacts {
        http2: Some(Box::new(h2)),
        ..AppFacts::default()
    };
    judge_app(conn, &app)
}

fn facts(streams: Vec<H2Stream>) -> Http2Facts {
    Http2Facts {
        start: Http2Start::PriorKnowledge,
        stream_count: streams.len() as u64,
        streams,
        ..Http2Facts::default()
    }
}

#[test]
fn each_stream_gets_its_own_verdict_by_status_and_reset() {
    let conn = exchanged();
    let mut refused = stream(5, 12, 12, "/c");
    refused.reset = Some(StreamReset {
        code: ErrorCode::REFUSED_STREAM,
        by_client: false,
        at: at(13, 13),
    });
    let mut h2 = facts(vec![
        answered(stream(1, 8, 8, "/a"), 200, 9, 9),
        answered(stream(3, 10, 10, "/b"), 404, 11, 11),
        refused,
    ]);
    h2.settings[1].max_concurrent_streams = Some(2);
    let v = judge(&conn, h2);
    assert_eq!(
        codes(&v),
        vec![
            None,
            Some("client.http_404".into()),
            Some("server.http2_refused_stream".into())
        ]
    );
    let refused = v[2].finding.as_ref().unwrap();
    assert!(refused.summary.contains("stream 5"), "{}", refused.summary);
    assert!(
        refused
            .explanation
            .contains("SETTINGS_MAX_CONCURRENT_STREAMS 2")
    );
    let frames: Vec<u64> = refused.evidence.iter().map(|e| e.frame).collect();
    assert_eq!(frames, vec![12, 13]);
    assert_eq!(refused.http2.as_ref().unwrap().stream_id, 5);
    let not_found = v[1].finding.as_ref().unwrap();
    assert!(
        not_found.summary.contains("HTTP/2 stream 3"),
        "{}",
        not_found.summary
    );
}

#[test]
fn a_reset_after_the_whole_answer_is_no_failure() {
    let mut st = answered(stream(1, 8, 8, "/a"), 200, 9, 9);
    st.reset = Some(StreamReset {
        code: ErrorCode::CANCEL,
        by_client: true,
        at: at(10, 10),
    });
    assert_eq!(codes(&judge(&exchanged(), facts(vec![st]))), vec![None]);
}

#[test]
fn grpc_status_names_the_cause_and_quotes_the_message() {
    let st = grpc(
        answered(stream(1, 8, 8, "/lab.Echo/Say"), 200, 9, 9),
        None,
        Some((14, 9, 9)),
    );
    let v = judge(&exchanged(), facts(vec![st]));
    let f = v[0].finding.as_ref().unwrap();
    assert_eq!(f.code, "server.grpc_unavailable");
    assert!(f.summary.contains("/lab.Echo/Say"), "{}", f.summary);
    assert!(f.summary.contains("14 UNAVAILABLE"), "{}", f.summary);
    assert!(f.summary.contains("\"backend down\""), "{}", f.summary);
    assert!(f.summary.contains("Trailers-Only"), "{}", f.summary);
    let g = f.http2.as_ref().unwrap().grpc.as_ref().unwrap();
    assert_eq!((g.status, g.status_name), (Some(14), Some("UNAVAILABLE")));
}

#[test]
fn a_cancel_at_the_deadline_is_the_deadline_passing_and_before_it_the_client_giving_up() {
    let cancel = |ms: i64| {
        let mut st = grpc(stream(1, 8, 8, "/lab.Echo/Say"), Some(300), None);
        st.reset = Some(StreamReset {
            code: ErrorCode::CANCEL,
            by_client: true,
            at: at(20, 8 + ms),
        });
        st
    };
    let v = judge(&exchanged(), facts(vec![cancel(299)]));
    let f = v[0].finding.as_ref().unwrap();
    assert_eq!(f.code, "server.grpc_deadline_exceeded");
    assert!(f.summary.contains("deadline of 300 ms"), "{}", f.summary);
    assert!(f.alternatives.iter().any(|a| a.starts_with("client: ")));
    let v = judge(&exchanged(), facts(vec![cancel(100)]));
    assert_eq!(codes(&v), vec![Some("client.http2_cancelled".into())]);
}

#[test]
fn one_goaway_that_killed_three_calls_is_one_finding_naming_them() {
    let mut h2 = facts(vec![
        answered(stream(1, 8, 8, "/a"), 200, 9, 9),
        stream(3, 10, 10, "/b"),
        stream(5, 11, 11, "/c"),
        stream(7, 12, 12, "/d"),
    ]);
    h2.goaways.push(GoAway {
        code: ErrorCode::NO_ERROR,
        by_client: false,
        last_stream_id: 3,
        debug: Some("restarting".into()),
        at: at(13, 13),
    });
    let v = judge(&closed(), h2);
    assert_eq!(
        codes(&v),
        vec![None, Some("server.http2_goaway".into()), None, None]
    );
    assert_eq!(v[2].covered_by, Some(1));
    assert_eq!(v[3].covered_by, Some(1));
    let f = v[1].finding.as_ref().unwrap();
    assert!(f.summary.contains("3 HTTP/2 calls"), "{}", f.summary);
    assert!(f.summary.contains("2 never processed"), "{}", f.summary);
    assert!(f.summary.contains("\"restarting\""), "{}", f.summary);
    let frames: Vec<u64> = f.evidence.iter().map(|e| e.frame).collect();
    assert_eq!(frames, vec![10, 11, 12, 13]);
    // Still open, the connection does not say the accepted stream 3 died: only the two above
    // last-stream-id did.
    let mut h2 = facts(vec![stream(3, 10, 10, "/b"), stream(5, 11, 11, "/c")]);
    h2.goaways.push(GoAway {
        code: ErrorCode::NO_ERROR,
        by_client: false,
        last_stream_id: 3,
        debug: None,
        at: at(13, 13),
    });
    let v = judge(&exchanged(), h2);
    assert_eq!(codes(&v), vec![None, Some("server.http2_goaway".into())]);
    assert!(
        v[1].finding
            .as_ref()
            .unwrap()
            .summary
            .contains("1 HTTP/2 call died")
    );
}

#[test]
fn a_connection_reset_with_streams_open_is_one_finding_for_the_calls_it_killed() {
    let rst = run(&[
        c(0, SYN, 0, 0, 0),
        s(1, SYN_ACK, 0, 1, 0),
        c(2, ACK, 1, 1, 0),
        c(3, PSH_ACK, 1, 1, 100),
        s(4, ACK, 1, 101, 0),
        s(50, super::script::RST_ACK, 1, 101, 0),
    ]);
    let h2 = facts(vec![
        answered(stream(1, 4, 3, "/a"), 200, 4, 4),
        stream(3, 4, 3, "/b"),
        stream(5, 4, 3, "/c"),
    ]);
    let v = judge(&rst, h2);
    let failed: Vec<_> = v.iter().filter(|v| v.finding.is_some()).collect();
    assert_eq!(failed.len(), 1, "{:?}", codes(&v));
    assert!(v[0].finding.is_none());
    let f = v[1]
        .finding
        .as_ref()
        .expect("the first open stream carries it");
    assert_eq!(f.category, super::Category::Server, "{}", f.code);
    assert!(f.summary.contains("killed 2 HTTP/2 calls"), "{}", f.summary);
    assert_eq!(v[2].covered_by, Some(1));
}

#[test]
fn a_server_deadline_status_long_before_the_clients_deadline_is_the_servers_own() {
    let status = |took_ms: i64| {
        let st = answered(stream(1, 8, 8, "/lab.Echo/Say"), 200, 9, 8 + took_ms);
        let mut st = grpc(st, Some(5000), Some((4, 9, 8 + took_ms)));
        if let Some(g) = st.grpc.as_deref_mut() {
            g.trailers_only = false;
        }
        let v = judge(&exchanged(), facts(vec![st]));
        v[0].finding.clone().expect("a finding")
    };
    let early = status(40);
    assert_eq!(early.code, "server.grpc_deadline_exceeded");
    assert!(
        early
            .explanation
            .contains("well before the client's own deadline"),
        "{}",
        early.explanation
    );
    assert!(early.alternatives.is_empty(), "{:?}", early.alternatives);
    let late = status(4990);
    assert!(
        !late.explanation.contains("well before"),
        "{}",
        late.explanation
    );
    assert!(late.alternatives.iter().any(|a| a.starts_with("client: ")));
}
