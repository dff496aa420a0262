//! `--evidence-redact`: a frame with its headers kept and its payload bytes replaced by zeros.
//!
//! Kept: the link header, the IP header (IPv6 extension headers included) and the TCP or UDP
//! header; for an ICMP error, its own 8 bytes and the IP and transport headers it quotes. Every
//! other byte (application data, a later fragment's data, padding, the body of a frame that is
//! not IP) becomes zero, and the frame keeps its length: Wireshark opens the file, and sequence
//! numbers, flags, windows, lengths and the ladders they draw stay as they were.

use etherparse::{IpNumber, LaxIpSlice};

use crate::decode::{LinkPayload, link_payload};
use crate::source::LinkType;

/// `bytes` (a frame of link type `link`) with every byte after its headers set to zero.
pub fn headers_only(link: LinkType, bytes: &[u8]) -> Vec<u8> {
    let keep = match link_payload(link, bytes) {
        Ok(LinkPayload::Ip(ip)) => {
            // The IP packet is a sub-slice of the frame: where it starts.
            let start = (ip.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
            start + ip_headers(ip, true)
        }
        _ => link_header_len(link),
    };
    let mut out = bytes.to_vec();
    if let Some(payload) = out.get_mut(keep.min(bytes.len())..) {
        payload.fill(0);
    }
    out
}

/// Bytes of the plain link header (a guess for frames whose network layer is not IP).
fn link_header_len(link: LinkType) -> usize {
    match link {
        LinkType::ETHERNET => 14,
        LinkType::LINUX_SLL => 16,
        LinkType::LINUX_SLL2 => 20,
        LinkType::NULL | LinkType::LOOP => 4,
        _ => 0,
    }
}

/// Length of the headers at the start of the IP packet `ip`: IP, then TCP or UDP (when this
/// packet carries the start of its datagram), then for an ICMP error the quoted headers
/// (`quote_allowed`: one level, an error quoting an error is not followed).
fn ip_headers(ip: &[u8], quote_allowed: bool) -> usize {
    let Ok((slice, _)) = LaxIpSlice::from_slice(ip) else {
        return 0;
    };
    let first_fragment = match &slice {
        LaxIpSlice::Ipv4(v4) => v4.header().fragments_offset().value() == 0,
        LaxIpSlice::Ipv6(_) => !slice.payload().fragmented,
    };
    let p = slice.payload();
    let ip_len = (p.payload.as_ptr() as usize).saturating_sub(ip.as_ptr() as usize);
    if !first_fragment {
        return ip_len;
    }
    let data = p.payload;
    let transport = match p.ip_number {
        IpNumber::TCP => match data.get(12) {
            Some(b) => usize::from(b >> 4).max(5) * 4,
            None => data.len(),
        },
        IpNumber::UDP => 8,
        IpNumber::ICMP | IpNumber::IPV6_ICMP if quote_allowed && is_error(p.ip_number, data) => {
            8 + data.get(8..).map_or(0, |quoted| ip_headers(quoted, false))
        }
        IpNumber::ICMP | IpNumber::IPV6_ICMP => 8,
        _ => 0,
    };
    ip_len + transport.min(data.len())
}

/// Whether an ICMP message quotes a packet (destination unreachable, time exceeded, ...).
fn is_error(protocol: IpNumber, icmp: &[u8]) -> bool {
    let Some(&kind) = icmp.first() else {
        return false;
    };
    match protocol {
        IpNumber::ICMP => matches!(kind, 3 | 4 | 5 | 11 | 12),
        _ => (1..=4).contains(&kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + IPv4 + TCP (20-byte header) carrying `data`.
    fn tcp_frame(data: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let total = (20 + 20 + data.len()) as u16;
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend([10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend([
            0x30, 0x39, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
        ]);
        f.extend([0, 0, 0, 0]);
        f.extend(data);
        f
    }

    #[test]
    fn tcp_payload_becomes_zeros_and_the_headers_stay() {
        let frame = tcp_frame(b"GET /?token=hunter2 HTTP/1.1\r\n");
        let out = headers_only(LinkType::ETHERNET, &frame);
        assert_eq!(out.len(), frame.len());
        assert_eq!(out[..54], frame[..54]);
        assert!(out[54..].iter().all(|&b| b == 0));
    }

    #[test]
    fn frames_that_are_not_ip_keep_only_the_link_header() {
        let mut frame = vec![0xffu8; 12];
        frame.extend([0x88, 0xcc]);
        frame.extend(b"lldp secret");
        let out = headers_only(LinkType::ETHERNET, &frame);
        assert_eq!(out[..14], frame[..14]);
        assert!(out[14..].iter().all(|&b| b == 0));
    }
}
