//! The handshake messages a diagnosis needs, read with `tls-parser`: ClientHello, ServerHello
//! (and HelloRetryRequest), Certificate, CertificateRequest.

use serde::Serialize;
use tls_parser::{
    TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_extension,
    parse_tls_message_handshake, parse_tls_server_hello_extension,
};

use crate::tcp::Origin;

/// The encrypt_then_mac extension's type (RFC 7366).
const ENCRYPT_THEN_MAC: u16 = 22;

/// At most this many cipher suites, versions, groups or ALPN names are kept from a hello.
const MAX_LIST: usize = 64;
/// At most this many certificates of a chain are kept, and this many DER bytes in all.
const MAX_CHAIN_CERTS: usize = 8;
const MAX_CHAIN_BYTES: usize = 32 * 1024;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256 of "HelloRetryRequest".
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// What a client offered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientHello {
    pub frame: u64,
    #[serde(skip)]
    pub ts_ns: i64,
    /// The record-era version field (0x0303 for TLS 1.2 and 1.3 clients).
    pub legacy_version: u16,
    /// The supported_versions extension (TLS 1.3 clients), GREASE left out.
    pub supported_versions: Vec<u16>,
    pub cipher_suites: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// Groups the client sent key shares for (TLS 1.3).
    pub key_share_groups: Vec<u16>,
    /// ClientHello.random: what key log secrets are matched by.
    #[serde(skip)]
    pub random: [u8; 32],
    /// The encrypt_then_mac extension (RFC 7366) was offered.
    #[serde(skip)]
    pub encrypt_then_mac: bool,
    /// The early_data extension: the client may send 0-RTT data (TLS 1.3).
    #[serde(skip)]
    pub early_data: bool,
}

impl ClientHello {
    /// The highest version offered.
    pub fn max_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// What a server chose.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerHello {
    pub frame: u64,
    #[serde(skip)]
    pub ts_ns: i64,
    /// The negotiated version: supported_versions when present, else the version field.
    pub version: u16,
    pub cipher_suite: u16,
    pub alpn: Option<String>,
    /// A HelloRetryRequest (TLS 1.3) rather than a ServerHello.
    pub hello_retry: bool,
    /// The group a HelloRetryRequest asks for, or the server's key share group.
    pub key_share_group: Option<u16>,
    /// ServerHello.random (TLS 1.2 key derivation).
    #[serde(skip)]
    pub random: [u8; 32],
    /// The server accepted encrypt_then_mac (RFC 7366): CBC records carry their MAC last.
    #[serde(skip)]
    pub encrypt_then_mac: bool,
}

/// A certificate chain as sent (TLS <= 1.2, where it is in clear), DER capped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateChain {
    pub frame: u64,
    pub ts_ns: i64,
    /// Certificates in the order sent (the leaf first).
    pub der: Vec<Vec<u8>>,
    /// Certificates the message held (more than `der` when capped).
    pub count: usize,
}

/// One handshake message as the connection's facts take it.
#[derive(Debug)]
pub enum Message {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    Certificate(CertificateChain),
    CertificateRequest,
    ServerHelloDone,
    ClientKeyExchange,
    Finished,
    /// Another type, or one `tls-parser` could not read.
    Other {
        parsed: bool,
    },
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(255)]).into_owned()
}

fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a
}

/// Reads a whole handshake message (4-byte header included).
pub fn read_message(bytes: &[u8], origin: Origin) -> Message {
    let Ok((_, TlsMessage::Handshake(message))) = parse_tls_message_handshake(bytes) else {
        return Message::Other { parsed: false };
    };
    match message {
        TlsMessageHandshake::ClientHello(hello) => {
            let mut out = ClientHello {
                frame: origin.frame,
                ts_ns: origin.ts_ns,
                legacy_version: hello.version.0,
                cipher_suites: hello.ciphers.iter().take(MAX_LIST).map(|c| c.0).collect(),
                random: hello.random.try_into().unwrap_or([0; 32]),
                ..ClientHello::default()
            };
            let mut ext = hello.ext.unwrap_or_default();
            while !ext.is_empty() {
                let Ok((rest, extension)) = parse_tls_extension(ext) else {
                    break;
                };
                ext = rest;
                client_extension(&mut out, extension);
            }
            Message::ClientHello(out)
        }
        TlsMessageHandshake::ServerHello(hello) => {
            let mut out = ServerHello {
                frame: origin.frame,
                ts_ns: origin.ts_ns,
                version: hello.version.0,
                cipher_suite: hello.cipher.0,
                hello_retry: hello.random == HELLO_RETRY_RANDOM,
                random: hello.random.try_into().unwrap_or([0; 32]),
                ..ServerHello::default()
            };
            let mut ext = hello.ext.unwrap_or_default();
            while !ext.is_empty() {
                let Ok((rest, extension)) = parse_tls_server_hello_extension(ext) else {
                    break;
                };
                ext = rest;
                match extension {
                    TlsExtension::SupportedVersions(v) => {
                        if let Some(v) = v.first() {
                            out.version = v.0;
                        }
                    }
                    TlsExtension::ALPN(names) => out.alpn = names.first().map(|n| text(n)),
                    TlsExtension::KeyShare([a, b, ..]) => {
                        out.key_share_group = Some(u16::from_be_bytes([*a, *b]));
                    }
                    // tls-parser 0.12's ServerHello reader files type 21 (padding) as
                    // encrypt_then_mac and leaves the real one (22, RFC 7366) unknown.
                    TlsExtension::Unknown(kind, _) if kind.0 == ENCRYPT_THEN_MAC => {
                        out.encrypt_then_mac = true;
                    }
                    _ => {}
                }
            }
            Message::ServerHello(out)
        }
        TlsMessageHandshake::Certificate(chain) => {
            let mut out = CertificateChain {
                frame: origin.frame,
                ts_ns: origin.ts_ns,
                der: Vec::new(),
                count: chain.cert_chain.len(),
            };
            let mut kept = 0;
            for cert in chain.cert_chain.iter().take(MAX_CHAIN_CERTS) {
                if kept + cert.data.len() > MAX_CHAIN_BYTES {
                    break;
                }
                kept += cert.data.len();
                out.der.push(cert.data.to_vec());
            }
            Message::Certificate(out)
        }
        TlsMessageHandshake::CertificateRequest(_) => Message::CertificateRequest,
        TlsMessageHandshake::ServerDone(_) => Message::ServerHelloDone,
        TlsMessageHandshake::ClientKeyExchange(_) => Message::ClientKeyExchange,
        TlsMessageHandshake::Finished(_) => Message::Finished,
        _ => Message::Other { parsed: true },
    }
}

