//! The TLS facts of hand-built handshakes fed in pieces.

use super::*;

fn at(frame: u64) -> Origin {
    Origin {
        frame,
        ts_ns: frame as i64,
    }
}

fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![content_type, 3, 3];
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(body);
    out
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![msg_type];
    out.extend(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend(body);
    out
}

fn extension(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut out = kind.to_be_bytes().to_vec();
    out.extend((body.len() as u16).to_be_bytes());
    out.extend(body);
    out
}

/// A TLS 1.3-style ClientHello for `example.test` offering TLS 1.3 and 1.2, h2, x25519.
fn client_hello() -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([7u8; 32]);
    body.push(0);
    body.extend([0, 4, 0x13, 0x01, 0xc0, 0x2f]);
    body.extend([1, 0]);
    let mut ext = Vec::new();
    let name = b"example.test";
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend((name.len() as u16).to_be_bytes());
    sni.extend(name);
    ext.extend(extension(0, &sni));
    ext.extend(extension(16, &[0, 3, 2, b'h', b'2']));
    ext.extend(extension(43, &[6, 0x0a, 0x0a, 3, 4, 3, 3]));
    let mut share = vec![0, 8, 0, 29, 0, 4];
    share.extend([1u8; 4]);
    ext.extend(extension(51, &share));
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    record(22, &handshake(1, &body))
}

fn server_hello(version_ext: Option<u16>) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([9u8; 32]);
    body.push(0);
    body.extend([0x13, 0x01, 0]);
    let mut ext = Vec::new();
    if let Some(v) = version_ext {
        ext.extend(extension(43, &v.to_be_bytes()));
    }
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    record(22, &handshake(2, &body))
}

#[test]
fn client_hello_offers_are_read_at_every_cut() {
    let bytes = client_hello();
    for cut in 0..=bytes.len() {
        let mut conn = TlsConn::default();
        let (a, b) = bytes.split_at(cut);
        conn.on_chunk(
            true,
            at(1),
            &StreamChunk::Data {
                offset: 0,
                bytes: a,
            },
        );
        conn.on_chunk(
            true,
            at(2),
            &StreamChunk::Data {
                offset: 0,
                bytes: b,
            },
        );
        let hello = conn.facts().client_hello.clone().expect("ClientHello read");
        assert_eq!(hello.sni.as_deref(), Some("example.test"));
        assert_eq!(hello.alpn, vec!["h2".to_string()]);
        assert_eq!(hello.supported_versions, vec![TLS13, TLS12]);
        assert_eq!(hello.cipher_suites, vec![0x1301, 0xc02f]);
        assert_eq!(hello.key_share_groups, vec![29]);
        assert_eq!(hello.frame, if cut == bytes.len() { 1 } else { 2 });
    }
}

#[test]
fn tls13_server_turns_encrypted_after_its_hello_and_a_client_alert_is_kept() {
    let mut conn = TlsConn::default();
    let data = |b: &[u8]| b.to_vec();
    conn.on_chunk(
        true,
        at(1),
        &StreamChunk::Data {
            offset: 0,
            bytes: &data(&client_hello()),
        },
    );
    let mut flight = server_hello(Some(TLS13));
    flight.extend(record(20, &[1]));
    flight.extend(record(23, &[0u8; 900]));
    conn.on_chunk(
        false,
        at(2),
        &StreamChunk::Data {
            offset: 0,
            bytes: &flight,
        },
    );
    let mut answer = record(20, &[1]);
    answer.extend(record(23, &[0u8; 19]));
    conn.on_chunk(
        true,
        at(3),
        &StreamChunk::Data {
            offset: 0,
            bytes: &answer,
        },
    );
    let facts = conn.into_facts();
    assert!(facts.is_tls13());
    assert_eq!(facts.server.encrypted_from, Some(at(2)));
    assert_eq!(facts.client.encrypted_from, Some(at(3)));
    assert_eq!(facts.client.encrypted_records[0].length, 19);
    assert_eq!(facts.server_hello.map(|s| s.cipher_suite), Some(0x1301));
}

