//! The HTTP/2 part of `conns` on facts built by hand: what a user reads in JSON and text.

use serde_json::Value;

use super::*;
use crate::app::http::{Exchange, Framing, Request, RequestHead, Response, ResponseHead};
use crate::app::http2::{GrpcFacts, GrpcMessages, Pings, StreamReset};
use crate::tcp::Origin;

fn at(frame: u64) -> Origin {
    Origin {
        frame,
        ts_ns: frame as i64 * 1_000_000,
    }
}

/// A stream whose request HEADERS came at `first`, ended by the client at `request_end`, with a
/// response `status` from `response_first` to `response_last` (`complete`: END_STREAM seen).
fn stream(
    id: u32,
    path: &str,
    (first, request_end): (u64, Option<u64>),
    response: Option<(u16, u64, u64, bool)>,
) -> H2Stream {
    let request = Request {
        head: RequestHead {
            method: "GET".into(),
            target: path.into(),
            host: Some("api.example".into()),
            has_authorization: false,
            malformed: false,
            upgrade_h2c: false,
            ..RequestHead::default()
        },
        first: at(first),
        last: request_end.map(at),
        body_bytes: 0,
    };
    let response = response.map(|(status, first, last, complete)| Response {
        head: ResponseHead {
            status,
            ..ResponseHead::default()
        },
        framing: Framing::None,
        first: at(first),
        last: at(last),
        body_received: 1200,
        body_missing: 0,
        complete,
        said: None,
    });
    H2Stream {
        id,
        exchange: Exchange {
            request: Some(request),
            interim: 0,
            first_interim: None,
            response,
            response_not_captured: false,
        },
        request_end: request_end.map(at),
        content_type: Some("application/json".into()),
        trailers_at: None,
        reset: None,
        headers_undecodable: false,
        grpc: None,
        pushed: false,
    }
}

/// A connection with prior knowledge: stream 1 fine, 3 a 404, 5 refused by the server, 7 a
/// gRPC call answered UNAVAILABLE, 9 cancelled by the client after its complete response
/// (tidy, not a failure), 11 still open; a GOAWAY from the server and a stalled window.
fn facts() -> Http2Facts {
    let mut refused = stream(5, "/c", (8, Some(8)), None);
    refused.reset = Some(StreamReset {
        code: ErrorCode::REFUSED_STREAM,
        by_client: false,
        at: at(9),
    });
    let mut grpc = stream(
        7,
        "/pkg.Greeter/Hello",
        (10, Some(11)),
        Some((200, 12, 12, true)),
    );
    grpc.content_type = Some("application/grpc".into());
    grpc.grpc = Some(Box::new(GrpcFacts {
        service: "pkg.Greeter".into(),
        method: "Hello".into(),
        timeout_ns: Some(250_000_000),
        requests: GrpcMessages {
            count: 1,
            bytes: 7,
            compressed: 0,
            cut: false,
            lost: false,
        },
        status: Some(14),
        message: Some("backend down".into()),
        trailers_only: true,
        status_at: Some(at(12)),
        ..GrpcFacts::default()
    }));
    let mut tidy = stream(9, "/d", (13, Some(13)), Some((200, 14, 15, true)));
    tidy.reset = Some(StreamReset {
        code: ErrorCode::CANCEL,
        by_client: true,
        at: at(16),
    });
    let mut settings = [Settings::default(); 2];
    settings[1].max_concurrent_streams = Some(100);
    settings[0].initial_window_size = Some(65535);
    Http2Facts {
        start: Http2Start::PriorKnowledge,
        streams: vec![
            stream(1, "/a", (4, Some(4)), Some((200, 5, 6, true))),
            stream(3, "/b", (6, Some(6)), Some((404, 7, 7, true))),
            refused,
            grpc,
            tidy,
            stream(11, "/e", (17, None), None),
        ],
        stream_count: 6,
        goaways: vec![GoAway {
            code: ErrorCode::NO_ERROR,
            by_client: false,
            last_stream_id: 11,
            debug: Some("shutdown".into()),
            at: at(18),
        }],
        settings,
        pings: Pings {
            sent: 1,
            acked: 1,
            min_rtt_ns: Some(1_500_000),
            max_rtt_ns: Some(1_500_000),
        },
        stalls: vec![WindowStall {
            sender_is_client: false,
            stream_id: 0,
            closed_at: at(15),
            reopened_at: None,
        }],
        undecodable_header_blocks: 0,
        ..Http2Facts::default()
    }
}

