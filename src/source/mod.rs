//! Capture sources: pcap and pcapng files (optionally gzip-compressed, or standard input).
//!
//! A source yields [`Frame`]s that borrow their bytes from the reader's buffer. Frame numbers are
//! 1-based and count every packet record in file order, exactly as Wireshark's `frame.number`.

mod file;
#[cfg(feature = "live")]
pub mod live;
mod open;

pub use file::{CaptureReader, ReadSummary, TlsSecretsSink, TlsSecretsText};
pub use open::{open_path, open_reader};

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
