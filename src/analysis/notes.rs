//! The capture notes the analysis itself writes: caps it reached, timestamps it could not
//! believe.

use super::ClockCounts;
use crate::app::dns::{self, DnsCounts};
use crate::diagnose;

/// The capture note for the hard caps reached, if any: what was counted and not analysed.
pub(super) fn limits_note(
    untracked_tcp: u64,
    peak_tcp_flows: usize,
    dns: &DnsCounts,
) -> Option<diagnose::CaptureNote> {
    let mut parts = Vec::new();
    if untracked_tcp > 0 {
        parts.push(format!(
            "{untracked_tcp} TCP packet(s) of new connections were not followed because \
             {peak_tcp_flows} connections were already followed at once"
        ));
    }
    if dns.evicted > 0 {
        parts.push(format!(
            "{} DNS lookup(s) were let go unanswered before their timeout because {} were \
             waiting at once (counted as unfinished, not as failed)",
            dns.evicted,
            dns::MAX_OPEN
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(diagnose::CaptureNote::new(
        diagnose::CaptureNoteKind::LimitsReached,
        format!("analysis limits reached: {}", parts.join("; ")),
        Vec::new(),
    ))
}

/// The capture note for damaged timestamps, if any frame had one.
pub(super) fn clock_note(counts: &ClockCounts) -> Option<diagnose::CaptureNote> {
    let mut parts = Vec::new();
    if counts.implausible > 0 {
        parts.push(format!(
            "{} frame(s) stamped more than an hour away from their neighbours (the first is frame \
             {}) were analysed at the time of the frame before them",
            counts.implausible,
            counts.first_implausible.unwrap_or(0)
        ));
    }
    if counts.steps_back > 0 {
        parts.push(format!(
            "the capture's time went back by more than an hour {} time(s) (files joined, or \
             the capturing host's clock set back); each frame keeps its own time, and \
             durations across such a step mean nothing",
            counts.steps_back
        ));
    }
    if parts.is_empty() {
        return None;
    }
    Some(diagnose::CaptureNote::new(
        diagnose::CaptureNoteKind::DamagedTimestamps,
        format!("damaged timestamps: {}", parts.join("; ")),
        counts.first_implausible.into_iter().collect(),
    ))
}
