//! Tests of [`super::meaning`]: each source, each phrase table with a near miss, and the
//! order between them.

use super::*;
use crate::app::http::Challenge;
use crate::app::said::{rate_headers, rate_limit};

mod text;

fn body(shape: Shape, code: Option<&str>, message: Option<&str>) -> ServerSaid {
    let mut s = ServerSaid::new(shape);
    s.code = code.map(str::to_string);
    s.message = message.map(str::to_string);
    s
}

fn text(message: &str) -> ServerSaid {
    body(Shape::Message, None, Some(message))
}

/// The reading of a response, its RateLimit read from its headers.
fn read(status: u16, said: Option<&ServerSaid>, h: Option<&FailureHeaders>) -> Option<Reading> {
    let rate = h.map(|h| rate_limit(h, None)).unwrap_or_default();
    meaning(status, said, h, true, &rate)
}

fn m(status: u16, said: Option<&ServerSaid>, h: Option<&FailureHeaders>) -> Option<Meaning> {
    read(status, said, h).map(|r| r.meaning)
}

fn challenge_headers(scheme: &str, error: Option<&str>, desc: Option<&str>) -> FailureHeaders {
    FailureHeaders {
        www_authenticate: Some(Challenge {
            scheme: scheme.into(),
            error: error.map(str::to_string),
            error_description: desc.map(str::to_string),
        }),
        ..FailureHeaders::default()
    }
}

#[test]
fn bearer_challenges() {
    let h = challenge_headers(
        "Bearer",
        Some("invalid_token"),
        Some("The access token expired"),
    );
    let r = read(401, None, Some(&h)).unwrap();
    assert_eq!(r.meaning, TokenExpired);
    assert_eq!(
        r.because,
        "WWW-Authenticate: Bearer error=\"invalid_token\", error_description=\"The access token expired\""
    );
    // "expires in" is not "expired".
    let h = challenge_headers(
        "Bearer",
        Some("invalid_token"),
        Some("token expires in 3600s; signature invalid"),
    );
    assert_eq!(m(401, None, Some(&h)), Some(TokenInvalid));
    let h = challenge_headers(
        "Bearer",
        Some("invalid_token"),
        Some("The 'exp' claim is in the past"),
    );
    assert_eq!(m(401, None, Some(&h)), Some(TokenExpired));
    let h = challenge_headers("Bearer", Some("insufficient_scope"), None);
    assert_eq!(m(403, None, Some(&h)), Some(InsufficientScope));
    // invalid_request says nothing beyond the status.
    let h = challenge_headers("Bearer", Some("invalid_request"), None);
    assert_eq!(m(401, None, Some(&h)), None);
}

#[test]
fn basic_credentials_refused_only_when_sent() {
    let h = challenge_headers("Basic", None, None);
    let rate = RateLimit::default();
    let sent = meaning(401, None, Some(&h), true, &rate).unwrap();
    assert_eq!(sent.meaning, CredentialsWrong);
    assert_eq!(
        sent.because,
        "WWW-Authenticate: Basic (credentials were sent)"
    );
    assert_eq!(meaning(401, None, Some(&h), false, &rate), None);
    let digest = challenge_headers("Digest", None, None);
    assert_eq!(
        meaning(401, None, Some(&digest), true, &rate).map(|r| r.meaning),
        Some(CredentialsWrong)
    );
}

#[test]
fn oauth_token_endpoint_errors() {
    let oauth = |code, desc| body(Shape::OAuthError, Some(code), desc);
    let r = read(401, Some(&oauth("invalid_client", None)), None).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (CredentialsWrong, "error \"invalid_client\"")
    );
    assert_eq!(
        m(
            400,
            Some(&oauth("invalid_grant", Some("Bad refresh token"))),
            None
        ),
        Some(TokenInvalid)
    );
    let r = read(
        400,
        Some(&oauth("invalid_grant", Some("Token has expired."))),
        None,
    )
    .unwrap();
    assert_eq!(r.meaning, TokenExpired);
    assert_eq!(
        r.because,
        "error \"invalid_grant\", error_description \"Token has expired.\""
    );
    assert_eq!(
        m(400, Some(&oauth("unauthorized_client", None)), None),
        Some(AccessDenied)
    );
    assert_eq!(
        m(400, Some(&oauth("invalid_scope", None)), None),
        Some(InsufficientScope)
    );
    // invalid_request: the status stands.
    assert_eq!(
        m(
            400,
            Some(&oauth("invalid_request", Some("missing grant_type"))),
            None
        ),
        None
    );
}