fn json(h2: &Http2Facts) -> Value {
    serde_json::to_value(Http2Summary::of(h2)).expect("serialises")
}

#[test]
fn json_lists_every_stream_with_its_request_response_and_end() {
    let v = json(&facts());
    assert_eq!(v["start"], "prior_knowledge");
    assert_eq!(v["stream_count"], 6);
    let streams = v["streams"].as_array().expect("streams");
    let ids: Vec<u64> = streams.iter().map(|s| s["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 3, 5, 7, 9, 11]);
    let s1 = &streams[0];
    assert_eq!(s1["method"], "GET");
    assert_eq!(s1["path"], "/a");
    assert_eq!(s1["authority"], "api.example");
    assert_eq!(s1["status"], 200);
    assert_eq!(s1["content_type"], "application/json");
    assert_eq!(s1["response_bytes"], 1200);
    assert_eq!(s1["first_frame"], 4);
    assert_eq!(s1["response_first_frame"], 5);
    assert_eq!(s1["end_frame"], 6);
    assert_eq!(s1["reset"], Value::Null);
    assert_eq!(s1["grpc"], Value::Null);
    assert_eq!(streams[1]["status"], 404);
    // Still open at the end: no end frame, no status.
    assert_eq!(streams[5]["end_frame"], Value::Null);
    assert_eq!(streams[5]["status"], Value::Null);
}

#[test]
fn json_names_resets_and_goaways_with_their_sender() {
    let v = json(&facts());
    let refused = &v["streams"][2]["reset"];
    assert_eq!(refused["code"], "REFUSED_STREAM");
    assert_eq!(refused["sender"], "server");
    assert_eq!(refused["frame"], 9);
    assert_eq!(v["streams"][2]["end_frame"], 9);
    assert_eq!(v["streams"][4]["reset"]["sender"], "client");
    assert_eq!(v["streams"][4]["reset"]["code"], "CANCEL");
    let goaway = &v["goaways"][0];
    assert_eq!(goaway["code"], "NO_ERROR");
    assert_eq!(goaway["sender"], "server");
    assert_eq!(goaway["last_stream_id"], 11);
    assert_eq!(goaway["debug"], "shutdown");
    assert_eq!(goaway["frame"], 18);
}

#[test]
fn json_carries_grpc_settings_pings_and_stalls() {
    let v = json(&facts());
    let g = &v["streams"][3]["grpc"];
    assert_eq!(g["service"], "pkg.Greeter");
    assert_eq!(g["method"], "Hello");
    assert_eq!(g["timeout_ms"], 250.0);
    assert_eq!(g["status"], 14);
    assert_eq!(g["status_name"], "UNAVAILABLE");
    assert_eq!(g["message"], "backend down");
    assert_eq!(g["trailers_only"], true);
    assert_eq!(g["requests"]["count"], 1);
    assert_eq!(g["responses"]["count"], 0);
    assert_eq!(v["settings"]["server"]["max_concurrent_streams"], 100);
    assert_eq!(v["settings"]["server"]["initial_window_size"], Value::Null);
    assert_eq!(v["settings"]["client"]["initial_window_size"], 65535);
    assert_eq!(v["pings"]["acked"], 1);
    assert_eq!(v["pings"]["min_rtt_ms"], 1.5);
    let stall = &v["stalls"][0];
    assert_eq!(stall["sender"], "server");
    assert_eq!(stall["stream_id"], 0);
    assert_eq!(stall["reopened_frame"], Value::Null);
    assert_eq!(v["undecodable_header_blocks"], 0);
}

fn text(h2: &Http2Facts) -> String {
    let mut out = Vec::new();
    write_text(&mut out, h2).expect("writes");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn text_says_h2_with_its_stream_count_and_lists_the_failed_streams() {
    let t = text(&facts());
    let lines: Vec<&str> = t.lines().collect();
    assert!(
        lines[0].contains("h2 (prior knowledge): 6 streams, 3 failed, 1 unfinished, 1 gRPC"),
        "{t}"
    );
    assert!(
        lines[0].contains("GOAWAY NO_ERROR from server last stream 11"),
        "{t}"
    );
    assert!(
        lines[0].contains("connection window of the server closed at frame 15, never reopened")
    );
    // The 404, the refused stream and the gRPC error; not the healthy stream, not the tidy
    // CANCEL after a complete response, not the stream still open.
    assert_eq!(lines.len(), 4, "{t}");
    assert!(lines[1].ends_with("stream 3 GET api.example/b: 404"), "{t}");
    assert!(
        lines[2].ends_with(
            "stream 5 GET api.example/c: RST_STREAM REFUSED_STREAM from server (frame 9)"
        ),
        "{t}"
    );
    assert!(
        lines[3].ends_with(
            "stream 7 GET api.example/pkg.Greeter/Hello: grpc-status 14 UNAVAILABLE \"backend down\""
        ),
        "{t}"
    );
}

#[test]
fn text_caps_the_failed_streams_it_lists() {
    let mut h2 = Http2Facts {
        start: Http2Start::Alpn,
        ..Http2Facts::default()
    };
    for i in 0..25u32 {
        let id = 2 * i + 1;
        let frame = u64::from(id) + 3;
        h2.streams.push(stream(
            id,
            "/x",
            (frame, Some(frame)),
            Some((503, frame, frame, true)),
        ));
    }
    h2.stream_count = 25;
    let t = text(&h2);
    assert!(
        t.starts_with("       h2 (alpn): 25 streams, 25 failed\n"),
        "{t}"
    );
    assert_eq!(t.lines().count(), 1 + TEXT_FAILED_STREAMS + 1, "{t}");
    assert!(t.ends_with("... 5 more failed streams (--format json lists every stream)\n"));
}

#[test]
fn a_stream_without_decodable_headers_says_so_and_guesses_nothing() {
    let mut s = stream(3, "/", (4, Some(4)), None);
    s.exchange.request = None;
    s.headers_undecodable = true;
    s.reset = Some(StreamReset {
        code: ErrorCode::INTERNAL_ERROR,
        by_client: false,
        at: at(5),
    });
    let h2 = Http2Facts {
        start: Http2Start::MidStream,
        streams: vec![s],
        stream_count: 1,
        undecodable_header_blocks: 1,
        ..Http2Facts::default()
    };
    let v = json(&h2);
    assert_eq!(v["start"], "mid_stream");
    assert_eq!(v["streams"][0]["method"], Value::Null);
    assert_eq!(v["streams"][0]["path"], Value::Null);
    assert_eq!(v["streams"][0]["headers_undecodable"], true);
    assert_eq!(v["undecodable_header_blocks"], 1);
    let t = text(&h2);
    assert!(t.contains("h2 (mid stream): 1 stream, 1 failed, 1 header blocks undecodable"));
    assert!(
        t.contains(
            "stream 3 (headers undecodable): RST_STREAM INTERNAL_ERROR from server (frame 5)"
        ),
        "{t}"
    );
}

#[test]
fn unknown_codes_are_shown_as_numbers() {
    assert_eq!(grpc_status_name(16), Some("UNAUTHENTICATED"));
    assert_eq!(grpc_status_name(17), None);
    let mut h2 = facts();
    h2.streams[2].reset = Some(StreamReset {
        code: ErrorCode(0x2a),
        by_client: true,
        at: at(9),
    });
    assert_eq!(json(&h2)["streams"][2]["reset"]["code"], "0x2a");
}
