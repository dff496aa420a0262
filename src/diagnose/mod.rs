//! Diagnosis: rules that turn each failed call into a [`Finding`] with a cause code and the
//! frames that prove it. The rules arrive with the diagnosis issues; the shape is final.

use serde::Serialize;

use crate::flows::Endpoint;

/// One piece of evidence: a frame and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub frame: u64,
    /// RFC 3339 timestamp of the frame.
    pub ts: String,
    pub note: String,
}

/// Names the call was made under.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallNames {
    pub sni: Option<String>,
    pub http_host: Option<String>,
    pub dns: Option<String>,
}

/// A diagnosed failure, in the JSON shape DESIGN.md fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    /// `<category>.<name>`, e.g. `firewall.syn_unanswered`.
    pub code: String,
    pub category: String,
    pub confidence: String,
    pub alternatives: Vec<String>,
    pub summary: String,
    pub explanation: String,
    pub client: Endpoint,
    pub server: Endpoint,
    pub names: CallNames,
    pub first_frame: u64,
    pub last_frame: u64,
    pub evidence: Vec<Evidence>,
    pub wireshark_filter: String,
    pub remediation: Vec<String>,
}
