//! Transport headers: TCP, UDP, ICMP, ICMPv6 (etherparse slices, borrowed payloads).

use etherparse::{Icmpv4Slice, Icmpv6Slice, TcpSlice, UdpSlice};

use super::DecodeError;
use super::icmp::{self, IcmpMessage};

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;

/// The transport layer of a packet.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    Icmp(IcmpMessage<'a>),
    /// Any other IP protocol, by number.
    Other(u8),
}

/// TCP header flags as one bit set (the NS bit is bit 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;

    /// True when every bit of `mask` is set.
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }
    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }
}

/// The TCP options the analysis uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// Number of SACK blocks carried (0 when none).
    pub sack_blocks: u8,
    /// (TSval, TSecr)
    pub timestamp: Option<(u32, u32)>,
}

/// A TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The raw 16-bit window field (before scaling).
    pub window: u16,
    pub options: TcpOptions,
    /// Payload length on the wire (from the IP lengths, so a snap-length cut does not shrink it).
    pub seg_len: u32,
    /// The payload bytes that were captured (`len() <= seg_len`).
    pub payload: &'a [u8],
    /// The header was cut short or is invalid: only its fixed fields were read.
    pub damaged: bool,
}

/// A UDP datagram.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// Parses the transport header of protocol `protocol` from `bytes`; `wire_len` is the IP payload
/// length the IP header claims.
pub fn parse(protocol: u8, bytes: &[u8], wire_len: u32) -> Result<Transport<'_>, DecodeError> {
    match protocol {
        PROTO_TCP => tcp(bytes, wire_len).map(Transport::Tcp),
        PROTO_UDP => {
            let udp = UdpSlice::from_slice_lax(bytes).map_err(|_| DecodeError::Truncated("UDP"))?;
            Ok(Transport::Udp(UdpDatagram {
                src_port: udp.source_port(),
                dst_port: udp.destination_port(),
                payload: udp.payload(),
            }))
        }
        PROTO_ICMP => {
            let msg = Icmpv4Slice::from_slice(bytes).map_err(|_| DecodeError::Truncated("ICMP"))?;
            Ok(Transport::Icmp(icmp::from_v4(
                msg.type_u8(),
                msg.code_u8(),
                msg.bytes5to8(),
                msg.payload(),
            )))
        }
        PROTO_ICMPV6 => {
            let msg =
                Icmpv6Slice::from_slice(bytes).map_err(|_| DecodeError::Truncated("ICMPv6"))?;
            Ok(Transport::Icmp(icmp::from_v6(
                msg.type_u8(),
                msg.code_u8(),
                msg.bytes5to8(),
                msg.payload(),
            )))
        }
        other => Ok(Transport::Other(other)),
    }
}

fn tcp(bytes: &[u8], wire_len: u32) -> Result<TcpSegment<'_>, DecodeError> {
    let tcp = match TcpSlice::from_slice(bytes) {
        Ok(tcp) => tcp,
        Err(_) => return damaged_tcp(bytes, wire_len),
    };
    let header = tcp.header_slice();
    let options = parse_options(tcp.options());
    Ok(TcpSegment {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags((u16::from(header[12] & 1) << 8) | u16::from(header[13])),
        window: tcp.window_size(),
        options,
        seg_len: wire_len.saturating_sub(header.len() as u32),
        payload: tcp.payload(),
        damaged: false,
    })
}

/// Reads the options the analysis uses. A plain walk over the kind/length list: etherparse's
/// iterator builds every element and cost 3 % of a whole run on a 1 M-packet capture.
fn parse_options(mut bytes: &[u8]) -> TcpOptions {
    let mut options = TcpOptions::default();
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    while let Some(&kind) = bytes.first() {
        match kind {
            0 => break,
            1 => {
                bytes = &bytes[1..];
                continue;
            }
            _ => {}
        }
        let len = bytes.get(1).map_or(0, |&l| usize::from(l));
        let Some(body) = bytes.get(2..len.max(2)).filter(|_| len >= 2) else {
            break;
        };
        match (kind, body.len()) {
            (2, 2) => options.mss = Some(be16(body)),
            (3, 1) => options.window_scale = Some(body[0]),
            (4, 0) => options.sack_permitted = true,
            (5, n) if n % 8 == 0 => options.sack_blocks = (n / 8) as u8,
            (8, 8) => options.timestamp = Some((be32(body), be32(&body[4..]))),
            _ => {}
        }
        bytes = &bytes[len..];
    }
    options
}

/// A TCP header cut by the snap length (or with a bogus data offset) still names its stream and
/// its place in sequence space when the first 16 bytes are there, as in Wireshark; its options and
/// payload are lost.
fn damaged_tcp(bytes: &[u8], wire_len: u32) -> Result<TcpSegment<'_>, DecodeError> {
    let h = bytes.get(..16).ok_or(DecodeError::Truncated("TCP"))?;
    let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let header_len = u32::from(h[12] >> 4) * 4;
    Ok(TcpSegment {
        src_port: be16(0),
        dst_port: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: TcpFlags((u16::from(h[12] & 1) << 8) | u16::from(h[13])),
        window: be16(14),
        options: TcpOptions::default(),
        seg_len: wire_len.saturating_sub(header_len),
        payload: &[],
        damaged: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_of_a_linux_syn_are_read() {
        let syn = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let o = parse_options(&syn);
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamp, Some((7, 0)));
        assert_eq!(o.window_scale, Some(7));
    }

    #[test]
    fn malformed_option_lengths_stop_the_walk() {
        assert_eq!(parse_options(&[3, 0, 7]), TcpOptions::default());
        assert_eq!(parse_options(&[3, 9, 7]), TcpOptions::default());
        assert_eq!(parse_options(&[8]), TcpOptions::default());
    }
}
