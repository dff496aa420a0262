//! `--format ndjson` is valid ECS line by line: on every lab capture, each field of each line
//! (findings and the summary) is a field of the published ECS reference of faultline's
//! `ECS_VERSION` (`tests/fixtures/ecs/fields.csv`, elastic/ecs's `generated/csv/fields.csv`)
//! with a value of its type, or one of faultline's own under `faultline.*`, or a label; and
//! `docs/ecs-fields.md` gives every ECS field the reference's type and level.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use serde_json::{Value, json};

mod contracts;
mod lab;

use contracts::{ecs_field_list, ecs_reference, flatten, reference_problems};

fn ndjson(capture: &Path) -> Vec<Value> {
    let out = Command::cargo_bin("faultline")
        .expect("binary")
        .args(["analyze", "--no-system-ca", "--format", "ndjson"])
        .arg(capture)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}: {out:?}", capture.display());
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn every_ndjson_line_is_ecs_by_the_published_reference() {
    let reference = ecs_reference(faultline::report::ECS_VERSION);
    let captures = lab::captures();
    assert!(captures.len() >= 20, "lab captures missing: {captures:?}");
    let mut seen = BTreeSet::new();
    for capture in &captures {
        for (i, doc) in ndjson(capture).iter().enumerate() {
            let problems = reference_problems(&reference, doc);
            assert!(
                problems.is_empty(),
                "{} line {}: {problems:#?}",
                capture.display(),
                i + 1
            );
            assert_eq!(
                doc["ecs"]["version"],
                faultline::report::ECS_VERSION,
                "{} line {}",
                capture.display(),
                i + 1
            );
            let mut leaves = Vec::new();
            flatten("", doc, &mut leaves);
            seen.extend(leaves.into_iter().map(|(p, _)| p));
        }
    }
    // The fields issue 19 asked for, each produced by some capture.
    for must in [
        "destination.domain",
        "dns.question.name",
        "dns.question.type",
        "url.path",
        "url.query",
        "http.version",
        "event.duration",
        "tls.server.not_after",
        "tls.server.issuer",
        "tls.server.subject",
        "ecs.version",
        "faultline.calls.total",
    ] {
        assert!(seen.contains(must), "no lab capture produced {must}");
    }
}

#[test]
fn a_misspelt_field_or_a_wrong_type_fails_the_check() {
    let reference = ecs_reference(faultline::report::ECS_VERSION);
    let good = json!({
        "@timestamp": "2026-11-29T03:16:49.341083Z",
        "ecs": {"version": "8.17.0"},
        "event": {"kind": "alert", "duration": 1_500_000, "category": ["network", "web"]},
        "destination": {"ip": "fd0f::2", "port": 443, "domain": "api.test"},
        "dns": {"question": {"name": "api.test", "type": "AAAA"}},
        "url": {"path": "/v1/orders", "query": "page=2"},
        "http": {"version": "1.1"},
        "tls": {"server": {"not_after": "2027-01-01T00:00:00Z", "issuer": "CN=lab"}},
        "labels": {"env": "lab"},
        "faultline": {"anything": {"custom": 1}},
    });
    assert_eq!(reference_problems(&reference, &good), Vec::<String>::new());
    for bad in [
        json!({"destination": {"domian": "api.test"}}),
        json!({"url": {"pathh": "/"}}),
        json!({"rpc": {"system": "grpc"}}),
        json!({"summary": {"frames": 1}}),
        json!({"event": {"duration": "1500000"}}),
        json!({"event": {"duration": 1.5}}),
        json!({"destination": {"port": "443"}}),
        json!({"source": {"ip": "not-an-ip"}}),
        json!({"tls": {"server": {"not_after": "1 Jan 2027"}}}),
        json!({"tls": {"established": "yes"}}),
        json!({"labels": {"env": 1}}),
    ] {
        assert!(
            !reference_problems(&reference, &bad).is_empty(),
            "accepted {bad}"
        );
    }
}

/// The field list users read gives each ECS field the reference's type and level (faultline's
/// own fields are `custom`, and never collide with an ECS name).
#[test]
fn the_documented_ecs_fields_match_the_reference() {
    let reference = ecs_reference(faultline::report::ECS_VERSION);
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ecs-fields.md"))
            .expect("docs/ecs-fields.md");
    let mut checked = 0;
    for line in docs.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, name, ty, level, ..] = cells.as_slice() else {
            continue;
        };
        let Some(name) = name.strip_prefix('`').and_then(|n| n.strip_suffix('`')) else {
            continue;
        };
        if *level == "custom" {
            assert!(
                name.starts_with("faultline."),
                "{name}: custom outside faultline.*"
            );
            continue;
        }
        let field = reference
            .get(name)
            .unwrap_or_else(|| panic!("docs/ecs-fields.md lists {name}, not an ECS field"));
        assert_eq!(
            (*ty, *level),
            (field.ty.as_str(), field.level.as_str()),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked > 40, "ECS rows checked: {checked}");
    // And the list the format tests use parses (levels known, no duplicates).
    assert!(ecs_field_list().len() > checked);
}
