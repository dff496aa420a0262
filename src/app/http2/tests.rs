use super::frame;
use super::*;
use crate::tcp::{Origin, StreamChunk};

pub(super) const C: bool = true;
pub(super) const S: bool = false;

pub(super) fn fr(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Literal header fields without indexing, new names (RFC 7541 6.2.2), or with incremental
/// indexing when `index`.
pub(super) fn block(fields: &[(&str, &str)], index: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in fields {
        out.push(if index { 0x40 } else { 0x00 });
        out.push(n.len() as u8);
        out.extend_from_slice(n.as_bytes());
        out.push(v.len() as u8);
        out.extend_from_slice(v.as_bytes());
    }
    out
}

mod capture;
mod gaps;
mod robust;

pub(super) const END_STREAM: u8 = 0x1;
pub(super) const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

pub(super) fn settings() -> Vec<u8> {
    fr(4, 0, 0, &[0, 4, 0, 0, 0xff, 0xff])
}

/// Feeds (direction, bytes) in order, each its own frame number from 1 and 1 ms apart.
pub(super) fn run(start: Http2Start, parts: &[(bool, Vec<u8>)]) -> Http2Facts {
    let mut conn = Http2Conn::new(start);
    let mut off = [0u64; 2];
    for (i, (from_client, bytes)) in parts.iter().enumerate() {
        let o = Origin {
            frame: i as u64 + 1,
            ts_ns: i as i64 * 1_000_000,
        };
        let k = usize::from(!from_client);
        conn.on_chunk(
            *from_client,
            o,
            StreamChunk::Data {
                offset: off[k],
                bytes,
            },
        );
        off[k] += bytes.len() as u64;
    }
    conn.finish()
}

pub(super) fn req(path: &str) -> Vec<u8> {
    block(
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "api.example:8081"),
            ("authorization", "Bearer sekrit-token-value"),
            ("content-type", "application/json"),
        ],
        false,
    )
}

pub(super) fn preface() -> Vec<u8> {
    let mut p = frame::PREFACE.to_vec();
    p.extend(settings());
    p
}

#[test]
fn a_stream_gives_request_response_bodies_and_frames() {
    let mut data = vec![0u8; 7];
    data.extend([b'x'; 5]);
    let facts = run(
        Http2Start::PriorKnowledge,
        &[
            (C, preface()),
            (S, settings()),
            (C, fr(1, END_HEADERS, 1, &req("/v1/items?api_key=abc123"))),
            (C, fr(0, END_STREAM, 1, b"hello")),
            (
                S,
                fr(
                    1,
                    END_HEADERS,
                    1,
                    &block(&[(":status", "200"), ("content-length", "12")], false),
                ),
            ),
            (S, fr(0, 0, 1, &data[..4])),
            (S, fr(0, END_STREAM, 1, &data[4..])),
        ],
    );
    assert_eq!(facts.streams.len(), 1, "{facts:#?}");
    assert_eq!(facts.stream_count, 1);
    let s = &facts.streams[0];
    assert_eq!(s.id, 1);
    let r = s.exchange.request.as_ref().unwrap();
    assert_eq!(r.head.method, "POST");
    assert_eq!(r.head.target, "/v1/items?api_key=REDACTED");
    assert_eq!(r.head.host.as_deref(), Some("api.example:8081"));
    assert!(r.head.has_authorization);
    assert_eq!(r.first.frame, 3);
    assert_eq!(r.body_bytes, 5);
    assert_eq!(s.request_end.map(|o| o.frame), Some(4));
    let resp = s.exchange.response.as_ref().unwrap();
    assert_eq!(resp.head.status, 200);
    assert_eq!(resp.head.content_length, Some(12));
    assert_eq!((resp.first.frame, resp.last.frame), (5, 7));
    assert_eq!(resp.body_received, 12);
    assert!(resp.complete);
    assert_eq!(s.content_type.as_deref(), Some("application/json"));
    assert_eq!(facts.frames[0], 3);
    assert_eq!(facts.frames[1], 2);
    assert_eq!(facts.frames[4], 2);
    assert_eq!(facts.settings[0].initial_window_size, Some(65535));
    assert!(facts.settings[1].first.is_some());
    assert!(facts.anomalies.is_empty(), "{:?}", facts.anomalies);
    assert!(!format!("{facts:?}").contains("sekrit"));
}

