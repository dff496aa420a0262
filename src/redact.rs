//! Secrets never reach a report: what the parsers keep of a request target, a header value or a
//! message quoted from a server passes through here before any format sees it, so every format
//! (text, JSON, NDJSON, Markdown, HTML, `conns`) shows the same redacted text.
//!
//! Redaction is by name and by shape. By name: the userinfo of an absolute URL, the values of
//! query parameters and of path parameters (`;jsessionid=...`) whose name looks secret, and the
//! value after a secret-looking name in free text (`token=...`, `Bearer ...`). By shape, under any
//! name or as a whole path segment: JWTs (`eyJ...` in three base64url parts), AWS access key
//! ids (`AKIA`/`ASIA` and 16 upper-case letters or digits), GitHub tokens (`ghp_`, `gho_`,
//! `ghs_`, `ghu_`, `ghr_`, `github_pat_`), Slack tokens (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`,
//! `xoxs-`), and long runs of hex (32 or more digits) or base64 (32 or more characters mixing
//! upper case, lower case and digits). The value is replaced by [`REDACTED`]; the name stays.

use std::borrow::Cow;

/// The placeholder that replaces a secret.
pub const REDACTED: &str = "REDACTED";

/// Parameter names (lowercase substrings) whose values are secrets.
const SECRET_NAMES: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "sig",
    "session",
    "credential",
    "jwt",
    "bearer",
];
/// Parameter names whose values are secrets when they match exactly (OAuth codes).
const SECRET_NAMES_EXACT: &[&str] = &["code", "client_secret", "sid", "pass"];
/// Authorization schemes whose next word is a credential in free text.
const SCHEMES: &[&str] = &["bearer", "basic", "negotiate", "ntlm"];
/// Shortest run of hex digits or base64 characters taken for a secret.
const MIN_RUN: usize = 32;

/// Whether a parameter named `name` holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.contains(s)) || SECRET_NAMES_EXACT.contains(&&*lower)
}

/// The request target with any userinfo, the values of secret-named query and path parameters,
/// and every secret-shaped word replaced by [`REDACTED`] (not cut: the caller bounds it).
pub fn redact_target(target: &str) -> String {
    let (before, query) = match target.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (target, None),
    };
    let mut out = String::with_capacity(target.len());
    // Absolute form: scheme://user:pass@host/...
    let path = match before.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            out.push_str(scheme);
            out.push_str("://");
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    out.push_str(REDACTED);
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            path
        }
        None => before,
    };
    // Path parameters: /app;jsessionid=ABC/x;token=T
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let mut parts = segment.split(';');
        out.push_str(parts.next().unwrap_or_default());
        for param in parts {
            out.push(';');
            push_param(&mut out, param);
        }
    }
    if let Some(query) = query {
        out.push('?');
        for (i, param) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            push_param(&mut out, param);
        }
    }
    match redact_text(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(redacted) => redacted,
    }
}

/// `name=value`, with the value redacted when the name looks secret.
fn push_param(out: &mut String, param: &str) {
    match param.split_once('=') {
        Some((name, _)) if is_secret_name(name) => {
            out.push_str(name);
            out.push('=');
            out.push_str(REDACTED);
        }
        _ => out.push_str(param),
    }
}

