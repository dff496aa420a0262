//! The HTTP/2 part of the connection listing (`faultline conns`): in JSON an `http2` object per
//! HTTP/2 connection (how it started, every stream kept with its request, response, reset and
//! gRPC facts, the GOAWAYs, settings, pings and window stalls); in text one line per connection
//! (stream count, failed streams, GOAWAYs) and one line per failed stream.
//!
//! Every value shown was redacted and clipped by the parser (`app::http2`); the text goes
//! through the caller's `ControlEscaper`.

use std::io::{self, Write};

use serde::Serialize;

use crate::app::http2::{
    ErrorCode, GoAway, GrpcFacts, GrpcMessages, GrpcStatusDetails, H2Stream, Http2Facts,
    Http2Start, Settings, WindowStall,
};

/// Most failed streams listed in text per connection (JSON lists every stream kept).
const TEXT_FAILED_STREAMS: usize = 20;

/// The `http2` object of a connection's JSON row.
#[derive(Serialize)]
pub(super) struct Http2Summary<'a> {
    /// `prior_knowledge`, `upgrade`, `alpn` or `mid_stream`.
    start: &'static str,
    /// Streams opened, including those beyond the kept ones.
    stream_count: u64,
    streams: Vec<StreamRow<'a>>,
    goaways: Vec<GoAwayRow<'a>>,
    settings: SettingsPair,
    pings: PingsRow,
    stalls: Vec<StallRow>,
    undecodable_header_blocks: u64,
    /// A direction whose bytes stopped being parseable HTTP/2.
    desync: Desync,
}

#[derive(Serialize)]
struct StreamRow<'a> {
    id: u32,
    method: Option<&'a str>,
    path: Option<&'a str>,
    authority: Option<&'a str>,
    status: Option<u16>,
    content_type: Option<&'a str>,
    /// DATA payload bytes each way (padding excluded).
    request_bytes: u64,
    response_bytes: u64,
    /// The stream's first frame (the request's HEADERS, or the PUSH_PROMISE of a pushed one).
    first_frame: Option<u64>,
    response_first_frame: Option<u64>,
    /// The frame that closed the stream: its RST_STREAM, or the later of the two END_STREAMs;
    /// `null` while it was still open.
    end_frame: Option<u64>,
    reset: Option<ResetRow>,
    headers_undecodable: bool,
    pushed: bool,
    grpc: Option<GrpcRow<'a>>,
}

#[derive(Serialize)]
struct ResetRow {
    code: String,
    sender: &'static str,
    frame: u64,
}

#[derive(Serialize)]
struct GrpcRow<'a> {
    service: &'a str,
    method: &'a str,
    timeout_ms: Option<f64>,
    status: Option<u32>,
    status_name: Option<&'static str>,
    message: Option<&'a str>,
    trailers_only: bool,
    requests: MessagesRow,
    responses: MessagesRow,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<DetailsRow<'a>>,
}

/// gRPC's length-prefixed messages one way.
#[derive(Serialize)]
struct MessagesRow {
    count: u64,
    /// Message bytes, without the 5-byte prefixes.
    bytes: u64,
    compressed: u64,
    /// The body ended inside a message.
    cut: bool,
    /// A capture gap may have hidden message prefixes: the counts are lower bounds.
    lost: bool,
}

impl From<&GrpcMessages> for MessagesRow {
    fn from(m: &GrpcMessages) -> Self {
        MessagesRow {
            count: m.count,
            bytes: m.bytes,
            compressed: m.compressed,
            cut: m.cut,
            lost: m.lost,
        }
    }
}

#[derive(Serialize)]
struct DetailsRow<'a> {
    code: Option<i32>,
    message: Option<&'a str>,
    detail_types: &'a [String],
    error_info_reason: Option<&'a str>,
}

#[derive(Serialize)]
struct GoAwayRow<'a> {
    code: String,
    sender: &'static str,
    last_stream_id: u32,
    debug: Option<&'a str>,
    frame: u64,
}

#[derive(Serialize)]
struct SettingsPair {
    client: SettingsRow,
    server: SettingsRow,
}

/// One side's last announced SETTINGS; `null`: never announced (the RFC default holds).
#[derive(Serialize)]
struct SettingsRow {
    max_concurrent_streams: Option<u32>,
    initial_window_size: Option<u32>,
    header_table_size: Option<u32>,
    max_frame_size: Option<u32>,
    max_header_list_size: Option<u32>,
}

#[derive(Serialize)]
struct PingsRow {
    sent: u32,
    acked: u32,
    min_rtt_ms: Option<f64>,
    max_rtt_ms: Option<f64>,
}

#[derive(Serialize)]
struct StallRow {
    /// Whose data was held back.
    sender: &'static str,
    /// 0: the connection window.
    stream_id: u32,
    closed_frame: u64,
    reopened_frame: Option<u64>,
}

#[derive(Serialize)]
struct Desync {
    client: bool,
    server: bool,
}

