//! Application layer: the reassembled byte streams of each TCP connection, in order per
//! direction with explicit gaps, go to protocol parsers (TLS, HTTP/1.x; DNS over TCP).
//!
//! [`AppTracker`] is the [`StreamObserver`] the TCP stage feeds. It keeps per-connection parser
//! state only while the connection is open; when the connection ends, its [`AppFacts`] wait
//! in the tracker until the analysis takes them with [`AppTracker::take`]. Nothing here keeps
//! payload beyond what a parser still needs (bodies are counted; the first bytes of an error
//! response's body are read for what the server said, then dropped).

pub mod dns;
pub mod http;
pub mod http2;
pub mod said;
mod sniff;
pub mod tls;

pub use sniff::Protocol;

use hashbrown::HashMap;

use crate::tcp::{Origin, StreamChunk, StreamObserver};

/// What one direction of a connection carried at the application layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionFacts {
    /// The frame that carried the first application byte.
    pub first_data: Option<Origin>,
    /// The frame that carried the last application byte.
    pub last_data: Option<Origin>,
    /// Application bytes delivered in order.
    pub bytes: u64,
    /// Bytes never seen (holes given up, snap-length cuts).
    pub gap_bytes: u64,
}

impl DirectionFacts {
    fn on_chunk(&mut self, origin: Origin, chunk: &StreamChunk<'_>) {
        match *chunk {
            StreamChunk::Data { bytes, .. } => {
                self.first_data.get_or_insert(origin);
                self.last_data = Some(origin);
                self.bytes += bytes.len() as u64;
            }
            StreamChunk::Gap { len, .. } => self.gap_bytes += len,
        }
    }
}

/// Input the parsers read although it was damaged or broke its protocol's rules (their best
/// reading kept), counted by reason, so a reader knows what was not clean. Empty (no
/// allocation) on clean traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anomalies(Vec<(&'static str, u64)>);

impl Anomalies {
    /// Counts `n` more of `reason`.
    pub fn add(&mut self, reason: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        match self.0.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, count)) => *count += n,
            None => self.0.push((reason, n)),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Anomalies) {
        for &(reason, n) in &other.0 {
            self.add(reason, n);
        }
    }

    /// How many of `reason` were counted.
    pub fn count(&self, reason: &str) -> u64 {
        self.0
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    /// Each reason with its count, in the order first seen.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    /// Nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Everything the application layer learned about one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppFacts {
    /// What the client's first bytes look like.
    pub client_protocol: Protocol,
    /// What the server's first bytes look like.
    pub server_protocol: Protocol,
    pub client: DirectionFacts,
    pub server: DirectionFacts,
    /// TLS facts, when either side spoke TLS (or the server refused plain HTTP as a TLS port).
    pub tls: Option<tls::TlsFacts>,
    /// HTTP/1.x requests and responses, when the connection carried HTTP.
    pub http: http::HttpFacts,
    /// HTTP/2 streams, settings and GOAWAYs, when the connection spoke HTTP/2 (cleartext with
    /// the preface or after `Upgrade: h2c`, or inside decrypted TLS). Boxed: most connections
    /// are not HTTP/2.
    pub http2: Option<Box<http2::Http2Facts>>,
    /// DNS lookups carried over the connection when it spoke DNS over TCP (endpoints are
    /// placeholders: the connection's own are in its TCP summary).
    pub dns: Vec<dns::Lookup>,
    /// What the parsers read despite damage (HTTP heads, TLS records, DNS messages), by reason.
    pub anomalies: Anomalies,
    /// What the client's first decrypted application bytes look like (`None` when nothing
    /// was decrypted): HTTP/1.x inside TLS is parsed into [`AppFacts::http`].
    pub inner_protocol: Protocol,
}

