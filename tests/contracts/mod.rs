//! The output contracts the format tests hold faultline to: the report's JSON Schema
//! (`docs/report.schema.json`) and the ECS field list (`docs/ecs-fields.md`). Shared by
//! `tests/formats.rs` (lab captures) and the corpus conformance suite.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The report schema, checked against the 2020-12 meta-schema, compiled with format assertions
/// (`date-time`, `ipv4`, `ipv6`) on.
pub fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("docs/report.schema.json")).expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::meta::validate(&schema).expect("schema is a valid 2020-12 schema");
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

/// Every way `doc` breaks the schema, with where.
pub fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// `field -> ECS type`, from the tables of docs/ecs-fields.md (rows starting `` | `name` ``).
pub fn ecs_field_list() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(root().join("docs/ecs-fields.md")).expect("field list");
    let mut fields = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "", "`name`", "type", "level", ...
        if let [_, name, ty, level, ..] = cells.as_slice()
            && let Some(name) = name.strip_prefix('`').and_then(|n| n.strip_suffix('`'))
        {
            assert!(
                ["core", "extended", "custom"].contains(level),
                "{name}: level {level}"
            );
            let previous = fields.insert(name.to_string(), ty.to_string());
            assert!(previous.is_none(), "{name} listed twice");
        }
    }
    assert!(fields.len() > 40, "field list parsed: {fields:?}");
    fields
}

/// Every leaf of the document as (dotted path, value); arrays give each element the array's
/// path (ECS has no array type: any field may hold several values). Objects inside arrays also
/// count as the object's path, so `faultline.evidence` must be listed as an object.
pub fn flatten<'a>(prefix: &str, value: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            if !prefix.is_empty() {
                out.push((prefix.to_string(), value));
            }
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(prefix, item, out);
            }
        }
        _ => out.push((prefix.to_string(), value)),
    }
}

/// Whether a JSON value fits an ECS field type.
pub fn fits(ty: &str, value: &Value) -> bool {
    match ty {
        "keyword" | "text" | "match_only_text" | "wildcard" | "constant_keyword" => {
            value.is_string()
        }
        "ip" => value.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "long" => value.is_i64() || value.is_u64(),
        "float" | "double" | "scaled_float" => value.is_number(),
        "date" => value
            .as_str()
            .is_some_and(|s| humantime::parse_rfc3339(s).is_ok()),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// What is wrong with one NDJSON document against the field list.
pub fn field_problems(fields: &BTreeMap<String, String>, doc: &Value) -> Vec<String> {
    let mut leaves = Vec::new();
    flatten("", doc, &mut leaves);
    let mut problems = Vec::new();
    for (path, value) in leaves {
        match fields.get(&path) {
            None if value.is_object() => {
                // An intermediate object (`event`, `tls.client`): only its leaves count.
            }
            None => problems.push(format!("{path}: not in docs/ecs-fields.md")),
            Some(ty) if !fits(ty, value) => {
                problems.push(format!("{path}: {value} is not of type {ty}"))
            }
            Some(_) => {}
        }
    }
    problems
}

/// What is wrong with a Markdown report's tables: a row whose unescaped `|` count differs from
/// its table's header (a cell's text broke out of its column), or a raw `<` (HTML got through).
pub fn markdown_problems(md: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut columns = None;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = line.replace("\\|", "").matches('|').count();
            if *columns.get_or_insert(n) != n {
                problems.push(format!("ragged table row: {line}"));
            }
        } else {
            columns = None;
        }
        if line.contains('<') {
            problems.push(format!("raw '<': {line}"));
        }
    }
    problems
}

/// One field of the published ECS reference: its type and level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsField {
    pub ty: String,
    pub level: String,
}

/// `field -> (type, level)` from the vendored ECS reference `tests/fixtures/ecs/fields.csv`
/// (elastic/ecs `generated/csv/fields.csv`), every row checked to be of `version`.
pub fn ecs_reference(version: &str) -> BTreeMap<String, EcsField> {
    let path = root().join("tests/fixtures/ecs/fields.csv");
    let text = std::fs::read_to_string(&path).expect("tests/fixtures/ecs/fields.csv");
    let mut rows = csv_rows(&text).into_iter();
    let header = rows.next().expect("a header row");
    assert_eq!(
        header[..6],
        [
            "ECS_Version",
            "Indexed",
            "Field_Set",
            "Field",
            "Type",
            "Level"
        ],
        "fields.csv columns"
    );
    let mut fields = BTreeMap::new();
    for row in rows {
        assert!(row.len() >= 6, "short row {row:?}");
        assert_eq!(
            row[0], version,
            "fields.csv is of another ECS version: {row:?}"
        );
        let field = EcsField {
            ty: row[4].clone(),
            level: row[5].clone(),
        };
        fields.insert(row[3].clone(), field);
    }
    assert!(
        fields.len() > 1000,
        "fields.csv parsed: {} fields",
        fields.len()
    );
    fields
}

/// The rows of a CSV text (RFC 4180: quoted cells may hold commas, newlines and `""`).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

/// Whether a JSON value fits an ECS reference type: keyword and text kinds take strings,
/// integer kinds integers, float kinds numbers, `date` an RFC 3339 string, `ip` an address,
/// `boolean` a boolean, object kinds an object.
pub fn fits_reference(ty: &str, value: &Value) -> bool {
    match ty {
        "keyword" | "text" | "match_only_text" | "wildcard" | "constant_keyword" => {
            value.is_string()
        }
        "long" | "integer" | "short" | "byte" | "unsigned_long" => value.is_i64() || value.is_u64(),
        "float" | "half_float" | "scaled_float" | "double" => value.is_number(),
        "date" => value
            .as_str()
            .is_some_and(|s| humantime::parse_rfc3339(s).is_ok()),
        "ip" => value.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "boolean" => value.is_boolean(),
        "object" | "nested" | "flattened" => value.is_object(),
        _ => false,
    }
}

/// What is wrong with one NDJSON document against the ECS reference: a field neither in it
/// (with a value of its type) nor faultline's own (`faultline.*`) nor a label (`labels.*`, whose
/// values ECS makes keywords).
pub fn reference_problems(reference: &BTreeMap<String, EcsField>, doc: &Value) -> Vec<String> {
    let mut leaves = Vec::new();
    flatten("", doc, &mut leaves);
    let mut problems = Vec::new();
    for (path, value) in leaves {
        if path == "faultline" || path.starts_with("faultline.") {
            continue;
        }
        if let Some(label) = path.strip_prefix("labels.") {
            if label.contains('.') || !value.is_string() {
                problems.push(format!("{path}: labels are flat keyword values: {value}"));
            }
            continue;
        }
        match reference.get(&path) {
            Some(field) if !fits_reference(&field.ty, value) => problems.push(format!(
                "{path}: {value} is not of its ECS type {}",
                field.ty
            )),
            Some(_) => {}
            // An intermediate object (`event`, `tls.server`) of reference fields.
            None if value.is_object()
                && reference.keys().any(|k| {
                    k.strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
                }) => {}
            None => problems.push(format!("{path}: not an ECS field")),
        }
    }
    problems
}
