//! Bytes the capture never saw and captures that start mid-connection: header blocks are
//! undecodable rather than wrong, DATA stays aligned, frames are found again.

use super::*;

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
