//! Machine-readable codes: `x-amzn-ErrorType`, the body's code and a Google `reason` field,
//! looked up in one table of documented meanings ([`CODES`]).

use super::{LONG_WINDOW, Meaning, Reading, reading, says_expired, window_words};
use crate::app::http::FailureHeaders;
use crate::app::said::{ServerSaid, Shape};

use Meaning::*;

/// How a code's meaning depends on the message that came with it.
#[derive(Clone, Copy)]
enum Refine {
    /// The code says it alone.
    Fixed,
    /// Token invalid, or expired when the message says so.
    ExpiredByWords,
    /// Only when the message says the token expired (Google `UNAUTHENTICATED` covers missing
    /// credentials too).
    OnlyIfExpired,
    /// Throttled, or a quota when the message says quota (or names a long window).
    QuotaByWords,
    /// APIG.0301 (IAM authentication): its documented messages tell an expired token (`token
    /// expires, expires_at: ...`), an undecryptable one (`decrypt token fail`), a missing one
    /// (`x-auth-token not found`: nothing said beyond the status) and a bad AK/SK signature.
    ApigIam,
}

/// Codes whose meaning is documented and unambiguous: (code, meaning, refinement). Compared
/// without case; an AWS code is taken after any `namespace#` and before any `:`.
/// Sources: AWS common errors and API Gateway's gateway responses (docs.aws.amazon.com,
/// "Common Errors", "Gateway response types for API Gateway"); RFC 6749 5.2; Google's
/// google.rpc.Code and ErrorInfo reasons (cloud.google.com/apis/design/errors); Azure Resource
/// Manager error codes; Huawei Cloud APIG "Error Codes" (support.huaweicloud.com,
/// usermanual-apig apig_03_0048, and its FAQs on APIG.0301/0303/0308). APIGW.* (the API
/// signing guide's spelling) is read as APIG.*.
const CODES: &[(&str, Meaning, Refine)] = &[
    // AWS.
    ("ExpiredTokenException", TokenExpired, Refine::Fixed),
    ("ExpiredToken", TokenExpired, Refine::Fixed),
    (
        "UnrecognizedClientException",
        CredentialsWrong,
        Refine::Fixed,
    ),
    ("InvalidSignatureException", CredentialsWrong, Refine::Fixed),
    (
        "IncompleteSignatureException",
        CredentialsWrong,
        Refine::Fixed,
    ),
    ("InvalidClientTokenId", CredentialsWrong, Refine::Fixed),
    ("SignatureDoesNotMatch", CredentialsWrong, Refine::Fixed),
    ("AccessDeniedException", AccessDenied, Refine::Fixed),
    ("AccessDenied", AccessDenied, Refine::Fixed),
    ("ThrottlingException", Throttled, Refine::Fixed),
    ("TooManyRequestsException", Throttled, Refine::Fixed),
    ("Throttling", Throttled, Refine::Fixed),
    ("SlowDown", Throttled, Refine::Fixed),
    ("RequestLimitExceeded", Throttled, Refine::Fixed),
    ("LimitExceededException", Throttled, Refine::QuotaByWords),
    // AWS API Gateway's MISSING_AUTHENTICATION_TOKEN gateway response: see `aws_missing_token`.
    (
        "MissingAuthenticationTokenException",
        ApiNotFound,
        Refine::Fixed,
    ),
    // OAuth 2 token endpoint (RFC 6749 5.2).
    ("invalid_client", CredentialsWrong, Refine::Fixed),
    ("invalid_grant", TokenInvalid, Refine::ExpiredByWords),
    ("unauthorized_client", AccessDenied, Refine::Fixed),
    ("access_denied", AccessDenied, Refine::Fixed),
    ("invalid_scope", InsufficientScope, Refine::Fixed),
    // Google (google.rpc.Code names, ErrorInfo reasons, v1 `errors[].reason`).
    ("UNAUTHENTICATED", TokenExpired, Refine::OnlyIfExpired),
    ("PERMISSION_DENIED", AccessDenied, Refine::Fixed),
    ("RESOURCE_EXHAUSTED", Throttled, Refine::QuotaByWords),
    ("ACCESS_TOKEN_EXPIRED", TokenExpired, Refine::Fixed),
    (
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        InsufficientScope,
        Refine::Fixed,
    ),
    ("API_KEY_INVALID", CredentialsWrong, Refine::Fixed),
    ("RATE_LIMIT_EXCEEDED", Throttled, Refine::QuotaByWords),
    ("rateLimitExceeded", Throttled, Refine::QuotaByWords),
    ("userRateLimitExceeded", Throttled, Refine::QuotaByWords),
    ("dailyLimitExceeded", QuotaExhausted, Refine::Fixed),
    ("quotaExceeded", QuotaExhausted, Refine::Fixed),
    ("keyInvalid", CredentialsWrong, Refine::Fixed),
    ("insufficientPermissions", AccessDenied, Refine::Fixed),
    // Azure Resource Manager.
    ("ExpiredAuthenticationToken", TokenExpired, Refine::Fixed),
    ("InvalidAuthenticationToken", TokenInvalid, Refine::Fixed),
    (
        "InvalidAuthenticationTokenAudience",
        TokenInvalid,
        Refine::Fixed,
    ),
    ("AuthorizationFailed", AccessDenied, Refine::Fixed),
    ("SubscriptionRequestsThrottled", Throttled, Refine::Fixed),
    // Huawei Cloud APIG. APIG.0101 is documented as "The API does not exist or has not been
    // published in the environment." for every request that matches no published API (wrong
    // domain, method or path, unpublished, or published only to another environment without
    // the right X-Stage): it does not single out the stage, so it is ApiNotFound (the remedy
    // names X-Stage). APIG.0201 covers bad requests and backend failures alike: its message
    // decides (phrases below).
    ("APIG.0101", ApiNotFound, Refine::Fixed),
    ("APIG.0301", CredentialsWrong, Refine::ApigIam),
    ("APIG.0302", AccessDenied, Refine::Fixed),
    ("APIG.0303", CredentialsWrong, Refine::Fixed),
    ("APIG.0304", AccessDenied, Refine::Fixed),
    ("APIG.0308", Throttled, Refine::QuotaByWords),
];

