//! HPACK against RFC 7541's examples, and the parser on a real h2c capture.

use super::*;

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
    decode_all(&mut h, &block(&[("x-a", "1")], true)).unwrap();
    assert_eq!(
        decode_all(&mut h, &[0x00, 0x7f, 0xf1, 0xa1, 0x04]),
        Err(hpack::Undecodable)
    );
    // The table starts again: what the encoder inserts from here on is known exactly, an
    // entry from before is not there.
    assert!(h.restarted());
    assert_eq!(decode_all(&mut h, &[0xbe]), Err(hpack::Undecodable));
    decode_all(&mut h, &block(&[("x-b", "2")], true)).unwrap();
    assert_eq!(
        decode_all(&mut h, &[0xbe]).unwrap(),
        [("x-b".into(), "2".into())]
    );
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
