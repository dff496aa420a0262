//! What a report needs from a request or response head, taken from httparse's borrowed headers:
//! a few named headers, bounded in length, with secrets never copied (Authorization,
//! Proxy-Authorization, Cookie and Set-Cookie are not read at all; secrets in the request
//! target and in quoted values are redacted by [`crate::redact`]).

use std::borrow::Cow;

use super::body::Framing;

/// Longest header value or target kept (longer ones are cut, with `...`).
pub(crate) const MAX_VALUE: usize = 256;
/// At most this many `X-RateLimit-*` / `RateLimit-*` headers are kept.
const MAX_RATE_LIMIT_HEADERS: usize = 8;
/// At most this many vendor headers ([`FailureHeaders::vendor`]) are kept.
pub const MAX_VENDOR_HEADERS: usize = 8;
/// Prefixes (lowercase) of the vendor headers kept.
const VENDOR_PREFIXES: &[&str] = &[
    "x-amzn-",
    "x-amz-apigw-id",
    "x-amz-cf-",
    "x-envoy-",
    "x-kong-",
    "cf-ray",
    "cf-cache-status",
    "x-apig-",
    "x-request-id",
    "x-cache",
    "x-served-by",
    "x-azure-ref",
    "x-ms-request-id",
    "x-goog-",
    "x-akamai-",
    "x-gateway-",
];

pub use crate::redact::REDACTED;

/// What the report keeps of a request head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target with secrets in its query string (and userinfo) redacted.
    pub target: String,
    pub host: Option<String>,
    /// The request carried an `Authorization` header (its value is never kept).
    pub has_authorization: bool,
    /// The head did not parse as HTTP/1.x (a malformed request line, a bad header): method and
    /// target are what could be read of it, possibly empty.
    pub malformed: bool,
    /// The request asked to switch to HTTP/2 in clear (`Upgrade: h2c`, RFC 7540 3.2): a 101
    /// answer starts HTTP/2 on the connection, this request being its stream 1.
    pub upgrade_h2c: bool,
    /// `Accept`, kept for a 406's explanation.
    pub accept: Option<String>,
    /// `Content-Type` of the request body, kept for a 415's explanation.
    pub content_type: Option<String>,
    /// The minor version of an HTTP/1.x request line (`1` for `HTTP/1.1`); `None` for an
    /// HTTP/2 request or a request line that did not parse.
    pub minor_version: Option<u8>,
    /// The target's path names GraphQL (`/graphql`): its 200 answers may carry `errors`, so
    /// their bodies are read too.
    pub graphql: bool,
}

/// `WWW-Authenticate`'s scheme and its `error=` parameter (RFC 6750), e.g. `Bearer`,
/// `invalid_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Challenge {
    /// The challenge as a report quotes it: `Bearer error="invalid_token",
    /// error_description="The access token expired"` (the parameters it has).
    pub fn quoted(&self) -> String {
        let params: Vec<String> = [
            self.error.as_ref().map(|e| format!("error=\"{e}\"")),
            self.error_description
                .as_ref()
                .map(|d| format!("error_description=\"{d}\"")),
        ]
        .into_iter()
        .flatten()
        .collect();
        match params.is_empty() {
            true => self.scheme.clone(),
            false => format!("{} {}", self.scheme, params.join(", ")),
        }
    }
}

/// What the report keeps of a response head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    pub status: u16,
    pub reason: String,
    pub content_length: Option<u64>,
    /// The server announced it will close the connection (`Connection: close`).
    pub connection_close: bool,
    /// The headers that explain a failure, read only for 3xx, 4xx and 5xx, and for answers to
    /// GraphQL requests (healthy answers, the vast majority, keep nothing more).
    pub failure: Option<Box<FailureHeaders>>,
    /// `RateLimit-Remaining` / `X-RateLimit-Remaining` of any response, for a run of calls
    /// whose allowance falls to zero.
    pub rate_remaining: Option<u64>,
}

/// Headers that say who answered a failed request and what to do about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureHeaders {
    pub server: Option<String>,
    pub via: Option<String>,
    pub retry_after: Option<String>,
    pub www_authenticate: Option<Challenge>,
    /// `X-RateLimit-*` and `RateLimit-*` headers, as (name, value).
    pub rate_limit: Vec<(String, String)>,
    /// `Content-Type` and `Content-Encoding` of the body.
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// `x-amzn-ErrorType` (AWS: the error's name, e.g. `ThrottlingException`).
    pub amzn_error_type: Option<String>,
    /// Headers that name the product that answered or carry its request id (`x-amzn-RequestId`,
    /// `x-envoy-*`, `X-Kong-*`, `cf-ray`, `X-Apig-*`, `x-request-id`, `X-Cache`...), as (name,
    /// value), at most [`MAX_VENDOR_HEADERS`].
    pub vendor: Vec<(String, String)>,
    /// `Deprecation` and `Sunset` (RFC 9745, RFC 8594).
    pub deprecation: Option<String>,
    pub sunset: Option<String>,
    /// `Location` of a redirect (redacted like a target).
    pub location: Option<String>,
    /// `Allow` (405) and `Upgrade` (426).
    pub allow: Option<String>,
    pub upgrade: Option<String>,
}

