//! The route an HTTP call took: its method and its path with the values that vary from call to
//! call folded (`GET /v1/orders/12345?expand=items` -> `GET /v1/orders/{id}`), so calls to the
//! same API operation group together whatever record they named.
//!
//! A path segment is folded to `{id}` when it is a value rather than a name: all digits, a
//! UUID, a run of hex of 8 or more digits holding a digit, a long token (16 or more letters,
//! digits, `-`, `_` or `.` mixing letters and digits: ULIDs, base64 ids, opaque keys), a date or
//! a number with separators (`2026-12-03`, `1.5`), an e-mail address. A name stays: `v1`,
//! `oauth2`, `health`, `users`, `pkg.Service` (a gRPC service). An extension stays with its
//! folded stem (`{id}.json`). The query and fragment are dropped; what stays is redacted and
//! bounded, and bytes outside printable ASCII are percent-escaped.

use serde::Serialize;

/// A segment folded as a value.
pub const ID: &str = "{id}";

/// The longest template kept, in bytes; longer ones end in `...`.
pub const MAX_TEMPLATE: usize = 200;

/// Segments kept; the rest of a deeper path becomes `/...`.
pub const MAX_SEGMENTS: usize = 12;

/// An HTTP call's method and path template.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Route {
    /// The request method as sent (`GET`).
    pub method: String,
    /// The path with ids folded (`/v1/orders/{id}`).
    pub template: String,
}

impl Route {
    /// The route of a request with `method` and `target` (origin form `/a/b?q`, absolute form
    /// `http://host/a/b`, or `*`).
    pub fn of(method: &str, target: &str) -> Self {
        let method: String = method
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(20)
            .collect();
        // An unparseable request line has no method: `-`, as Zeek writes an unset field.
        let method = if method.is_empty() {
            "-".into()
        } else {
            method
        };
        Self {
            method,
            template: path_template(target),
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// The name in a Host header, its port left off; `None` for an address literal (it names no
/// more than the endpoint does).
pub fn host_name(host: &str) -> Option<&str> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let literal = name.starts_with('[') || name.parse::<std::net::IpAddr>().is_ok();
    (!literal && !name.is_empty()).then_some(name)
}

/// The path of `target` with its values folded to [`ID`], its query and fragment dropped.
pub fn path_template(target: &str) -> String {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    // Absolute form: drop the scheme and authority.
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    if path == "*" {
        return "*".into();
    }
    let mut out = String::new();
    for (i, segment) in path.split('/').enumerate() {
        if i == 0 {
            // Before the leading slash (empty for an origin-form path).
            if !segment.is_empty() {
                out.push_str(&escape(&fold(segment)));
            }
            continue;
        }
        out.push('/');
        if i > MAX_SEGMENTS {
            out.push_str("...");
            break;
        }
        out.push_str(&escape(&fold(segment)));
    }
    if out.is_empty() {
        out.push('/');
    }
    let out = crate::redact::redact_target(&out);
    clip(out)
}

/// A segment as the template shows it: [`ID`] for a value, else itself (path parameters
/// after `;` dropped).
fn fold(segment: &str) -> String {
    let segment = segment.split(';').next().unwrap_or_default();
    if is_value(segment) {
        return ID.into();
    }
    // `12345.json`: the stem is the value, the extension names the representation.
    if let Some((stem, ext)) = segment.rsplit_once('.')
        && !ext.is_empty()
        && ext.len() <= 5
        && ext.bytes().all(|b| b.is_ascii_alphabetic())
        && is_value(stem)
    {
        return format!("{ID}.{ext}");
    }
    segment.into()
}

/// Whether a path segment is a value (an id, a key, a date) rather than a name.
fn is_value(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    let b = s.as_bytes();
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    // 12345, 2026-12-03, 1.5, 10:30
    if digits > 0 && b.iter().all(|c| c.is_ascii_digit() || b"-_.:+".contains(c)) {
        return true;
    }
    if is_uuid(s) {
        return true;
    }
    // 5f2b9c1e, deadbeef01 (hex with a digit, 8 or more)
    if b.len() >= 8 && digits > 0 && b.iter().all(|c| c.is_ascii_hexdigit()) {
        return true;
    }
    // ULIDs, base64url ids, opaque keys: long, mixing letters and digits.
    if b.len() >= 16
        && digits > 0
        && letters > 0
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.~=%".contains(c))
    {
        return true;
    }
    // user@example.com (also percent-encoded)
    s.contains('@') || s.contains("%40")
}

/// `123e4567-e89b-12d3-a456-426614174000`, any case, braces allowed.
fn is_uuid(s: &str) -> bool {
    let s = s.trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// Bytes outside printable ASCII (and `%`-escapes kept as they are) made safe for every format.
fn escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_TEMPLATE {
        let mut end = MAX_TEMPLATE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fold_and_names_stay() {
        let cases = [
            ("/v1/orders/12345?expand=items", "/v1/orders/{id}"),
            (
                "/v1/orders/123e4567-e89b-12d3-a456-426614174000/items/7",
                "/v1/orders/{id}/items/{id}",
            ),
            ("/users/alice@example.com", "/users/{id}"),
            ("/reports/2026-12-03.json", "/reports/{id}.json"),
            ("/blobs/5f2b9c1e", "/blobs/{id}"),
            ("/keys/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/keys/{id}"),
            ("/v2/oauth2/token", "/v2/oauth2/token"),
            (
                "/helloworld.Greeter/SayHello",
                "/helloworld.Greeter/SayHello",
            ),
            ("/api/users/me/settings", "/api/users/me/settings"),
            ("/health", "/health"),
            ("/", "/"),
            ("", "/"),
            ("*", "*"),
            ("http://api.example:8080/v1/items/99?x", "/v1/items/{id}"),
            ("/files/report;jsessionid=ABC", "/files/report"),
            ("/a/b/", "/a/b/"),
        ];
        for (target, template) in cases {
            assert_eq!(path_template(target), template, "{target}");
        }
    }

    #[test]
    fn words_that_look_like_hex_stay_names() {
        // "deadbeef" and "facade" are hex letters only: a value needs a digit.
        assert_eq!(path_template("/facade/deadbeef"), "/facade/deadbeef");
        assert_eq!(path_template("/v1/accounts"), "/v1/accounts");
    }

    #[test]
    fn secrets_and_controls_never_pass() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let t = path_template(&format!("/auth/{jwt}/x"));
        assert!(!t.contains("eyJ"), "{t}");
        let t = path_template("/a\x1b[31m/b\u{7f}");
        assert!(!t.bytes().any(|b| b.is_ascii_control()), "{t}");
        assert!(path_template(&"/a".repeat(500)).len() <= MAX_TEMPLATE + 3);
    }

    #[test]
    fn deep_paths_are_bounded() {
        let deep: String = (0..40).map(|i| format!("/s{i}x")).collect();
        let t = path_template(&deep);
        assert!(t.ends_with("/..."), "{t}");
        assert_eq!(t.matches('/').count(), MAX_SEGMENTS + 1);
    }

    #[test]
    fn route_shows_method_and_template() {
        let r = Route::of("DELETE", "/v1/orders/42");
        assert_eq!(r.to_string(), "DELETE /v1/orders/{id}");
        assert_eq!(Route::of("G\x1bET", "/").method, "GET");
        assert_eq!(Route::of("", "/").to_string(), "- /");
    }
}
