//! Recognising TLS (and a TLS server's refusal of plain HTTP) from a direction's first bytes.

use super::HANDSHAKE;

/// What TLS servers answer a plain HTTP request with (nginx; Apache httpd).
const PLAIN_HTTP_PAGES: [&[u8]; 2] = [
    b"plain HTTP request was sent to HTTPS port",
    b"speaking plain HTTP to an SSL-enabled server port",
];

/// True when a server's first bytes are a page saying it only speaks TLS on this port.
pub fn refuses_plain_http(first: &[u8]) -> bool {
    first.starts_with(b"HTTP/1.")
        && PLAIN_HTTP_PAGES
            .iter()
            .any(|page| first.windows(page.len()).any(|w| w == *page))
}

/// True when `bytes` starts with a TLS handshake record header.
pub(super) fn starts_handshake_record(bytes: &[u8]) -> bool {
    matches!(bytes, [HANDSHAKE, 3, 0..=4, ..])
}

/// True when `bytes` starts with a handshake record holding a ClientHello (what a client sends
/// first after STARTTLS).
pub fn starts_client_hello(bytes: &[u8]) -> bool {
    matches!(bytes, [HANDSHAKE, 3, 0..=4, _, _, 1, ..])
}

/// True when the first bytes of a direction are printable ASCII text (not a TLS record).
pub(super) fn looks_like_text(first: &[u8]) -> bool {
    let head = &first[..first.len().min(32)];
    !head.is_empty()
        && head
            .iter()
            .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}
