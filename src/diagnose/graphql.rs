//! GraphQL over HTTP: a response whose `errors` say the operation failed, possibly under a
//! 200 status that hides it (GraphQL over HTTP lets `application/json` answers carry errors
//! with 200). The error's `extensions.code` says whose fault: the client's for
//! authentication, authorization, validation and parse errors; the server's otherwise.

use crate::app::http::Exchange;
use crate::tcp::ConnectionSummary;

use super::draft::{Draft, call};
use super::http::{describe, mark, status_text};
use super::said::Heard;
use super::{Cause, Confidence};

/// `extensions.code` values that put the fault on the client (Apollo Server's and GraphQL
/// Java's names, upper-cased).
const CLIENT_CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BAD_USER_INPUT",
    "BAD_REQUEST",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_SUPPORTED",
    "OPERATION_RESOLUTION_FAILURE",
    "VALIDATIONERROR",
    "INVALIDSYNTAX",
];

/// The finding for a 2xx answer whose GraphQL `errors` say the operation failed.
pub(super) fn errors(
    conn: &ConnectionSummary,
    exchange: &Exchange,
    heard: &Heard<'_>,
) -> Option<Draft> {
    let said = heard.said?;
    if said.graphql_total == 0 {
        return None;
    }
    let response = exchange.response.as_ref()?;
    let request = exchange.request.as_ref();
    let codes: Vec<String> = said
        .graphql
        .iter()
        .filter_map(|e| e.code.as_deref())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let client = !codes.is_empty() && codes.iter().all(|c| CLIENT_CODES.contains(&c.as_str()));
    let cause = if client {
        Cause::GraphqlClientErrors
    } else {
        Cause::GraphqlServerErrors
    };
    // Without a code, who is at fault is a guess; with data beside the errors, only part of
    // the operation failed.
    let confidence = if codes.is_empty() {
        Confidence::Medium
    } else {
        Confidence::High
    };
    let what = describe(request);
    let status_line = status_text(response);
    let quote = heard.quote().unwrap_or_default();
    let partial = if said.graphql_no_data {
        "No data came back: the whole operation failed."
    } else {
        "Data came back beside the errors: part of the operation failed (the fields the errors' paths name are null)."
    };
    let mut draft = Draft::new(cause, confidence)
        .explanation(format!(
            "The server answered {status_line}, but the GraphQL response carries errors: a client that checks only the status code sees success. {partial}{}",
            if codes.is_empty() {
                " The errors carry no extensions.code, so whether the client or the server is at fault is read from the message only."
            } else {
                ""
            }
        ))
        .remedy(cause.fix())
        .remedy("Make the client treat a GraphQL response with `errors` as a failure (or a partial one), whatever the HTTP status.");
    if codes.is_empty() {
        draft = draft.alternative(
            "client.graphql_errors: the errors carry no code; the message may describe a client mistake",
        );
    }
    draft = draft.server_said(heard.report());
    if let Some(r) = request {
        draft = draft.evidence(mark(r.first), format!("request {what}"));
    }
    draft = draft.evidence(
        mark(response.first),
        format!("response {status_line} with GraphQL errors"),
    );
    if response.last.frame != response.first.frame {
        draft = draft.evidence(mark(response.last), "end of the response");
    }
    Some(draft.summary(format!(
        "{}: {what} -> {status_line} from {} with {quote}",
        call(conn),
        conn.server
    )))
}
