//! What a response's rate-limit headers say ([`RateLimit`]):
//!
//! - `Retry-After` (RFC 9110 10.2.3): delta-seconds, or an HTTP-date converted against the
//!   response's time;
//! - the IETF fields (draft-ietf-httpapi-ratelimit-headers) in each of their published forms:
//!   the separate `RateLimit-Limit` / `-Remaining` / `-Reset` with `RateLimit-Policy: 100;w=60`
//!   (drafts up to 06), draft 07's `RateLimit: limit=100, remaining=0, reset=30`, and draft 08's
//!   `RateLimit: "default";r=0;t=30` with `RateLimit-Policy: "default";q=100;w=60`; a reset there
//!   is always a delta;
//! - the de-facto `X-RateLimit-Limit` / `-Remaining` / `-Reset` (and Twitter's `X-Rate-Limit-*`),
//!   whose reset is an epoch time (>= 10^9 seconds, or >= 10^12 milliseconds) or a delta, and
//!   `X-RateLimit-Window`;
//! - Kong's per-window names (`X-RateLimit-Remaining-Minute`, `-Second`, `-Hour`, `-Day`,
//!   `-Month`, `-Year`), which name the window.
//!
//! Values are read leniently (a fraction is rounded up) and never trusted: anything that is not
//! a number is ignored, and no arithmetic on them can overflow.

use super::RateLimit;
use crate::app::http::FailureHeaders;

/// Epoch seconds at or above this are a time, not a delta (2001-09-09).
const EPOCH_SECS: u64 = 1_000_000_000;
/// Epoch milliseconds at or above this are a time in milliseconds.
const EPOCH_MILLIS: u64 = 1_000_000_000_000;

const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;

/// The window a limit counts over, and the header that names it, quoted (`RateLimit-Policy:
/// 1000;w=86400`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    pub secs: u64,
    pub quote: String,
}

/// One limit of a header set: a policy of the IETF fields, or one of Kong's per-window headers.
#[derive(Debug, Default)]
struct Limit {
    /// The policy's name (`"default"` in draft 08).
    name: Option<String>,
    quota: Option<u64>,
    remaining: Option<u64>,
    window: Option<u64>,
    quote: String,
}

/// Everything the headers say, before choosing.
#[derive(Debug, Default)]
struct Seen {
    /// IETF `RateLimit-*` / `RateLimit` values (limit, remaining, reset).
    ietf: [Option<u64>; 3],
    /// The policy `RateLimit` names (draft 08).
    ietf_policy: Option<String>,
    /// `X-RateLimit-*` values (limit, remaining, reset as sent: maybe an epoch time).
    x: [Option<u64>; 3],
    /// `RateLimit-Policy` items.
    policies: Vec<Limit>,
    /// Kong's per-window headers, one entry per window.
    named_windows: Vec<Limit>,
    /// A `w=` inside a limit header, or `X-RateLimit-Window`.
    other_window: Option<Window>,
}

/// What the rate-limit headers of a response say. `response_unix_secs`, the response's time,
/// converts an HTTP-date `Retry-After` and an epoch `X-RateLimit-Reset` into seconds (without
/// it those are left out).
pub fn rate_limit(headers: &FailureHeaders, response_unix_secs: Option<u64>) -> RateLimit {
    let seen = read(headers);
    let chosen = choose(&seen);
    let x_reset = seen.x[2].and_then(|r| x_reset(r, response_unix_secs));
    RateLimit {
        limit: seen.ietf[0].or(seen.x[0]).or(chosen.and_then(|c| c.quota)),
        remaining: seen.ietf[1]
            .or(seen.x[1])
            .or(chosen.and_then(|c| c.remaining)),
        reset_secs: seen.ietf[2].or(x_reset),
        window_secs: window_of(&seen).map(|w| w.secs),
        retry_after_secs: headers
            .retry_after
            .as_deref()
            .and_then(|v| retry_after(v, response_unix_secs)),
    }
}

/// The window the headers name and the header that names it: a Kong per-window header (the
/// longest exhausted window, else the shortest), a `RateLimit-Policy` item (the one
/// `RateLimit` names, else the one whose quota is the current limit, else the first), a `w=`
/// in a limit header, or `X-RateLimit-Window`.
pub(crate) fn window(headers: &FailureHeaders) -> Option<Window> {
    window_of(&read(headers))
}

fn window_of(seen: &Seen) -> Option<Window> {
    if let Some((secs, l)) = choose(seen).and_then(|l| Some((l.window?, l))) {
        return Some(Window {
            secs,
            quote: l.quote.clone(),
        });
    }
    seen.other_window.clone()
}