impl ResponseHead {
    fn failure_field<T: ?Sized>(&self, f: impl Fn(&FailureHeaders) -> Option<&T>) -> Option<&T> {
        self.failure.as_deref().and_then(f)
    }

    /// `Server` (4xx/5xx only).
    pub fn server(&self) -> Option<&str> {
        self.failure_field(|h| h.server.as_deref())
    }

    /// `Via` (4xx/5xx only).
    pub fn via(&self) -> Option<&str> {
        self.failure_field(|h| h.via.as_deref())
    }

    /// `Retry-After` (4xx/5xx only).
    pub fn retry_after(&self) -> Option<&str> {
        self.failure_field(|h| h.retry_after.as_deref())
    }

    /// The first `WWW-Authenticate` challenge (4xx/5xx only).
    pub fn www_authenticate(&self) -> Option<&Challenge> {
        self.failure_field(|h| h.www_authenticate.as_ref())
    }

    /// `X-RateLimit-*` / `RateLimit-*` headers (4xx/5xx only).
    pub fn rate_limit(&self) -> &[(String, String)] {
        self.failure.as_deref().map_or(&[], |h| &h.rate_limit)
    }
}

/// Framing-relevant headers of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyHeaders {
    pub content_length: Option<u64>,
    /// A `Content-Length` that is not a number, or two that disagree.
    pub bad_length: bool,
    pub chunked: bool,
    /// An `Upgrade` header: what follows may be another protocol.
    pub upgrade: bool,
}

impl BodyHeaders {
    /// The framing of a message with these headers (RFC 9112 6.3): chunked wins over
    /// Content-Length; without either a request has no body and a response runs to the close.
    pub fn framing(self, is_request: bool) -> Framing {
        match (self.chunked, self.content_length) {
            (true, _) => Framing::Chunked,
            (false, Some(n)) => Framing::Length(n),
            (false, None) if is_request => Framing::None,
            (false, None) => Framing::UntilClose,
        }
    }
}

/// Reads the framing headers.
pub fn body_headers(headers: &[httparse::Header<'_>]) -> BodyHeaders {
    let mut out = BodyHeaders::default();
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            match parse_length(h.value) {
                Some(n) if out.content_length.is_none_or(|m| m == n) => {
                    out.content_length = Some(n)
                }
                _ => out.bad_length = true,
            }
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            out.upgrade = true;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // The final coding decides (RFC 9112 6.1).
            out.chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| trim(last).eq_ignore_ascii_case(b"chunked"));
        }
    }
    out
}

/// Reads what the report needs from a parsed request.
pub fn request_head(req: &httparse::Request<'_, '_>) -> RequestHead {
    let mut head = RequestHead {
        method: clip(req.method.unwrap_or("").as_bytes(), 24),
        target: redact_target(req.path.unwrap_or("")),
        minor_version: req.version,
        ..RequestHead::default()
    };
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("host") {
            head.host = Some(clip(h.value, MAX_VALUE));
        } else if h.name.eq_ignore_ascii_case("authorization")
            || h.name.eq_ignore_ascii_case("proxy-authorization")
        {
            head.has_authorization = true;
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            head.upgrade_h2c = h
                .value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c"));
        } else if h.name.eq_ignore_ascii_case("accept") {
            head.accept = Some(clip(h.value, 128));
        } else if h.name.eq_ignore_ascii_case("content-type") {
            head.content_type = Some(clip(h.value, 128));
        }
    }
    head.graphql = names_graphql(&head.target);
    head
}

/// Whether a request target's path names GraphQL (`/graphql`, `/api/graphql?...`).
pub(crate) fn names_graphql(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or("");
    path.as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"graphql"))
}