/// Parser state of one open connection.
#[derive(Debug, Default)]
struct StreamApp {
    facts: AppFacts,
    tls: Option<Box<tls::TlsConn>>,
    dns: Option<Box<dns::TcpDns>>,
    /// Boxed: most connections are not HTTP, and the map of open connections stays small.
    http: Option<Box<http::HttpStream>>,
    /// HTTP/1.x decrypted from TLS records (kept apart from `http`, which reads the
    /// connection's own bytes).
    tls_http: Option<Box<http::HttpStream>>,
    /// HTTP/2: on the connection's own bytes (the preface, after `Upgrade: h2c`, or frames met
    /// mid-connection), or on the plaintext decrypted from TLS (ALPN h2).
    h2: Option<Box<http2::Http2Conn>>,
    /// The client's first bytes when they were not recognisably HTTP (a malformed request
    /// line), kept until the server's first bytes tell whether they were a request: an HTTP
    /// answer makes them one (at most [`MAX_UNSNIFFED`] bytes).
    unsniffed_client: Option<Box<(Origin, Vec<u8>)>>,
    /// How much of an error response's body the HTTP parsers read.
    body_limit: http::BodyLimit,
}

/// Decrypted application data: the client's first bytes say what it is; HTTP/1.x goes to the
/// connection's parser of decrypted HTTP, HTTP/2 (ALPN h2) to its HTTP/2 parser.
fn inside_tls(
    body_limit: http::BodyLimit,
    inner: &mut Protocol,
    tls_http: &mut Option<Box<http::HttpStream>>,
    h2: &mut Option<Box<http2::Http2Conn>>,
    from_client: bool,
    origin: Origin,
    plain: StreamChunk<'_>,
) {
    if let StreamChunk::Data { offset: 0, bytes } = plain {
        // The client's first bytes decide; the server's only when the client's were not
        // read (its direction's secrets were missing).
        if from_client || *inner == Protocol::None {
            *inner = Protocol::sniff(bytes, from_client);
        }
        if *inner == Protocol::Http2 && h2.is_none() {
            *h2 = Some(Box::new(
                http2::Http2Conn::new(http2::Http2Start::Alpn).with_body_limit(body_limit),
            ));
        }
    }
    match inner {
        Protocol::Http => tls_http
            .get_or_insert_with(|| Box::new(http::HttpStream::new(body_limit)))
            .on_chunk(from_client, origin, plain),
        Protocol::Http2 => {
            if let Some(h2) = h2 {
                h2.on_chunk(from_client, origin, plain);
            }
        }
        _ => {}
    }
}

/// Most client bytes kept while waiting for the server to show the protocol.
const MAX_UNSNIFFED: usize = 4096;

