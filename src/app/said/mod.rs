//! What a server said about a failed call, in its own words: the error fields of an error
//! response's body (RFC 9457 problem details, the common JSON error shapes of APIs and API
//! gateways, GraphQL `errors`, the default error pages of proxies), read from at most the first
//! [`DEFAULT_BODY_LIMIT`] bytes after decompression, and what those words and the response's
//! headers mean for the cause ([`Meaning`]).
//!
//! Bodies are data, not reports: only the error fields are kept, each redacted
//! ([`crate::redact`]) and clipped to [`MAX_FIELD`] characters before anything else sees them.
//! The body bytes themselves are dropped as soon as they are read.
//!
//! This module is pure (no I/O, no parser state): the HTTP/1.x and HTTP/2 parsers collect the
//! body bytes and call [`read_error_body`]; the diagnosis calls [`meaning`], [`who_answered`]
//! and [`rate_limit`].

// Submodules (one per concern):
// - decode: Content-Encoding (gzip, deflate, br, zstd), bounded output.
// - shapes: JSON error shapes, problem+json, GraphQL, text.
// - pages: default error pages of proxies and gateways (nginx, HAProxy, Envoy, Cloudflare...).
// - meaning: what was said -> Meaning.
// - limits: Retry-After, RateLimit-* / X-RateLimit-* -> RateLimit.
// - who: Server/Via/vendor headers/default page -> Answerer.
pub mod decode;
mod json;
mod pages;
mod shapes;
pub use pages::default_page;
pub use shapes::read_error_body;
mod limits;
pub use limits::{rate_limit, window_words};
mod meaning;
pub use meaning::meaning;
mod who;
pub use who::{who_answered, who_answered_at};

/// Response headers carrying only these rate-limit headers (name, value), for tests.
#[cfg(test)]
fn rate_headers(pairs: &[(&str, &str)]) -> crate::app::http::FailureHeaders {
    crate::app::http::FailureHeaders {
        rate_limit: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

/// How many body bytes (after decompression) are read by default (`--error-body-bytes`).
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024;
/// Longest text kept of one field (longer ones are cut, with `...`).
pub const MAX_FIELD: usize = 300;
/// At most this many extra fields ([`ServerSaid::fields`]) or GraphQL errors are kept.
pub const MAX_FIELDS: usize = 8;

/// What the body reader needs to know of the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyContext<'a> {
    pub status: u16,
    /// `Content-Type`, as sent (parameters included).
    pub content_type: Option<&'a str>,
    /// `Content-Encoding`, as sent (`gzip`, `br`, `deflate`, `zstd`, or a list).
    pub content_encoding: Option<&'a str>,
    /// The body went on beyond the bytes given (the collector's limit was reached).
    pub cut: bool,
    /// Bytes inside the body the capture never saw: what was given is not the whole body.
    pub gap: bool,
    /// The most decompressed bytes to read.
    pub limit: usize,
}

/// The layout the body was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// RFC 9457 / 7807 `application/problem+json` (or a JSON body with its members).
    ProblemJson,
    /// `{"error": {"code", "message", "status"}}` (Google, Azure and others).
    ErrorObject,
    /// `{"error": "invalid_grant", "error_description": "..."}` (OAuth 2 token endpoint, RFC
    /// 6749 5.2).
    OAuthError,
    /// `{"error_code": "APIG.0101", "error_msg": "..."}` (API gateways in the style of Huawei's
    /// APIG).
    ErrorCodeMsg,
    /// `{"code": ..., "message": ...}`.
    CodeMessage,
    /// `{"message": ...}` (AWS, with `x-amzn-ErrorType` naming the error; `__type` in the body
    /// of AWS JSON protocols).
    Message,
    /// GraphQL over HTTP `{"errors": [...]}` (possibly with a 200 status).
    GraphQl,
    /// Other JSON: the first string members named like an error.
    OtherJson,
    /// An HTML page: a recognised default error page, or its `<title>`.
    Html,
    /// Plain text: its first line.
    Text,
}

/// A proxy's or gateway's own error page, recognised by its body (it says the proxy answered,
/// not the application behind it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultPage {
    /// nginx (`<center>nginx</center>`, or `nginx/1.22.1`).
    Nginx,
    /// HAProxy's `<h1>503 Service Unavailable</h1>No server is available...` pages.
    Haproxy,
    /// Envoy's `upstream connect error or disconnect/reset before headers. reset reason: ...`
    /// (the reason kept) or `no healthy upstream`.
    Envoy { reason: Option<String> },
    /// Cloudflare's 52x pages (`Error 522`, `cloudflare`): the code kept.
    Cloudflare { code: Option<u16> },
    /// Apache httpd's default pages (`<address>Apache/...`).
    Apache,
    /// Another recognised product, named.
    Other(&'static str),
}

/// One GraphQL error: `message`, `extensions.code`, `path` (joined with `.`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphQlError {
    pub message: Option<String>,
    pub code: Option<String>,
    pub path: Option<String>,
}

