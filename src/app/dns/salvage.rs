//! The best reading of a DNS message simple-dns refuses (RFC 1035 4.1): the header (id, flags,
//! RCODE), the question, and the answer records up to the damage, read by hand with bounded
//! name decompression. A response cut short, with a compression loop or with counts its
//! records do not fill still closes its lookup with the server's RCODE, and the damage is
//! counted by reason.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::message::{
    AnswerData as Data, AnswerRecord, Message, TYPE_A, TYPE_AAAA, TYPE_CNAME, follow_chain,
    normalize,
};

/// A message that ends inside a record (or its question).
pub const CUT_SHORT: &str = "DNS messages cut short, read up to the cut";
/// A name whose compression pointers lead back to where they were.
pub const COMPRESSION_LOOP: &str = "DNS messages with a compression loop, read up to it";
/// Counts in the header that promise more records than the message holds.
pub const COUNTS_EXCEED: &str = "DNS messages whose counts exceed their records, records read";
/// Any other malformed record (a bad label, a pointer out of the message, a name too long).
pub const BAD_RECORD: &str = "DNS messages with a malformed record, read up to it";
/// Messages whose records all read by hand although simple-dns refused them (e.g. record
/// data that does not fit its type).
pub const REFUSED: &str = "DNS messages with unusual record data, read by hand";

/// Most compression pointers followed in one name.
const MAX_POINTERS: usize = 32;
/// Longest name (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// At most this many answer records are looked at.
const MAX_RECORDS: usize = 64;

/// Why reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Damage {
    Cut,
    Loop,
    Bad,
}

impl Damage {
    fn reason(self) -> &'static str {
        match self {
            Damage::Cut => CUT_SHORT,
            Damage::Loop => COMPRESSION_LOOP,
            Damage::Bad => BAD_RECORD,
        }
    }
}

/// The best reading of a message with one question, and why it is damaged; `None` when not
/// even the header and question can be read.
pub fn salvage(bytes: &[u8]) -> Option<(Message, &'static str)> {
    let head = bytes.get(..12)?;
    if head[4..6] != [0, 1] {
        return None;
    }
    let (name, at) = read_name(bytes, 12).ok()?;
    let qtype = u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]);
    bytes.get(at + 2..at + 4)?;
    let mut message = Message {
        id: u16::from_be_bytes([head[0], head[1]]),
        response: head[2] & 0x80 != 0,
        opcode: (head[2] >> 3) & 0x0f,
        rcode: u16::from(head[3] & 0x0f),
        truncated: head[2] & 0x02 != 0,
        name: normalize(&name),
        qtype,
        answer_count: u16::from_be_bytes([head[6], head[7]]),
        has_asked_type: false,
        addresses: Vec::new(),
        damaged: false,
    };
    let count = |i: usize| u16::from_be_bytes([head[i], head[i + 1]]);
    let (answers, mut stop, mut at) = records(bytes, at + 4, message.answer_count);
    if message.response {
        follow_chain(&answers, &mut message);
        message.damaged = stop != Stop::Complete;
    }
    // The answers read whole: the damage is in the authority or additional section.
    for section in [count(8), count(10)] {
        if stop != Stop::Complete {
            break;
        }
        (_, stop, at) = records(bytes, at, section);
    }
    let reason = match stop {
        Stop::Damaged(d) => d.reason(),
        Stop::CountsExceed => COUNTS_EXCEED,
        Stop::Complete => REFUSED,
    };
    Some((message, reason))
}

/// Where reading records stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Every record the count promised was read.
    Complete,
    /// The message ended where a promised record would start.
    CountsExceed,
    Damaged(Damage),
}

