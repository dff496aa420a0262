//! HTTP/2 against TShark (issue 17): on every capture that carries HTTP/2 — each lab capture in
//! `captures/` (with `NAME.keys` beside it read by both tools), each corpus capture, and those
//! of `$FAULTLINE_H2_CAPTURES` (a further directory, e.g. a lab worktree's, when set) — the
//! HTTP/2 streams `faultline conns --format json` reports equal TShark's, per TCP stream and per
//! HTTP/2 stream: the same stream ids, the final `:status`, `grpc-status`, the RST_STREAM error
//! code with its sender, whether the stream closed, and the GOAWAYs (error code, sender,
//! last-stream-id) in order.
//!
//! Which captures: TShark is asked of every one whether it holds HTTP/2 frames or a connection
//! preface (`PRI * HTTP/2.0`) at the start of a segment, so new lab captures join by themselves.
//! A capture where TShark or faultline sees HTTP/2 and either sees no stream at all fails
//! (only [`NO_STREAMS`] lists captures whose HTTP/2 truly opened none, and there both must
//! still see the connection).
//!
//! What TShark sees by itself: h2 over TLS by ALPN (with the keys), `Upgrade: h2c`, and the
//! preface on ports its HTTP dissector takes. h2c with prior knowledge elsewhere it decodes only
//! with `-d tcp.port==PORT,http2`: the ports are those where a segment starts with the preface
//! and the server ports of faultline's HTTP/2 connections (a mid-connection start has no
//! preface). That second TShark run decodes every connection on those ports as HTTP/2, so it is
//! read only for the TCP streams the first run did not decode.
//!
//! What is not compared, and why:
//! - frame numbers: TShark puts an HTTP/2 frame split over segments in the segment that
//!   completes it, faultline's facts name the frame that carried it; both are right;
//! - `:status` and `grpc-status` of a stream whose headers faultline marks undecodable (HPACK
//!   state lost after a gap or before the capture began): faultline then knows it does not
//!   know, while TShark decodes such blocks against a table it does not have (its values are not
//!   evidence); the stream id, reset and closing are still compared;
//! - the facts of streams faultline dropped beyond `MAX_STREAMS` (healthy finished ones): the
//!   stream count is compared, and the streams it kept.
//!
//! Senders: TShark's client is the side that sent the preface (else the side that sent the SYN;
//! else, on a capture that starts mid-connection without either, faultline's client, said so).
//!
//! TShark 4.0 has no `grpc.status_code` field: `grpc-status` is read from the decoded header
//! list of the server's HEADERS frames (`http2.header.name`/`value`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::corpus::Corpus;

#[path = "http2_tshark.rs"]
mod tshark;
use tshark::{Decoded, Probe, each, endpoint, fold, probe, text, tshark_h2};

/// Captures whose HTTP/2 opened no stream at all (both tools must agree on that), and why.
const NO_STREAMS: &[(&str, &str)] = &[(
    "arkime/arkime_synthetic.pcap",
    "one synthetic connection to port 443 sends only the client preface and an empty SETTINGS",
)];

/// A capture with the keys to read it.
#[derive(Debug)]
struct Capture {
    name: String,
    path: PathBuf,
    keys: Option<PathBuf>,
}

/// One HTTP/2 stream as either tool saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct StreamView {
    status: Option<u16>,
    grpc_status: Option<u32>,
    /// The first RST_STREAM: error code name and sender.
    reset: Option<(String, &'static str)>,
    /// Reset, or END_STREAM both ways (the server's alone for a pushed stream).
    closed: bool,
}

/// A GOAWAY: error code name, sender, last-stream-id.
type GoAwayView = (String, &'static str, u32);

/// One TCP connection's HTTP/2 as either tool saw it.
#[derive(Debug, Clone, Default)]
struct ConnView {
    streams: BTreeMap<u32, StreamView>,
    /// Streams opened (faultline may keep fewer than it counted).
    count: u64,
    goaways: Vec<GoAwayView>,
    /// faultline: header blocks undecodable on these streams.
    undecodable: BTreeSet<u32>,
    /// faultline's client endpoint, `ip:port` (`[ip]:port` for IPv6).
    client: String,
    server_port: u16,
}

fn all_captures(corpus: &Corpus) -> Vec<Capture> {
    let mut found = Vec::new();
    let mut dirs = vec![(
        "captures".to_string(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
    )];
    if let Some(extra) = std::env::var_os("FAULTLINE_H2_CAPTURES") {
        dirs.push(("h2-captures".to_string(), PathBuf::from(extra)));
    }
    for (label, dir) in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "pcap" && ext != "pcapng" {
                continue;
            }
            let keys = path.with_extension("keys");
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            found.push(Capture {
                name: format!("{label}/{file}"),
                keys: keys.is_file().then_some(keys),
                path,
            });
        }
    }
    for path in corpus.captures() {
        let keys = path.with_extension("keys");
        found.push(Capture {
            name: corpus.relative(&path),
            keys: keys.is_file().then_some(keys),
            path,
        });
    }
    found
}

