//! Bodies written in each vendor's documented shape.

use super::*;
use crate::app::said::{DEFAULT_BODY_LIMIT, DefaultPage, MAX_FIELDS};

pub(super) fn ctx(status: u16, content_type: &str) -> BodyContext<'_> {
    BodyContext {
        status,
        content_type: Some(content_type),
        content_encoding: None,
        cut: false,
        gap: false,
        limit: DEFAULT_BODY_LIMIT,
    }
}

pub(super) fn read(status: u16, content_type: &str, body: &str) -> ServerSaid {
    read_error_body(&ctx(status, content_type), body.as_bytes()).expect("something said")
}

fn field<'a>(said: &'a ServerSaid, name: &str) -> Option<&'a str> {
    said.fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn rfc9457_problem_details() {
    // RFC 9457 section 3's example, and its validation extension of section 3.
    let said = read(
        403,
        "application/problem+json",
        r#"{
 "type": "https://example.com/probs/out-of-credit",
 "title": "You do not have enough credit.",
 "detail": "Your current balance is 30, but that costs 50.",
 "instance": "/account/12345/msgs/abc",
 "balance": 30,
 "accounts": ["/account/12345", "/account/67890"]
}"#,
    );
    assert_eq!(said.shape, Shape::ProblemJson);
    assert_eq!(
        said.code.as_deref(),
        Some("https://example.com/probs/out-of-credit")
    );
    assert_eq!(
        said.title.as_deref(),
        Some("You do not have enough credit.")
    );
    assert_eq!(
        said.message.as_deref(),
        Some("Your current balance is 30, but that costs 50.")
    );
    assert_eq!(said.instance.as_deref(), Some("/account/12345/msgs/abc"));
    assert_eq!(field(&said, "balance"), Some("30"));
    assert_eq!(said.incomplete, None);

    let said = read(
        422,
        "application/json",
        r##"{"type": "https://example.net/validation-error", "title": "Your request is not valid.", "status": 422,
 "errors": [{"detail": "must be a positive integer", "pointer": "#/age"},
            {"detail": "must be 'green', 'red' or 'blue'", "pointer": "#/profile/color"}]}"##,
    );
    assert_eq!(said.shape, Shape::ProblemJson);
    assert_eq!(said.status, Some(422));
    assert_eq!(
        field(&said, "errors[0]"),
        Some("#/age: must be a positive integer")
    );
    assert_eq!(
        field(&said, "errors[1]"),
        Some("#/profile/color: must be 'green', 'red' or 'blue'")
    );
    // RFC 7807's invalid-params, and ASP.NET's ValidationProblemDetails.
    let said = read(
        400,
        "application/problem+json",
        r#"{"type":"https://example.net/validation-error","title":"Your request parameters didn't validate.",
 "invalid-params":[{"name":"age","reason":"must be a positive integer"}]}"#,
    );
    assert_eq!(
        field(&said, "invalid-params[0]"),
        Some("age: must be a positive integer")
    );
    let said = read(
        400,
        "application/problem+json; charset=utf-8",
        r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.",
 "status":400,"errors":{"Email":["The Email field is not a valid e-mail address."]},"traceId":"00-84c1-01"}"#,
    );
    assert_eq!(
        field(&said, "errors.Email"),
        Some("The Email field is not a valid e-mail address.")
    );
    assert_eq!(said.instance.as_deref(), Some("00-84c1-01"));
}

