//! Decrypted TLS against TShark (issue 16): on every keyed capture — `keyed/` in the corpus, each
//! lab capture `captures/NAME.pcap[ng]` with `captures/NAME.keys` beside it, and each lab pcapng
//! that embeds its secrets in a Decryption Secrets Block — faultline with the same keys finds
//! the same HTTP requests (frame, method, URI) and responses (frame, status) inside TLS, and the
//! same handshake messages in each frame, clear and decrypted, as
//! `tshark -o tls.keylog_file:KEYS`. Every connection with encrypted records says `decrypted`.
//!
//! Frames. TShark shows an HTTP message in the frame where it is complete (it reassembles heads
//! and bodies): faultline's `last` frame. With `http.desegment_headers` and `http.desegment_body`
//! off it shows the start line in the frame whose TLS record holds it: faultline's `first`
//! frame. Both are compared. A handshake message is shown in the frame whose record completes
//! it; faultline logs the frame carrying the message's last byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use faultline::analysis::{Analysis, Config, analyze_path};
use faultline::app::tls::{DecryptionState, KeyLog};

use crate::corpus::Corpus;

/// One capture with the secrets to read it.
#[derive(Debug)]
struct Keyed {
    /// How failures name it: `keyed/x.pcap` or `captures/x.pcapng`.
    name: String,
    capture: PathBuf,
    /// The NSS key log beside it; `None` when the capture carries its own secrets block.
    keys: Option<PathBuf>,
}

/// Every keyed capture: the corpus's `keyed/` and the lab's.
fn keyed_captures(corpus: &Corpus) -> Vec<Keyed> {
    let mut found = Vec::new();
    let dirs = [
        ("keyed", corpus.path("keyed")),
        (
            "captures",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("captures"),
        ),
    ];
    for (label, dir) in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for capture in files {
            let ext = capture.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "pcap" && ext != "pcapng" {
                continue;
            }
            let keys = capture.with_extension("keys");
            let keys = keys.is_file().then_some(keys);
            if keys.is_none() && !has_secrets_block(&capture) {
                continue;
            }
            let file = capture.file_name().unwrap_or_default().to_string_lossy();
            found.push(Keyed {
                name: format!("{label}/{file}"),
                capture,
                keys,
            });
        }
    }
    found
}

