//! Bytes as the body of an error response, read by `app::said::read_error_body` (decompression,
//! JSON/HTML/XML/text shapes, proxy pages, redaction). Byte 0 picks the `Content-Encoding`
//! (one of [`ENCODINGS`]), byte 1 the `Content-Type` (one of [`TYPES`]), byte 2 the flags (bit
//! 0: cut, bit 1: gap) and the limit (bits 2-7: 0 is the default 8 KiB, else that many
//! 256-byte units); the rest is the body. Beyond not panicking, what is kept must stay within
//! the bounds the reports rely on: every string at most `MAX_FIELD` characters (and `...`),
//! without control characters, at most `MAX_FIELDS` fields and GraphQL errors.
#![no_main]

use faultline::app::said::{
    BodyContext, DEFAULT_BODY_LIMIT, DefaultPage, MAX_FIELD, MAX_FIELDS, read_error_body,
};
use libfuzzer_sys::fuzz_target;

const ENCODINGS: &[Option<&str>] = &[
    None,
    Some("gzip"),
    Some("deflate"),
    Some("br"),
    Some("zstd"),
    Some("x-gzip"),
    Some("gzip, br"),
    Some("deflate, gzip"),
    Some("zstd, gzip"),
    Some("identity"),
    Some("compress"),
];
const TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/problem+json"),
    Some("text/html; charset=utf-8"),
    Some("text/plain"),
    Some("application/graphql-response+json"),
    Some("application/xml"),
    Some("application/octet-stream"),
];

fn check(text: &str) {
    assert!(text.chars().count() <= MAX_FIELD + 3, "too long: {text:?}");
    assert!(!text.chars().any(char::is_control), "control character: {text:?}");
}

fuzz_target!(|data: &[u8]| {
    let [encoding, content_type, flags, body @ ..] = data else {
        return;
    };
    let units = usize::from(flags >> 2);
    let ctx = BodyContext {
        status: 500,
        content_type: TYPES[usize::from(*content_type) % TYPES.len()],
        content_encoding: ENCODINGS[usize::from(*encoding) % ENCODINGS.len()],
        cut: flags & 1 != 0,
        gap: flags & 2 != 0,
        limit: if units == 0 { DEFAULT_BODY_LIMIT } else { units * 256 },
    };
    let Some(said) = read_error_body(&ctx, body) else {
        return;
    };
    let strings = [&said.code, &said.title, &said.message, &said.instance, &said.incomplete];
    strings.into_iter().flatten().for_each(|s| check(s));
    assert!(said.fields.len() <= MAX_FIELDS && said.graphql.len() <= MAX_FIELDS);
    assert!(said.graphql.len() <= said.graphql_total || said.graphql_total == 0);
    for (name, value) in &said.fields {
        check(name);
        check(value);
    }
    for error in &said.graphql {
        [&error.message, &error.code, &error.path].into_iter().flatten().for_each(|s| check(s));
    }
    if let Some(DefaultPage::Envoy { reason: Some(reason) }) = &said.page {
        check(reason);
    }
});
