//! `docs/causes.md`, generated from the catalogue ([`super::catalogue`]).

use super::Category;
use super::capture_notes::CaptureNoteKind;
use super::catalogue::Cause;

/// The catalogue as Markdown: `docs/causes.md` holds exactly this text.
pub fn markdown() -> String {
    let mut out = String::from(
        "# Causes\n\n\
         Every diagnosis faultline can give, generated from the catalogue in \
         `src/diagnose/catalogue.rs`: `FAULTLINE_BLESS=1 cargo test --test docs` rewrites it, and \
         that test keeps it equal to the catalogue otherwise. A finding's `severity` comes from its cause: `failed` calls are \
         counted as failed, `degraded` ones went through slowly or with losses, `warning` ones \
         went through with something wrong, `info` is worth knowing.\n",
    );
    for category in Category::ALL {
        out.push_str(&format!(
            "\n## {}\n\n| code | severity | what the packets show | fix |\n|---|---|---|---|\n",
            category.as_str()
        ));
        for cause in Cause::ALL.iter().filter(|c| c.category() == category) {
            let code = match cause {
                Cause::TlsAlert(_) => "tls.alert_<description>",
                _ => cause.code(),
            };
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                code,
                cause.severity(),
                cause.meaning(),
                cause.fix()
            ));
        }
    }
    out.push_str(
        "\n## capture notes\n\nSaid once per capture, in its summary (`capture.notes` in JSON), \
         never as a finding.\n\n| code | what the packets show | what to do |\n|---|---|---|\n",
    );
    for kind in CaptureNoteKind::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            kind.code(),
            kind.meaning(),
            kind.fix()
        ));
    }
    out
}
