//! Whether several capture files look like one capture cut into pieces by rotation, so a
//! report over them apart can suggest reading them merged.
//!
//! Rotation names the files one way per tool: tcpdump `-C` writes `NAME`, `NAME1`, `NAME2`...
//! (`NAME00`, `NAME01`... with `-W`), dumpcap's ring buffer `PREFIX_00001_20260102150405.pcapng`,
//! `faultline live --write` and logrotate `NAME.1.pcapng` or `NAME.pcap.1`. Names alone can
//! mislead (`host1.pcap` and `host2.pcap` may be two points of the same period), so the files
//! must also follow one another in time: sorted by their first frame, none starts before the
//! one before it ended.

/// Capture extensions, longest first (`.pcapng` before `.pcap`).
const EXTENSIONS: [&str; 3] = [".pcapng", ".pcap", ".cap"];

/// True when `paths` look like one rotated capture: every name is the same stem with a number
/// (one may have none: tcpdump's first file) in the same folder, and their time spans
/// (`spans[i]`: first and last frame time of `paths[i]`; `None` for a file without frames)
/// follow one another without overlapping.
pub fn looks_rotated(paths: &[String], spans: &[Option<(i64, i64)>]) -> bool {
    if paths.len() < 2 || paths.len() != spans.len() {
        return false;
    }
    let keys: Vec<(String, bool)> = paths.iter().map(|p| rotation_key(p)).collect();
    let same_stem = keys.iter().all(|(k, _)| *k == keys[0].0);
    let numbered = keys.iter().filter(|(_, n)| *n).count();
    if !same_stem || numbered + 1 < keys.len() {
        return false;
    }
    let mut spans: Vec<(i64, i64)> = spans.iter().flatten().copied().collect();
    spans.sort_unstable();
    spans.windows(2).all(|w| w[1].0 >= w[0].1)
}

/// The name with its rotation number taken out (folder kept), and whether it had one.
fn rotation_key(path: &str) -> (String, bool) {
    let (folder, name) = match path.rfind('/') {
        Some(i) => path.split_at(i + 1),
        None => ("", path),
    };
    let mut name = name.strip_suffix(".gz").unwrap_or(name);
    let mut numbered = false;
    // logrotate: `NAME.pcap.1`.
    if let Some((head, tail)) = name.rsplit_once('.')
        && is_number(tail)
        && EXTENSIONS.iter().any(|e| head.ends_with(e))
    {
        name = head;
        numbered = true;
    }
    let (mut stem, ext) = split_extension(name);
    // tcpdump -C on a name with an extension: `NAME.pcap1`.
    let ext = match ext.trim_end_matches(|c: char| c.is_ascii_digit()) {
        trimmed if trimmed.len() < ext.len() => {
            numbered = true;
            trimmed
        }
        _ => ext,
    };
    if let Some(head) = strip_ring_suffix(stem) {
        // dumpcap: `PREFIX_00001_20260102150405`.
        stem = head;
        numbered = true;
    } else if let Some((head, tail)) = stem.rsplit_once('.')
        && is_number(tail)
    {
        // faultline live --write: `NAME.1.pcapng`.
        stem = head;
        numbered = true;
    } else if !numbered {
        // tcpdump -C: `NAME1`, `NAME01`.
        let trimmed = stem.trim_end_matches(|c: char| c.is_ascii_digit());
        if trimmed.len() < stem.len() && !trimmed.is_empty() {
            stem = trimmed;
            numbered = true;
        }
    }
    (format!("{folder}{stem}{ext}"), numbered)
}

/// `(stem, extension)`: the extension is a capture one, possibly followed by digits.
fn split_extension(name: &str) -> (&str, &str) {
    for ext in EXTENSIONS {
        if let Some(i) = name.rfind(ext) {
            let tail = &name[i + ext.len()..];
            if tail.bytes().all(|b| b.is_ascii_digit()) {
                return name.split_at(i);
            }
        }
    }
    (name, "")
}

/// The stem without dumpcap's ring-buffer suffix `_NNNNN_YYYYMMDDhhmmss`, when it has one.
fn strip_ring_suffix(stem: &str) -> Option<&str> {
    let (rest, stamp) = stem.rsplit_once('_')?;
    let (head, seq) = rest.rsplit_once('_')?;
    (stamp.len() == 14 && is_number(stamp) && seq.len() >= 5 && is_number(seq)).then_some(head)
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// Spans one after another: 0-10, 10-20, 20-30...
    fn one_after_another(n: usize) -> Vec<Option<(i64, i64)>> {
        (0..n as i64).map(|i| Some((i * 10, i * 10 + 10))).collect()
    }

    #[test]
    fn each_tools_rotation_names_are_recognised() {
        for names in [
            &["trace.pcap", "trace.pcap1", "trace.pcap2"][..],
            &["trace", "trace1", "trace2"],
            &["trace00", "trace01"],
            &[
                "/var/tmp/ring_00001_20260102150405.pcapng",
                "/var/tmp/ring_00002_20260102150905.pcapng",
            ],
            &["live.pcapng", "live.1.pcapng", "live.2.pcapng"],
            &["dump.pcap.1", "dump.pcap.2.gz"],
            &[
                "split_00000_20260102150405.pcap",
                "split_00001_20260102150406.pcap",
            ],
        ] {
            assert!(
                looks_rotated(&paths(names), &one_after_another(names.len())),
                "{names:?}"
            );
        }
    }

    #[test]
    fn other_names_or_overlapping_times_are_not_a_rotation() {
        let apart = one_after_another(2);
        for names in [
            &["a.pcap", "b.pcap"][..],
            &["trace.pcap", "trace.pcap"],
            &["x/trace1.pcap", "y/trace2.pcap"],
            &["trace1.pcap", "other2.pcap"],
            &["one.pcap"],
        ] {
            let spans = &apart[..names.len().min(2)];
            assert!(!looks_rotated(&paths(names), spans), "{names:?}");
        }
        // Two hosts' captures of the same period share a stem but overlap in time.
        let overlapping = [Some((0, 10)), Some((5, 15))];
        assert!(!looks_rotated(
            &paths(&["host1.pcap", "host2.pcap"]),
            &overlapping
        ));
        // Given out of order, they still follow one another.
        let reversed = [Some((10, 20)), Some((0, 10))];
        assert!(looks_rotated(
            &paths(&["trace2.pcap", "trace1.pcap"]),
            &reversed
        ));
    }
}
