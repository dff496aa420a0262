//! The capture's own clock, made robust against damaged timestamps.
//!
//! Eviction, timeouts and "how long did the client wait" all follow capture time, so one frame
//! stamped in 2106 (a mirror port with a broken clock, a corrupted record) must not make every
//! open connection look abandoned, and time going backwards must not stop eviction. A frame
//! stamped more than [`MAX_STEP_NS`] away from the clock is held until the next frame decides:
//! - when the next frame agrees with it, the capture's clock really jumped (a quiet hour, or
//!   files from several machines or days joined): the held frame keeps its own time and the
//!   clock moves to it, forward or back;
//! - otherwise it is an outlier: analysed at the clock's time and counted.
//!
//! Smaller steps backward (merged files, several interfaces) keep the frame's own time and only
//! count; the clock does not go back for them.

/// Frames further than this from the clock are outliers unless the next frame confirms them.
pub const MAX_STEP_NS: i64 = 3_600 * 1_000_000_000;

/// What the clock saw of the capture's timestamps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClockCounts {
    /// Frames stamped more than an hour from their neighbours, analysed at the clock's time.
    pub implausible: u64,
    /// The first such frame.
    pub first_implausible: Option<u64>,
    /// Frames stamped before the frame before them by less than an hour (analysed at their
    /// own time).
    pub backwards: u64,
    /// Jumps of the capture clock back by more than an hour that the frames after confirmed.
    pub steps_back: u64,
}

/// What to do with a frame, by its stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stamp {
    /// Analyse it at this time.
    At(i64),
    /// Hold it until the next frame (or the end) decides.
    Hold,
}

/// The capture clock: the time frames are analysed at.
#[derive(Debug, Default)]
pub(super) struct Clock {
    now: Option<i64>,
    last: Option<i64>,
    pub(super) counts: ClockCounts,
}

impl Clock {
    /// The clock's time (`None` before the first frame).
    pub(super) fn now(&self) -> Option<i64> {
        self.now
    }

    /// What to do with a frame stamped `ts_ns`, no frame being held.
    pub(super) fn stamp(&mut self, ts_ns: i64) -> Stamp {
        match self.now {
            Some(now) if ts_ns.abs_diff(now) > MAX_STEP_NS.unsigned_abs() => Stamp::Hold,
            _ => Stamp::At(self.advance(ts_ns)),
        }
    }

    /// The time the held frame (`held_ts`, frame `held`) is analysed at, now that the frame after
    /// it is stamped `next_ts` (`None`: the capture ended).
    pub(super) fn decide(&mut self, held: u64, held_ts: i64, next_ts: Option<i64>) -> i64 {
        let confirmed =
            next_ts.is_some_and(|next| next.abs_diff(held_ts) <= MAX_STEP_NS.unsigned_abs());
        let now = self.now.unwrap_or(held_ts);
        if confirmed {
            if held_ts < now {
                self.counts.steps_back += 1;
            }
            self.now = Some(held_ts);
            self.last = Some(held_ts);
            held_ts
        } else {
            self.counts.implausible += 1;
            self.counts.first_implausible.get_or_insert(held);
            now
        }
    }

    fn advance(&mut self, ts: i64) -> i64 {
        if self.last.is_some_and(|last| ts < last) {
            self.counts.backwards += 1;
        }
        self.last = Some(ts);
        self.now = Some(self.now.map_or(ts, |now| now.max(ts)));
        ts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const Y2106: i64 = 0xFFFF_FFFF * S;

    /// The time each frame is analysed at, holding a frame as the analyzer does.
    fn run(stamps: &[i64]) -> (Vec<i64>, ClockCounts) {
        let mut clock = Clock::default();
        let mut out = Vec::new();
        let mut held: Option<(u64, i64)> = None;
        for (i, &ts) in stamps.iter().enumerate() {
            if let Some((n, h)) = held.take() {
                out.push(clock.decide(n, h, Some(ts)));
            }
            match clock.stamp(ts) {
                Stamp::At(t) => out.push(t),
                Stamp::Hold => held = Some((i as u64 + 1, ts)),
            }
        }
        if let Some((n, h)) = held {
            out.push(clock.decide(n, h, None));
        }
        (out, clock.counts)
    }

    #[test]
    fn one_frame_far_in_the_future_is_analysed_at_the_clock_and_counted() {
        let (out, counts) = run(&[10 * S, 11 * S, Y2106, 12 * S, 13 * S]);
        assert_eq!(out, vec![10 * S, 11 * S, 11 * S, 12 * S, 13 * S]);
        assert_eq!(counts.implausible, 1);
        assert_eq!(counts.first_implausible, Some(3));
        assert_eq!(counts.backwards, 0);
    }

    #[test]
    fn one_frame_far_in_the_past_is_analysed_at_the_clock() {
        let (out, counts) = run(&[5_000 * S, 5_001 * S, 0, 5_002 * S]);
        assert_eq!(out, vec![5_000 * S, 5_001 * S, 5_001 * S, 5_002 * S]);
        assert_eq!(counts.implausible, 1);
    }

    #[test]
    fn a_gap_confirmed_by_the_next_frame_keeps_every_frame_its_own_time() {
        let stamps = [S, 2 * S, 10_000 * S, 10_001 * S, 10_002 * S];
        let (out, counts) = run(&stamps);
        assert_eq!(out, stamps);
        assert_eq!(counts, ClockCounts::default());
    }

    #[test]
    fn a_clock_set_back_is_followed_and_counted() {
        let day = 86_400 * S;
        let stamps = [day, day + S, 2 * S, 3 * S, 4 * S];
        let (out, counts) = run(&stamps);
        assert_eq!(out, stamps);
        assert_eq!(counts.steps_back, 1);
        assert_eq!(counts.implausible, 0);
    }

    #[test]
    fn small_steps_back_keep_their_own_time_and_are_counted() {
        let (out, counts) = run(&[10 * S, 9 * S, 11 * S]);
        assert_eq!(out, vec![10 * S, 9 * S, 11 * S]);
        assert_eq!(counts.backwards, 1);
        assert_eq!(counts.implausible, 0);
    }

    #[test]
    fn the_last_frame_far_away_is_an_outlier() {
        let (out, counts) = run(&[10 * S, Y2106]);
        assert_eq!(out, vec![10 * S, 10 * S]);
        assert_eq!(counts.implausible, 1);
    }
}
