//! The pipeline wired together for one capture: frames in, connections and findings out.
//!
//! [`Analyzer`] is sans-IO: feed it frames (from a file or a live interface) in capture order and
//! call [`Analyzer::finish`]. [`analyze_path`] is the convenience that reads a file.

use std::collections::BTreeSet;

use crate::app::dns::{self, DnsCounts, DnsTransport, Lookup, LookupTable};
use crate::app::tls::TrustStore;
use crate::app::{AppFacts, AppTracker};
use crate::decode::{DecodeError, Decoded, Decoder, DefragLimits, Transport};
use crate::diagnose::{self, Finding};
use crate::flows::{Endpoint, Timeouts};
use crate::source::{self, Frame, LinkType, SourceError};
use crate::tcp::{ConnectionSummary, FlowCap, TcpTracker};

pub use crate::tcp::Delivery;

mod aggregate;
mod clock;
mod duplicates;
mod endpoints;
mod keys;
mod latency;
mod measure;
mod notes;
mod timeline;
mod verdicts;

pub use aggregate::{AGGREGATE_AFTER, MAX_GROUPS, SAMPLES};
pub use clock::{ClockCounts, MAX_STEP_NS};
pub use endpoints::{
    CallMeasures, CallSample, EndpointKey, EndpointStats, EndpointTable, Latencies, MAX_ENDPOINTS,
    OutcomeCounts,
};
pub use keys::DecryptionCounts;
pub use latency::{EXACT_VALUES, Latency, LatencySummary};
use notes::{clock_note, limits_note};
pub use timeline::{FIRST_BUCKET_NS, MAX_BUCKETS, TimeBucket, Timeline};
use verdicts::{Tally, Verdicts};

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
    /// What a reader of the findings must know about the capture itself (frames seen twice),
    /// once per capture.
    pub notes: Vec<diagnose::CaptureNote>,
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
    /// DNS messages over UDP and how many were malformed or unmatched.
    pub dns: DnsCounts,
    /// TCP packets not followed because [`Config::max_tcp_flows`] connections were followed.
    pub tcp_untracked_packets: u64,
    /// Damaged timestamps: frames analysed at the capture clock's time instead of their own,
    /// frames stamped before the one before them, steps of the clock back in time.
    pub clock: ClockCounts,
    /// Damaged or rule-breaking application data read anyway (HTTP heads, TLS records, DNS
    /// messages: their best reading kept), by reason in reason order, e.g. "HTTP heads with
    /// obs-fold continuation lines, read anyway".
    pub anomalies: Vec<(String, u64)>,
    /// pcapng Decryption Secrets Blocks of TLS key log text read (their secrets joined
    /// [`Config::keys`] where they stood in the file).
    pub tls_secrets_blocks: u64,
    /// TLS connections by how far their encrypted records could be read.
    pub decryption: DecryptionCounts,
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
    /// Calls seen, how many failed and how many went through degraded (slowly or with real
    /// losses), from each call's finding and its cause's severity in the catalogue.
    pub calls_total: u64,
    pub calls_failed: u64,
    pub calls_degraded: u64,
    /// Calls the capture ended (or started) too early to judge: not failed, not a success.
    pub calls_unfinished: u64,
    /// Calls whose payload was not understood (HTTP/2, SSH, a response the capture missed):
    /// no finding, but never counted as a success.
    pub calls_not_understood: u64,
    pub findings: Vec<Finding>,
    /// DNS lookups in the order they finished (the first [`MAX_KEPT_LOOKUPS`]).
    pub dns_lookups: Vec<Lookup>,
    /// Every call counted by server endpoint and route, with how it ended.
    pub endpoints: EndpointTable,
}

/// At most this many DNS lookups are kept in [`Analysis::dns_lookups`].
pub const MAX_KEPT_LOOKUPS: usize = 10_000;

