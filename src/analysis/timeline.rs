//! Calls over time for one endpoint row, in bounded memory: buckets of [`FIRST_BUCKET_NS`]
//! (100 ms), whose width doubles (neighbouring pairs merged) whenever the calls would need more
//! than [`MAX_BUCKETS`]. Bucket starts are multiples of their width counted from the Unix epoch,
//! so two timelines of the same width line up and merge bucket by bucket.

use crate::calls::Outcome;
use crate::diagnose::Category;

/// The narrowest bucket: 100 ms.
pub const FIRST_BUCKET_NS: i64 = 100_000_000;

/// The most buckets a timeline holds (40 bytes each).
pub const MAX_BUCKETS: usize = 240;

/// The calls that started in one bucket, by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeBucket {
    pub ok: u32,
    pub degraded: u32,
    /// Failed calls by their finding's category, in [`Category::ALL`] order.
    pub failed: [u32; 6],
    /// Calls unfinished, not understood, or that went through with a warning.
    pub other: u32,
}

impl TimeBucket {
    /// Counts one call.
    pub fn add(&mut self, outcome: Outcome, category: Option<Category>) {
        let slot = match outcome {
            Outcome::Ok => &mut self.ok,
            Outcome::Degraded => &mut self.degraded,
            Outcome::Failed => {
                match category.and_then(|c| Category::ALL.iter().position(|&a| a == c)) {
                    Some(i) => &mut self.failed[i],
                    None => &mut self.other,
                }
            }
            _ => &mut self.other,
        };
        *slot = slot.saturating_add(1);
    }

    /// Calls in the bucket.
    pub fn calls(&self) -> u64 {
        let failed: u64 = self.failed.iter().map(|&n| u64::from(n)).sum();
        u64::from(self.ok) + u64::from(self.degraded) + u64::from(self.other) + failed
    }

    fn merge(&mut self, other: &TimeBucket) {
        self.ok = self.ok.saturating_add(other.ok);
        self.degraded = self.degraded.saturating_add(other.degraded);
        self.other = self.other.saturating_add(other.other);
        for (a, b) in self.failed.iter_mut().zip(other.failed) {
            *a = a.saturating_add(b);
        }
    }
}

/// Calls over time: bucket `i` holds the calls that started in
/// `[start_ns + i * bucket_ns, start_ns + (i + 1) * bucket_ns)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The first bucket's start (a multiple of `bucket_ns`), Unix ns.
    pub start_ns: i64,
    /// Each bucket's width: 100 ms times a power of two.
    pub bucket_ns: i64,
    /// At most [`MAX_BUCKETS`].
    pub buckets: Vec<TimeBucket>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            start_ns: 0,
            bucket_ns: FIRST_BUCKET_NS,
            buckets: Vec::new(),
        }
    }
}

/// `t` rounded down to a multiple of `width` (widths are positive).
fn floor(t: i64, width: i64) -> i128 {
    i128::from(t.div_euclid(width)) * i128::from(width)
}

impl Timeline {
    /// Counts a call that started at `start_ns`.
    pub fn record(&mut self, start_ns: i64, outcome: Outcome, category: Option<Category>) {
        self.slot(start_ns).add(outcome, category);
    }

    /// Adds another row's timeline (another file's calls to the same endpoint).
    pub fn merge(&mut self, other: &Timeline) {
        let mut other = other.clone();
        while other.bucket_ns < self.bucket_ns && other.double() {}
        while self.bucket_ns < other.bucket_ns && self.double() {}
        for (i, bucket) in other.buckets.iter().enumerate() {
            if bucket.calls() > 0 {
                let at = i128::from(other.start_ns) + i as i128 * i128::from(other.bucket_ns);
                let at = i64::try_from(at).unwrap_or(i64::MAX);
                self.slot(at).merge(bucket);
            }
        }
    }

