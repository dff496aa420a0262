//! What a header block says that the facts keep: pseudo-headers, the content type, the headers
//! a failed response is judged by and gRPC's. Everything else in the block is passed over;
//! `authorization` is noted as present, its value never read.

use crate::app::http::{MAX_VALUE, clip, is_response_header, redact_target};

/// Longest value kept for reading (a value is clipped again where it is shown).
const MAX_RAW: usize = 4096;
/// Longest `grpc-status-details-bin` kept (base64 of a google.rpc.Status).
const MAX_DETAILS: usize = 64 * 1024;
/// At most this many response headers are kept for [`crate::app::http::response_head_from`].
const MAX_KEPT: usize = 32;

/// The fields of one header block that matter.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields {
    pub method: Option<Vec<u8>>,
    pub path: Option<Vec<u8>>,
    pub authority: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
    pub status: Option<Vec<u8>>,
    pub has_authorization: bool,
    pub content_type: Option<Vec<u8>>,
    pub grpc_status: Option<Vec<u8>>,
    pub grpc_message: Option<Vec<u8>>,
    pub grpc_details: Option<Vec<u8>>,
    pub grpc_timeout: Option<Vec<u8>>,
    pub grpc_encoding: Option<Vec<u8>>,
    /// Headers [`crate::app::http::response_head_from`] reads, as (lower-case name, value).
    pub response: Vec<(String, Vec<u8>)>,
}

impl Fields {
    /// Takes one decoded field.
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        let raw = |max: usize| Some(value.get(..max).unwrap_or(value).to_vec());
        match name {
            b":method" => self.method = raw(MAX_RAW),
            b":path" => self.path = raw(MAX_RAW),
            b":authority" => self.authority = raw(MAX_RAW),
            b"host" => self.host = raw(MAX_RAW),
            b":status" => self.status = raw(16),
            b"authorization" | b"proxy-authorization" => self.has_authorization = true,
            b"content-type" => self.content_type = raw(MAX_RAW),
            b"grpc-status" => self.grpc_status = raw(16),
            b"grpc-message" => self.grpc_message = raw(MAX_RAW),
            b"grpc-status-details-bin" => self.grpc_details = raw(MAX_DETAILS),
            b"grpc-timeout" => self.grpc_timeout = raw(16),
            b"grpc-encoding" => self.grpc_encoding = raw(64),
            _ => {
                if self.response.len() < MAX_KEPT
                    && let Ok(name) = std::str::from_utf8(name)
                    && is_response_header(name)
                {
                    self.response
                        .push((name.to_ascii_lowercase(), value.to_vec()));
                }
            }
        }
    }

    /// `:status` as a number (0 when absent or not three digits).
    pub fn status_code(&self) -> u16 {
        self.status
            .as_deref()
            .filter(|s| s.len() == 3 && s.iter().all(u8::is_ascii_digit))
            .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
            .unwrap_or(0)
    }

    /// The request head of a request block.
    pub fn request_head(&self) -> crate::app::http::RequestHead {
        let text = |v: &Option<Vec<u8>>| {
            v.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        crate::app::http::RequestHead {
            method: self
                .method
                .as_deref()
                .map_or_else(String::new, |m| clip(m, 24)),
            target: text(&self.path).map_or_else(String::new, |p| redact_target(&p)),
            host: self
                .authority
                .as_deref()
                .or(self.host.as_deref())
                .map(|h| clip(h, MAX_VALUE)),
            has_authorization: self.has_authorization,
            malformed: false,
            upgrade_h2c: false,
            content_type: self.content_type_text(),
            graphql: text(&self.path).is_some_and(|p| crate::app::http::names_graphql(&p)),
            ..Default::default()
        }
    }

    /// The content type, clipped for showing.
    pub fn content_type_text(&self) -> Option<String> {
        self.content_type.as_deref().map(|c| clip(c, 128))
    }

    /// `content-type: application/grpc...`.
    pub fn is_grpc(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.len() >= 16 && c[..16].eq_ignore_ascii_case(b"application/grpc"))
    }

    /// `grpc-status` as a number.
    pub fn grpc_status_code(&self) -> Option<u32> {
        let s = self.grpc_status.as_deref()?;
        std::str::from_utf8(s).ok()?.trim().parse().ok()
    }
}