/// Tunables of the analysis.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub defrag: DefragLimits,
    pub timeouts: Timeouts,
    /// The order finished connections are handed out in.
    pub delivery: Delivery,
    /// Private CAs trusted besides the Mozilla roots (`--ca-file`).
    pub trust: Option<&'static TrustStore>,
    /// The most TCP connections followed at once (a flood of new flows is counted, not followed).
    pub max_tcp_flows: FlowCap,
    /// Whether findings are folded into aggregates, kept one by one, or streamed.
    pub findings: FindingsMode,
    /// TLS session secrets (`--keylog`, a capture's Decryption Secrets Blocks, a key log
    /// followed live): connections whose client random has secrets are decrypted.
    pub keys: crate::app::tls::KeyLog,
    /// How much of an error response's body is read for what the server said
    /// (`--error-body-bytes`).
    pub error_body: crate::app::http::BodyLimit,
}

/// What becomes of each finding as it is decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FindingsMode {
    /// Many calls that failed the same way against the same server fold into one aggregate
    /// finding (see [`AGGREGATE_AFTER`]): memory and output follow the distinct failures.
    #[default]
    Aggregated,
    /// Every finding is kept on its own: handed out by [`Analyzer::take_findings`] as it is
    /// decided (live capture, `--all-findings` NDJSON), those not taken left in
    /// [`Analysis::findings`] (memory then grows with them).
    Every,
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
    dns: LookupTable,
    /// ICMP errors quoting UDP datagrams (any UDP service), judged at the end.
    udp_icmp: diagnose::UdpIcmpErrors,
    /// Capture time: the last frame's, or a later one given by [`Analyzer::tick`].
    now_ns: i64,
    /// Frame stamps made safe for eviction and timing (outliers, steps back).
    clock: clock::Clock,
    /// A frame stamped far from the clock, waiting for the next frame to decide its time.
    held: Option<HeldFrame>,
}

/// A copy of a frame the clock holds (rare: only frames stamped an hour or more away).
#[derive(Debug)]
struct HeldFrame {
    number: u64,
    ts_ns: i64,
    link_type: LinkType,
    bytes: Vec<u8>,
    orig_len: u32,
}

impl Analyzer {
    /// A fresh analyzer.
    pub fn new(config: Config) -> Self {
        Self {
            decoder: Decoder::new(config.defrag),
            tcp: TcpTracker::new(config.timeouts, config.delivery).with_cap(config.max_tcp_flows),
            app: AppTracker::with_keys(config.keys.clone()).with_body_limit(config.error_body),
            facts: CaptureFacts::default(),
            malformed: Default::default(),
            last_link_type: None,
            verdicts: Verdicts::new(config.trust, config.findings),
            dns: LookupTable::new(),
            udp_icmp: diagnose::UdpIcmpErrors::default(),
            now_ns: 0,
            clock: clock::Clock::default(),
            held: None,
        }
    }

    /// Processes one frame. Frames must come in capture order. A frame stamped an hour or more
    /// away from the one before waits for the next frame to tell whether the capture's clock
    /// jumped or the stamp is damaged (then it is analysed at the clock's time; see
    /// [`MAX_STEP_NS`]).
    pub fn process(&mut self, frame: &Frame<'_>) {
        self.release_held(Some(frame.ts_ns));
        match self.clock.stamp(frame.ts_ns) {
            clock::Stamp::At(ts_ns) => self.process_at(frame, ts_ns),
            clock::Stamp::Hold => {
                self.held = Some(HeldFrame {
                    number: frame.number,
                    ts_ns: frame.ts_ns,
                    link_type: frame.link_type,
                    bytes: frame.bytes.to_vec(),
                    orig_len: frame.orig_len,
                })
            }
        }
    }

    /// Processes the held frame, if any, now that the next frame's stamp (or the end) is known.
    fn release_held(&mut self, next_ts: Option<i64>) {
        if let Some(held) = self.held.take() {
            let ts_ns = self.clock.decide(held.number, held.ts_ns, next_ts);
            let frame = Frame {
                number: held.number,
                ts_ns,
                link_type: held.link_type,
                bytes: &held.bytes,
                orig_len: held.orig_len,
            };
            self.process_at(&frame, ts_ns);
        }
    }

