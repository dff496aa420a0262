//! Diagnosis: rules that turn each failed connection into one [`Finding`] with a cause code and
//! the frames that prove it.
//!
//! One connection gets at most one finding: the root cause, with the other symptoms in its
//! evidence. The rules are tried in the order a connection's story unfolds: the connect (ICMP
//! errors, resets, silence), resets and ICMP errors once connected, stalls (black holes, a peer
//! gone silent, a sender that abandoned a hole its peer kept asking for), a server or client that
//! stops reading, a request left unanswered or an answer abandoned, and last what a call that
//! went through met on the way: a path MTU step, SYNs answered only when retransmitted
//! (`syn_retry`: a full listen queue or a lost SYN), plain packet loss. Healthy connections
//! (normal closes, a client's RST after its answer, a lone retransmission, frames the capture
//! recorded twice, spurious SYN retries) earn nothing. Every draft's stated numbers pass
//! `sanity` checks before it becomes a finding; ICMP errors quoting UDP datagrams are judged per
//! flow by `icmp_udp`.
//!
//! On an HTTP connection each exchange is a call of its own ([`diagnose_exchanges`]): a 4xx/5xx
//! status (RFC 9110), a body cut short of its framing (RFC 9112), a first byte far slower than
//! the round trip. The `calls` stage gives the connection's cause to the call it hit.
//!
//! The rules read what the packets mean (RFC 793/9293 resets, RFC 6298 timers, RFC 1191/8201
//! path MTU discovery, RFC 792/4443 ICMP), never the lab's particular numbers.

mod aggregate;
mod capture_notes;
mod catalogue;
mod causes_doc;
mod connect;
mod dns;
mod draft;
mod encrypted;
mod goaway;
mod graphql;
mod grpc;
mod http;
mod http2;
#[cfg(test)]
mod http2_tests;
mod http_framing;
mod icmp;
mod icmp_udp;
mod judge;
mod loss;
mod pmtu;
mod said;
mod said_report;
#[cfg(test)]
mod said_tests;
mod sanity;
#[cfg(test)]
mod script;
mod sequence;
mod stream;
mod syn_retry;
mod tls;
mod window;

use serde::{Serialize, Serializer};

pub use aggregate::{Aggregate, Distinct, Sample};
pub use capture_notes::{CaptureNote, CaptureNoteKind};
pub use catalogue::{Cause, Severity};
pub use causes_doc::markdown as catalogue_markdown;
pub use dns::{DnsJudge, IncompleteDatagrams, LookupVerdict};
pub use encrypted::KEYLOG_HINT;
pub use icmp_udp::UdpIcmpErrors;
pub use judge::{CallVerdict, judge_calls};
pub use said_report::{GraphQlErrorReport, RateLimitReport, SaidReport};
pub use sanity::dropped_findings;

use crate::app::AppFacts;
use crate::flows::Endpoint;
use crate::tcp::ConnectionSummary;
use crate::timefmt::rfc3339;

/// The six kinds of cause DESIGN.md names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Category {
    Network,
    Firewall,
    Tls,
    Dns,
    Server,
    Client,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 6] = [
        Category::Network,
        Category::Firewall,
        Category::Tls,
        Category::Dns,
        Category::Server,
        Category::Client,
    ];

    /// The lowercase name used in codes and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Network => "network",
            Category::Firewall => "firewall",
            Category::Tls => "tls",
            Category::Dns => "dns",
            Category::Server => "server",
            Category::Client => "client",
        }
    }
}

impl std::str::FromStr for Category {
    type Err = String;

    /// A category by its lowercase name (`firewall`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("`{s}` is not a category (network, firewall, tls, dns, server, client)")
            })
    }
}

/// How sure a finding is: `high` when the packets decide, lower when they leave alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        })
    }
}

/// The transport the call went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl std::str::FromStr for Confidence {
    type Err = String;

    /// A confidence by its name (`low`, `medium`, `high`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .find(|c| c.to_string().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("`{s}` is not a confidence (low, medium, high)"))
    }
}