impl StreamApp {
    fn on_chunk(
        &mut self,
        keys: &tls::KeyLog,
        from_client: bool,
        origin: Origin,
        chunk: StreamChunk<'_>,
    ) {
        let client_spoke_http = self.facts.client_protocol == Protocol::Http;
        let (direction, protocol) = if from_client {
            (&mut self.facts.client, &mut self.facts.client_protocol)
        } else {
            (&mut self.facts.server, &mut self.facts.server_protocol)
        };
        if let StreamChunk::Data { offset: 0, bytes } = chunk {
            *protocol = Protocol::sniff(bytes, from_client);
            if from_client && dns::looks_like_tcp_query(bytes) {
                self.dns = Some(Box::default());
            }
            let refused_plain_http =
                !from_client && client_spoke_http && tls::refuses_plain_http(bytes);
            if *protocol == Protocol::Tls || refused_plain_http {
                let conn = self.tls.get_or_insert_default();
                if refused_plain_http {
                    conn.plain_http_refused(origin);
                }
            }
        }
        // STARTTLS (SMTP, IMAP, POP3, FTP, IRC...) or an HTTP CONNECT tunnel through a proxy: a
        // ClientHello starting a client segment after a plaintext exchange.
        if from_client
            && self.tls.is_none()
            && matches!(*protocol, Protocol::Other | Protocol::Http)
            && let StreamChunk::Data { bytes, .. } = chunk
            && tls::starts_client_hello(bytes)
        {
            self.tls = Some(Box::new(tls::TlsConn::after_starttls()));
        }
        direction.on_chunk(origin, &chunk);
        if let Some(tls) = &mut self.tls {
            let inner = &mut self.facts.inner_protocol;
            let tls_http = &mut self.tls_http;
            let h2 = &mut self.h2;
            let body_limit = self.body_limit;
            tls.on_chunk_decrypting(
                keys,
                from_client,
                origin,
                &chunk,
                &mut |from_client, origin, plain| {
                    inside_tls(body_limit, inner, tls_http, h2, from_client, origin, plain)
                },
            );
        }
        if let Some(dns) = &mut self.dns {
            dns.on_chunk(from_client, origin, &chunk);
        }
        // Once either side speaks HTTP, both are parsed (a server's answer may begin with
        // bytes the capture missed, and then cannot be recognised by its first bytes).
        let sniffed = if from_client {
            self.facts.client_protocol
        } else {
            self.facts.server_protocol
        };
        if from_client
            && sniffed == Protocol::Other
            && self.http.is_none()
            && self.facts.server.first_data.is_none()
        {
            if let StreamChunk::Data { bytes, .. } = chunk {
                let kept = self
                    .unsniffed_client
                    .get_or_insert_with(|| Box::new((origin, Vec::new())));
                let room = MAX_UNSNIFFED.saturating_sub(kept.1.len());
                kept.1.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        } else if !from_client {
            let kept = self.unsniffed_client.take();
            if sniffed == Protocol::Http
                && self.http.is_none()
                && let Some(kept) = kept
            {
                let (first, bytes) = *kept;
                let limit = self.body_limit;
                self.http
                    .get_or_insert_with(|| Box::new(http::HttpStream::new(limit)))
                    .on_chunk(
                        true,
                        first,
                        StreamChunk::Data {
                            offset: 0,
                            bytes: &bytes,
                        },
                    );
            }
        }
        if self.tls.is_none() {
            self.cleartext_h2(from_client, sniffed, chunk);
        }
        let switched = if sniffed == Protocol::Http || self.http.is_some() {
            let limit = self.body_limit;
            self.http
                .get_or_insert_with(|| Box::new(http::HttpStream::new(limit)))
                .on_chunk_until_switch(from_client, origin, chunk)
        } else {
            None
        };
        if let Some(rest) = switched {
            self.upgraded_h2(from_client, origin, rest);
        } else if self.tls.is_none()
            && self.http.is_none()
            && let Some(h2) = self.h2.as_mut()
        {
            h2.on_chunk(from_client, origin, chunk);
        }
    }

    /// HTTP/2 in clear from the first bytes: the client's preface (prior knowledge), or frames
    /// met on a connection the capture joined mid-way.
    fn cleartext_h2(&mut self, from_client: bool, sniffed: Protocol, chunk: StreamChunk<'_>) {
        if self.h2.is_some() || self.http.is_some() {
            return;
        }
        let StreamChunk::Data { offset: 0, bytes } = chunk else {
            return;
        };
        let start = match sniffed {
            Protocol::Http2 => http2::Http2Start::PriorKnowledge,
            Protocol::Other if http2::looks_like_frames(bytes, from_client) => {
                http2::Http2Start::MidStream
            }
            _ => return,
        };
        self.h2 = Some(Box::new(
            http2::Http2Conn::new(start).with_body_limit(self.body_limit),
        ));
    }

    /// The bytes after an HTTP/1.1 `101 Switching Protocols`: HTTP/2 when the request asked
    /// for `Upgrade: h2c` (its stream 1 is that request).
    fn upgraded_h2(&mut self, from_client: bool, origin: Origin, rest: StreamChunk<'_>) {
        if self.h2.is_none() {
            let Some(http) = &self.http else { return };
            let request = http
                .facts()
                .exchanges
                .iter()
                .rev()
                .find(|e| e.response.as_ref().is_some_and(|r| r.head.status == 101))
                .and_then(|e| e.request.as_ref())
                .filter(|r| r.head.upgrade_h2c);
            let Some(request) = request else { return };
            self.h2 = Some(Box::new(
                http2::Http2Conn::after_upgrade(request).with_body_limit(self.body_limit),
            ));
        }
        if let Some(h2) = &mut self.h2 {
            h2.on_chunk(from_client, origin, rest);
        }
    }

    /// The connection ended: the parsers' facts are final; their anomalies are added to
    /// `total` too.
    fn finish(mut self, keys: &tls::KeyLog, total: &mut Anomalies) -> AppFacts {
        if let Some(tls) = &mut self.tls {
            let inner = &mut self.facts.inner_protocol;
            let tls_http = &mut self.tls_http;
            let h2 = &mut self.h2;
            let body_limit = self.body_limit;
            tls.end_of_streams(keys, &mut |from_client, origin, plain| {
                inside_tls(body_limit, inner, tls_http, h2, from_client, origin, plain)
            });
        }
        if let Some(http) = self.tls_http.take().or(self.http.take()) {
            self.facts.http = http.finish();
            // The record of exchanges waits out the connection's linger: no growth slack.
            self.facts.http.exchanges.shrink_to_fit();
            self.facts.anomalies.merge(&self.facts.http.anomalies);
        }
        if let Some(h2) = self.h2.take() {
            let facts = h2.finish();
            self.facts.anomalies.merge(&facts.anomalies);
            self.facts.http2 = Some(Box::new(facts));
        }
        if let Some(dns) = self.dns.take() {
            let (lookups, anomalies) = dns.into_lookups_and_anomalies();
            // First bytes can look like a DNS query by chance (a TLS ClientHello may): its
            // anomalies count only when the connection carried DNS.
            if !lookups.is_empty() {
                self.facts.anomalies.merge(&anomalies);
            }
            self.facts.dns = lookups;
        }
        self.facts.tls = self.tls.map(|t| t.into_facts());
        if let Some(tls) = &self.facts.tls {
            self.facts.anomalies.merge(&tls.anomalies);
        }
        total.merge(&self.facts.anomalies);
        self.facts
    }
}

/// Application-layer state of every connection the TCP stage follows.
#[derive(Debug, Default)]
pub struct AppTracker {
    /// Boxed, as are the facts waiting in `ended`: a table sized for the busiest moment then
    /// holds pointers, not a kilobyte of inline state per slot.
    open: HashMap<u64, Box<StreamApp>, foldhash::fast::RandomState>,
    ended: HashMap<u64, Box<AppFacts>, foldhash::fast::RandomState>,
    /// Anomalies of every connection finished so far.
    anomalies: Anomalies,
    /// TLS session secrets for decryption.
    keys: tls::KeyLog,
    /// How much of an error response's body the HTTP parsers read.
    body_limit: http::BodyLimit,
}

impl AppTracker {
    /// A tracker with no connections and no TLS secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tracker that decrypts TLS connections whose secrets `keys` holds (or comes to hold).
    pub fn with_keys(keys: tls::KeyLog) -> Self {
        AppTracker {
            keys,
            ..Self::default()
        }
    }

