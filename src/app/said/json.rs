//! The JSON error shapes, told apart by their members (checked in this order):
//!
//! - RFC 9457 problem details: `Content-Type: application/problem+json`, or a `title` or
//!   `detail` string with a `type` string or a numeric `status`;
//! - GraphQL over HTTP: `errors`, a list of objects each with a `message`, with `data` beside it
//!   or GraphQL's own members (`locations`, `path`, `extensions`) in them;
//! - `{"error": {...}}` (Google's `google.rpc.Status` as JSON, Azure's OData-style error);
//! - `{"error": "invalid_grant", "error_description": ...}` (OAuth 2, RFC 6749 5.2);
//! - `{"error_code", "error_msg"}` (API gateways in the style of Huawei's APIG);
//! - a code and a message (`code`/`errcode`/`errorCode` with `message`/`msg`/`errmsg`...);
//! - a message (`message`, AWS's `Message`, Lambda's `errorMessage`; AWS `__type` as its code);
//! - other objects: the first members named like an error, up to three levels deep.
//!
//! A top-level list is read by its first object (`[{"message": ..., "errorCode": ...}]`).
//! Members whose name looks secret are skipped everywhere. Members beyond the shape's own go
//! to [`ServerSaid::fields`] when they are short strings, numbers or booleans; validation
//! lists (`errors`, `invalid-params`, `violations`) become one field per item, `errors[0]` =
//! `email: must be a valid address` (the item's field or pointer, then its message), and
//! ASP.NET's `errors: {"Email": ["..."]}` one per name, `errors.Email` = its first message.

use serde_json::{Map, Value};

use super::shapes::{aws_type, keep, looks_like_code};
use super::{GraphQlError, MAX_FIELDS, ServerSaid, Shape};

type Object = Map<String, Value>;

/// Members of problem details that are not extensions.
const PROBLEM_MEMBERS: &[&str] = &["type", "title", "detail", "status", "instance"];
/// OAuth 2 error codes (RFC 6749 4.1.2.1, 5.2; RFC 6750 3.1; RFC 8628 3.5).
const OAUTH_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "unsupported_response_type",
    "server_error",
    "temporarily_unavailable",
    "invalid_token",
    "insufficient_scope",
    "authorization_pending",
    "slow_down",
    "expired_token",
];
/// Members carrying a request id (for [`ServerSaid::instance`]).
const REQUEST_IDS: &[&str] = &[
    "request_id",
    "requestId",
    "RequestId",
    "request-id",
    "traceId",
    "trace_id",
    "correlationId",
    "correlation_id",
];
/// Lists of validation errors.
const VALIDATION_LISTS: &[&str] = &["errors", "invalid-params", "invalid_params", "violations"];
/// What names an item's subject in a validation list.
const ITEM_SUBJECT: &[&str] = &[
    "field",
    "name",
    "pointer",
    "path",
    "property",
    "parameter",
    "param",
    "loc",
];
/// What names an item's message in a validation list.
const ITEM_MESSAGE: &[&str] = &["message", "detail", "reason", "description", "msg", "title"];
const CODES: &[&str] = &["code", "errcode", "errorCode", "error_code", "Code"];
const MESSAGES: &[&str] = &[
    "message",
    "msg",
    "errmsg",
    "errorMessage",
    "error_message",
    "Message",
];