/// One piece of evidence: a frame and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub frame: u64,
    /// Capture time of the frame (RFC 3339 in JSON).
    #[serde(rename = "ts", serialize_with = "as_rfc3339")]
    pub ts_ns: i64,
    pub note: String,
}

fn as_rfc3339<S: Serializer>(ts_ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ts_ns))
}

/// Names the call was made under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallNames {
    pub sni: Option<String>,
    pub http_host: Option<String>,
    pub dns: Option<String>,
}

/// A diagnosed failure, in the JSON shape DESIGN.md fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `F1`, `F2`, ... in report order (set by [`number_findings`]).
    pub id: String,
    /// `<category>.<name>`, e.g. `firewall.syn_unanswered` (the cause's code).
    pub code: String,
    /// The cause, from the catalogue: code, category and severity follow from it.
    #[serde(skip)]
    pub cause: Cause,
    pub category: Category,
    pub confidence: Confidence,
    /// `failed`, `degraded` (went through slowly or with losses), `warning` or `info`: the
    /// cause's.
    pub severity: Severity,
    /// Other causes the packets do not rule out, each as `code: why`.
    pub alternatives: Vec<String>,
    pub summary: String,
    pub explanation: String,
    pub client: Endpoint,
    pub server: Endpoint,
    /// `tcp` or `udp`: with client and server, the flow the call went over.
    pub transport: Transport,
    pub names: CallNames,
    pub first_frame: u64,
    pub last_frame: u64,
    /// The file the frame numbers count in, when the report covers several files analysed
    /// apart (none for one capture, or several merged into one with `--merge`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Frames in capture order, each with what it shows.
    pub evidence: Vec<Evidence>,
    pub wireshark_filter: String,
    pub remediation: Vec<String>,
    /// Wireshark's `tcp.stream` of the connection (`u64::MAX` for a lookup over UDP).
    #[serde(skip)]
    pub stream: u64,
    /// Protocol facts for formats with fields for them (ECS's `tls.*`, `http.*`); not in the
    /// JSON report, whose shape DESIGN.md fixes.
    #[serde(skip)]
    pub wire: WireFacts,
    /// Set when this finding stands for many calls that failed the same way against the same
    /// server: their counts and a few samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Box<Aggregate>>,
    /// The HTTP/2 stream (and gRPC call) the finding is about: its connection carried many
    /// calls, and this names the one that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2: Option<Box<Http2Call>>,
    /// What the server said about a failed HTTP call: who answered (gateway or application),
    /// its error body's fields (redacted, clipped), what they mean, its rate-limit headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_said: Option<Box<SaidReport>>,
}

/// One HTTP/2 stream as a finding names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Http2Call {
    pub stream_id: u32,
    pub method: Option<String>,
    /// `:path`, secrets redacted.
    pub path: Option<String>,
    /// `:status` of the response, when one came.
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcCall>,
}

/// A gRPC call as a finding names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrpcCall {
    pub service: String,
    pub method: String,
    /// `grpc-status`, when the server sent one.
    pub status: Option<u32>,
    /// Its name (`UNAVAILABLE`).
    pub status_name: Option<&'static str>,
    /// `grpc-message`, percent-decoded, redacted and clipped.
    pub message: Option<String>,
}

/// What the call negotiated and exchanged, as far as the capture shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireFacts {
    /// The TLS version the ServerHello chose (`0x0304` is TLS 1.3).
    pub tls_version: Option<u16>,
    /// The cipher suite the ServerHello chose (IANA number).
    pub tls_cipher: Option<u16>,
    /// The method of the failed HTTP request, as sent.
    pub http_method: Option<String>,
    /// The status of the HTTP response.
    pub http_status: Option<u16>,
    /// The HTTP/2 stream the call was (its stream id).
    pub h2_stream: Option<u32>,
    /// The request's path (redacted), for a call on a connection that carries many.
    pub http_path: Option<String>,
    /// The gRPC call, when the call was one.
    pub rpc: Option<RpcFacts>,
    /// How far the connection's encrypted records were read with the key log.
    pub tls_decryption: Option<crate::app::tls::DecryptionState>,
    /// The TLS handshake completed.
    pub tls_established: Option<bool>,
    /// The ALPN protocol the server chose.
    pub tls_alpn: Option<String>,
    /// The server's leaf certificate (in clear, or decrypted in TLS 1.3): subject, issuer and
    /// end of validity (seconds since the Unix epoch).
    pub tls_server_subject: Option<String>,
    pub tls_server_issuer: Option<String>,
    pub tls_server_not_after: Option<i64>,
}

