//! Reports: the analyze document (text and JSON in DESIGN.md's fixed shape) and the connection
//! listing. Writers take any `io::Write`; the binary decides where output goes.

mod conns;
mod html;
mod ladder;
mod summary;
mod tls;

pub use conns::ConnsWriter;
pub use html::write_analyze_html;
pub use ladder::{ARROW_COLOUR, FAULT_COLOUR};
pub use summary::{AnalyzeReport, write_analyze_json, write_analyze_text};
pub use tls::TlsSummary;

pub use crate::timefmt::{rfc3339, seconds};
