//! What HTTP/1.x parsing keeps of a connection: its exchanges (request and response heads as
//! the report needs them, body sizes, what an error body said) and its counts.

use super::body::Framing;
use super::message::{RequestHead, ResponseHead};
use crate::tcp::Origin;

/// A request as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub head: RequestHead,
    /// The frame that carried the request's first byte.
    pub first: Origin,
    /// The frame that carried its last byte (end of head or body) once complete.
    pub last: Option<Origin>,
    pub body_bytes: u64,
}

/// A final response as the report needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub head: ResponseHead,
    pub framing: Framing,
    /// The frame that carried the status line's first byte.
    pub first: Origin,
    /// The frame that carried the last byte of the response seen.
    pub last: Origin,
    /// Body bytes received (decoded, excluding chunk framing).
    pub body_received: u64,
    /// Body bytes inside the body the capture never saw.
    pub body_missing: u64,
    /// Whether the whole response arrived (a close-delimited body completes when the
    /// connection ends).
    pub complete: bool,
    /// What an error response's body said (its error fields, redacted and clipped), when
    /// it was read (`collect.rs`).
    pub said: Option<Box<crate::app::said::ServerSaid>>,
}

impl Response {
    /// Body bytes the response declared (Content-Length), if it did.
    pub fn body_declared(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }
}

/// One request and its response, or a response with no request seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub request: Option<Request>,
    /// Interim (1xx) responses before the final one.
    pub interim: u32,
    /// The frame of the first interim response.
    pub first_interim: Option<Origin>,
    pub response: Option<Response>,
    /// The response (or its head) fell in bytes the capture never saw: the server answered,
    /// the capture missed it.
    pub response_not_captured: bool,
}

impl Exchange {
    pub(super) fn new(request: Option<Request>) -> Self {
        Exchange {
            request,
            interim: 0,
            first_interim: None,
            response: None,
            response_not_captured: false,
        }
    }
}

/// What HTTP/1.x parsing found on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpFacts {
    /// Exchanges in request order: every one that could have failed, up to [`MAX_EXCHANGES`]
    /// (healthy ones are dropped when the record is full).
    pub exchanges: Vec<Exchange>,
    /// Requests and final responses parsed (all, including those beyond the cap).
    pub requests: u64,
    pub responses: u64,
    /// The client's bytes stopped being parseable HTTP (a malformed head, a gap in a head).
    pub client_desync: bool,
    pub server_desync: bool,
    /// The connection switched protocols (101, or a CONNECT tunnel).
    pub upgraded: bool,
    /// What the tolerant reading of heads httparse refused overlooked, and exchanges beyond
    /// the cap, by reason ([`INVALID_BYTES`], [`OBS_FOLD`], [`MANY_HEADERS`]...).
    pub anomalies: crate::app::Anomalies,
}

impl HttpFacts {
    /// Exchanges kept plus those beyond the cap.
    pub fn exchange_count(&self) -> u64 {
        self.requests.max(self.responses)
    }
}