fn client_extension(out: &mut ClientHello, extension: TlsExtension<'_>) {
    match extension {
        TlsExtension::SNI(names) => {
            out.sni = names
                .iter()
                .find(|(kind, _)| kind.0 == 0)
                .map(|(_, name)| text(name));
        }
        TlsExtension::ALPN(names) => {
            out.alpn = names.iter().take(MAX_LIST).map(|n| text(n)).collect();
        }
        TlsExtension::SupportedVersions(versions) => {
            out.supported_versions = versions
                .iter()
                .map(|v| v.0)
                .filter(|&v| !is_grease(v))
                .take(MAX_LIST)
                .collect();
        }
        TlsExtension::EncryptThenMac => out.encrypt_then_mac = true,
        TlsExtension::EarlyData(_) => out.early_data = true,
        TlsExtension::KeyShare(raw) => {
            // client_shares<0..2^16-1>: entries of group(2) length(2) key_exchange.
            let mut entries = raw.get(2..).unwrap_or_default();
            while let [a, b, c, d, rest @ ..] = entries {
                let group = u16::from_be_bytes([*a, *b]);
                let len = usize::from(u16::from_be_bytes([*c, *d]));
                if !is_grease(group) && out.key_share_groups.len() < MAX_LIST {
                    out.key_share_groups.push(group);
                }
                entries = rest.get(len..).unwrap_or_default();
            }
        }
        _ => {}
    }
}

/// `TLS 1.2`, `TLS 1.3`, `SSL 3.0`, or the number.
pub fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        0x7f00..=0x7fff => format!("TLS 1.3 draft {}", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// The IANA name of a cipher suite, or its number.
pub fn cipher_name(id: u16) -> String {
    tls_parser::TlsCipherSuite::from_id(id)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04x}"))
}

/// Reads a big-endian length of `n` bytes at the start of `bytes`: (length, rest).
fn length_prefix(bytes: &[u8], n: usize) -> Option<(usize, &[u8])> {
    let head = bytes.get(..n)?;
    let len = head
        .iter()
        .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    Some((len, &bytes[n..]))
}

/// A length-prefixed vector: (its bytes, what follows).
fn vector(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    let (len, rest) = length_prefix(bytes, n)?;
    Some((rest.get(..len)?, &rest[len..]))
}

/// Reads a TLS 1.3 Certificate message (RFC 8446 §4.4.2: a request context, then entries of
/// a certificate and its extensions), 4-byte header included. tls-parser reads only the
/// TLS 1.2 layout.
pub fn read_tls13_certificate(bytes: &[u8], origin: Origin) -> Message {
    let parsed = (|| {
        let body = bytes.get(4..)?;
        let (_context, rest) = vector(body, 1)?;
        let (mut list, _) = vector(rest, 3)?;
        let mut out = CertificateChain {
            frame: origin.frame,
            ts_ns: origin.ts_ns,
            der: Vec::new(),
            count: 0,
        };
        let mut kept = 0;
        while !list.is_empty() {
            let (cert, rest) = vector(list, 3)?;
            let (_extensions, rest) = vector(rest, 2)?;
            list = rest;
            out.count += 1;
            if out.der.len() < MAX_CHAIN_CERTS && kept + cert.len() <= MAX_CHAIN_BYTES {
                kept += cert.len();
                out.der.push(cert.to_vec());
            }
        }
        Some(out)
    })();
    match parsed {
        Some(chain) => Message::Certificate(chain),
        None => Message::Other { parsed: false },
    }
}

/// The protocol a TLS 1.3 server chose by ALPN, from its EncryptedExtensions message (4-byte
/// header included), where TLS 1.3 moved it from the ServerHello.
pub fn encrypted_extensions_alpn(bytes: &[u8]) -> Option<String> {
    let (mut extensions, _) = vector(bytes.get(4..)?, 2)?;
    while !extensions.is_empty() {
        let (kind, rest) = length_prefix(extensions, 2)?;
        let (data, rest) = vector(rest, 2)?;
        extensions = rest;
        if kind == 16 {
            // protocol_name_list<2..2^16-1>: the server names exactly one.
            let (list, _) = vector(data, 2)?;
            let (name, _) = vector(list, 1)?;
            return Some(text(name));
        }
    }
    None
}
