//! `faultline live`: the file analysis on a running interface (cargo feature `live`).
//!
//! The capture thread ([`crate::source::live`]) hands packets to this loop, which feeds the same
//! sans-IO [`Analyzer`] as files. When the interface is quiet the loop ticks the analyzer with the
//! capture clock (the last packet's time plus the wall time since), so a call whose client gave
//! up is decided within seconds; each finding is printed as soon as it is decided. SIGINT or
//! SIGTERM stops the capture, prints the summary, and the session ends normally.

mod keyfollow;
mod output;
mod privileges;
mod rotate;

pub use keyfollow::{FollowError, KeyLogFollower, POLL_EVERY};
pub use output::{LiveFormat, LiveSummary, drop_warning, emit_finding, emit_summary};
pub use privileges::{Privileges, drop_root};
pub use rotate::{RotatingWriter, RotationOptions, rotated_path};

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::analysis::{Analyzer, Config, Delivery, FindingsMode};
use crate::source::live::{CaptureStats, LiveCapture, LiveError, LiveEvent, LiveFeed};

/// How often a quiet capture advances the analysis clock.
const TICK_EVERY: Duration = Duration::from_millis(250);

/// What `faultline live` was asked to do.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    /// A BPF filter (`tcpdump` syntax).
    pub filter: Option<String>,
    pub format: LiveFormat,
    /// Root is dropped to this user once the handle is open (`root` keeps it).
    pub user: String,
    /// `--write`: save the capture.
    pub write: Option<RotationOptions>,
    /// `--keylog`: key log files followed while capturing, into `config.keys`.
    pub keylog: Vec<std::path::PathBuf>,
    pub config: Config,
}

