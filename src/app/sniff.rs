//! Recognising a protocol from the first bytes of a direction, as Wireshark's heuristics and
//! Zeek's DPD signatures do, whatever the port.

/// What a direction's first bytes are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// No application bytes seen.
    #[default]
    None,
    /// A TLS record header: content type 20..=24, version 3.x.
    Tls,
    /// An HTTP/1.x request line (from a client) or status line (from a server).
    Http,
    /// The HTTP/2 client connection preface (`PRI * HTTP/2.0`): h2c with prior knowledge, or
    /// h2 inside TLS.
    Http2,
    /// Anything else.
    Other,
}

/// HTTP methods a request line may start with (RFC 9110 and WebDAV's common ones).
pub(super) const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
    b"PROPFIND ",
    b"MKCOL ",
    b"COPY ",
    b"MOVE ",
    b"LOCK ",
    b"UNLOCK ",
];

/// The HTTP/2 client connection preface (RFC 9113 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

impl Protocol {
    /// Classifies the first bytes of a direction (`from_client` tells a request from a status
    /// line).
    pub fn sniff(first: &[u8], from_client: bool) -> Protocol {
        match first {
            [] => Protocol::None,
            [20..=24, 3, minor, ..] if *minor <= 4 => Protocol::Tls,
            [20..=24] | [20..=24, 3] => Protocol::Tls,
            _ if from_client && METHODS.iter().any(|m| starts_with_prefix(first, m)) => {
                Protocol::Http
            }
            _ if !from_client && starts_with_prefix(first, b"HTTP/1.") => Protocol::Http,
            _ if from_client && first.len() >= 4 && starts_with_prefix(first, PREFACE) => {
                Protocol::Http2
            }
            _ => Protocol::Other,
        }
    }
}

/// True when `bytes` starts with `prefix`, or is a prefix of it (a first segment cut short).
fn starts_with_prefix(bytes: &[u8], prefix: &[u8]) -> bool {
    let n = bytes.len().min(prefix.len());
    bytes[..n] == prefix[..n]
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn tls_http_and_other_first_bytes_are_told_apart() {
        assert_eq!(Protocol::sniff(&[0x16, 3, 1, 2, 0], true), Protocol::Tls);
        assert_eq!(Protocol::sniff(&[0x15, 3, 3, 0, 2], false), Protocol::Tls);
        assert_eq!(Protocol::sniff(b"GET / HTTP/1.1\r\n", true), Protocol::Http);
        assert_eq!(Protocol::sniff(b"HTTP/1.1 400 Bad", false), Protocol::Http);
        assert_eq!(Protocol::sniff(b"HTTP/1.1 400 Bad", true), Protocol::Other);
        assert_eq!(Protocol::sniff(b"SSH-2.0-OpenSSH", true), Protocol::Other);
        assert_eq!(Protocol::sniff(&[0x16, 3, 9], true), Protocol::Other);
        assert_eq!(Protocol::sniff(b"", true), Protocol::None);
        let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0";
        assert_eq!(Protocol::sniff(preface, true), Protocol::Http2);
        assert_eq!(Protocol::sniff(&preface[..6], true), Protocol::Http2);
        assert_eq!(Protocol::sniff(preface, false), Protocol::Other);
        assert_eq!(Protocol::sniff(b"PRIVMSG #a :hi", true), Protocol::Other);
    }
}