    /// The bucket `t` falls in, made room for: the width doubles until the span fits.
    fn slot(&mut self, t: i64) -> &mut TimeBucket {
        if self.buckets.is_empty() {
            self.start_ns = t.div_euclid(self.bucket_ns) * self.bucket_ns;
            self.buckets.push(TimeBucket::default());
            return &mut self.buckets[0];
        }
        loop {
            let w = i128::from(self.bucket_ns);
            let start = i128::from(self.start_ns);
            let end = start + self.buckets.len() as i128 * w;
            let at = floor(t, self.bucket_ns);
            let needed = (end.max(at + w) - start.min(at)) / w;
            if needed <= MAX_BUCKETS as i128 || !self.double() {
                break;
            }
        }
        let w = self.bucket_ns;
        let at = t.div_euclid(w) * w;
        if at < self.start_ns {
            let before = ((i128::from(self.start_ns) - i128::from(at)) / i128::from(w)) as usize;
            self.buckets
                .splice(0..0, std::iter::repeat_n(TimeBucket::default(), before));
            self.start_ns = at;
        }
        let i = ((i128::from(at) - i128::from(self.start_ns)) / i128::from(w)) as usize;
        if i >= self.buckets.len() {
            self.buckets.resize(i + 1, TimeBucket::default());
        }
        &mut self.buckets[i]
    }

    /// Doubles the width, merging neighbouring buckets; false when it cannot grow (a width
    /// past the clock's range, never needed: 240 buckets then cover every time).
    fn double(&mut self) -> bool {
        let Some(wide) = self.bucket_ns.checked_mul(2) else {
            return false;
        };
        let start = self.start_ns.div_euclid(wide) * wide;
        let offset = usize::from(start != self.start_ns);
        let mut buckets = vec![TimeBucket::default(); (self.buckets.len() + offset).div_ceil(2)];
        for (i, b) in self.buckets.iter().enumerate() {
            buckets[(i + offset) / 2].merge(b);
        }
        self.start_ns = start;
        self.bucket_ns = wide;
        self.buckets = buckets;
        true
    }

    /// Calls counted.
    pub fn calls(&self) -> u64 {
        self.buckets.iter().map(TimeBucket::calls).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const T0: i64 = 1_700_000_000 * S;

    #[test]
    fn calls_fill_100_ms_buckets_by_outcome_and_category() {
        let mut t = Timeline::default();
        t.record(T0 + 50_000_000, Outcome::Ok, None);
        t.record(T0 + 250_000_000, Outcome::Failed, Some(Category::Tls));
        t.record(T0 + 260_000_000, Outcome::Unfinished, None);
        assert_eq!((t.start_ns, t.bucket_ns), (T0, FIRST_BUCKET_NS));
        assert_eq!(t.buckets.len(), 3);
        assert_eq!(t.buckets[0].ok, 1);
        assert_eq!(t.buckets[2].failed[2], 1);
        assert_eq!(t.buckets[2].other, 1);
    }

    #[test]
    fn the_width_doubles_so_buckets_stay_bounded_and_every_call_counted() {
        let mut t = Timeline::default();
        // One call a second for an hour, in a shuffled order (calls end out of order).
        for i in 0..3600i64 {
            let at = T0 + ((i * 1847) % 3600) * S;
            t.record(at, Outcome::Ok, None);
        }
        assert!(t.buckets.len() <= MAX_BUCKETS, "{}", t.buckets.len());
        assert_eq!(t.calls(), 3600);
        // 3600 s / 240 buckets = 15 s: the first power-of-two width above is 25.6 s.
        assert_eq!(t.bucket_ns, FIRST_BUCKET_NS << 8);
        assert_eq!(t.start_ns % t.bucket_ns, 0);
        assert!(t.start_ns <= T0);
    }

    #[test]
    fn a_damaged_clock_costs_buckets_not_memory() {
        let mut t = Timeline::default();
        t.record(i64::MIN, Outcome::Ok, None);
        t.record(i64::MAX, Outcome::Failed, Some(Category::Network));
        t.record(0, Outcome::Ok, None);
        assert!(t.buckets.len() <= MAX_BUCKETS);
        assert_eq!(t.calls(), 3);
    }

    #[test]
    fn timelines_of_different_widths_merge() {
        let mut a = Timeline::default();
        let mut b = Timeline::default();
        a.record(T0, Outcome::Ok, None);
        for i in 0..1000 {
            b.record(T0 + i * S, Outcome::Degraded, None);
        }
        a.merge(&b);
        assert_eq!(a.bucket_ns, b.bucket_ns);
        assert_eq!(a.calls(), 1001);
        assert_eq!(
            a.buckets.iter().map(|x| u64::from(x.degraded)).sum::<u64>(),
            1000
        );
    }
}