    /// Processes one frame at capture time `ts_ns`.
    fn process_at(&mut self, frame: &Frame<'_>, ts_ns: i64) {
        let frame = &Frame { ts_ns, ..*frame };
        let facts = &mut self.facts;
        facts.frames = facts.frames.max(frame.number);
        if facts.first_ts_ns.is_none() {
            facts.first_ts_ns = Some(frame.ts_ns);
            self.verdicts.findings.capture_start_ns = frame.ts_ns;
        }
        facts.last_ts_ns = Some(frame.ts_ns.max(facts.last_ts_ns.unwrap_or(i64::MIN)));
        // The clock's time: a frame stamped a little early moves nothing on; a jump back the
        // frames confirmed does.
        self.now_ns = self.clock.now().unwrap_or(frame.ts_ns);
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
                Transport::Icmp(message) if message.is_error() => {
                    self.udp_icmp
                        .on_error(frame.number, frame.ts_ns, packet.ip.src, &message);
                    self.tcp.on_icmp_error(
                        frame.number,
                        frame.ts_ns,
                        &packet.ip,
                        &message,
                        &mut self.app,
                    )
                }
                Transport::Udp(datagram) => {
                    self.udp_icmp.on_datagram(
                        frame.number,
                        frame.ts_ns,
                        Endpoint::new(packet.ip.src, datagram.src_port),
                        Endpoint::new(packet.ip.dst, datagram.dst_port),
                    );
                    on_udp(
                        &mut self.dns,
                        frame,
                        packet.ip.src,
                        packet.ip.dst,
                        &datagram,
                    )
                }
                _ => {}
            },
            Ok(Decoded::NotIp | Decoded::FragmentHeld) => {}
            Err(error) => {
                self.facts.malformed_frames += 1;
                *self.malformed.entry(error).or_default() += 1;
            }
        }
        self.advance(self.now_ns);
    }

    /// Capture time moved on to `now_ns` without a frame (a quiet live interface): flows idle
    /// past their timeout are closed out and DNS lookups old enough are judged, as a frame at
    /// that time would have done, so a client that gave up is reported within seconds. Give the
    /// capture clock: the last frame's time plus the wall time elapsed since it. A time not after
    /// the current one is ignored.
    pub fn tick(&mut self, now_ns: i64) {
        if now_ns > self.now_ns {
            self.now_ns = now_ns;
            self.advance(now_ns);
        }
    }

    /// Runs the time-driven stages up to `now_ns`.
    fn advance(&mut self, now_ns: i64) {
        self.tcp.expire(now_ns, &mut self.app);
        self.dns.expire(now_ns);
        for lookup in self.dns.drain() {
            self.verdicts.lookup(lookup, now_ns, &self.decoder);
        }
        self.verdicts.advance_dns(now_ns, false, &self.decoder);
    }

    /// With [`FindingsMode::Every`], hands out the findings decided so far, in the order they
    /// were decided (connections are judged as [`Analyzer::take_connections`] hands them out,
    /// DNS lookups as time advances), so a live capture can print each as it comes. They carry
    /// no id yet: number them as they are printed. Findings not taken end up in
    /// [`Analysis::findings`]. In [`FindingsMode::Aggregated`] nothing waits here:
    /// [`Analyzer::finish`] gives the aggregated findings.
    pub fn take_findings(&mut self, each: impl FnMut(Finding)) {
        self.verdicts.findings.queue.drain(..).for_each(each);
    }

    /// Frames and malformed frames so far (the rest of the capture facts are filled in by
    /// [`Analyzer::finish`]).
    pub fn facts(&self) -> &CaptureFacts {
        &self.facts
    }

    /// Hands out, in stream order, connections that are finished (closed and past their linger
    /// time, or evicted) and whose lower streams are all finished: call it as often as convenient
    /// to write connections out while the capture is read. Those not taken end up in
    /// [`Analysis::connections`].
    pub fn take_connections(&mut self, mut each: impl FnMut(Connection)) {
        let now = self.now_ns;
        let (verdicts, app, decoder) = (&mut self.verdicts, &mut self.app, &self.decoder);
        self.tcp.take_ready(|tcp| {
            let conn = Connection {
                app: app.take(tcp.stream),
                tcp,
            };
            verdicts.judge(&conn, now, decoder);
            each(conn)
        });
    }

    /// Ends the capture: every flow still open is closed out; the connections not taken yet are
    /// in the result.
    pub fn finish(self) -> Analysis {
        let mut connections = Vec::new();
        let mut analysis = self.finish_with(|c| connections.push(c));
        analysis.connections = connections;
        analysis
    }

    /// Like [`Analyzer::finish`], handing each connection not taken yet to `on_connection` (one
    /// at a time with [`Delivery::AsFinished`]) instead of keeping them in the result.
    pub fn finish_with(mut self, mut on_connection: impl FnMut(Connection)) -> Analysis {
        self.release_held(None);
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
        self.facts.tcp_untracked_packets = self.tcp.untracked_packets();
        let facts = &self.facts;
        if let Some(note) = limits_note(
            facts.tcp_untracked_packets,
            facts.peak_tcp_flows,
            &self.dns.counts,
        ) {
            self.facts.warnings.push(note.text.clone());
            self.facts.notes.push(note);
        }
        self.facts.clock = self.clock.counts;
        if let Some(note) = clock_note(&self.clock.counts) {
            self.facts.warnings.push(note.text.clone());
            self.facts.notes.push(note);
        }
        let now = self.now_ns;
        let (verdicts, decoder) = (&mut self.verdicts, &self.decoder);
        self.tcp.finish(&mut self.app, |tcp, app| {
            let conn = Connection {
                app: app.take(tcp.stream),
                tcp,
            };
            verdicts.judge(&conn, now, decoder);
            on_connection(conn)
        });
        self.dns.finish(now);
        for lookup in self.dns.drain() {
            self.verdicts.lookup(lookup, now, &self.decoder);
        }
        self.verdicts.advance_dns(now, true, &self.decoder);
        // Each UDP flow an ICMP error was about is one call.
        let mut tally = Tally {
            calls: &mut self.verdicts.calls,
            findings: &mut self.verdicts.findings,
            endpoints: &mut self.verdicts.endpoints,
        };
        for finding in std::mem::take(&mut self.udp_icmp).findings() {
            tally.udp_call(finding);
        }
        if let Some(note) = std::mem::take(&mut self.verdicts.duplicates).note() {
            self.facts.warnings.push(note.text.clone());
            self.facts.notes.push(note);
        }
        self.facts.dns = self.dns.counts;
        self.facts.decryption = self.verdicts.decryption;
        let mut anomalies = self.app.anomalies().clone();
        anomalies.merge(&self.dns.anomalies);
        anomalies.add(dns::UNREADABLE, self.dns.counts.malformed);
        self.facts.anomalies = anomalies.iter().map(|(r, n)| (r.into(), n)).collect();
        // By reason, so the order does not depend on which connection ended first.
        self.facts.anomalies.sort();
        let mut findings = std::mem::take(&mut self.verdicts.findings).into_sorted();
        diagnose::number_findings(&mut findings);
        Analysis {
            capture: self.facts,
            connections: Vec::new(),
            calls_total: self.verdicts.calls.total,
            calls_failed: self.verdicts.calls.failed,
            calls_degraded: self.verdicts.calls.degraded,
            calls_unfinished: self.verdicts.calls.unfinished,
            calls_not_understood: self.verdicts.calls.not_understood,
            findings,
            dns_lookups: std::mem::take(&mut self.verdicts.kept_lookups),
            endpoints: std::mem::take(&mut self.verdicts.endpoints),
        }
    }
}

