//! Evidence: a second pass over a capture that picks the frames of the failed calls.
//!
//! The stage after `report` in the pipeline: given one capture's findings, it reads the capture
//! again (with the same `source` reader and `decode` decoder as the analysis) and keeps every
//! frame of each failed call — both directions of its connection or lookup, and the ICMP errors
//! quoting it ([`select`]). Kept frames can be written to a pcapng with a packet comment on each
//! evidence frame ([`EvidenceWriter`]), and each evidence frame's real sender and receiver are
//! returned (for the ladder diagrams of the HTML report).
//!
//! The pass streams: state is per finding and per flow, and only a kept frame allocates (its
//! comments). TCP findings need to know where their connection began on a reused 4-tuple, so
//! the capture is read once up to the last such finding's first frame before the pass proper;
//! standard input cannot be read again and is refused ([`EvidenceError::Stdin`]).
//!
//! A capture merged from several files (`--merge`) is read merged again
//! ([`source::Capture::open`]), in the same order, so its frame numbers are the ones the
//! findings name.

mod output;
mod payload;
mod pcapng;
mod secrets;
mod select;

use std::net::IpAddr;

use serde::Serialize;
use thiserror::Error;

use crate::decode::{Decoded, Decoder};
use crate::diagnose::Finding;
use crate::source::{self, SourceError};

pub use output::{SafeFile, refuse_input};
pub use payload::headers_only;
pub use pcapng::EvidenceWriter;
pub use secrets::client_random;

/// Why the evidence pass could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// The capture is standard input, which was consumed by the analysis.
    #[error(
        "-: standard input can be read only once, and the evidence file and the HTML report read \
         the capture a second time; save the capture to a file and name that file"
    )]
    Stdin,
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("writing the evidence file: {0}")]
    Write(#[from] std::io::Error),
}

/// An evidence frame as it went over the wire: who sent it to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub frame: u64,
    pub ts_ns: i64,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Source and destination ports of a TCP or UDP frame (`None` for ICMP).
    pub ports: Option<(u16, u16)>,
}

/// What the pass found for one capture's findings.
#[derive(Debug, Clone, Default)]
pub struct CallFrames {
    /// Per finding (in the order given), per evidence entry: the frame's sender and receiver
    /// (`None` when the frame holds no IP packet, e.g. a fragment or a damaged frame).
    pub routes: Vec<Vec<Option<Route>>>,
    /// Per finding, per evidence entry: the frame's number in the evidence file (when written).
    pub evidence_numbers: Vec<Vec<Option<u64>>>,
    /// Frames of the failed calls (written to the evidence file, when there is one).
    pub frames_kept: u64,
    /// The capture was damaged: the pass covers the frames before the damage.
    pub warning: Option<String>,
}

/// Reads the capture at `path` again and picks the frames of `findings`' calls (findings of
/// this capture only); when `writer` is given, writes them there.
pub fn collect<W: std::io::Write>(
    path: &str,
    findings: &[Finding],
    writer: Option<&mut EvidenceWriter<W>>,
) -> Result<CallFrames, EvidenceError> {
    collect_merged(&[path.to_owned()], findings, writer)
}

/// Like [`collect`], over the capture the files of `paths` make when merged in time order (as
/// the analysis read them with `--merge`; one path is that file).
pub fn collect_merged<W: std::io::Write>(
    paths: &[String],
    findings: &[Finding],
    mut writer: Option<&mut EvidenceWriter<W>>,
) -> Result<CallFrames, EvidenceError> {
    check_rereadable(paths)?;
    let mut out = CallFrames {
        routes: findings
            .iter()
            .map(|f| vec![None; f.evidence.len()])
            .collect(),
        evidence_numbers: findings
            .iter()
            .map(|f| vec![None; f.evidence.len()])
            .collect(),
        ..CallFrames::default()
    };
    if findings.is_empty() {
        return Ok(out);
    }
    let mut selector = select::Selector::new(findings);
    if selector.needs_prescan() {
        let mut decoder = Decoder::default();
        let mut reader = source::Capture::open(paths)?;
        reader.for_each_frame_while(|frame| match decoder.decode(frame) {
            Ok(Decoded::Packet(p)) => selector.prescan(frame.number, &p),
            _ => true,
        });
        selector.rewind();
    }
    let mut decoder = Decoder::default();
    let mut reader = source::Capture::open(paths)?;
    let mut comments: Vec<String> = Vec::new();
    let mut write_error = None;
    let read = reader.for_each_frame_while(|frame| {
        let (hit, random) = match decoder.decode(frame) {
            Ok(Decoded::Packet(p)) => (selector.select(frame.number, &p), client_random(&p)),
            // Not an IP packet: kept only when a finding names it.
            _ => (None, None),
        };
        let evidence = selector.evidence_at(frame.number);
        if hit.is_none() && evidence.is_empty() {
            return true;
        }
        out.frames_kept += 1;
        comments.clear();
        for &(_, i, e) in evidence {
            let (f, ev) = (&findings[i], &findings[i].evidence[e]);
            comments.push(format!("{} {}: {}", f.id, f.code, ev.note));
            out.routes[i][e] = hit.map(|h| Route {
                frame: frame.number,
                ts_ns: frame.ts_ns,
                src: h.src,
                dst: h.dst,
                ports: h.ports,
            });
        }
        if let Some(w) = writer.as_deref_mut() {
            // A ClientHello's session secrets go just before it (`--evidence-keys`).
            let secrets = match random {
                Some(random) => w.secrets_for(random),
                None => Ok(()),
            };
            match secrets.and_then(|()| w.write(frame, &comments)) {
                Ok(number) => {
                    for &(_, i, e) in evidence {
                        out.evidence_numbers[i][e] = Some(number);
                    }
                }
                Err(error) => {
                    write_error = Some(error);
                    return false;
                }
            }
        }
        true
    });
    if let Some(error) = write_error {
        return Err(error.into());
    }
    out.warning = read.warning;
    Ok(out)
}

