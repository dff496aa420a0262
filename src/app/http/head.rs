//! Message heads: httparse's strict reading first (the fast path every clean message takes),
//! and when it refuses a head, a tolerant reading like Wireshark's and real servers': a control
//! byte in a header value, obs-fold continuation lines, hundreds of headers or a line that is
//! not `name: value` no longer hide the message. What the tolerant reading had to overlook is
//! counted in [`HttpFacts::anomalies`](super::HttpFacts) by reason.

use super::{Head, HttpStream, MAX_HEADERS};
use crate::tcp::Origin;

/// Heads with a control byte (or NUL, a bare CR, bytes that are not UTF-8 in the start line).
pub const INVALID_BYTES: &str = "HTTP heads with a control or invalid byte, read anyway";
/// Heads with a header continued on a line starting with whitespace (RFC 9112 5.2).
pub const OBS_FOLD: &str = "HTTP heads with obs-fold continuation lines, read anyway";
/// Heads with more headers than [`MAX_HEADERS`].
pub const MANY_HEADERS: &str = "HTTP heads with more than 128 headers, read anyway";
/// Header lines without a `name:` (skipped; the rest of the head is read).
pub const SKIPPED_LINES: &str = "HTTP header lines skipped (not name: value)";
/// Heads httparse refuses for a reason none of the above names (e.g. a space before a colon).
pub const OTHER_SYNTAX: &str = "HTTP heads with other syntax errors, read anyway";
/// Exchanges not kept because a connection already held [`super::MAX_EXCHANGES`] that could
/// fail (healthy ones are dropped to make room): counted as calls, not judged.
pub const BEYOND_CAP: &str =
    "HTTP exchanges not judged: their connection already held 4096 that could fail";

const _: () = assert!(MAX_HEADERS == 128 && super::MAX_EXCHANGES == 4096);

/// The start line of a head read tolerantly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartLine<'b> {
    Request {
        method: &'b str,
        target: &'b str,
        version: u8,
    },
    Response {
        version: u8,
        code: u16,
        reason: &'b str,
    },
}

/// A head read tolerantly: its start line, every header, its length and what was overlooked.
#[derive(Debug)]
struct Tolerant<'b> {
    start: StartLine<'b>,
    headers: Vec<httparse::Header<'b>>,
    len: usize,
    invalid_bytes: bool,
    obs_fold: bool,
    skipped_lines: u64,
}

/// What the tolerant reading made of the bytes.
#[derive(Debug)]
enum Reading<'b> {
    Complete(Tolerant<'b>),
    Partial,
    Invalid,
}