/// What can be read of a request head that does not parse (RFC 9112 3): the method and target
/// of its first line when they are tokens, and a `Host` header; [`RequestHead::malformed`].
pub fn lenient_request_head(bytes: &[u8]) -> RequestHead {
    let head = &bytes[..bytes.len().min(super::MAX_HEAD)];
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut out = RequestHead {
        malformed: true,
        ..RequestHead::default()
    };
    let first = lines.next().unwrap_or_default();
    let mut words = first
        .split(|b| matches!(b, b' ' | b'\t'))
        .filter(|w| !w.is_empty());
    let is_token = |w: &[u8]| {
        !w.is_empty()
            && w.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if let Some(method) = words.next().filter(|w| is_token(w)) {
        out.method = clip(method, 24);
        if let Some(target) = words
            .next()
            .filter(|w| w.iter().all(|b| b.is_ascii_graphic()))
        {
            out.target = redact_target(&String::from_utf8_lossy(target));
        }
    }
    for line in lines.take(super::MAX_HEADERS) {
        if line.is_empty() {
            break;
        }
        if let Some(value) = line
            .strip_prefix(b"Host:")
            .or_else(|| line.strip_prefix(b"host:"))
            .or_else(|| line.strip_prefix(b"HOST:"))
        {
            out.host = Some(clip(value.trim_ascii(), MAX_VALUE));
        }
    }
    out
}

/// Reads what the report needs from a parsed response.
/// `graphql`: the request named GraphQL ([`RequestHead::graphql`]), so a 200's headers are read
/// as a failure's are.
pub fn response_head(resp: &httparse::Response<'_, '_>, graphql: bool) -> ResponseHead {
    response_head_from(
        resp.code.unwrap_or(0),
        resp.reason.unwrap_or("").as_bytes(),
        resp.headers.iter().map(|h| (h.name, h.value)),
        graphql,
    )
}

/// Reads what the report needs from a response's status, reason and (name, value) headers: the
/// one reading HTTP/1.x heads and HTTP/2 header blocks share (Content-Length, `Connection:
/// close`, a rate limit's remaining allowance, and for 3xx/4xx/5xx or an answer to a GraphQL
/// request (`graphql`) the [`FailureHeaders`]).
pub(crate) fn response_head_from<'a>(
    status: u16,
    reason: &[u8],
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    graphql: bool,
) -> ResponseHead {
    let mut head = ResponseHead {
        status,
        reason: clip(reason, 64),
        ..ResponseHead::default()
    };
    let mut failure = (status >= 300 && status != 304 || graphql).then(FailureHeaders::default);
    for (name, value) in headers {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("content-length") {
            head.content_length = parse_length(value);
        } else if is("connection") {
            head.connection_close |= value
                .split(|&b| b == b',')
                .any(|t| trim(t).eq_ignore_ascii_case(b"close"));
        } else if is("ratelimit-remaining") || is("x-ratelimit-remaining") {
            head.rate_remaining = parse_length(value);
        }
        let Some(f) = failure.as_mut() else {
            continue;
        };
        if is("server") {
            f.server = Some(clip(value, MAX_VALUE));
        } else if is("via") {
            f.via = Some(clip(value, MAX_VALUE));
        } else if is("retry-after") {
            f.retry_after = Some(clip(value, 64));
        } else if is("www-authenticate") && f.www_authenticate.is_none() {
            f.www_authenticate = Some(challenge(value));
        } else if is_rate_limit(name) && f.rate_limit.len() < MAX_RATE_LIMIT_HEADERS {
            f.rate_limit
                .push((clip(name.as_bytes(), 64), clip(value, 64)));
        } else if is("content-type") {
            f.content_type = Some(clip(value, 128));
        } else if is("content-encoding") {
            f.content_encoding = Some(clip(value, 64));
        } else if is("x-amzn-errortype") {
            f.amzn_error_type = Some(clip(value, 128));
        } else if is("deprecation") {
            f.deprecation = Some(clip(value, 64));
        } else if is("sunset") {
            f.sunset = Some(clip(value, 64));
        } else if is("location") {
            f.location = Some(redact_target(&String::from_utf8_lossy(value)));
        } else if is("allow") {
            f.allow = Some(clip(value, 128));
        } else if is("upgrade") {
            f.upgrade = Some(clip(value, 64));
        } else if is_vendor(name) && f.vendor.len() < MAX_VENDOR_HEADERS {
            f.vendor.push((clip(name.as_bytes(), 64), clip(value, 128)));
        }
    }
    head.failure = failure.map(Box::new);
    head
}

