//! The streams of one connection: each one's request and response built from its header
//! blocks and DATA, its reset and gRPC facts, kept up to [`MAX_STREAMS`] (finished healthy
//! streams are dropped to make room).

use std::collections::{HashMap, HashSet};

use super::fields::Fields;
use super::grpc::{
    MessageCounter, decode_message, parse_status_details, parse_timeout, split_path,
};
use super::{GrpcFacts, H2Stream, MAX_STREAMS, StreamReset};
use crate::app::Anomalies;
use crate::app::http::{
    BodyLimit, Collector, Exchange, Framing, Request, RequestHead, Response, response_head_from,
};
use crate::tcp::Origin;

/// A stream that did not fit: the record was full of streams that could fail.
pub const BEYOND_CAP: &str = "http2 stream beyond cap";
/// After a pass that freed little, the next waits this many new streams.
const PASS_EVERY: u64 = (MAX_STREAMS / 8) as u64;

/// A stream and what parsing it needs beyond its facts.
#[derive(Debug)]
struct Entry {
    s: H2Stream,
    /// END_STREAM (or a reset) from the client (`[0]`) and the server (`[1]`).
    done: [bool; 2],
    /// gRPC message counters of the request and the response.
    counters: Option<Box<[MessageCounter; 2]>>,
    /// An error response's body bytes, read when the response ends.
    collect: Option<Box<Collector>>,
}

/// The stream table.
#[derive(Debug, Default)]
pub struct Streams {
    entries: Vec<Entry>,
    index: HashMap<u32, usize>,
    /// Streams dropped from the record (healthy) or not kept (beyond the cap).
    gone: HashSet<u32>,
    /// Highest stream id opened by the client (`[0]`, odd) and the server (`[1]`, even).
    max_opened: [u32; 2],
    pub count: u64,
    next_pass: u64,
    mid_stream: bool,
    /// How much of an error response's body is read.
    body_limit: BodyLimit,
}

fn side(from_client: bool) -> usize {
    usize::from(!from_client)
}

impl Streams {
    pub fn new(mid_stream: bool) -> Self {
        Streams {
            mid_stream,
            ..Streams::default()
        }
    }

    /// Reads at most `limit` bytes of each error response's body from now on.
    pub fn set_body_limit(&mut self, limit: BodyLimit) {
        self.body_limit = limit;
    }

    /// The entry of stream `id`, opened when it is new: by a HEADERS or PUSH_PROMISE
    /// (`opening`), or by any frame on a stream above the highest opened (or any stream not
    /// seen when the capture joined late). Frames on streams already closed and dropped, or
    /// never opened below the highest, find nothing.
    fn entry(&mut self, id: u32, opening: bool, anomalies: &mut Anomalies) -> Option<&mut Entry> {
        if id == 0 {
            return None;
        }
        if let Some(&i) = self.index.get(&id) {
            return self.entries.get_mut(i);
        }
        let parity = usize::from(id.is_multiple_of(2));
        let above = self.max_opened.get(parity).is_some_and(|&m| id > m);
        if self.gone.contains(&id) || !(opening || above || self.mid_stream) {
            return None;
        }
        if let Some(m) = self.max_opened.get_mut(parity) {
            *m = (*m).max(id);
        }
        self.count = self.count.saturating_add(1);
        if self.entries.len() >= MAX_STREAMS {
            self.drop_healthy();
        }
        if self.entries.len() >= MAX_STREAMS {
            anomalies.add(BEYOND_CAP, 1);
            self.gone.insert(id);
            return None;
        }
        self.index.insert(id, self.entries.len());
        self.entries.push(Entry {
            s: H2Stream {
                id,
                exchange: Exchange {
                    request: None,
                    interim: 0,
                    first_interim: None,
                    response: None,
                    response_not_captured: false,
                },
                request_end: None,
                content_type: None,
                trailers_at: None,
                reset: None,
                headers_undecodable: false,
                grpc: None,
                pushed: id.is_multiple_of(2),
            },
            done: [false; 2],
            counters: None,
            collect: None,
        });
        self.entries.last_mut()
    }

