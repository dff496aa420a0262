//! Parser tests on hand-built bytes, fed whole and cut at every boundary.

use super::*;

fn at(frame: u64) -> Origin {
    Origin {
        frame,
        ts_ns: frame as i64 * 1000,
    }
}

/// Feeds `client` then `server` bytes, each split at the given cut points (frame = piece
/// number, client pieces from 1, server pieces from 100).
fn run(client: &[u8], client_cuts: &[usize], server: &[u8], server_cuts: &[usize]) -> HttpFacts {
    let mut s = HttpStream::default();
    feed(&mut s, true, client, client_cuts, 1);
    feed(&mut s, false, server, server_cuts, 100);
    s.finish()
}

fn feed(s: &mut HttpStream, from_client: bool, bytes: &[u8], cuts: &[usize], frame0: u64) {
    let mut start = 0;
    let mut offset = 0u64;
    for (i, &end) in cuts.iter().chain(std::iter::once(&bytes.len())).enumerate() {
        let end = end.min(bytes.len()).max(start);
        let piece = &bytes[start..end];
        if !piece.is_empty() {
            s.on_chunk(
                from_client,
                at(frame0 + i as u64),
                StreamChunk::Data {
                    offset,
                    bytes: piece,
                },
            );
        }
        offset += piece.len() as u64;
        start = end;
    }
}

const REQUESTS: &[u8] =
    b"GET /a?api_key=s3cret HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer abc\r\n\r\n\
POST /b HTTP/1.1\r\nHost: api.test\r\nContent-Length: 4\r\nCookie: id=1\r\n\r\nbody\
HEAD /c HTTP/1.1\r\nHost: api.test\r\n\r\n\
PUT /d HTTP/1.1\r\nHost: api.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";

const RESPONSES: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: id=2\r\n\r\nhello\
HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\nX-Trailer: 1\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nServer: nginx\r\n\r\ngone for now";

fn check(f: &HttpFacts) {
    assert_eq!(f.requests, 4);
    assert_eq!(f.responses, 4);
    assert!(!f.client_desync && !f.server_desync);
    let statuses: Vec<u16> = f
        .exchanges
        .iter()
        .map(|e| e.response.as_ref().unwrap().head.status)
        .collect();
    assert_eq!(statuses, [200, 401, 200, 503]);
    let methods: Vec<&str> = f
        .exchanges
        .iter()
        .map(|e| e.request.as_ref().unwrap().head.method.as_str())
        .collect();
    assert_eq!(methods, ["GET", "POST", "HEAD", "PUT"]);
    let first = f.exchanges[0].request.as_ref().unwrap();
    assert_eq!(first.head.target, "/a?api_key=REDACTED");
    assert_eq!(first.head.host.as_deref(), Some("api.test"));
    assert!(first.head.has_authorization);
    assert_eq!(f.exchanges[0].interim, 1);
    assert_eq!(f.exchanges[1].request.as_ref().unwrap().body_bytes, 4);
    assert_eq!(f.exchanges[3].request.as_ref().unwrap().body_bytes, 3);
    let unauthorized = f.exchanges[1].response.as_ref().unwrap();
    let challenge = unauthorized.head.www_authenticate().unwrap();
    assert_eq!(
        (challenge.scheme.as_str(), challenge.error.as_deref()),
        ("Bearer", Some("invalid_token"))
    );
    assert!(unauthorized.complete);
    assert_eq!(unauthorized.body_received, 2);
    // HEAD: Content-Length announced, no body follows.
    let head = f.exchanges[2].response.as_ref().unwrap();
    assert!(head.complete);
    assert_eq!(head.body_received, 0);
    assert_eq!(head.head.content_length, Some(1000));
    // Close-delimited: complete at the end of the connection.
    let last = f.exchanges[3].response.as_ref().unwrap();
    assert_eq!(last.framing, Framing::UntilClose);
    assert_eq!(last.body_received, 12);
    assert!(last.complete);
    assert_eq!(last.head.retry_after(), Some("30"));
    assert_eq!(last.head.server(), Some("nginx"));
}

#[test]
fn keep_alive_and_pipelined_exchanges_are_matched_in_order() {
    check(&run(REQUESTS, &[], RESPONSES, &[]));
}

#[test]
fn every_single_cut_gives_the_same_exchanges() {
    for cut in 0..=REQUESTS.len() {
        check(&run(REQUESTS, &[cut], RESPONSES, &[cut]));
    }
    for cut in 0..=RESPONSES.len() {
        check(&run(REQUESTS, &[cut, cut + 7], RESPONSES, &[cut, cut + 3]));
    }
}