/// A UDP datagram: DNS to or from port 53 (the QR bit tells which side is the client;
/// mDNS on 5353 is not a lookup and is left alone).
fn on_udp(
    table: &mut LookupTable,
    frame: &Frame<'_>,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    datagram: &crate::decode::UdpDatagram<'_>,
) {
    let (src, dst) = (
        Endpoint::new(src, datagram.src_port),
        Endpoint::new(dst, datagram.dst_port),
    );
    if src.port != dns::DNS_PORT && dst.port != dns::DNS_PORT {
        return;
    }
    let (client, server) = match dns::peek_header(datagram.payload) {
        Some((_, false)) if dst.port == dns::DNS_PORT => (src, dst),
        Some((_, true)) if src.port == dns::DNS_PORT => (dst, src),
        None => {
            table.counts.malformed += 1;
            return;
        }
        _ => return,
    };
    let mark = crate::tcp::Mark {
        frame: frame.number,
        ts_ns: frame.ts_ns,
    };
    table.on_message(datagram.payload, client, server, mark, DnsTransport::Udp);
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
    on_connection: impl FnMut(Connection),
) -> Result<Analysis, SourceError> {
    Ok(analyze_reader_streaming(
        source::open_path(path)?,
        config,
        on_connection,
    ))
}

/// Like [`analyze_path_streaming`], over a capture already opened (see
/// [`source::open_reader`]) or several files merged into one ([`source::MergedReader`]).
pub fn analyze_reader_streaming(
    reader: impl Into<source::Capture>,
    config: Config,
    on_connection: impl FnMut(Connection),
) -> Analysis {
    run(reader.into(), config, on_connection, None)
}

