use super::*;
use proptest::prelude::*;

const SECOND: u64 = 1_000_000_000;

#[test]
fn timeouts_in_every_unit() {
    // Values as gRPC implementations send them (grpc-go picks the unit that keeps 8 digits).
    assert_eq!(parse_timeout("1H"), Some(3_600 * SECOND));
    assert_eq!(parse_timeout("2M"), Some(120 * SECOND));
    assert_eq!(parse_timeout("30S"), Some(30 * SECOND));
    assert_eq!(parse_timeout("100m"), Some(100_000_000));
    assert_eq!(parse_timeout("4999896u"), Some(4_999_896_000));
    assert_eq!(parse_timeout("99999999n"), Some(99_999_999));
    assert_eq!(parse_timeout("0S"), Some(0));
    assert_eq!(parse_timeout("00000005m"), Some(5_000_000));
    // 99999999 hours is 3.6e20 ns, beyond u64: saturated, not wrapped.
    assert_eq!(parse_timeout("99999999H"), Some(u64::MAX));
    assert_eq!(parse_timeout("5124095M"), Some(5_124_095 * 60 * SECOND));
}

#[test]
fn malformed_timeouts_are_none() {
    for bad in [
        "",
        "S",
        "1",
        "123456789S",
        "1s",
        "1 S",
        " 1S",
        "1S ",
        "-1S",
        "+1S",
        "1.5S",
        "1SS",
        "0x1S",
        "1h",
        "１S",
        "1é",
        "é",
        "10µ",
    ] {
        assert_eq!(parse_timeout(bad), None, "{bad:?}");
    }
}

#[test]
fn messages_are_percent_decoded() {
    assert_eq!(decode_message(b"Deadline%20Exceeded"), "Deadline Exceeded");
    // What gRPC servers send: printable ASCII as is, `%` and everything else escaped.
    assert_eq!(decode_message(b"Deadline Exceeded"), "Deadline Exceeded");
    assert_eq!(decode_message(b"100%25 busy"), "100% busy");
    assert_eq!(
        decode_message(b"h%C3%A9llo %E4%B8%96%E7%95%8C"),
        "héllo 世界"
    );
    assert_eq!(decode_message(b"lower %c3%a9"), "lower é");
    assert_eq!(decode_message(b""), "");
}

#[test]
fn bad_escapes_and_bytes_are_kept_lossily() {
    assert_eq!(decode_message(b"bad %zz escape"), "bad %zz escape");
    assert_eq!(decode_message(b"trailing %"), "trailing %");
    assert_eq!(decode_message(b"trailing %4"), "trailing %4");
    assert_eq!(decode_message(b"%%41"), "%A");
    // A lone continuation byte and a cut multibyte sequence: replaced, the rest kept.
    assert_eq!(decode_message(b"a%80b"), "a\u{fffd}b");
    assert_eq!(decode_message(b"cut %E4%B8"), "cut \u{fffd}");
    assert_eq!(decode_message(&[b'r', 0xff, b'w']), "r\u{fffd}w");
}

#[test]
fn messages_lose_controls_and_secrets_and_are_clipped() {
    // An escaped newline cannot split a token into harmless words, nor reach a report.
    assert_eq!(decode_message(b"line1%0Aline2%00"), "line1line2");
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLWJ5dGVz";
    assert_eq!(
        decode_message(format!("invalid token%20{jwt}").as_bytes()),
        "invalid token REDACTED"
    );
    assert_eq!(
        decode_message(b"auth failed: Bearer%20abcdefgh12345678"),
        "auth failed: Bearer REDACTED"
    );
    assert_eq!(
        decode_message(b"key AKIAIOSFODNN7EXAMPLE denied"),
        "key REDACTED denied"
    );
    let long = "é".repeat(1000);
    let out = decode_message(long.as_bytes());
    assert_eq!(out.chars().count(), MAX_MESSAGE + 3);
    assert!(out.ends_with("..."));
}

