//! HTTP/1.x over one connection: requests and responses parsed from the reassembled byte
//! streams with `httparse`, matched in order (keep-alive and pipelining), with our own body
//! framing (Content-Length, chunked with trailers, close-delimited; HEAD, 1xx, 204 and 304
//! without a body; 101 and CONNECT end the HTTP part of the connection).
//!
//! A message head is parsed straight from the borrowed chunk when it is whole in it; only a
//! head that spans chunks is buffered, up to [`MAX_HEAD`]. Bodies are counted, never kept.

mod body;
mod collect;
mod facts;
mod head;
mod keep;
mod message;

pub use body::Framing;
pub use collect::{BodyLimit, Collector};
pub use facts::{Exchange, HttpFacts, Request, Response};
pub use head::{BEYOND_CAP, INVALID_BYTES, MANY_HEADERS, OBS_FOLD, OTHER_SYNTAX, SKIPPED_LINES};
/// Header values and quoted text: controls dropped, secrets redacted, bounded.
pub(crate) use message::clip;
pub use message::{
    Challenge, FailureHeaders, REDACTED, RequestHead, ResponseHead, lenient_request_head,
    redact_target,
};
/// The response head both HTTP/1.x and HTTP/2 build, and what it reads.
pub(crate) use message::{MAX_VALUE, is_response_header, names_graphql, response_head_from};

use crate::tcp::{Origin, StreamChunk};

use body::Body;

/// Largest message head (start line and headers) buffered across chunks; a longer one loses
/// the direction's framing.
pub const MAX_HEAD: usize = 64 * 1024;
/// At most this many exchanges are kept per connection (healthy ones are dropped to make room,
/// see `keep.rs`; the count goes on).
pub const MAX_EXCHANGES: usize = 4096;
/// Most headers a message may have.
pub(crate) const MAX_HEADERS: usize = 128;

/// Where one direction's parser is.
#[derive(Debug, Default)]
enum Phase {
    /// Waiting for (or inside) a message head; `buf` holds a head that spans chunks.
    #[default]
    Head,
    /// Inside the body of exchange number `index` (not kept when `None`); an error response's
    /// body bytes go to `collect`.
    Body {
        index: Option<u64>,
        body: Body,
        collect: Option<Box<Collector>>,
    },
    /// After bytes never captured: skipping to the next line that starts a message.
    Resync,
    /// No longer parsing (desync, upgrade).
    Stopped,
}

/// One direction's parser.
#[derive(Debug, Default)]
struct Direction {
    phase: Phase,
    buf: Vec<u8>,
    /// The frame of the first byte of the head being buffered.
    head_start: Option<Origin>,
}

/// The HTTP/1.x parser state of one connection.
#[derive(Debug, Default)]
pub struct HttpStream {
    facts: HttpFacts,
    client: Direction,
    server: Direction,
    kept: keep::Kept,
    /// How much of an error response's body is read.
    body_limit: BodyLimit,
}

/// What the head parser made of the bytes.
enum Head {
    /// A head `len` bytes long (relative to the bytes given).
    Complete(usize),
    Partial,
    Invalid,
}

impl HttpStream {
    /// A parser that reads at most `body_limit` bytes of each error response's body.
    pub fn new(body_limit: BodyLimit) -> Self {
        HttpStream {
            body_limit,
            ..Self::default()
        }
    }

    /// The facts so far.
    pub fn facts(&self) -> &HttpFacts {
        &self.facts
    }

    /// The connection ended: close-delimited responses are complete; the facts are final.
    pub fn finish(mut self) -> HttpFacts {
        if let Phase::Body {
            index: Some(i),
            body,
            collect,
        } = &mut self.server.phase
        {
            let (i, until_close, collect) =
                (*i, body.framing == Framing::UntilClose, collect.take());
            if let Some(r) = self.exchange_mut(i).and_then(|e| e.response.as_mut()) {
                r.complete |= until_close;
            }
            self.read_said(Some(i), collect);
        }
        self.count_not_kept();
        self.facts
    }

    /// Bytes or a gap from the client (`from_client`) or the server.
    pub fn on_chunk(&mut self, from_client: bool, origin: Origin, chunk: StreamChunk<'_>) {
        let _ = self.on_chunk_until_switch(from_client, origin, chunk);
    }

