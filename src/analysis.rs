//! The pipeline wired together for one capture: frames in, connections and findings out.
//!
//! [`Analyzer`] is sans-IO: feed it frames (from a file or a live interface) in capture order and
//! call [`Analyzer::finish`]. [`analyze_path`] is the convenience that reads a file.

use std::collections::BTreeSet;

use crate::app::tls::TrustStore;
use crate::app::{AppFacts, AppTracker};
use crate::decode::{DecodeError, Decoded, Decoder, DefragLimits, Transport};
use crate::diagnose::{self, Finding};
use crate::flows::Timeouts;
use crate::source::{self, Frame, LinkType, SourceError};
use crate::tcp::{ConnectionSummary, TcpTracker};

pub use crate::tcp::Delivery;

/// Facts about the capture itself.
#[derive(Debug, Clone, Default)]
pub struct CaptureFacts {
    pub frames: u64,
    /// Frames that could not be decoded (counted and skipped).
    pub malformed_frames: u64,
    /// Malformed frames by reason, e.g. "TCP header cut short".
    pub malformed_reasons: Vec<(String, u64)>,
    /// The file ended early or was damaged; everything before the damage was analysed.
    pub truncated: bool,
    pub warnings: Vec<String>,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    pub link_types: BTreeSet<LinkType>,
    /// IP fragments seen and datagrams reassembled from them.
    pub ip_fragments: u64,
    pub ip_reassembled: u64,
    /// Largest number of TCP flows tracked at once.
    pub peak_tcp_flows: usize,
    /// TCP connections (Wireshark streams) seen.
    pub tcp_connections: u64,
    /// TCP packets that arrived after their connection was closed and handed out (counted only).
    pub late_tcp_packets: u64,
}

/// One TCP connection as every stage saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// The transport: Wireshark's stream, Zeek's state, the analysis counts and facts.
    pub tcp: ConnectionSummary,
    /// What it carried: protocols, and what their parsers found.
    pub app: AppFacts,
}

/// Everything one capture yields.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub capture: CaptureFacts,
    /// TCP connections in stream-index order.
    pub connections: Vec<Connection>,
    /// Calls seen and how many failed (filled by the `calls` stage).
    pub calls_total: u64,
    pub calls_failed: u64,
    pub findings: Vec<Finding>,
}

/// Tunables of the analysis.
#[derive(Debug, Clone, Copy, Default)]
pub struct Config {
    pub defrag: DefragLimits,
    pub timeouts: Timeouts,
    /// The order finished connections are handed out in.
    pub delivery: Delivery,
    /// Private CAs trusted besides the Mozilla roots (`--ca-file`).
    pub trust: Option<&'static TrustStore>,
}

/// Feeds frames through decode → flows/tcp and gathers the results.
#[derive(Debug)]
pub struct Analyzer {
    decoder: Decoder,
    tcp: TcpTracker,
    app: AppTracker,
    facts: CaptureFacts,
    malformed: std::collections::BTreeMap<DecodeError, u64>,
    last_link_type: Option<LinkType>,
    verdicts: Verdicts,
}

/// The diagnosis of each connection as it leaves the tracker.
#[derive(Debug, Default)]
struct Verdicts {
    trust: Option<&'static TrustStore>,
    calls_total: u64,
    calls_failed: u64,
    findings: Vec<Finding>,
}

impl Verdicts {
    /// Judges one finished connection at capture time `now_ns`.
    fn judge(&mut self, conn: &Connection, now_ns: i64) {
        let ctx = diagnose::Context {
            now_ns,
            trust: self.trust,
        };
        self.calls_total += crate::calls::count(&conn.app);
        for call in crate::calls::calls_of(&conn.tcp, &conn.app, &ctx) {
            if call.failed() {
                self.calls_failed += 1;
            }
            self.findings.extend(call.finding);
        }
    }
}

impl Analyzer {
    /// A fresh analyzer.
    pub fn new(config: Config) -> Self {
        Self {
            decoder: Decoder::new(config.defrag),
            tcp: TcpTracker::new(config.timeouts, config.delivery),
            app: AppTracker::new(),
            facts: CaptureFacts::default(),
            malformed: Default::default(),
            last_link_type: None,
            verdicts: Verdicts {
                trust: config.trust,
                ..Verdicts::default()
            },
        }
    }