/// Made with Python's protobuf 7.36 and googleapis-common-protos (google.rpc.Status with
/// `Any.Pack`), serialized and base64-encoded without padding as gRPC sends it:
/// code INVALID_ARGUMENT, an ErrorInfo (API_KEY_INVALID, googleapis.com, metadata
/// service=translate.googleapis.com) and a BadRequest (user.email: must contain @).
const ERRINFO_BADREQ: &str = "CAMSI1JlcXVlc3QgZmllbGQgdXNlci5lbWFpbCBpcyBpbnZhbGlkGnIKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJwYy5FcnJvckluZm8SRgoPQVBJX0tFWV9JTlZBTElEEg5nb29nbGVhcGlzLmNvbRojCgdzZXJ2aWNlEhh0cmFuc2xhdGUuZ29vZ2xlYXBpcy5jb20aSwopdHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkJhZFJlcXVlc3QSHgocCgp1c2VyLmVtYWlsEg5tdXN0IGNvbnRhaW4gQA";
/// UNAVAILABLE, "backend overloaded, retry later", a RetryInfo of 2 s.
const RETRY: &str = "CA4SH2JhY2tlbmQgb3ZlcmxvYWRlZCwgcmV0cnkgbGF0ZXIaMAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLlJldHJ5SW5mbxIECgIIAg";
/// UNAUTHENTICATED, a message quoting a JWT with German text, an ErrorInfo
/// (ACCESS_TOKEN_EXPIRED, auth.example.com).
const SECRET: &str = "CBASVGJhZCB0b2tlbiBleUpoYkdjaU9pSklVekkxTmlKOS5leUp6ZFdJaU9pSmliMklpZlEuYzJsbmJtRjBkWEpsTFdKNWRHVnogZsO8ciBCZW51dHplchpUCih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuRXJyb3JJbmZvEigKFEFDQ0VTU19UT0tFTl9FWFBJUkVEEhBhdXRoLmV4YW1wbGUuY29t";
/// INTERNAL, "many", ten DebugInfo details (d0 ... d9).
const MANY: &str = "CA0SBG1hbnkaMAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkRlYnVnSW5mbxIEEgJkMBowCih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuRGVidWdJbmZvEgQSAmQxGjAKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJwYy5EZWJ1Z0luZm8SBBICZDIaMAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkRlYnVnSW5mbxIEEgJkMxowCih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuRGVidWdJbmZvEgQSAmQ0GjAKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJwYy5EZWJ1Z0luZm8SBBICZDUaMAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkRlYnVnSW5mbxIEEgJkNhowCih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuRGVidWdJbmZvEgQSAmQ3GjAKKHR5cGUuZ29vZ2xlYXBpcy5jb20vZ29vZ2xlLnJwYy5EZWJ1Z0luZm8SBBICZDgaMAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkRlYnVnSW5mbxIEEgJkOQ";

/// Trailers exactly as a grpcio 1.85.3 server sent them (`context.abort`, and
/// `abort_with_status` of a google.rpc.Status with an ErrorInfo), read off the wire with a raw
/// HTTP/2 client.
#[test]
fn trailers_from_a_real_grpc_server() {
    assert_eq!(decode_message(b"Deadline Exceeded"), "Deadline Exceeded");
    assert_eq!(decode_message(b"100%25 done"), "100% done");
    assert_eq!(
        decode_message(b"h%C3%A9llo %E4%B8%96%E7%95%8C"),
        "h\u{e9}llo \u{4e16}\u{754c}"
    );
    // Controls are dropped, not turned into spaces: a tab cannot split a token in two.
    assert_eq!(decode_message(b"tab%09here%0Anewline"), "tabherenewline");
    assert_eq!(
        decode_message(b"caller lacks role f%C3%BCr x"),
        "caller lacks role f\u{fc}r x"
    );
    let details = parse_status_details(
        b"CAcSGGNhbGxlciBsYWNrcyByb2xlIGbDvHIgeBpUCih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuRXJyb3JJbmZvEigKFUlBTV9QRVJNSVNTSU9OX0RFTklFRBIPaWFtLmV4YW1wbGUuY29t",
    );
    assert_eq!(
        details,
        Some(GrpcStatusDetails {
            code: Some(7),
            message: Some("caller lacks role f\u{fc}r x".into()),
            detail_types: vec!["type.googleapis.com/google.rpc.ErrorInfo".into()],
            error_info_reason: Some("IAM_PERMISSION_DENIED".into()),
        })
    );
}

#[test]
fn status_details_with_error_info_and_bad_request() {
    let details = parse_status_details(ERRINFO_BADREQ.as_bytes()).expect("a Status");
    assert_eq!(
        details,
        GrpcStatusDetails {
            code: Some(3),
            message: Some("Request field user.email is invalid".into()),
            detail_types: vec![
                "type.googleapis.com/google.rpc.ErrorInfo".into(),
                "type.googleapis.com/google.rpc.BadRequest".into(),
            ],
            error_info_reason: Some("API_KEY_INVALID".into()),
        }
    );
    // Padded (as a standard encoder writes it) reads the same.
    let padded = format!("{ERRINFO_BADREQ}==");
    assert_eq!(parse_status_details(padded.as_bytes()), Some(details));
}

