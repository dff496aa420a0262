//! Capture sources: pcap and pcapng files (optionally gzip-compressed, or standard input).
//!
//! A source yields [`Frame`]s that borrow their bytes from the reader's buffer. Frame numbers are
//! 1-based and count every packet record in file order, exactly as Wireshark's `frame.number`.

mod file;
#[cfg(feature = "live")]
pub mod live;
mod merge;
mod open;
mod rotation;

pub use file::{CaptureReader, ReadSummary, TlsSecretsSink, TlsSecretsText};
pub use merge::MergedReader;
pub use open::{open_path, open_reader};
pub use rotation::looks_rotated;

/// What one analysis reads: a capture file, or several files merged into one capture in time
/// order (`--merge`, see [`MergedReader`]).
#[derive(Debug)]
pub enum Capture {
    File(CaptureReader),
    Merged(MergedReader),
}

impl Capture {
    /// Opens `paths` as one capture: a single path as itself, several merged in time order.
    pub fn open(paths: &[String]) -> Result<Self, SourceError> {
        match paths {
            [one] => Ok(Capture::File(open_path(one)?)),
            several => Ok(Capture::Merged(MergedReader::open(several)?)),
        }
    }

    /// Gives each file read the sink `make(path)` returns for its `TLSK` Decryption Secrets
    /// Blocks (see [`CaptureReader::with_tls_secrets`]).
    pub fn with_tls_secrets(self, mut make: impl FnMut(&str) -> TlsSecretsSink) -> Self {
        match self {
            Capture::File(reader) => {
                let sink = make(reader.path());
                Capture::File(reader.with_tls_secrets(sink))
            }
            Capture::Merged(merged) => Capture::Merged(merged.with_tls_secrets(make)),
        }
    }

    /// Calls `on_frame` for every frame in capture order (merged order when merged); see
    /// [`CaptureReader::for_each_frame`].
    pub fn for_each_frame(&mut self, on_frame: impl FnMut(&Frame<'_>)) -> ReadSummary {
        match self {
            Capture::File(reader) => reader.for_each_frame(on_frame),
            Capture::Merged(merged) => merged.for_each_frame(on_frame),
        }
    }

    /// Like [`for_each_frame`](Self::for_each_frame), stopping after the first frame for which
    /// `on_frame` returns false.
    pub fn for_each_frame_while(
        &mut self,
        on_frame: impl FnMut(&Frame<'_>) -> bool,
    ) -> ReadSummary {
        match self {
            Capture::File(reader) => reader.for_each_frame_while(on_frame),
            Capture::Merged(merged) => merged.for_each_frame_while(on_frame),
        }
    }
}

impl From<CaptureReader> for Capture {
    fn from(reader: CaptureReader) -> Self {
        Capture::File(reader)
    }
}

impl From<MergedReader> for Capture {
    fn from(merged: MergedReader) -> Self {
        Capture::Merged(merged)
    }
}

use thiserror::Error;

/// A data-link type, as numbered by tcpdump.org's LINKTYPE_ registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: Self = Self(0);
    pub const ETHERNET: Self = Self(1);
    pub const RAW: Self = Self(101);
    pub const LOOP: Self = Self(108);
    pub const LINUX_SLL: Self = Self(113);
    pub const IPV4: Self = Self(228);
    pub const IPV6: Self = Self(229);
    pub const LINUX_SLL2: Self = Self(276);

    /// The name users know from `tcpdump -L` / Wireshark, e.g. `ETHERNET`, `LINUX_SLL2`.
    pub fn name(self) -> String {
        match self {
            Self::NULL => "NULL".into(),
            Self::ETHERNET => "ETHERNET".into(),
            Self::RAW | Self(12) | Self(14) => "RAW".into(),
            Self::LOOP => "LOOP".into(),
            Self::LINUX_SLL => "LINUX_SLL".into(),
            Self::IPV4 => "IPV4".into(),
            Self::IPV6 => "IPV6".into(),
            Self::LINUX_SLL2 => "LINUX_SLL2".into(),
            Self(other) => format!("LINKTYPE_{other}"),
        }
    }
}

/// One captured packet record, borrowed from the reader.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based position in the capture (Wireshark's `frame.number`).
    pub number: u64,
    /// Capture timestamp in nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// How to decode `bytes`.
    pub link_type: LinkType,
    /// The captured bytes (possibly fewer than `orig_len` when the snap length cut them).
    pub bytes: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// Why a capture could not be read at all.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a pcap or pcapng capture")]
    NotACapture { path: String },
    #[error("{path}: the file is empty")]
    Empty { path: String },
    #[error("{path}: unreadable capture header ({detail})")]
    BadHeader { path: String, detail: String },
}