/// The error fields of a response body, redacted and clipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSaid {
    pub shape: Shape,
    /// The error's machine-readable code: `error.status` / `error.code`, `error_code`, the
    /// OAuth `error`, `code`, `__type`; for problem+json its `type` URI.
    pub code: Option<String>,
    /// A short title (problem+json `title`, an HTML page's `<title>` or `<h1>`).
    pub title: Option<String>,
    /// The human-readable message (`detail`, `message`, `error_msg`, `error_description`,
    /// a text body's first line).
    pub message: Option<String>,
    /// problem+json `status` (when it differs from the response's, worth saying).
    pub status: Option<u16>,
    /// problem+json `instance`, or a request id the body carries (`request_id`, `requestId`).
    pub instance: Option<String>,
    /// Other error fields worth quoting (`reason`, `domain`, `errors[0].field`...), as (name,
    /// value), at most [`MAX_FIELDS`].
    pub fields: Vec<(String, String)>,
    /// GraphQL: the errors (at most [`MAX_FIELDS`]) and how many there were.
    pub graphql: Vec<GraphQlError>,
    pub graphql_total: usize,
    /// GraphQL: `data` was absent or null (the whole operation failed, not one field).
    pub graphql_no_data: bool,
    /// A proxy's default error page.
    pub page: Option<DefaultPage>,
    /// Why the body could not be read fully, if it could not (`br data corrupt`, `JSON cut at
    /// 8192 bytes`, `gap in the body`): what was read is still given.
    pub incomplete: Option<String>,
}

impl ServerSaid {
    /// A body of the given shape with nothing read yet.
    pub fn new(shape: Shape) -> Self {
        ServerSaid {
            shape,
            code: None,
            title: None,
            message: None,
            status: None,
            instance: None,
            fields: Vec::new(),
            graphql: Vec::new(),
            graphql_total: 0,
            graphql_no_data: false,
            page: None,
            incomplete: None,
        }
    }
}

/// What the server's words and headers mean, where they say it unambiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Meaning {
    /// The access token expired (RFC 6750 `invalid_token` described as expired, AWS
    /// `ExpiredTokenException`, "token has expired").
    TokenExpired,
    /// The token is invalid: malformed, bad signature, revoked, wrong audience, an invalid
    /// OAuth grant.
    TokenInvalid,
    /// The token lacks a scope (RFC 6750 `insufficient_scope`).
    InsufficientScope,
    /// The credentials are wrong: an unknown key or client, a wrong secret or signature
    /// (OAuth `invalid_client`, AWS `UnrecognizedClientException` /
    /// `InvalidSignatureException`, Basic credentials refused, APIG app authentication failed).
    CredentialsWrong,
    /// The caller is known but a policy denies the action (AWS `AccessDeniedException`, Google
    /// `PERMISSION_DENIED`, an ACL or IP policy of a gateway).
    AccessDenied,
    /// The API or route does not exist at the gateway, or is not published (APIG.0101, AWS API
    /// Gateway's `Missing Authentication Token` for an unknown resource).
    ApiNotFound,
    /// The API exists but not in the stage/environment the request reached (a missing or
    /// wrong `X-Stage`).
    WrongStage,
    /// A rate limit per short window (seconds to minutes) was exceeded: retry later.
    Throttled,
    /// A quota per long window (a day, a month) is exhausted: retrying soon will not help.
    QuotaExhausted,
    /// The gateway's upstream failed (refused, reset, unhealthy).
    UpstreamFailed,
    /// The gateway's upstream did not answer in time.
    UpstreamTimeout,
    /// The API version is retired (410 Gone, `Sunset` in the past).
    VersionRetired,
}

/// A [`Meaning`] and the words that say it, quoted (`error_code "APIG.0101"`,
/// `x-amzn-ErrorType: ThrottlingException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub meaning: Meaning,
    pub because: String,
}

/// Who answered a response, as far as its headers and body tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// A `Via` header, a proxy's default error page, a vendor header of a gateway, or server
    /// software that is only ever a proxy, load balancer or gateway.
    Gateway,
    /// A web server that often fronts an application as a reverse proxy but may serve the
    /// resource itself (nginx, Apache, Caddy) with nothing else telling which.
    MaybeGateway,
    /// Nothing says a proxy answered.
    Application,
}

/// Who answered, and the headers or page that tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answerer {
    pub role: Role,
    /// The product, when named (`nginx`, `Envoy`, `AWS API Gateway`, `Kong`, `Cloudflare`).
    pub product: Option<&'static str>,
    /// What tells (`Server: envoy`, `x-amzn-RequestId`, `nginx default error page`), empty
    /// when nothing does.
    pub because: Vec<String>,
}

/// What the rate-limit headers of a response say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// The limit (requests per window).
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Seconds until the window resets (`RateLimit-Reset`, or an `X-RateLimit-Reset` that is a
    /// delta; an epoch time is converted against the response's time).
    pub reset_secs: Option<u64>,
    /// The window the limit counts over, in seconds (`RateLimit-Policy: 100;w=60`,
    /// `X-RateLimit-Window`, a `-Day`/`-Minute` header name).
    pub window_secs: Option<u64>,
    /// `Retry-After` in seconds (a date converted against the response's time).
    pub retry_after_secs: Option<u64>,
}