#[test]
fn aws_error_types() {
    let mut h = FailureHeaders {
        amzn_error_type: Some(
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
                .into(),
        ),
        ..FailureHeaders::default()
    };
    let r = read(400, Some(&text("Rate exceeded")), Some(&h)).unwrap();
    assert_eq!(r.meaning, Throttled);
    assert!(
        r.because
            .starts_with("x-amzn-ErrorType: ThrottlingException"),
        "{}",
        r.because
    );
    let dynamo = body(
        Shape::Message,
        Some("com.amazonaws.dynamodb.v20120810#ExpiredTokenException"),
        Some("The security token included in the request is expired"),
    );
    let r = read(400, Some(&dynamo), None).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (TokenExpired, "__type \"ExpiredTokenException\"")
    );
    for (code, want) in [
        ("UnrecognizedClientException", CredentialsWrong),
        ("InvalidSignatureException", CredentialsWrong),
        ("SignatureDoesNotMatch", CredentialsWrong),
        ("AccessDeniedException", AccessDenied),
    ] {
        h.amzn_error_type = Some(code.into());
        assert_eq!(m(403, None, Some(&h)), Some(want), "{code}");
    }
    // S3's SlowDown is a 503.
    assert_eq!(
        m(
            503,
            Some(&body(Shape::OtherJson, Some("SlowDown"), None)),
            None
        ),
        Some(Throttled)
    );
}

#[test]
fn aws_limit_exceeded_is_a_quota_only_when_said() {
    // API Gateway's QUOTA_EXCEEDED gateway response.
    let apigw = FailureHeaders {
        amzn_error_type: Some("LimitExceededException".into()),
        vendor: vec![("x-amz-apigw-id".into(), "Xy1=".into())],
        ..FailureHeaders::default()
    };
    let r = read(429, Some(&text("Limit Exceeded")), Some(&apigw)).unwrap();
    assert_eq!(r.meaning, QuotaExhausted);
    assert_eq!(
        r.because,
        "x-amzn-ErrorType: LimitExceededException, message \"Limit Exceeded\""
    );
    // API Gateway's THROTTLED response.
    let throttled = FailureHeaders {
        amzn_error_type: Some("TooManyRequestsException".into()),
        ..apigw.clone()
    };
    assert_eq!(
        m(429, Some(&text("Too Many Requests")), Some(&throttled)),
        Some(Throttled)
    );
    // Another service's LimitExceededException: throttled unless a quota is named.
    let kinesis = FailureHeaders {
        amzn_error_type: Some("LimitExceededException".into()),
        ..FailureHeaders::default()
    };
    assert_eq!(
        m(400, Some(&text("Rate exceeded for shard")), Some(&kinesis)),
        Some(Throttled)
    );
    assert_eq!(
        m(
            400,
            Some(&text("Monthly request quota reached")),
            Some(&kinesis)
        ),
        Some(QuotaExhausted)
    );
}

#[test]
fn aws_api_gateway_messages() {
    let r = read(403, Some(&text("Missing Authentication Token")), None).unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (ApiNotFound, "message \"Missing Authentication Token\"")
    );
    // Only a 403 says it.
    assert_eq!(
        m(401, Some(&text("Missing Authentication Token")), None),
        None
    );
    // "Forbidden": an API key missing or a private API; ambiguous.
    let h = FailureHeaders {
        amzn_error_type: Some("ForbiddenException".into()),
        ..FailureHeaders::default()
    };
    assert_eq!(m(403, Some(&text("Forbidden")), Some(&h)), None);
}

