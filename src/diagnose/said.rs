//! What the server said about a failed HTTP call, turned into the finding's words: the cause its
//! words name where they are unambiguous ([`crate::app::said::meaning`]), the server's own words
//! quoted in the summary, who answered (the gateway or the application behind it), and the
//! rate-limit headers read. When the server said nothing unambiguous, the status code's cause
//! stands and its words are only quoted.

use crate::app::http::{Request, Response};
use crate::app::said::{
    self, Answerer, Meaning, RateLimit, Reading, Role, ServerSaid, Shape, rate_limit,
    who_answered_at,
};

use super::Cause;
use super::said_report::{SaidReport, page_name};

/// What one response said, read once for its finding.
#[derive(Debug)]
pub(super) struct Heard<'a> {
    pub said: Option<&'a ServerSaid>,
    pub who: Answerer,
    pub rate: RateLimit,
    pub reading: Option<Reading>,
}

/// Reads what `response` (to `request`) said.
pub(super) fn hear<'a>(request: Option<&Request>, response: &'a Response) -> Heard<'a> {
    let said = response.said.as_deref();
    let headers = response.head.failure.as_deref();
    let at_secs = u64::try_from(response.first.ts_ns / 1_000_000_000).ok();
    let rate = headers.map_or_else(RateLimit::default, |h| rate_limit(h, at_secs));
    let sent = request.is_some_and(|r| r.head.has_authorization);
    let reading = said::meaning(response.head.status, said, headers, sent, &rate);
    Heard {
        said,
        who: who_answered_at(response.head.status, headers, said),
        rate,
        reading,
    }
}

impl Heard<'_> {
    /// The cause the server's words name, if they name one this status can have.
    pub fn cause(&self, status: u16) -> Option<Cause> {
        let meaning = self.reading.as_ref()?.meaning;
        if status < 400 {
            return None;
        }
        Some(match meaning {
            Meaning::TokenExpired => Cause::TokenExpired,
            Meaning::TokenInvalid => Cause::TokenInvalid,
            Meaning::InsufficientScope => Cause::InsufficientScope,
            Meaning::CredentialsWrong => Cause::CredentialsWrong,
            Meaning::AccessDenied => Cause::AccessDenied,
            Meaning::ApiNotFound => Cause::ApiNotFound,
            Meaning::WrongStage => Cause::WrongStage,
            Meaning::Throttled => Cause::RateLimited,
            Meaning::QuotaExhausted => Cause::QuotaExhausted,
            Meaning::VersionRetired => Cause::ApiVersionRetired,
            // A gateway's upstream failing keeps the status's cause (502, 503, 504): the
            // finding says which side to look at.
            Meaning::UpstreamFailed | Meaning::UpstreamTimeout => return None,
        })
    }

    /// The server's own words, quoted: `APIG.0101 "The API does not exist..."`, a problem's
    /// title and detail, a GraphQL error, a proxy's default page.
    pub fn quote(&self) -> Option<String> {
        let s = self.said?;
        if s.shape == Shape::GraphQl && s.graphql_total > 0 {
            let first = s.graphql.first();
            let mut q = format!(
                "{} GraphQL error{}",
                s.graphql_total,
                if s.graphql_total == 1 { "" } else { "s" }
            );
            if let Some(e) = first {
                if let Some(m) = &e.message {
                    q.push_str(&format!(": \"{m}\""));
                }
                let mut extra = Vec::new();
                if let Some(c) = &e.code {
                    extra.push(format!("code {c}"));
                }
                if let Some(p) = &e.path {
                    extra.push(format!("path {p}"));
                }
                if !extra.is_empty() {
                    q.push_str(&format!(" ({})", extra.join(", ")));
                }
            }
            return Some(q);
        }
        let mut parts = Vec::new();
        if let Some(page) = &s.page {
            parts.push(format!("{}'s default error page", page_name(page)));
        }
        if let Some(c) = s
            .code
            .as_deref()
            .filter(|c| Some(*c) != s.message.as_deref())
        {
            parts.push(c.to_string());
        }
        match (&s.title, &s.message) {
            (Some(t), Some(m)) if t != m => parts.push(format!("\"{t}\": \"{m}\"")),
            (_, Some(m)) => parts.push(format!("\"{m}\"")),
            (Some(t), None) if s.page.is_none() => parts.push(format!("\"{t}\"")),
            _ => {}
        }
        if let Some(i) = &s.incomplete {
            parts.push(format!("({i})"));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The `server_said` object of the finding.
    pub fn report(&self) -> SaidReport {
        SaidReport::new(&self.who, self.said, self.reading.as_ref(), &self.rate)
    }

    /// Whether anything here is worth a `server_said` object (a body read, a gateway named,
    /// rate-limit headers, a reading).
    pub fn worth_reporting(&self) -> bool {
        self.said.is_some()
            || self.reading.is_some()
            || self.who.role != Role::Application
            || !self.who.because.is_empty()
            || self.rate != RateLimit::default()
    }

    /// Whether the reading came from the status and headers alone (a gateway's 502/504), not
    /// from words the server wrote.
    pub fn read_from_status(&self) -> bool {
        self.reading.as_ref().is_some_and(|r| {
            matches!(
                r.meaning,
                Meaning::UpstreamFailed | Meaning::UpstreamTimeout
            )
        })
    }

    /// What the server's words mean, said for the explanation (`The server said ... : the
    /// access token expired.`), when they decided the cause.
    pub fn explanation(&self) -> Option<String> {
        let r = self.reading.as_ref()?;
        Some(format!(
            "The server said so itself ({}): {}",
            r.because,
            meaning_text(r.meaning)
        ))
    }
}

fn meaning_text(m: Meaning) -> &'static str {
    match m {
        Meaning::TokenExpired => {
            "the access token has expired; the credentials were right once, and a fresh token fixes the call."
        }
        Meaning::TokenInvalid => {
            "the token or grant is not valid here: malformed, signed with another key, revoked, or issued for another audience."
        }
        Meaning::InsufficientScope => "the token is valid but lacks a scope this resource needs.",
        Meaning::CredentialsWrong => {
            "the credentials themselves are wrong: an unknown key or client, a wrong secret, or a signature that does not verify."
        }
        Meaning::AccessDenied => {
            "the caller is known, but a policy (permission, role, ACL, IP rule) denies it this action."
        }
        Meaning::ApiNotFound => {
            "the gateway has no API at this path and method: it was never published, or not at this host or prefix."
        }
        Meaning::WrongStage => {
            "the API exists, but not in the stage or environment the request reached."
        }
        Meaning::Throttled => {
            "the caller exceeded a rate limit counted over a short window; calls succeed again once the window passes."
        }
        Meaning::QuotaExhausted => {
            "the caller used up a quota counted over a long window (a day or a month); retrying soon will not help."
        }
        Meaning::UpstreamFailed => {
            "the gateway could not get an answer from the service behind it."
        }
        Meaning::UpstreamTimeout => "the gateway gave up waiting for the service behind it.",
        Meaning::VersionRetired => "this API version has been retired.",
    }
}
