//! One latency of an endpoint's calls (connect, TLS handshake, time to first byte, total): how
//! many were measured, their percentiles and maximum, and a log-spaced distribution to draw.
//!
//! Memory follows the endpoint rows, never the calls: a latency holds its first
//! [`EXACT_VALUES`] values exactly (a row with few calls, the usual case in a flood of distinct
//! servers, costs a few hundred bytes and gets exact percentiles), then moves them into an
//! HdrHistogram with 2 significant digits (under 1 % error) in microseconds from 1 µs to 1 h.
//! The histogram grows only as far as the largest value it saw: about 2 KiB up to 1 ms, 7 KiB
//! up to 1 s, 13 KiB up to 1 h (its largest). The maximum is kept exactly beside it, and no
//! percentile is reported above it.

use hdrhistogram::Histogram;

/// Values held exactly before a histogram is made.
pub const EXACT_VALUES: usize = 32;

/// Significant digits the histogram keeps (2: values within 1 %).
const SIGFIG: u8 = 2;

/// The largest value the histogram records, in microseconds (1 h): a longer one counts as 1 h
/// in the percentiles (the maximum stays exact).
const HIGHEST_US: u64 = 3_600_000_000;

/// The percentiles and maximum of one latency, in nanoseconds, over `n` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// How many calls the percentiles are over: those whose packets showed both ends.
    pub n: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Store {
    /// Nanoseconds, exactly, at most [`EXACT_VALUES`].
    Exact(Vec<u64>),
    /// Microseconds, rounded up.
    Histogram(Box<Histogram<u32>>),
}

/// One latency's values for one endpoint row.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    n: u64,
    max_ns: u64,
    store: Store,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            n: 0,
            max_ns: 0,
            // Allocates nothing until the first value.
            store: Store::Exact(Vec::new()),
        }
    }
}

/// Nanoseconds to the histogram's microseconds: rounded up, at least 1, at most 1 h.
fn micros(ns: u64) -> u64 {
    ns.div_ceil(1000).clamp(1, HIGHEST_US)
}

/// The nearest-rank index of quantile `q` among `n` sorted values (HdrHistogram's rule).
fn rank(q: f64, n: usize) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1
}

impl Latency {
    /// Records one measured latency; a negative one (a clock that went back) is not a
    /// measurement and is ignored.
    pub fn record(&mut self, ns: i64) {
        let Ok(ns) = u64::try_from(ns) else {
            return;
        };
        self.n += 1;
        self.max_ns = self.max_ns.max(ns);
        match &mut self.store {
            Store::Exact(values) if values.len() < EXACT_VALUES => values.push(ns),
            Store::Exact(_) => {
                self.histogram().saturating_add(micros(ns), 1);
            }
            Store::Histogram(h) => h.saturating_add(micros(ns), 1),
        }
    }

    /// Moves the exact values into a histogram (if not done yet) and returns it.
    fn histogram(&mut self) -> &mut Histogram<u32> {
        if let Store::Exact(values) = &self.store {
            let mut h = new_histogram();
            for &v in values {
                h.saturating_add(micros(v), 1);
            }
            self.store = Store::Histogram(Box::new(h));
        }
        match &mut self.store {
            Store::Histogram(h) => h,
            Store::Exact(_) => unreachable!("just replaced"),
        }
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The percentiles and maximum; `None` when nothing was measured.
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.n == 0 {
            return None;
        }
        let at = |q: f64| -> u64 {
            match &self.store {
                Store::Exact(values) => {
                    let mut sorted = values.clone();
                    sorted.sort_unstable();
                    sorted.get(rank(q, sorted.len())).copied().unwrap_or(0)
                }
                Store::Histogram(h) => h.value_at_quantile(q).saturating_mul(1000),
            }
            .min(self.max_ns)
        };
        Some(LatencySummary {
            n: self.n,
            p50_ns: at(0.50),
            p90_ns: at(0.90),
            p99_ns: at(0.99),
            max_ns: self.max_ns,
        })
    }

