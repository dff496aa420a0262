//! Finding the shared corpus and reading the peers' expected output beside each capture.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// The third-party capture corpus.
pub struct Corpus {
    root: PathBuf,
}

impl Corpus {
    /// `$FAULTLINE_CORPUS`, else `../shared/corpus` beside the repository. Panics, saying so
    /// plainly, when neither exists: a conformance run on no corpus must not pass.
    pub fn locate() -> Corpus {
        let root = std::env::var_os("FAULTLINE_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
        assert!(
            root.join("MANIFEST.md").is_file(),
            "the corpus is absent (looked in {}); set FAULTLINE_CORPUS to ../shared/corpus",
            root.display()
        );
        Corpus { root }
    }

    /// Every capture file, sorted.
    pub fn captures(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        walk(&self.root, &mut found);
        found.retain(|p| {
            let name = p.to_string_lossy();
            !name.contains(".oracle")
                && [".pcap", ".pcapng", ".cap"]
                    .iter()
                    .any(|e| name.ends_with(e))
        });
        found.sort();
        found
    }

    /// A file of the corpus by its path relative to the root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// A capture's path relative to the corpus root, e.g. `zeek/pop3/pop3.pcap`.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Waits for `child` at most `limit`; kills it and returns `None` when it runs over.
pub fn wait_at_most(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One TCP connection as a Zeek baseline reports it.
#[derive(Debug, Clone)]
pub struct ZeekRow {
    /// `None` when the baseline prints no ports (one connection per trace).
    pub orig_port: Option<u16>,
    pub resp_port: Option<u16>,
    pub conn_state: String,
    pub history: Option<String>,
}

/// A Zeek baseline file made from exactly one corpus capture.
#[derive(Debug)]
pub struct ZeekBaseline {
    pub capture: PathBuf,
    pub file: String,
    pub rows: Vec<ZeekRow>,
}

/// Every conn.log-style baseline whose Zeek run read the capture it sits beside, and only it.
///
/// `ORIGIN.txt` lists each btest's command lines. A test marked NOTE read several traces; its
/// output is used only where a command line ties one output file to this capture.
pub fn zeek_baselines(corpus: &Corpus) -> Vec<ZeekBaseline> {
    let mut out = Vec::new();
    for capture in corpus.captures() {
        let rel = corpus.relative(&capture);
        let Some(trace) = rel.strip_prefix("zeek/") else {
            continue;
        };
        let oracle = PathBuf::from(format!("{}.oracle", capture.display()));
        let Ok(origin) = std::fs::read_to_string(oracle.join("ORIGIN.txt")) else {
            continue;
        };
        for section in origin.split("\n[").skip(1) {
            let test = section.split(']').next().unwrap_or_default();
            let files = section
                .lines()
                .next()
                .and_then(|l| l.split("files:").nth(1))
                .unwrap_or_default();
            let several = section.contains("NOTE: this test also reads other traces");
            let execs: Vec<&str> = section
                .lines()
                .filter_map(|l| l.split("@TEST-EXEC:").nth(1))
                .map(str::trim)
                .collect();
            for file in files.split(',').map(str::trim) {
                let path = oracle.join(test).join(file);
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let rows = if file.starts_with("conn") && file.contains(".log") {
                    if several && !produced_by(&execs, trace, &format!("mv conn.log {file}")) {
                        continue;
                    }
                    conn_log_rows(&text)
                } else if file == "out" && test.contains("conn_state") {
                    history_state_lines(&text, &execs, trace)
                } else {
                    continue;
                };
                if !rows.is_empty() {
                    out.push(ZeekBaseline {
                        capture: capture.clone(),
                        file: format!("{test}/{file}"),
                        rows,
                    });
                }
            }
        }
    }
    out
}

fn reads_trace(exec: &str, trace: &str) -> bool {
    exec.contains(&format!("$TRACES/{trace} ")) || exec.contains(&format!("$TRACES/{trace}.gz "))
}

fn produced_by(execs: &[&str], trace: &str, tail: &str) -> bool {
    execs
        .iter()
        .any(|e| reads_trace(e, trace) && e.ends_with(tail))
}

fn conn_log_rows(text: &str) -> Vec<ZeekRow> {
    let mut fields: Vec<&str> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || fields.is_empty() {
            continue;
        }
        let values: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| {
            fields
                .iter()
                .position(|f| *f == name)
                .and_then(|i| values.get(i).copied())
        };
        if get("proto") != Some("tcp") {
            continue;
        }
        let Some(conn_state) = get("conn_state") else {
            continue;
        };
        rows.push(ZeekRow {
            orig_port: get("id.orig_p").and_then(|p| p.parse().ok()),
            resp_port: get("id.resp_p").and_then(|p| p.parse().ok()),
            conn_state: conn_state.to_string(),
            history: get("history").map(str::to_string),
        });
    }
    rows
}

/// The `history, conn_state` lines a script printed, one per command line that appended to
/// `out`; the line belonging to `trace` is the one at its command's position.
fn history_state_lines(text: &str, execs: &[&str], trace: &str) -> Vec<ZeekRow> {
    let writers: Vec<&&str> = execs.iter().filter(|e| e.contains(">out")).collect();
    let Some(position) = writers.iter().position(|e| reads_trace(e, trace)) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    if lines.len() != writers.len() {
        return Vec::new();
    }
    let Some((history, state)) = lines[position].split_once(", ") else {
        return Vec::new();
    };
    vec![ZeekRow {
        orig_port: None,
        resp_port: None,
        conn_state: state.trim().to_string(),
        history: Some(history.trim().to_string()),
    }]
}