/// The error fields of a parsed JSON body, or `None` when it has none.
pub(super) fn read_json(value: &Value, content_type: &str) -> Option<ServerSaid> {
    let object = match value {
        Value::Object(object) => object,
        Value::Array(items) => items.iter().find_map(Value::as_object)?,
        _ => return None,
    };
    let said = if content_type.contains("problem+json") || is_problem(object) {
        problem(object)
    } else if let Some(errors) = graphql_errors(object, content_type) {
        graphql(object, errors)
    } else if let Some(Value::Object(error)) = member(object, "error") {
        error_object(object, error)
    } else if let Some(code) = oauth_code(object) {
        let mut said = ServerSaid::new(Shape::OAuthError);
        said.code = Some(code);
        said.message = text(object, &["error_description"]);
        rest(&mut said, object, &["error", "error_description"]);
        said
    } else if member(object, "error_code").is_some()
        && (member(object, "error_msg").is_some() || member(object, "error_message").is_some())
    {
        let mut said = ServerSaid::new(Shape::ErrorCodeMsg);
        said.code = code(object, &["error_code"]);
        said.message = text(object, &["error_msg", "error_message"]);
        rest(
            &mut said,
            object,
            &["error_code", "error_msg", "error_message"],
        );
        said
    } else if let (Some(c), Some(m)) = (code(object, CODES), text(object, MESSAGES)) {
        let mut said = ServerSaid::new(Shape::CodeMessage);
        said.code = Some(c);
        said.message = Some(m);
        rest(&mut said, object, &[CODES, MESSAGES].concat());
        said
    } else if let Some(m) = text(object, MESSAGES) {
        let mut said = ServerSaid::new(Shape::Message);
        said.message = Some(m);
        said.code = text(object, &["__type", "errorType"]).map(|t| aws_type(&t));
        // Spring Boot and the like: {"status": 401, "error": "Unauthorized", "message": ...}.
        said.title = text(object, &["error"]);
        said.status = status(object);
        let used = [MESSAGES, &["__type", "errorType", "error", "status"]].concat();
        rest(&mut said, object, &used);
        said
    } else {
        other(object)?
    };
    let mut said = said;
    if said.instance.is_none() {
        said.instance = text(object, REQUEST_IDS);
    }
    Some(said)
}

/// Problem details' own members, without `Content-Type` to say so.
fn is_problem(object: &Object) -> bool {
    let has_text = |name| matches!(member(object, name), Some(Value::String(_)));
    (has_text("title") || has_text("detail"))
        && (has_text("type") || matches!(member(object, "status"), Some(Value::Number(_))))
}

/// RFC 9457 problem details.
fn problem(object: &Object) -> ServerSaid {
    let mut said = ServerSaid::new(Shape::ProblemJson);
    said.code = text(object, &["type"]).filter(|t| t != "about:blank");
    said.title = text(object, &["title"]);
    said.message = text(object, &["detail"]);
    said.status = status(object);
    said.instance = text(object, &["instance"]);
    rest(&mut said, object, PROBLEM_MEMBERS);
    said
}

/// The `errors` of a GraphQL response, when `object` is one.
fn graphql_errors<'a>(object: &'a Object, content_type: &str) -> Option<&'a Vec<Value>> {
    let Some(Value::Array(errors)) = member(object, "errors") else {
        return None;
    };
    let items: Vec<&Object> = errors.iter().filter_map(Value::as_object).collect();
    if items.is_empty() || items.len() != errors.len() {
        return None;
    }
    let graphql_members = ["message", "locations", "path", "extensions"];
    let all_have_message = items.iter().all(|i| i.contains_key("message"));
    let graphql_only = items
        .iter()
        .all(|i| i.keys().all(|k| graphql_members.contains(&k.as_str())));
    let graphql_marks = items.iter().any(|i| {
        i.contains_key("locations") || i.contains_key("path") || i.contains_key("extensions")
    });
    (all_have_message
        && (object.contains_key("data")
            || content_type.contains("graphql")
            || graphql_marks
            || graphql_only))
        .then_some(errors)
}