/// Whether a pcapng file holds a Decryption Secrets Block (block type 0x0000000A).
fn has_secrets_block(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let word = |at: usize, big: bool| -> Option<u32> {
        let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let mut at = 0;
    let mut big = false;
    while let Some(kind) = word(at, big) {
        if kind == 0x0A0D_0D0A {
            // A Section Header Block sets the byte order of what follows.
            big = bytes.get(at + 8..at + 12) == Some(&[0x1A, 0x2B, 0x3C, 0x4D][..]);
        }
        if word(at, big) == Some(0x0000_000A) {
            return true;
        }
        match word(at + 4, big) {
            Some(len) if len >= 12 => at += len as usize,
            _ => return false,
        }
    }
    false
}

/// TShark's fields for every displayed frame, tab-separated, several values of one field in a
/// frame joined by a space (no method, URI or number holds one).
fn tshark(keyed: &Keyed, with_keys: bool, extra: &[&str], filter: &str, fields: &[&str]) -> String {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(&keyed.capture);
    if with_keys && let Some(keys) = &keyed.keys {
        cmd.arg("-o")
            .arg(format!("tls.keylog_file:{}", keys.display()));
    }
    for option in extra {
        cmd.args(["-o", option]);
    }
    if !filter.is_empty() {
        cmd.args(["-Y", filter]);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "aggregator=/s"]);
    for field in fields {
        cmd.args(["-e", field]);
    }
    let out = cmd
        .output()
        .expect("tshark runs (apt-get install -y tshark)");
    assert!(
        out.status.success(),
        "{}: tshark failed: {}",
        keyed.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The tab-separated columns of one line, with each column's space-joined values.
fn columns(line: &str) -> Vec<Vec<&str>> {
    line.split('\t')
        .map(|c| c.split(' ').filter(|v| !v.is_empty()).collect())
        .collect()
}

/// One HTTP message: a request (stream, frame, method, URI) or a response (stream, frame,
/// status as text).
type Message = (u64, u64, String, String);

/// The HTTP messages of one capture, requests and final responses, in frame order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Http {
    requests: Vec<Message>,
    responses: Vec<Message>,
    /// Interim (1xx, not 101) responses: faultline counts them on their exchange.
    interim: usize,
}

fn is_interim(status: u16) -> bool {
    (100..200).contains(&status) && status != 101
}

/// TShark's HTTP messages on TLS streams. `complete`: shown where each message is complete
/// (TShark's default); else where its start line is (HTTP desegmentation off).
///
/// URIs pass through faultline's own redaction (`redact_target`): faultline never keeps a
/// secret-looking query or path parameter, so TShark's URI is compared as faultline would
/// show it.
fn tshark_http(keyed: &Keyed, tls_streams: &BTreeSet<u64>, complete: bool) -> Http {
    let extra: &[&str] = if complete {
        &[]
    } else {
        &["http.desegment_headers:FALSE", "http.desegment_body:FALSE"]
    };
    let fields = [
        "tcp.stream",
        "frame.number",
        "http.request.method",
        "http.request.uri",
        "http.response.code",
    ];
    let text = tshark(keyed, true, extra, "http.request || http.response", &fields);
    let mut http = Http::default();
    for line in text.lines() {
        let cols = columns(line);
        let one = |i: usize| cols.get(i).and_then(|c| c.first()).copied().unwrap_or("");
        let (Ok(stream), Ok(frame)) = (one(0).parse::<u64>(), one(1).parse::<u64>()) else {
            continue;
        };
        if !tls_streams.contains(&stream) {
            continue;
        }
        let empty = Vec::new();
        let methods = cols.get(2).unwrap_or(&empty);
        let uris = cols.get(3).unwrap_or(&empty);
        for (i, method) in methods.iter().enumerate() {
            let uri = uris.get(i).copied().unwrap_or("");
            http.requests.push((
                stream,
                frame,
                method.to_string(),
                faultline::redact::redact_target(uri),
            ));
        }
        for code in cols.get(4).unwrap_or(&empty) {
            let status: u16 = code.parse().unwrap_or(0);
            if is_interim(status) {
                http.interim += 1;
            } else {
                http.responses
                    .push((stream, frame, status.to_string(), String::new()));
            }
        }
    }
    http.requests.sort();
    http.responses.sort();
    http
}

/// faultline's HTTP messages on TLS connections: at each message's first frame, or
/// (`complete`) at its last frame and only when it ended, as TShark shows a message it
/// reassembles only once whole (a body the server cut short is never shown; it is compared
/// where it starts).
fn our_http(analysis: &Analysis, complete: bool) -> Http {
    let mut http = Http::default();
    for conn in analysis.connections.iter().filter(|c| c.app.tls.is_some()) {
        let stream = conn.tcp.stream;
        for e in &conn.app.http.exchanges {
            http.interim += e.interim as usize;
            if let Some(r) = &e.request {
                let frame = match complete {
                    true => r.last.map(|o| o.frame),
                    false => Some(r.first.frame),
                };
                if let Some(frame) = frame {
                    http.requests.push((
                        stream,
                        frame,
                        r.head.method.clone(),
                        r.head.target.clone(),
                    ));
                }
            }
            if let Some(r) = &e.response {
                let frame = match complete {
                    true => r.complete.then_some(r.last.frame),
                    false => Some(r.first.frame),
                };
                if let Some(frame) = frame {
                    http.responses
                        .push((stream, frame, r.head.status.to_string(), String::new()));
                }
            }
        }
    }
    http.requests.sort();
    http.responses.sort();
    http
}

/// Handshake message types by frame, each frame's types sorted (a multiset).
type Handshakes = BTreeMap<u64, Vec<u8>>;

fn tshark_handshakes(keyed: &Keyed, with_keys: bool) -> Handshakes {
    let text = tshark(
        keyed,
        with_keys,
        &[],
        "tls.handshake.type",
        &["frame.number", "tls.handshake.type"],
    );
    let mut out = Handshakes::new();
    for line in text.lines() {
        let cols = columns(line);
        let Some(Ok(frame)) = cols.first().and_then(|c| c.first()).map(|f| f.parse()) else {
            continue;
        };
        let types = cols.get(1).into_iter().flatten();
        let entry: &mut Vec<u8> = out.entry(frame).or_default();
        entry.extend(types.filter_map(|t| t.parse::<u8>().ok()));
        entry.sort_unstable();
    }
    out
}

/// faultline's handshake log by frame: every message, or only the decrypted ones.
fn our_handshakes(analysis: &Analysis, decrypted_only: bool) -> Handshakes {
    let mut out = Handshakes::new();
    for conn in &analysis.connections {
        let Some(tls) = &conn.app.tls else { continue };
        for seen in &tls.handshake_log {
            if !decrypted_only || seen.decrypted {
                out.entry(seen.frame).or_default().push(seen.msg_type);
            }
        }
    }
    out.values_mut().for_each(|v| v.sort_unstable());
    out
}

/// What TShark's keys add in each frame: with-keys minus without-keys, per frame.
fn decrypted_only(with: &Handshakes, without: &Handshakes) -> Handshakes {
    let mut out = Handshakes::new();
    for (frame, types) in with {
        let mut rest = types.clone();
        for t in without.get(frame).into_iter().flatten() {
            if let Some(i) = rest.iter().position(|r| r == t) {
                rest.remove(i);
            }
        }
        if !rest.is_empty() {
            out.insert(*frame, rest);
        }
    }
    out
}

/// TShark's TCP streams that carry TLS, and those that carry encrypted records (an
/// application_data record on the wire, or a ChangeCipherSpec: TLS 1.2's Finished after it is
/// encrypted). Read without keys, so the record types are the wire's.
fn tshark_tls_streams(keyed: &Keyed) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let text = tshark(
        keyed,
        false,
        &[],
        "tls",
        &["tcp.stream", "tls.record.content_type"],
    );
    let (mut tls, mut encrypted) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines() {
        let cols = columns(line);
        let Some(Ok(stream)) = cols.first().and_then(|c| c.first()).map(|s| s.parse()) else {
            continue;
        };
        tls.insert(stream);
        if cols
            .get(1)
            .is_some_and(|types| types.iter().any(|t| *t == "23" || *t == "20"))
        {
            encrypted.insert(stream);
        }
    }
    (tls, encrypted)
}