#[test]
fn continuation_is_joined_and_padding_excluded() {
    let b = req("/a");
    let (one, two) = b.split_at(10);
    // HEADERS with padding and priority, then CONTINUATION.
    let mut h = vec![3u8];
    h.extend([0, 0, 0, 0, 16]);
    h.extend(one);
    h.extend([0; 3]);
    let mut d = vec![4u8];
    d.extend(b"body");
    d.extend([0; 4]);
    let facts = run(
        Http2Start::PriorKnowledge,
        &[
            (C, preface()),
            (C, fr(1, PADDED | 0x20, 3, &h)),
            (C, fr(9, END_HEADERS, 3, two)),
            (C, fr(0, PADDED | END_STREAM, 3, &d)),
        ],
    );
    let s = &facts.streams[0];
    let r = s.exchange.request.as_ref().unwrap();
    assert_eq!(
        (r.head.method.as_str(), r.head.target.as_str()),
        ("POST", "/a")
    );
    assert_eq!(r.first.frame, 3, "the block ends with the CONTINUATION");
    assert_eq!(r.body_bytes, 4);
    assert!(!s.headers_undecodable);
    assert!(facts.anomalies.is_empty(), "{:?}", facts.anomalies);
}

#[test]
fn continuation_out_of_place_is_an_anomaly() {
    let facts = run(
        Http2Start::PriorKnowledge,
        &[
            (C, preface()),
            (C, fr(1, 0, 1, &req("/a")[..5])),
            (C, fr(9, END_HEADERS, 3, &req("/a")[5..])),
        ],
    );
    assert_eq!(facts.anomalies.count(CONTINUATION_OUT_OF_PLACE), 1);
    assert!(facts.streams[0].headers_undecodable);
}

#[test]
fn refused_stream_reset_is_recorded_with_sender_and_frame() {
    let facts = run(
        Http2Start::PriorKnowledge,
        &[
            (C, preface()),
            (C, fr(1, END_HEADERS | END_STREAM, 1, &req("/a"))),
            (S, fr(3, 0, 1, &7u32.to_be_bytes())),
        ],
    );
    let reset = facts.streams[0].reset.unwrap();
    assert_eq!(reset.code, ErrorCode::REFUSED_STREAM);
    assert!(!reset.by_client);
    assert_eq!(reset.at.frame, 3);
    assert!(facts.streams[0].exchange.response.is_none());
}

#[test]
fn goaway_keeps_last_stream_code_and_redacted_debug() {
    let mut p = 5u32.to_be_bytes().to_vec();
    p.extend(11u32.to_be_bytes());
    p.extend(b"too many requests token=AKIAIOSFODNN7EXAMPLE\x1b[31m");
    let facts = run(
        Http2Start::PriorKnowledge,
        &[(C, preface()), (S, fr(7, 0, 0, &p))],
    );
    let g = &facts.goaways[0];
    assert_eq!(g.last_stream_id, 5);
    assert_eq!(g.code, ErrorCode::ENHANCE_YOUR_CALM);
    assert!(!g.by_client);
    assert_eq!(g.at.frame, 2);
    let debug = g.debug.as_deref().unwrap();
    assert!(debug.starts_with("too many requests"), "{debug}");
    assert!(
        !debug.contains("AKIA") && !debug.contains('\x1b'),
        "{debug}"
    );
}

fn grpc_req(path: &str) -> Vec<u8> {
    block(
        &[
            (":method", "POST"),
            (":path", path),
            (":authority", "grpc:8081"),
            ("content-type", "application/grpc"),
            ("grpc-timeout", "250m"),
            ("grpc-encoding", "gzip"),
        ],
        false,
    )
}