    /// Processes one frame. Frames must come in capture order.
    pub fn process(&mut self, frame: &Frame<'_>) {
        let facts = &mut self.facts;
        facts.frames = facts.frames.max(frame.number);
        facts.first_ts_ns.get_or_insert(frame.ts_ns);
        facts.last_ts_ns = Some(frame.ts_ns);
        if self.last_link_type != Some(frame.link_type) {
            self.last_link_type = Some(frame.link_type);
            facts.link_types.insert(frame.link_type);
        }
        match self.decoder.decode(frame) {
            Ok(Decoded::Packet(packet)) => match packet.transport {
                Transport::Tcp(segment) => {
                    if segment.damaged {
                        self.facts.malformed_frames += 1;
                        *self
                            .malformed
                            .entry(DecodeError::Truncated("TCP"))
                            .or_default() += 1;
                    }
                    self.tcp.on_segment(
                        frame.number,
                        frame.ts_ns,
                        frame.orig_len,
                        &packet.ip,
                        &segment,
                        &mut self.app,
                    )
                }
                Transport::Icmp(message) if message.is_error() => self.tcp.on_icmp_error(
                    frame.number,
                    frame.ts_ns,
                    &packet.ip,
                    &message,
                    &mut self.app,
                ),
                _ => {}
            },
            Ok(Decoded::NotIp | Decoded::FragmentHeld) => {}
            Err(error) => {
                self.facts.malformed_frames += 1;
                *self.malformed.entry(error).or_default() += 1;
            }
        }
        self.tcp.expire(frame.ts_ns, &mut self.app);
    }

    /// Hands out, in stream order, connections that are finished (closed and past their linger
    /// time, or evicted) and whose lower streams are all finished: call it as often as convenient
    /// to write connections out while the capture is read. Those not taken end up in
    /// [`Analysis::connections`].
    pub fn take_connections(&mut self, mut each: impl FnMut(Connection)) {
        let now = self.facts.last_ts_ns.unwrap_or(0);
        let (verdicts, app) = (&mut self.verdicts, &mut self.app);
        self.tcp.take_ready(|tcp| {
            let conn = Connection {
                app: app.take(tcp.stream),
                tcp,
            };
            verdicts.judge(&conn, now);
            each(conn)
        });
    }

    /// Ends the capture: every flow still open is closed out.
    pub fn finish(mut self) -> Analysis {
        let defrag = self.decoder.defrag_stats();
        self.facts.ip_fragments = defrag.fragments;
        self.facts.ip_reassembled = defrag.reassembled;
        self.facts.malformed_reasons = self
            .malformed
            .iter()
            .map(|(e, n)| (e.to_string(), *n))
            .collect();
        self.facts.peak_tcp_flows = self.tcp.peak_flows();
        self.facts.late_tcp_packets = self.tcp.late_packets();
        let mut connections = Vec::new();
        let now = self.facts.last_ts_ns.unwrap_or(0);
        let (verdicts, app) = (&mut self.verdicts, &mut self.app);
        let mut ended = Vec::new();
        self.tcp.finish(app, |tcp| ended.push(tcp));
        for tcp in ended {
            let conn = Connection {
                app: app.take(tcp.stream),
                tcp,
            };
            verdicts.judge(&conn, now);
            connections.push(conn)
        }
        let mut findings = std::mem::take(&mut self.verdicts.findings);
        findings.sort_by_key(|f| f.stream);
        diagnose::number_findings(&mut findings);
        Analysis {
            capture: self.facts,
            connections,
            calls_total: self.verdicts.calls_total,
            calls_failed: self.verdicts.calls_failed,
            findings,
        }
    }
}

/// Reads the capture at `path` (`-` for standard input) and analyses it; every connection is in
/// the result.
pub fn analyze_path(path: &str, config: Config) -> Result<Analysis, SourceError> {
    let mut connections = Vec::new();
    let mut analysis = analyze_path_streaming(path, config, |c| connections.push(c))?;
    connections.append(&mut analysis.connections);
    analysis.connections = connections;
    Ok(analysis)
}

/// Like [`analyze_path`], but hands each connection to `on_connection` (in stream order) as soon
/// as it and every lower stream are finished, so memory follows the active connections; the
/// result's `connections` is then empty.
pub fn analyze_path_streaming(
    path: &str,
    config: Config,
    mut on_connection: impl FnMut(Connection),
) -> Result<Analysis, SourceError> {
    let mut reader = source::open_path(path)?;
    let mut analyzer = Analyzer::new(config);
    let mut count = 0u64;
    let mut counted = |c| {
        count += 1;
        on_connection(c)
    };
    let read = reader.for_each_frame(|frame| {
        analyzer.process(frame);
        analyzer.take_connections(&mut counted);
    });
    let mut analysis = analyzer.finish();
    for c in std::mem::take(&mut analysis.connections) {
        counted(c);
    }
    analysis.capture.tcp_connections = count;
    analysis.capture.frames = read.frames;
    analysis.capture.truncated = read.truncated;
    analysis.capture.warnings.extend(read.warning);
    if read.unreadable_records > 0 {
        analysis.capture.malformed_frames += read.unreadable_records;
        analysis.capture.malformed_reasons.push((
            "record names an unknown interface".into(),
            read.unreadable_records,
        ));
    }
    Ok(analysis)
}