#[test]
fn google_and_azure_error_objects() {
    let google = |status, message| body(Shape::ErrorObject, Some(status), Some(message));
    let r = read(401, Some(&google("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token. The access token has expired.")), None).unwrap();
    assert_eq!(r.meaning, TokenExpired);
    assert!(
        r.because
            .starts_with("error.status \"UNAUTHENTICATED\", message "),
        "{}",
        r.because
    );
    assert_eq!(
        m(
            401,
            Some(&google(
                "UNAUTHENTICATED",
                "Request is missing required authentication credential."
            )),
            None
        ),
        None
    );
    let r = read(
        403,
        Some(&google(
            "PERMISSION_DENIED",
            "The caller does not have permission",
        )),
        None,
    )
    .unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (AccessDenied, "error.status \"PERMISSION_DENIED\"")
    );
    let daily = google(
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per day' of service 'x.googleapis.com'",
    );
    assert_eq!(m(429, Some(&daily), None), Some(QuotaExhausted));
    let minute = google(
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user'",
    );
    assert_eq!(m(429, Some(&minute), None), Some(Throttled));
    let mut v1 = google("403", "Daily Limit Exceeded");
    v1.fields
        .push(("errors[0].reason".into(), "dailyLimitExceeded".into()));
    let r = read(403, Some(&v1), None).unwrap();
    assert_eq!(
        (
            r.meaning,
            r.because
                .starts_with("errors[0].reason \"dailyLimitExceeded\"")
        ),
        (QuotaExhausted, true)
    );
    for (code, want) in [
        ("ExpiredAuthenticationToken", TokenExpired),
        ("InvalidAuthenticationToken", TokenInvalid),
        ("AuthorizationFailed", AccessDenied),
    ] {
        let r = read(
            401,
            Some(&body(Shape::ErrorObject, Some(code), Some("..."))),
            None,
        )
        .unwrap();
        assert_eq!(r.meaning, want, "{code}");
        assert_eq!(r.because, format!("error.code \"{code}\""));
    }
}

#[test]
fn apig_codes() {
    let apig = |code, msg| body(Shape::ErrorCodeMsg, Some(code), Some(msg));
    let r = read(
        404,
        Some(&apig(
            "APIG.0101",
            "The API does not exist or has not been published in the environment.",
        )),
        None,
    )
    .unwrap();
    assert_eq!(
        (r.meaning, r.because.as_str()),
        (ApiNotFound, "error_code \"APIG.0101\"")
    );
    let r = read(429, Some(&apig("APIG.0308", "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute")), None).unwrap();
    assert_eq!(r.meaning, Throttled);
    assert!(r.because.contains("time:1 minute"), "{}", r.because);
    let day = apig(
        "APIG.0308",
        "The throttling threshold has been reached: policy app over ratelimit,limit:1000,time:1 day",
    );
    assert_eq!(m(429, Some(&day), None), Some(QuotaExhausted));
    assert_eq!(
        m(
            401,
            Some(&apig(
                "APIG.0301",
                "Incorrect IAM authentication information: token expires, expires_at: 2024-01-01"
            )),
            None
        ),
        Some(TokenExpired)
    );
    assert_eq!(
        m(
            401,
            Some(&apig(
                "APIG.0301",
                "Incorrect IAM authentication information: decrypt token fail"
            )),
            None
        ),
        Some(TokenInvalid)
    );
    assert_eq!(
        m(
            401,
            Some(&apig(
                "APIG.0301",
                "Incorrect IAM authentication information: verify aksk signature fail"
            )),
            None
        ),
        Some(CredentialsWrong)
    );
    // No token sent: the 401 stands.
    assert_eq!(
        m(
            401,
            Some(&apig(
                "APIG.0301",
                "Incorrect IAM authentication information: x-auth-token not found"
            )),
            None
        ),
        None
    );
    assert_eq!(
        m(
            401,
            Some(&apig(
                "APIG.0303",
                "Incorrect app authentication information: app not found"
            )),
            None
        ),
        Some(CredentialsWrong)
    );
    assert_eq!(
        m(
            403,
            Some(&apig(
                "APIGW.0302",
                "The IAM user is not authorized to access the API."
            )),
            None
        ),
        Some(AccessDenied)
    );
    assert_eq!(
        m(
            403,
            Some(&apig(
                "APIG.0304",
                "The app is not authorized to access the API."
            )),
            None
        ),
        Some(AccessDenied)
    );
    // An undocumented code says nothing by itself.
    assert_eq!(m(403, Some(&apig("APIG.9999", "Something")), None), None);
}