/// Like [`analyze_reader_streaming`], also handing each finding (with the capture facts so far:
/// its first frame's time) to `on_finding` as soon as it is decided when `config.findings` is
/// [`FindingsMode::Every`]; the findings decided at the very end are left in the result's
/// `findings`; nothing else is held.
pub fn analyze_reader_with(
    reader: impl Into<source::Capture>,
    config: Config,
    on_connection: impl FnMut(Connection),
    mut on_finding: impl FnMut(Finding, &CaptureFacts),
) -> Analysis {
    run(reader.into(), config, on_connection, Some(&mut on_finding))
}

/// Where [`analyze_reader_with`] hands each finding, with the capture facts so far.
type FindingSink<'a> = dyn FnMut(Finding, &CaptureFacts) + 'a;

/// Reads the capture through an analyzer; findings are handed to `on_finding` as they are
/// decided when it is given, otherwise left in the result.
fn run(
    reader: source::Capture,
    config: Config,
    mut on_connection: impl FnMut(Connection),
    mut on_finding: Option<&mut FindingSink<'_>>,
) -> Analysis {
    let keys = config.keys.clone();
    let mut reader = reader.with_tls_secrets(|path| keys::secrets_sink(keys.clone(), path));
    let mut analyzer = Analyzer::new(config);
    let mut count = 0u64;
    let mut counted = |c| {
        count += 1;
        on_connection(c)
    };
    let read = reader.for_each_frame(|frame| {
        analyzer.process(frame);
        analyzer.take_connections(&mut counted);
        if let Some(on_finding) = on_finding.as_mut() {
            let mut decided = Vec::new();
            analyzer.take_findings(|f| decided.push(f));
            for finding in decided {
                on_finding(finding, analyzer.facts());
            }
        }
    });
    let mut analysis = analyzer.finish_with(&mut counted);
    analysis.capture.tcp_connections = count;
    analysis.capture.frames = read.frames;
    analysis.capture.truncated = read.truncated;
    analysis.capture.warnings.extend(read.warning.clone());
    if read.unreadable_records > 0 {
        analysis.capture.malformed_frames += read.unreadable_records;
        analysis.capture.malformed_reasons.push((
            "record names an unknown interface".into(),
            read.unreadable_records,
        ));
    }
    analysis.capture.tls_secrets_blocks = read.tls_secrets_blocks;
    // Key log lines skipped (`--keylog` files not reported yet, this capture's secrets blocks):
    // each on standard error, all in the report's notes.
    let (warnings, note) = keys::key_log_problems(keys.take_warnings(), &read);
    analysis.capture.warnings.extend(warnings);
    analysis.capture.notes.extend(note);
    analysis
}