#[test]
fn tls12_alert_in_clear_names_its_sender_and_ccs_encrypts() {
    let mut conn = TlsConn::default();
    conn.on_chunk(
        true,
        at(1),
        &StreamChunk::Data {
            offset: 0,
            bytes: &client_hello(),
        },
    );
    conn.on_chunk(
        false,
        at(2),
        &StreamChunk::Data {
            offset: 0,
            bytes: &server_hello(None),
        },
    );
    let mut client = record(21, &[2, 48]);
    client.extend(record(20, &[1]));
    client.extend(record(22, &[0u8; 40]));
    conn.on_chunk(
        true,
        at(3),
        &StreamChunk::Data {
            offset: 0,
            bytes: &client,
        },
    );
    let facts = conn.into_facts();
    assert_eq!(facts.version(), Some(TLS12));
    let alert = facts.first_error_alert().expect("alert");
    assert!(alert.from_client);
    assert_eq!(alert_name(alert.description), Some("unknown_ca"));
    assert_eq!(facts.client.change_cipher_spec, Some(at(3)));
    assert_eq!(facts.client.encrypted_from, Some(at(3)));
    assert_eq!(facts.client.encrypted_records.len(), 1);
}

#[test]
fn damaged_streams_never_panic_and_stay_bounded() {
    let mut bytes = client_hello();
    bytes.extend(server_hello(Some(TLS13)));
    for i in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[i] ^= 0xff;
        for cut in [1, 7, 64] {
            let mut conn = TlsConn::default();
            for piece in damaged.chunks(cut) {
                conn.on_chunk(
                    true,
                    at(1),
                    &StreamChunk::Data {
                        offset: 0,
                        bytes: piece,
                    },
                );
                assert!(conn.client.buffered() <= MAX_HANDSHAKE_MESSAGE);
            }
        }
    }
}

#[test]
fn plain_http_pages_of_tls_ports_are_recognised() {
    assert!(refuses_plain_http(
        b"HTTP/1.1 400 Bad Request\r\n\r\n<center>The plain HTTP request was sent to HTTPS port</center>"
    ));
    assert!(!refuses_plain_http(b"HTTP/1.1 400 Bad Request\r\n\r\nno"));
}

#[test]
fn after_starttls_the_servers_plaintext_is_skipped_until_its_tls() {
    let mut conn = TlsConn::after_starttls();
    let hello = client_hello();
    assert!(starts_client_hello(&hello));
    conn.on_chunk(
        true,
        at(5),
        &StreamChunk::Data {
            offset: 40,
            bytes: &hello,
        },
    );
    conn.on_chunk(
        false,
        at(6),
        &StreamChunk::Data {
            offset: 30,
            bytes: b"HTTP/1.1 200 Connection established\r\n\r\n",
        },
    );
    conn.on_chunk(
        false,
        at(7),
        &StreamChunk::Data {
            offset: 70,
            bytes: &server_hello(Some(TLS13)),
        },
    );
    let facts = conn.into_facts();
    assert_eq!(facts.server.stopped, None);
    assert_eq!(facts.server_hello.map(|s| s.frame), Some(7));
    assert_eq!(facts.server_text, None);
}

#[test]
fn tls13_payload_records_leave_out_alert_sized_closes() {
    let mut conn = TlsConn::default();
    fn chunk(bytes: &[u8]) -> StreamChunk<'_> {
        StreamChunk::Data { offset: 0, bytes }
    }
    let hello = client_hello();
    conn.on_chunk(true, at(1), &chunk(&hello));
    let mut flight = server_hello(Some(TLS13));
    flight.extend(record(23, &[0u8; 900]));
    conn.on_chunk(false, at(2), &chunk(&flight));
    // The client's Finished (53 bytes) and its request (96), then a close_notify (19).
    let mut client = record(23, &[0u8; 53]);
    client.extend(record(23, &[0u8; 96]));
    conn.on_chunk(
        true,
        at(3),
        &StreamChunk::Data {
            offset: hello.len() as u64,
            bytes: &client,
        },
    );
    conn.on_chunk(
        false,
        at(4),
        &StreamChunk::Data {
            offset: flight.len() as u64,
            bytes: &record(23, &[0u8; 266]),
        },
    );
    let close = record(23, &[0u8; 19]);
    conn.on_chunk(
        true,
        at(5),
        &StreamChunk::Data {
            offset: (hello.len() + client.len()) as u64,
            bytes: &close,
        },
    );
    let facts = conn.into_facts();
    assert_eq!(
        facts.client.payload_records, 2,
        "Finished and request, not the close"
    );
    assert_eq!(
        facts.client.last_payload.map(|r| (r.frame, r.length)),
        Some((3, 96))
    );
    assert_eq!(
        facts.client.last_record.map(|r| (r.frame, r.length)),
        Some((5, 19))
    );
    assert_eq!(facts.server.last_payload.map(|r| r.frame), Some(4));
}