    /// Drops the finished healthy streams from the full record.
    fn drop_healthy(&mut self) {
        if self.count < self.next_pass {
            return;
        }
        let before = self.entries.len();
        let gone = &mut self.gone;
        self.entries.retain(|e| {
            let healthy = is_healthy(e);
            if healthy {
                gone.insert(e.s.id);
            }
            !healthy
        });
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.s.id, i))
            .collect();
        if before - self.entries.len() < MAX_STREAMS / 8 {
            self.next_pass = self.count.saturating_add(PASS_EVERY);
        }
    }

    /// A header block of stream `id` from the client or the server, decoded (`Some`) or not.
    pub fn on_headers(
        &mut self,
        from_client: bool,
        id: u32,
        end_stream: bool,
        fields: Option<&Fields>,
        at: Origin,
        anomalies: &mut Anomalies,
    ) {
        let body_limit = self.body_limit;
        let Some(e) = self.entry(id, true, anomalies) else {
            return;
        };
        if fields.is_none() {
            e.s.headers_undecodable = true;
        }
        if from_client && !e.s.pushed {
            client_headers(e, fields, at);
        } else if !from_client {
            server_headers(e, fields, end_stream, at);
            if e.collect.is_none()
                && let Some(r) = e.s.exchange.response.as_ref()
                && r.body_received == 0
            {
                e.collect = Collector::wanted(&r.head, body_limit);
            }
        }
        if end_stream {
            end(e, from_client, at);
        }
    }

    /// A PUSH_PROMISE on stream `id` opening `promised` with the request in `fields`.
    pub fn on_push_promise(
        &mut self,
        promised: u32,
        fields: Option<&Fields>,
        at: Origin,
        anomalies: &mut Anomalies,
    ) {
        let Some(e) = self.entry(promised, true, anomalies) else {
            return;
        };
        e.s.pushed = true;
        if fields.is_none() {
            e.s.headers_undecodable = true;
        }
        client_headers(e, fields, at);
        end(e, true, at);
    }

    /// DATA payload bytes (padding excluded) of stream `id`, as they come.
    pub fn on_data_bytes(&mut self, from_client: bool, id: u32, bytes: &[u8]) {
        let Some(e) = self.index.get(&id).and_then(|&i| self.entries.get_mut(i)) else {
            return;
        };
        let n = bytes.len() as u64;
        if from_client {
            if let Some(r) = e.s.exchange.request.as_mut() {
                r.body_bytes = r.body_bytes.saturating_add(n);
            }
        } else if let Some(r) = e.s.exchange.response.as_mut() {
            r.body_received = r.body_received.saturating_add(n);
            if let Some(c) = e.collect.as_mut() {
                c.push(bytes);
            }
        }
        if let Some(c) = e
            .counters
            .as_mut()
            .and_then(|c| c.get_mut(side(from_client)))
        {
            c.on_data(bytes);
        }
    }

    /// DATA payload bytes of stream `id` the capture never saw.
    pub fn on_data_missing(&mut self, from_client: bool, id: u32, len: u64) {
        let Some(e) = self.index.get(&id).and_then(|&i| self.entries.get_mut(i)) else {
            return;
        };
        if !from_client && let Some(r) = e.s.exchange.response.as_mut() {
            r.body_missing = r.body_missing.saturating_add(len);
            if let Some(c) = e.collect.as_mut() {
                c.gap();
            }
        }
        if let Some(c) = e
            .counters
            .as_mut()
            .and_then(|c| c.get_mut(side(from_client)))
        {
            c.on_gap(len);
        }
    }

    /// The DATA frame of stream `id` starts (before its bytes): a response the capture did not
    /// see the head of is made here, so its body is counted.
    pub fn on_data_start(&mut self, from_client: bool, id: u32, at: Origin, an: &mut Anomalies) {
        let Some(e) = self.entry(id, false, an) else {
            return;
        };
        if !from_client && e.s.exchange.response.is_none() {
            e.s.exchange.response = Some(unknown_response(at));
        }
    }

    /// The DATA frame of stream `id` ended (in the frame `at`).
    pub fn on_data_end(&mut self, from_client: bool, id: u32, end_stream: bool, at: Origin) {
        let Some(e) = self.index.get(&id).and_then(|&i| self.entries.get_mut(i)) else {
            return;
        };
        if from_client {
            if let Some(r) = e.s.exchange.request.as_mut() {
                r.last = Some(at);
            }
        } else if let Some(r) = e.s.exchange.response.as_mut() {
            r.last = at;
        }
        if end_stream {
            end(e, from_client, at);
        }
    }

    /// An RST_STREAM on stream `id`.
    pub fn on_reset(&mut self, id: u32, reset: StreamReset, anomalies: &mut Anomalies) {
        let Some(e) = self.entry(id, false, anomalies) else {
            return;
        };
        e.s.reset.get_or_insert(reset);
        e.done = [true; 2];
        read_said(e);
    }

    /// The sender (client or server) may still send DATA on stream `id`.
    pub fn sending(&self, from_client: bool, id: u32) -> bool {
        self.index
            .get(&id)
            .and_then(|&i| self.entries.get(i))
            .is_some_and(|e| e.done.get(side(from_client)) == Some(&false))
    }

    /// The sender has a stream it has not ended.
    pub fn any_sending(&self, from_client: bool) -> bool {
        self.entries
            .iter()
            .any(|e| e.done.get(side(from_client)) == Some(&false))
    }

    /// The streams, in the order they opened.
    pub fn finish(self) -> Vec<H2Stream> {
        self.entries
            .into_iter()
            .map(|mut e| {
                read_said(&mut e);
                if let (Some(g), Some(c)) = (e.s.grpc.as_mut(), e.counters) {
                    let [req, resp] = *c;
                    g.requests = req.finish();
                    g.responses = resp.finish();
                }
                e.s
            })
            .collect()
    }
}

