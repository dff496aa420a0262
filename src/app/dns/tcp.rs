//! DNS over TCP (RFC 1035 4.2.2, RFC 7766): messages with a two-byte length prefix, taken from
//! the TCP stage's in-order chunks. A message whole in one chunk is parsed from the chunk; only
//! a message that spans chunks is buffered (at most one message, 64 KiB).

use std::net::{IpAddr, Ipv4Addr};

use crate::flows::Endpoint;
use crate::tcp::{Mark, Origin, StreamChunk};

use super::{DnsTransport, Lookup, LookupTable};

/// One direction's framing state.
#[derive(Debug, Default)]
struct Framer {
    /// Bytes of a message (with its prefix) that spans chunks.
    partial: Vec<u8>,
    /// A gap broke the framing: nothing more is read in this direction.
    broken: bool,
}

impl Framer {
    /// Calls `each` with every whole message the chunk completes.
    fn feed(&mut self, chunk: &StreamChunk<'_>, mut each: impl FnMut(&[u8])) {
        let mut bytes = match *chunk {
            StreamChunk::Data { bytes, .. } if !self.broken => bytes,
            StreamChunk::Gap { .. } => {
                self.broken = true;
                self.partial = Vec::new();
                return;
            }
            StreamChunk::Data { .. } => return,
        };
        while !bytes.is_empty() {
            if self.partial.is_empty() {
                // Parse straight from the chunk while messages are whole in it.
                if let [hi, lo, rest @ ..] = bytes
                    && let Some(message) = rest.get(..usize::from(u16::from_be_bytes([*hi, *lo])))
                {
                    each(message);
                    bytes = &rest[message.len()..];
                } else {
                    self.partial.extend_from_slice(bytes);
                    bytes = &[];
                }
                continue;
            }
            let need = match self.partial.as_slice() {
                [hi, lo, ..] => 2 + usize::from(u16::from_be_bytes([*hi, *lo])),
                _ => 2,
            };
            let take = need.saturating_sub(self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if let [hi, lo, message @ ..] = self.partial.as_slice()
                && message.len() == usize::from(u16::from_be_bytes([*hi, *lo]))
            {
                each(message);
                self.partial.clear();
            }
        }
    }
}

/// Whether a connection's first client bytes look like a DNS query over TCP: a length prefix
/// of at least a header, a QUERY or NOTIFY with one question and no answers, or an UPDATE of
/// one zone.
pub fn looks_like_query(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..14) else {
        return false;
    };
    let len = u16::from_be_bytes([head[0], head[1]]);
    let flags = head[4];
    let one_question = head[6..8] == [0, 1];
    let no_answers = head[8..12] == [0, 0, 0, 0];
    len >= 17
        && flags & 0x80 == 0
        && one_question
        && match (flags >> 3) & 0x0f {
            super::OPCODE_QUERY | super::OPCODE_NOTIFY => no_answers,
            // An UPDATE's prerequisite and update sections sit where a query's answers would.
            super::OPCODE_UPDATE => true,
            _ => false,
        }
}

/// DNS state of one TCP connection whose first bytes looked like a DNS query. Its lookups carry
/// placeholder endpoints (0.0.0.0:0 -> 0.0.0.0:53) until the analysis, which knows the
/// connection's endpoints, fills them in.
#[derive(Debug, Default)]
pub struct TcpDns {
    client: Framer,
    server: Framer,
    table: LookupTable,
    /// Capture time of the last chunk.
    last_ts_ns: i64,
    /// The last chunk of each direction (where a message cut by the connection's end is).
    client_mark: Mark,
    server_mark: Mark,
}

/// Placeholder endpoints inside the connection (one client, one server).
const CLIENT: Endpoint = Endpoint {
    ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    port: 0,
};
const SERVER: Endpoint = Endpoint {
    ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    port: super::DNS_PORT,
};

