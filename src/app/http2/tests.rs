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
mod robust;

pub(super) const END_STREAM: u8 = 0x1;
pub(super) const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

fn settings() -> Vec<u8> {
    fr(4, 0, 0, &[0, 4, 0, 0, 0xff, 0xff])
}

/// Feeds (direction, bytes) in order, each its own frame number from 1 and 1 ms apart.
fn run(start: Http2Start, parts: &[(bool, Vec<u8>)]) -> Http2Facts {
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
fn after_a_gap_header_blocks_are_undecodable_never_wrong() {
    let indexed = |path: &str| block(&[(":method", "GET"), (":path", path)], true);
    let mut conn = Http2Conn::new(Http2Start::PriorKnowledge);
    let o = |f: u64| Origin {
        frame: f,
        ts_ns: f as i64,
    };
    let mut client = preface();
    client.extend(fr(1, END_HEADERS | END_STREAM, 1, &indexed("/one")));
    conn.on_chunk(
        C,
        o(1),
        StreamChunk::Data {
            offset: 0,
            bytes: &client,
        },
    );
    // Stream 3's HEADERS never reached the capture (it added entries to the table).
    let lost = fr(1, END_HEADERS | END_STREAM, 3, &indexed("/two"));
    let at = client.len() as u64;
    conn.on_chunk(
        C,
        o(2),
        StreamChunk::Gap {
            offset: at,
            len: lost.len() as u64,
        },
    );
    // Stream 5 refers to the newest entries by index (62: the :path of stream 3).
    let later = [
        fr(1, END_HEADERS | END_STREAM, 5, &[0x82, 0xbe]),
        fr(1, END_HEADERS | END_STREAM, 7, &[0x82, 0xbe]),
        // Static-only: exact on the restarted table.
        fr(1, END_HEADERS | END_STREAM, 9, &[0x82, 0x84]),
    ]
    .concat();
    conn.on_chunk(
        C,
        o(3),
        StreamChunk::Data {
            offset: at + lost.len() as u64,
            bytes: &later,
        },
    );
    let facts = conn.finish();
    let ids: Vec<u32> = facts.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 5, 7, 9], "{facts:#?}");
    assert!(!facts.streams[0].headers_undecodable);
    // Index 62 is stream 3's :path now; the table before the gap would have said "/one".
    for s in &facts.streams[1..3] {
        assert!(s.headers_undecodable);
        assert_eq!(s.exchange.request.as_ref().unwrap().head.target, "");
    }
    let nine = facts.streams[3].exchange.request.as_ref().unwrap();
    assert_eq!(
        (nine.head.method.as_str(), nine.head.target.as_str()),
        ("GET", "/")
    );
    assert_eq!(facts.undecodable_header_blocks, 2);
    assert_eq!(
        facts.anomalies.count(HPACK_ERROR),
        0,
        "expected after a gap"
    );
    assert!(!facts.desync[0]);
}

#[test]
fn a_gap_inside_data_counts_missing_bytes_and_stays_aligned() {
    let mut conn = Http2Conn::new(Http2Start::PriorKnowledge);
    let o = Origin::default();
    let mut c = preface();
    c.extend(fr(1, END_HEADERS | END_STREAM, 1, &req("/a")));
    conn.on_chunk(
        C,
        o,
        StreamChunk::Data {
            offset: 0,
            bytes: &c,
        },
    );
    let head = fr(1, END_HEADERS, 1, &block(&[(":status", "200")], false));
    let data = fr(0, END_STREAM, 1, &[7u8; 100]);
    let s = [head, data[..30].to_vec()].concat();
    conn.on_chunk(
        S,
        o,
        StreamChunk::Data {
            offset: 0,
            bytes: &s,
        },
    );
    conn.on_chunk(
        S,
        o,
        StreamChunk::Gap {
            offset: s.len() as u64,
            len: 50,
        },
    );
    conn.on_chunk(
        S,
        o,
        StreamChunk::Data {
            offset: s.len() as u64 + 50,
            bytes: &data[80..],
        },
    );
    conn.on_chunk(
        S,
        o,
        StreamChunk::Data {
            offset: 0,
            bytes: &fr(6, 0, 0, &[1; 8]),
        },
    );
    let facts = conn.finish();
    let r = facts.streams[0].exchange.response.as_ref().unwrap();
    assert_eq!(
        (r.body_received, r.body_missing, r.complete),
        (50, 50, true)
    );
    assert_eq!(facts.pings.sent, 1, "the frame after the gap is read");
}

#[test]
fn a_mid_stream_start_reads_frames_and_static_only_blocks() {
    let facts = run(
        Http2Start::MidStream,
        &[
            (
                S,
                [fr(0, 0, 9, b"tail of a body"), fr(0, END_STREAM, 9, b"")].concat(),
            ),
            // Refers to a dynamic entry the capture never saw: undecodable.
            (S, fr(1, END_HEADERS, 11, &[0x88, 0xbe])),
            (C, fr(1, END_HEADERS | END_STREAM, 13, &[0x82, 0x84, 0x86])),
            (C, fr(3, 0, 15, &8u32.to_be_bytes())),
        ],
    );
    let by_id = |id| facts.streams.iter().find(|s| s.id == id).unwrap();
    assert!(by_id(9).exchange.response.as_ref().unwrap().complete);
    assert_eq!(
        by_id(9).exchange.response.as_ref().unwrap().body_received,
        14
    );
    assert!(by_id(11).headers_undecodable);
    // The client's table is its own: a static-only block decodes exactly.
    let r = by_id(13).exchange.request.as_ref().unwrap();
    assert_eq!(
        (r.head.method.as_str(), r.head.target.as_str()),
        ("GET", "/")
    );
    assert_eq!(by_id(15).reset.unwrap().code, ErrorCode::CANCEL);
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
