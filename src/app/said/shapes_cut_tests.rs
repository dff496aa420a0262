//! Bodies cut, compressed, in legacy encodings, or of any bytes at all.

use super::tests::{ctx, read};
use super::*;
use crate::app::said::MAX_FIELDS;
use std::io::Write;

#[test]
fn cut_json_still_gives_its_message() {
    let body = br#"{"error_code":"APIG.0308","error_msg":"The throttling threshold has been reached: policy ip over ratelimit, limit:5, time:1 minute","request_id":"a1b2"#;
    let mut c = ctx(429, "application/json");
    c.cut = true;
    let said = read_error_body(&c, body).unwrap();
    assert_eq!(said.shape, Shape::ErrorCodeMsg);
    assert_eq!(said.code.as_deref(), Some("APIG.0308"));
    assert!(
        said.message
            .as_deref()
            .unwrap()
            .contains("policy ip over ratelimit")
    );
    assert_eq!(
        said.incomplete,
        Some(format!("body cut at {} bytes", body.len()))
    );
    // Cut inside the message itself: what there is of it.
    let body =
        br#"{"type":"about:blank","title":"Bad Request","detail":"The field 'email' must be a val"#;
    let mut c = ctx(400, "application/problem+json");
    c.gap = true;
    let said = read_error_body(&c, body).unwrap();
    assert_eq!(said.shape, Shape::ProblemJson);
    assert_eq!(
        said.message.as_deref(),
        Some("The field 'email' must be a val")
    );
    assert_eq!(said.title.as_deref(), Some("Bad Request"));
    assert!(said.incomplete.unwrap().starts_with("gap in the body"));
    // A whole body that is not valid JSON says so.
    let said = read(500, "application/json", r#"{"message": "oops", }"#);
    assert_eq!(said.message.as_deref(), Some("oops"));
    assert_eq!(said.incomplete.as_deref(), Some("invalid JSON"));
    // A cut GraphQL answer.
    let body = br#"{"errors":[{"message":"Not authorised to read orders","locations":[{"line":2,"#;
    let said = read_error_body(&c, body).unwrap();
    assert_eq!(said.shape, Shape::GraphQl);
    assert_eq!(said.graphql_total, 1);
    assert_eq!(
        said.message.as_deref(),
        Some("Not authorised to read orders")
    );
    // Nothing to scan: nothing said.
    assert!(read_error_body(&c, br#"{"items":[1,2,3"#).is_none());
}

#[test]
fn compressed_bodies_are_read() {
    let body = br#"{"error":{"code":429,"message":"Quota exceeded for quota metric 'Requests' and limit 'Requests per day'","status":"RESOURCE_EXHAUSTED"}}"#;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    let gz = e.finish().unwrap();
    let mut c = ctx(429, "application/json");
    c.content_encoding = Some("gzip");
    let said = read_error_body(&c, &gz).unwrap();
    assert_eq!(said.code.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(said.incomplete, None);
    // Cut compressed data: the message is still read, and the cut said.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    e.write_all(body).unwrap();
    let stored = e.finish().unwrap();
    let said = read_error_body(&c, &stored[..stored.len() - 40]).unwrap();
    assert!(
        said.message
            .as_deref()
            .unwrap()
            .starts_with("Quota exceeded")
    );
    assert_eq!(
        said.incomplete.as_deref(),
        Some("gzip data cut before its end")
    );
    // Not decodable at all: said so, nothing invented.
    c.content_encoding = Some("br");
    let said = read_error_body(&c, b"\xff\xff\xff\xff garbage").unwrap();
    assert_eq!(said.message, None);
    assert!(
        said.incomplete
            .unwrap()
            .starts_with("br data could not be decoded")
    );
    c.content_encoding = Some("compress");
    let said = read_error_body(&c, b"\x1f\x9d\x90").unwrap();
    assert_eq!(
        said.incomplete.as_deref(),
        Some("unknown content encoding \"compress\"")
    );
}

#[test]
fn nothing_from_nothing() {
    let c = ctx(500, "application/octet-stream");
    assert!(read_error_body(&c, b"").is_none());
    assert!(read_error_body(&c, &[0u8, 1, 2, 3, 0xff, 0xfe, 0x80, 0x81]).is_none());
    assert!(read_error_body(&c, b"   \r\n  ").is_none());
    assert!(read_error_body(&ctx(500, "text/html"), b"<html><body></body></html>").is_none());
    assert!(read_error_body(&ctx(500, "application/json"), br#"{"error":{}}"#).is_none());
}

#[test]
fn json_in_a_legacy_encoding_is_still_read() {
    // GBK bytes are not UTF-8: the message is kept with replacement characters, the code as is.
    let mut body = br#"{"error_code":"APIG.0201","error_msg":""#.to_vec();
    body.extend_from_slice(&[0xc7, 0xeb, 0xc7, 0xf3, 0xb3, 0xac, 0xca, 0xb1]);
    body.extend_from_slice(br#" backend timeout"}"#);
    let said = read_error_body(&ctx(504, "application/json"), &body).unwrap();
    assert_eq!(said.code.as_deref(), Some("APIG.0201"));
    assert!(said.message.unwrap().ends_with(" backend timeout"));
}

proptest::proptest! {
    /// Whatever the bytes and codings, reading never panics and keeps within its bounds.
    #[test]
    fn any_body_is_read_within_bounds(
        body in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        encoding in 0usize..6,
        cut in proptest::bool::ANY,
        limit in 0usize..2000,
    ) {
        let encodings = [None, Some("gzip"), Some("deflate"), Some("br"), Some("zstd"), Some("gzip, br")];
        let c = BodyContext {
            status: 500,
            content_type: None,
            content_encoding: encodings[encoding],
            cut,
            gap: false,
            limit,
        };
        if let Some(said) = read_error_body(&c, &body) {
            for s in [&said.code, &said.title, &said.message, &said.instance, &said.incomplete]
                .into_iter()
                .flatten()
            {
                proptest::prop_assert!(s.chars().count() <= MAX_FIELD + 3);
                proptest::prop_assert!(!s.chars().any(char::is_control));
            }
            proptest::prop_assert!(said.fields.len() <= MAX_FIELDS);
        }
    }
}
