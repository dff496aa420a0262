//! Canonical flow keys: the same key for both directions of a conversation.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use serde::Serialize;

/// One end of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub fn new(ip: IpAddr, port: u16) -> Self {
        Self { ip, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{ip}:{}", self.port),
            IpAddr::V6(ip) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// Which end of a [`FlowKey`] sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The lower endpoint in the key's order.
    Low,
    /// The higher endpoint.
    High,
}

impl Side {
    /// The other side.
    pub fn flip(self) -> Side {
        match self {
            Side::Low => Side::High,
            Side::High => Side::Low,
        }
    }
}

/// A conversation key that is the same for both directions: endpoints in ascending order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    pub protocol: u8,
    pub low: Endpoint,
    pub high: Endpoint,
}

fn ip_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// Hashes the key in two words instead of field by field (the table lookup is on the hot path).
/// Equal keys hash equally; IPv4 and IPv6 keys that collide are told apart by `Eq`.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(ip_bits(self.low.ip) ^ ip_bits(self.high.ip).rotate_left(41));
        state.write_u64(
            (u64::from(self.low.port) << 24)
                | (u64::from(self.high.port) << 8)
                | u64::from(self.protocol),
        );
    }
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and which side of the key sent it.
    pub fn new(protocol: u8, src: Endpoint, dst: Endpoint) -> (FlowKey, Side) {
        match src.cmp(&dst) {
            Ordering::Greater => (
                FlowKey {
                    protocol,
                    low: dst,
                    high: src,
                },
                Side::High,
            ),
            _ => (
                FlowKey {
                    protocol,
                    low: src,
                    high: dst,
                },
                Side::Low,
            ),
        }
    }

    /// The endpoint on `side`.
    pub fn endpoint(&self, side: Side) -> Endpoint {
        match side {
            Side::Low => self.low,
            Side::High => self.high,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_one_key() {
        let a = Endpoint::new("10.0.0.2".parse().unwrap(), 40000);
        let b = Endpoint::new("10.0.0.1".parse().unwrap(), 80);
        let (k1, s1) = FlowKey::new(6, a, b);
        let (k2, s2) = FlowKey::new(6, b, a);
        assert_eq!(k1, k2);
        assert_eq!(s1, s2.flip());
        assert_eq!(k1.endpoint(s1), a);
    }
}