impl HttpStream {
    /// Parses a head at the start of `bytes` and starts its body.
    pub(super) fn head(&mut self, from_client: bool, origin: Origin, bytes: &[u8]) -> Head {
        // Uninitialised slots: zeroing 128 headers for every message costs more than parsing.
        let mut headers =
            [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let strict = if from_client {
            let mut req = httparse::Request::new(&mut []);
            match req.parse_with_uninit_headers(bytes, &mut headers) {
                Ok(httparse::Status::Complete(n)) => {
                    self.on_request(&req, origin, n);
                    return Head::Complete(n);
                }
                Ok(httparse::Status::Partial) => return Head::Partial,
                Err(e) => e,
            }
        } else {
            let mut resp = httparse::Response::new(&mut []);
            let config = httparse::ParserConfig::default();
            match config.parse_response_with_uninit_headers(&mut resp, bytes, &mut headers) {
                Ok(httparse::Status::Complete(n)) => {
                    self.on_response(&resp, origin);
                    return Head::Complete(n);
                }
                Ok(httparse::Status::Partial) => return Head::Partial,
                Err(e) => e,
            }
        };
        let mut head = match read(bytes, from_client) {
            Reading::Complete(head) => head,
            Reading::Partial => return Head::Partial,
            Reading::Invalid if from_client => {
                // The request is in the capture even though it is not valid HTTP: keep it
                // (as far as it reads) so its answer is paired with it.
                self.on_malformed_request(origin, bytes);
                return Head::Invalid;
            }
            Reading::Invalid => return Head::Invalid,
        };
        self.count_overlooked(&head, strict);
        let len = head.len;
        match head.start {
            StartLine::Request {
                method,
                target,
                version,
            } => {
                let req = httparse::Request {
                    method: Some(method),
                    path: Some(target),
                    version: Some(version),
                    headers: &mut head.headers,
                };
                self.on_request(&req, origin, len);
            }
            StartLine::Response {
                version,
                code,
                reason,
            } => {
                let resp = httparse::Response {
                    version: Some(version),
                    code: Some(code),
                    reason: Some(reason),
                    headers: &mut head.headers,
                };
                self.on_response(&resp, origin);
            }
        }
        Head::Complete(len)
    }

    /// Counts what the tolerant reading of a head overlooked (httparse refused it with
    /// `strict`).
    fn count_overlooked(&mut self, head: &Tolerant<'_>, strict: httparse::Error) {
        let anomalies = &mut self.facts.anomalies;
        let many = head.headers.len() > MAX_HEADERS;
        anomalies.add(INVALID_BYTES, u64::from(head.invalid_bytes));
        anomalies.add(OBS_FOLD, u64::from(head.obs_fold));
        anomalies.add(MANY_HEADERS, u64::from(many));
        anomalies.add(SKIPPED_LINES, head.skipped_lines);
        let named = head.invalid_bytes || head.obs_fold || many || head.skipped_lines > 0;
        if !named || (strict == httparse::Error::TooManyHeaders && !many) {
            anomalies.add(OTHER_SYNTAX, 1);
        }
    }
}

/// Reads a head the way a tolerant server does (RFC 9112 2.2, 5): lines end at LF (a CR before
/// it dropped), the head at the first empty line; headers are `name: value` with the value
/// trimmed, continuation lines extend the header before them, lines without a name are skipped.
/// The start line must still be one (a method, a target and `HTTP/1.x`, or `HTTP/1.x` and a
/// three-digit status), or the bytes are not an HTTP message.
fn read(bytes: &[u8], request: bool) -> Reading<'_> {
    let mut at = 0;
    let mut next_line = || -> Option<(usize, usize)> {
        let start = at;
        let lf = bytes.get(start..)?.iter().position(|&b| b == b'\n')?;
        at = start + lf + 1;
        let mut end = start + lf;
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        Some((start, end))
    };
    let Some((start, end)) = next_line() else {
        return Reading::Partial;
    };
    let mut invalid_bytes = false;
    let Some(start) = start_line(&bytes[start..end], request, &mut invalid_bytes) else {
        return Reading::Invalid;
    };
    let mut head = Tolerant {
        start,
        headers: Vec::new(),
        len: 0,
        invalid_bytes,
        obs_fold: false,
        skipped_lines: 0,
    };
    // Where the value of the last header starts: a continuation line extends it to its end.
    let mut last_value: Option<usize> = None;
    loop {
        let Some((start, end)) = next_line() else {
            return Reading::Partial;
        };
        let line = &bytes[start..end];
        if line.is_empty() {
            break;
        }
        head.invalid_bytes |= line.iter().any(|&b| is_control(b));
        if matches!(line[0], b' ' | b'\t') {
            match (last_value, head.headers.last_mut()) {
                (Some(from), Some(h)) if !line.trim_ascii().is_empty() => {
                    head.obs_fold = true;
                    h.value = trim(&bytes[from..end]);
                }
                (Some(_), Some(_)) => head.obs_fold = true,
                _ => head.skipped_lines += 1,
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            head.skipped_lines += 1;
            last_value = None;
            continue;
        };
        let name = trim(&line[..colon]);
        let Some(name) = std::str::from_utf8(name)
            .ok()
            .filter(|n| is_token(n.as_bytes()))
        else {
            head.skipped_lines += 1;
            last_value = None;
            continue;
        };
        let value_at = start + colon + 1;
        last_value = Some(value_at);
        head.headers.push(httparse::Header {
            name,
            value: trim(&bytes[value_at..end]),
        });
    }
    head.len = at;
    Reading::Complete(head)
}

/// A request line (`method target HTTP/1.x`) or a status line (`HTTP/1.x code reason`),
/// spaces or tabs between the parts; a control byte in the reason phrase is overlooked (and
/// noted in `invalid`), a reason that is not UTF-8 kept as far as it is.
fn start_line<'b>(line: &'b [u8], request: bool, invalid: &mut bool) -> Option<StartLine<'b>> {
    let mut parts = line
        .split(|&b| matches!(b, b' ' | b'\t'))
        .filter(|p| !p.is_empty());
    let version = |v: &[u8]| match v {
        [
            b'H',
            b'T',
            b'T',
            b'P',
            b'/',
            b'1',
            b'.',
            minor @ b'0'..=b'9',
        ] => Some(minor - b'0'),
        _ => None,
    };
    if request {
        let method = parts.next().filter(|m| is_token(m))?;
        let target = parts.next()?;
        let v = version(parts.next()?)?;
        if parts.next().is_some() || target.iter().any(|&b| is_control(b)) {
            return None;
        }
        return Some(StartLine::Request {
            method: std::str::from_utf8(method).ok()?,
            target: std::str::from_utf8(target).ok()?,
            version: v,
        });
    }
    let v = version(parts.next()?)?;
    let code_bytes = parts.next()?;
    let code: u16 = match code_bytes {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return None,
    };
    // The reason is what follows the code, spaces and all.
    let after_code = code_bytes.as_ptr() as usize - line.as_ptr() as usize + 3;
    let reason = trim(line.get(after_code..).unwrap_or_default());
    *invalid |= reason.iter().any(|&b| is_control(b));
    let reason = match std::str::from_utf8(reason) {
        Ok(r) => r,
        Err(e) => {
            *invalid = true;
            std::str::from_utf8(&reason[..e.valid_up_to()]).unwrap_or("")
        }
    };
    Some(StartLine::Response {
        version: v,
        code,
        reason,
    })
}

