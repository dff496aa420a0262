//! HTTP status codes: every 4xx and 5xx final response is a failed call, named after its class
//! (RFC 9110 section 15) with the headers that say who answered and what to do: the
//! `WWW-Authenticate` challenge of a 401 (RFC 9110 11.6.1, RFC 6750 3.1 `error=`), the
//! `Retry-After` of a 429 (RFC 6585) or 503, `X-RateLimit-*`, and `Server` / `Via` for the
//! gateway that answered a 502 or 504.

use crate::app::http::{Exchange, Request, Response};
use crate::app::said::{self, Role};
use crate::tcp::{ConnectionSummary, Mark, Origin};
use crate::timefmt::human_duration;

use super::draft::{Draft, call};
use super::{Category, Cause, Confidence};

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

/// The code name and category of a failed status, or `None` below 400.
fn classify(status: u16) -> Option<Cause> {
    Some(match status {
        400 => Cause::Http400,
        401 => Cause::Http401,
        403 => Cause::Http403,
        404 => Cause::Http404,
        405 => Cause::Http405,
        413 => Cause::Http413,
        415 => Cause::Http415,
        422 => Cause::Http422,
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
    let cause = classify(status)?;
    let request = exchange.request.as_ref();
    let what = describe(request);
    let status_line = status_text(response);
    let by = who_answered(response);
    let mut summary = format!(
        "{what} -> {status_line} from {}{}",
        conn.server,
        by.as_deref().map(|b| format!(" ({b})")).unwrap_or_default()
    );
    let mut draft = Draft::new(cause, Confidence::High);
    match status {
        401 => {
            let challenge = response.head.www_authenticate();
            if let Some(c) = challenge {
                summary.push_str(&format!(": WWW-Authenticate {}", c.scheme));
                if let Some(e) = &c.error {
                    summary.push_str(&format!(" error=\"{e}\""));
                }
            }
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
            let answerer = said::who_answered(response.head.failure.as_deref(), None).role;
            draft = draft
                .explanation(match answerer {
                    Role::Gateway => "The resource was not found, and the answer came from a proxy or gateway: the route may not exist there at all (API not published or not deployed to this stage, a path prefix or version that differs, a virtual host chosen by a missing or wrong Host header) rather than the application missing the record.",
                    Role::MaybeGateway => "The resource was not found by a web server that often runs as a reverse proxy in front of an application: either it serves this path itself and has nothing there, or, as a proxy, it has no route for it (a path prefix or version that differs, a virtual host chosen by a missing or wrong Host header).",
                    Role::Application => "The server has no resource at this path: a wrong path, version prefix or identifier, or a resource that was deleted.",
                })
                .remedy("Check the request path, API version prefix and resource identifiers against the API's documentation.");
            if request.is_some_and(|r| r.head.host.is_none()) {
                draft = draft.remedy("The request carried no Host header: a server with virtual hosts answers it from its default host; send the API's host name.");
            }
            if answerer != Role::Application {
                draft = draft
                    .remedy("Check the gateway's routes: is the API published/deployed to this stage, does the path prefix match, does the Host header select the right virtual host?")
                    .alternative("client.http_404: the 404 may come from the application itself, passed through by the gateway");
            }
        }
        405 => {
            draft = draft
                .explanation("The resource exists but does not accept this method (the response's Allow header lists the ones it does).")
                .remedy("Use a method the resource allows, or check that the route is configured for this method on the gateway.");
        }
        413 => {
            let body = request.map(|r| r.body_bytes).unwrap_or(0);
            summary.push_str(&format!(" (request body {body} bytes)"));
            draft = draft
                .explanation("The request body is larger than the server or a proxy in front of it accepts.")
                .remedy("Check the body size limit on the server and every proxy on the way (e.g. nginx client_max_body_size, gateway payload limits); send smaller or chunked uploads.");
        }
        415 => {
            draft = draft
                .explanation("The server does not accept the request body's media type (Content-Type) or encoding.")
                .remedy("Send the Content-Type (and Content-Encoding) the API expects, e.g. application/json.");
        }
        422 => {
            draft = draft
                .explanation("The request was well-formed but its content failed validation (a missing or invalid field).")
                .remedy("Read the response body's validation errors in the client's logs and fix the payload.");
        }
        400 => {
            draft = draft
                .explanation("The server rejected the request as malformed: invalid syntax, a bad header, invalid JSON, or a parameter it cannot parse.")
                .remedy("Compare the request (path, query, headers, body) with the API's specification; the response body usually names the problem.");
        }
        429 => {
            let retry = response.head.retry_after();
            if let Some(r) = retry {
                summary.push_str(&format!(": Retry-After {r}"));
            }
            let limits: Vec<String> = response
                .head
                .rate_limit()
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            if !limits.is_empty() {
                summary.push_str(&format!(" ({})", limits.join(", ")));
            }
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
            draft = draft
                .explanation("The answer came from a gateway or proxy whose upstream failed: the upstream refused or reset the connection, closed it without a response, or sent an invalid one. The application behind the gateway is down or crashing.")
                .remedy("Check the upstream service behind the gateway: is it running and listening, and what does its log say at this time? The gateway's error log names the upstream address and the error (connection refused, reset, upstream prematurely closed).")
                .remedy("Check the gateway's upstream configuration (address, port, health checks, TLS to the upstream).");
        }
        503 => {
            let retry = response.head.retry_after();
            if let Some(r) = retry {
                summary.push_str(&format!(": Retry-After {r}"));
            }
            draft = draft
                .explanation("The service is unavailable: overloaded, in maintenance, or without a healthy backend behind its load balancer.")
                .remedy(match retry {
                    Some(r) => format!("Honour Retry-After ({r}) before retrying."),
                    None => "Retry with backoff and jitter.".to_string(),
                })
                .remedy("Check the service's capacity and health checks: instances up, autoscaling, maintenance mode.");
        }
        504 => {
            let waited = request
                .and_then(|r| r.last)
                .map(|last| human_duration(response.first.ts_ns.saturating_sub(last.ts_ns)));
            if let Some(w) = &waited {
                summary.push_str(&format!(" after {w}"));
            }
            draft = draft
                .explanation("A gateway or proxy gave up waiting for its upstream: the upstream accepted the request but did not answer within the gateway's timeout (a hung or slow dependency).")
                .remedy("Check the upstream service behind the gateway for slow or hung requests at this time (slow queries, locks, exhausted pools, its own dependencies timing out).")
                .remedy("Compare the gateway's upstream read timeout with the upstream's worst-case latency.");
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