/// Why a live session failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    #[error(transparent)]
    Capture(#[from] LiveError),
    #[error("dropping privileges: {0}")]
    Privileges(String),
    #[error("--write: {0}")]
    Write(#[source] io::Error),
    #[error("writing the output: {0}")]
    Output(#[source] io::Error),
    #[error("capture on {interface} failed: {detail}")]
    Read { interface: String, detail: String },
    #[error(transparent)]
    KeyLog(#[from] FollowError),
    #[error("starting the key log thread: {0}")]
    KeyLogThread(#[source] io::Error),
}

/// A flag that SIGINT and SIGTERM set (signal-hook: the handler only stores to the flag, which
/// is async-signal-safe; the loops poll it).
pub fn stop_on_signals() -> io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Runs a live session until `stop` is set or the capture fails: findings go to `out` as they
/// are decided, warnings (rising drop counters) to standard error, the summary to `out` last.
pub fn run(
    options: &LiveOptions,
    out: &mut dyn Write,
    stop: Arc<AtomicBool>,
) -> Result<LiveSummary, SessionError> {
    // Key logs are opened (and read) first, as root: their handles stay readable after.
    let follower = match options.keylog.is_empty() {
        true => None,
        false => Some(KeyLogFollower::open(
            &options.keylog,
            options.config.keys.clone(),
        )?),
    };
    for warning in options.config.keys.take_warnings() {
        eprintln!("faultline: warning: {}", crate::escape::Escaped(warning));
    }
    let capture = LiveCapture::open(&options.interface, options.filter.as_deref())?;
    let link_type = capture.link_type();
    // The --write file is opened while the process may still write where root may: the user
    // root is dropped to keeps writing through the open handle.
    let mut writer = match &options.write {
        Some(rotation) => {
            Some(RotatingWriter::create(rotation.clone()).map_err(SessionError::Write)?)
        }
        None => None,
    };
    match drop_root(&options.user).map_err(SessionError::Privileges)? {
        Privileges::DroppedTo(user) => {
            eprintln!("faultline: capturing as user {user}");
            if let Some(warning) = writer.as_ref().and_then(|w| w.rotation_warning(&user)) {
                eprintln!("faultline: warning: {}", crate::escape::Escaped(warning));
            }
        }
        Privileges::KeptRoot => eprintln!("faultline: warning: capturing as root (--user root)"),
        _ => {}
    }
    let mut session = Session {
        // Each finding is printed as it is decided, then let go.
        analyzer: Analyzer::new(Config {
            delivery: Delivery::AsFinished,
            findings: FindingsMode::Every,
            ..options.config.clone()
        }),
        format: options.format,
        link_type,
        connections: 0,
        printed: 0,
        stats: CaptureStats::default(),
        last_packet: None,
    };
    eprintln!(
        "faultline: capturing on {} ({}); Ctrl-C prints the summary",
        capture.interface(),
        link_type.name()
    );
    let keylog_thread = match follower {
        Some(f) => Some(
            f.spawn(Arc::clone(&stop))
                .map_err(SessionError::KeyLogThread)?,
        ),
        None => None,
    };
    let feed = capture.start(Arc::clone(&stop));
    let pumped = session.pump(&feed, &stop, out, &mut writer);
    // Stop the capture thread and take what it still held, whatever ended the loop.
    stop.store(true, Ordering::Relaxed);
    let ended = match pumped {
        Ok(Some(ended)) => Ok(ended),
        Ok(None) => session.drain(&feed, out, &mut writer),
        Err(error) => {
            let _ = session.drain(&feed, out, &mut writer);
            Err(error)
        }
    };
    feed.join();
    if let Some(thread) = keylog_thread {
        // It stops within one poll of `stop`.
        let _ = thread.join();
    }
    let ended = ended?;
    let mut summary = session.finish(out)?;
    summary.interface = options.interface.clone();
    summary.link_type = link_type.name();
    if let Some(writer) = &mut writer {
        writer.flush().map_err(SessionError::Write)?;
        summary.written_packets = writer.packets;
        summary.written_files = writer
            .files()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
    }
    emit_summary(options.format, out, &summary).map_err(SessionError::Output)?;
    match ended {
        Some(detail) => Err(SessionError::Read {
            interface: options.interface.clone(),
            detail,
        }),
        None => Ok(summary),
    }
}

/// The analysis side of a session.
struct Session {
    analyzer: Analyzer,
    format: LiveFormat,
    link_type: crate::source::LinkType,
    /// TCP connections finished and judged so far.
    connections: u64,
    /// Findings printed so far (they are numbered F1, F2, ... in that order).
    printed: u64,
    stats: CaptureStats,
    /// The last packet's capture time and when it arrived, for the idle clock.
    last_packet: Option<(i64, Instant)>,
}

impl Session {
    /// Reads events until `stop` is set (`None`) or the capture thread ends (`Some`, with its
    /// error if it failed); `Err` for a failed write.
    fn pump(
        &mut self,
        feed: &LiveFeed,
        stop: &AtomicBool,
        out: &mut dyn Write,
        writer: &mut Option<RotatingWriter>,
    ) -> Result<Option<Option<String>>, SessionError> {
        let mut last_tick = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            match feed.events.recv_timeout(TICK_EVERY) {
                Ok(LiveEvent::Ended(detail)) => return Ok(Some(detail)),
                Ok(event) => self.on_event(event, feed, writer)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(Some(None)),
            }
            if last_tick.elapsed() >= TICK_EVERY {
                last_tick = Instant::now();
                if let Some((ts_ns, at)) = self.last_packet {
                    let since = i64::try_from(at.elapsed().as_nanos()).unwrap_or(i64::MAX);
                    self.analyzer.tick(ts_ns.saturating_add(since));
                }
                if let Some(writer) = writer {
                    writer.flush().map_err(SessionError::Write)?;
                }
            }
            self.print_decided(out)?;
        }
        Ok(None)
    }

    /// After the stop: the events the capture thread still sends until it ends. Returns the
    /// capture's error, if it ended with one.
    fn drain(
        &mut self,
        feed: &LiveFeed,
        out: &mut dyn Write,
        writer: &mut Option<RotatingWriter>,
    ) -> Result<Option<String>, SessionError> {
        // Bounded: the thread stops within one read timeout and the queue is bounded.
        while let Ok(event) = feed.events.recv_timeout(Duration::from_secs(5)) {
            match event {
                LiveEvent::Ended(detail) => return Ok(detail),
                event => self.on_event(event, feed, writer)?,
            }
        }
        self.print_decided(out)?;
        Ok(None)
    }

    fn on_event(
        &mut self,
        event: LiveEvent,
        feed: &LiveFeed,
        writer: &mut Option<RotatingWriter>,
    ) -> Result<(), SessionError> {
        match event {
            LiveEvent::Packet(packet) => {
                let frame = packet.frame(self.link_type);
                self.analyzer.process(&frame);
                if let Some(writer) = writer {
                    writer.write(&frame).map_err(SessionError::Write)?;
                }
                self.last_packet = Some((packet.ts_ns, Instant::now()));
                feed.recycle(packet.bytes);
            }
            LiveEvent::Stats(stats) => {
                if let Some(warning) = drop_warning(self.stats, stats) {
                    eprintln!("faultline: warning: {}", crate::escape::Escaped(warning));
                }
                self.stats = stats;
            }
            _ => {}
        }
        Ok(())
    }

    /// Prints every finding decided so far.
    fn print_decided(&mut self, out: &mut dyn Write) -> Result<(), SessionError> {
        let mut decided = Vec::new();
        let connections = &mut self.connections;
        self.analyzer.take_connections(|_| *connections += 1);
        self.analyzer.take_findings(|f| decided.push(f));
        for finding in &mut decided {
            print(&mut self.printed, self.format, finding, out)?;
        }
        Ok(())
    }

    /// Ends the analysis: what only the end decides is printed, and the counts summed up.
    fn finish(mut self, out: &mut dyn Write) -> Result<LiveSummary, SessionError> {
        self.print_decided(out)?;
        let mut analysis = self.analyzer.finish();
        self.connections += analysis.connections.len() as u64;
        for finding in &mut analysis.findings {
            print(&mut self.printed, self.format, finding, out)?;
        }
        let capture = &analysis.capture;
        Ok(LiveSummary {
            frames: capture.frames,
            malformed_frames: capture.malformed_frames,
            tcp_connections: self.connections,
            tcp_untracked_packets: capture.tcp_untracked_packets,
            calls_total: analysis.calls_total,
            calls_failed: analysis.calls_failed,
            calls_degraded: analysis.calls_degraded,
            findings: self.printed,
            first_ts_ns: capture.first_ts_ns,
            last_ts_ns: capture.last_ts_ns,
            tls_decryption: (capture.decryption.total() > 0).then_some(capture.decryption),
            capture: self.stats,
            ..LiveSummary::default()
        })
    }
}

/// Numbers a finding in print order and prints it.
fn print(
    printed: &mut u64,
    format: LiveFormat,
    finding: &mut crate::diagnose::Finding,
    out: &mut dyn Write,
) -> Result<(), SessionError> {
    *printed += 1;
    finding.id = format!("F{printed}");
    emit_finding(format, out, finding).map_err(SessionError::Output)
}
