//! HTTP status codes: every 4xx and 5xx final response is a failed call, named after its class
//! (RFC 9110 section 15) with the headers that say who answered and what to do: the
//! `WWW-Authenticate` challenge of a 401 (RFC 9110 11.6.1, RFC 6750 3.1 `error=`), the
//! `Retry-After` of a 429 (RFC 6585) or 503, `X-RateLimit-*`, and `Server` / `Via` for the
//! gateway that answered a 502 or 504.

use crate::app::http::{Exchange, Request, Response};
use crate::tcp::{ConnectionSummary, Mark, Origin};
use crate::timefmt::human_duration;

use super::draft::{Draft, call};
use super::{Category, Cause, Confidence, graphql, said};
use crate::app::said::Role;

/// A capture frame as the evidence needs it.
pub(super) fn mark(o: Origin) -> Mark {
    Mark {
        frame: o.frame,
        ts_ns: o.ts_ns,
    }
}

/// `GET /v1/orders (Host api.test)`; for a head that did not parse, what could be read of it
/// and its frame; `a request the capture did not show` only when it was not captured.
pub(super) fn describe(request: Option<&Request>) -> String {
    match request {
        Some(r) if r.head.malformed => {
            let host = r
                .head
                .host
                .as_deref()
                .map(|h| format!(", Host {h}"))
                .unwrap_or_default();
            match (r.head.method.as_str(), r.head.target.as_str()) {
                ("", _) => format!("an unparseable request (frame {}{host})", r.first.frame),
                (m, "") => format!("a malformed request {m} (frame {}{host})", r.first.frame),
                (m, t) => format!(
                    "a malformed request {m} {t} (frame {}{host})",
                    r.first.frame
                ),
            }
        }
        Some(r) => match &r.head.host {
            Some(host) => format!("{} {} (Host {host})", r.head.method, r.head.target),
            None => format!("{} {}", r.head.method, r.head.target),
        },
        None => "a request the capture did not show".into(),
    }
}

/// `404 Not Found`, or `422` when the status line has no reason phrase.
pub(super) fn status_text(r: &Response) -> String {
    if r.head.reason.is_empty() {
        r.head.status.to_string()
    } else {
        format!("{} {}", r.head.status, r.head.reason)
    }
}

