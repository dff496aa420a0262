//! What a server's words and headers mean for the cause of a failed call ([`Meaning`]), only
//! where they say it unambiguously: otherwise nothing, and the status code's cause stands.
//!
//! Sources, in order of authority (the first that says something fitting the status wins):
//! 1. the `WWW-Authenticate` challenge (RFC 6750 3.1 `error=`, or Basic/Digest credentials
//!    refused);
//! 2. machine-readable codes: `x-amzn-ErrorType`, then the body's code (AWS, OAuth 2 token
//!    endpoint errors (RFC 6749 5.2), Google and Azure error objects, APIG-style `error_code`),
//!    then a Google `reason` field;
//! 3. the server's free text (message, title, GraphQL messages, an Envoy page's reason) by the
//!    phrase tables of `phrases.rs`, conservatively;
//! 4. status and headers: 410, a 404 with `Sunset`/`Deprecation`, a rate-limit window, a 502
//!    from a gateway, a 504.
//!
//! Throttling and a quota are then told apart by the window: one named in the server's words
//! (`per day`, `time:1 minute`) decides, else one the rate-limit headers name, else the code's
//! or phrase's own class. A window of an hour or more is a quota (retrying soon will not help).

mod codes;
mod phrases;

use super::limits::{self, window_words};
use super::who::who_answered_at;
use super::{Meaning, RateLimit, Reading, Role, ServerSaid, Shape};
use crate::app::http::FailureHeaders;
use codes::codes;
use phrases::{has_phrase, words};

use Meaning::*;

/// A limit counted over this many seconds or more is a quota, not a throttle.
const LONG_WINDOW: u64 = 3_600;

/// What the server's words and headers say about the cause of a response of status `status`,
/// where they say it unambiguously; `None` otherwise (the status code's cause stands).
/// `sent_credentials`: the request carried an `Authorization` header; `rate`: what
/// [`super::rate_limit`] read of the headers.
pub fn meaning(
    status: u16,
    said: Option<&ServerSaid>,
    headers: Option<&FailureHeaders>,
    sent_credentials: bool,
    rate: &RateLimit,
) -> Option<Reading> {
    let graphql = said.is_some_and(|s| s.shape == Shape::GraphQl);
    let reading = headers
        .and_then(|h| challenge(status, h, sent_credentials))
        .filter(|r| fits(r.meaning, status, graphql, false))
        .or_else(|| {
            codes(status, said, headers).filter(|r| fits(r.meaning, status, graphql, false))
        })
        .or_else(|| said.and_then(|s| words(status, s, graphql)))
        .or_else(|| {
            from_headers(status, said, headers, rate)
                .filter(|r| fits(r.meaning, status, graphql, false))
        })?;
    let reading = narrow_to_stage(reading, said);
    Some(throttle_or_quota(reading, said, headers, rate))
}

/// An API not found whose message names the stage (`...not published in the environment TEST
/// named by the X-Stage header`) is missing from that stage: [`WrongStage`], the narrower
/// reading the same words support.
fn narrow_to_stage(r: Reading, said: Option<&ServerSaid>) -> Reading {
    match (r.meaning, said.and_then(phrases::names_stage)) {
        (ApiNotFound, Some(words)) => reading(WrongStage, format!("{}, {words}", r.because)),
        _ => r,
    }
}

/// Whether a meaning can be the cause of a response of this status. Credentials and
/// permissions: 400 (AWS and OAuth send their codes with it), 401, 403, or a GraphQL answer;
/// from free text only 401/403 or GraphQL (a 400's "invalid token" is usually a request
/// parameter such as a page token). Routes: 403 (AWS API Gateway), 404. Limits: 400 and 503
/// (AWS), 403, 429, GraphQL. Upstreams: 502-504. Versions: 404, 410.
fn fits(m: Meaning, status: u16, graphql: bool, from_words: bool) -> bool {
    match m {
        TokenExpired | TokenInvalid | InsufficientScope | CredentialsWrong | AccessDenied => {
            graphql || matches!(status, 401 | 403) || (status == 400 && !from_words)
        }
        ApiNotFound | WrongStage => matches!(status, 403 | 404),
        Throttled | QuotaExhausted => graphql || matches!(status, 400 | 403 | 429 | 503),
        UpstreamFailed => matches!(status, 502 | 503),
        UpstreamTimeout => matches!(status, 502..=504),
        VersionRetired => matches!(status, 404 | 410),
    }
}

fn reading(meaning: Meaning, because: impl Into<String>) -> Reading {
    Reading {
        meaning,
        because: because.into(),
    }
}

// ---------------------------------------------------------------------------------------
// 1. The challenge.

