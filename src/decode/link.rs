//! Link layers: strip the link header and say what network protocol follows.
//!
//! etherparse parses from the network layer down; the link headers are simple enough to strip
//! here, and etherparse lacks Linux SLL2 and VLAN stacks deeper than three tags.

use crate::source::LinkType;

use super::DecodeError;

/// Ethertypes we follow.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const VLAN_ETHERTYPES: [u16; 3] = [0x8100, 0x88a8, 0x9100];

/// What the link layer carries.
#[derive(Debug, Clone, Copy)]
pub enum LinkPayload<'a> {
    /// An IPv4 or IPv6 packet starts here.
    Ip(&'a [u8]),
    /// Something else (ARP, LLDP, ...): not ours to analyse, not malformed either.
    NotIp,
}

/// Strips the link header of `bytes` according to `link`.
pub fn strip(link: LinkType, bytes: &[u8]) -> Result<LinkPayload<'_>, DecodeError> {
    match link {
        LinkType::ETHERNET => ethernet(bytes),
        LinkType::LINUX_SLL => {
            let header = bytes.get(..16).ok_or(DecodeError::Truncated("Linux SLL"))?;
            by_ethertype(u16::from_be_bytes([header[14], header[15]]), &bytes[16..])
        }
        LinkType::LINUX_SLL2 => {
            let header = bytes
                .get(..20)
                .ok_or(DecodeError::Truncated("Linux SLL2"))?;
            by_ethertype(u16::from_be_bytes([header[0], header[1]]), &bytes[20..])
        }
        LinkType::NULL | LinkType::LOOP => {
            let header = bytes
                .get(..4)
                .ok_or(DecodeError::Truncated("BSD loopback"))?;
            let raw = [header[0], header[1], header[2], header[3]];
            // NULL stores the address family in the capturing host's byte order, LOOP in
            // network order; families are small numbers, so whichever reading is small wins.
            let family = if link == LinkType::LOOP {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le <= 0xffff {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match family {
                // AF_INET everywhere; AF_INET6 on BSDs (24), FreeBSD (28), macOS (30); Linux 10.
                2 | 10 | 24 | 28 | 30 => Ok(LinkPayload::Ip(&bytes[4..])),
                _ => Ok(LinkPayload::NotIp),
            }
        }
        LinkType::RAW | LinkType::IPV4 | LinkType::IPV6 | LinkType(12) | LinkType(14) => {
            Ok(LinkPayload::Ip(bytes))
        }
        other => Err(DecodeError::UnsupportedLinkType(other.0)),
    }
}

fn ethernet(bytes: &[u8]) -> Result<LinkPayload<'_>, DecodeError> {
    if bytes.len() < 14 {
        return Err(DecodeError::Truncated("Ethernet"));
    }
    let mut ethertype = u16::from_be_bytes([bytes[12], bytes[13]]);
    let mut rest = &bytes[14..];
    // 802.1Q / 802.1ad / QinQ tags, any depth: 2 bytes of tag control, then the next ethertype.
    while VLAN_ETHERTYPES.contains(&ethertype) {
        let tag = rest.get(..4).ok_or(DecodeError::Truncated("802.1Q tag"))?;
        ethertype = u16::from_be_bytes([tag[2], tag[3]]);
        rest = &rest[4..];
    }
    by_ethertype(ethertype, rest)
}

fn by_ethertype(ethertype: u16, rest: &[u8]) -> Result<LinkPayload<'_>, DecodeError> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(LinkPayload::Ip(rest)),
        _ => Ok(LinkPayload::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_start(link: LinkType, bytes: &[u8]) -> Option<usize> {
        match strip(link, bytes).ok()? {
            LinkPayload::Ip(ip) => Some(bytes.len() - ip.len()),
            LinkPayload::NotIp => None,
        }
    }

    #[test]
    fn ethernet_with_four_vlan_tags_reaches_ip() {
        let mut frame = vec![0u8; 12];
        for _ in 0..4 {
            frame.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        frame.extend_from_slice(&[0x08, 0x00, 0x45]);
        assert_eq!(ip_start(LinkType::ETHERNET, &frame), Some(30));
    }

    #[test]
    fn sll2_protocol_is_in_the_first_two_bytes() {
        let mut frame = vec![0x86, 0xdd];
        frame.extend_from_slice(&[0u8; 18]);
        frame.push(0x60);
        assert_eq!(ip_start(LinkType::LINUX_SLL2, &frame), Some(20));
    }

    #[test]
    fn null_family_in_either_byte_order() {
        assert_eq!(ip_start(LinkType::NULL, &[2, 0, 0, 0, 0x45]), Some(4));
        assert_eq!(ip_start(LinkType::NULL, &[0, 0, 0, 30, 0x60]), Some(4));
        assert_eq!(ip_start(LinkType::NULL, &[7, 0, 0, 0]), None);
    }

    #[test]
    fn short_headers_are_errors_not_panics() {
        for link in [
            LinkType::ETHERNET,
            LinkType::LINUX_SLL,
            LinkType::LINUX_SLL2,
            LinkType::NULL,
        ] {
            assert!(strip(link, &[1, 2, 3]).is_err());
        }
        assert!(strip(LinkType(9999), &[0; 40]).is_err());
    }
}