/// `Server: nginx, Via: 1.1 gw` as far as the response named them.
fn who_answered(r: &Response) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(s) = r.head.server() {
        parts.push(format!("Server: {s}"));
    }
    if let Some(v) = r.head.via() {
        parts.push(format!("Via: {v}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Statuses whose explanation and fix need nothing from the call: (status, why, fix).
const SIMPLE: &[(u16, &str, &str)] = &[
    (
        400,
        "The server rejected the request as malformed: invalid syntax, a bad header, invalid JSON, or a parameter it cannot parse.",
        "Compare the request (path, query, headers, body) with the API's specification; the response body usually names the problem.",
    ),
    (
        405,
        "The resource exists but does not accept this method (the response's Allow header lists the ones it does).",
        "Use a method the resource allows, or check that the route is configured for this method on the gateway.",
    ),
    (
        406,
        "The server has no representation of the resource in a media type the request's Accept header allows.",
        "Send an Accept the API can produce (usually application/json), or none.",
    ),
    (
        415,
        "The server does not accept the request body's media type (Content-Type) or encoding.",
        "Send the Content-Type (and Content-Encoding) the API expects, e.g. application/json.",
    ),
    (
        421,
        "The server that received the request does not serve the host it named (RFC 9110 15.5.20): a connection reused for another host, or a TLS server name (SNI) that differs from the Host header.",
        "Send the same name in TLS SNI and the Host header, and do not reuse a connection for a host its certificate or server does not cover.",
    ),
    (
        422,
        "The request was well-formed but its content failed validation (a missing or invalid field).",
        "Read the response body's validation errors in the client's logs and fix the payload.",
    ),
    (
        426,
        "The server refuses to serve the request over this protocol; its Upgrade header names the one it requires.",
        "Use the protocol the Upgrade header names (a newer TLS version, HTTP/2, or HTTPS).",
    ),
];

/// The code name and category of a failed status, or `None` below 400.
fn classify(status: u16) -> Option<Cause> {
    Some(match status {
        400 => Cause::Http400,
        401 => Cause::Http401,
        403 => Cause::Http403,
        404 => Cause::Http404,
        405 => Cause::Http405,
        406 => Cause::Http406,
        413 => Cause::Http413,
        415 => Cause::Http415,
        421 => Cause::WrongHost,
        422 => Cause::Http422,
        426 => Cause::Http426,
        429 => Cause::RateLimited,
        _ if (400..500).contains(&status) => Cause::Http4xx,
        500 => Cause::Http500,
        502 => Cause::Http502,
        503 => Cause::Http503,
        504 => Cause::Http504,
        _ if (500..600).contains(&status) => Cause::Http5xx,
        _ => return None,
    })
}

/// The finding for an exchange whose final response is a 4xx or 5xx.
pub(super) fn status(conn: &ConnectionSummary, exchange: &Exchange) -> Option<Draft> {
    let response = exchange.response.as_ref()?;
    let status = response.head.status;
    let request = exchange.request.as_ref();
    let heard = said::hear(request, response);
    if (200..300).contains(&status) {
        return graphql::errors(conn, exchange, &heard);
    }
    let by_status = classify(status)?;
    let cause = heard.cause(status).unwrap_or(by_status);
    let what = describe(request);
    let status_line = status_text(response);
    let by = who_answered(response);
    let mut summary = format!(
        "{what} -> {status_line} from {}{}",
        conn.server,
        by.as_deref().map(|b| format!(" ({b})")).unwrap_or_default()
    );
    let mut draft = Draft::new(cause, Confidence::High);
    if cause != by_status {
        // The server's words named the cause: say so, then what the status alone would say.
        draft = draft
            .explanation(heard.explanation().unwrap_or_default())
            .remedy(cause.fix());
        draft = said_remedies(draft, cause, &heard, request);
    } else {
        (draft, summary) = by_status_code(conn, request, response, &heard, (draft, cause), summary);
        // A reading of the server's own words adds them; one the status and headers alone
        // gave (a gateway's 502/504) adds nothing the status's explanation does not say.
        if let Some(e) = heard.explanation().filter(|_| !heard.read_from_status()) {
            draft = draft.append_explanation(&e);
        }
    }
    summary.push_str(&header_words(request, response));
    if let Some(q) = heard.quote() {
        summary.push_str(&format!("; the server says: {q}"));
    }
    if heard.worth_reporting() {
        draft = draft.server_said(heard.report());
    }
    if let Some(r) = request {
        draft = draft.evidence(mark(r.first), format!("request {what}"));
        if let Some(last) = r.last.filter(|l| l.frame != r.first.frame) {
            draft = draft.evidence(mark(last), "end of the request");
        }
    }
    let mut note = format!("response {status_line}");
    if let Some(b) = &by {
        note.push_str(&format!(" ({b})"));
    }
    draft = draft.evidence(mark(response.first), note);
    if response.last.frame != response.first.frame {
        draft = draft.evidence(mark(response.last), "end of the response");
    }
    Some(draft.summary(format!("{}: {summary}", call(conn))))
}

/// The headers that carry the cause, as the summary quotes them: `: WWW-Authenticate Bearer
/// error="invalid_token", error_description="..."`, `: Retry-After 30 (RateLimit-Remaining: 0)`,
/// `: Sunset ...`, the Accept a 406 refused, the Content-Type a 415 refused, the Allow of a 405,
/// the Upgrade a 426 asks for.
fn header_words(request: Option<&Request>, response: &Response) -> String {
    let head = &response.head;
    let mut words = Vec::new();
    if let Some(c) = head.www_authenticate() {
        words.push(format!("WWW-Authenticate {}", c.quoted()));
    }
    if let Some(r) = head.retry_after() {
        words.push(format!("Retry-After {r}"));
    }
    let limits: Vec<String> = head
        .rate_limit()
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !limits.is_empty() {
        words.push(limits.join(", "));
    }
    let failure = head.failure.as_deref();
    let header = |name: &str, value: Option<&String>| value.map(|v| format!("{name}: {v}"));
    let status = head.status;
    words.extend(
        [
            header("Deprecation", failure.and_then(|f| f.deprecation.as_ref())),
            header("Sunset", failure.and_then(|f| f.sunset.as_ref())),
            header(
                "Allow",
                failure
                    .and_then(|f| f.allow.as_ref())
                    .filter(|_| status == 405),
            ),
            header(
                "Upgrade",
                failure
                    .and_then(|f| f.upgrade.as_ref())
                    .filter(|_| status == 426),
            ),
            header(
                "the request's Accept",
                request
                    .and_then(|r| r.head.accept.as_ref())
                    .filter(|_| status == 406),
            ),
            header(
                "the request's Content-Type",
                request
                    .and_then(|r| r.head.content_type.as_ref())
                    .filter(|_| status == 415),
            ),
        ]
        .into_iter()
        .flatten(),
    );
    match words.is_empty() {
        true => String::new(),
        false => format!(": {}", words.join("; ")),
    }
}

/// The host of a Host header or SNI, lower-cased, without port or brackets.
fn bare_host(host: &str) -> String {
    let host = host.trim();
    let host = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A 404 or 421 answering a request whose Host names another server than the TLS SNI the
/// connection was opened with: the request reached a virtual host (or a gateway route) for the
/// SNI's name, not for its own.
pub(super) fn host_differs_from_sni(
    conn: &ConnectionSummary,
    exchange: &Exchange,
    sni: Option<&str>,
) -> Option<Draft> {
    let response = exchange.response.as_ref()?;
    if !matches!(response.head.status, 404 | 421) {
        return None;
    }
    let sni = sni?;
    let host = exchange.request.as_ref()?.head.host.as_deref()?;
    if bare_host(host) == bare_host(sni) {
        return None;
    }
    let draft = status(conn, exchange)?;
    let mut wrong = Draft::new(Cause::WrongHost, Confidence::High)
        .explanation(format!(
            "The request's Host header ({host}) names another server than the TLS server name (SNI {sni}) the connection was opened with. A server or gateway picks its virtual host or route by one of the two: this {} came from the one chosen for the other name (RFC 9110 7.4 and 15.5.20).",
            response.head.status
        ))
        .remedy("Send the same name in the Host header and in TLS SNI (a client that sets Host by hand must set the TLS server name too), and do not reuse a connection for a host its certificate does not cover.")
        .alternative(format!(
            "{}: the resource may truly be missing at the server for {host}",
            draft.cause().code()
        ));
    wrong = wrong.adopt_from(draft);
    Some(wrong)
}

/// Nanoseconds from the request's last byte to the response's first.
fn waited(request: Option<&Request>, response: &Response) -> Option<i64> {
    let last = request?.last?;
    Some(response.first.ts_ns.saturating_sub(last.ts_ns))
}

/// `Answered by a gateway (nginx's default error page, Via: ...).` when the response says so.
fn answered_by(heard: &said::Heard<'_>) -> String {
    let who = &heard.who;
    let because = match who.because.is_empty() {
        true => String::new(),
        false => format!(" ({})", who.because.join(", ")),
    };
    match (who.role, who.product) {
        (Role::Gateway, Some(p)) => format!("{p}, a gateway, answered{because}."),
        (Role::Gateway, None) => format!("A gateway answered{because}."),
        (Role::MaybeGateway, Some(p)) => {
            format!("{p} answered{because}, as the proxy in front of the application.")
        }
        _ => String::new(),
    }
}

/// For an error a gateway answered within a few round trips: the upstream failed at once
/// (refused, or reset or closed on the request), rather than after working on it.
fn quick_answer(conn: &ConnectionSummary, waited: Option<i64>) -> String {
    let Some(w) = waited else {
        return String::new();
    };
    let rtt = conn.initial_rtt_ns.unwrap_or(0).max(0);
    // A connect refused or reset takes one round trip to the upstream; a gateway next to its
    // upstream answers within a few milliseconds.
    if w <= (5_000_000_i64).max(rtt.saturating_mul(4)) {
        format!(
            " The answer came {} after the request: the upstream failed at once (it refused the gateway's connection, or reset or closed it as soon as the request arrived), not after working on the request.",
            human_duration(w)
        )
    } else {
        String::new()
    }
}

/// Remedies specific to what the server's words said, beyond the cause's generic fix.
fn said_remedies(
    mut draft: Draft,
    cause: Cause,
    heard: &said::Heard<'_>,
    request: Option<&Request>,
) -> Draft {
    let rate = &heard.rate;
    if matches!(cause, Cause::RateLimited | Cause::QuotaExhausted) {
        if let Some(secs) = rate.retry_after_secs {
            draft = draft.remedy(format!(
                "The server asked to wait {secs} s before retrying (Retry-After); honour it."
            ));
        } else if let Some(secs) = rate.reset_secs {
            draft = draft.remedy(format!("The rate-limit window resets in {secs} s."));
        }
    }
    let unsigned = request.is_some_and(|r| !r.head.has_authorization);
    let missing_token = heard
        .reading
        .as_ref()
        .is_some_and(|r| r.because.contains("Missing Authentication Token"));
    if cause == Cause::ApiNotFound && missing_token && unsigned {
        // AWS documents a second reading of the same answer.
        draft = draft.confidence(Confidence::Medium).alternative(
            "client.http_403: AWS API Gateway answers the same to a request without a signature or token sent to a method that requires IAM or a token authorizer",
        );
    }
    if heard.who.role == Role::Gateway {
        draft = draft.remedy(format!(
            "The answer came from a gateway ({}): its configuration (routes, stages, policies, quotas) is where this is decided, not the application behind it.",
            heard
                .who
                .product
                .map_or_else(|| heard.who.because.join(", "), str::to_string)
        ));
    }
    draft
}

/// The finding's words from the status code alone (the server's words did not name a cause).
fn by_status_code(
    conn: &ConnectionSummary,
    request: Option<&Request>,
    response: &Response,
    heard: &said::Heard<'_>,
    (mut draft, cause): (Draft, Cause),
    mut summary: String,
) -> (Draft, String) {
    let status = response.head.status;
    let status_line = status_text(response);
    match status {
        401 => {
            let challenge = response.head.www_authenticate();
            let described = challenge
                .and_then(|c| c.error_description.as_deref())
                .map(|d| format!(" The server says: \"{d}\"."))
                .unwrap_or_default();
            let sent = request.is_some_and(|r| r.head.has_authorization);
            draft = draft
                .explanation(format!(
                    "The server refused the request's credentials: {}. {}{described}",
                    if sent {
                        "the request carried an Authorization header (its value is not shown), and the server did not accept it"
                    } else {
                        "the request carried no Authorization header"
                    },
                    match challenge.and_then(|c| c.error.as_deref()) {
                        Some("invalid_token") => "error=\"invalid_token\" (RFC 6750) means the access token is expired, revoked, malformed or issued for another audience.",
                        Some("insufficient_scope") => "error=\"insufficient_scope\" means the token is valid but lacks a scope the resource needs.",
                        Some("invalid_request") => "error=\"invalid_request\" means the credentials were sent in a malformed way.",
                        _ => "The WWW-Authenticate challenge names the scheme the server expects.",
                    }
                ))
                .remedy("Check the token or API key the client sends: its expiry (exp), whether it was revoked or rotated, and the audience/issuer it was issued for; refresh it before it expires.")
                .remedy("If the credential is an AppKey/secret pair, check that the secret was not rotated on the server side without updating the client, and that the client's clock is in sync (signed requests fail on skew).");
        }
        403 => {
            draft = draft
                .explanation("The server understood who the caller is but refuses the action: a missing permission or scope, a resource policy, an IP allowlist, or a WAF rule.")
                .remedy("Check the caller's permissions/roles and token scopes for this resource and method.")
                .remedy("Check IP allowlists, resource policies and WAF rules in front of the API (the Server/Via headers show who answered).");
        }
        404 => {
            let answerer = heard.who.role;
            draft = draft
                .explanation(match answerer {
                    Role::Gateway => "The resource was not found, and the answer came from a proxy or gateway: the route may not exist there at all (API not published or not deployed to this stage, a path prefix or version that differs, a virtual host chosen by a missing or wrong Host header) rather than the application missing the record.",
                    Role::MaybeGateway => "The resource was not found by a web server that often runs as a reverse proxy in front of an application: either it serves this path itself and has nothing there, or, as a proxy, it has no route for it (a path prefix or version that differs, a virtual host chosen by a missing or wrong Host header).",
                    _ => "The server has no resource at this path: a wrong path, version prefix or identifier, or a resource that was deleted.",
                })
                .remedy("Check the request path, API version prefix and resource identifiers against the API's documentation.");
            if request.is_some_and(|r| r.head.host.is_none()) {
                draft = draft.remedy("The request carried no Host header: a server with virtual hosts answers it from its default host; send the API's host name.");
            }
            let ip_host = request
                .and_then(|r| r.head.host.as_deref())
                .is_some_and(|h| bare_host(h).parse::<std::net::IpAddr>().is_ok());
            if ip_host && answerer != Role::Application {
                draft = draft.remedy("The request's Host is an IP address: a gateway that routes by host name (API groups bound to domains, virtual hosts) answers it from its default route; send the domain bound to the API.");
            }
            if answerer != Role::Application {
                draft = draft
                    .remedy("Check the gateway's routes: is the API published/deployed to this stage, does the path prefix match, does the Host header select the right virtual host?")
                    .alternative("client.http_404: the 404 may come from the application itself, passed through by the gateway");
            }
        }
        413 => {
            let body = request.map(|r| r.body_bytes).unwrap_or(0);
            summary.push_str(&format!(" (request body {body} bytes)"));
            draft = draft
                .explanation("The request body is larger than the server or a proxy in front of it accepts.")
                .remedy("Check the body size limit on the server and every proxy on the way (e.g. nginx client_max_body_size, gateway payload limits); send smaller or chunked uploads.");
        }
        429 => {
            let retry = response.head.retry_after();
            draft = draft
                .explanation("The server or API gateway throttled the caller: it sent more requests than its quota or rate limit allows in the current window.")
                .remedy(match retry {
                    Some(r) => format!("Honour Retry-After ({r}): wait that long before retrying, and do not retry sooner."),
                    None => "Retry with exponential backoff and jitter; do not retry immediately.".to_string(),
                })
                .remedy("Check the gateway's throttling quota / usage plan for this API key or client and the client's request rate; spread bursts or raise the quota.");
        }
        500 => {
            draft = draft
                .explanation("The server application failed while handling the request (an unhandled exception, a bug, a failing dependency it did not map to another status).")
                .remedy(format!("Check the application logs on {} at the response's time for the error and its stack trace.", conn.server));
        }
        502 => {
            let waited = waited(request, response);
            if let Some(w) = waited {
                summary.push_str(&format!(" after {}", human_duration(w)));
            }
            draft = draft
                .explanation(format!(
                    "{} The gateway or proxy reports that its upstream failed: the upstream refused or reset the connection, closed it without a response, or sent an invalid one. The application behind the gateway is down or crashing.{}",
                    answered_by(heard),
                    quick_answer(conn, waited)
                ))
                .remedy("Check the upstream service behind the gateway: is it running and listening, and what does its log say at this time? The gateway's error log names the upstream address and the error (connection refused, reset, upstream prematurely closed).")
                .remedy("Check the gateway's upstream configuration (address, port, health checks, TLS to the upstream).");
        }
        503 => {
            let retry = response.head.retry_after();
            draft = draft
                .explanation("The service is unavailable: overloaded, in maintenance, or without a healthy backend behind its load balancer.")
                .remedy(match retry {
                    Some(r) => format!("Honour Retry-After ({r}) before retrying."),
                    None => "Retry with backoff and jitter.".to_string(),
                })
                .remedy("Check the service's capacity and health checks: instances up, autoscaling, maintenance mode.");
        }
        504 => {
            if let Some(w) = waited(request, response) {
                summary.push_str(&format!(" after {}", human_duration(w)));
            }
            draft = draft
                .explanation(format!(
                    "{} A gateway or proxy gave up waiting for its upstream: the upstream accepted the request but did not answer within the gateway's timeout (a hung or slow dependency). Look at the service behind the gateway, not the gateway.",
                    answered_by(heard)
                ))
                .remedy("Check the upstream service behind the gateway for slow or hung requests at this time (slow queries, locks, exhausted pools, its own dependencies timing out).")
                .remedy("Compare the gateway's upstream read timeout with the upstream's worst-case latency.");
        }
        _ if let Some((_, why, fix)) = SIMPLE.iter().find(|(s, _, _)| *s == status) => {
            draft = draft.explanation(*why).remedy(*fix);
        }
        _ if cause.category() == Category::Server => {
            draft = draft
                .explanation(format!(
                    "The server answered {status_line}: a server-side failure."
                ))
                .remedy(format!(
                    "Check the server's logs on {} at the response's time.",
                    conn.server
                ));
        }
        _ => {
            draft = draft
                .explanation(format!("The server answered {status_line}: it rejected the request."))
                .remedy("Check the request against the API's documentation; the response body usually says why.");
        }
    }
    (draft, summary)
}

#[cfg(test)]
mod tests {
    use super::classify;
    use crate::diagnose::Cause;

    #[test]
    fn statuses_map_to_their_codes() {
        assert_eq!(classify(200), None);
        assert_eq!(classify(304), None);
        assert_eq!(classify(401), Some(Cause::Http401));
        assert_eq!(classify(429), Some(Cause::RateLimited));
        assert_eq!(classify(418), Some(Cause::Http4xx));
        assert_eq!(classify(504), Some(Cause::Http504));
        assert_eq!(classify(599), Some(Cause::Http5xx));
        assert_eq!(classify(600), None);
    }
}