/// A byte no header line may hold (RFC 9110 5.5): C0 controls other than HTAB, and DEL.
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

/// An RFC 9110 token (a method or a header name).
fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8], request: bool) -> Tolerant<'_> {
        match read(bytes, request) {
            Reading::Complete(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn control_bytes_and_folded_values_are_kept() {
        let bytes = b"HTTP/1.1 503 Service Unavailable\r\nServer: ng\x01inx\r\nRetry-After: 3\r\n 0\r\nBroken line\r\n\r\nbody";
        let t = complete(bytes, false);
        assert_eq!(
            t.start,
            StartLine::Response {
                version: 1,
                code: 503,
                reason: "Service Unavailable"
            }
        );
        assert_eq!(t.len, bytes.len() - 4);
        let values: Vec<(&str, &[u8])> = t.headers.iter().map(|h| (h.name, h.value)).collect();
        assert_eq!(
            values,
            [
                ("Server", &b"ng\x01inx"[..]),
                ("Retry-After", &b"3\r\n 0"[..])
            ]
        );
        assert!(t.invalid_bytes && t.obs_fold);
        assert_eq!(t.skipped_lines, 1);
    }

    #[test]
    fn start_lines_must_still_be_http() {
        assert!(matches!(
            read(b"HTTP/1.1 5x3 No\r\n\r\n", false),
            Reading::Invalid
        ));
        assert!(matches!(
            read(b"SSH-2.0-x\r\n\r\n", false),
            Reading::Invalid
        ));
        assert!(matches!(read(b"GET /a\r\n\r\n", true), Reading::Invalid));
        assert!(matches!(
            read(b"HTTP/1.1 200 OK\r\nA: b\r\n", false),
            Reading::Partial
        ));
        let t = complete(b"GET  /a  HTTP/1.0\nX: \x7f\n\n", true);
        assert_eq!(
            t.start,
            StartLine::Request {
                method: "GET",
                target: "/a",
                version: 0
            }
        );
        assert!(t.invalid_bytes);
    }

    #[test]
    fn cut_anywhere_the_reading_is_partial_or_invalid_never_a_panic() {
        let bytes = b"HTTP/1.1 200 OK\r\nA: \x00\r\n\tb\r\n:\r\n\r\n";
        for cut in 0..bytes.len() {
            assert!(!matches!(read(&bytes[..cut], false), Reading::Complete(_)));
            let _ = read(&bytes[..cut], true);
        }
        assert!(matches!(read(bytes, false), Reading::Complete(_)));
    }
}