#[test]
fn grpc_trailers_only_and_trailers() {
    let msg = [0u8, 0, 0, 0, 3, 1, 2, 3];
    let facts = run(
        Http2Start::PriorKnowledge,
        &[
            (C, preface()),
            (C, fr(1, END_HEADERS, 1, &grpc_req("/pkg.Svc/Get"))),
            (C, fr(0, END_STREAM, 1, &msg)),
            (
                S,
                fr(
                    1,
                    END_HEADERS | END_STREAM,
                    1,
                    &block(
                        &[
                            (":status", "200"),
                            ("content-type", "application/grpc"),
                            ("grpc-status", "14"),
                            ("grpc-message", "backend%20down"),
                        ],
                        false,
                    ),
                ),
            ),
            (C, fr(1, END_HEADERS, 3, &grpc_req("/pkg.Svc/List"))),
            (C, fr(0, END_STREAM, 3, &msg)),
            (
                S,
                fr(
                    1,
                    END_HEADERS,
                    3,
                    &block(
                        &[(":status", "200"), ("content-type", "application/grpc")],
                        false,
                    ),
                ),
            ),
            (S, fr(0, 0, 3, &[msg, msg].concat())),
            (
                S,
                fr(
                    1,
                    END_HEADERS | END_STREAM,
                    3,
                    &block(&[("grpc-status", "0")], false),
                ),
            ),
        ],
    );
    let a = facts.streams[0].grpc.as_deref().unwrap();
    assert_eq!((a.service.as_str(), a.method.as_str()), ("pkg.Svc", "Get"));
    assert_eq!(a.timeout_ns, Some(250_000_000));
    assert_eq!(a.encoding.as_deref(), Some("gzip"));
    assert_eq!(a.status, Some(14));
    assert!(a.trailers_only);
    assert_eq!(a.message.as_deref(), Some("backend down"));
    assert_eq!(a.status_at.map(|o| o.frame), Some(4));
    assert_eq!(a.requests.count, 1);
    let b = facts.streams[1].grpc.as_deref().unwrap();
    assert_eq!(b.status, Some(0));
    assert!(!b.trailers_only);
    assert_eq!(b.responses.count, 2);
    assert_eq!(b.responses.bytes, 6);
    assert_eq!(facts.streams[1].trailers_at.map(|o| o.frame), Some(9));
    assert!(
        facts.streams[1]
            .exchange
            .response
            .as_ref()
            .unwrap()
            .complete
    );
}

#[test]
fn pings_give_round_trips_and_windows_stall() {
    let big = vec![0u8; 16_000];
    let mut parts = vec![
        (C, preface()),
        (S, fr(4, 0, 0, &[0, 4, 0, 0, 0x40, 0x00])), // server's initial window: 16384
        (C, fr(1, END_HEADERS, 1, &req("/upload"))),
        (C, fr(6, 0, 0, b"12345678")),
        (S, fr(6, 1, 0, b"12345678")),
    ];
    parts.push((C, fr(0, 0, 1, &big)));
    parts.push((C, fr(0, 0, 1, &big[..384])));
    let facts = run(Http2Start::PriorKnowledge, &parts);
    assert_eq!((facts.pings.sent, facts.pings.acked), (1, 1));
    assert_eq!(facts.pings.min_rtt_ns, Some(1_000_000));
    assert_eq!(facts.stalls.len(), 1, "{:?}", facts.stalls);
    let st = facts.stalls[0];
    assert!(st.sender_is_client);
    assert_eq!(
        (st.stream_id, st.closed_at.frame, st.reopened_at),
        (1, 7, None)
    );
}