/// The body's and headers' codes.
pub(super) fn codes(
    status: u16,
    said: Option<&ServerSaid>,
    headers: Option<&FailureHeaders>,
) -> Option<Reading> {
    let message = said
        .and_then(|s| s.message.as_deref().or(s.title.as_deref()))
        .unwrap_or_default();
    let msg_label = said.map_or("message", |s| message_label(s.shape));
    let apigw = headers.is_some_and(|h| {
        h.vendor
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("x-amz-apigw-id"))
    });
    if let Some(r) = said.and_then(|s| aws_missing_token(status, s)) {
        return Some(r);
    }
    if let Some(kind) = headers.and_then(|h| h.amzn_error_type.as_deref()) {
        let code = aws_name(kind);
        if let Some(r) = by_code(code, message, msg_label, apigw) {
            return Some(r.quoted(format!("x-amzn-ErrorType: {code}")));
        }
    }
    let said = said?;
    if let Some(code) = said.code.as_deref() {
        let code = aws_name(code);
        if let Some(r) = by_code(code, message, msg_label, apigw) {
            return Some(r.quoted(format!("{} \"{code}\"", code_label(said.shape, code))));
        }
    }
    said.fields
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().ends_with("reason"))
        .find_map(|(n, v)| {
            by_code(v, message, msg_label, apigw).map(|r| r.quoted(format!("{n} \"{v}\"")))
        })
}

/// AWS API Gateway's `{"message":"Missing Authentication Token"}` on a 403: its answer for a
/// resource or method that does not exist (AWS Knowledge Center, "How do I troubleshoot API
/// Gateway REST API endpoint 403 Missing Authentication Token errors?": a request to a
/// resource or method that does not exist; also an unsigned request to a method with IAM
/// authorization, the other documented cause, which the request's missing Authorization can
/// tell the reader).
fn aws_missing_token(status: u16, said: &ServerSaid) -> Option<Reading> {
    let m = said.message.as_deref()?;
    (status == 403
        && m.trim()
            .eq_ignore_ascii_case("Missing Authentication Token"))
    .then(|| reading(ApiNotFound, format!("message \"{}\"", m.trim())))
}

