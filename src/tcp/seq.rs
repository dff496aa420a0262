//! TCP sequence numbers: 32-bit, compared modulo 2^32 (RFC 793 / RFC 1982 serial arithmetic).

/// A sequence number that compares correctly across the 2^32 wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// `self + n`, wrapping.
    pub fn wrapping_add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
    /// `self - n`, wrapping.
    pub fn wrapping_sub(self, n: u32) -> Seq {
        Seq(self.0.wrapping_sub(n))
    }
    /// Signed distance from `other` to `self`.
    pub fn diff(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    /// `self > other` in sequence space.
    pub fn gt(self, other: Seq) -> bool {
        self.diff(other) > 0
    }
    /// `self >= other` in sequence space.
    pub fn ge(self, other: Seq) -> bool {
        self.diff(other) >= 0
    }
    /// `self < other` in sequence space.
    pub fn lt(self, other: Seq) -> bool {
        self.diff(other) < 0
    }
    /// `self <= other` in sequence space.
    pub fn le(self, other: Seq) -> bool {
        self.diff(other) <= 0
    }
}

#[cfg(test)]
mod tests {
    use super::Seq;

    #[test]
    fn comparisons_survive_the_wrap() {
        let before = Seq(u32::MAX - 10);
        let after = before.wrapping_add(20);
        assert_eq!(after, Seq(9));
        assert!(after.gt(before));
        assert!(before.lt(after));
        assert_eq!(after.diff(before), 20);
        assert!(before.le(before) && before.ge(before));
    }
}
