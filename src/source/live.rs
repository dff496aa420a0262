//! A live interface as a source (cargo feature `live`, libpcap through the `pcap` crate).
//!
//! [`LiveCapture::open`] opens the handle (the step that needs privileges); [`LiveCapture::start`]
//! moves it to a capture thread that reads packets in immediate mode and hands them on through a
//! bounded channel, with the handle's drop counters once a second. Frames are numbered from 1 in
//! capture order and stamped in nanoseconds, exactly as the file reader yields them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;

use super::{Frame, LinkType};

/// How long the capture thread waits for a packet before it looks at its stop flag. The handle is
/// non-blocking and the thread polls its descriptor: libpcap ignores its own read timeout in
/// immediate mode on Linux, so a blocking read would not return on a quiet interface.
const READ_TIMEOUT_MS: u16 = 100;
/// Packets waiting between the capture thread and the analysis: when the analysis falls this far
/// behind, the thread blocks and the kernel drops (and counts) instead of memory growing.
const QUEUE_PACKETS: usize = 4096;
/// The kernel's capture buffer (libpcap's default is 2 MB): room for bursts while the analysis
/// catches up.
const BUFFER_BYTES: i32 = 16 << 20;
/// How often the drop counters are read.
const STATS_EVERY: Duration = Duration::from_secs(1);

/// Why a live capture could not start or went on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LiveError {
    #[error("no interface named {0:?} (`faultline live --list` lists them)")]
    NoSuchInterface(String),
    #[error(
        "capturing on {interface} needs privileges: run as root (faultline then drops to --user), \
         or give the binary `setcap cap_net_raw,cap_net_admin+eip` ({detail})"
    )]
    Permission { interface: String, detail: String },
    #[error("capture filter {filter:?}: {detail}")]
    Filter { filter: String, detail: String },
    #[error("capture on {interface}: {detail}")]
    Capture { interface: String, detail: String },
}

/// The handle's counters (`pcap_stats`): packets the filter passed, dropped by the kernel for
/// lack of buffer space, and dropped by the interface or its driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

/// One captured packet, owned, on its way from the capture thread.
#[derive(Debug)]
pub struct LivePacket {
    pub number: u64,
    pub ts_ns: i64,
    pub orig_len: u32,
    pub bytes: Vec<u8>,
}

impl LivePacket {
    /// The packet as the frame the analysis takes.
    pub fn frame(&self, link_type: LinkType) -> Frame<'_> {
        Frame {
            number: self.number,
            ts_ns: self.ts_ns,
            link_type,
            bytes: &self.bytes,
            orig_len: self.orig_len,
        }
    }
}

/// What the capture thread hands on.
#[derive(Debug)]
#[non_exhaustive]
pub enum LiveEvent {
    Packet(LivePacket),
    /// The drop counters, once a second and once more at the end.
    Stats(CaptureStats),
    /// The capture ended: asked to stop (`None`), or a read error.
    Ended(Option<String>),
}

/// An open capture handle, not yet reading.
pub struct LiveCapture {
    capture: pcap::Capture<pcap::Active>,
    interface: String,
    link_type: LinkType,
    nanoseconds: bool,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("interface", &self.interface)
            .field("link_type", &self.link_type)
            .finish()
    }
}

/// The interfaces libpcap can capture on, each with its description.
pub fn list_interfaces() -> Result<Vec<(String, Option<String>)>, LiveError> {
    let devices = pcap::Device::list().map_err(|e| LiveError::Capture {
        interface: "(list)".into(),
        detail: e.to_string(),
    })?;
    Ok(devices.into_iter().map(|d| (d.name, d.desc)).collect())
}

impl LiveCapture {
    /// Opens `interface` (`any` for all, as Linux cooked captures) with an optional BPF `filter`:
    /// immediate mode, nanosecond timestamps, whole packets.
    pub fn open(interface: &str, filter: Option<&str>) -> Result<Self, LiveError> {
        let known = list_interfaces()?;
        if !known.iter().any(|(name, _)| name == interface) {
            return Err(LiveError::NoSuchInterface(interface.into()));
        }
        let capture_error = |e: pcap::Error| {
            let detail = e.to_string();
            let lower = detail.to_ascii_lowercase();
            if lower.contains("permission") || lower.contains("not permitted") {
                LiveError::Permission {
                    interface: interface.into(),
                    detail,
                }
            } else if lower.contains("no such device") {
                LiveError::NoSuchInterface(interface.into())
            } else {
                LiveError::Capture {
                    interface: interface.into(),
                    detail,
                }
            }
        };
        let mut capture = pcap::Capture::from_device(interface)
            .map_err(capture_error)?
            .snaplen(262_144)
            .promisc(false)
            .immediate_mode(true)
            .timeout(i32::from(READ_TIMEOUT_MS))
            .buffer_size(BUFFER_BYTES)
            .precision(pcap::Precision::Nano)
            .open()
            .and_then(pcap::Capture::setnonblock)
            .map_err(capture_error)?;
        if interface == "any" {
            // Linux cooked v2 names the interface of each packet; v1 (libpcap's default for
            // `any`) is kept where v2 is not offered.
            let _ = capture.set_datalink(pcap::Linktype(LinkType::LINUX_SLL2.0 as i32));
        }
        if let Some(program) = filter {
            capture
                .filter(program, true)
                .map_err(|e| LiveError::Filter {
                    filter: program.into(),
                    detail: e.to_string(),
                })?;
        }
        let link_type = LinkType(capture.get_datalink().0 as u32);
        let nanoseconds = nanosecond_stamps(&capture);
        Ok(Self {
            capture,
            interface: interface.into(),
            link_type,
            nanoseconds,
        })
    }