/// A code's meaning with the message's refinement; `because` is filled by the caller
/// ([`Partial::quoted`]).
struct Partial {
    meaning: Meaning,
    /// The message, when it decided or names a window.
    message: Option<String>,
}

impl Partial {
    fn quoted(self, code: String) -> Reading {
        match self.message {
            Some(m) => reading(self.meaning, format!("{code}, {m}")),
            None => reading(self.meaning, code),
        }
    }
}

fn by_code(code: &str, message: &str, msg_label: &str, apigw: bool) -> Option<Partial> {
    let code = code.trim();
    let apig = code
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("APIGW."))
        .map(|_| format!("APIG.{}", code.get(6..).unwrap_or_default()));
    let code = apig.as_deref().unwrap_or(code);
    let &(_, m, refine) = CODES
        .iter()
        .find(|(c, _, _)| c.eq_ignore_ascii_case(code))?;
    let lower = message.to_ascii_lowercase();
    let quote = || Some(format!("{msg_label} \"{message}\""));
    let (m, with_message) = match refine {
        Refine::Fixed => (m, matches!(m, Throttled | QuotaExhausted)),
        Refine::ExpiredByWords if says_expired(message) => (TokenExpired, true),
        Refine::ExpiredByWords => (m, false),
        Refine::OnlyIfExpired if says_expired(message) => (TokenExpired, true),
        Refine::OnlyIfExpired => return None,
        Refine::QuotaByWords => {
            let long = window_words(message).is_some_and(|w| w >= LONG_WINDOW);
            let short = window_words(message).is_some_and(|w| w < LONG_WINDOW);
            // API Gateway's QUOTA_EXCEEDED gateway response is a 429 "Limit Exceeded"
            // (LimitExceededException); its usage-plan quotas count per day, week or month.
            let apigw_quota = apigw && code.eq_ignore_ascii_case("LimitExceededException")
                || message.trim().eq_ignore_ascii_case("Limit Exceeded");
            let quota = long || (!short && (lower.contains("quota") || apigw_quota));
            (if quota { QuotaExhausted } else { Throttled }, true)
        }
        Refine::ApigIam if lower.contains("expires_at") || says_expired(message) => {
            (TokenExpired, true)
        }
        Refine::ApigIam if lower.contains("decrypt token fail") => (TokenInvalid, true),
        Refine::ApigIam if lower.contains("not found") => return None,
        Refine::ApigIam => (m, false),
    };
    Some(Partial {
        meaning: m,
        message: (with_message && !message.is_empty()).then(quote).flatten(),
    })
}

/// An AWS error name: after a `namespace#` (JSON protocols' `__type`), before a `:` (the
/// `x-amzn-ErrorType` value may go on with a URL).
fn aws_name(code: &str) -> &str {
    let code = code.rsplit('#').next().unwrap_or(code);
    code.split(':').next().unwrap_or(code).trim()
}

/// What the body calls its code, for quoting.
fn code_label(shape: Shape, code: &str) -> &'static str {
    match shape {
        Shape::OAuthError => "error",
        Shape::ErrorCodeMsg => "error_code",
        Shape::ErrorObject if code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
            "error.status"
        }
        Shape::ErrorObject => "error.code",
        Shape::Message => "__type",
        Shape::ProblemJson => "type",
        _ => "code",
    }
}

/// What the body calls its message, for quoting.
pub(super) fn message_label(shape: Shape) -> &'static str {
    match shape {
        Shape::OAuthError => "error_description",
        Shape::ErrorCodeMsg => "error_msg",
        Shape::ProblemJson => "detail",
        Shape::Html => "page",
        Shape::Text => "body",
        _ => "message",
    }
}
