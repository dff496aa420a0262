//! Decoding frames into IP packets with TCP, UDP or ICMP on top.
//!
//! The link header is stripped here ([`link`]); IPv4/IPv6 (with extension headers) and the
//! transport headers are sliced with etherparse's lax parsers, so a frame cut short by the snap
//! length still yields every header it holds. IP fragments are reassembled ([`defrag`]) with caps
//! on memory and on capture time. Payload bytes are borrowed from the frame (or, for a reassembled
//! datagram, from the decoder), never copied.

mod defrag;
mod icmp;
mod link;
mod transport;

use std::net::IpAddr;

use etherparse::{LaxIpSlice, LenSource};
use thiserror::Error;

use crate::source::Frame;

pub use defrag::{DefragLimits, DefragStats, IncompleteDatagram, MAX_GIVEN_UP};
pub use icmp::{IcmpMessage, QuotedPacket, QuotedTcp};
pub use link::LinkPayload;
pub use transport::{TcpFlags, TcpOptions, TcpSegment, Transport, UdpDatagram};

/// Why a frame could not be decoded. Such a frame is counted and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("{0} header cut short")]
    Truncated(&'static str),
    #[error("bad {0} header")]
    Bad(&'static str),
    #[error("link type {0} is not supported")]
    UnsupportedLinkType(u32),
}

/// The IP layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6): tells who sent a packet, e.g. an injected RST.
    pub ttl: u8,
    /// IPv4 identification; `None` for IPv6.
    pub ip_id: Option<u16>,
}

/// The network-layer packet of a frame of link type `link`: its link header stripped as the
/// decoder strips it (for a writer that keeps headers and blanks payloads).
pub fn link_payload(
    link: crate::source::LinkType,
    bytes: &[u8],
) -> Result<LinkPayload<'_>, DecodeError> {
    link::strip(link, bytes)
}

/// A decoded IP packet.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ip: IpInfo,
    pub transport: Transport<'a>,
}

/// The outcome of decoding one frame.
#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    /// An IP packet (possibly reassembled from fragments that ended with this frame).
    Packet(Packet<'a>),
    /// Not IP (ARP, LLDP, ...).
    NotIp,
    /// An IP fragment, held until its datagram is complete.
    FragmentHeld,
}

/// Stateful decoder: holds the IP fragment pool and the buffer of the last reassembled datagram.
#[derive(Debug, Default)]
pub struct Decoder {
    fragments: defrag::FragmentPool,
    reassembled: Vec<u8>,
}

impl Decoder {
    /// A decoder with the given fragment-reassembly limits.
    pub fn new(limits: DefragLimits) -> Self {
        Self {
            fragments: defrag::FragmentPool::new(limits),
            reassembled: Vec::new(),
        }
    }

    /// Counters of the fragment pool (held, completed, dropped).
    pub fn defrag_stats(&self) -> DefragStats {
        self.fragments.stats()
    }

    /// Fragmented datagrams that did not reassemble (see [`defrag`]): bounded, the first frame
    /// of each.
    pub fn incomplete_datagrams(&self) -> impl Iterator<Item = IncompleteDatagram> + '_ {
        self.fragments.incomplete()
    }

    /// Decodes one frame.
    pub fn decode<'a>(&'a mut self, frame: &Frame<'a>) -> Result<Decoded<'a>, DecodeError> {
        let ip_bytes = match link::strip(frame.link_type, frame.bytes)? {
            LinkPayload::Ip(bytes) => bytes,
            LinkPayload::NotIp => return Ok(Decoded::NotIp),
        };
        let not_captured = frame.orig_len.saturating_sub(frame.bytes.len() as u32);
        let ip = parse_ip(ip_bytes, not_captured)?;
        if ip.fragment.is_some() {
            let completed =
                self.fragments
                    .add(&ip, frame.number, frame.ts_ns, &mut self.reassembled);
            if !completed {
                return Ok(Decoded::FragmentHeld);
            }
            let payload_len = self.reassembled.len() as u32;
            let transport = transport::parse(ip.protocol, &self.reassembled, payload_len)?;
            return Ok(Decoded::Packet(Packet {
                ip: ip.info,
                transport,
            }));
        }
        let transport = transport::parse(ip.protocol, ip.payload, ip.payload_len)?;
        Ok(Decoded::Packet(Packet {
            ip: ip.info,
            transport,
        }))
    }
}

/// The parts of an IP header the later stages and the fragment pool need.
#[derive(Debug, Clone, Copy)]
struct IpLayer<'a> {
    info: IpInfo,
    protocol: u8,
    /// Captured payload bytes (may be fewer than `payload_len`).
    payload: &'a [u8],
    /// Payload length the IP header claims (what was on the wire).
    payload_len: u32,
    fragment: Option<defrag::FragmentInfo>,
}

