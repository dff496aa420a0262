//! gRPC over HTTP/2 (gRPC's PROTOCOL-HTTP2.md): what its headers and framing say, read by pure
//! functions that never panic on what the wire brings.
//!
//! - `grpc-timeout` ([`parse_timeout`]): the client's deadline.
//! - `grpc-message` ([`decode_message`]): percent-encoded UTF-8, decoded, redacted and clipped.
//! - `grpc-status-details-bin` ([`parse_status_details`]): a base64 google.rpc.Status protobuf,
//!   read with `prost` into hand-written message structs (no generated code).
//! - Length-prefixed messages in DATA ([`MessageCounter`]): counted, never kept.
//! - `grpc-status` names ([`status_name`]) and `:path` ([`split_path`]).

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{GrpcMessages, GrpcStatusDetails};
use crate::app::http::clip;

/// Longest `grpc-message` (and google.rpc.Status message) kept, in characters.
pub const MAX_MESSAGE: usize = 300;
/// Longest type URL, ErrorInfo reason, service or method name kept, in characters.
const MAX_NAME: usize = 200;
/// At most this many detail type URLs are kept from one google.rpc.Status.
pub const MAX_DETAIL_TYPES: usize = 8;
/// Longest `grpc-status-details-bin` value decoded (base64 text); HTTP/2 header lists are
/// bounded by the peers anyway, this bounds the work on a hostile one.
const MAX_DETAILS_BIN: usize = 64 * 1024;

/// The deadline in a `grpc-timeout` value, in nanoseconds: 1 to 8 ASCII digits and one unit
/// (`H` hours, `M` minutes, `S` seconds, `m` milliseconds, `u` microseconds, `n` nanoseconds),
/// saturating at `u64::MAX` (99999999 hours do not fit). Anything else is `None`.
pub fn parse_timeout(value: &str) -> Option<u64> {
    let (digits, unit) = value.split_at_checked(value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    let ns_per_unit: u64 = match unit {
        "H" => 3_600_000_000_000,
        "M" => 60_000_000_000,
        "S" => 1_000_000_000,
        "m" => 1_000_000,
        "u" => 1_000,
        "n" => 1,
        _ => return None,
    };
    Some(amount.saturating_mul(ns_per_unit))
}

/// A `grpc-message` value as text: `%XX` escapes decoded to bytes, the bytes read as UTF-8
/// (invalid sequences become U+FFFD), a `%` not followed by two hex digits kept as it is, then
/// control characters dropped, secrets redacted ([`crate::redact::redact_text`]) and the text
/// clipped to [`MAX_MESSAGE`] characters.
pub fn decode_message(value: &[u8]) -> String {
    clip(&percent_decode(value), MAX_MESSAGE)
}

/// `%XX` escapes decoded; a malformed escape stays as it came.
fn percent_decode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%'
            && let [hi, lo, after @ ..] = tail
            && let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo))
        {
            out.push(hi << 4 | lo);
            rest = after;
            continue;
        }
        out.push(b);
        rest = tail;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// google.rpc.Status (google/rpc/status.proto). Strings are read as bytes so that invalid
/// UTF-8 is shown lossily instead of failing the whole value.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(bytes = "vec", tag = "2")]
    message: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// google.protobuf.Any.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(bytes = "vec", tag = "1")]
    type_url: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// google.rpc.ErrorInfo (google/rpc/error_details.proto): only the reason is read; `domain`
/// (2) and `metadata` (3) are skipped as unknown fields.
#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(bytes = "vec", tag = "1")]
    reason: Vec<u8>,
}

/// The base64 `grpc-status-details-bin` value gRPC servers send for rich errors: standard
/// alphabet, padding optional (gRPC sends none).
const DETAILS_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// A `grpc-status-details-bin` value: base64 of a serialized google.rpc.Status. Its code, its
/// message (redacted, clipped), the type URLs of its first [`MAX_DETAIL_TYPES`] details and the
/// reason of its first google.rpc.ErrorInfo. `None` when the value is empty, is not base64 or
/// is not a google.rpc.Status (malformed protobuf).
///
/// proto3 does not send a zero code: a Status without field 1 has code `Some(0)` (OK).
pub fn parse_status_details(value: &[u8]) -> Option<GrpcStatusDetails> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > MAX_DETAILS_BIN {
        return None;
    }
    let bytes = DETAILS_BASE64.decode(value).ok()?;
    let status = <Status as prost::Message>::decode(bytes.as_slice()).ok()?;
    let mut details = GrpcStatusDetails {
        code: Some(status.code),
        message: (!status.message.is_empty()).then(|| clip(&status.message, MAX_MESSAGE)),
        ..GrpcStatusDetails::default()
    };
    for any in &status.details {
        if details.detail_types.len() < MAX_DETAIL_TYPES {
            details.detail_types.push(clip(&any.type_url, MAX_NAME));
        }
        if details.error_info_reason.is_none()
            && any.type_url.ends_with(b"google.rpc.ErrorInfo")
            && let Ok(info) = <ErrorInfo as prost::Message>::decode(any.value.as_slice())
            && !info.reason.is_empty()
        {
            details.error_info_reason = Some(clip(&info.reason, MAX_NAME));
        }
    }
    Some(details)
}

