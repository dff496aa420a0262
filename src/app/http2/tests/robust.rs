//! What must not be taken for HTTP/2, and what must never panic.

use proptest::prelude::*;

use super::*;

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

fn conversation() -> (Vec<u8>, Vec<u8>) {
    let mut client = preface();
    client.extend(fr(1, END_HEADERS, 1, &req("/a")));
    client.extend(fr(0, 0x8 | END_STREAM, 1, &[3, b'a', b'b', 0, 0, 0]));
    client.extend(fr(1, 0, 3, &grpc_like()[..9]));
    client.extend(fr(9, END_HEADERS | END_STREAM, 3, &grpc_like()[9..]));
    let mut server = fr(4, 0, 0, &[0, 3, 0, 0, 0, 100]);
    server.extend(fr(
        1,
        END_HEADERS,
        1,
        &block(&[(":status", "404"), ("server", "edge")], false),
    ));
    server.extend(fr(0, END_STREAM, 1, &[b'x'; 40]));
    server.extend(fr(3, 0, 3, &8u32.to_be_bytes()));
    let mut goaway = 3u32.to_be_bytes().to_vec();
    goaway.extend(0u32.to_be_bytes());
    server.extend(fr(7, 0, 0, &goaway));
    (client, server)
}

fn grpc_like() -> Vec<u8> {
    block(
        &[
            (":method", "POST"),
            (":path", "/s.S/M"),
            ("content-type", "application/grpc"),
        ],
        false,
    )
}

fn feed_split(client: &[u8], server: &[u8], cuts: &[usize]) -> Http2Facts {
    let mut conn = Http2Conn::new(Http2Start::PriorKnowledge);
    let o = Origin::default();
    for (from_client, bytes) in [(C, client), (S, server)] {
        let mut at = 0;
        for &cut in cuts.iter().chain([&usize::MAX]) {
            let end = cut.min(bytes.len()).max(at);
            conn.on_chunk(
                from_client,
                o,
                StreamChunk::Data {
                    offset: at as u64,
                    bytes: &bytes[at..end],
                },
            );
            at = end;
        }
    }
    conn.finish()
}

proptest! {
    /// Where the capture's segments split the bytes changes nothing.
    #[test]
    fn chunk_boundaries_do_not_change_the_facts(mut cuts in prop::collection::vec(0usize..400, 0..20)) {
        cuts.sort_unstable();
        let (client, server) = conversation();
        let whole = feed_split(&client, &server, &[]);
        prop_assert_eq!(whole.streams.len(), 2);
        prop_assert_eq!(whole.streams[0].exchange.request.as_ref().unwrap().body_bytes, 2);
        prop_assert_eq!(whole.streams[0].exchange.response.as_ref().unwrap().head.server(), Some("edge"));
        prop_assert_eq!(whole.streams[1].reset.unwrap().code, ErrorCode::CANCEL);
        prop_assert!(whole.streams[1].grpc.is_some());
        prop_assert_eq!(whole.goaways.len(), 1);
        prop_assert!(whole.anomalies.is_empty());
        prop_assert_eq!(feed_split(&client, &server, &cuts), whole);
    }
}
