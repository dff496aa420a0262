//! Reports: the analyze document (text and JSON in DESIGN.md's fixed shape), which findings it
//! shows (filters), and the connection listing. Writers take any `io::Write`; the binary decides where output goes.

mod conns;
mod filter;
mod summary;
mod text;
mod tls;

pub use conns::ConnsWriter;
pub use filter::{FilterError, FindingFilter, HostMatch, TimeBound};
pub use summary::{AnalyzeReport, Filters, select_findings, write_analyze_json};
pub use text::{write_analyze_text, write_finding_text};
pub use tls::TlsSummary;

pub use crate::timefmt::{rfc3339, seconds};