#[test]
fn an_upgraded_connection_answers_stream_one() {
    let request = crate::app::http::Request {
        head: crate::app::http::RequestHead {
            method: "GET".into(),
            target: "/".into(),
            ..Default::default()
        },
        first: Origin { frame: 4, ts_ns: 0 },
        last: Some(Origin { frame: 4, ts_ns: 0 }),
        body_bytes: 0,
    };
    let mut conn = Http2Conn::after_upgrade(&request);
    let o = Origin { frame: 6, ts_ns: 1 };
    let s = [
        settings(),
        fr(
            1,
            END_HEADERS | END_STREAM,
            1,
            &block(&[(":status", "503")], false),
        ),
    ]
    .concat();
    conn.on_chunk(
        S,
        o,
        StreamChunk::Data {
            offset: 0,
            bytes: &s,
        },
    );
    conn.on_chunk(
        C,
        o,
        StreamChunk::Data {
            offset: 0,
            bytes: &preface(),
        },
    );
    let facts = conn.finish();
    let st = &facts.streams[0];
    assert_eq!(st.exchange.request.as_ref().unwrap().head.method, "GET");
    assert_eq!(st.exchange.response.as_ref().unwrap().head.status, 503);
    assert!(st.exchange.response.as_ref().unwrap().complete);
    assert_eq!(facts.start, Http2Start::Upgrade);
}

#[test]
fn push_promise_unknown_frames_and_big_blocks() {
    let mut pp = 2u32.to_be_bytes().to_vec();
    pp.extend(block(
        &[
            (":method", "GET"),
            (":path", "/style.css"),
            (":authority", "a"),
        ],
        false,
    ));
    let big = fr(1, END_HEADERS, 5, &vec![0u8; 20_000]);
    let facts = run(
        Http2Start::PriorKnowledge,
        &[
            (C, preface()),
            (C, fr(1, END_HEADERS | END_STREAM, 1, &req("/"))),
            (S, fr(5, END_HEADERS, 1, &pp)),
            (S, fr(0xfa, 0, 0, b"unknown extension")),
            (
                S,
                fr(
                    1,
                    END_HEADERS | END_STREAM,
                    2,
                    &block(&[(":status", "200")], false),
                ),
            ),
            (C, big.clone()),
            (C, fr(1, END_HEADERS | END_STREAM, 7, &[0x82])),
        ],
    );
    let pushed = facts.streams.iter().find(|s| s.id == 2).unwrap();
    assert!(pushed.pushed);
    assert_eq!(
        pushed.exchange.request.as_ref().unwrap().head.target,
        "/style.css"
    );
    assert_eq!(pushed.exchange.response.as_ref().unwrap().head.status, 200);
    assert_eq!(facts.frames[10], 1);
    assert_eq!(facts.anomalies.count(UNKNOWN_FRAME), 1);
    // A 20000-byte frame beyond the 16384 the server allows: counted, read; its block is
    // garbage, the client's table starts again, and stream 7's static-only block decodes.
    assert_eq!(facts.anomalies.count(FRAME_TOO_LARGE), 1);
    assert!(
        facts
            .streams
            .iter()
            .find(|s| s.id == 5)
            .unwrap()
            .headers_undecodable
    );
    let s7 = facts.streams.iter().find(|s| s.id == 7).unwrap();
    assert!(!s7.headers_undecodable);
    assert_eq!(s7.exchange.request.as_ref().unwrap().head.method, "GET");
    assert_eq!(facts.anomalies.count(HPACK_ERROR), 1);
}

#[test]
fn healthy_finished_streams_make_room_for_failures() {
    let mut parts = vec![(C, preface())];
    let ok = block(&[(":status", "200")], false);
    let bad = block(&[(":status", "503")], false);
    for i in 0..(MAX_STREAMS as u32 + 500) {
        let id = 2 * i + 1;
        parts.push((C, fr(1, END_HEADERS | END_STREAM, id, &[0x82, 0x84])));
        let status = if i % 1000 == 7 { &bad } else { &ok };
        parts.push((S, fr(1, END_HEADERS | END_STREAM, id, status)));
    }
    let facts = run(Http2Start::PriorKnowledge, &parts);
    assert_eq!(facts.stream_count, MAX_STREAMS as u64 + 500);
    assert!(facts.streams.len() <= MAX_STREAMS);
    let failed = facts
        .streams
        .iter()
        .filter(|s| s.exchange.response.as_ref().unwrap().head.status == 503)
        .count();
    assert_eq!(failed, 5, "every failure is kept");
    assert_eq!(facts.anomalies.count(BEYOND_CAP), 0);
}