    /// How many values fell in each 1-2-5 bucket (1 µs, 2 µs, 5 µs, 10 µs, ...), as (the
    /// bucket's upper bound in ns, count), from the first bucket with a value to the last
    /// (empty buckets between included, so the list draws as an axis).
    pub fn distribution(&self) -> Vec<(u64, u64)> {
        let mut counts = [0u64; BOUNDS_US.len()];
        let mut add = |us: u64, n: u64| {
            let i = BOUNDS_US.partition_point(|&b| b < us);
            counts[i.min(BOUNDS_US.len() - 1)] += n;
        };
        match &self.store {
            Store::Exact(values) => values.iter().for_each(|&v| add(v.div_ceil(1000), 1)),
            Store::Histogram(h) => {
                for v in h.iter_recorded() {
                    add(
                        h.lowest_equivalent(v.value_iterated_to()),
                        u64::from(v.count_at_value()),
                    );
                }
            }
        }
        let first = counts.iter().position(|&c| c > 0);
        let last = counts.iter().rposition(|&c| c > 0);
        match first.zip(last) {
            Some((first, last)) => (first..=last)
                .map(|i| (BOUNDS_US[i].saturating_mul(1000), counts[i]))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Adds another row's latencies (another file's calls to the same endpoint).
    pub fn merge(&mut self, other: &Latency) {
        if other.n == 0 {
            return;
        }
        let exact_fits = matches!((&self.store, &other.store),
            (Store::Exact(a), Store::Exact(b)) if a.len() + b.len() <= EXACT_VALUES);
        self.n += other.n;
        self.max_ns = self.max_ns.max(other.max_ns);
        if exact_fits {
            if let (Store::Exact(a), Store::Exact(b)) = (&mut self.store, &other.store) {
                a.extend_from_slice(b);
            }
            return;
        }
        let h = self.histogram();
        match &other.store {
            Store::Exact(values) => values.iter().for_each(|&v| h.saturating_add(micros(v), 1)),
            Store::Histogram(o) => {
                for v in o.iter_recorded() {
                    h.saturating_add(v.value_iterated_to(), u64::from(v.count_at_value()));
                }
            }
        }
    }

    /// Bytes the latency holds besides itself (for the memory bound's tests and docs).
    pub fn heap_bytes(&self) -> usize {
        match &self.store {
            Store::Exact(values) => values.capacity() * 8,
            Store::Histogram(h) => h.distinct_values() * 4 + std::mem::size_of::<Histogram<u32>>(),
        }
    }
}

/// The 1-2-5 bucket bounds in microseconds, 1 µs to 1 h (and one more above for longer).
const BOUNDS_US: [u64; 30] = {
    let mut b = [0u64; 30];
    let mut i = 0;
    let mut decade = 1u64;
    while i < 30 {
        b[i] = decade;
        if i + 1 < 30 {
            b[i + 1] = 2 * decade;
        }
        if i + 2 < 30 {
            b[i + 2] = 5 * decade;
        }
        decade *= 10;
        i += 3;
    }
    b
};

fn new_histogram() -> Histogram<u32> {
    // Auto-resizing from the smallest range: the counts grow only to the largest value seen.
    Histogram::new(SIGFIG).expect("2 significant digits is a valid precision")
}

/// Recording that never fails: values are already within the histogram's range, and a count
/// that would overflow stays at its maximum.
trait SaturatingAdd {
    fn saturating_add(&mut self, us: u64, n: u64);
}

impl SaturatingAdd for Histogram<u32> {
    fn saturating_add(&mut self, us: u64, n: u64) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if self.record_n(us, n).is_err() {
            self.saturating_record_n(us, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn few_values_give_exact_percentiles() {
        let mut l = Latency::default();
        assert_eq!(l.summary(), None);
        for v in [40_300, 10 * MS, 20 * MS] {
            l.record(v);
        }
        l.record(-5);
        let s = l.summary().expect("three values");
        assert_eq!(s.n, 3);
        assert_eq!(
            (s.p50_ns, s.p90_ns, s.max_ns),
            (10_000_000, 20_000_000, 20_000_000)
        );
    }

    #[test]
    fn many_values_stay_within_one_percent_and_never_above_the_maximum() {
        let mut l = Latency::default();
        for i in 1..=1000 {
            l.record(i * MS);
        }
        let s = l.summary().expect("values");
        assert_eq!(s.n, 1000);
        assert_eq!(s.max_ns, 1000 * MS as u64);
        for (got, want) in [(s.p50_ns, 500), (s.p90_ns, 900), (s.p99_ns, 990)] {
            let want = want * MS as u64;
            assert!(got >= want && got <= want + want / 100, "{got} vs {want}");
        }
        assert!(s.p99_ns <= s.max_ns);
    }

    #[test]
    fn memory_is_bounded_by_the_range_not_the_calls() {
        let mut l = Latency::default();
        assert_eq!(l.heap_bytes(), 0);
        for i in 0..100_000i64 {
            l.record((i % 977) * 37 * MS);
        }
        l.record(i64::MAX);
        // 2 significant digits from 1 µs to 1 h: 26 half-buckets of 128 counts of 4 bytes.
        assert!(l.heap_bytes() < 16 * 1024, "{}", l.heap_bytes());
        assert_eq!(l.summary().map(|s| s.max_ns), Some(i64::MAX as u64));
    }

    #[test]
    fn distribution_is_log_spaced_and_counts_every_value() {
        let mut l = Latency::default();
        for v in [900, 1_500, 3 * MS, 4 * MS] {
            l.record(v);
        }
        let d = l.distribution();
        assert_eq!(d.first(), Some(&(1_000, 1)));
        assert_eq!(d.last(), Some(&(5_000_000, 2)));
        assert_eq!(d.iter().map(|b| b.1).sum::<u64>(), 4);
        // The same from the histogram.
        for _ in 0..EXACT_VALUES {
            l.record(3 * MS);
        }
        let d = l.distribution();
        assert_eq!(d.last(), Some(&(5_000_000, 2 + EXACT_VALUES as u64)));
        assert_eq!(d.iter().map(|b| b.1).sum::<u64>(), 4 + EXACT_VALUES as u64);
    }

    #[test]
    fn merging_adds_the_counts() {
        let (mut a, mut b) = (Latency::default(), Latency::default());
        for i in 0..20 {
            a.record(i * MS);
            b.record((i + 100) * MS);
        }
        a.merge(&b);
        let s = a.summary().expect("values");
        assert_eq!((s.n, s.max_ns), (40, 119 * MS as u64));
        assert!(s.p50_ns >= 19 * MS as u64 && s.p50_ns <= 101 * MS as u64);
    }
}
