//! Tests of the free-text, header and ordering rules.

use super::*;
use crate::app::said::{DefaultPage, GraphQlError};

#[test]
fn phrases_match_and_near_misses_do_not() {
    for (status, message, want) in [
        (401, "jwt expired", Some(TokenExpired)),
        (401, "Token has expired", Some(TokenExpired)),
        (401, "token expires in 3600s", None),
        (401, "a non-expired token is required", None),
        (401, "Invalid token", Some(TokenInvalid)),
        (401, "JWT signature verification failed", Some(TokenInvalid)),
        // A 400's "invalid token" is a request parameter's, not the credential's.
        (400, "Invalid token format in field 'page_token'", None),
        (
            429,
            "You exceeded your current quota, please check your plan",
            Some(QuotaExhausted),
        ),
        (429, "quota: 12 of 100 used", None),
        (429, "API rate limit exceeded", Some(Throttled)),
        (429, "Rate limit: 100 requests", None),
        (429, "Daily limit reached", Some(QuotaExhausted)),
        (
            429,
            "Rate limit exceeded: 1000 requests per day",
            Some(QuotaExhausted),
        ),
        (404, "no Route matched with those values", Some(ApiNotFound)),
        (404, "Order not found", None),
        (404, "No route to host", None),
        (
            404,
            "The API does not exist or has not been published in the environment.",
            Some(ApiNotFound),
        ),
        (404, "Stage 'dev' not found", Some(WrongStage)),
        (404, "Missing X-Stage header", Some(WrongStage)),
        (404, "Backstage item not found", None),
        (404, "API v1 is deprecated, use v2", Some(VersionRetired)),
        (400, "Field 'x' is deprecated", None),
        (503, "no healthy upstream", Some(UpstreamFailed)),
        (504, "upstream request timeout", Some(UpstreamTimeout)),
        (500, "connection refused to database", None),
        (500, "token expired", None),
    ] {
        assert_eq!(
            m(status, Some(&text(message)), None),
            want,
            "{status} {message}"
        );
    }
    let r = read(401, Some(&text("jwt expired")), None).unwrap();
    assert_eq!(r.because, "message \"jwt expired\"");
}

#[test]
fn graphql_errors_speak_through_a_200() {
    let mut g = ServerSaid::new(Shape::GraphQl);
    g.graphql.push(GraphQlError {
        message: Some("Context creation failed: jwt expired".into()),
        code: Some("UNAUTHENTICATED".into()),
        path: None,
    });
    let r = read(200, Some(&g), None).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (
            TokenExpired,
            "errors[0].message \"Context creation failed: jwt expired\""
        )
    );
    // The same words in a plain 200 body mean nothing here.
    assert_eq!(m(200, Some(&text("jwt expired")), None), None);
}

#[test]
fn envoy_pages() {
    let mut page = ServerSaid::new(Shape::Text);
    page.page = Some(DefaultPage::Envoy {
        reason: Some(
            "connection failure, transport failure reason: delayed connect error: 111".into(),
        ),
    });
    let r = read(503, Some(&page), None).unwrap();
    assert_eq!(r.meaning, UpstreamFailed);
    assert!(
        r.because
            .starts_with("Envoy page, reset reason \"connection failure"),
        "{}",
        r.because
    );
    page.page = Some(DefaultPage::Envoy {
        reason: Some("connection timeout".into()),
    });
    assert_eq!(m(503, Some(&page), None), Some(UpstreamTimeout));
    page.page = Some(DefaultPage::Envoy { reason: None });
    assert_eq!(m(503, Some(&page), None), Some(UpstreamFailed));
}

#[test]
fn versions_by_status_and_headers() {
    assert_eq!(m(410, None, None), Some(VersionRetired));
    let h = FailureHeaders {
        sunset: Some("Sat, 01 Jun 2024 00:00:00 GMT".into()),
        ..FailureHeaders::default()
    };
    let r = read(404, None, Some(&h)).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (VersionRetired, "Sunset: Sat, 01 Jun 2024 00:00:00 GMT")
    );
    let h = FailureHeaders {
        deprecation: Some("@1688169599".into()),
        ..FailureHeaders::default()
    };
    assert_eq!(m(404, None, Some(&h)), Some(VersionRetired));
    assert_eq!(m(404, None, Some(&FailureHeaders::default())), None);
}

