//! Parts of the command-line program that are not analysis: the progress bar, the inputs,
//! `conns`'s own flags, completions and man pages, `--fail-on`, and how an error is printed.

pub mod conns;
pub mod generate;
pub mod inputs;
pub mod progress;

use faultline::diagnose::Finding;
use faultline::report::CauseMatch;

/// What `--fail-on` fails on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Any,
    Cause(CauseMatch),
}

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "any" {
            return Ok(FailOn::Any);
        }
        s.parse()
            .map(FailOn::Cause)
            .map_err(|e| format!("{e}; or `any` for any finding"))
    }
}

impl FailOn {
    /// Whether a shown finding makes the run fail.
    pub fn matches(&self, f: &Finding) -> bool {
        match self {
            FailOn::Any => true,
            FailOn::Cause(cause) => cause.matches(f),
        }
    }
}

/// The error and its causes, `outer: inner`, each said once: an error whose message already
/// ends with its source's (`file: No such file or directory`) is not followed by it again.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