/// The limit that applies: see [`window`].
fn choose(seen: &Seen) -> Option<&Limit> {
    if !seen.named_windows.is_empty() {
        let exhausted = seen
            .named_windows
            .iter()
            .filter(|l| l.remaining == Some(0))
            .max_by_key(|l| l.window);
        let shortest = seen.named_windows.iter().min_by_key(|l| l.window);
        return exhausted.or(shortest);
    }
    let with_window = || seen.policies.iter().filter(|p| p.window.is_some());
    let named = seen.ietf_policy.as_deref().and_then(|name| {
        with_window().find(|p| {
            p.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
    });
    let current = seen.ietf[0]
        .or(seen.x[0])
        .and_then(|limit| with_window().find(|p| p.quota == Some(limit)));
    named.or(current).or_else(|| with_window().next())
}

fn read(headers: &FailureHeaders) -> Seen {
    let mut seen = Seen::default();
    for (name, value) in &headers.rate_limit {
        let lower = name.to_ascii_lowercase();
        let quote = format!("{name}: {value}");
        if let Some(rest) = lower
            .strip_prefix("x-ratelimit-")
            .or_else(|| lower.strip_prefix("x-rate-limit-"))
        {
            read_x(&mut seen, rest, value, quote);
        } else if let Some(rest) = lower.strip_prefix("ratelimit-") {
            match rest {
                "limit" => {
                    seen.ietf[0] = seen.ietf[0].or(number(first_item(value)));
                    window_param(&mut seen, value, &quote);
                }
                "remaining" => seen.ietf[1] = seen.ietf[1].or(number(first_item(value))),
                "reset" => seen.ietf[2] = seen.ietf[2].or(number(first_item(value))),
                "policy" => policies(&mut seen, value, &quote),
                _ => {}
            }
        } else if lower == "ratelimit" {
            structured(&mut seen, value);
        }
    }
    seen
}

/// An `X-RateLimit-*` header, `rest` being the lowercase name after the prefix.
fn read_x(seen: &mut Seen, rest: &str, value: &str, quote: String) {
    let (field, unit) = rest.split_once('-').unwrap_or((rest, ""));
    let slot = match field {
        "limit" => 0,
        "remaining" => 1,
        "reset" if unit.is_empty() => 2,
        "window" | "interval" if unit.is_empty() => {
            if let Some(secs) = duration(value) {
                seen.other_window.get_or_insert(Window { secs, quote });
            }
            return;
        }
        _ => return,
    };
    let n = number(first_item(value));
    if unit.is_empty() {
        seen.x[slot] = seen.x[slot].or(n);
        if slot == 0 {
            window_param(seen, value, &quote);
        }
        return;
    }
    let Some(secs) = unit_secs(unit) else {
        return;
    };
    if slot == 2 {
        return;
    }
    let at = match seen
        .named_windows
        .iter()
        .position(|l| l.window == Some(secs))
    {
        Some(at) => at,
        None => {
            seen.named_windows.push(Limit {
                window: Some(secs),
                quote: quote.clone(),
                ..Limit::default()
            });
            seen.named_windows.len() - 1
        }
    };
    if let Some(l) = seen.named_windows.get_mut(at) {
        if slot == 0 {
            l.quota = l.quota.or(n);
        } else {
            l.remaining = l.remaining.or(n);
            // The remaining allowance is what tells which window refused.
            l.quote = quote;
        }
    }
}

/// `w=60` inside a limit header (`X-RateLimit-Limit: 10, 10;w=60`).
fn window_param(seen: &mut Seen, value: &str, quote: &str) {
    if seen.other_window.is_some() {
        return;
    }
    let w = value
        .split([',', ';'])
        .filter_map(|p| p.trim().strip_prefix("w="))
        .find_map(number);
    if let Some(secs) = w {
        seen.other_window = Some(Window {
            secs,
            quote: quote.to_string(),
        });
    }
}

/// `RateLimit-Policy`: `100;w=60`, `10, 10;w=1, 1000;w=3600` (drafts up to 07), or
/// `"default";q=100;w=60` (draft 08).
fn policies(seen: &mut Seen, value: &str, quote: &str) {
    for item in value.split(',').take(8) {
        let mut params = item.split(';').map(str::trim);
        let head = params.next().unwrap_or_default();
        let mut limit = Limit {
            quote: quote.to_string(),
            ..Limit::default()
        };
        if head.starts_with('"') {
            limit.name = Some(head.trim_matches('"').to_string());
        } else {
            limit.quota = number(head);
        }
        for p in params {
            match p.split_once('=') {
                Some(("w", v)) => limit.window = number(v),
                Some(("q", v)) => limit.quota = number(v),
                _ => {}
            }
        }
        seen.policies.push(limit);
    }
}

/// `RateLimit`: draft 07's `limit=100, remaining=0, reset=30` or draft 08's
/// `"default";r=0;t=30`.
fn structured(seen: &mut Seen, value: &str) {
    for part in value.split([',', ';']).map(str::trim) {
        if part.starts_with('"') {
            seen.ietf_policy
                .get_or_insert_with(|| part.trim_matches('"').to_string());
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let slot = match k.trim() {
            "limit" => 0,
            "remaining" | "r" => 1,
            "reset" | "t" => 2,
            _ => continue,
        };
        seen.ietf[slot] = seen.ietf[slot].or(number(v));
    }
}

/// `X-RateLimit-Reset`: an epoch time (seconds or milliseconds) made a delta against `now`, or
/// a delta as sent.
fn x_reset(value: u64, now: Option<u64>) -> Option<u64> {
    if value >= EPOCH_MILLIS {
        Some((value / 1000).saturating_sub(now?))
    } else if value >= EPOCH_SECS {
        Some(value.saturating_sub(now?))
    } else {
        Some(value)
    }
}

/// `Retry-After` in seconds: delta-seconds, or an HTTP-date (IMF-fixdate, RFC 850 or asctime)
/// made a delta against `now` (0 when already past).
fn retry_after(value: &str, now: Option<u64>) -> Option<u64> {
    let value = value.trim();
    if let Some(n) = number(value) {
        return Some(n);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now?))
}

/// The first item of a list value (`10, 10;w=60` -> `10`).
fn first_item(value: &str) -> &str {
    value.split([',', ';']).next().unwrap_or_default()
}

/// A non-negative number, a fraction rounded up (`1.5` -> 2); `None` for anything else.
fn number(text: &str) -> Option<u64> {
    let text = text.trim().trim_matches('"');
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = int.parse().ok()?;
    match frac.bytes().any(|b| b != b'0') {
        true => n.checked_add(1),
        false => Some(n),
    }
}

/// A window value: seconds, or a number with a unit (`60`, `60s`, `1m`, `1h`, `1d`, `1 minute`).
fn duration(value: &str) -> Option<u64> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let secs = match unit.as_str() {
        "" | "s" => 1,
        "m" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        u => unit_secs(u)?,
    };
    n.checked_mul(secs)
}

/// Seconds in a named unit (`minute`, `minutes`, `min`, `day`...).
fn unit_secs(unit: &str) -> Option<u64> {
    Some(match unit {
        "second" | "seconds" | "sec" | "secs" => 1,
        "minute" | "minutes" | "min" | "mins" => MINUTE,
        "hour" | "hours" | "hr" | "hrs" => HOUR,
        "day" | "days" => DAY,
        "week" | "weeks" => 7 * DAY,
        "month" | "months" => 30 * DAY,
        "year" | "years" => 365 * DAY,
        _ => return None,
    })
}

/// The window a message names, in seconds: "per second/minute/hour/day/week/month/year"
/// (also "per 10 minutes", and camel-cased metric names such as `RequestsPerDayPerProject`),
/// "hourly", "daily", "weekly", "monthly", "yearly", and API gateways' `time:1 minute`. The
/// first one named counts.
pub fn window_words(text: &str) -> Option<u64> {
    let words = words(text);
    let mut i = 0;
    while let Some(w) = words.get(i) {
        match w.as_str() {
            "hourly" => return Some(HOUR),
            "daily" => return Some(DAY),
            "weekly" => return Some(7 * DAY),
            "monthly" => return Some(30 * DAY),
            "yearly" | "annual" | "annually" => return Some(365 * DAY),
            "per" | "time" => {
                let next = words.get(i + 1).map(String::as_str).unwrap_or_default();
                let (n, unit) = match next.parse::<u64>() {
                    Ok(n) => (n, words.get(i + 2).map(String::as_str).unwrap_or_default()),
                    Err(_) if *w == "per" => (1, next),
                    Err(_) => (0, ""),
                };
                if let Some(secs) = unit_secs(unit)
                    .and_then(|s| s.checked_mul(n))
                    .filter(|&s| s > 0)
                {
                    return Some(secs);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Lowercase words of a text, split at anything not alphanumeric and where a lower-case letter
/// meets an upper-case one (`PerDay` -> `per`, `day`), and between digits and letters.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars().take(2_000) {
        let boundary = match prev {
            Some(p) => {
                !c.is_alphanumeric()
                    || (p.is_lowercase() && c.is_uppercase())
                    || (p.is_ascii_digit() != c.is_ascii_digit())
            }
            None => false,
        };
        if boundary && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
