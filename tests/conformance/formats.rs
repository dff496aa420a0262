//! The output contracts on third-party traffic: every corpus capture's `--format json` report
//! validates against `docs/report.schema.json`, and every `--format ndjson` line uses only the
//! fields of `docs/ecs-fields.md`, each value of its ECS type, and is ECS by the published field
//! reference (`tests/fixtures/ecs/fields.csv`), one line per finding plus the summary; every `--format markdown` table keeps its columns and lets no HTML through. Names, notes and addresses from other clients and servers must not break them.

use std::time::Duration;

use serde_json::Value;

use super::contracts::{
    ecs_field_list, ecs_reference, field_problems, markdown_problems, reference_problems,
    schema_errors, schema_validator,
};
use super::corpus::{self, Corpus};

/// Runs `faultline analyze --format FORMAT` on a capture; `None` when it does not finish
/// cleanly (the no-panic test reports those).
fn analyze(capture: &std::path::Path, format: &str) -> Option<String> {
    let out_path = std::env::temp_dir().join(format!(
        "faultline-formats-{}-{format}.out",
        std::process::id()
    ));
    let out = std::fs::File::create(&out_path).ok()?;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["analyze", "--no-system-ca", "--format", format])
        .arg(capture)
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let status = corpus::wait_at_most(&mut child, Duration::from_secs(60))?;
    let text = std::fs::read_to_string(&out_path).ok();
    let _ = std::fs::remove_file(&out_path);
    status.success().then_some(text).flatten()
}

#[test]
#[ignore = "needs ../shared/corpus: cargo test --test conformance -- --include-ignored"]
fn corpus_reports_keep_the_schema_the_ecs_field_list_and_markdown_tables() {
    let corpus = Corpus::locate();
    let validator = schema_validator();
    let fields = ecs_field_list();
    let reference = ecs_reference(faultline::report::ECS_VERSION);
    let mut problems = Vec::new();
    let mut findings = 0;
    for capture in corpus.captures() {
        let name = corpus.relative(&capture);
        let Some(json) = analyze(&capture, "json") else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&json) else {
            problems.push(format!("{name}: json output is not JSON"));
            continue;
        };
        problems.extend(
            schema_errors(&validator, &doc)
                .into_iter()
                .map(|e| format!("{name}: json: {e}")),
        );
        let count = doc["findings"].as_array().map_or(0, Vec::len);
        findings += count;
        match analyze(&capture, "markdown") {
            Some(md) => problems.extend(
                markdown_problems(&md)
                    .into_iter()
                    .map(|p| format!("{name}: markdown: {p}")),
            ),
            None => problems.push(format!("{name}: markdown failed where json ran")),
        }
        let Some(ndjson) = analyze(&capture, "ndjson") else {
            problems.push(format!("{name}: ndjson failed where json ran"));
            continue;
        };
        let lines: Vec<&str> = ndjson.lines().collect();
        if lines.len() != count + 1 {
            problems.push(format!(
                "{name}: {} ndjson lines for {count} findings",
                lines.len()
            ));
        }
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str::<Value>(line) {
                Ok(doc) => problems.extend(
                    (field_problems(&fields, &doc).into_iter())
                        .chain(reference_problems(&reference, &doc))
                        .map(|p| format!("{name}: ndjson line {}: {p}", i + 1)),
                ),
                Err(e) => problems.push(format!("{name}: ndjson line {}: {e}", i + 1)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(findings > 0, "the corpus gave findings to check");
    eprintln!("checked {findings} findings of the corpus against both contracts");
}