#[test]
fn status_details_without_error_info() {
    assert_eq!(
        parse_status_details(RETRY.as_bytes()),
        Some(GrpcStatusDetails {
            code: Some(14),
            message: Some("backend overloaded, retry later".into()),
            detail_types: vec!["type.googleapis.com/google.rpc.RetryInfo".into()],
            error_info_reason: None,
        })
    );
    // NOT_FOUND and nothing else; an empty Status is code 0 (proto3 omits zeros).
    assert_eq!(
        parse_status_details(b"CAU"),
        Some(GrpcStatusDetails {
            code: Some(5),
            ..GrpcStatusDetails::default()
        })
    );
    assert_eq!(parse_status_details(b"EgA").map(|d| d.code), Some(Some(0)));
}

#[test]
fn status_details_are_redacted_and_bounded() {
    let details = parse_status_details(SECRET.as_bytes()).expect("a Status");
    assert_eq!(details.code, Some(16));
    assert_eq!(
        details.message.as_deref(),
        Some("bad token REDACTED für Benutzer")
    );
    assert_eq!(
        details.error_info_reason.as_deref(),
        Some("ACCESS_TOKEN_EXPIRED")
    );

    let details = parse_status_details(MANY.as_bytes()).expect("a Status");
    assert_eq!(details.detail_types.len(), MAX_DETAIL_TYPES);
    assert!(
        details
            .detail_types
            .iter()
            .all(|t| t == "type.googleapis.com/google.rpc.DebugInfo")
    );
}