/// A header [`response_head_from`] reads (the rest of a header block need not be kept).
pub(crate) fn is_response_header(name: &str) -> bool {
    [
        "content-length",
        "connection",
        "server",
        "via",
        "retry-after",
        "www-authenticate",
        "content-type",
        "content-encoding",
        "x-amzn-errortype",
        "deprecation",
        "sunset",
        "location",
        "allow",
        "upgrade",
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
        || is_rate_limit(name)
        || is_vendor(name)
}

fn is_vendor(name: &str) -> bool {
    VENDOR_PREFIXES
        .iter()
        .any(|p| starts_with_ignore_case(name, p))
}

fn is_rate_limit(name: &str) -> bool {
    starts_with_ignore_case(name, "x-ratelimit-")
        || starts_with_ignore_case(name, "ratelimit")
        || starts_with_ignore_case(name, "x-rate-limit-")
}

/// The scheme and `error=` / `error_description=` of a `WWW-Authenticate` value.
fn challenge(value: &[u8]) -> Challenge {
    let text = String::from_utf8_lossy(value);
    let text = text.trim();
    let (scheme, params) = text.split_once(' ').unwrap_or((text, ""));
    let mut out = Challenge {
        scheme: clip(scheme.as_bytes(), 32),
        ..Challenge::default()
    };
    for param in split_params(params) {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "error" => out.error = Some(clip(v.as_bytes(), 64)),
            "error_description" => out.error_description = Some(clip(v.as_bytes(), 128)),
            _ => {}
        }
    }
    out
}

/// Splits `a="x, y", b=z` at the commas outside quotes.
fn split_params(params: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    params
        .split(move |c| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The request target with secrets redacted ([`crate::redact::redact_target`]: userinfo,
/// secret-named query and path parameters, secret-shaped words), cut to a bounded length.
pub fn redact_target(target: &str) -> String {
    clip(crate::redact::redact_target(target).as_bytes(), MAX_VALUE)
}

/// A Content-Length value: digits only (with surrounding blanks).
fn parse_length(value: &[u8]) -> Option<u64> {
    let v = trim(value);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Printable text of at most `max` characters (control characters dropped, `...` when cut),
/// with secret-shaped words redacted before the cut ([`crate::redact::redact_text`]): every
/// value a report quotes from a message passes here.
pub fn clip(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    // Controls go first, so that one cannot split a secret into two harmless-looking words.
    let text: Cow<'_, str> = match text.contains(char::is_control) {
        true => Cow::Owned(text.chars().filter(|c| !c.is_control()).collect()),
        false => text,
    };
    let text = crate::redact::redact_text(&text);
    if text.chars().nth(max).is_none() {
        return text.into_owned();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_redacted_then_cut() {
        assert_eq!(
            redact_target("/v1/items?api_key=abc123&page=2"),
            "/v1/items?api_key=REDACTED&page=2"
        );
        let long = format!("/x?q={}&token=secret", "x".repeat(300));
        let kept = redact_target(&long);
        assert!(
            kept.starts_with("/x?q=xxx") && kept.ends_with("..."),
            "{kept}"
        );
        assert!(!kept.contains("secret"));
    }

    #[test]
    fn quoted_values_lose_secret_shapes() {
        assert_eq!(
            clip(b"nginx key AKIAIOSFODNN7EXAMPLE", 64),
            "nginx key REDACTED"
        );
    }

    #[test]
    fn challenges_give_scheme_and_error() {
        let c = challenge(
            br#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#,
        );
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.error.as_deref(), Some("invalid_token"));
        assert_eq!(
            c.error_description.as_deref(),
            Some("The access token expired")
        );
        assert_eq!(challenge(b"Basic realm=\"x\"").error, None);
        assert_eq!(challenge(b"").scheme, "");
    }

    #[test]
    fn framing_headers_follow_rfc_9112() {
        let h = |n: &'static str, v: &'static [u8]| httparse::Header { name: n, value: v };
        let chunked = body_headers(&[
            h("Transfer-Encoding", b"gzip, chunked"),
            h("Content-Length", b"5"),
        ]);
        assert_eq!(chunked.framing(false), Framing::Chunked);
        assert_eq!(
            body_headers(&[h("content-length", b" 12 ")]).framing(true),
            Framing::Length(12)
        );
        assert_eq!(body_headers(&[]).framing(true), Framing::None);
        assert_eq!(body_headers(&[]).framing(false), Framing::UntilClose);
        assert!(body_headers(&[h("Content-Length", b"1"), h("Content-Length", b"2")]).bad_length);
        assert!(body_headers(&[h("Content-Length", b"-1")]).bad_length);
    }

    #[test]
    fn clipping_bounds_and_cleans_values() {
        assert_eq!(clip(b"ab\r\ncd", 10), "abcd");
        assert_eq!(clip(b"abcdef", 3), "abc...");
        assert_eq!(clip(&[0xff, b'a'], 5), "\u{fffd}a");
    }
}
