//! The first bytes of an error response's body, collected while the body streams past and read
//! into [`ServerSaid`] when it ends; the bytes are dropped then. Only 4xx/5xx answers, and the
//! answers to GraphQL requests (whose errors come with a 200), are collected: the bodies of
//! healthy responses are never copied.

use crate::app::said::{BodyContext, ServerSaid, read_error_body};

use super::ResponseHead;

/// Most bytes collected by default (`--error-body-bytes`); see [`crate::app::said`].
pub use crate::app::said::DEFAULT_BODY_LIMIT;

/// How many bytes of an error response's body are read (`0`: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(DEFAULT_BODY_LIMIT)
    }
}

/// The bytes of one response body collected so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    bytes: Vec<u8>,
    limit: usize,
    /// The body went on past `limit`.
    cut: bool,
    /// Bytes inside the body were never captured.
    gap: bool,
}

impl Collector {
    /// A collector for a response with this head, when its body is worth reading: a 4xx/5xx,
    /// or a 2xx whose failure headers were read because its request named GraphQL.
    pub fn wanted(head: &ResponseHead, limit: BodyLimit) -> Option<Box<Self>> {
        let worth =
            head.status >= 400 || ((200..300).contains(&head.status) && head.failure.is_some());
        (worth && limit.0 > 0).then(|| {
            Box::new(Collector {
                bytes: Vec::new(),
                limit: limit.0,
                cut: false,
                gap: false,
            })
        })
    }

    /// More of the body.
    pub fn push(&mut self, data: &[u8]) {
        let room = self.limit.saturating_sub(self.bytes.len());
        if data.len() > room {
            self.cut = true;
        }
        let take = data.len().min(room);
        if take > 0 {
            self.bytes.extend_from_slice(&data[..take]);
        }
    }

    /// Bytes of the body the capture never saw.
    pub fn gap(&mut self) {
        self.gap = true;
    }

    /// What the body said, read with the response's content type and encoding.
    pub fn read(&self, head: &ResponseHead) -> Option<Box<ServerSaid>> {
        let failure = head.failure.as_deref();
        let ctx = BodyContext {
            status: head.status,
            content_type: failure.and_then(|f| f.content_type.as_deref()),
            content_encoding: failure.and_then(|f| f.content_encoding.as_deref()),
            cut: self.cut,
            gap: self.gap,
            limit: self.limit,
        };
        if self.bytes.is_empty() {
            return None;
        }
        read_error_body(&ctx, &self.bytes).map(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::http::FailureHeaders;

    fn head(status: u16, failure: bool) -> ResponseHead {
        ResponseHead {
            status,
            failure: failure.then(|| Box::new(FailureHeaders::default())),
            ..ResponseHead::default()
        }
    }

    #[test]
    fn only_error_and_graphql_answers_are_collected() {
        let on = BodyLimit::default();
        assert!(Collector::wanted(&head(404, true), on).is_some());
        assert!(Collector::wanted(&head(200, false), on).is_none());
        assert!(Collector::wanted(&head(200, true), on).is_some());
        assert!(Collector::wanted(&head(302, true), on).is_none());
        assert!(Collector::wanted(&head(500, true), BodyLimit(0)).is_none());
    }

    #[test]
    fn collection_stops_at_the_limit_and_says_so() {
        let mut c = Collector::wanted(&head(500, true), BodyLimit(4)).expect("wanted");
        c.push(b"ab");
        c.push(b"cdef");
        assert_eq!(c.bytes, b"abcd");
        assert!(c.cut);
    }
}