/// A gRPC call's names and status (OpenTelemetry's `rpc.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpcFacts {
    pub service: String,
    pub method: String,
    /// `grpc-status`, when the server sent one.
    pub grpc_status: Option<u32>,
}

/// What the rules may know besides the connection itself.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Capture time at which the connection is judged (the end of the capture, or the time it
    /// was evicted): how long a SYN waited without an answer.
    pub now_ns: i64,
    /// Private CAs trusted besides the Mozilla roots, for checking server certificates.
    pub trust: Option<&'static crate::app::tls::TrustStore>,
}

/// The finding for one connection, if it failed (or lost packets enough to explain a delay).
pub fn diagnose_connection(
    conn: &ConnectionSummary,
    app: &AppFacts,
    ctx: &Context,
) -> Option<Finding> {
    // Inside decrypted TLS the calls' data are the application data records, as on a plain
    // connection: the rules that read a request and its answer from the data marks must not
    // take a close_notify, a session ticket or the handshake for either.
    let view;
    let conn = match tls::application_view(conn, app) {
        Some(v) => {
            view = v;
            &view
        }
        None => conn,
    };
    // HTTP/2: the streams' requests and answers, not the control frames, are the data.
    let h2_view;
    let conn = match app.http2.as_deref() {
        Some(h2) => {
            h2_view = http2::view(conn, h2);
            &h2_view
        }
        None => conn,
    };
    // A transport cause that killed a TLS handshake stays the finding, with the handshake's
    // context; the server's own reset of a handshake is a TLS refusal, named by the TLS rules.
    let handshake_failed = tls::failed_handshake(app).is_some();
    // A TLS connection that ended normally (nothing asked after the handshake, or the last
    // request answered) has no request for a reset or a close to have cut short: only a forged
    // reset, a stall or the TLS rules can still name something.
    let tls_closed_normally = tls::closed_normally(conn, app);
    let judge_requests = !tls_closed_normally;
    let draft = connect::failure(conn, ctx)
        .or_else(|| {
            stream::server_reset(conn).filter(|d| {
                !(handshake_failed || tls_closed_normally) || d.category() == Category::Firewall
            })
        })
        .or_else(|| http_framing::stale_keepalive_reuse(conn, app))
        .or_else(|| stream::client_reset_forged(conn))
        .or_else(|| icmp::midstream(conn))
        .or_else(|| loss::stalled(conn))
        .or_else(|| pmtu::seen_by_receiver(conn))
        .or_else(|| loss::abandoned_transfer(conn))
        .map(|d| tls::with_context(d, app))
        .or_else(|| tls::failure(conn, app, ctx))
        .or_else(|| stream::server_reset(conn).filter(|_| judge_requests))
        .or_else(|| stream::not_reading(conn))
        .or_else(|| window::client_not_reading(conn))
        .or_else(|| http_framing::closed_without_response(conn, app).filter(|_| judge_requests))
        .or_else(|| stream::unanswered(conn).filter(|_| judge_requests))
        .or_else(|| loss::pmtu_step(conn))
        .or_else(|| syn_retry::late_answer(conn))
        .or_else(|| loss::packet_loss(conn))?;
    if draft.failed_check().is_some() {
        // The finding's own numbers say the reading is wrong: never print it.
        sanity::count_dropped();
        return None;
    }
    let draft = connect::with_ignored_rst(draft, conn);
    let mut finding = draft.into_finding(conn);
    encrypted::add_tls_facts(&mut finding, app);
    Some(finding)
}