/// faultline's HTTP/2 per TCP stream, from `faultline conns --format json`.
fn faultline_h2(capture: &Capture) -> BTreeMap<u64, ConnView> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faultline"));
    cmd.args(["conns", "--format", "json"]);
    if let Some(keys) = &capture.keys {
        cmd.arg("--keylog").arg(keys);
    }
    let out = cmd.arg(&capture.path).output().expect("faultline runs");
    assert!(
        out.status.success(),
        "{}: faultline conns failed: {}",
        capture.name,
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{}: conns JSON: {e}", capture.name));
    let mut conns = BTreeMap::new();
    for row in each(Some(&rows)) {
        let Some(h2) = row.get("http2") else { continue };
        let Some(stream) = row.get("stream").and_then(Value::as_u64) else {
            continue;
        };
        let ip = row
            .pointer("/client/ip")
            .and_then(Value::as_str)
            .unwrap_or("");
        let port = row
            .pointer("/client/port")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut conn = ConnView {
            client: endpoint(ip, &port.to_string()),
            server_port: row
                .pointer("/server/port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
            count: h2.get("stream_count").and_then(Value::as_u64).unwrap_or(0),
            ..ConnView::default()
        };
        for s in each(h2.get("streams")) {
            let Some(id) = s.get("id").and_then(Value::as_u64) else {
                continue;
            };
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            if s.get("headers_undecodable") == Some(&Value::Bool(true)) {
                conn.undecodable.insert(id);
            }
            let reset = s.get("reset").filter(|r| !r.is_null()).map(|r| {
                let code = text(r, "code").unwrap_or("").to_string();
                let by = match text(r, "sender") {
                    Some("client") => "client",
                    _ => "server",
                };
                (code, by)
            });
            let view = StreamView {
                status: s
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|c| u16::try_from(c).ok()),
                grpc_status: s
                    .pointer("/grpc/status")
                    .and_then(Value::as_u64)
                    .and_then(|c| u32::try_from(c).ok()),
                reset,
                closed: s.get("end_frame").is_some_and(|f| !f.is_null()),
            };
            conn.streams.insert(id, view);
        }
        for g in each(h2.get("goaways")) {
            let by = match text(g, "sender") {
                Some("client") => "client",
                _ => "server",
            };
            let last = g.get("last_stream_id").and_then(Value::as_u64).unwrap_or(0);
            conn.goaways.push((
                text(g, "code").unwrap_or("").to_string(),
                by,
                u32::try_from(last).unwrap_or(u32::MAX),
            ));
        }
        conns.insert(stream, conn);
    }
    conns
}

/// The differences on one TCP connection, as lines.
fn compare(ours: &ConnView, theirs: &ConnView) -> Vec<String> {
    let mut d = Vec::new();
    let kept_all = ours.count == ours.streams.len() as u64;
    if ours.count != theirs.count {
        d.push(format!(
            "  streams opened: tshark {}, faultline {}",
            theirs.count, ours.count
        ));
    }
    let ids: BTreeSet<&u32> = theirs.streams.keys().chain(ours.streams.keys()).collect();
    for id in ids {
        let (t, o) = (theirs.streams.get(id), ours.streams.get(id));
        match (t, o) {
            (Some(_), None) if !kept_all => {} // dropped beyond MAX_STREAMS: counted above
            (Some(t), Some(o)) => {
                let mut t = t.clone();
                if ours.undecodable.contains(id) {
                    // faultline knows it cannot read these headers; TShark's reading is no
                    // evidence.
                    t.status = o.status;
                    t.grpc_status = o.grpc_status;
                }
                if t != *o {
                    d.push(format!("  stream {id}: tshark {t:?}, faultline {o:?}"));
                }
            }
            _ => d.push(format!("  stream {id}: tshark {t:?}, faultline {o:?}")),
        }
    }
    if ours.goaways != theirs.goaways {
        d.push(format!(
            "  GOAWAYs: tshark {:?}, faultline {:?}",
            theirs.goaways, ours.goaways
        ));
    }
    d
}

