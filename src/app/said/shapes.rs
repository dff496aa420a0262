//! The entry point of body reading: [`read_error_body`] decodes the body, tells JSON, HTML, XML
//! and text apart (by `Content-Type`, then by the first byte), and keeps the error fields.
//!
//! Every string kept passes through [`keep`]: runs of white space (line breaks and tabs
//! included) become one space, other control characters are dropped, secrets are redacted
//! ([`crate::redact::redact_text`]) and the result is cut at [`MAX_FIELD`] characters with
//! `...`. JSON members whose name looks secret ([`crate::redact::is_secret_name`]) are never
//! read, at any depth (see [`super::json`]).
//!
//! A body cut short (the collector's limit, a gap in the capture, compressed data that broke
//! off) still gives what it can: JSON that no longer parses is scanned for its message members
//! (`"message"`, `"detail"`, `"error_msg"`, `"error_description"`...) in the bytes there are,
//! and [`ServerSaid::incomplete`] says why the body was not read whole.

use std::borrow::Cow;

use super::decode::{Short, decode};
use super::json::read_json;
use super::pages::default_page;
use super::{BodyContext, GraphQlError, MAX_FIELD, ServerSaid, Shape};

/// How many characters of a string are looked at before it is redacted and cut (a secret
/// straddling this point is still redacted: its first part keeps its shape).
const LOOK: usize = 4 * MAX_FIELD;

/// What the body of an error response (or of a GraphQL answer) says, in the server's words:
/// `None` for an empty body or one that yields nothing (binary data, a page without a title),
/// and for a 2xx body without GraphQL errors.
/// A body that could not be decompressed gives a [`ServerSaid`] with nothing but
/// [`ServerSaid::incomplete`] saying so.
pub fn read_error_body(ctx: &BodyContext<'_>, body: &[u8]) -> Option<ServerSaid> {
    if body.is_empty() {
        return None;
    }
    let content_type = ctx.content_type.unwrap_or_default().to_ascii_lowercase();
    let decoded = match decode(ctx.content_encoding, body, ctx.limit) {
        Ok(decoded) => decoded,
        Err(e) => {
            let mut said = ServerSaid::new(shape_of_type(&content_type));
            said.incomplete = keep(&e.to_string());
            return Some(said);
        }
    };
    if decoded.bytes.is_empty() {
        return None;
    }
    // Why the bytes are not the whole body, if they are not.
    let short = match &decoded.short {
        Some(Short::Broken(why)) => Some(why.clone()),
        _ if ctx.gap => Some("gap in the body (bytes the capture never saw)".to_string()),
        Some(Short::Limit) => Some(format!("body cut at {} bytes", decoded.bytes.len())),
        None if ctx.cut => Some(format!("body cut at {} bytes", decoded.bytes.len())),
        None => None,
    };
    let text = String::from_utf8_lossy(&decoded.bytes);
    let start = text.trim_start();
    let first = start.chars().next()?;
    // JSON proves itself by parsing (its messages may be in a legacy encoding, not UTF-8);
    // anything else must look like text.
    let mut said = if matches!(first, '{' | '[') {
        json_body(&content_type, &decoded.bytes, &text, short.is_some())
    } else if !plausible_text(&text) {
        None
    } else if first == '<' && looks_xml(start, &content_type) {
        xml_body(start).or_else(|| html_body(&text))
    } else if first == '<' {
        html_body(&text)
    } else {
        text_body(&text)
    }?;
    let nothing = said.code.is_none()
        && said.title.is_none()
        && said.message.is_none()
        && said.fields.is_empty()
        && said.graphql.is_empty()
        && said.page.is_none();
    // A 2xx body is read for GraphQL errors only: the rest of a healthy answer is data, whatever
    // its members are named.
    if nothing || (200..300).contains(&ctx.status) && said.shape != Shape::GraphQl {
        return None;
    }
    if said.incomplete.is_none() {
        said.incomplete = short.and_then(|why| keep(&why));
    }
    Some(said)
}

/// The shape a body of this content type would have had (for one that could not be decoded).
fn shape_of_type(content_type: &str) -> Shape {
    if content_type.contains("problem+json") {
        Shape::ProblemJson
    } else if content_type.contains("json") {
        Shape::OtherJson
    } else if content_type.contains("html") {
        Shape::Html
    } else {
        Shape::Text
    }
}

