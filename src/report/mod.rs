//! Reports: the analyze document (text and JSON in DESIGN.md's fixed shape) and the connection
//! listing. Writers take any `io::Write`; the binary decides where output goes.

mod community_id;
mod conns;
mod ecs;
mod markdown;
mod ndjson;
mod summary;
mod tls;

pub use community_id::community_id_v1;
pub use conns::ConnsWriter;
pub use ecs::ECS_VERSION;
pub use markdown::write_analyze_markdown;
pub use ndjson::{write_analyze_ndjson, write_finding_ndjson, write_summary_ndjson};
pub use summary::{AnalyzeReport, write_analyze_json, write_analyze_text};
pub use tls::TlsSummary;

pub use crate::timefmt::{rfc3339, seconds};
