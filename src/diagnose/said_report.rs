//! `server_said` in a finding: who answered a failed HTTP call and what it said, in its own
//! words (already redacted and clipped by the parser), with what faultline read into them.

use serde::Serialize;

use crate::app::said::{
    Answerer, DefaultPage, Meaning, RateLimit, Reading, Role, ServerSaid, Shape,
};

/// What the server said about a failed call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SaidReport {
    /// `gateway`, `maybe_gateway` (a web server often run as a reverse proxy) or `application`.
    pub answered_by: &'static str,
    /// The product that answered, when its headers or page name it (`nginx`, `Envoy`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<&'static str>,
    /// The headers or page that tell who answered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answered_because: Vec<String>,
    /// The body's layout: `problem+json`, `error_object`, `oauth`, `error_code_msg`,
    /// `code_message`, `message`, `graphql`, `json`, `html`, `text`; absent without a body read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Other error fields, as `name: value`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// GraphQL errors (at most 8) and how many there were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graphql_errors: Vec<GraphQlErrorReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graphql_error_count: Option<usize>,
    /// The proxy whose default error page the body is (`nginx`, `Envoy: connection failure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_page: Option<String>,
    /// Why the body could not be read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// What the words mean (`token_expired`, `throttled`...), and the words that say it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning_because: Option<String>,
    /// What the rate-limit headers said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitReport>,
}

/// One GraphQL error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphQlErrorReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The rate-limit headers, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RateLimitReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// The JSON name of a body's shape.
pub fn shape_name(shape: Shape) -> &'static str {
    match shape {
        Shape::ProblemJson => "problem+json",
        Shape::ErrorObject => "error_object",
        Shape::OAuthError => "oauth",
        Shape::ErrorCodeMsg => "error_code_msg",
        Shape::CodeMessage => "code_message",
        Shape::Message => "message",
        Shape::GraphQl => "graphql",
        Shape::OtherJson => "json",
        Shape::Html => "html",
        Shape::Text => "text",
    }
}

/// A default error page, named.
pub fn page_name(page: &DefaultPage) -> String {
    match page {
        DefaultPage::Nginx => "nginx".into(),
        DefaultPage::Haproxy => "HAProxy".into(),
        DefaultPage::Envoy { reason: Some(r) } => format!("Envoy: {r}"),
        DefaultPage::Envoy { reason: None } => "Envoy".into(),
        DefaultPage::Cloudflare { code: Some(c) } => format!("Cloudflare {c}"),
        DefaultPage::Cloudflare { code: None } => "Cloudflare".into(),
        DefaultPage::Apache => "Apache httpd".into(),
        DefaultPage::Other(name) => (*name).into(),
    }
}

/// The JSON name of a meaning.
pub fn meaning_name(m: Meaning) -> &'static str {
    match m {
        Meaning::TokenExpired => "token_expired",
        Meaning::TokenInvalid => "token_invalid",
        Meaning::InsufficientScope => "insufficient_scope",
        Meaning::CredentialsWrong => "credentials_wrong",
        Meaning::AccessDenied => "access_denied",
        Meaning::ApiNotFound => "api_not_found",
        Meaning::WrongStage => "wrong_stage",
        Meaning::Throttled => "throttled",
        Meaning::QuotaExhausted => "quota_exhausted",
        Meaning::UpstreamFailed => "upstream_failed",
        Meaning::UpstreamTimeout => "upstream_timeout",
        Meaning::VersionRetired => "version_retired",
    }
}

/// The JSON name of who answered.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Gateway => "gateway",
        Role::MaybeGateway => "maybe_gateway",
        Role::Application => "application",
    }
}

impl SaidReport {
    /// The report of a response: who answered, what its body said, what that means.
    pub fn new(
        who: &Answerer,
        said: Option<&ServerSaid>,
        reading: Option<&Reading>,
        rate: &RateLimit,
    ) -> Self {
        let mut r = SaidReport {
            answered_by: role_name(who.role),
            product: who.product,
            answered_because: who.because.clone(),
            meaning: reading.map(|r| meaning_name(r.meaning)),
            meaning_because: reading.map(|r| r.because.clone()),
            ..SaidReport::default()
        };
        if *rate != RateLimit::default() {
            r.rate_limit = Some(RateLimitReport {
                limit: rate.limit,
                remaining: rate.remaining,
                reset_secs: rate.reset_secs,
                window_secs: rate.window_secs,
                retry_after_secs: rate.retry_after_secs,
            });
        }
        if let Some(s) = said {
            r.shape = Some(shape_name(s.shape));
            r.code = s.code.clone();
            r.title = s.title.clone();
            r.message = s.message.clone();
            r.instance = s.instance.clone();
            // A member already shown as the code, title or message is not repeated.
            let shown = [&s.code, &s.title, &s.message];
            r.fields = s
                .fields
                .iter()
                .filter(|(_, v)| !shown.iter().any(|x| x.as_deref() == Some(v.as_str())))
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            r.graphql_errors = s
                .graphql
                .iter()
                .map(|e| GraphQlErrorReport {
                    message: e.message.clone(),
                    code: e.code.clone(),
                    path: e.path.clone(),
                })
                .collect();
            r.graphql_error_count = (s.graphql_total > 0).then_some(s.graphql_total);
            r.default_page = s.page.as_ref().map(page_name);
            r.incomplete = s.incomplete.clone();
        }
        r
    }
}