fn side(by_client: bool) -> &'static str {
    if by_client { "client" } else { "server" }
}

/// How the connection came to speak HTTP/2, as the JSON and text name it.
pub(super) fn start_name(start: Http2Start) -> &'static str {
    match start {
        Http2Start::PriorKnowledge => "prior_knowledge",
        Http2Start::Upgrade => "upgrade",
        Http2Start::Alpn => "alpn",
        Http2Start::MidStream => "mid_stream",
        _ => "none",
    }
}

/// gRPC's name of a status code (`UNAVAILABLE`), `None` for a number gRPC does not define.
pub(super) fn grpc_status_name(code: u32) -> Option<&'static str> {
    (code <= 16).then(|| crate::app::http2::status_name(code))
}

fn ms(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e3
}

fn settings_row(s: &Settings) -> SettingsRow {
    SettingsRow {
        max_concurrent_streams: s.max_concurrent_streams,
        initial_window_size: s.initial_window_size,
        header_table_size: s.header_table_size,
        max_frame_size: s.max_frame_size,
        max_header_list_size: s.max_header_list_size,
    }
}

/// The frame that closed a stream: its reset, or the later END_STREAM once both sides sent
/// theirs (a server that ends its response first leaves the stream half-closed, not closed).
fn end_frame(s: &H2Stream) -> Option<u64> {
    if let Some(reset) = &s.reset {
        return Some(reset.at.frame);
    }
    let response = s.exchange.response.as_ref().filter(|r| r.complete)?;
    // A pushed stream has no request END_STREAM of its own: the server's is the end.
    let request_end = match s.pushed {
        true => 0,
        false => s.request_end?.frame,
    };
    Some(response.last.frame.max(request_end))
}

fn grpc_row(g: &GrpcFacts) -> GrpcRow<'_> {
    GrpcRow {
        service: &g.service,
        method: &g.method,
        timeout_ms: g
            .timeout_ns
            .map(|ns| ms(i64::try_from(ns).unwrap_or(i64::MAX))),
        status: g.status,
        status_name: g.status.and_then(grpc_status_name),
        message: g.message.as_deref(),
        trailers_only: g.trailers_only,
        requests: (&g.requests).into(),
        responses: (&g.responses).into(),
        encoding: g.encoding.as_deref(),
        details: g.details.as_ref().map(details_row),
    }
}

fn details_row(d: &GrpcStatusDetails) -> DetailsRow<'_> {
    DetailsRow {
        code: d.code,
        message: d.message.as_deref(),
        detail_types: &d.detail_types,
        error_info_reason: d.error_info_reason.as_deref(),
    }
}

fn stream_row(s: &H2Stream) -> StreamRow<'_> {
    let request = s.exchange.request.as_ref();
    let response = s.exchange.response.as_ref();
    StreamRow {
        id: s.id,
        method: request.map(|r| r.head.method.as_str()),
        path: request.map(|r| r.head.target.as_str()),
        authority: request.and_then(|r| r.head.host.as_deref()),
        status: response.map(|r| r.head.status),
        content_type: s.content_type.as_deref(),
        request_bytes: request.map_or(0, |r| r.body_bytes),
        response_bytes: response.map_or(0, |r| r.body_received),
        first_frame: request
            .map(|r| r.first.frame)
            .or(response.map(|r| r.first.frame)),
        response_first_frame: response.map(|r| r.first.frame),
        end_frame: end_frame(s),
        reset: s.reset.map(|r| ResetRow {
            code: r.code.name(),
            sender: side(r.by_client),
            frame: r.at.frame,
        }),
        headers_undecodable: s.headers_undecodable,
        pushed: s.pushed,
        grpc: s.grpc.as_deref().map(grpc_row),
    }
}

fn goaway_row(g: &GoAway) -> GoAwayRow<'_> {
    GoAwayRow {
        code: g.code.name(),
        sender: side(g.by_client),
        last_stream_id: g.last_stream_id,
        debug: g.debug.as_deref(),
        frame: g.at.frame,
    }
}

fn stall_row(s: &WindowStall) -> StallRow {
    StallRow {
        sender: side(s.sender_is_client),
        stream_id: s.stream_id,
        closed_frame: s.closed_at.frame,
        reopened_frame: s.reopened_at.map(|o| o.frame),
    }
}

impl<'a> Http2Summary<'a> {
    /// The JSON object of one connection's HTTP/2 facts.
    pub(super) fn of(h2: &'a Http2Facts) -> Self {
        let [client, server] = &h2.settings;
        Http2Summary {
            start: start_name(h2.start),
            stream_count: h2.stream_count,
            streams: h2.streams.iter().map(stream_row).collect(),
            goaways: h2.goaways.iter().map(goaway_row).collect(),
            settings: SettingsPair {
                client: settings_row(client),
                server: settings_row(server),
            },
            pings: PingsRow {
                sent: h2.pings.sent,
                acked: h2.pings.acked,
                min_rtt_ms: h2.pings.min_rtt_ns.map(ms),
                max_rtt_ms: h2.pings.max_rtt_ns.map(ms),
            },
            stalls: h2.stalls.iter().map(stall_row).collect(),
            undecodable_header_blocks: h2.undecodable_header_blocks,
            desync: Desync {
                client: h2.desync[0],
                server: h2.desync[1],
            },
        }
    }
}