    /// The link type of every frame this capture yields.
    pub fn link_type(&self) -> LinkType {
        self.link_type
    }

    /// The interface captured on.
    pub fn interface(&self) -> &str {
        &self.interface
    }

    /// Starts the capture thread; it ends soon after `stop` is set (within one read timeout).
    pub fn start(self, stop: Arc<AtomicBool>) -> LiveFeed {
        let (events, receiver) = mpsc::sync_channel(QUEUE_PACKETS);
        // Buffers come back from the analysis and are reused: no allocation per packet once the
        // pool has grown to what is in flight.
        let (recycle, pool) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("faultline-capture".into())
            .spawn(move || self.run(&stop, &events, &pool))
            .ok();
        LiveFeed {
            events: receiver,
            recycle,
            thread,
        }
    }

    fn run(mut self, stop: &AtomicBool, events: &SyncSender<LiveEvent>, pool: &Receiver<Vec<u8>>) {
        let mut number = 0u64;
        let mut stats_due = Instant::now() + STATS_EVERY;
        let ended = loop {
            if stop.load(Ordering::Relaxed) {
                break None;
            }
            match self.capture.next_packet() {
                Ok(packet) => {
                    number += 1;
                    let ts = packet.header.ts;
                    // time_t and suseconds_t are narrower than i64 on some targets.
                    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
                    let (seconds, fraction) = (ts.tv_sec as i64, i64::from(ts.tv_usec));
                    let fraction_ns = if self.nanoseconds {
                        fraction
                    } else {
                        fraction * 1000
                    };
                    let mut bytes = pool.try_recv().unwrap_or_default();
                    bytes.clear();
                    bytes.extend_from_slice(packet.data);
                    let packet = LivePacket {
                        number,
                        ts_ns: seconds
                            .saturating_mul(1_000_000_000)
                            .saturating_add(fraction_ns),
                        orig_len: packet.header.len,
                        bytes,
                    };
                    if events.send(LiveEvent::Packet(packet)).is_err() {
                        return; // nobody listens any more
                    }
                }
                Err(pcap::Error::TimeoutExpired) => self.wait_readable(),
                Err(e) => break Some(e.to_string()),
            }
            if Instant::now() >= stats_due {
                stats_due = Instant::now() + STATS_EVERY;
                if let Some(stats) = self.stats() {
                    let _ = events.send(LiveEvent::Stats(stats));
                }
            }
        };
        if let Some(stats) = self.stats() {
            let _ = events.send(LiveEvent::Stats(stats));
        }
        let _ = events.send(LiveEvent::Ended(ended));
    }

    /// Waits until a packet may be read, or the read timeout passed (signals included).
    fn wait_readable(&self) {
        use nix::poll::{PollFd, PollFlags, poll};
        use std::os::fd::AsFd;
        let mut fds = [PollFd::new(self.capture.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, READ_TIMEOUT_MS);
    }

    fn stats(&mut self) -> Option<CaptureStats> {
        let stat = self.capture.stats().ok()?;
        Some(CaptureStats {
            received: u64::from(stat.received),
            dropped: u64::from(stat.dropped),
            if_dropped: u64::from(stat.if_dropped),
        })
    }
}

/// True when libpcap granted nanosecond timestamps (it may fall back to microseconds where the
/// platform cannot: then the fraction read is microseconds).
fn nanosecond_stamps(capture: &pcap::Capture<pcap::Active>) -> bool {
    const PCAP_TSTAMP_PRECISION_NANO: std::ffi::c_int = 1;
    unsafe extern "C" {
        fn pcap_get_tstamp_precision(p: *mut std::ffi::c_void) -> std::ffi::c_int;
    }
    // SAFETY: the handle is open and stays alive for the call; the function only reads it
    // (libpcap >= 1.5, which the `pcap` crate's `precision` setter already requires).
    unsafe { pcap_get_tstamp_precision(capture.as_ptr().cast()) == PCAP_TSTAMP_PRECISION_NANO }
}

/// The running capture: its events, and where packet buffers go back for reuse.
#[derive(Debug)]
pub struct LiveFeed {
    pub events: Receiver<LiveEvent>,
    recycle: mpsc::Sender<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl LiveFeed {
    /// Gives a packet's buffer back to the capture thread.
    pub fn recycle(&self, bytes: Vec<u8>) {
        let _ = self.recycle.send(bytes);
    }

    /// Waits for the capture thread to end (after its stop flag was set and its events read).
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