/// The finding of HTTP exchange `i` of the connection if it failed on its own: a 4xx/5xx
/// status, a response cut short by the server's close, or a first byte far slower than the
/// round trip.
fn exchange_finding(conn: &ConnectionSummary, app: &AppFacts, i: usize) -> Option<Finding> {
    let ex = app.http.exchanges.get(i)?;
    if crate::calls::answered_challenge(ex, app.http.exchanges.get(i + 1)) {
        // A 401 the client answered on the same connection with credentials: a step of its
        // login (NTLM/Negotiate legs, curl --anyauth), judged by the last leg.
        return None;
    }
    let sni = app
        .tls
        .as_ref()
        .and_then(|t| t.client_hello.as_ref())
        .and_then(|h| h.sni.as_deref());
    let mut draft = http::host_differs_from_sni(conn, ex, sni)
        .or_else(|| http::status(conn, ex))
        .or_else(|| sequence::redirect_loop(conn, app, i))
        .or_else(|| http_framing::truncated(conn, app, ex))
        .or_else(|| http_framing::slow(conn, ex))?;
    if matches!(draft.cause(), Cause::RateLimited | Cause::QuotaExhausted)
        && let Some(c) = sequence::countdown(app, i)
    {
        draft = draft.append_explanation(&c);
    }
    let mut finding = draft.into_finding(conn);
    finding.names.http_host = ex.request.as_ref().and_then(|r| r.head.host.clone());
    finding.wire.http_method = ex.request.as_ref().map(|r| r.head.method.clone());
    finding.wire.http_status = ex.response.as_ref().map(|r| r.head.status);
    // Over TLS (decrypted): the handshake's facts too.
    encrypted::add_tls_facts(&mut finding, app);
    call_frames(&mut finding);
    Some(finding)
}

/// The call is one exchange or stream, not the whole connection: its frames are its evidence's.
fn call_frames(finding: &mut Finding) {
    if let (Some(first), Some(last)) = (finding.evidence.first(), finding.evidence.last()) {
        finding.first_frame = first.frame;
        finding.last_frame = last.frame;
    }
}

/// Names and wire facts of a finding about one HTTP/2 stream (a gRPC call's service, method
/// and status too).
fn stream_names(finding: &mut Finding, app: &AppFacts, s: &crate::app::http2::H2Stream) {
    let request = s.exchange.request.as_ref();
    finding.names.http_host = request.and_then(|r| r.head.host.clone());
    finding.wire.http_method = request.map(|r| r.head.method.clone());
    finding.wire.http_status = s.exchange.response.as_ref().map(|r| r.head.status);
    finding.wire.h2_stream = Some(s.id);
    finding.wire.http_path = request.map(|r| r.head.target.clone());
    if let Some(g) = s.grpc.as_deref() {
        finding.wire.rpc = Some(RpcFacts {
            service: g.service.clone(),
            method: g.method.clone(),
            grpc_status: g.status,
        });
    }
    finding.http2 = Some(Box::new(Http2Call {
        stream_id: s.id,
        method: finding.wire.http_method.clone(),
        path: finding.wire.http_path.clone(),
        status: finding.wire.http_status,
        grpc: s.grpc.as_deref().map(|g| GrpcCall {
            service: g.service.clone(),
            method: g.method.clone(),
            status: g.status,
            status_name: g.status.map(crate::app::http2::status_name),
            message: g.message.clone(),
        }),
    }));
    encrypted::add_tls_facts(finding, app);
    call_frames(finding);
}

/// Gives findings their `F1`, `F2`, ... ids in the order given.
pub fn number_findings<'a>(findings: impl IntoIterator<Item = &'a mut Finding>) {
    for (i, f) in findings.into_iter().enumerate() {
        f.id = format!("F{}", i + 1);
    }
}
