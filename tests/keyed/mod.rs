//! Reading the keyed captures of the corpus without faultline: each direction's TCP payload,
//! its TLS records with the frame tshark gives them, NSS key logs and hello fields.

use std::collections::BTreeMap;
use std::path::Path;

/// Hex digits to bytes.
pub fn unhex(text: &str) -> Vec<u8> {
    let digits = text.trim().as_bytes();
    assert!(digits.len().is_multiple_of(2), "odd hex");
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// One direction of a capture's TCP connection: its payload in sequence order, and for each
/// segment the stream offset it ends at and its frame number.
#[derive(Default)]
pub struct Stream {
    pub bytes: Vec<u8>,
    segment_ends: Vec<(usize, u64)>,
}

impl Stream {
    /// The frame whose segment carried the byte before `end` (tshark's frame for a record).
    fn frame_at(&self, end: usize) -> u64 {
        self.segment_ends.iter().find(|(e, _)| *e >= end).unwrap().1
    }

    /// Records as (frame, record bytes).
    pub fn records(&self) -> Vec<(u64, &[u8])> {
        let (mut at, mut out) = (0, Vec::new());
        while at + 5 <= self.bytes.len() {
            let len = usize::from(u16::from_be_bytes([self.bytes[at + 3], self.bytes[at + 4]]));
            let end = at + 5 + len;
            out.push((self.frame_at(end), &self.bytes[at..end]));
            at = end;
        }
        out
    }
}

/// The client's and the server's streams of a classic pcap (Ethernet or BSD loopback, IPv4)
/// holding one TCP connection to `server_port` (the keyed captures have no loss).
pub fn tcp_streams(path: &Path, server_port: u16) -> [Stream; 2] {
    let data = std::fs::read(path).unwrap();
    assert_eq!(data[..4], [0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let link = u32::from_le_bytes(data[20..24].try_into().unwrap());
    let mut isn: [Option<u32>; 2] = [None, None];
    let mut segments: [BTreeMap<u32, (Vec<u8>, u64)>; 2] = Default::default();
    let (mut at, mut frame) = (24, 0u64);
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        let packet = &data[at + 16..at + 16 + caplen];
        at += 16 + caplen;
        frame += 1;
        let ip = match link {
            0 => &packet[4..],
            1 if packet[12..14] == [8, 0] => &packet[14..],
            _ => continue,
        };
        if ip[9] != 6 {
            continue;
        }
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let tcp = &ip[usize::from(ip[0] & 0x0f) * 4..total];
        let dir = usize::from(u16::from_be_bytes([tcp[0], tcp[1]]) == server_port);
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        if tcp[13] & 0x02 != 0 {
            isn[dir] = Some(seq.wrapping_add(1));
            continue;
        }
        let payload = &tcp[usize::from(tcp[12] >> 4) * 4..];
        if !payload.is_empty() {
            let relative = seq.wrapping_sub(isn[dir].expect("a SYN first"));
            segments[dir]
                .entry(relative)
                .or_insert((payload.to_vec(), frame));
        }
    }
    segments.map(|segments| {
        let mut stream = Stream::default();
        for (relative, (payload, frame)) in segments {
            let skip = stream.bytes.len() - relative as usize;
            assert!(
                relative as usize <= stream.bytes.len(),
                "a hole in the capture"
            );
            if skip < payload.len() {
                stream.bytes.extend(&payload[skip..]);
                stream.segment_ends.push((stream.bytes.len(), frame));
            }
        }
        stream
    })
}

/// NSS key log lines: label -> (client random, secret).
pub fn key_log(path: &Path) -> BTreeMap<String, (Vec<u8>, Vec<u8>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.len() == 3).then(|| (words[0].into(), (unhex(words[1]), unhex(words[2]))))
        })
        .collect()
}

/// The random and cipher suite of the ClientHello or ServerHello record `record`.
pub fn hello(record: &[u8]) -> ([u8; 32], u16) {
    let random: [u8; 32] = record[11..43].try_into().unwrap();
    let suite_at = 44 + usize::from(record[43]);
    (
        random,
        u16::from_be_bytes([record[suite_at], record[suite_at + 1]]),
    )
}
