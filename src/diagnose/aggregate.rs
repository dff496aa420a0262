//! The shape of an aggregate finding: one finding standing for many calls that failed the same
//! way against the same server (the analysis folds them; see `analysis::aggregate`).

use serde::Serialize;

use super::{CallTime, Evidence, Finding};
use crate::flows::Endpoint;
use crate::timefmt::rfc3339;

/// What an aggregate finding stands for: every call counted, a few kept as samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aggregate {
    /// Calls in the group (the samples included).
    pub calls: u64,
    /// Distinct client addresses.
    pub clients: Distinct,
    /// Distinct client ports.
    pub client_ports: Distinct,
    /// Distinct names the calls were made under (DNS name asked, SNI or Host).
    pub names: Distinct,
    /// Distinct server endpoints (1 unless the group gathers servers past the group cap).
    pub servers: Distinct,
    /// The first and last evidence frame's time of any call in the group.
    #[serde(rename = "first", serialize_with = "as_rfc3339")]
    pub first_ts_ns: i64,
    #[serde(rename = "last", serialize_with = "as_rfc3339")]
    pub last_ts_ns: i64,
    /// The first calls of the group, with their frames.
    pub samples: Vec<Sample>,
    /// The call that took longest from its first packet to its last evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<Sample>,
}

impl Aggregate {
    /// `158 calls, 1 client, about 158 client ports, 0 names, FIRST to LAST`: what every report
    /// format says of the group.
    pub fn describe(&self) -> String {
        format!(
            "{} calls, {}, {}, {}, {} to {}",
            self.calls,
            self.clients.counted("client", "clients"),
            self.client_ports.counted("client port", "client ports"),
            self.names.counted("name", "names"),
            rfc3339(self.first_ts_ns),
            rfc3339(self.last_ts_ns)
        )
    }
}

/// A count of distinct values: exact while small, estimated (HyperLogLog++, about 1.6 % error)
/// when large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Distinct {
    pub count: u64,
    /// True when `count` is an estimate.
    pub estimated: bool,
}

impl Distinct {
    /// `1 client`, `about 2000 clients`, `3 names`.
    pub fn counted(self, one: &str, many: &str) -> String {
        format!("{self} {}", if self.count == 1 { one } else { many })
    }
}

impl std::fmt::Display for Distinct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.estimated {
            write!(f, "about {}", self.count)
        } else {
            write!(f, "{}", self.count)
        }
    }
}

/// One call of an aggregate, as its own finding described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: u64,
    pub last_frame: u64,
    pub summary: String,
    pub time: CallTime,
    pub evidence: Vec<Evidence>,
    pub wireshark_filter: String,
}

impl Sample {
    /// The evidence frame numbers, `306, 23380, 65678`.
    pub fn frames(&self) -> String {
        let frames: Vec<String> = self.evidence.iter().map(|e| e.frame.to_string()).collect();
        frames.join(", ")
    }

    /// The sample a finding makes.
    pub fn of(finding: &Finding) -> Self {
        Self {
            client: finding.client,
            server: finding.server,
            first_frame: finding.first_frame,
            last_frame: finding.last_frame,
            summary: finding.summary.clone(),
            time: finding.time,
            evidence: finding.evidence.clone(),
            wireshark_filter: finding.wireshark_filter.clone(),
        }
    }
}

fn as_rfc3339<S: serde::Serializer>(ts_ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ts_ns))
}
