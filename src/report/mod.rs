//! Reports: the analyze document (text and JSON in DESIGN.md's fixed shape) and the connection
//! listing. Writers take any `io::Write`; the binary decides where output goes.

mod conns;
mod summary;

pub use conns::ConnsWriter;
pub use summary::{AnalyzeReport, write_analyze_json, write_analyze_text};

use std::time::{Duration, UNIX_EPOCH};

/// RFC 3339 UTC timestamp with microseconds, e.g. `2026-11-22T10:00:00.000000Z`.
pub fn rfc3339(ts_ns: i64) -> String {
    let ns = u64::try_from(ts_ns).unwrap_or(0);
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

/// Seconds with microsecond precision, for durations and RTTs.
pub fn seconds(ns: i64) -> f64 {
    (ns as f64 / 1e3).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_micros() {
        assert_eq!(rfc3339(1_500_000_123_456), "1970-01-01T00:25:00.000123Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000000Z");
        assert_eq!(seconds(1_234_567), 0.001235);
    }
}