/// Reads up to `count` records from `at` (the first [`MAX_RECORDS`] kept); stops at the first
/// damage. Returns the records, why reading stopped and where.
fn records(bytes: &[u8], mut at: usize, count: u16) -> (Vec<AnswerRecord>, Stop, usize) {
    let mut out = Vec::new();
    for _ in 0..count {
        if at == bytes.len() {
            return (out, Stop::CountsExceed, at);
        }
        let (owner, next) = match read_name(bytes, at) {
            Ok(r) => r,
            Err(d) => return (out, Stop::Damaged(d), at),
        };
        let Some(fixed) = bytes.get(next..next + 10) else {
            return (out, Stop::Damaged(Damage::Cut), at);
        };
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let Some(rdata) = bytes.get(next + 10..next + 10 + rdlen) else {
            return (out, Stop::Damaged(Damage::Cut), at);
        };
        let data = match (rtype, rdata.len()) {
            (TYPE_A, 4) => Data::Address(IpAddr::V4(Ipv4Addr::new(
                rdata[0], rdata[1], rdata[2], rdata[3],
            ))),
            (TYPE_AAAA, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rdata);
                Data::Address(IpAddr::V6(Ipv6Addr::from(a)))
            }
            (TYPE_CNAME, _) => match read_name(bytes, next + 10) {
                Ok((target, _)) => Data::Cname(normalize(&target)),
                Err(d) => return (out, Stop::Damaged(d), at),
            },
            _ => Data::Other,
        };
        if out.len() < MAX_RECORDS {
            out.push((normalize(&owner), rtype, data));
        }
        at = next + 10 + rdlen;
    }
    (out, Stop::Complete, at)
}

/// Reads the (possibly compressed) name at `at`: the name and where the bytes after it start.
fn read_name(bytes: &[u8], mut at: usize) -> Result<(String, usize), Damage> {
    let mut labels: Vec<u8> = Vec::new();
    let mut end = None;
    let mut visited = [usize::MAX; MAX_POINTERS];
    let mut pointers = 0;
    loop {
        let len = *bytes.get(at).ok_or(Damage::Cut)?;
        match len {
            0 => {
                return Ok((
                    String::from_utf8_lossy(&labels).into_owned(),
                    end.unwrap_or(at + 1),
                ));
            }
            0xc0..=0xff => {
                let low = *bytes.get(at + 1).ok_or(Damage::Cut)?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                end.get_or_insert(at + 2);
                if visited[..pointers].contains(&target) || target == at {
                    return Err(Damage::Loop);
                }
                if pointers == MAX_POINTERS || target >= bytes.len() {
                    return Err(Damage::Bad);
                }
                visited[pointers] = target;
                pointers += 1;
                at = target;
            }
            1..=63 => {
                let label = bytes
                    .get(at + 1..at + 1 + usize::from(len))
                    .ok_or(Damage::Cut)?;
                if !labels.is_empty() {
                    labels.push(b'.');
                }
                labels.extend_from_slice(label);
                if labels.len() > MAX_NAME {
                    return Err(Damage::Bad);
                }
                at += 1 + usize::from(len);
            }
            _ => return Err(Damage::Bad),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::tests::response;
    use super::*;

    fn good() -> Vec<u8> {
        response(
            7,
            "www.example.test",
            TYPE_A,
            2,
            &[("www.example.test", TYPE_A, vec![198, 18, 1, 2])],
        )
    }

    #[test]
    fn every_cut_reads_the_header_and_question_or_nothing() {
        let bytes = good();
        // The question ends 12 + 18 + 4 bytes in.
        for cut in 0..bytes.len() {
            match salvage(&bytes[..cut]) {
                None => assert!(cut < 34, "cut at {cut}"),
                Some((m, reason)) => {
                    assert!(cut >= 34, "cut at {cut}");
                    assert_eq!((m.id, m.rcode), (7, 2));
                    assert_eq!(m.name, "www.example.test");
                    assert!(m.damaged);
                    let expected = if cut == 34 { COUNTS_EXCEED } else { CUT_SHORT };
                    assert_eq!(reason, expected, "cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn loops_and_corruption_end_the_reading_without_a_panic() {
        // A pointer to a pointer to the first: a two-step loop in the answer's owner.
        let mut looped = good();
        looped.truncate(34);
        looped[7] = 1;
        looped.extend_from_slice(&[
            0xc0, 36, 0xc0, 34, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4,
        ]);
        let (m, reason) = salvage(&looped).expect("header and question");
        assert_eq!(
            (reason, m.damaged, m.addresses.len()),
            (COMPRESSION_LOOP, true, 0)
        );
        let bytes = good();
        for i in 0..bytes.len() {
            for v in [0x00, 0x3f, 0x40, 0xc0, 0xff] {
                let mut bad = bytes.clone();
                bad[i] = v;
                let _ = salvage(&bad);
            }
        }
    }

    #[test]
    fn a_whole_message_reads_its_addresses() {
        let (m, reason) = salvage(&good()).expect("readable");
        assert_eq!(reason, REFUSED);
        assert!(!m.damaged && m.has_asked_type);
        assert_eq!(m.addresses, ["198.18.1.2".parse::<IpAddr>().unwrap()]);
    }
}