/// Why a stream counts as failed in the listing, or `None` for one that did not fail (ended
/// normally, still open, or reset only after its response was complete with NO_ERROR or
/// CANCEL, which is how clients and servers tidy up).
fn failure(s: &H2Stream) -> Option<String> {
    let mut why = Vec::new();
    let response = s.exchange.response.as_ref();
    if let Some(status) = response.map(|r| r.head.status).filter(|&c| c >= 400) {
        why.push(status.to_string());
    }
    if let Some(g) = s.grpc.as_deref()
        && let Some(code) = g.status.filter(|&c| c != 0)
    {
        let name = grpc_status_name(code).unwrap_or("?");
        match &g.message {
            Some(message) => why.push(format!("grpc-status {code} {name} \"{message}\"")),
            None => why.push(format!("grpc-status {code} {name}")),
        }
    }
    if let Some(reset) = &s.reset {
        let complete = response.is_some_and(|r| r.complete);
        let tidy = complete && matches!(reset.code, ErrorCode::NO_ERROR | ErrorCode::CANCEL);
        if !tidy {
            why.push(format!(
                "RST_STREAM {} from {} (frame {})",
                reset.code.name(),
                side(reset.by_client),
                reset.at.frame
            ));
        }
    }
    (!why.is_empty()).then(|| why.join(", "))
}

/// A stream neither closed nor reset: the capture (or the connection) ended with it open.
fn unfinished(s: &H2Stream) -> bool {
    end_frame(s).is_none()
}

/// Writes the text lines of one HTTP/2 connection, each indented under the connection's row.
pub(super) fn write_text(out: &mut impl Write, h2: &Http2Facts) -> io::Result<()> {
    let failed: Vec<(&H2Stream, String)> = h2
        .streams
        .iter()
        .filter_map(|s| failure(s).map(|why| (s, why)))
        .collect();
    let open = h2.streams.iter().filter(|s| unfinished(s)).count();
    let mut line = format!(
        "h2 ({}): {} stream{}, {} failed",
        start_name(h2.start).replace('_', " "),
        h2.stream_count,
        if h2.stream_count == 1 { "" } else { "s" },
        failed.len()
    );
    if open > 0 {
        line.push_str(&format!(", {open} unfinished"));
    }
    let grpc = h2.streams.iter().filter(|s| s.grpc.is_some()).count();
    if grpc > 0 {
        line.push_str(&format!(", {grpc} gRPC"));
    }
    if h2.undecodable_header_blocks > 0 {
        line.push_str(&format!(
            ", {} header blocks undecodable",
            h2.undecodable_header_blocks
        ));
    }
    for g in &h2.goaways {
        line.push_str(&format!(
            "; GOAWAY {} from {} last stream {} (frame {})",
            g.code.name(),
            side(g.by_client),
            g.last_stream_id,
            g.at.frame
        ));
    }
    for s in &h2.stalls {
        let reopened = match s.reopened_at {
            Some(o) => format!("reopened at frame {}", o.frame),
            None => "never reopened".to_string(),
        };
        let window = match s.stream_id {
            0 => "connection".to_string(),
            id => format!("stream {id}"),
        };
        line.push_str(&format!(
            "; {window} window of the {} closed at frame {}, {reopened}",
            side(s.sender_is_client),
            s.closed_at.frame
        ));
    }
    writeln!(out, "{:>6} {line}", "")?;
    for (s, why) in failed.iter().take(TEXT_FAILED_STREAMS) {
        writeln!(out, "{:>6}   {}: {why}", "", stream_text(s))?;
    }
    if failed.len() > TEXT_FAILED_STREAMS {
        writeln!(
            out,
            "{:>6}   ... {} more failed streams (--format json lists every stream)",
            "",
            failed.len() - TEXT_FAILED_STREAMS
        )?;
    }
    Ok(())
}

/// `stream 3 GET example.com/items` (`POST /pkg.Svc/Method` for gRPC).
fn stream_text(s: &H2Stream) -> String {
    let mut text = format!("stream {}", s.id);
    if s.pushed {
        text.push_str(" (pushed)");
    }
    match &s.exchange.request {
        Some(r) => {
            text.push(' ');
            text.push_str(&r.head.method);
            text.push(' ');
            text.push_str(r.head.host.as_deref().unwrap_or(""));
            text.push_str(&r.head.target);
        }
        None if s.headers_undecodable => text.push_str(" (headers undecodable)"),
        None => {}
    }
    text
}

#[cfg(test)]
mod tests;