#[test]
fn google_and_azure_error_objects() {
    // cloud.google.com/apis/design/errors: google.rpc.Status as JSON, an ErrorInfo detail.
    let said = read(
        403,
        "application/json; charset=UTF-8",
        r#"{
  "error": {
    "code": 403,
    "message": "Cloud Pub/Sub API has not been used in project 123 before or it is disabled.",
    "status": "PERMISSION_DENIED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
        "metadata": {"service": "pubsub.googleapis.com", "consumer": "projects/123"}
      }
    ]
  }
}"#,
    );
    assert_eq!(said.shape, Shape::ErrorObject);
    assert_eq!(said.code.as_deref(), Some("PERMISSION_DENIED"));
    assert!(
        said.message
            .as_deref()
            .unwrap()
            .starts_with("Cloud Pub/Sub API")
    );
    assert_eq!(field(&said, "reason"), Some("SERVICE_DISABLED"));
    assert_eq!(field(&said, "domain"), Some("googleapis.com"));
    assert_eq!(field(&said, "code"), Some("403"));

    // Microsoft Graph / Azure REST: {"error": {"code", "message", "innerError"}}.
    let said = read(
        401,
        "application/json",
        r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid.",
 "innererror":{"code":"ExpiredToken","date":"2024-05-01T10:00:00","request-id":"0c6a2b5e-1d3c-4c55-9a54-0e0b3f9f6f1d"}}}"#,
    );
    assert_eq!(said.shape, Shape::ErrorObject);
    assert_eq!(said.code.as_deref(), Some("InvalidAuthenticationToken"));
    assert_eq!(
        said.message.as_deref(),
        Some("Access token has expired or is not yet valid.")
    );
    assert_eq!(field(&said, "innererror.code"), Some("ExpiredToken"));

    // Google's older JSON errors list.
    let said = read(
        401,
        "application/json",
        r#"{"error":{"errors":[{"domain":"global","reason":"authError","message":"Invalid Credentials","locationType":"header","location":"Authorization"}],"code":401,"message":"Invalid Credentials"}}"#,
    );
    assert_eq!(said.code.as_deref(), Some("401"));
    assert_eq!(field(&said, "reason"), Some("authError"));
}

