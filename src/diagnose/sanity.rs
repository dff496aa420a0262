//! Sanity checks on the numbers a finding states, made before it is emitted: a ratio above
//! 100 %, a "stall" shorter than any retransmission timer, or a count of nothing shows that the
//! reading behind the finding is wrong (copies of frames read as retransmissions, a replayed
//! capture with squashed time). Such a finding is dropped and counted, never printed.

use std::sync::atomic::{AtomicU64, Ordering};

/// Linux's smallest retransmission timeout (`TCP_RTO_MIN`, 200 ms; RFC 6298 asks for 1 s): a
/// wait shorter than this between hosts is no stall a timer made.
pub const RTO_FLOOR_NS: i64 = 200_000_000;

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// A number a finding states.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// A share, 0.0 to 1.0.
    Ratio(f64),
    /// A wait or stall, in ns; on one host no timer floor applies.
    Wait { ns: i64, same_host: bool },
    /// A count of things that happened.
    Count(u64),
}

impl Check {
    /// Whether the number is plausible for what it claims.
    pub fn holds(self) -> bool {
        match self {
            Check::Ratio(r) => r.is_finite() && (0.0..=1.0).contains(&r),
            Check::Wait { ns, same_host } => ns > 0 && (same_host || ns >= RTO_FLOOR_NS),
            Check::Count(n) => n > 0,
        }
    }
}

/// Counts a finding dropped by its own checks.
pub(super) fn count_dropped() {
    DROPPED.fetch_add(1, Ordering::Relaxed);
}

/// Findings dropped because a number they stated failed its check, since the process started
/// (a debugging counter: a rule that keeps tripping it reads the packets wrong).
pub fn dropped_findings() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implausible_numbers_fail() {
        assert!(Check::Ratio(0.5).holds());
        assert!(!Check::Ratio(1.5).holds());
        assert!(!Check::Ratio(f64::NAN).holds());
        assert!(
            !Check::Wait {
                ns: 50_000,
                same_host: false
            }
            .holds()
        );
        assert!(
            Check::Wait {
                ns: 50_000,
                same_host: true
            }
            .holds()
        );
        assert!(
            Check::Wait {
                ns: 1_000_000_000,
                same_host: false
            }
            .holds()
        );
        assert!(!Check::Count(0).holds());
    }
}