/// A finished stream no rule can find fault with.
fn is_healthy(e: &Entry) -> bool {
    let s = &e.s;
    let answered = s
        .exchange
        .response
        .as_ref()
        .is_some_and(|r| r.complete && (200..400).contains(&r.head.status));
    answered
        && s.reset.is_none()
        && !s.headers_undecodable
        && e.done == [true; 2]
        && s.grpc
            .as_ref()
            .is_none_or(|g| g.status.is_none_or(|c| c == 0))
}

/// A response whose head the capture did not read (status 0).
fn unknown_response(at: Origin) -> Response {
    Response {
        head: Default::default(),
        framing: Framing::UntilClose,
        first: at,
        last: at,
        body_received: 0,
        body_missing: 0,
        complete: false,
        said: None,
    }
}

fn end(e: &mut Entry, from_client: bool, at: Origin) {
    if let Some(d) = e.done.get_mut(side(from_client)) {
        *d = true;
    }
    if from_client {
        e.s.request_end.get_or_insert(at);
        if let Some(r) = e.s.exchange.request.as_mut() {
            r.last = Some(at);
        }
    } else if let Some(r) = e.s.exchange.response.as_mut() {
        r.last = at;
        r.complete = true;
        read_said(e);
    }
}

/// What the collected body of the stream's response said (the bytes are dropped).
fn read_said(e: &mut Entry) {
    if let (Some(c), Some(r)) = (e.collect.take(), e.s.exchange.response.as_mut()) {
        r.said = c.read(&r.head);
    }
}

