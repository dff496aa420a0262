//! Time formatting shared by the findings and the reports.

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

/// A duration for people: `850 ms`, `3.02 s`, `2 min 05 s`.
pub fn human_duration(ns: i64) -> String {
    let ns = ns.max(0);
    let ms = ns / 1_000_000;
    if ms < 1_000 {
        if ns < 1_000_000 {
            return format!("{:.2} ms", ns as f64 / 1e6);
        }
        return format!("{ms} ms");
    }
    let secs = ns as f64 / 1e9;
    if secs < 120.0 {
        return format!("{secs:.2} s");
    }
    let whole = ns / 1_000_000_000;
    format!("{} min {:02} s", whole / 60, whole % 60)
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

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(250_000), "0.25 ms");
        assert_eq!(human_duration(40_400_000), "40 ms");
        assert_eq!(human_duration(3_021_000_000), "3.02 s");
        assert_eq!(human_duration(125_000_000_000), "2 min 05 s");
    }
}
