//! The server's free text, read by phrase tables ([`PHRASES`]), conservatively.

use super::codes::message_label;
use super::{Meaning, Reading, fits, reading};
use crate::app::said::{DefaultPage, ServerSaid};

use Meaning::*;

/// Phrases (lowercase, matched at word boundaries, not right after `not`/`non`/`never`) and
/// what they mean, in the order they are tried: expiry before invalidity, quota before
/// throttling, timeout before failure. Each is tested with a near miss that must not match
/// (`meaning_tests.rs`).
const PHRASES: &[(Meaning, &[&str])] = &[
    (
        TokenExpired,
        &[
            "token has expired",
            "token is expired",
            "token expired",
            "token_expired",
            "expired token",
            "expired_token",
            "jwt expired",
            "jwt is expired",
            "jwt has expired",
            // PyJWT's ExpiredSignatureError.
            "signature has expired",
        ],
    ),
    (
        TokenInvalid,
        &[
            "invalid signature",
            "signature verification failed",
            "invalid token",
            "invalid_token",
            "malformed token",
            "token is invalid",
            "token is malformed",
            "jwt malformed",
            "invalid jwt",
            "token has been revoked",
            "token was revoked",
            "invalid audience",
        ],
    ),
    (
        QuotaExhausted,
        &[
            "quota exceeded",
            "quota has been exceeded",
            "exceeded your quota",
            "exceeded your current quota",
            "exceeded the quota",
            "quota exhausted",
            "quota has been exhausted",
            "out of quota",
            "insufficient quota",
            "insufficient_quota",
            "daily limit",
            "monthly limit",
            "daily quota",
            "monthly quota",
        ],
    ),
    (
        Throttled,
        &[
            "rate limit exceeded",
            "rate limit reached",
            "ratelimit exceeded",
            "exceeded the rate limit",
            "exceeded a secondary rate limit",
            "too many requests",
            "throttled",
            "throttling threshold",
            "rate exceeded",
            "over ratelimit",
            "request limit exceeded",
            "slow down",
        ],
    ),
    (
        ApiNotFound,
        &[
            "no route",
            "route not found",
            "no matching route",
            "api not found",
            "api does not exist",
            "not published",
        ],
    ),
    (
        VersionRetired,
        &[
            "deprecated",
            "retired",
            "no longer supported",
            "no longer available",
            "sunset",
            "decommissioned",
        ],
    ),
    (
        UpstreamTimeout,
        &[
            "upstream request timeout",
            "upstream timed out",
            "connection timeout",
            "backend timeout",
            "timed out",
            "gateway timeout",
            "gateway time-out",
        ],
    ),
    (
        UpstreamFailed,
        &[
            "no healthy upstream",
            "upstream connect error",
            "connection failure",
            "connection refused",
            "connection reset",
            "prematurely closed",
            "backend unavailable",
            "no server is available",
        ],
    ),
];

/// Phrases that contain a table's phrase but say something else.
const NOT_MEANT: &[&str] = &["no route to host"];

/// Words for a stage, and the words that say it was not found there: together (`Stage 'dev'
/// not found`, `not deployed to stage`) or `X-Stage` named, the API exists but not in the
/// stage reached. "Environment" alone is not enough: APIG's generic APIG.0101 text ("...has not
/// been published in the environment.") names it for every unmatched request.
const STAGE_MISSES: &[&str] = &[
    "not found",
    "not deployed",
    "not published",
    "does not exist",
    "no such",
    "unknown",
    "invalid",
    "wrong",
];

/// Whether a text (lower-cased) says the API was not found in the stage reached.
fn says_stage(lower: &str) -> bool {
    has_phrase(lower, "x-stage")
        || (has_phrase(lower, "stage") && STAGE_MISSES.iter().any(|p| has_phrase(lower, p)))
}

/// The server's text that says the API is missing from the stage reached, quoted, if one does:
/// it narrows a code that says only "not found or not published" (APIG.0101) to the stage.
pub(super) fn names_stage(said: &ServerSaid) -> Option<String> {
    texts(said)
        .into_iter()
        .find(|(_, t)| says_stage(&t.to_ascii_lowercase()))
        .map(|(label, t)| format!("{label} \"{t}\""))
}

/// The meaning of one text, by the phrase tables.
fn phrase_meaning(text: &str) -> Option<Meaning> {
    let lower = text.to_ascii_lowercase();
    let stage = says_stage(&lower);
    for (m, phrases) in PHRASES {
        if *m == ApiNotFound && stage {
            return Some(WrongStage);
        }
        if phrases.iter().any(|p| has_phrase(&lower, p)) {
            return Some(*m);
        }
    }
    None
}

/// The server's texts, each with how to quote it.
fn texts(said: &ServerSaid) -> Vec<(String, &str)> {
    let label = message_label(said.shape);
    let mut out: Vec<(String, &str)> = Vec::new();
    if let Some(m) = &said.message {
        out.push((label.to_string(), m));
    }
    if let Some(t) = &said.title {
        out.push(("title".to_string(), t));
    }
    for (i, e) in said.graphql.iter().enumerate() {
        if let Some(m) = &e.message {
            out.push((format!("errors[{i}].message"), m));
        }
    }
    if let Some(DefaultPage::Envoy { reason: Some(r) }) = &said.page {
        out.push(("Envoy page, reset reason".to_string(), r));
    }
    out
}

pub(super) fn words(status: u16, said: &ServerSaid, graphql: bool) -> Option<Reading> {
    for (label, text) in texts(said) {
        if let Some(m) = phrase_meaning(text).filter(|m| fits(*m, status, graphql, true)) {
            return Some(reading(m, format!("{label} \"{text}\"")));
        }
    }
    // Envoy's "upstream connect error or disconnect/reset before headers" page without a
    // reason still says its upstream failed.
    let envoy = matches!(said.page, Some(DefaultPage::Envoy { reason: None }));
    (envoy && fits(UpstreamFailed, status, graphql, true))
        .then(|| reading(UpstreamFailed, "Envoy's upstream error page"))
}

/// `phrase` in `lower` at word boundaries, not right after `not`, `non` or `never`, and not
/// part of a phrase meaning something else ([`NOT_MEANT`]).
pub(super) fn has_phrase(lower: &str, phrase: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    lower.match_indices(phrase).any(|(at, _)| {
        let before = lower.get(..at).unwrap_or_default();
        let after = lower.get(at + phrase.len()..).unwrap_or_default();
        if word(before.chars().next_back()) || word(after.chars().next()) {
            return false;
        }
        let previous = before
            .trim_end_matches(|c: char| !c.is_alphanumeric())
            .rsplit(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or_default();
        if matches!(previous, "not" | "non" | "never") {
            return false;
        }
        let rest = lower.get(at..).unwrap_or_default();
        !NOT_MEANT
            .iter()
            .any(|n| n.starts_with(phrase) && rest.starts_with(n))
    })
}