#[test]
fn oauth_token_endpoint_errors() {
    // RFC 6749 5.2.
    let said = read(
        400,
        "application/json;charset=UTF-8",
        r#"{"error":"invalid_grant","error_description":"The refresh token has expired","error_uri":"https://auth.example.com/docs/errors#invalid_grant"}"#,
    );
    assert_eq!(said.shape, Shape::OAuthError);
    assert_eq!(said.code.as_deref(), Some("invalid_grant"));
    assert_eq!(
        said.message.as_deref(),
        Some("The refresh token has expired")
    );
    assert_eq!(
        field(&said, "error_uri"),
        Some("https://auth.example.com/docs/errors#invalid_grant")
    );
    let said = read(401, "application/json", r#"{"error":"invalid_client"}"#);
    assert_eq!(said.shape, Shape::OAuthError);
    assert_eq!(said.code.as_deref(), Some("invalid_client"));
}

#[test]
fn api_gateway_error_code_and_msg() {
    // Huawei APIG's documented error body.
    let said = read(
        404,
        "application/json",
        r#"{"error_msg":"No API found in group","error_code":"APIG.0101","request_id":"9c4e2d1a8f3b47c6a0d5e7f1b2c3d4e5"}"#,
    );
    assert_eq!(said.shape, Shape::ErrorCodeMsg);
    assert_eq!(said.code.as_deref(), Some("APIG.0101"));
    assert_eq!(said.message.as_deref(), Some("No API found in group"));
    // A request id of 32 hex digits is shaped like a key: redacted, as any such string.
    assert_eq!(said.instance.as_deref(), Some("REDACTED"));
    let said = read(
        401,
        "application/json",
        r#"{"error_msg":"Incorrect app authentication information: app not found","error_code":"APIG.0101","request_id":"req-77"}"#,
    );
    assert_eq!(said.instance.as_deref(), Some("req-77"));
}

#[test]
fn code_and_message() {
    let said = read(
        429,
        "application/json",
        r#"{"code":42901,"message":"Too many requests, retry after 3 s","data":null}"#,
    );
    assert_eq!(said.shape, Shape::CodeMessage);
    assert_eq!(said.code.as_deref(), Some("42901"));
    assert_eq!(
        said.message.as_deref(),
        Some("Too many requests, retry after 3 s")
    );
    let said = read(
        401,
        "application/json",
        r#"{"errcode":40001,"errmsg":"invalid credential"}"#,
    );
    assert_eq!(said.code.as_deref(), Some("40001"));
    assert_eq!(said.message.as_deref(), Some("invalid credential"));
    // Salesforce: a list of errors.
    let said = read(
        401,
        "application/json",
        r#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
    );
    assert_eq!(said.shape, Shape::CodeMessage);
    assert_eq!(said.code.as_deref(), Some("INVALID_SESSION_ID"));
}

#[test]
fn aws_messages() {
    // API Gateway REST: {"message": ...} with x-amzn-ErrorType in the headers.
    let said = read(
        403,
        "application/json",
        r#"{"message":"Missing Authentication Token"}"#,
    );
    assert_eq!(said.shape, Shape::Message);
    assert_eq!(
        said.message.as_deref(),
        Some("Missing Authentication Token")
    );
    assert_eq!(said.code, None);
    // AWS JSON protocol: __type names the error.
    let said = read(
        400,
        "application/x-amz-json-1.1",
        r#"{"__type":"com.amazon.coral.service#AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/dev is not authorized to perform: dynamodb:GetItem"}"#,
    );
    assert_eq!(said.shape, Shape::Message);
    assert_eq!(said.code.as_deref(), Some("AccessDeniedException"));
    assert!(
        said.message
            .as_deref()
            .unwrap()
            .contains("is not authorized")
    );
    let said = read(
        400,
        "application/x-amz-json-1.0",
        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
    );
    assert_eq!(said.code.as_deref(), Some("ThrottlingException"));
    // Lambda's function error.
    let said = read(
        502,
        "application/json",
        r#"{"errorMessage":"Task timed out after 3.00 seconds","errorType":"Runtime.ExitError"}"#,
    );
    assert_eq!(said.code.as_deref(), Some("Runtime.ExitError"));
    // Spring Boot's error attributes.
    let said = read(
        401,
        "application/json",
        r#"{"timestamp":"2024-05-01T10:00:00.000+00:00","status":401,"error":"Unauthorized","message":"Full authentication is required","path":"/api/orders"}"#,
    );
    assert_eq!(said.shape, Shape::Message);
    assert_eq!(said.title.as_deref(), Some("Unauthorized"));
    assert_eq!(said.status, Some(401));
    assert_eq!(field(&said, "path"), Some("/api/orders"));
}

#[test]
fn graphql_errors_even_with_200() {
    // GraphQL over HTTP: a field error with partial data, then a whole-operation failure.
    let said = read(
        200,
        "application/graphql-response+json",
        r#"{"errors":[{"message":"Name for character with ID 1002 could not be fetched.","locations":[{"line":6,"column":7}],"path":["hero","heroFriends",1,"name"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}],
 "data":{"hero":{"name":"R2-D2","heroFriends":[{"id":"1000","name":"Luke Skywalker"},null]}}}"#,
    );
    assert_eq!(said.shape, Shape::GraphQl);
    assert_eq!(said.graphql_total, 1);
    assert!(!said.graphql_no_data);
    assert_eq!(said.code.as_deref(), Some("INTERNAL_SERVER_ERROR"));
    assert_eq!(
        said.graphql[0].path.as_deref(),
        Some("hero.heroFriends.1.name")
    );
    let many: Vec<String> = (0..12)
        .map(|i| {
            format!(r#"{{"message":"field {i} invalid","extensions":{{"code":"BAD_USER_INPUT"}}}}"#)
        })
        .collect();
    let body = format!(r#"{{"errors":[{}],"data":null}}"#, many.join(","));
    let said = read(200, "application/json", &body);
    assert_eq!(said.shape, Shape::GraphQl);
    assert_eq!(said.graphql_total, 12);
    assert_eq!(said.graphql.len(), MAX_FIELDS);
    assert!(said.graphql_no_data);
    assert_eq!(said.message.as_deref(), Some("field 0 invalid"));
    assert_eq!(said.code.as_deref(), Some("BAD_USER_INPUT"));
    // A healthy GraphQL answer says nothing, whatever its data's members are named.
    let healthy =
        r#"{"data":{"product":{"description":"Error-free widget","message":"hi","code":"W-1"}}}"#;
    assert!(read_error_body(&ctx(200, "application/json"), healthy.as_bytes()).is_none());
    // Without data, errors alone in GraphQL's own members.
    let said = read(
        200,
        "application/json",
        r#"{"errors":[{"message":"Unknown field 'x'"}]}"#,
    );
    assert_eq!(said.shape, Shape::GraphQl);
    assert!(said.graphql_no_data);
}

#[test]
fn other_json_gives_error_named_members() {
    // Apigee's fault.
    let said = read(
        401,
        "application/json",
        r#"{"fault":{"faultstring":"Invalid ApiKey","detail":{"errorcode":"oauth.v2.InvalidApiKey"}}}"#,
    );
    assert_eq!(said.shape, Shape::OtherJson);
    assert_eq!(said.message.as_deref(), Some("Invalid ApiKey"));
    assert_eq!(said.code.as_deref(), Some("oauth.v2.InvalidApiKey"));
    assert!(
        read_error_body(&ctx(500, "application/json"), br#"{"ok":false,"items":[]}"#).is_none()
    );
}

#[test]
fn proxy_pages_and_text() {
    let said = read(
        502,
        "text/html",
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
    );
    assert_eq!(said.shape, Shape::Html);
    assert_eq!(said.page, Some(DefaultPage::Nginx));
    assert_eq!(said.title.as_deref(), Some("502 Bad Gateway"));
    assert_eq!(said.message, None);
    let said = read(
        503,
        "text/html",
        "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n",
    );
    assert_eq!(said.page, Some(DefaultPage::Haproxy));
    assert_eq!(said.title.as_deref(), Some("503 Service Unavailable"));
    let said = read(
        503,
        "text/plain",
        "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
    );
    assert_eq!(said.shape, Shape::Text);
    assert_eq!(
        said.page,
        Some(DefaultPage::Envoy {
            reason: Some("connection failure".to_string())
        })
    );
    assert!(
        said.message
            .as_deref()
            .unwrap()
            .starts_with("upstream connect error")
    );
    let said = read(
        404,
        "text/plain; charset=utf-8",
        "\n\n  404 page not found\nmore\n",
    );
    assert_eq!(said.message.as_deref(), Some("404 page not found"));
    assert_eq!(said.page, None);
    // An application page: its title, entities decoded, tags inside removed.
    let said = read(
        500,
        "text/html",
        "<!doctype html><html><head><title>Oops &amp; <b>sorry</b></title></head></html>",
    );
    assert_eq!(said.title.as_deref(), Some("Oops & sorry"));
    assert_eq!(said.page, None);
}

#[test]
fn s3_xml_errors() {
    let said = read(
        403,
        "application/xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>",
    );
    assert_eq!(said.shape, Shape::CodeMessage);
    assert_eq!(said.code.as_deref(), Some("AccessDenied"));
    assert_eq!(said.message.as_deref(), Some("Access Denied"));
    assert_eq!(said.instance.as_deref(), Some("4442587FB7D0A2F9"));
}

#[test]
fn secrets_never_come_out() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    let body = format!(
        r#"{{"message":"Invalid token {jwt}","api_key":"abc","access_token":"t0k3n","client_secret":"s3cr3t",
 "nested":{{"password":"hunter2"}},"code":"SplxlOBeZQQYbYS6WxSbIA","hint":"Bearer abcdefgh12345678 rejected"}}"#
    );
    let said = read(401, "application/json", &body);
    let all = format!("{said:?}");
    for secret in [
        jwt,
        "abc\"",
        "t0k3n",
        "s3cr3t",
        "hunter2",
        "SplxlOBeZQQYbYS6WxSbIA",
        "abcdefgh12345678",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    assert_eq!(said.message.as_deref(), Some("Invalid token REDACTED"));
    assert_eq!(field(&said, "hint"), Some("Bearer REDACTED rejected"));
    // Secret-named members are skipped at any depth, in any shape.
    let said = read(
        400,
        "application/json",
        r#"{"error":"invalid_request","error_description":"bad","refresh_token":"r-123","fault":{"signature":"x"}}"#,
    );
    assert!(!format!("{said:?}").contains("r-123"));
    let said = read(
        500,
        "application/json",
        r#"{"fault":{"faultstring":"boom","session_id":"abc123","auth":{"error":"zzz"}}}"#,
    );
    let all = format!("{said:?}");
    assert!(!all.contains("abc123") && !all.contains("zzz"), "{all}");
}

#[test]
fn strings_are_cleaned_and_clipped() {
    let long = "x".repeat(1000);
    let body = format!(r#"{{"message":"line one\nline\ttwo\u0007 {long}"}}"#);
    let said = read(500, "application/json", &body);
    let message = said.message.unwrap();
    assert!(message.starts_with("line one line two xxx"), "{message}");
    assert_eq!(message.chars().count(), MAX_FIELD + 3);
    assert!(message.ends_with("..."));
    // Not UTF-8: replaced, not refused.
    let mut body = br#"{"message":"caf"#.to_vec();
    body.extend_from_slice(&[0xe9]);
    body.extend_from_slice(br#" closed"}"#);
    let said = read_error_body(&ctx(500, "application/json"), &body).unwrap();
    assert_eq!(said.message.as_deref(), Some("caf\u{fffd} closed"));
}