impl TcpDns {
    /// Feeds one chunk of the connection.
    pub fn on_chunk(&mut self, from_client: bool, origin: Origin, chunk: &StreamChunk<'_>) {
        let mark = Mark {
            frame: origin.frame,
            ts_ns: origin.ts_ns,
        };
        self.last_ts_ns = self.last_ts_ns.max(origin.ts_ns);
        if from_client {
            self.client_mark = mark;
        } else {
            self.server_mark = mark;
        }
        let (framer, table) = if from_client {
            (&mut self.client, &mut self.table)
        } else {
            (&mut self.server, &mut self.table)
        };
        framer.feed(chunk, |message| {
            table.on_message(message, CLIENT, SERVER, mark, DnsTransport::Tcp)
        });
    }

    /// Malformed messages seen.
    pub fn malformed(&self) -> u64 {
        self.table.counts.malformed
    }

    /// The connection ended: its lookups, answered or not (placeholder endpoints).
    pub fn into_lookups(self) -> Vec<Lookup> {
        self.into_lookups_and_anomalies().0
    }

    /// The connection ended: its lookups, and the damaged messages read in part, by reason. A
    /// message the connection ended inside (its length prefix promised more) is read as far
    /// as it goes.
    pub fn into_lookups_and_anomalies(mut self) -> (Vec<Lookup>, crate::app::Anomalies) {
        for (framer, mark) in [
            (&mut self.client, self.client_mark),
            (&mut self.server, self.server_mark),
        ] {
            if let [_, _, message @ ..] = framer.partial.as_slice()
                && message.len() >= 12
            {
                self.table
                    .on_message(message, CLIENT, SERVER, mark, DnsTransport::Tcp);
            }
        }
        self.table.finish_connection(self.last_ts_ns);
        let lookups = self.table.drain().collect();
        let mut anomalies = self.table.anomalies;
        anomalies.add(super::UNREADABLE, self.table.counts.malformed);
        (lookups, anomalies)
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::tests::{query, response};
    use super::super::{TYPE_A, TYPE_AAAA};
    use super::*;

    fn framed(msg: &[u8]) -> Vec<u8> {
        let mut out = (msg.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(msg);
        out
    }

    fn data(offset: u64, bytes: &[u8]) -> StreamChunk<'_> {
        StreamChunk::Data { offset, bytes }
    }

    fn origin(frame: u64) -> Origin {
        Origin { frame, ts_ns: 0 }
    }

    #[test]
    fn messages_split_anywhere_are_reassembled() {
        let q = framed(&query(5, "a.test", TYPE_A));
        let mut r = framed(&response(5, "a.test", TYPE_A, 3, &[]));
        let first_len = r.len();
        r.extend(framed(&response(6, "b.test", TYPE_AAAA, 0, &[])));
        assert!(looks_like_query(&q));
        for split in 0..r.len() {
            let mut dns = TcpDns::default();
            dns.on_chunk(true, origin(4), &data(0, &q));
            dns.on_chunk(false, origin(6), &data(0, &r[..split]));
            dns.on_chunk(false, origin(7), &data(split as u64, &r[split..]));
            let lookups = dns.into_lookups();
            assert_eq!(lookups.len(), 1, "split at {split}");
            let answer = lookups[0].answer.as_ref().expect("answered");
            assert_eq!(answer.rcode, 3);
            assert_eq!(answer.mark.frame, if split >= first_len { 6 } else { 7 });
        }
    }

    #[test]
    fn a_gap_stops_the_direction_without_panic() {
        let q = framed(&query(5, "a.test", TYPE_A));
        let mut dns = TcpDns::default();
        dns.on_chunk(true, origin(4), &data(0, &q[..3]));
        dns.on_chunk(true, origin(5), &StreamChunk::Gap { offset: 3, len: 5 });
        dns.on_chunk(true, origin(6), &data(8, &q[8..]));
        assert!(dns.into_lookups().is_empty());
        assert!(!looks_like_query(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_query(&[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0, 0
        ]));
    }
}
