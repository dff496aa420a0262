//! The capture note about frames the capture recorded twice, gathered over all connections.

use crate::diagnose::{CaptureNote, CaptureNoteKind};
use crate::tcp::ConnectionSummary;

/// Frames of the first copies named in the duplicate-frames note.
const DUPLICATE_EXAMPLES: usize = 6;

/// Frames the capture recorded twice, over all connections.
#[derive(Debug, Default)]
pub(super) struct Duplicates {
    frames: u64,
    examples: Vec<u64>,
}

impl Duplicates {
    pub(super) fn add(&mut self, conn: &ConnectionSummary) {
        for side in [&conn.facts.client, &conn.facts.server] {
            self.frames += u64::from(side.duplicates);
            if let Some((original, copy)) = side.first_duplicate
                && self.examples.len() < DUPLICATE_EXAMPLES
            {
                self.examples.extend([original.frame, copy.frame]);
            }
        }
    }

    /// The one note (and warning) of a capture that holds copies.
    pub(super) fn note(mut self) -> Option<CaptureNote> {
        if self.frames == 0 {
            return None;
        }
        self.examples.sort_unstable();
        self.examples.dedup();
        Some(CaptureNote::new(
            CaptureNoteKind::DuplicateFrames,
            format!(
                "the capture holds {} TCP frame{} seen twice (same IP ID, sequence numbers, flags and length, moments apart: a mirror port or `-i any` copying packets); they are not counted as loss; `editcap -d` removes them",
                self.frames,
                if self.frames == 1 { "" } else { "s" }
            ),
            self.examples,
        ))
    }
}
