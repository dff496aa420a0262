//! Reports: the analyze document (text and JSON in DESIGN.md's fixed shape), which findings it
//! shows (filters), and the connection listing. Writers take any `io::Write`; the binary decides where output goes.

mod community_id;
mod conns;
mod conns_h2;
mod ecs;
mod ecs_metric;
mod filter;
mod groups;
mod html;
mod html_charts;
mod html_groups;
mod ladder;
mod markdown;
mod markdown_limit;
mod ndjson;
mod said_lines;
mod stats;
mod stats_markdown;
mod summary;
mod text;
mod tls;

pub use community_id::community_id_v1;
pub use conns::ConnsWriter;
pub use ecs::ECS_VERSION;
pub use ecs_metric::{Metric, metric_document};
pub use filter::{CauseMatch, FilterError, FindingFilter, HostMatch, TimeBound};
pub use groups::{DEFAULT_MAX_PER_GROUP, GroupTime, HEADLINE_GROUPS, IncidentGroup, WorstCall};
pub use html::write_analyze_html;
pub use html_charts::{DEGRADED_COLOUR, OK_COLOUR, OTHER_COLOUR, category_colour};
pub use ladder::{ARROW_COLOUR, FAULT_COLOUR};
pub use markdown::write_analyze_markdown;
pub use markdown_limit::DEFAULT_MAX_CHARS;
pub use ndjson::{write_analyze_ndjson, write_finding_ndjson, write_summary_ndjson};
pub use stats::{EndpointRow, EndpointSection, LatencyMs, SHOWN_ROWS};
pub use summary::{AnalyzeReport, Filters, FindingTally, select_findings, write_analyze_json};
pub use text::{write_analyze_text, write_finding_text};
pub use tls::TlsSummary;

pub use crate::timefmt::{rfc3339, seconds};