#[test]
fn byte_by_byte_delivery_gives_the_same_exchanges() {
    let c: Vec<usize> = (1..REQUESTS.len()).collect();
    let s: Vec<usize> = (1..RESPONSES.len()).collect();
    check(&run(REQUESTS, &c, RESPONSES, &s));
}

#[test]
fn secrets_never_reach_the_facts() {
    let f = run(REQUESTS, &[], RESPONSES, &[]);
    let text = format!("{f:?}");
    for secret in ["s3cret", "Bearer abc", "id=1", "id=2"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn frames_of_requests_and_responses_are_first_and_last() {
    let req = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    let f = run(req, &[5], resp, &[10, 45]);
    let e = &f.exchanges[0];
    let r = e.request.as_ref().unwrap();
    assert_eq!((r.first.frame, r.last.map(|o| o.frame)), (1, Some(2)));
    let p = e.response.as_ref().unwrap();
    assert_eq!((p.first.frame, p.last.frame), (100, 102));
    assert!(p.complete);
}

#[test]
fn a_short_body_is_incomplete_with_its_counts() {
    let f = run(
        b"GET / HTTP/1.1\r\n\r\n",
        &[],
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc",
        &[],
    );
    let p = f.exchanges[0].response.as_ref().unwrap();
    assert!(!p.complete);
    assert_eq!((p.body_received, p.body_declared()), (3, Some(100)));
}

#[test]
fn requests_without_responses_stay_unanswered() {
    let f = run(
        b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
        &[],
        b"HTTP/1.1 204 No Content\r\n\r\n",
        &[],
    );
    assert_eq!(f.exchanges.len(), 2);
    assert!(f.exchanges[0].response.is_some());
    assert!(f.exchanges[1].response.is_none());
}

#[test]
fn upgrade_stops_parsing() {
    let f = run(
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
        &[],
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi",
        &[],
    );
    assert!(f.upgraded);
    assert!(!f.client_desync && !f.server_desync);
    assert_eq!(f.exchanges.len(), 1);
}

#[test]
fn garbage_in_heads_stops_the_direction_without_panic() {
    let f = run(
        b"\x00\x01garbage\r\n\r\n",
        &[],
        b"HTTP/1.1 abc\r\n\r\n",
        &[],
    );
    assert!(f.client_desync && f.server_desync);
}

#[test]
fn a_response_lost_in_a_gap_keeps_the_rest_matched() {
    let mut s = HttpStream::default();
    let req = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
    s.on_chunk(
        true,
        at(1),
        StreamChunk::Data {
            offset: 0,
            bytes: req,
        },
    );
    // The first response's head was never captured; its body's tail and the second were.
    s.on_chunk(false, at(2), StreamChunk::Gap { offset: 0, len: 30 });
    let tail = b"dy-tail\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    s.on_chunk(
        false,
        at(3),
        StreamChunk::Data {
            offset: 30,
            bytes: tail,
        },
    );
    let f = s.finish();
    assert!(f.exchanges[0].response.is_none() && f.exchanges[0].response_not_captured);
    let second = f.exchanges[1].response.as_ref().map(|r| r.head.status);
    assert_eq!(second, Some(404));
    assert!(!f.server_desync);
}

#[test]
fn a_request_lost_in_a_gap_is_counted() {
    let mut s = HttpStream::default();
    s.on_chunk(
        true,
        at(1),
        StreamChunk::Data {
            offset: 0,
            bytes: b"GET / HT",
        },
    );
    s.on_chunk(true, at(2), StreamChunk::Gap { offset: 8, len: 10 });
    let rest = b"xx\r\nGET /b HTTP/1.1\r\n\r\n";
    s.on_chunk(
        true,
        at(3),
        StreamChunk::Data {
            offset: 18,
            bytes: rest,
        },
    );
    let f = s.finish();
    assert_eq!(f.requests, 2);
    let second = f.exchanges[1]
        .request
        .as_ref()
        .map(|r| r.head.target.as_str());
    assert_eq!(second, Some("/b"));
}

#[test]
fn a_head_longer_than_the_cap_stops_the_direction() {
    let mut s = HttpStream::default();
    s.on_chunk(
        true,
        at(1),
        StreamChunk::Data {
            offset: 0,
            bytes: b"GET / HTTP/1.1\r\nX: ",
        },
    );
    let filler = vec![b'a'; 8192];
    for i in 0..20u64 {
        s.on_chunk(
            true,
            at(2 + i),
            StreamChunk::Data {
                offset: 0,
                bytes: &filler,
            },
        );
    }
    assert!(s.client.buf.capacity() <= 2 * MAX_HEAD);
    assert!(s.finish().client_desync);
}

#[test]
fn exchanges_beyond_the_cap_are_counted_not_kept() {
    let one = b"GET / HTTP/1.1\r\n\r\n";
    let mut s = HttpStream::default();
    for i in 0..(MAX_EXCHANGES as u64 + 10) {
        s.on_chunk(
            true,
            at(i),
            StreamChunk::Data {
                offset: 0,
                bytes: one,
            },
        );
    }
    let f = s.finish();
    assert_eq!(f.exchanges.len(), MAX_EXCHANGES);
    assert_eq!(f.exchange_count(), MAX_EXCHANGES as u64 + 10);
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: pseudo-random mixes of valid pieces and noise, cut anywhere.
    let pieces: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n",
        b"Content-Length: 3\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"\r\n",
        b"5\r\nab",
        b"0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n",
        b"\xff\x00",
        b"ffffffffffffffffff\r\n",
    ];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..2000 {
        let mut bytes = Vec::new();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.extend_from_slice(pieces[(x % pieces.len() as u64) as usize]);
        }
        let cut = (x as usize >> 8) % (bytes.len() + 1);
        let _ = run(&bytes, &[cut], &bytes, &[cut / 2]);
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes, cut anywhere, with gaps anywhere: no panic, heads stay under the cap,
        /// and never more exchanges than the cap.
        #[test]
        fn any_bytes_and_gaps_never_panic_and_stay_bounded(
            client in proptest::collection::vec(any::<u8>(), 0..600),
            server in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(0usize..600, 0..6),
            gap_at in proptest::option::of(0usize..6),
        ) {
            let mut s = HttpStream::default();
            for (from_client, bytes) in [(true, &client), (false, &server)] {
                let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
                points.sort_unstable();
                let mut start = 0;
                for (i, end) in points.into_iter().chain([bytes.len()]).enumerate() {
                    if gap_at == Some(i) {
                        s.on_chunk(from_client, at(i as u64), StreamChunk::Gap { offset: 0, len: 7 });
                    }
                    let piece = &bytes[start..end.max(start)];
                    s.on_chunk(from_client, at(i as u64), StreamChunk::Data { offset: 0, bytes: piece });
                    start = end.max(start);
                }
                prop_assert!(s.client.buf.len() <= MAX_HEAD && s.server.buf.len() <= MAX_HEAD);
            }
            let f = s.finish();
            prop_assert!(f.exchanges.len() <= MAX_EXCHANGES);
        }

        /// Valid requests and responses with chunked and Content-Length bodies of any size, cut
        /// anywhere, are all matched.
        #[test]
        fn valid_exchanges_cut_anywhere_are_all_matched(
            sizes in proptest::collection::vec((0usize..300, any::<bool>()), 1..6),
            cut in 0usize..2000,
        ) {
            let mut req = Vec::new();
            let mut resp = Vec::new();
            for (i, (size, chunked)) in sizes.iter().enumerate() {
                req.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
                let body = vec![b'b'; *size];
                if *chunked {
                    resp.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                    for part in body.chunks(97) {
                        resp.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                        resp.extend_from_slice(part);
                        resp.extend_from_slice(b"\r\n");
                    }
                    resp.extend_from_slice(b"0\r\n\r\n");
                } else {
                    resp.extend_from_slice(format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n").as_bytes());
                    resp.extend_from_slice(&body);
                }
            }
            let f = run(&req, &[cut % (req.len() + 1)], &resp, &[cut % (resp.len() + 1)]);
            prop_assert_eq!(f.exchanges.len(), sizes.len());
            for (e, (size, _)) in f.exchanges.iter().zip(&sizes) {
                let r = e.response.as_ref().expect("answered");
                prop_assert!(r.complete);
                prop_assert_eq!(r.body_received, *size as u64);
            }
        }
    }
}

#[test]
fn a_body_whose_end_fell_in_a_gap_is_complete_and_the_next_message_lost() {
    let mut s = HttpStream::default();
    let req = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
    s.on_chunk(
        true,
        at(1),
        StreamChunk::Data {
            offset: 0,
            bytes: req,
        },
    );
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123";
    s.on_chunk(
        false,
        at(2),
        StreamChunk::Data {
            offset: 0,
            bytes: head,
        },
    );
    // The body's last 6 bytes and the start of the second response were never captured.
    s.on_chunk(
        false,
        at(3),
        StreamChunk::Gap {
            offset: 42,
            len: 20,
        },
    );
    let third = b"tail\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n";
    s.on_chunk(
        false,
        at(4),
        StreamChunk::Data {
            offset: 62,
            bytes: third,
        },
    );
    let f = s.finish();
    let first = f.exchanges[0].response.as_ref().unwrap();
    assert!(first.complete);
    assert_eq!((first.body_received, first.body_missing), (4, 6));
    assert!(f.exchanges[1].response_not_captured);
    assert_eq!(
        f.exchanges[2].response.as_ref().map(|r| r.head.status),
        Some(500)
    );
}