/// The request's HEADERS (or trailers, when the request began already).
fn client_headers(e: &mut Entry, fields: Option<&Fields>, at: Origin) {
    if let Some(r) = e.s.exchange.request.as_mut() {
        r.last = Some(at);
        return;
    }
    let head = fields.map_or_else(RequestHead::default, Fields::request_head);
    e.s.exchange.request = Some(Request {
        head,
        first: at,
        last: Some(at),
        body_bytes: 0,
    });
    let Some(f) = fields else {
        return;
    };
    e.s.content_type = f.content_type_text();
    if f.is_grpc() {
        let path = f.path.as_deref().map(String::from_utf8_lossy);
        let (service, method) = path.as_deref().and_then(split_path).unwrap_or_default();
        let text = |v: &Option<Vec<u8>>| {
            v.as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let grpc = grpc_of(e);
        grpc.service = service;
        grpc.method = method;
        grpc.timeout_ns = text(&f.grpc_timeout).and_then(|t| parse_timeout(&t));
        grpc.encoding = f
            .grpc_encoding
            .as_deref()
            .filter(|v| !v.eq_ignore_ascii_case(b"identity"))
            .map(|v| crate::app::http::clip(v, 64));
    }
}

/// The gRPC facts of the stream, made (with their message counters) when first needed.
fn grpc_of(e: &mut Entry) -> &mut GrpcFacts {
    if e.counters.is_none() {
        e.counters = Some(Box::default());
    }
    e.s.grpc.get_or_insert_with(Box::default)
}

/// The response's HEADERS: an interim (1xx), the final head, or the trailers after it.
fn server_headers(e: &mut Entry, fields: Option<&Fields>, end_stream: bool, at: Origin) {
    let status = fields.map_or(0, Fields::status_code);
    let graphql =
        e.s.exchange
            .request
            .as_ref()
            .is_some_and(|r| r.head.graphql);
    let first_head = match e.s.exchange.response.as_mut() {
        // A response made from DATA before any HEADERS was read: its head is not known.
        Some(r) if r.head.status == 0 && fields.is_some() && status != 0 => {
            r.head = head_of(status, fields, graphql);
            true
        }
        Some(r) => {
            r.last = at;
            e.s.trailers_at = Some(at);
            false
        }
        None if (100..200).contains(&status) && status != 101 => {
            e.s.exchange.interim = e.s.exchange.interim.saturating_add(1);
            e.s.exchange.first_interim.get_or_insert(at);
            return;
        }
        None => {
            let head = head_of(status, fields, graphql);
            let framing = match head.content_length {
                Some(n) => Framing::Length(n),
                None => Framing::UntilClose,
            };
            e.s.exchange.response = Some(Response {
                head,
                framing,
                first: at,
                last: at,
                body_received: 0,
                body_missing: 0,
                complete: false,
                said: None,
            });
            true
        }
    };
    let Some(f) = fields else {
        return;
    };
    if e.s.content_type.is_none() {
        e.s.content_type = f.content_type_text();
    }
    if f.is_grpc() && e.s.grpc.is_none() {
        grpc_of(e);
    }
    if let Some(code) = f.grpc_status_code() {
        let grpc = grpc_of(e);
        grpc.status = Some(code);
        grpc.status_at = Some(at);
        grpc.trailers_only = first_head && end_stream;
        grpc.message = f.grpc_message.as_deref().map(decode_message);
        grpc.details = f.grpc_details.as_deref().and_then(parse_status_details);
    }
}

fn head_of(status: u16, fields: Option<&Fields>, graphql: bool) -> crate::app::http::ResponseHead {
    let kept = fields.map_or(&[][..], |f| &f.response[..]);
    response_head_from(
        status,
        b"",
        kept.iter().map(|(n, v)| (n.as_str(), v.as_slice())),
        graphql,
    )
}

impl Streams {
    /// Stream `id`'s request is the one given (an HTTP/1.1 request upgraded to h2c).
    pub fn set_request(&mut self, id: u32, request: Request) {
        if let Some(e) = self.index.get(&id).and_then(|&i| self.entries.get_mut(i)) {
            e.s.exchange.request = Some(request);
            e.s.headers_undecodable = false;
        }
    }
}