#[test]
#[ignore = "needs ../shared/corpus and tshark: cargo test --test conformance -- --include-ignored"]
fn http2_streams_equal_tsharks() {
    let corpus = Corpus::locate();
    let mut wrong = Vec::new();
    let (mut captures, mut compared) = (0, 0u64);
    for capture in all_captures(&corpus) {
        let probe = probe(&capture);
        let ours = faultline_h2(&capture);
        if probe.native.is_empty() && probe.prefaced.is_empty() && ours.is_empty() {
            continue;
        }
        captures += 1;
        let theirs = tshark_view(&capture, &probe, &ours);
        compared += check_capture(&capture, &theirs, &ours, &mut wrong);
    }
    eprintln!("http2: {captures} captures with HTTP/2, {compared} streams compared with tshark");
    assert!(wrong.is_empty(), "\n{}\n", wrong.join("\n"));
    assert!(captures >= 1, "no capture with HTTP/2 found");
    assert!(compared >= 6, "only {compared} HTTP/2 streams compared");
}

/// TShark's HTTP/2 per TCP stream: its own decoding where it has one, else a `-d` run on the
/// server ports of the connections that start with the preface or that faultline reads as
/// HTTP/2 (only those connections are read from it: the others on those ports are not HTTP/2
/// however TShark is told to decode them).
fn tshark_view(
    capture: &Capture,
    probe: &Probe,
    ours: &BTreeMap<u64, ConnView>,
) -> BTreeMap<u64, Decoded> {
    let mut theirs = match probe.native.is_empty() {
        true => BTreeMap::new(),
        false => tshark_h2(capture, &[], |s| probe.native.contains(&s)),
    };
    let forced: BTreeMap<u64, u16> = (probe.prefaced.iter().map(|(s, p)| (*s, *p)))
        .chain(ours.iter().map(|(s, c)| (*s, c.server_port)))
        .filter(|(s, _)| !probe.native.contains(s))
        .collect();
    if !forced.is_empty() {
        let ports: BTreeSet<u16> = forced.values().copied().collect();
        let extra: Vec<String> = ports
            .iter()
            .flat_map(|p| ["-d".to_string(), format!("tcp.port=={p},http2")])
            .collect();
        theirs.extend(tshark_h2(capture, &extra, |s| forced.contains_key(&s)));
    }
    theirs.retain(|_, d| !d.frames.is_empty());
    theirs
}

/// Compares one capture; returns the HTTP/2 streams compared.
fn check_capture(
    capture: &Capture,
    theirs: &BTreeMap<u64, Decoded>,
    ours: &BTreeMap<u64, ConnView>,
    wrong: &mut Vec<String>,
) -> u64 {
    let mut compared = 0;
    let mut problems = Vec::new();
    let (mut theirs_total, mut ours_total) = (0, 0);
    let tcp: BTreeSet<u64> = theirs.keys().chain(ours.keys()).copied().collect();
    for stream in tcp {
        let Some(decoded) = theirs.get(&stream) else {
            let count = ours.get(&stream).map_or(0, |o| o.count);
            ours_total += count;
            problems.push(format!(
                " TCP stream {stream}: faultline reads HTTP/2 ({count} streams), tshark none"
            ));
            continue;
        };
        let Some(o) = ours.get(&stream) else {
            let t = fold(decoded.client.as_deref().unwrap_or(""), decoded);
            theirs_total += t.count;
            problems.push(format!(
                " TCP stream {stream}: tshark decodes HTTP/2 ({} streams), faultline none",
                t.count
            ));
            continue;
        };
        // A capture that starts mid-connection has neither preface nor SYN: faultline's client.
        let client = (decoded.client.clone()).unwrap_or_else(|| o.client.clone());
        let t = fold(&client, decoded);
        theirs_total += t.count;
        ours_total += o.count;
        compared += t.count.min(o.count);
        let d = compare(o, &t);
        if !d.is_empty() {
            problems.push(format!(" TCP stream {stream}:\n{}", d.join("\n")));
        }
    }
    let no_streams = NO_STREAMS.iter().any(|(name, _)| capture.name == *name);
    match no_streams {
        true if theirs_total + ours_total > 0 => problems.push(format!(
            " listed in NO_STREAMS but tshark sees {theirs_total} streams, faultline {ours_total}"
        )),
        true if theirs.is_empty() || ours.is_empty() => problems
            .push(" listed in NO_STREAMS: both tools must still see its HTTP/2 connection".into()),
        false if theirs_total == 0 || ours_total == 0 => problems.push(format!(
            " HTTP/2 with no stream on one side: tshark {theirs_total}, faultline {ours_total}"
        )),
        _ => {}
    }
    eprintln!(
        "{}: tshark {theirs_total} HTTP/2 streams on {} connections, faultline {ours_total} on {}",
        capture.name,
        theirs.len(),
        ours.len()
    );
    if !problems.is_empty() {
        wrong.push(format!("{}:\n{}", capture.name, problems.join("\n")));
    }
    compared
}
