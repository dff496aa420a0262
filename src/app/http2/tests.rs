use proptest::prelude::*;

use super::frame;
use super::*;
use crate::tcp::{Origin, StreamChunk};

const C: bool = true;
const S: bool = false;

fn fr(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
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
fn block(fields: &[(&str, &str)], index: bool) -> Vec<u8> {
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

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
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

fn req(path: &str) -> Vec<u8> {
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

fn preface() -> Vec<u8> {
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
    assert_eq!(ids, [1, 5, 7], "{facts:#?}");
    assert!(!facts.streams[0].headers_undecodable);
    for s in &facts.streams[1..] {
        assert!(s.headers_undecodable);
        assert_eq!(s.exchange.request.as_ref().unwrap().head.target, "");
    }
    assert_eq!(facts.undecodable_header_blocks, 2);
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
fn preface_and_frame_sniffing_are_conservative() {
    assert!(starts_preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0"));
    assert!(starts_preface(b"PRI "));
    assert!(!starts_preface(b"PRI"));
    assert!(!starts_preface(b"GET / HTTP/1.1\r\n"));
    let frames = [fr(1, END_HEADERS, 1, &req("/")), fr(0, END_STREAM, 1, b"x")].concat();
    assert!(looks_like_frames(&frames, true));
    assert!(looks_like_frames(
        &[fr(4, 1, 0, b""), fr(8, 0, 0, &[0, 0, 1, 0])].concat(),
        false
    ));
    // A client's HEADERS on an even stream, one frame only, TLS, HTTP/1, DNS.
    assert!(!looks_like_frames(
        &[fr(1, END_HEADERS, 2, b"x"), fr(0, 0, 2, b"x")].concat(),
        true
    ));
    assert!(!looks_like_frames(&fr(0, 0, 1, b"x"), true));
    assert!(!looks_like_frames(
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefgh",
        true
    ));
    assert!(!looks_like_frames(
        b"\x17\x03\x03\x00\x20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        false
    ));
    assert!(!looks_like_frames(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        true
    ));
    assert!(!looks_like_frames(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        false
    ));
    assert!(!looks_like_frames(b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01", true));
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut claimed = 0;
    for _ in 0..100_000 {
        let bytes: Vec<u8> = (0..64)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        claimed += usize::from(looks_like_frames(&bytes, true) || looks_like_frames(&bytes, false));
    }
    assert_eq!(claimed, 0, "random bytes taken for frames");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]
    #[test]
    fn garbage_never_panics(
        start in 0u8..4,
        chunks in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..300), 0u8..8), 0..24),
        seed_frames in any::<bool>(),
    ) {
        let start = [Http2Start::PriorKnowledge, Http2Start::Upgrade, Http2Start::Alpn, Http2Start::MidStream][start as usize];
        let mut conn = Http2Conn::new(start);
        if seed_frames {
            conn.on_chunk(C, Origin::default(), StreamChunk::Data { offset: 0, bytes: &preface() });
        }
        for (i, (from_client, bytes, gap)) in chunks.iter().enumerate() {
            let o = Origin { frame: i as u64, ts_ns: i as i64 };
            if *gap == 0 {
                conn.on_chunk(*from_client, o, StreamChunk::Gap { offset: 0, len: bytes.len() as u64 + 1 });
            }
            // Real-looking frames around the garbage reach deeper states.
            let framed = if *gap == 1 { fr(bytes.first().copied().unwrap_or(0) % 11, bytes.get(1).copied().unwrap_or(0), u32::from(bytes.get(2).copied().unwrap_or(1)), bytes) } else { bytes.clone() };
            for piece in framed.chunks(usize::from(*gap).max(1) * 7) {
                conn.on_chunk(*from_client, o, StreamChunk::Data { offset: 0, bytes: piece });
            }
        }
        let facts = conn.finish();
        prop_assert!(facts.streams.len() <= MAX_STREAMS);
    }
}

fn hx(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn decode_all(
    h: &mut hpack::Hpack,
    block: &[u8],
) -> Result<Vec<(String, String)>, hpack::Undecodable> {
    let mut out = Vec::new();
    h.decode(block, |n, v| {
        out.push((
            String::from_utf8_lossy(n).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ))
    })?;
    Ok(out)
}

#[test]
fn hpack_decodes_rfc_7541_appendix_c_with_huffman_and_eviction() {
    // C.4: requests with Huffman coding, one table across blocks.
    let mut h = hpack::Hpack::new(false);
    decode_all(&mut h, &hx("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")).unwrap();
    decode_all(&mut h, &hx("8286 84be 5886 a8eb 1064 9cbf")).unwrap();
    let third = decode_all(
        &mut h,
        &hx("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"),
    )
    .unwrap();
    assert_eq!(third[3], (":authority".into(), "www.example.com".into()));
    assert_eq!(third[4], ("custom-key".into(), "custom-value".into()));
    // C.6: responses on a 256-byte table (the receiver's SETTINGS_HEADER_TABLE_SIZE), evicting.
    let mut h = hpack::Hpack::new(false);
    h.set_limit(256);
    let size_update = [0x3f, 0xe1, 0x01]; // the encoder's table: 256
    let first = [&size_update[..], &hx("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3")].concat();
    decode_all(&mut h, &first).unwrap();
    let second = decode_all(&mut h, &hx("4883 640e ffc1 c0bf")).unwrap();
    assert_eq!(second[0], (":status".into(), "307".into()));
    assert_eq!(
        second[3],
        ("location".into(), "https://www.example.com".into())
    );
    let third = decode_all(&mut h, &hx("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")).unwrap();
    assert_eq!(
        third[2],
        ("date".into(), "Mon, 21 Oct 2013 20:13:22 GMT".into())
    );
    assert_eq!(
        third[5].1,
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
    );
}

#[test]
fn hpack_block_starting_with_a_dynamic_index_is_not_taken_for_a_size_update() {
    let mut h = hpack::Hpack::new(false);
    decode_all(&mut h, &block(&[("x-a", "1")], true)).unwrap();
    // 0xbe: indexed field 62, the newest entry (its byte has bit 0x20 set).
    assert_eq!(
        decode_all(&mut h, &[0xbe, 0x82]).unwrap(),
        [("x-a".into(), "1".into()), (":method".into(), "GET".into())]
    );
    // An integer beyond u16 (a 70000-byte string) is refused, not misread.
    let mut h = hpack::Hpack::new(false);
    assert_eq!(
        decode_all(&mut h, &[0x00, 0x7f, 0xf1, 0xa1, 0x04]),
        Err(hpack::Undecodable::Error)
    );
    assert_eq!(decode_all(&mut h, &[0x82]), Err(hpack::Undecodable::Lost));
}

/// Every h2c connection (port 8081) of the lab's healthy HTTP/2 capture, reassembled by the
/// tcp stage and read by the parser, gives the streams, statuses and frames tshark shows.
#[test]
fn lab_h2c_capture_streams_match_tshark() {
    use std::collections::BTreeMap;

    use crate::decode::{Decoded, Decoder, Transport};
    use crate::tcp::{Reassembler, Seq};

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/captures/healthy-suite-h2.pcapng"
    );
    let mut reader = crate::source::open_path(path).unwrap();
    let mut decoder = Decoder::default();
    // By client port: the parser and each direction's reassembler (client, server).
    let mut conns: BTreeMap<u16, (Http2Conn, [Option<Reassembler>; 2])> = BTreeMap::new();
    reader.for_each_frame(|frame| {
        let Ok(Decoded::Packet(p)) = decoder.decode(frame) else {
            return;
        };
        let Transport::Tcp(t) = p.transport else {
            return;
        };
        let (from_client, port) = match (t.src_port, t.dst_port) {
            (_, 8081) => (true, t.src_port),
            (8081, _) => (false, t.dst_port),
            _ => return,
        };
        let (conn, dirs) = conns
            .entry(port)
            .or_insert_with(|| (Http2Conn::new(Http2Start::PriorKnowledge), [None, None]));
        let side = usize::from(!from_client);
        if t.flags.syn() {
            dirs[side] = Some(Reassembler::new(Seq(t.seq.wrapping_add(1)), 1 << 20));
            return;
        }
        let Some(r) = dirs[side].as_mut() else {
            return;
        };
        let origin = Origin {
            frame: frame.number,
            ts_ns: frame.ts_ns,
        };
        let mut sink = |o: Origin, c: StreamChunk<'_>| conn.on_chunk(from_client, o, c);
        r.push(origin, Seq(t.seq), t.payload, t.seg_len, &mut sink);
    });
    let got: Vec<Vec<(u32, u16, u64, bool)>> = conns
        .into_values()
        .map(|(conn, _)| {
            let facts = conn.finish();
            assert!(facts.anomalies.is_empty(), "{:?}", facts.anomalies);
            assert_eq!(facts.undecodable_header_blocks, 0);
            facts
                .streams
                .iter()
                .map(|s| {
                    let r = s.exchange.response.as_ref().unwrap();
                    assert_eq!(s.exchange.request.as_ref().unwrap().head.method, "GET");
                    (s.id, r.head.status, r.first.frame, r.complete)
                })
                .collect()
        })
        .collect();
    // tshark -d tcp.port==8081,http2 -Y http2.headers.status: frame, stream, status.
    assert_eq!(
        got,
        [
            vec![(1, 200, 171, true)],
            vec![(1, 200, 187, true)],
            vec![
                (13, 200, 212, true),
                (15, 200, 216, true),
                (17, 200, 220, true),
                (19, 200, 224, true)
            ],
        ]
    );
}
