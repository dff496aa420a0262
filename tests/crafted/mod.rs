//! Hand-built captures for parser robustness tests: TCP conversations and UDP datagrams over
//! raw IPv4, written as a legacy pcap (LINKTYPE_RAW) the analysis reads like any capture.

#![allow(dead_code)]

use etherparse::PacketBuilder;
use faultline::analysis::Analysis;

pub const CLIENT: [u8; 4] = [198, 18, 0, 2];
pub const SERVER: [u8; 4] = [198, 18, 1, 2];
const MS: i64 = 1_000_000;

/// Frames in capture order: (capture time in ns, raw IPv4 bytes).
#[derive(Debug, Default)]
pub struct Capture {
    pub frames: Vec<(i64, Vec<u8>)>,
    pub now_ns: i64,
}

impl Capture {
    /// The next frame's number (frames are numbered from 1).
    pub fn next_frame(&self) -> u64 {
        self.frames.len() as u64 + 1
    }

    fn push(&mut self, bytes: Vec<u8>) -> u64 {
        self.now_ns += MS;
        self.frames.push((self.now_ns, bytes));
        self.frames.len() as u64
    }

    /// One UDP datagram; returns its frame number.
    pub fn udp(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) -> u64 {
        let mut bytes = Vec::new();
        PacketBuilder::ipv4(src.0, dst.0, 64)
            .udp(src.1, dst.1)
            .write(&mut bytes, payload)
            .expect("writing to a Vec cannot fail");
        self.push(bytes)
    }

    /// The capture as a legacy pcap file.
    pub fn pcap(&self) -> Vec<u8> {
        let mut out = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        out.extend(2u16.to_le_bytes());
        out.extend(4u16.to_le_bytes());
        for w in [0u32, 0, 262_144, 101] {
            out.extend(w.to_le_bytes());
        }
        for (ts, bytes) in &self.frames {
            let secs = 1_700_000_000 + (ts / 1_000_000_000) as u32;
            let usecs = ((ts % 1_000_000_000) / 1000) as u32;
            let len = bytes.len() as u32;
            for w in [secs, usecs, len, len] {
                out.extend(w.to_le_bytes());
            }
            out.extend(bytes);
        }
        out
    }

    /// Writes the capture to a scratch file named `name`; returns its path.
    pub fn write(&self, name: &str) -> String {
        let dir = std::env::temp_dir().join(format!("faultline-crafted-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, self.pcap()).expect("write capture");
        path.to_string_lossy().into_owned()
    }
}

/// One TCP connection between [`CLIENT`] and [`SERVER`].
#[derive(Debug)]
pub struct Tcp {
    client: ([u8; 4], u16),
    server: ([u8; 4], u16),
    client_seq: u32,
    server_seq: u32,
}

impl Tcp {
    /// A connection from `client_port` to `server_port`: its handshake is in `cap`.
    pub fn open(cap: &mut Capture, client_port: u16, server_port: u16) -> Tcp {
        let mut tcp = Tcp {
            client: (CLIENT, client_port),
            server: (SERVER, server_port),
            client_seq: 1000,
            server_seq: 5000,
        };
        tcp.segment(cap, true, "S", &[]);
        tcp.segment(cap, false, "SA", &[]);
        tcp.segment(cap, true, "A", &[]);
        tcp
    }

    fn segment(
        &mut self,
        cap: &mut Capture,
        from_client: bool,
        flags: &str,
        payload: &[u8],
    ) -> u64 {
        let (src, dst, seq, ack) = if from_client {
            (self.client, self.server, self.client_seq, self.server_seq)
        } else {
            (self.server, self.client, self.server_seq, self.client_seq)
        };
        let mut b = PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 64_240);
        if flags.contains('S') {
            b = b.syn();
        }
        if flags.contains('F') {
            b = b.fin();
        }
        if flags.contains('A') {
            b = b.ack(ack);
        }
        if !payload.is_empty() {
            b = b.psh();
        }
        let mut bytes = Vec::new();
        b.write(&mut bytes, payload)
            .expect("writing to a Vec cannot fail");
        let used = payload.len() as u32 + u32::from(flags.contains('S') || flags.contains('F'));
        if from_client {
            self.client_seq = self.client_seq.wrapping_add(used);
        } else {
            self.server_seq = self.server_seq.wrapping_add(used);
        }
        cap.push(bytes)
    }

    /// Data from one side in segments of at most 1400 bytes, each acknowledged by the other;
    /// returns the frame numbers of the data segments.
    pub fn send(&mut self, cap: &mut Capture, from_client: bool, data: &[u8]) -> Vec<u64> {
        let mut frames = Vec::new();
        for piece in data.chunks(1400) {
            frames.push(self.segment(cap, from_client, "A", piece));
            self.segment(cap, !from_client, "A", &[]);
        }
        frames
    }

    /// Data from one side in the given pieces (one segment each, unacknowledged).
    pub fn send_pieces(
        &mut self,
        cap: &mut Capture,
        from_client: bool,
        pieces: &[&[u8]],
    ) -> Vec<u64> {
        pieces
            .iter()
            .map(|p| self.segment(cap, from_client, "A", p))
            .collect()
    }

    /// The client closes, the server closes, the client acknowledges.
    pub fn close(&mut self, cap: &mut Capture) {
        self.segment(cap, true, "FA", &[]);
        self.segment(cap, false, "FA", &[]);
        self.segment(cap, true, "A", &[]);
    }
}

/// (code, frames cited) of every finding.
pub fn findings(a: &Analysis) -> Vec<(String, Vec<u64>)> {
    a.findings
        .iter()
        .map(|f| (f.code.clone(), f.evidence.iter().map(|e| e.frame).collect()))
        .collect()
}

/// The capture-level count of anomaly `reason`.
pub fn counted(a: &Analysis, reason: &str) -> u64 {
    a.capture
        .anomalies
        .iter()
        .find(|(r, _)| r == reason)
        .map_or(0, |(_, n)| *n)
}