/// A GraphQL response with errors.
fn graphql(object: &Object, errors: &[Value]) -> ServerSaid {
    let mut said = ServerSaid::new(Shape::GraphQl);
    said.graphql_total = errors.len();
    said.graphql_no_data = matches!(object.get("data"), None | Some(Value::Null));
    for error in errors.iter().filter_map(Value::as_object).take(MAX_FIELDS) {
        let code = match member(error, "extensions") {
            Some(Value::Object(ext)) => code(ext, &["code"]),
            _ => None,
        };
        let path = match member(error, "path") {
            Some(Value::Array(parts)) => {
                let joined: Vec<String> = parts
                    .iter()
                    .take(16)
                    .filter_map(|p| match p {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                keep(&joined.join("."))
            }
            _ => None,
        };
        said.graphql.push(GraphQlError {
            message: text(error, &["message"]),
            code,
            path,
        });
    }
    said.message = said.graphql.first().and_then(|e| e.message.clone());
    said.code = said.graphql.iter().find_map(|e| e.code.clone());
    said
}

/// `{"error": {"code", "message", "status", "details"}}`: Google's `google.rpc.Status`, Azure's
/// `{"error": {"code": "InvalidAuthenticationToken", "message", "target", "details",
/// "innererror"}}`, Google's older `errors: [{"domain", "reason", "message"}]`.
fn error_object(outer: &Object, error: &Object) -> ServerSaid {
    let mut said = ServerSaid::new(Shape::ErrorObject);
    let status = text(error, &["status"]);
    let numeric = code(error, &["code"]);
    said.code = status.clone().or_else(|| numeric.clone());
    said.message = text(error, MESSAGES);
    let mut fields = Fields::default();
    if status.is_some()
        && let Some(n) = numeric
    {
        fields.push("code", n);
    }
    for list in ["details", "errors"] {
        if let Some(Value::Array(items)) = member(error, list)
            && let Some(first) = items.iter().find_map(Value::as_object)
        {
            for name in ["reason", "domain"] {
                if let Some(v) = text(first, &[name]) {
                    fields.push(name, v);
                }
            }
            if let (Some(c), Some(m)) = (code(first, &["code"]), text(first, &["message"])) {
                fields.push(&format!("{list}[0]"), format!("{c}: {m}"));
            }
        }
    }
    if let Some(target) = text(error, &["target"]) {
        fields.push("target", target);
    }
    if let Some(Value::Object(inner)) = member(error, "innererror")
        && let Some(c) = code(inner, &["code"])
    {
        fields.push("innererror.code", c);
    }
    said.fields = fields.0;
    said.instance = text(error, REQUEST_IDS).or_else(|| text(outer, REQUEST_IDS));
    said
}

/// The OAuth error code of a token endpoint's answer: `error` is a string and either an OAuth
/// code or beside `error_description` / `error_uri`.
fn oauth_code(object: &Object) -> Option<String> {
    let Some(Value::String(error)) = member(object, "error") else {
        return None;
    };
    let described = object.contains_key("error_description") || object.contains_key("error_uri");
    (described || OAUTH_CODES.contains(&error.as_str()))
        .then(|| code(object, &["error"]))
        .flatten()
}

/// An object of no known shape: the first members, up to three levels deep, whose names say
/// error, message, reason, description, detail, fault or code.
fn other(object: &Object) -> Option<ServerSaid> {
    let mut found = Fields::default();
    walk(object, "", 0, &mut found);
    if found.0.is_empty() {
        return None;
    }
    let mut said = ServerSaid::new(Shape::OtherJson);
    let last = |name: &str| name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    said.message = found
        .0
        .iter()
        .find(|(n, _)| !last(n).ends_with("code") && !last(n).ends_with("type"))
        .map(|(_, v)| v.clone());
    said.code = found
        .0
        .iter()
        .find(|(n, v)| last(n).ends_with("code") && looks_like_code(v))
        .map(|(_, v)| v.clone());
    said.fields = found.0;
    Some(said)
}

/// Collects the error-named scalar members of `object` (paths joined with `.`).
fn walk(object: &Object, prefix: &str, depth: usize, found: &mut Fields) {
    const WORDS: &[&str] = &[
        "error",
        "message",
        "msg",
        "reason",
        "description",
        "detail",
        "fault",
        "code",
        "cause",
    ];
    for (name, value) in object.iter().take(64) {
        if crate::redact::is_secret_name(name) && name != "code" {
            continue;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let lower = name.to_ascii_lowercase();
        match value {
            Value::Object(inner) if depth < 2 => walk(inner, &path, depth + 1, found),
            Value::String(_) | Value::Number(_) if WORDS.iter().any(|w| lower.contains(w)) => {
                if let Some(v) = scalar(value) {
                    found.push(&path, v);
                }
            }
            _ => {}
        }
    }
}

/// Members not read by the shape: short scalars as fields, validation lists item by item.
fn rest(said: &mut ServerSaid, object: &Object, used: &[&str]) {
    let mut fields = Fields(std::mem::take(&mut said.fields));
    for (name, value) in object {
        if used.contains(&name.as_str()) || REQUEST_IDS.contains(&name.as_str()) {
            continue;
        }
        match value {
            Value::Array(items) if VALIDATION_LISTS.contains(&name.as_str()) => {
                for (i, item) in items.iter().enumerate().take(MAX_FIELDS) {
                    if let Some(v) = validation_item(item) {
                        fields.push(&format!("{name}[{i}]"), v);
                    }
                }
            }
            Value::Object(by_name) if VALIDATION_LISTS.contains(&name.as_str()) => {
                for (field, messages) in by_name.iter().take(MAX_FIELDS) {
                    let first = match messages {
                        Value::Array(list) => list.first().and_then(scalar),
                        other => scalar(other),
                    };
                    if let Some(v) = first {
                        fields.push(&format!("{name}.{field}"), v);
                    }
                }
            }
            Value::String(s) if s.chars().count() > 200 => {}
            _ => {
                if let Some(v) = scalar(value) {
                    fields.push(name, v);
                }
            }
        }
    }
    said.fields = fields.0;
}

/// One item of a validation list: `subject: message`, or the item itself when it is a string.
fn validation_item(item: &Value) -> Option<String> {
    let object = match item {
        Value::Object(object) => object,
        other => return scalar(other),
    };
    let subject = ITEM_SUBJECT
        .iter()
        .find_map(|name| match member(object, name)? {
            Value::Array(parts) => {
                let parts: Vec<String> = parts.iter().take(8).filter_map(scalar).collect();
                (!parts.is_empty()).then(|| parts.join("."))
            }
            other => scalar(other),
        });
    let message = text(object, ITEM_MESSAGE);
    match (subject, message) {
        (Some(s), Some(m)) => keep(&format!("{s}: {m}")),
        (None, Some(m)) => Some(m),
        (Some(s), None) => Some(s),
        (None, None) => None,
    }
}

/// Fields named and kept, at most [`MAX_FIELDS`], none with a secret name (a `code` only when
/// its value looks like an error code).
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn push(&mut self, name: &str, value: String) {
        let last = name.rsplit(['.', '[']).next().unwrap_or(name);
        let secret = match last {
            // An OAuth authorization code is named `code` too.
            "code" => !looks_like_code(&value),
            _ => crate::redact::is_secret_name(last),
        };
        if self.0.len() >= MAX_FIELDS || secret {
            return;
        }
        if let Some(name) = keep(name) {
            self.0.push((name, value));
        }
    }
}

/// A member that is not null, unless its name looks secret (`code` excepted: the shapes that
/// read it check that its value looks like an error code).
fn member<'a>(object: &'a Object, name: &str) -> Option<&'a Value> {
    if name != "code" && crate::redact::is_secret_name(name) {
        return None;
    }
    object.get(name).filter(|v| !v.is_null())
}

/// The first of `names` that is a string, number or boolean, kept.
fn text(object: &Object, names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| member(object, n).and_then(scalar))
}

/// The first of `names` that is a number or a string shaped like an error code.
fn code(object: &Object, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| match member(object, n)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if looks_like_code(s) => keep(s),
        _ => None,
    })
}

/// A string, number or boolean, kept.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => keep(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A `status` member that is an HTTP status (number or digits).
fn status(object: &Object) -> Option<u16> {
    let status = match member(object, "status")? {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (100..=599).contains(&status).then_some(status)
}