    /// As [`HttpStream::on_chunk`], and returns what of `chunk` came after the direction
    /// switched protocols (a `101 Switching Protocols` answered the connection's Upgrade
    /// request): the next protocol's bytes, with their own stream offset.
    pub fn on_chunk_until_switch<'a>(
        &mut self,
        from_client: bool,
        origin: Origin,
        chunk: StreamChunk<'a>,
    ) -> Option<StreamChunk<'a>> {
        match chunk {
            StreamChunk::Data { offset, bytes } => {
                let mut rest = bytes;
                // Every pass consumes bytes or stops the direction, so this ends.
                while !rest.is_empty() {
                    let used = self.feed(from_client, origin, rest);
                    match used {
                        Some(n) if n > 0 => rest = rest.get(n..).unwrap_or(&[]),
                        Some(_) => break,
                        None if self.switched(from_client) => {
                            let used = (bytes.len() - rest.len()) as u64;
                            return Some(StreamChunk::Data {
                                offset: offset + used,
                                bytes: rest,
                            });
                        }
                        None => break,
                    }
                }
                None
            }
            StreamChunk::Gap { .. } if self.switched(from_client) => Some(chunk),
            StreamChunk::Gap { len, .. } => {
                self.gap(from_client, origin, len);
                None
            }
        }
    }

    /// True when the direction stopped because the connection switched protocols.
    fn switched(&self, from_client: bool) -> bool {
        let (dir, desync) = if from_client {
            (&self.client, self.facts.client_desync)
        } else {
            (&self.server, self.facts.server_desync)
        };
        self.facts.upgraded && !desync && matches!(dir.phase, Phase::Stopped)
    }

    /// Bytes never captured: a body skips them; a message head (or a message that began in
    /// them) is lost and counted, and parsing resumes at the next message start.
    fn gap(&mut self, from_client: bool, origin: Origin, len: u64) {
        let dir = self.dir(from_client);
        let lost = match &mut dir.phase {
            Phase::Body {
                index,
                body,
                collect,
            } => {
                let index = *index;
                let beyond = body.gap(len);
                let (done, received, missing) = (body.is_done(), body.received, body.missing);
                if let Some(c) = collect.as_mut() {
                    c.gap();
                }
                let collect = if done || beyond.is_err() {
                    collect.take()
                } else {
                    None
                };
                self.read_said(index, collect);
                match beyond {
                    Ok(0) if !done => {
                        self.body_progress(from_client, index, origin, received, missing, false);
                        return;
                    }
                    Ok(beyond) => {
                        // The body ended inside the gap; anything after it began a message.
                        let dir = self.dir(from_client);
                        dir.phase = Phase::Head;
                        self.body_progress(from_client, index, origin, received, missing, true);
                        if beyond == 0 {
                            return;
                        }
                        true
                    }
                    // A chunked body lost its framing: where it ends is unknown.
                    Err(_) => false,
                }
            }
            Phase::Head => true,
            Phase::Resync | Phase::Stopped => return,
        };
        let dir = self.dir(from_client);
        dir.phase = Phase::Resync;
        dir.buf.clear();
        dir.head_start = None;
        if lost {
            self.lose_message(from_client);
        }
    }

    /// A message the capture did not show: a request with no facts, or a response not seen.
    fn lose_message(&mut self, from_client: bool) {
        if from_client {
            self.facts.requests += 1;
            self.begin(Exchange::new(None));
        } else {
            if let Some(e) = self.exchange_mut(self.facts.responses) {
                e.response_not_captured = true;
            }
            self.facts.responses += 1;
        }
    }

    /// Where the next message starts in `bytes` (a line beginning with a method or `HTTP/1.`).
    fn message_start(from_client: bool, bytes: &[u8]) -> Option<usize> {
        let starts = |at: &[u8]| {
            if from_client {
                super::sniff::METHODS.iter().any(|m| at.starts_with(m))
            } else {
                at.starts_with(b"HTTP/1.")
            }
        };
        (0..bytes.len()).find(|&i| {
            (i == 0 || bytes.get(i - 1) == Some(&b'\n')) && bytes.get(i..).is_some_and(starts)
        })
    }

    fn stop(&mut self, from_client: bool, desync: bool) {
        let dir = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        dir.phase = Phase::Stopped;
        dir.buf = Vec::new();
        if desync {
            if from_client {
                self.facts.client_desync = true;
            } else {
                self.facts.server_desync = true;
            }
        }
    }

    /// Parses from the front of `bytes`; returns how many bytes were used (`None` when the
    /// direction stopped).
    fn feed(&mut self, from_client: bool, origin: Origin, bytes: &[u8]) -> Option<usize> {
        let dir = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        match &mut dir.phase {
            Phase::Stopped => None,
            Phase::Resync => match Self::message_start(from_client, bytes) {
                Some(0) => {
                    dir.phase = Phase::Head;
                    self.feed(from_client, origin, bytes)
                }
                Some(n) => {
                    dir.phase = Phase::Head;
                    Some(n)
                }
                None => Some(bytes.len()),
            },
            Phase::Body {
                index,
                body,
                collect,
            } => {
                let index = *index;
                let fed = match collect.as_mut() {
                    Some(c) => body.feed_data(bytes, Some(&mut |data: &[u8]| c.push(data))),
                    None => body.feed(bytes),
                };
                let Ok(used) = fed else {
                    let collect = collect.take();
                    self.read_said(index, collect);
                    self.stop(from_client, true);
                    return None;
                };
                let (done, received, missing) = (body.is_done(), body.received, body.missing);
                if done {
                    let collect = collect.take();
                    dir.phase = Phase::Head;
                    self.read_said(index, collect);
                }
                self.body_progress(from_client, index, origin, received, missing, done);
                Some(used)
            }
            Phase::Head => {
                if dir.buf.is_empty() {
                    // Bytes between messages (a stray CRLF) are skipped here.
                    let skip = bytes
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if skip > 0 {
                        return Some(skip);
                    }
                    dir.head_start = Some(origin);
                    match self.head(from_client, origin, bytes) {
                        Head::Complete(n) => Some(n),
                        Head::Invalid => {
                            self.stop(from_client, true);
                            None
                        }
                        Head::Partial => {
                            let dir = self.dir(from_client);
                            if bytes.len() > MAX_HEAD {
                                self.stop(from_client, true);
                                return None;
                            }
                            dir.buf.extend_from_slice(bytes);
                            Some(bytes.len())
                        }
                    }
                } else {
                    let old = dir.buf.len();
                    let room = MAX_HEAD.saturating_sub(old);
                    let add = bytes.len().min(room);
                    dir.buf.extend_from_slice(&bytes[..add]);
                    let buf = std::mem::take(&mut dir.buf);
                    let parsed = self.head(from_client, origin, &buf);
                    match parsed {
                        Head::Complete(n) => Some(n.saturating_sub(old).max(1)),
                        Head::Invalid => {
                            self.stop(from_client, true);
                            None
                        }
                        Head::Partial if add < bytes.len() || buf.len() >= MAX_HEAD => {
                            self.stop(from_client, true);
                            None
                        }
                        Head::Partial => {
                            self.dir(from_client).buf = buf;
                            Some(add)
                        }
                    }
                }
            }
        }
    }

    fn dir(&mut self, from_client: bool) -> &mut Direction {
        if from_client {
            &mut self.client
        } else {
            &mut self.server
        }
    }

    fn on_request(&mut self, req: &httparse::Request<'_, '_>, origin: Origin, _len: usize) {
        let first = self.client.head_start.take().unwrap_or(origin);
        let framing_headers = message::body_headers(req.headers);
        if framing_headers.bad_length {
            self.facts.client_desync = true;
            self.client.phase = Phase::Stopped;
        }
        let head = message::request_head(req);
        // What follows a CONNECT or an Upgrade request may be a tunnel or another protocol.
        let switches = head.method.eq_ignore_ascii_case("CONNECT") || framing_headers.upgrade;
        let framing = framing_headers.framing(true);
        let body = Body::new(framing);
        self.facts.requests += 1;
        let index = self.begin(Exchange::new(Some(Request {
            head,
            first,
            last: body.is_done().then_some(origin),
            body_bytes: 0,
        })));
        if matches!(self.client.phase, Phase::Stopped) {
            return;
        }
        self.client.phase = if body.is_done() {
            if switches {
                Phase::Stopped
            } else {
                Phase::Head
            }
        } else {
            Phase::Body {
                index,
                body,
                collect: None,
            }
        };
    }

    /// A request head that does not parse: an exchange with what could be read of it.
    fn on_malformed_request(&mut self, origin: Origin, bytes: &[u8]) {
        let first = self.client.head_start.take().unwrap_or(origin);
        self.facts.requests += 1;
        self.begin(Exchange::new(Some(Request {
            head: message::lenient_request_head(bytes),
            first,
            last: Some(origin),
            body_bytes: 0,
        })));
    }

    fn on_response(&mut self, resp: &httparse::Response<'_, '_>, origin: Origin) {
        let first = self.server.head_start.take().unwrap_or(origin);
        // A response to a request whose head never ended (a request line without its blank
        // line, bare words): the server answered what the client sent, which is in the capture.
        if self.facts.responses == self.begun() && !self.client.buf.is_empty() {
            let buf = std::mem::take(&mut self.client.buf);
            let start = self.client.head_start.unwrap_or(origin);
            self.on_malformed_request(start, &buf);
            self.stop(true, true);
        }
        // The request this answers: the oldest one without a final response.
        let index = self.facts.responses;
        let request = self
            .position(index)
            .and_then(|i| self.facts.exchanges.get(i))
            .and_then(|e| e.request.as_ref());
        let method = request.map(|r| r.head.method.clone());
        let graphql = request.is_some_and(|r| r.head.graphql);
        let head = message::response_head(resp, graphql);
        let status = head.status;
        if (100..200).contains(&status) && status != 101 {
            if let Some(e) = self.exchange_mut(index) {
                e.interim += 1;
                e.first_interim.get_or_insert(first);
            }
            return;
        }
        let framing_headers = message::body_headers(resp.headers);
        let is = |m: &str| method.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(m));
        let upgraded = status == 101 || (is("CONNECT") && (200..300).contains(&status));
        let framing = if is("HEAD") || status == 204 || status == 304 || upgraded {
            Framing::None
        } else {
            framing_headers.framing(false)
        };
        let body = Body::new(framing);
        let collect = Collector::wanted(&head, self.body_limit);
        let response = Response {
            head,
            framing,
            first,
            last: origin,
            body_received: 0,
            body_missing: 0,
            complete: body.is_done(),
            said: None,
        };
        self.facts.responses += 1;
        // The exchange it answers, or a new one when no request was seen for it.
        let slot = if index == self.begun() {
            self.begin(Exchange::new(None))
        } else {
            self.position(index).map(|_| index)
        };
        if let Some(e) = slot.and_then(|n| self.exchange_mut(n)) {
            e.response = Some(response);
        }
        if upgraded {
            self.facts.upgraded = true;
            self.stop(false, false);
            self.stop(true, false);
        } else if framing_headers.bad_length {
            self.stop(false, true);
        } else if !body.is_done() {
            self.server.phase = Phase::Body {
                index: slot,
                body,
                collect,
            };
        }
    }

    /// What the collected body of exchange `index`'s response said.
    fn read_said(&mut self, index: Option<u64>, collect: Option<Box<Collector>>) {
        let Some(c) = collect else { return };
        if let Some(r) = index
            .and_then(|n| self.exchange_mut(n))
            .and_then(|e| e.response.as_mut())
        {
            r.said = c.read(&r.head);
        }
    }

    fn body_progress(
        &mut self,
        from_client: bool,
        index: Option<u64>,
        origin: Origin,
        received: u64,
        missing: u64,
        done: bool,
    ) {
        let Some(e) = index.and_then(|n| self.exchange_mut(n)) else {
            return;
        };
        if from_client {
            if let Some(r) = e.request.as_mut() {
                r.body_bytes = received;
                if done {
                    r.last = Some(origin);
                }
            }
        } else if let Some(r) = e.response.as_mut() {
            r.last = origin;
            r.body_received = received;
            r.body_missing = missing;
            r.complete = done;
        }
    }
}

#[cfg(test)]
mod tests;