fn analyze(keyed: &Keyed) -> Analysis {
    let keys = KeyLog::new();
    if let Some(path) = &keyed.keys {
        let added = keys
            .load_file(path)
            .unwrap_or_else(|e| panic!("{}: {e}", keyed.name));
        assert!(
            added > 0,
            "{}: no secrets in {}",
            keyed.name,
            path.display()
        );
    }
    let config = Config {
        keys,
        ..Config::default()
    };
    analyze_path(&keyed.capture.to_string_lossy(), config)
        .unwrap_or_else(|e| panic!("{}: {e}", keyed.name))
}

/// Lines of `a` and `b` that differ, as `-` (TShark only) and `+` (faultline only).
fn diff<T: Ord + std::fmt::Debug>(a: &[T], b: &[T]) -> Vec<String> {
    let mut left: Vec<&T> = a.iter().collect();
    let mut out = Vec::new();
    for item in b {
        match left.iter().position(|l| *l == item) {
            Some(i) => {
                left.remove(i);
            }
            None => out.push(format!("  + faultline only {item:?}")),
        }
    }
    out.extend(left.iter().map(|l| format!("  - tshark only {l:?}")));
    out
}

fn diff_handshakes(theirs: &Handshakes, ours: &Handshakes) -> Vec<String> {
    let frames: BTreeSet<&u64> = theirs.keys().chain(ours.keys()).collect();
    frames
        .into_iter()
        .filter(|f| theirs.get(f) != ours.get(f))
        .map(|f| {
            format!(
                "  frame {f}: tshark {:?}, faultline {:?}",
                theirs.get(f).map_or(&[][..], |v| v),
                ours.get(f).map_or(&[][..], |v| v)
            )
        })
        .collect()
}

