//! The documentation generated from the code stays equal to it: `docs/causes.md` is the cause
//! catalogue (`src/diagnose/catalogue.rs`) rendered as Markdown. Run with `FAULTLINE_BLESS=1` to
//! rewrite the file after changing the catalogue.

use std::path::Path;

#[test]
fn causes_md_is_the_catalogue() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/causes.md");
    let generated = faultline::diagnose::catalogue_markdown();
    if std::env::var_os("FAULTLINE_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/causes.md");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/causes.md differs from the catalogue: run FAULTLINE_BLESS=1 cargo test --test docs"
    );
}

#[test]
fn every_code_in_the_docs_is_a_cause() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/causes.md"))
            .expect("docs/causes.md exists");
    let codes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert!(codes.len() > 50, "{codes:?}");
    for code in codes {
        let known = faultline::diagnose::Cause::from_code(code).is_some()
            || code == "tls.alert_<description>"
            || faultline::diagnose::CaptureNoteKind::ALL
                .iter()
                .any(|k| k.code() == code);
        assert!(
            known,
            "{code} is in docs/causes.md but not in the catalogue"
        );
    }
}