/// The `evidence_file` section of the JSON report: where the evidence went and where each
/// finding's evidence frames are in it.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceFileSection {
    /// The pcapng written.
    pub path: String,
    /// Frames written.
    pub frames: u64,
    /// Per finding: its evidence frame numbers in the new file.
    pub findings: Vec<FindingFrames>,
}

/// One finding's evidence frames in the evidence file, in the order of its `evidence` array.
#[derive(Debug, Clone, Serialize)]
pub struct FindingFrames {
    pub id: String,
    pub frames: Vec<Option<u64>>,
}

impl EvidenceFileSection {
    /// An empty section for the file at `path`.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.into(),
            frames: 0,
            findings: Vec::new(),
        }
    }

    /// Adds what [`collect`] found for `findings` (one capture's).
    pub fn add(&mut self, findings: &[Finding], found: &CallFrames) {
        self.frames += found.frames_kept;
        for (f, numbers) in findings.iter().zip(&found.evidence_numbers) {
            self.findings.push(FindingFrames {
                id: f.id.clone(),
                frames: numbers.clone(),
            });
        }
    }
}

impl EvidenceFileSection {
    /// Puts the per-finding entries in the order of `findings` (the report's order).
    pub fn order_like(&mut self, findings: &[&Finding]) {
        let rank = |id: &str| findings.iter().position(|f| f.id == id);
        self.findings.sort_by_key(|m| rank(&m.id));
    }
}

/// Writes the frame-number mapping for people: `F1 ...: 1 = 9, 4 = 12 (in syn-drop.pcap)`.
pub fn write_mapping_text(
    out: &mut impl std::io::Write,
    section: &EvidenceFileSection,
    findings: &[(String, &Finding)],
) -> std::io::Result<()> {
    // Paths and file names may hold control characters: escaped for the terminal.
    use std::io::Write as _;
    let mut out = crate::escape::ControlEscaper::new(out);
    writeln!(out)?;
    writeln!(
        out,
        "evidence file {}: {} frames (frame here = frame in the original capture)",
        section.path, section.frames
    )?;
    for entry in &section.findings {
        let Some((file, f)) = findings.iter().find(|(_, f)| f.id == entry.id) else {
            continue;
        };
        let pairs: Vec<String> = entry
            .frames
            .iter()
            .zip(&f.evidence)
            .map(|(new, ev)| match new {
                Some(n) => format!("{n} = {}", ev.frame),
                None => format!("? = {}", ev.frame),
            })
            .collect();
        writeln!(
            out,
            "  {} {}: {} (in {file})",
            f.id,
            f.code,
            pairs.join(", ")
        )?;
    }
    Ok(())
}

/// What the evidence pass over every input gave: the JSON section (when a file was written)
/// and each finding's evidence routes, by finding id.
#[derive(Debug, Default)]
pub struct EvidenceRun {
    pub section: Option<EvidenceFileSection>,
    pub routes: Vec<(String, Vec<Option<Route>>)>,
    /// Damage met on the second read, one line per capture.
    pub warnings: Vec<String>,
    /// TLS sessions whose secrets the evidence file holds (`--evidence-keys`).
    pub secret_sessions: u64,
}

impl EvidenceRun {
    /// The routes of the finding with id `id` (empty when unknown).
    pub fn routes_of(&self, id: &str) -> &[Option<Route>] {
        self.routes
            .iter()
            .find(|(i, _)| i == id)
            .map_or(&[], |(_, r)| r.as_slice())
    }
}