/// RFC 6750 3.1: `invalid_token` (expired when its description says so), `insufficient_scope`;
/// a Basic or Digest challenge to a 401 whose request carried credentials: they were refused.
fn challenge(status: u16, h: &FailureHeaders, sent_credentials: bool) -> Option<Reading> {
    let c = h.www_authenticate.as_ref()?;
    let mut quote = format!("WWW-Authenticate: {}", c.quoted());
    let description = c.error_description.as_deref().unwrap_or_default();
    let m = match c.error.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("invalid_token") if says_expired(description) => TokenExpired,
        Some("invalid_token") => TokenInvalid,
        Some("insufficient_scope") => InsufficientScope,
        Some(_) => return None,
        None if says_expired(description) => TokenExpired,
        None => {
            let basic = ["basic", "digest"]
                .iter()
                .any(|s| c.scheme.eq_ignore_ascii_case(s));
            if !(basic && sent_credentials && status == 401) {
                return None;
            }
            quote.push_str(" (credentials were sent)");
            CredentialsWrong
        }
    };
    Some(reading(m, quote))
}

/// A description saying a token expired: the word `expired` (not `not expired`, not
/// `non-expired`), `expiry`, or the `exp` claim; "expires in 3600s" is not expired.
fn says_expired(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    has_phrase(&lower, "expired")
        || has_phrase(&lower, "expiry")
        || has_phrase(&lower, "exp claim")
        || lower.contains("\"exp\" claim")
        || lower.contains("'exp' claim")
}

// ---------------------------------------------------------------------------------------
// 4. Status and headers.

fn from_headers(
    status: u16,
    said: Option<&ServerSaid>,
    headers: Option<&FailureHeaders>,
    rate: &RateLimit,
) -> Option<Reading> {
    let sunset = headers.and_then(|h| h.sunset.as_deref());
    let deprecation = headers.and_then(|h| h.deprecation.as_deref());
    match status {
        410 => Some(reading(
            VersionRetired,
            match sunset {
                Some(s) => format!("410 Gone, Sunset: {s}"),
                None => "410 Gone".to_string(),
            },
        )),
        404 => sunset
            .map(|s| format!("Sunset: {s}"))
            .or_else(|| deprecation.map(|d| format!("Deprecation: {d}")))
            .map(|b| reading(VersionRetired, b)),
        429 | 403 => {
            // A 403 carries rate-limit headers on every answer at some APIs (GitHub): only an
            // exhausted allowance says the limit refused it (GitHub's documented primary rate
            // limit answer: 403 or 429 with x-ratelimit-remaining 0).
            if status == 403 && rate.remaining != Some(0) {
                return None;
            }
            let window = headers.and_then(limits::window);
            match (rate.window_secs, window) {
                (Some(secs), w) => {
                    let quote = w
                        .filter(|w| w.secs == secs)
                        .map(|w| w.quote)
                        .unwrap_or_else(|| format!("a rate-limit window of {secs} s"));
                    let m = if secs >= LONG_WINDOW {
                        QuotaExhausted
                    } else {
                        Throttled
                    };
                    Some(reading(m, quote))
                }
                (None, _) if status == 403 => Some(reading(Throttled, remaining_zero(headers))),
                (None, _) => None,
            }
        }
        502 => {
            let who = who_answered_at(status, headers, said);
            (who.role == Role::Gateway).then(|| {
                reading(
                    UpstreamFailed,
                    format!("502 from a gateway ({})", who.because.join(", ")),
                )
            })
        }
        504 => Some(reading(UpstreamTimeout, "504 Gateway Timeout")),
        _ => None,
    }
}

/// The header that said the allowance is 0, quoted.
fn remaining_zero(headers: Option<&FailureHeaders>) -> String {
    headers
        .into_iter()
        .flat_map(|h| &h.rate_limit)
        .find(|(n, v)| n.to_ascii_lowercase().contains("remaining") && v.trim() == "0")
        .map_or_else(
            || "rate-limit allowance 0".to_string(),
            |(n, v)| format!("{n}: {v}"),
        )
}

// ---------------------------------------------------------------------------------------
// Throttle or quota.

/// A throttle and a quota told apart by the window: named in the server's words, else in the
/// rate-limit headers, else as the reading said.
fn throttle_or_quota(
    r: Reading,
    said: Option<&ServerSaid>,
    headers: Option<&FailureHeaders>,
    rate: &RateLimit,
) -> Reading {
    if !matches!(r.meaning, Throttled | QuotaExhausted) {
        return r;
    }
    let class = |secs: u64| {
        if secs >= LONG_WINDOW {
            QuotaExhausted
        } else {
            Throttled
        }
    };
    let said_window = window_words(&r.because).or_else(|| {
        said.and_then(|s| s.message.as_deref())
            .and_then(window_words)
    });
    if let Some(secs) = said_window {
        return Reading {
            meaning: class(secs),
            ..r
        };
    }
    let Some(secs) = rate.window_secs else {
        return r;
    };
    if class(secs) == r.meaning {
        return r;
    }
    let quote = headers
        .and_then(limits::window)
        .filter(|w| w.secs == secs)
        .map_or_else(|| format!("a rate-limit window of {secs} s"), |w| w.quote);
    if r.because.contains(&quote) {
        return Reading {
            meaning: class(secs),
            ..r
        };
    }
    Reading {
        meaning: class(secs),
        because: format!("{}, {quote}", r.because),
    }
}

#[cfg(test)]
mod tests;