/// Parses an IPv4 or IPv6 header (with extensions) at the start of `bytes`; `not_captured` is how
/// many bytes of the frame the snap length cut off.
fn parse_ip(bytes: &[u8], not_captured: u32) -> Result<IpLayer<'_>, DecodeError> {
    let (ip, _ext_err) = LaxIpSlice::from_slice(bytes).map_err(|_| DecodeError::Bad("IP"))?;
    let payload = ip.payload();
    let captured = payload.payload;
    let (info, header_claims, fragment) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let header = v4.header();
            let claimed = u32::from(header.total_len()).saturating_sub(header.slice().len() as u32);
            let fragment = header
                .is_fragmenting_payload()
                .then(|| defrag::FragmentInfo {
                    id: u32::from(header.identification()),
                    offset: header.fragments_offset(),
                    more: header.more_fragments(),
                });
            let info = IpInfo {
                src: IpAddr::V4(header.source_addr()),
                dst: IpAddr::V4(header.destination_addr()),
                ttl: header.ttl(),
                ip_id: Some(header.identification()),
            };
            (info, claimed, fragment)
        }
        LaxIpSlice::Ipv6(v6) => {
            let header = v6.header();
            let ext_len = v6.extensions().slice().len() as u32;
            let claimed = u32::from(header.payload_length()).saturating_sub(ext_len);
            let info = IpInfo {
                src: IpAddr::V6(header.source_addr()),
                dst: IpAddr::V6(header.destination_addr()),
                ttl: header.hop_limit(),
                ip_id: None,
            };
            (info, claimed, defrag::ipv6_fragment(v6))
        }
    };
    // When the header's length could not be used (jumbogram, or a length beyond the frame) the
    // slice decides; a snap-length cut keeps the header's claim, as Wireshark's reported length.
    let captured_len = captured.len() as u32;
    let payload_len = match payload.len_source {
        LenSource::Slice if header_claims == 0 => captured_len,
        _ => header_claims.clamp(captured_len, captured_len.saturating_add(not_captured)),
    };
    Ok(IpLayer {
        info,
        protocol: payload.ip_number.0,
        payload: captured,
        payload_len,
        fragment,
    })
}

#[cfg(test)]
mod defrag_tests {
    use super::*;
    use crate::source::LinkType;

    /// An IPv4 fragment of a UDP datagram from 198.18.2.2 to 198.18.0.2 (8 payload bytes).
    fn fragment(id: u16, offset_units: u16, more: bool) -> Vec<u8> {
        let flags = if more { 0x2000 } else { 0 } | offset_units;
        let mut p = vec![0x45, 0, 0, 28];
        p.extend(id.to_be_bytes());
        p.extend(flags.to_be_bytes());
        p.extend([64, 17, 0, 0, 198, 18, 2, 2, 198, 18, 0, 2]);
        p.extend([0u8; 8]);
        p
    }

    fn feed(d: &mut Decoder, number: u64, secs: i64, bytes: &[u8]) {
        let frame = Frame {
            number,
            ts_ns: secs * 1_000_000_000,
            link_type: LinkType::RAW,
            bytes,
            orig_len: bytes.len() as u32,
        };
        let _ = d.decode(&frame);
    }

    #[test]
    fn datagrams_that_never_reassembled_are_listed_bounded() {
        let mut d = Decoder::new(DefragLimits {
            timeout_ns: 1_000_000_000,
            ..DefragLimits::default()
        });
        feed(&mut d, 1, 0, &fragment(1, 0, true));
        feed(&mut d, 2, 0, &fragment(1, 1, false)); // completes datagram 1
        feed(&mut d, 3, 0, &fragment(2, 1, false)); // only the last fragment of datagram 2
        let held: Vec<_> = d.incomplete_datagrams().collect();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].frame, held[0].protocol), (3, 17));
        assert_eq!(held[0].src, "198.18.2.2".parse::<IpAddr>().unwrap());
        // Timed out, it is still listed; beyond the cap the oldest are only counted.
        for i in 0..MAX_GIVEN_UP as u64 + 5 {
            feed(
                &mut d,
                10 + i,
                10 + 2 * i as i64,
                &fragment(100 + i as u16, 1, false),
            );
        }
        assert_eq!(d.incomplete_datagrams().count(), MAX_GIVEN_UP + 1);
        assert_eq!(d.defrag_stats().incomplete_forgotten, 5);
        assert!(d.incomplete_datagrams().all(|g| g.frame != 3));
    }

    /// An IPv6 packet from 2001:db8::1 to 2001:db8::2 whose headers after the fixed one are
    /// `extensions` (the first numbered `next`).
    fn ipv6(next: u8, extensions: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend((extensions.len() as u16).to_be_bytes());
        p.extend([next, 64]);
        for last in [1u8, 2] {
            p.extend([0x20, 0x01, 0x0d, 0xb8]);
            p.extend([0u8; 11]);
            p.push(last);
        }
        p.extend(extensions);
        p
    }

    #[test]
    fn an_ipv6_extension_chain_cut_after_a_good_header_is_read_in_bounds() {
        // Destination options (next: destination options again), then 2 bytes of a second
        // header that claims 48: the fuzzer's crash, a read past the validated headers.
        let mut exts = vec![60, 0, 1, 4, 0, 0, 0, 0];
        exts.extend([60, 5]);
        let mut d = Decoder::new(DefragLimits::default());
        let bytes = ipv6(60, &exts);
        let frame = Frame {
            number: 1,
            ts_ns: 0,
            link_type: LinkType::RAW,
            bytes: &bytes,
            orig_len: bytes.len() as u32,
        };
        let decoded = d.decode(&frame);
        assert!(!matches!(decoded, Ok(Decoded::FragmentHeld)), "{decoded:?}");
        assert_eq!(d.defrag_stats().fragments, 0);
    }

    #[test]
    fn an_ipv6_fragment_header_behind_destination_options_is_held_for_reassembly() {
        // Destination options (next: fragment), fragment (next: UDP, offset 0, more, id 7), then
        // the first 8 bytes of the datagram.
        let mut exts = vec![44, 0, 1, 4, 0, 0, 0, 0];
        exts.extend([17, 0, 0, 1, 0, 0, 0, 7]);
        exts.extend([0u8; 8]);
        let mut d = Decoder::new(DefragLimits::default());
        feed(&mut d, 1, 0, &ipv6(60, &exts));
        let held: Vec<_> = d.incomplete_datagrams().collect();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].frame, held[0].protocol), (1, 17));
        assert_eq!(held[0].src, "2001:db8::1".parse::<IpAddr>().unwrap());
    }
}