#[test]
fn rate_limit_windows() {
    let quota = rate_headers(&[
        ("RateLimit-Policy", "1000;w=86400"),
        ("RateLimit", "limit=1000, remaining=0, reset=300"),
    ]);
    let r = read(429, None, Some(&quota)).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (QuotaExhausted, "RateLimit-Policy: 1000;w=86400")
    );
    let throttle = rate_headers(&[
        ("X-RateLimit-Limit-Minute", "5"),
        ("X-RateLimit-Remaining-Minute", "0"),
    ]);
    let r = read(429, None, Some(&throttle)).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (Throttled, "X-RateLimit-Remaining-Minute: 0")
    );
    // 429 alone: client.rate_limited stands anyway.
    assert_eq!(
        m(
            429,
            None,
            Some(&rate_headers(&[("X-RateLimit-Limit", "10")]))
        ),
        None
    );
    assert_eq!(m(429, None, None), None);
    // A 403 with the allowance at 0 was refused by the limit (GitHub).
    let github = rate_headers(&[("x-ratelimit-limit", "60"), ("x-ratelimit-remaining", "0")]);
    let r = read(403, None, Some(&github)).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (Throttled, "x-ratelimit-remaining: 0")
    );
    // ... but rate-limit headers on a 403 with allowance left say nothing.
    let left = rate_headers(&[("x-ratelimit-limit", "60"), ("x-ratelimit-remaining", "59")]);
    assert_eq!(m(403, None, Some(&left)), None);
}

#[test]
fn gateways_and_upstreams() {
    let envoy = FailureHeaders {
        server: Some("envoy".into()),
        ..FailureHeaders::default()
    };
    let r = read(502, None, Some(&envoy)).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (UpstreamFailed, "502 from a gateway (Server: envoy)")
    );
    let app = FailureHeaders {
        server: Some("gunicorn".into()),
        ..FailureHeaders::default()
    };
    assert_eq!(m(502, None, Some(&app)), None);
    let mut nginx_page = ServerSaid::new(Shape::Html);
    nginx_page.page = Some(DefaultPage::Nginx);
    assert_eq!(m(502, Some(&nginx_page), None), Some(UpstreamFailed));
    assert_eq!(m(504, None, None), Some(UpstreamTimeout));
}

#[test]
fn conflicts_follow_the_documented_order() {
    // A code says throttled, the headers name a daily window: a quota.
    let h = FailureHeaders {
        amzn_error_type: Some("ThrottlingException".into()),
        ..rate_headers(&[("RateLimit-Policy", "1000;w=86400")])
    };
    let r = read(429, None, Some(&h)).unwrap();
    assert_eq!(r.meaning, QuotaExhausted);
    assert_eq!(
        r.because,
        "x-amzn-ErrorType: ThrottlingException, RateLimit-Policy: 1000;w=86400"
    );
    // The server's own words name a minute: they outrank the headers' window.
    let words = text("Quota exceeded: 100 requests per minute");
    assert_eq!(
        m(
            429,
            Some(&words),
            Some(&rate_headers(&[("RateLimit-Policy", "1000;w=86400")]))
        ),
        Some(Throttled)
    );
    // The challenge outranks the body.
    let h = challenge_headers("Bearer", Some("invalid_token"), Some("expired"));
    assert_eq!(
        m(401, Some(&text("Invalid token")), Some(&h)),
        Some(TokenExpired)
    );
    // A code outranks free text.
    let apig = body(
        Shape::ErrorCodeMsg,
        Some("APIG.0101"),
        Some("Rate limit exceeded"),
    );
    assert_eq!(m(404, Some(&apig), None), Some(ApiNotFound));
    // ...but words that narrow the code's reading to a stage narrow it.
    let apig = body(
        Shape::ErrorCodeMsg,
        Some("APIG.0101"),
        Some("Stage 'x' not found"),
    );
    assert_eq!(m(404, Some(&apig), None), Some(WrongStage));
    let generic = body(
        Shape::ErrorCodeMsg,
        Some("APIG.0101"),
        Some("The API does not exist or has not been published in the environment"),
    );
    assert_eq!(m(404, Some(&generic), None), Some(ApiNotFound));
}

proptest::proptest! {
    /// Any words at any status: no panic, and only a meaning that fits the status.
    #[test]
    fn any_text_is_read_without_panic(
        message in "\\PC{0,80}",
        code in "\\PC{0,20}",
        status in 100u16..600,
    ) {
        let said = body(Shape::ErrorCodeMsg, Some(&code), Some(&message));
        let h = FailureHeaders {
            amzn_error_type: Some(code.clone()),
            ..challenge_headers("Bearer", Some("invalid_token"), Some(&message))
        };
        if let Some(r) = read(status, Some(&said), Some(&h)) {
            proptest::prop_assert!(fits(r.meaning, status, false, false), "{status} {r:?}");
        }
    }
}