/// Refuses inputs the pass cannot read again (standard input), before any work is done.
pub fn check_rereadable(files: &[String]) -> Result<(), EvidenceError> {
    match files.iter().any(|f| f == "-") {
        true => Err(EvidenceError::Stdin),
        false => Ok(()),
    }
}

/// Where the evidence pcapng goes and what it keeps.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceOutput<'a> {
    /// The pcapng to write (through a temporary file renamed into place; never an input).
    pub path: &'a str,
    /// Keep only the headers: payload bytes written as zeros (`--evidence-redact`).
    pub headers_only: bool,
    /// Also write the TLS secrets this key log holds for the connections the file holds
    /// (`--evidence-keys`); `None` writes no secret.
    pub keys: Option<&'a crate::app::tls::KeyLog>,
}

/// What writing the evidence file means for whoever receives it, said once when it is written.
pub fn payload_notice(output: &EvidenceOutput<'_>) -> String {
    match output.headers_only {
        true => format!(
            "{}: payload bytes replaced by zeros (--evidence-redact); headers, lengths and \
             timing kept",
            output.path
        ),
        false => format!(
            "{}: holds the captured payload bytes of the failed calls (tokens, cookies, bodies): \
             treat it like the input capture, or write it with --evidence-redact",
            output.path
        ),
    }
}

/// What `--evidence-keys` did, said on standard error once the file is written: it holds
/// secrets now.
pub fn keys_notice(output: &EvidenceOutput<'_>, sessions: u64) -> String {
    match sessions {
        0 => format!(
            "{}: --evidence-keys: the key log has no secrets for the TLS connections in the \
             file; none written",
            output.path
        ),
        n => format!(
            "{}: holds the TLS session secrets of {n} connection(s) (--evidence-keys): anyone \
             with the file can decrypt them; share it as you would the key log",
            output.path
        ),
    }
}

/// Refuses, before any work is done, an evidence file that is one of the inputs (same device
/// and inode: hard links, symlinks, `/dev/fd/N` and relative paths included).
pub fn check_output(output: Option<&str>, files: &[String]) -> Result<(), EvidenceError> {
    let Some(output) = output else {
        return Ok(());
    };
    let inputs: Vec<&std::path::Path> = files.iter().map(std::path::Path::new).collect();
    Ok(refuse_input(std::path::Path::new(output), &inputs)?)
}

/// Runs the pass over each input with that input's own findings (`per_file[i]` are the
/// findings of `files[i]`), writing the evidence pcapng to `output` when given.
pub fn run(
    files: &[String],
    per_file: &[&[Finding]],
    output: Option<EvidenceOutput<'_>>,
) -> Result<EvidenceRun, EvidenceError> {
    let captures: Vec<Vec<String>> = files.iter().map(|f| vec![f.clone()]).collect();
    run_captures(&captures, per_file, output)
}

/// Like [`run`], each capture read from its files (`captures[i]`: one file, or several merged
/// in time order as the analysis read them) with its own findings (`per_capture[i]`).
pub fn run_captures(
    captures: &[Vec<String>],
    per_capture: &[&[Finding]],
    output: Option<EvidenceOutput<'_>>,
) -> Result<EvidenceRun, EvidenceError> {
    let files: Vec<String> = captures.iter().flatten().cloned().collect();
    check_rereadable(&files)?;
    let mut writer = match output {
        Some(o) => {
            let inputs: Vec<&std::path::Path> = files.iter().map(std::path::Path::new).collect();
            let file = SafeFile::create(std::path::Path::new(o.path), &inputs)?;
            let buffered = std::io::BufWriter::with_capacity(1 << 16, file);
            let writer = EvidenceWriter::new(buffered)?.headers_only(o.headers_only);
            Some(match o.keys {
                Some(keys) => writer.with_secrets(keys.clone()),
                None => writer,
            })
        }
        None => None,
    };
    let mut run = EvidenceRun {
        section: output.map(|o| EvidenceFileSection::new(o.path)),
        ..EvidenceRun::default()
    };
    for (paths, findings) in captures.iter().zip(per_capture) {
        let found = collect_merged(paths, findings, writer.as_mut())?;
        if let Some(section) = &mut run.section {
            section.add(findings, &found);
        }
        run.warnings.extend(found.warning);
        for (f, routes) in findings.iter().zip(found.routes) {
            run.routes.push((f.id.clone(), routes));
        }
    }
    if let Some(w) = writer {
        run.secret_sessions = w.secret_sessions();
        let mut file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.commit()?;
    }
    Ok(run)
}