/// A JSON body: parsed whole, or when that fails, scanned for its message members.
fn json_body(content_type: &str, bytes: &[u8], text: &str, short: bool) -> Option<ServerSaid> {
    let parsed = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => Ok(value),
        // Not UTF-8 inside a string: read it as the lossy text instead.
        Err(_) if std::str::from_utf8(bytes).is_err() => serde_json::from_str(text),
        Err(e) => Err(e),
    };
    match parsed {
        Ok(value) => read_json(&value, content_type),
        Err(e) => {
            let mut said = scan_cut_json(text, content_type)?;
            // When the body is short, the caller's reason (cut, gap, broken compression) is
            // the better one.
            if !short {
                said.incomplete = Some(if e.is_eof() {
                    format!("JSON ends early, at {} bytes", bytes.len())
                } else {
                    "invalid JSON".to_string()
                });
            }
            Some(said)
        }
    }
}

/// The string members of a cut JSON text that carry an error's words, found by a plain scan:
/// the first of each named member, its value read up to its closing quote or the cut.
fn scan_cut_json(text: &str, content_type: &str) -> Option<ServerSaid> {
    let member = |names: &[&str]| names.iter().find_map(|name| string_member(text, name));
    let error_msg = member(&["error_msg", "error_message"]);
    let description = member(&["error_description"]);
    let detail = member(&["detail"]);
    let message = member(&["message", "Message", "errorMessage"]);
    let mut said = if let Some(msg) = error_msg {
        let mut said = ServerSaid::new(Shape::ErrorCodeMsg);
        said.code = member(&["error_code"]);
        said.message = Some(msg);
        said
    } else if let Some(description) = description {
        let mut said = ServerSaid::new(Shape::OAuthError);
        said.code = member(&["error"]);
        said.message = Some(description);
        said
    } else if let Some(detail) = detail {
        let mut said = ServerSaid::new(Shape::ProblemJson);
        said.code = member(&["type"]);
        said.title = member(&["title"]);
        said.message = Some(detail);
        said
    } else if let Some(message) = message {
        // GraphQL: `errors` before the first message, and GraphQL's own members or type.
        let errors_first = match (text.find("\"errors\""), text.find("\"message\"")) {
            (Some(errors), Some(message)) => errors < message,
            _ => false,
        };
        let graphql_marks = content_type.contains("graphql")
            || ["\"locations\"", "\"extensions\"", "\"data\""]
                .iter()
                .any(|m| text.contains(m));
        if errors_first && graphql_marks {
            let mut said = ServerSaid::new(Shape::GraphQl);
            said.graphql.push(GraphQlError {
                message: Some(message.clone()),
                code: None,
                path: None,
            });
            said.graphql_total = 1;
            said.message = Some(message);
            said
        } else {
            let mut said = ServerSaid::new(Shape::Message);
            said.code = member(&["__type"]).map(|t| aws_type(&t));
            said.message = Some(message);
            said
        }
    } else {
        return None;
    };
    said.instance = member(&["request_id", "requestId", "instance"]);
    Some(said)
}

/// The value of the first `"name": "..."` member in `text`, unescaped and kept ([`keep`]); a
/// value cut by the end of the text is read as far as it goes.
fn string_member(text: &str, name: &str) -> Option<String> {
    let quoted = format!("\"{name}\"");
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|t| t.find(&quoted)) {
        let after = from + at + quoted.len();
        from = after;
        let rest = text.get(after..)?.trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('"') else {
            continue;
        };
        return keep(&unescape_prefix(value));
    }
    None
}

/// A JSON string's contents up to its closing quote (or the end of `value`), escapes undone,
/// at most [`LOOK`] characters.
fn unescape_prefix(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if out.len() >= LOOK {
            break;
        }
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n' | 't' | 'r' | 'b' | 'f') => out.push(' '),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .unwrap_or(char::REPLACEMENT_CHARACTER);
                    out.push(c);
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    out
}

/// Whether a body starting with `<` is XML rather than HTML.
fn looks_xml(start: &str, content_type: &str) -> bool {
    let head: String = start
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    (content_type.contains("xml") && !content_type.contains("html"))
        || (head.starts_with("<?xml")
            && !head.contains("<!doctype html")
            && !head.contains("<html"))
        || head.starts_with("<error")
}

/// An XML error document in the style of S3's `<Error><Code>AccessDenied</Code><Message>...`
/// (elements `Code`, `Message`, `RequestId`), else nothing.
fn xml_body(text: &str) -> Option<ServerSaid> {
    let code = element(text, "Code").filter(|c| looks_like_code(c));
    let message = element(text, "Message");
    if code.is_none() && message.is_none() {
        return None;
    }
    let mut said = ServerSaid::new(Shape::CodeMessage);
    said.code = code;
    said.message = message;
    said.instance = element(text, "RequestId");
    Some(said)
}

/// The text of the first `<name>...</name>` element, kept.
fn element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let rest = text.get(start..)?;
    let inner = rest.find(&close).map_or(rest, |end| &rest[..end]);
    keep(&entities(inner))
}