/// Counts gRPC's length-prefixed messages in one direction's DATA payloads, however the frames
/// split them: each message is a 1-byte compressed flag, a 4-byte big-endian length and that
/// many bytes. Only a partial 5-byte prefix is held; message bytes are counted, never kept.
///
/// A message counts once its prefix has come ([`GrpcMessages::count`], `compressed`);
/// [`GrpcMessages::bytes`] are the message bytes that came (a gap inside a message counts as
/// its bytes: the framing says they were message bytes).
///
/// A capture gap ([`MessageCounter::on_gap`]) that stays inside the current message's bytes
/// loses nothing. One that reaches past them may hide prefixes: counting stops there for good
/// (`lost` is set, the counts are what came before it, `cut` is not judged).
#[derive(Debug, Clone, Default)]
pub struct MessageCounter {
    counts: GrpcMessages,
    /// The prefix being read (`prefix_len` bytes of it so far).
    prefix: [u8; 5],
    prefix_len: usize,
    /// Bytes of the current message still to come.
    remaining: u64,
}

impl MessageCounter {
    /// The next DATA payload of the direction (padding excluded).
    pub fn on_data(&mut self, mut bytes: &[u8]) {
        if self.counts.lost {
            return;
        }
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let take =
                    usize::try_from(self.remaining).map_or(bytes.len(), |r| r.min(bytes.len()));
                self.add_message_bytes(take as u64);
                bytes = bytes.get(take..).unwrap_or_default();
                continue;
            }
            let want = self.prefix.len() - self.prefix_len;
            let take = want.min(bytes.len());
            let (head, tail) = bytes.split_at(take);
            if let Some(dst) = self.prefix.get_mut(self.prefix_len..self.prefix_len + take) {
                dst.copy_from_slice(head);
            }
            self.prefix_len += take;
            bytes = tail;
            if self.prefix_len == self.prefix.len() {
                self.start_message();
            }
        }
    }

    /// `len` bytes of the direction missing from the capture.
    pub fn on_gap(&mut self, len: u64) {
        if self.counts.lost || len == 0 {
            return;
        }
        if self.prefix_len == 0 && len <= self.remaining {
            self.add_message_bytes(len);
        } else {
            self.counts.lost = true;
        }
    }

    /// The counts at the end of the direction's body: `cut` when it ended inside a message or
    /// its prefix.
    pub fn finish(self) -> GrpcMessages {
        let mut counts = self.counts;
        counts.cut = !counts.lost && (self.remaining > 0 || self.prefix_len > 0);
        counts
    }

    fn start_message(&mut self) {
        let [flag, len @ ..] = self.prefix;
        self.remaining = u64::from(u32::from_be_bytes(len));
        self.prefix_len = 0;
        self.counts.count = self.counts.count.saturating_add(1);
        if flag != 0 {
            self.counts.compressed = self.counts.compressed.saturating_add(1);
        }
    }

    fn add_message_bytes(&mut self, n: u64) {
        self.remaining = self.remaining.saturating_sub(n);
        self.counts.bytes = self.counts.bytes.saturating_add(n);
    }
}

/// gRPC's name of a `grpc-status` code (`OK` ... `UNAUTHENTICATED`), `UNKNOWN_CODE` beyond 16.
pub fn status_name(code: u32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN_CODE")
}

/// The service and method of a gRPC `:path` (`/package.Service/Method`), each non-empty,
/// without `/`, whitespace or control characters (redacted and clipped like any value);
/// anything else is `None`.
pub fn split_path(path: &str) -> Option<(String, String)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    let valid = |s: &str| {
        !s.is_empty() && !s.contains('/') && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    (valid(service) && valid(method)).then(|| {
        (
            clip(service.as_bytes(), MAX_NAME),
            clip(method.as_bytes(), MAX_NAME),
        )
    })
}

#[cfg(test)]
mod tests;
