//! Notes about the capture itself (frames recorded twice, damaged timestamps, key log lines
//! that did not read, limits reached): said once per capture, never findings, declared here
//! like the causes of the catalogue.

use serde::Serialize;

/// Something about the capture itself (not about a call) that a reader of its findings must
/// know, said once per capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CaptureNoteKind {
    /// The capture holds frames seen twice (a mirror port, `-i any`).
    DuplicateFrames,
    /// Frames stamped far from their neighbours, or a clock stepped back.
    DamagedTimestamps,
    /// A hard cap of the analysis was reached: some traffic was counted, not analysed.
    LimitsReached,
    /// Key log lines (`--keylog`, the capture's secrets blocks) were skipped, or the capture
    /// carries secrets of a kind faultline does not use.
    KeyLog,
}

impl CaptureNoteKind {
    /// Every kind of note, in catalogue order.
    pub const ALL: &'static [CaptureNoteKind] = &[
        CaptureNoteKind::DuplicateFrames,
        CaptureNoteKind::DamagedTimestamps,
        CaptureNoteKind::LimitsReached,
        CaptureNoteKind::KeyLog,
    ];

    /// `capture.<name>`.
    pub fn code(self) -> &'static str {
        match self {
            CaptureNoteKind::DuplicateFrames => "capture.duplicate_frames",
            CaptureNoteKind::DamagedTimestamps => "capture.damaged_timestamps",
            CaptureNoteKind::LimitsReached => "capture.limits_reached",
            CaptureNoteKind::KeyLog => "capture.key_log",
        }
    }

    /// What the note means.
    pub fn meaning(self) -> &'static str {
        match self {
            CaptureNoteKind::DuplicateFrames => {
                "The capture holds frames it saw twice: the same datagram (same IP ID, same TCP \
                 sequence, length and flags) microseconds apart, as a SPAN/mirror port or `tcpdump \
                 -i any` records it. They are not retransmissions and are never counted as loss."
            }
            CaptureNoteKind::DamagedTimestamps => {
                "Some frames carry a timestamp more than an hour away from the frames around \
                 them (a broken clock on a mirror port or tap, a corrupted record), or the \
                 capture's time went back by more than an hour (files joined out of order, the \
                 capturing host's clock set back). Capture time drives every timeout, so a lone \
                 frame stamped far away is analysed at the time of the frame before it (the \
                 time shown for it is not the file's); a step back that the frames after it \
                 confirm is followed, and eviction carries on from the new time."
            }
            CaptureNoteKind::LimitsReached => {
                "The capture held more at once than the analysis follows (flows, pending DNS \
                 queries, HTTP exchanges on one connection, reassembly buffers): memory stays \
                 bounded, so the excess was counted and left unanalysed, never reported as \
                 healthy."
            }
            CaptureNoteKind::KeyLog => {
                "Lines of a TLS key log (a `--keylog` file or a Decryption Secrets Block in the \
                 capture) could not be read and were skipped (each named by its line number; \
                 the line itself is never shown, it holds a secret), or the capture carries \
                 secrets of another kind (SSH, WireGuard, Zigbee, OPC UA), which faultline does \
                 not use. A connection whose secrets were on a skipped line stays encrypted."
            }
        }
    }

    /// What to do about it.
    pub fn fix(self) -> &'static str {
        match self {
            CaptureNoteKind::DuplicateFrames => {
                "Nothing on the network. `editcap -d` removes the duplicates; capture on one \
                 interface or fix the mirror session to avoid them."
            }
            CaptureNoteKind::DamagedTimestamps => {
                "Check the capture host's clock (NTP) and the tap or mirror port; `editcap -t` \
                 or `editcap -S` can fix a constant offset or out-of-order frames."
            }
            CaptureNoteKind::LimitsReached => {
                "Split the capture by host or port (`tshark -Y`, `editcap -A/-B`) and analyse \
                 the part of interest, or filter the capture to the calls that failed."
            }
            CaptureNoteKind::KeyLog => {
                "Check that the key log is in the NSS format `SSLKEYLOGFILE` writes (`LABEL \
                 <client random hex> <secret hex>` a line) and was not cut or edited; write it \
                 again from the client if it was."
            }
        }
    }
}

/// A note about one capture: its kind, the sentence for the report and a few example frames.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaptureNote {
    /// `capture.duplicate_frames`.
    pub code: &'static str,
    /// One sentence with the capture's own figures.
    pub text: String,
    /// A few frames that show it (at most [`CaptureNote::MAX_FRAMES`]).
    pub frames: Vec<u64>,
    #[serde(skip)]
    pub kind: CaptureNoteKind,
}

impl CaptureNote {
    /// Example frames kept per note.
    pub const MAX_FRAMES: usize = 8;

    /// A note of `kind` with its sentence and example frames (only the first few are kept).
    pub fn new(kind: CaptureNoteKind, text: String, mut frames: Vec<u64>) -> Self {
        frames.truncate(Self::MAX_FRAMES);
        CaptureNote {
            code: kind.code(),
            text,
            frames,
            kind,
        }
    }
}