/// An HTML page: the proxy whose default page it is, and its `<title>` (or first `<h1>`). Its
/// text is not quoted as a message: a page has no one message to quote.
fn html_body(text: &str) -> Option<ServerSaid> {
    let lower = text.to_ascii_lowercase();
    let title = tag_text(text, &lower, "title").or_else(|| tag_text(text, &lower, "h1"));
    let page = default_page(text);
    if title.is_none() && page.is_none() {
        return None;
    }
    let mut said = ServerSaid::new(Shape::Html);
    said.title = title;
    said.page = page;
    Some(said)
}

/// The text inside the first `<tag ...>...</tag>` (tags inside it removed, entities decoded),
/// kept. `lower` is `text` in ASCII lower case (same byte offsets).
fn tag_text(text: &str, lower: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let mut from = 0;
    let start = loop {
        let at = from + lower.get(from..)?.find(&open)?;
        let after = at + open.len();
        // `<title>` or `<title lang=...>`, not `<titles>`.
        match lower.as_bytes().get(after) {
            Some(b'>' | b' ' | b'\t' | b'\r' | b'\n') => {
                break after + lower.get(after..)?.find('>')? + 1;
            }
            _ => from = after,
        }
    };
    let end = lower
        .get(start..)?
        .find(&format!("</{tag}"))
        .map_or(text.len(), |e| start + e);
    let inner = text.get(start..end)?;
    let mut plain = String::new();
    let mut in_tag = false;
    for c in inner.chars().take(LOOK) {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    keep(&entities(&plain))
}

/// The common HTML entities decoded (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`, `&nbsp;`,
/// numeric ones).
fn entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let num = name.strip_prefix('#')?;
                    let n = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(n)?
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// A text body: its first non-empty line, and the proxy whose local reply it is (Envoy's are
/// plain text).
fn text_body(text: &str) -> Option<ServerSaid> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let mut said = ServerSaid::new(Shape::Text);
    said.message = keep(line);
    said.page = default_page(text);
    said.message.is_some().then_some(said)
}

/// Whether decoded bytes (as lossy text) are text at all: no NUL, few control characters, few
/// bytes that were not UTF-8.
fn plausible_text(text: &str) -> bool {
    let mut odd = 0usize;
    let mut all = 0usize;
    for c in text.chars() {
        all += 1;
        match c {
            '\0' => return false,
            '\t' | '\r' | '\n' => {}
            c if c.is_control() || c == char::REPLACEMENT_CHARACTER => odd += 1,
            _ => {}
        }
    }
    odd.saturating_mul(8) <= all
}

/// `text` made fit to quote: white space runs become one space, other control characters go,
/// secrets are redacted, and it is cut at [`MAX_FIELD`] characters (with `...`). `None` when
/// nothing is left.
pub(super) fn keep(text: &str) -> Option<String> {
    let mut clean = String::with_capacity(text.len().min(LOOK));
    let mut space = false;
    let mut more = false;
    let mut count = 0;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !clean.is_empty();
            continue;
        }
        if c.is_control() {
            continue;
        }
        if count >= LOOK {
            more = true;
            break;
        }
        if space {
            clean.push(' ');
            space = false;
            count += 1;
        }
        clean.push(c);
        count += 1;
    }
    if clean.is_empty() {
        return None;
    }
    let redacted = crate::redact::redact_text(&clean);
    let mut chars = redacted.char_indices();
    match chars.nth(MAX_FIELD) {
        None if !more => Some(redacted.into_owned()),
        None => Some(format!("{redacted}...")),
        Some((cut, _)) => Some(format!("{}...", &redacted[..cut])),
    }
}

/// Whether a `code` value looks like an error code (`APIG.0101`, `PERMISSION_DENIED`,
/// `InvalidAuthenticationToken`, `40001`) rather than a credential (an OAuth authorization
/// code is also named `code`): at most 64 characters of letters, digits and `._-:#/ `, and not
/// upper case, lower case and digits mixed in one word without a separator.
pub(super) fn looks_like_code(code: &str) -> bool {
    let ok_chars = code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-:#/ ".contains(c));
    let random = code
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            word.chars().any(|c| c.is_ascii_uppercase())
                && word.chars().any(|c| c.is_ascii_lowercase())
                && word.chars().any(|c| c.is_ascii_digit())
        });
    !code.is_empty() && code.len() <= 64 && ok_chars && !random
}

/// The error name of an AWS `__type` or `x-amzn-ErrorType`: after the last `#`, before a `:`
/// (`com.amazon.coral.service#AccessDeniedException` -> `AccessDeniedException`).
pub(super) fn aws_type(value: &str) -> String {
    let name = value.rsplit('#').next().unwrap_or(value);
    name.split(':').next().unwrap_or(name).trim().to_string()
}

#[cfg(test)]
#[path = "shapes_cut_tests.rs"]
mod cut_tests;
#[cfg(test)]
#[path = "shapes_tests.rs"]
mod tests;
