//! Several captures read as one, in time order, as Wireshark's `mergecap` merges them: rotated
//! files (`tcpdump -C/-W`, dumpcap ring buffers, `faultline live --write`) and captures of the
//! same period taken at different points.
//!
//! A k-way merge: each file keeps one frame pending (copied out of its reader's buffer), a
//! small heap orders the pending frames by timestamp, and the earliest is handed out; then
//! that file's next frame is read. Memory is one frame per file. Like libwiretap's
//! `merge_read_packet`, which scans the files in order and takes a frame whose time is earlier
//! than *or equal to* the best so far, a tie goes to the file given last: the merged frame
//! numbers are those of `mergecap -w OUT FILES` (a frame's number is its place in the merged
//! order). Each frame keeps its own link type, so files of different link types merge (as
//! mergecap's per-packet encapsulation does). A damaged file ends early with its warning and
//! the others go on.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::file::{CaptureReader, ReadSummary, TlsSecretsSink};
use super::{Frame, LinkType, SourceError};

/// A frame copied out of its reader, waiting for its turn.
#[derive(Debug)]
struct Pending {
    ts_ns: i64,
    link_type: LinkType,
    bytes: Vec<u8>,
    orig_len: u32,
}

/// One input of the merge: its reader, what reading it gave so far and its pending frame.
#[derive(Debug)]
struct Input {
    reader: CaptureReader,
    summary: ReadSummary,
    pending: Pending,
}

impl Input {
    /// Reads this file's next frame into `pending`; false at its end.
    fn advance(&mut self) -> bool {
        let pending = &mut self.pending;
        self.reader.advance(&mut self.summary, &mut |frame| {
            pending.ts_ns = frame.ts_ns;
            pending.link_type = frame.link_type;
            pending.orig_len = frame.orig_len;
            pending.bytes.clear();
            pending.bytes.extend_from_slice(frame.bytes);
        })
    }
}

/// Heap key: the earliest timestamp first; on a tie the file given last (mergecap's choice).
type Key = Reverse<(i64, Reverse<usize>)>;

/// Several captures read as one in time order (see the module documentation).
#[derive(Debug)]
pub struct MergedReader {
    inputs: Vec<Input>,
}

impl MergedReader {
    /// Merges `readers`, in the order the files were given (which decides only ties).
    pub fn new(readers: Vec<CaptureReader>) -> Self {
        let inputs = readers
            .into_iter()
            .map(|reader| Input {
                reader,
                summary: ReadSummary::default(),
                pending: Pending {
                    ts_ns: 0,
                    link_type: LinkType::ETHERNET,
                    bytes: Vec::new(),
                    orig_len: 0,
                },
            })
            .collect();
        Self { inputs }
    }

    /// Opens every file of `paths` (see [`super::open_path`]); the first that cannot be opened
    /// is the error.
    pub fn open(paths: &[String]) -> Result<Self, SourceError> {
        let readers = paths
            .iter()
            .map(|p| super::open_path(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(readers))
    }

    /// The files merged, in the order given.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().map(|i| i.reader.path())
    }

    /// Gives each file's reader the sink `make(path)` returns for its `TLSK` Decryption Secrets
    /// Blocks (see [`CaptureReader::with_tls_secrets`]). A file's blocks reach its sink when
    /// the merge reads the frame after them, which is never later than that frame's turn: the
    /// secrets apply from there on.
    pub fn with_tls_secrets(mut self, mut make: impl FnMut(&str) -> TlsSecretsSink) -> Self {
        self.inputs = (self.inputs.into_iter())
            .map(|input| {
                let sink = make(input.reader.path());
                Input {
                    reader: input.reader.with_tls_secrets(sink),
                    ..input
                }
            })
            .collect();
        self
    }