    /// Reads at most `limit` bytes of each error response's body (`BodyLimit(0)`: none).
    pub fn with_body_limit(mut self, limit: http::BodyLimit) -> Self {
        self.body_limit = limit;
        self
    }

    /// The facts of a connection the TCP stage has finished (empty facts when it carried no
    /// application bytes); each connection's facts can be taken once.
    pub fn take(&mut self, stream: u64) -> AppFacts {
        self.ended
            .remove(&stream)
            .map(|facts| *facts)
            .or_else(|| {
                let app = self.open.remove(&stream)?;
                Some(app.finish(&self.keys, &mut self.anomalies))
            })
            .unwrap_or_default()
    }

    /// Anomalies of every connection whose facts are final (see [`AppFacts::anomalies`]).
    pub fn anomalies(&self) -> &Anomalies {
        &self.anomalies
    }

    /// Connections with parser state (open or waiting to be taken).
    pub fn tracked(&self) -> usize {
        self.open.len() + self.ended.len()
    }
}

impl StreamObserver for AppTracker {
    fn on_chunk(&mut self, stream: u64, from_client: bool, origin: Origin, chunk: StreamChunk<'_>) {
        let body_limit = self.body_limit;
        self.open
            .entry(stream)
            .or_insert_with(|| {
                Box::new(StreamApp {
                    body_limit,
                    ..StreamApp::default()
                })
            })
            .on_chunk(&self.keys, from_client, origin, chunk);
    }

    fn on_end(&mut self, stream: u64) {
        // The facts wait exactly as long as the TCP stage holds the connection's summary (its
        // delivery order decides; the CLI takes each as it ends), and are never dropped: a
        // connection handed out without its protocol facts would be judged as if it carried
        // none. Nothing here scans the waiting facts.
        if let Some(app) = self.open.remove(&stream) {
            self.ended.insert(
                stream,
                Box::new(app.finish(&self.keys, &mut self.anomalies)),
            );
        }
    }
}
