//! Community ID v1 flow hashes (<https://github.com/corelight/community-id-spec>): the
//! tool-agnostic flow key Zeek, Suricata, Arkime, Wireshark and Elastic's ingest processor
//! compute, so a finding joins their records of the same connection on `network.community_id`.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// IANA protocol number of TCP.
pub const IANA_TCP: u8 = 6;
/// IANA protocol number of UDP.
pub const IANA_UDP: u8 = 17;

/// The Community ID v1 of a TCP/UDP flow, e.g. `1:LQU9qZlK+B5F3KDmev6m5PMibrg=`.
///
/// SHA-1 over the seed (2 bytes, big-endian), the two addresses with the smaller endpoint first,
/// the IANA protocol number, a zero pad byte and the two ports in the same order; base64 with
/// padding, prefixed `1:`. The order makes both directions of a flow hash alike. Returns `None`
/// when the two addresses are of different families (no such flow exists).
pub fn community_id_v1(
    seed: u16,
    proto: u8,
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
) -> Option<String> {
    let ((a_ip, a_port), (b_ip, b_port)) = if endpoint_key(&src) <= endpoint_key(&dst) {
        (src, dst)
    } else {
        (dst, src)
    };
    let mut buf = [0u8; 2 + 16 + 16 + 2 + 4];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        buf[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(&seed.to_be_bytes());
    match (a_ip, b_ip) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            put(&a.octets());
            put(&b.octets());
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            put(&a.octets());
            put(&b.octets());
        }
        _ => return None,
    }
    put(&[proto, 0]);
    put(&a_port.to_be_bytes());
    put(&b_port.to_be_bytes());
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &buf[..len]);
    Some(format!("1:{}", STANDARD.encode(digest.as_ref())))
}

/// Endpoints compare by address bytes, then port (the spec's ordering).
fn endpoint_key(endpoint: &(IpAddr, u16)) -> (Vec<u8>, u16) {
    let bytes = match endpoint.0 {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    (bytes, endpoint.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    /// The spec's published baseline (community-id-spec, also Elasticsearch's processor tests).
    #[test]
    fn matches_the_published_test_vectors() {
        let tcp = community_id_v1(
            0,
            IANA_TCP,
            (ip("128.232.110.120"), 34855),
            (ip("66.35.250.204"), 80),
        );
        assert_eq!(tcp.as_deref(), Some("1:LQU9qZlK+B5F3KDmev6m5PMibrg="));
        let udp = community_id_v1(
            0,
            IANA_UDP,
            (ip("192.168.1.52"), 54585),
            (ip("8.8.8.8"), 53),
        );
        assert_eq!(udp.as_deref(), Some("1:d/FP5EW3wiY1vCndhwleRRKHowQ="));
    }

    #[test]
    fn both_directions_hash_alike() {
        let a = (ip("fd0f:a17:f17::2"), 60984);
        let b = (ip("fd0f:a17:f17:1::2"), 8080);
        assert_eq!(
            community_id_v1(0, IANA_TCP, a, b),
            community_id_v1(0, IANA_TCP, b, a)
        );
        assert_ne!(
            community_id_v1(0, IANA_TCP, a, b),
            community_id_v1(1, IANA_TCP, a, b)
        );
    }

    #[test]
    fn mixed_families_have_no_id() {
        let v4 = (ip("198.18.0.2"), 1);
        let v6 = (ip("fd0f:a17::2"), 2);
        assert_eq!(community_id_v1(0, IANA_TCP, v4, v6), None);
    }
}