/// Free text (a header value, a reason phrase, a message quoted from a server) with every
/// secret-shaped word, and the word after a secret name (`token=...`, `api_key: ...`,
/// `Bearer ...`), replaced by [`REDACTED`]. Borrowed when nothing was redacted.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    // End of the text copied to `out` so far (when redacting).
    let mut copied = 0;
    // Whether the previous word announces a secret: a secret name (`token=`), or an
    // authorization scheme (`Bearer `) before a credential-sized word.
    let mut announced = Announce::Nothing;
    let mut pos = 0;
    let bytes = text.as_bytes();
    while pos < bytes.len() {
        if !is_word_byte(bytes[pos]) {
            pos += 1;
            continue;
        }
        let start = pos;
        while pos < bytes.len() && is_word_byte(bytes[pos]) {
            pos += 1;
        }
        // Base64 padding belongs to the word (but `name=value` keeps its `=`).
        let mut end = pos;
        while end < bytes.len() && bytes[end] == b'=' {
            end += 1;
        }
        if end - pos <= 2 && !bytes.get(end).is_some_and(|&b| is_word_byte(b)) {
            pos = end;
        }
        let word = &text[start..pos];
        let secret = match announced {
            Announce::Nothing => looks_secret(word),
            Announce::Name => true,
            Announce::Scheme => word.len() >= 8 || looks_secret(word),
        };
        announced = match following_separator(&text[pos..]) {
            Some(" ") if SCHEMES.contains(&word.to_ascii_lowercase().as_str()) => Announce::Scheme,
            Some(sep) if sep != " " && is_secret_name(word) => Announce::Name,
            _ => Announce::Nothing,
        };
        if secret && word != REDACTED {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[copied..start]);
            buf.push_str(REDACTED);
            copied = pos;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut buf) => {
            buf.push_str(&text[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// What the word before announces about the next one.
#[derive(Clone, Copy)]
enum Announce {
    Nothing,
    Name,
    Scheme,
}

/// What separates a word from the next one when it can announce a secret: `=`, `:` (with
/// spaces around) or a single space (an authorization scheme).
fn following_separator(rest: &str) -> Option<&str> {
    let trimmed = rest.trim_start_matches([' ', '"', '\'']);
    let eaten = rest.len() - trimmed.len();
    if let Some(after) = trimmed.strip_prefix(['=', ':']) {
        let after = after.trim_start_matches([' ', '"', '\'']);
        return Some(&rest[..rest.len() - after.len()]);
    }
    (eaten == 1 && rest.starts_with(' ')).then_some(" ")
}

/// Characters of a word: what tokens, keys and base64 are made of ('.' joins a JWT's parts).
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+' | b'~')
}

/// Whether `word` has the shape of a credential.
pub fn looks_secret(word: &str) -> bool {
    if is_jwt(word) {
        return true;
    }
    word.split('.').any(|part| {
        let part = part.trim_end_matches('=');
        is_aws_key(part)
            || is_github_token(part)
            || is_slack_token(part)
            || is_long_hex(part)
            || is_long_base64(part)
    })
}

/// `eyJ...` header, payload and signature (possibly empty) in base64url.
fn is_jwt(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    let base64url = |p: &str| {
        p.trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (parts.len() == 3 || parts.len() == 5)
        && parts[0].starts_with("eyJ")
        && parts[0].len() >= 10
        && !parts[1].is_empty()
        && parts.iter().all(|p| base64url(p))
}

fn is_aws_key(part: &str) -> bool {
    part.len() == 20
        && (part.starts_with("AKIA") || part.starts_with("ASIA"))
        && part[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_github_token(part: &str) -> bool {
    let rest = ["ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"]
        .iter()
        .find_map(|p| part.strip_prefix(p));
    rest.is_some_and(|r| r.len() >= 20 && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

fn is_slack_token(part: &str) -> bool {
    let rest = ["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"]
        .iter()
        .find_map(|p| part.strip_prefix(p));
    rest.is_some_and(|r| r.len() >= 10)
}

/// 32 or more hex digits, letters and digits mixed (a digest or a key, not `aaaa...`).
fn is_long_hex(part: &str) -> bool {
    part.len() >= MIN_RUN
        && part.bytes().all(|b| b.is_ascii_hexdigit())
        && part.bytes().filter(u8::is_ascii_digit).count() >= 2
        && part.bytes().any(|b| b.is_ascii_alphabetic())
}

/// 32 or more base64 (or base64url) characters with at least two upper-case letters, two
/// lower-case letters and two digits: random bytes, not a word or an identifier.
fn is_long_base64(part: &str) -> bool {
    if part.len() < MIN_RUN
        || !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'_'))
    {
        return false;
    }
    let count = |f: fn(&u8) -> bool| part.bytes().filter(&f).count();
    count(u8::is_ascii_uppercase) >= 2
        && count(u8::is_ascii_lowercase) >= 2
        && count(u8::is_ascii_digit) >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLWJ5dGVz";

    #[test]
    fn secrets_in_the_target_are_redacted_by_name() {
        assert_eq!(
            redact_target("/v1/items?api_key=abc123&page=2&access_token=xyz"),
            "/v1/items?api_key=REDACTED&page=2&access_token=REDACTED"
        );
        assert_eq!(
            redact_target("http://bob:hunter2@api.test/x?code=42&q=1"),
            "http://REDACTED@api.test/x?code=REDACTED&q=1"
        );
        assert_eq!(redact_target("/plain/path"), "/plain/path");
        assert_eq!(
            redact_target("/x?Signature=s&X-Amz-Credential=c"),
            "/x?Signature=REDACTED&X-Amz-Credential=REDACTED"
        );
        assert_eq!(
            redact_target("/shop;jsessionid=0A1B2C/cart;token=t0k;v=2?q=1"),
            "/shop;jsessionid=REDACTED/cart;token=REDACTED;v=2?q=1"
        );
    }

    #[test]
    fn secrets_in_the_target_are_redacted_by_shape() {
        assert_eq!(
            redact_target(&format!("/users/{JWT}/profile")),
            "/users/REDACTED/profile"
        );
        assert_eq!(
            redact_target("/s3?file=AKIAIOSFODNN7EXAMPLE&region=eu"),
            "/s3?file=REDACTED&region=eu"
        );
        assert_eq!(
            redact_target("/hook/ghp_1234567890abcdefghijABCDEFGHIJ12?x=xoxb-1234-5678-abcdef"),
            "/hook/REDACTED?x=REDACTED"
        );
        assert_eq!(
            redact_target(
                "/d/0123456789abcdef0123456789abcdef/x;v=QmFzZTY0U2VjcmV0VmFsdWVIZXJlMTIzNDU2Nzg="
            ),
            "/d/REDACTED/x;v=REDACTED"
        );
    }

    #[test]
    fn ordinary_paths_and_names_stay() {
        for text in [
            "/api/v2/users/550e8400-e29b-41d4-a716-446655440000/orders",
            "/how-to-configure-the-load-balancer-for-internal-apis",
            "/getUserProfileByAccountId2Version",
            "Service Unavailable",
            "api.example.com",
            "The access token expired",
        ] {
            assert_eq!(redact_text(text), text);
        }
    }

    #[test]
    fn messages_lose_tokens_after_names_and_schemes() {
        assert_eq!(
            redact_text("bad token=abc123 for Bearer xyz.98765 (key: \"k-1\")"),
            "bad token=REDACTED for Bearer REDACTED (key: \"REDACTED\")"
        );
        assert_eq!(
            redact_text(&format!("invalid jwt {JWT} rejected")),
            "invalid jwt REDACTED rejected"
        );
    }
}
