//! Small hand-made captures for robustness tests: a pcap writer, Ethernet/IPv4/TCP/UDP frames,
//! TCP conversations that keep their own sequence numbers, a DNS query and a TLS ClientHello.
//! Checksums are left zero (faultline, like Wireshark by default, does not check them).

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::Path;

/// A pcap (microsecond, Ethernet) being built in memory.
#[derive(Default)]
pub struct Pcap {
    bytes: Vec<u8>,
    /// Frames written so far.
    pub frames: u64,
}

impl Pcap {
    pub fn new() -> Self {
        let mut bytes = Vec::new();
        bytes.extend(0xa1b2_c3d4u32.to_le_bytes());
        bytes.extend(2u16.to_le_bytes());
        bytes.extend(4u16.to_le_bytes());
        bytes.extend([0u8; 8]);
        bytes.extend(65_535u32.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        Pcap { bytes, frames: 0 }
    }

    /// Appends an Ethernet frame holding the IPv4 packet `ip`, at `t_us` microseconds.
    pub fn ip(&mut self, t_us: u64, ip: &[u8]) {
        let mut frame = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend(ip);
        let base = 1_700_000_000u64;
        self.bytes
            .extend(((base + t_us / 1_000_000) as u32).to_le_bytes());
        self.bytes.extend(((t_us % 1_000_000) as u32).to_le_bytes());
        self.bytes.extend((frame.len() as u32).to_le_bytes());
        self.bytes.extend((frame.len() as u32).to_le_bytes());
        self.bytes.extend(frame);
        self.frames += 1;
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).expect("write capture");
    }
}

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend(total.to_be_bytes());
    p.extend([0, 1, 0x40, 0, 64, protocol, 0, 0]);
    p.extend(src.octets());
    p.extend(dst.octets());
    p.extend(payload);
    p
}

/// A UDP datagram in an IPv4 packet.
pub fn udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend(src.1.to_be_bytes());
    u.extend(dst.1.to_be_bytes());
    u.extend(((8 + data.len()) as u16).to_be_bytes());
    u.extend([0, 0]);
    u.extend(data);
    ipv4(src.0, dst.0, 17, &u)
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH_ACK: u8 = 0x18;
pub const FIN_ACK: u8 = 0x11;
pub const RST: u8 = 0x04;

/// A TCP conversation: each side's next sequence number follows what it sent.
pub struct Tcp {
    pub client: (Ipv4Addr, u16),
    pub server: (Ipv4Addr, u16),
    seq: [u32; 2],
}

impl Tcp {
    pub fn new(client: (Ipv4Addr, u16), server: (Ipv4Addr, u16)) -> Self {
        Tcp {
            client,
            server,
            seq: [1000, 5000],
        }
    }

    /// A segment from the client (`from_client`) or the server with `flags` and `data`.
    pub fn segment(&mut self, from_client: bool, flags: u8, data: &[u8]) -> Vec<u8> {
        let (me, peer) = if from_client { (0, 1) } else { (1, 0) };
        let (src, dst) = if from_client {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let ack = if flags & ACK != 0 { self.seq[peer] } else { 0 };
        let mut t = Vec::new();
        t.extend(src.1.to_be_bytes());
        t.extend(dst.1.to_be_bytes());
        t.extend(self.seq[me].to_be_bytes());
        t.extend(ack.to_be_bytes());
        t.extend([0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t.extend(data);
        let consumed = data.len() as u32 + u32::from(flags & (SYN | 0x01) != 0);
        self.seq[me] = self.seq[me].wrapping_add(consumed);
        ipv4(src.0, dst.0, 6, &t)
    }

    /// SYN, SYN-ACK, ACK starting at `t_us`, 1 ms apart; returns the time after.
    pub fn handshake(&mut self, pcap: &mut Pcap, t_us: u64) -> u64 {
        let syn = self.segment(true, SYN, b"");
        pcap.ip(t_us, &syn);
        let syn_ack = self.segment(false, SYN | ACK, b"");
        pcap.ip(t_us + 1_000, &syn_ack);
        let ack = self.segment(true, ACK, b"");
        pcap.ip(t_us + 2_000, &ack);
        t_us + 3_000
    }
}

/// A DNS query (id 0x1234, recursion desired) for `name` (labels split at '.') of type A.
pub fn dns_query(name: &[u8]) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split(|&b| b == b'.') {
        q.push(label.len() as u8);
        q.extend(label);
    }
    q.extend([0, 0, 1, 0, 1]);
    q
}

/// A TLS 1.2 record holding a ClientHello with server name `sni`.
pub fn client_hello(sni: &[u8]) -> Vec<u8> {
    let mut sni_ext = Vec::new();
    let entry_len = 3 + sni.len();
    sni_ext.extend((entry_len as u16).to_be_bytes());
    sni_ext.push(0);
    sni_ext.extend((sni.len() as u16).to_be_bytes());
    sni_ext.extend(sni);
    let mut exts = vec![0, 0];
    exts.extend((sni_ext.len() as u16).to_be_bytes());
    exts.extend(sni_ext);
    let mut body = vec![0x03, 0x03];
    body.extend([0x42u8; 32]);
    body.push(0);
    body.extend([0, 4, 0xc0, 0x2f, 0x13, 0x01]);
    body.extend([1, 0]);
    body.extend((exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![1];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}