    /// Calls `on_frame` for every frame of every file in merged order, numbered 1, 2, ... in
    /// that order. Never fails: a damaged file ends early and its warning is in the summary.
    pub fn for_each_frame(&mut self, mut on_frame: impl FnMut(&Frame<'_>)) -> ReadSummary {
        self.for_each_frame_while(|frame| {
            on_frame(frame);
            true
        })
    }

    /// Like [`for_each_frame`](Self::for_each_frame), but stops after the first frame for
    /// which `on_frame` returns false.
    pub fn for_each_frame_while(
        &mut self,
        mut on_frame: impl FnMut(&Frame<'_>) -> bool,
    ) -> ReadSummary {
        let mut heap: BinaryHeap<Key> = BinaryHeap::with_capacity(self.inputs.len());
        for (i, input) in self.inputs.iter_mut().enumerate() {
            if input.advance() {
                heap.push(Reverse((input.pending.ts_ns, Reverse(i))));
            }
        }
        let mut number = 0u64;
        while let Some(Reverse((_, Reverse(i)))) = heap.pop() {
            let input = &mut self.inputs[i];
            number += 1;
            let p = &input.pending;
            let go_on = on_frame(&Frame {
                number,
                ts_ns: p.ts_ns,
                link_type: p.link_type,
                bytes: &p.bytes,
                orig_len: p.orig_len,
            });
            if !go_on {
                break;
            }
            if input.advance() {
                heap.push(Reverse((input.pending.ts_ns, Reverse(i))));
            }
        }
        self.summary(number)
    }

    /// What reading every file gave, as one summary of `frames` merged frames.
    fn summary(&self, frames: u64) -> ReadSummary {
        let mut out = ReadSummary {
            frames,
            ..ReadSummary::default()
        };
        let mut warnings = Vec::new();
        for s in self.inputs.iter().map(|i| &i.summary) {
            out.truncated |= s.truncated;
            warnings.extend(s.warning.clone());
            out.unreadable_records += s.unreadable_records;
            out.tls_secrets_blocks += s.tls_secrets_blocks;
            for (kind, n) in &s.other_secrets_blocks {
                match out.other_secrets_blocks.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, count)) => *count += n,
                    None => out.other_secrets_blocks.push((kind, *n)),
                }
            }
        }
        // Each file's warning names it and counts its own frames.
        out.warning = (!warnings.is_empty()).then(|| warnings.join("; "));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A legacy pcap (microseconds) with one record per `(seconds, byte)`.
    fn pcap(link: u32, records: &[(u32, u8)]) -> Vec<u8> {
        let mut out = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        out.extend(2u16.to_le_bytes());
        out.extend(4u16.to_le_bytes());
        for w in [0u32, 0, 65535, link] {
            out.extend(w.to_le_bytes());
        }
        for &(secs, byte) in records {
            for w in [secs, 0, 1, 1] {
                out.extend(w.to_le_bytes());
            }
            out.push(byte);
        }
        out
    }

    fn reader(name: &str, bytes: Vec<u8>) -> CaptureReader {
        CaptureReader::new(name, Box::new(std::io::Cursor::new(bytes))).expect("a capture")
    }

    /// (number, seconds, link type, byte) of each merged frame.
    fn merged(files: Vec<CaptureReader>) -> (Vec<(u64, i64, u32, u8)>, ReadSummary) {
        let mut seen = Vec::new();
        let summary = MergedReader::new(files).for_each_frame(|f| {
            seen.push((f.number, f.ts_ns / 1_000_000_000, f.link_type.0, f.bytes[0]))
        });
        (seen, summary)
    }

    #[test]
    fn frames_come_in_time_order_whatever_the_file_order() {
        let early = pcap(1, &[(1, b'a'), (2, b'b'), (5, b'c')]);
        let late = pcap(113, &[(3, b'x'), (4, b'y'), (6, b'z')]);
        let (seen, summary) = merged(vec![reader("late", late), reader("early", early)]);
        assert_eq!(
            seen,
            [
                (1, 1, 1, b'a'),
                (2, 2, 1, b'b'),
                (3, 3, 113, b'x'),
                (4, 4, 113, b'y'),
                (5, 5, 1, b'c'),
                (6, 6, 113, b'z'),
            ]
        );
        assert_eq!(summary.frames, 6);
        assert!(!summary.truncated);
    }

    #[test]
    fn a_tie_goes_to_the_file_given_last_as_in_mergecap() {
        let a = pcap(1, &[(1, b'a'), (1, b'b')]);
        let b = pcap(1, &[(1, b'x')]);
        let (seen, _) = merged(vec![reader("a", a), reader("b", b)]);
        let order: Vec<u8> = seen.iter().map(|s| s.3).collect();
        assert_eq!(order, b"xab");
    }

    #[test]
    fn a_cut_file_ends_early_and_the_others_go_on() {
        let mut cut = pcap(1, &[(1, b'a'), (3, b'b')]);
        cut.truncate(cut.len() - 2);
        let whole = pcap(1, &[(2, b'x'), (4, b'y')]);
        let (seen, summary) = merged(vec![reader("cut", cut), reader("whole", whole)]);
        let order: Vec<u8> = seen.iter().map(|s| s.3).collect();
        assert_eq!(order, b"axy");
        assert!(summary.truncated);
        let warning = summary.warning.expect("a warning");
        assert!(warning.starts_with("cut: "), "{warning}");
        assert!(warning.contains("the 1 frames before it"), "{warning}");
    }

    #[test]
    fn stopping_early_stops_reading() {
        let a = pcap(1, &[(1, b'a'), (3, b'b')]);
        let b = pcap(1, &[(2, b'x')]);
        let mut n = 0;
        let summary =
            MergedReader::new(vec![reader("a", a), reader("b", b)]).for_each_frame_while(|_| {
                n += 1;
                n < 2
            });
        assert_eq!((n, summary.frames), (2, 2));
    }
}