#[test]
fn malformed_status_details_are_none() {
    // Not base64, empty, truncated protobuf (the first value cut), a wrong wire type for the
    // code, a length past the end.
    for bad in [
        &b"!!!not base64!!!"[..],
        b"",
        b"   ",
        &ERRINFO_BADREQ.as_bytes()[..40],
        b"CQ",  // field 1 as fixed64 without its 8 bytes
        b"EgU", // field 2, length 5, no bytes
    ] {
        assert_eq!(
            parse_status_details(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // An ErrorInfo that does not decode loses its reason, not the Status.
    let mut status = vec![0x08, 0x02, 0x1a];
    let type_url = b"type.googleapis.com/google.rpc.ErrorInfo";
    let any: Vec<u8> = [
        &[0x0a, type_url.len() as u8][..],
        type_url,
        &[0x12, 0x02, 0x0a, 0x09],
    ]
    .concat();
    status.push(any.len() as u8);
    status.extend_from_slice(&any);
    let details = parse_status_details(DETAILS_BASE64.encode(&status).as_bytes()).expect("Status");
    assert_eq!(details.code, Some(2));
    assert_eq!(
        details.detail_types,
        vec![String::from_utf8_lossy(type_url)]
    );
    assert_eq!(details.error_info_reason, None);
}

/// gRPC framing of messages `(compressed, len)`.
fn frame(messages: &[(bool, usize)]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(compressed, len) in messages {
        out.push(u8::from(compressed));
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend(std::iter::repeat_n(0xa5, len));
    }
    out
}

fn count(chunks: &[&[u8]]) -> GrpcMessages {
    let mut counter = MessageCounter::default();
    for chunk in chunks {
        counter.on_data(chunk);
    }
    counter.finish()
}

#[test]
fn messages_are_counted_across_any_split() {
    let body = frame(&[(false, 3), (true, 0), (false, 70_000)]);
    let expected = GrpcMessages {
        count: 3,
        bytes: 70_003,
        compressed: 1,
        ..GrpcMessages::default()
    };
    assert_eq!(count(&[&body]), expected);
    // Byte by byte: the prefix spans five calls.
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(count(&bytes), expected);
    // A split inside the second prefix.
    let (a, b) = body.split_at(10);
    assert_eq!(count(&[a, b]), expected);
    assert_eq!(count(&[]), GrpcMessages::default());
    assert_eq!(count(&[&[]]), GrpcMessages::default());
}

#[test]
fn a_body_ending_inside_a_message_is_cut() {
    let body = frame(&[(false, 10), (false, 100)]);
    let cut = count(&[&body[..body.len() - 1]]);
    assert_eq!((cut.count, cut.bytes, cut.cut), (2, 109, true));
    // Inside the second prefix: the first message is whole, the second never started.
    let cut = count(&[&body[..17]]);
    assert_eq!((cut.count, cut.bytes, cut.cut), (1, 10, true));
    assert!(!count(&[&body]).cut);
}

#[test]
fn a_gap_inside_a_message_loses_nothing() {
    let body = frame(&[(false, 1000), (true, 4)]);
    let mut counter = MessageCounter::default();
    counter.on_data(&body[..100]);
    counter.on_gap(800); // bytes 100..900, all inside the first message (5..1005)
    counter.on_data(&body[900..]);
    assert_eq!(
        counter.finish(),
        GrpcMessages {
            count: 2,
            bytes: 1004,
            compressed: 1,
            ..GrpcMessages::default()
        }
    );
}

#[test]
fn a_gap_that_may_hide_a_prefix_stops_counting() {
    let body = frame(&[(false, 10), (false, 10), (false, 10)]);
    let mut counter = MessageCounter::default();
    counter.on_data(&body[..12]);
    counter.on_gap(10); // bytes 12..22 reach past the first message's end (15)
    counter.on_data(&body[22..]);
    let counts = counter.finish();
    assert_eq!((counts.count, counts.bytes), (1, 7));
    assert!(counts.lost);
    assert!(!counts.cut, "unknown, not judged");
    // A gap between messages (no bytes of the next prefix yet) hides a prefix too.
    let mut counter = MessageCounter::default();
    counter.on_data(&body[..15]);
    counter.on_gap(1);
    assert!(counter.finish().lost);
    // An empty gap changes nothing.
    let mut counter = MessageCounter::default();
    counter.on_data(&body[..15]);
    counter.on_gap(0);
    counter.on_data(&body[15..]);
    assert_eq!(count(&[&body]), counter.finish());
}

#[test]
fn status_names() {
    assert_eq!(status_name(0), "OK");
    assert_eq!(status_name(1), "CANCELLED");
    assert_eq!(status_name(4), "DEADLINE_EXCEEDED");
    assert_eq!(status_name(8), "RESOURCE_EXHAUSTED");
    assert_eq!(status_name(14), "UNAVAILABLE");
    assert_eq!(status_name(16), "UNAUTHENTICATED");
    assert_eq!(status_name(17), "UNKNOWN_CODE");
    assert_eq!(status_name(u32::MAX), "UNKNOWN_CODE");
}

#[test]
fn paths_split_into_service_and_method() {
    let split = |p| split_path(p);
    assert_eq!(
        split("/helloworld.Greeter/SayHello"),
        Some(("helloworld.Greeter".into(), "SayHello".into()))
    );
    assert_eq!(
        split("/grpc.health.v1.Health/Check"),
        Some(("grpc.health.v1.Health".into(), "Check".into()))
    );
    assert_eq!(
        split("/Service/Method"),
        Some(("Service".into(), "Method".into()))
    );
    for bad in [
        "",
        "/",
        "//",
        "/svc",
        "/svc/",
        "//Method",
        "svc/Method",
        "/a/b/c",
        "/a b/c",
        "/a/b\n",
        "*",
    ] {
        assert_eq!(split(bad), None, "{bad:?}");
    }
    // A token where a name should be is not quoted.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLWJ5dGVz";
    assert_eq!(
        split(&format!("/svc/{jwt}")),
        Some(("svc".into(), "REDACTED".into()))
    );
}

proptest! {
    #[test]
    fn random_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_timeout(&text);
        let _ = split_path(&text);
        let _ = decode_message(&bytes);
        let _ = parse_status_details(&bytes);
        // As base64, the bytes reach the protobuf reader.
        let _ = parse_status_details(DETAILS_BASE64.encode(&bytes).as_bytes());
        let mut counter = MessageCounter::default();
        for chunk in bytes.chunks(7) {
            counter.on_data(chunk);
            counter.on_gap(u64::from(chunk[0]) << 30);
        }
        let _ = counter.finish();
    }

    #[test]
    fn counts_do_not_depend_on_the_split(
        messages in proptest::collection::vec((any::<bool>(), 0usize..40), 0..12),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let body = frame(&messages);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
        at.sort_unstable();
        let mut counter = MessageCounter::default();
        let mut from = 0;
        for to in at.into_iter().chain([body.len()]) {
            counter.on_data(&body[from..to]);
            from = to;
        }
        prop_assert_eq!(counter.finish(), GrpcMessages {
            count: messages.len() as u64,
            bytes: messages.iter().map(|m| m.1 as u64).sum(),
            compressed: messages.iter().filter(|m| m.0).count() as u64,
            ..GrpcMessages::default()
        });
    }
}
