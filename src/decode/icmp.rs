//! ICMP and ICMPv6 messages, and the packet an ICMP error quotes.
//!
//! An error (destination unreachable, time exceeded, packet too big, parameter problem) carries
//! the start of the packet that caused it; decoding that quote tells which flow the error is about.

use std::net::IpAddr;

use etherparse::LaxIpSlice;

use super::TcpFlags;

/// An ICMP or ICMPv6 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpMessage<'a> {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// Next-hop MTU of an IPv4 "fragmentation needed" or an ICMPv6 "packet too big".
    pub mtu: Option<u32>,
    /// The offending packet, for error messages whose quote could be decoded.
    pub quoted: Option<QuotedPacket>,
    /// The message body after the first 8 bytes.
    pub body: &'a [u8],
}

impl IcmpMessage<'_> {
    /// True for the error types that quote an offending packet.
    pub fn is_error(&self) -> bool {
        if self.v6 {
            (1..=4).contains(&self.icmp_type)
        } else {
            matches!(self.icmp_type, 3 | 4 | 11 | 12)
        }
    }
}

/// The start of the packet quoted inside an ICMP error, seen from its original sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPacket {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Ports, when the quote holds the first 4 bytes of a TCP or UDP header.
    pub ports: Option<(u16, u16)>,
    /// The quoted TCP header, when at least its first 16 bytes are there (Wireshark's minimum to
    /// place the quote in a TCP stream).
    pub tcp: Option<QuotedTcp>,
}

/// The fixed part of a TCP header quoted in an ICMP error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedTcp {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
}

pub(super) fn from_v4<'a>(
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &'a [u8],
) -> IcmpMessage<'a> {
    // Fragmentation needed carries the next-hop MTU in the low half of bytes 5-8 (RFC 1191).
    let mtu =
        (icmp_type == 3 && code == 4).then(|| u32::from(u16::from_be_bytes([rest[2], rest[3]])));
    message(false, icmp_type, code, mtu, body)
}

pub(super) fn from_v6<'a>(
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &'a [u8],
) -> IcmpMessage<'a> {
    // Packet too big carries the MTU in bytes 5-8 (RFC 4443).
    let mtu = (icmp_type == 2).then(|| u32::from_be_bytes(rest));
    message(true, icmp_type, code, mtu, body)
}

fn message(v6: bool, icmp_type: u8, code: u8, mtu: Option<u32>, body: &[u8]) -> IcmpMessage<'_> {
    let mut msg = IcmpMessage {
        v6,
        icmp_type,
        code,
        mtu,
        quoted: None,
        body,
    };
    if msg.is_error() {
        msg.quoted = quoted(body);
    }
    msg
}

fn quoted(bytes: &[u8]) -> Option<QuotedPacket> {
    let (ip, _) = LaxIpSlice::from_slice(bytes).ok()?;
    let payload = ip.payload();
    let protocol = payload.ip_number.0;
    let head = payload.payload;
    let ports = match (protocol, head.get(..4)) {
        (6 | 17, Some(p)) => Some((
            u16::from_be_bytes([p[0], p[1]]),
            u16::from_be_bytes([p[2], p[3]]),
        )),
        _ => None,
    };
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let tcp = match (protocol, head.get(..16)) {
        (6, Some(h)) => Some(QuotedTcp {
            seq: be32(&h[4..8]),
            ack: be32(&h[8..12]),
            flags: TcpFlags((u16::from(h[12] & 1) << 8) | u16::from(h[13])),
            window: u16::from_be_bytes([h[14], h[15]]),
        }),
        _ => None,
    };
    Some(QuotedPacket {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        protocol,
        ports,
        tcp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_unreachable_quote_names_the_udp_flow() {
        let mut quote = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        quote.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]);
        let msg = from_v4(3, 3, [0; 4], &quote);
        let q = msg.quoted.expect("quote decoded");
        assert_eq!(q.protocol, 17);
        assert_eq!(q.ports, Some((12345, 53)));
        assert_eq!(q.src, "10.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn echo_reply_is_not_an_error_and_garbage_quotes_are_ignored() {
        assert!(!from_v4(0, 0, [0; 4], &[1, 2, 3]).is_error());
        assert_eq!(from_v4(3, 1, [0; 4], &[0xff; 3]).quoted, None);
        assert_eq!(from_v6(2, 0, [0, 0, 5, 0xdc], &[]).mtu, Some(1500));
    }
}