#[test]
#[ignore = "needs ../shared/corpus and tshark: cargo test --test conformance -- --include-ignored"]
fn decrypted_http_and_handshakes_equal_tsharks_with_the_same_keys() {
    let corpus = Corpus::locate();
    let keyed = keyed_captures(&corpus);
    assert!(
        keyed.len() >= 2,
        "only {} keyed captures found: {keyed:?}",
        keyed.len()
    );
    let mut wrong = Vec::new();
    let (mut requests, mut decrypted_messages) = (0, 0);
    for k in &keyed {
        let analysis = analyze(k);
        let (tls_streams, encrypted_streams) = tshark_tls_streams(k);
        let mut problems = Vec::new();
        let mut seen = (0, 0, 0, 0, 0);
        for complete in [true, false] {
            let theirs = tshark_http(k, &tls_streams, complete);
            let ours = our_http(&analysis, complete);
            let at = if complete {
                "where complete"
            } else {
                "where they start"
            };
            if complete {
                requests += theirs.requests.len();
                seen.0 = theirs.requests.len();
                seen.1 = theirs.responses.len();
            }
            let mut d = diff(&theirs.requests, &ours.requests);
            d.extend(diff(&theirs.responses, &ours.responses));
            if theirs.interim != ours.interim {
                d.push(format!(
                    "  interim responses: tshark {}, faultline {}",
                    theirs.interim, ours.interim
                ));
            }
            if !d.is_empty() {
                problems.push(format!(
                    " HTTP (stream, frame, method, URI | status) {at}:\n{}",
                    d.join("\n")
                ));
            }
        }
        let with = tshark_handshakes(k, true);
        seen.2 = with.values().map(Vec::len).sum::<usize>();
        let d = diff_handshakes(&with, &our_handshakes(&analysis, false));
        if !d.is_empty() {
            problems.push(format!(
                " handshake types per frame, all:\n{}",
                d.join("\n")
            ));
        }
        // For a capture with an embedded secrets block TShark always decrypts; only the
        // comparison of every message above applies.
        if k.keys.is_some() {
            let theirs_decrypted = decrypted_only(&with, &tshark_handshakes(k, false));
            seen.3 = theirs_decrypted.values().map(Vec::len).sum::<usize>();
            decrypted_messages += seen.3;
            let d = diff_handshakes(&theirs_decrypted, &our_handshakes(&analysis, true));
            if !d.is_empty() {
                problems.push(format!(
                    " handshake types per frame, decrypted:\n{}",
                    d.join("\n")
                ));
            }
        }
        for conn in &analysis.connections {
            let Some(tls) = &conn.app.tls else { continue };
            let state = tls.decryption.state;
            let encrypted = encrypted_streams.contains(&conn.tcp.stream);
            seen.4 += usize::from(state == DecryptionState::Decrypted);
            let fine = state == DecryptionState::Decrypted
                || (state == DecryptionState::NotEncrypted && !encrypted);
            if !fine {
                problems.push(format!(
                    " stream {}: decryption {} (tshark sees encrypted records: {encrypted})",
                    conn.tcp.stream,
                    state.as_str()
                ));
            }
        }
        // With the secrets inside the capture TShark always decrypts: no count of its own.
        let decrypted = match k.keys {
            Some(_) => format!("{} decrypted", seen.3),
            None => "secrets block".to_string(),
        };
        eprintln!(
            "{}: tshark {} requests, {} responses, {} handshake messages ({decrypted}); \
             faultline decrypted {} connections",
            k.name, seen.0, seen.1, seen.2, seen.4
        );
        if !problems.is_empty() {
            wrong.push(format!("{}:\n{}", k.name, problems.join("\n")));
        }
    }
    assert!(requests >= 16, "tshark found only {requests} requests");
    assert!(
        decrypted_messages >= 7,
        "tshark decrypted only {decrypted_messages} handshake messages"
    );
    assert!(wrong.is_empty(), "\n{}\n", wrong.join("\n"));
}

/// The corpus's `*.tshark-decrypted.txt` (TShark 4.0's output when the corpus was made) and the
/// TShark fields that made it, as `keyed/README.md` describes them.
const BASELINES: &[(&str, &[&str], &str)] = &[
    (
        "zeek-tls-1.2-stream-keylog",
        &[
            "frame.number",
            "http.request.method",
            "http.request.uri",
            "http.response.code",
        ],
        "http",
    ),
    (
        "illustrated-tls13",
        &[
            "frame.number",
            "tls.handshake.type",
            "tls.record.content_type",
            "data.data",
        ],
        "",
    ),
];

/// The TShark run here decodes the corpus's keyed captures as the recorded baselines do: the
/// oracle itself is sound before faultline is compared with it.
#[test]
#[ignore = "needs ../shared/corpus and tshark: cargo test --test conformance -- --include-ignored"]
fn tshark_decrypts_the_keyed_corpus_as_its_recorded_baselines() {
    let corpus = Corpus::locate();
    for (name, fields, filter) in BASELINES {
        let keyed = Keyed {
            name: format!("keyed/{name}.pcap"),
            capture: corpus.path(&format!("keyed/{name}.pcap")),
            keys: Some(corpus.path(&format!("keyed/{name}.keys"))),
        };
        let recorded =
            std::fs::read_to_string(corpus.path(&format!("keyed/{name}.tshark-decrypted.txt")))
                .expect("baseline reads");
        // The baselines join several values of a field with TShark's default ','.
        let live = tshark(&keyed, true, &[], filter, fields).replace(' ', ",");
        assert!(
            recorded.lines().count() > 10,
            "{name}: baseline nearly empty"
        );
        assert_eq!(
            live.lines().collect::<Vec<_>>(),
            recorded.lines().collect::<Vec<_>>(),
            "{name}: tshark today decodes otherwise than the recorded baseline"
        );
    }
}
