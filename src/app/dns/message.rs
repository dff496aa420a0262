//! One DNS message (RFC 1035 4.1) reduced to what a lookup needs: id, direction, rcode, the
//! question, and the addresses answered for it (CNAME chains followed).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, QTYPE};

/// Resource record type numbers (RFC 1035 3.2.2, RFC 3596).
pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_CNAME: u16 = 5;

/// At most this many answered addresses are kept per response.
pub const MAX_ADDRESSES: usize = 8;

/// CNAME links followed from the question's name before giving up (loops, long chains).
const MAX_CHAIN: usize = 8;

/// Why bytes on a DNS port were not a DNS message we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    #[error("DNS header cut short")]
    Short,
    #[error("DNS message malformed")]
    Malformed,
    #[error("DNS message without exactly one question")]
    NotOneQuestion,
}

/// The parts of a standard query or its response that a lookup is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    /// QR bit: a response.
    pub response: bool,
    /// OPCODE (0 = standard query).
    pub opcode: u8,
    /// RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...), extended by EDNS (RFC 6891).
    pub rcode: u16,
    /// TC bit: the answer did not fit and the client should ask again over TCP.
    pub truncated: bool,
    /// The asked name, lowercase, without the trailing dot (`.` for the root).
    pub name: String,
    /// The asked type (1 A, 28 AAAA, ...).
    pub qtype: u16,
    /// ANCOUNT: records in the answer section.
    pub answer_count: u16,
    /// Whether the answer holds a record of the asked type for the name (after CNAMEs).
    pub has_asked_type: bool,
    /// A/AAAA addresses answered for the name (after CNAMEs), at most [`MAX_ADDRESSES`].
    pub addresses: Vec<IpAddr>,
    /// The answer section was damaged before all its records were read: whether it held the
    /// asked type is unknown (see [`crate::app::dns::CUT_SHORT`] and the other reasons).
    pub damaged: bool,
}

/// Reads the fixed header only: (id, is a response). Cheap pre-check, no allocation.
pub fn peek_header(bytes: &[u8]) -> Option<(u16, bool)> {
    let head = bytes.get(..12)?;
    Some((u16::from_be_bytes([head[0], head[1]]), head[2] & 0x80 != 0))
}

/// Parses one DNS message with exactly one question.
pub fn parse(bytes: &[u8]) -> Result<Message, DnsError> {
    let head = bytes.get(..12).ok_or(DnsError::Short)?;
    let id = u16::from_be_bytes([head[0], head[1]]);
    let response = head[2] & 0x80 != 0;
    let opcode = (head[2] >> 3) & 0x0f;
    let truncated = head[2] & 0x02 != 0;
    let rcode = u16::from(head[3] & 0x0f);
    let qdcount = u16::from_be_bytes([head[4], head[5]]);
    let answer_count = u16::from_be_bytes([head[6], head[7]]);
    if qdcount != 1 {
        return Err(DnsError::NotOneQuestion);
    }
    // The message before its answers are read.
    let bare = |name, qtype, rcode| Message {
        id,
        response,
        opcode,
        rcode,
        truncated,
        name,
        qtype,
        answer_count,
        has_asked_type: false,
        addresses: Vec::new(),
        damaged: false,
    };
    let packet = match Packet::parse(bytes) {
        Ok(p) => p,
        // An UPDATE's prerequisite and update records (class NONE / ANY, empty RDATA, RFC
        // 2136 2.4-2.5) are not all readable as answers: its zone section is enough.
        Err(_) if opcode != 0 => {
            let (name, qtype) = first_question(bytes).ok_or(DnsError::Malformed)?;
            return Ok(bare(name, qtype, rcode));
        }
        Err(_) => return Err(DnsError::Malformed),
    };
    let rcode = if packet.opt().is_some() {
        rcode | extended_rcode_bits(bytes)
    } else {
        rcode
    };
    let question = packet.questions.first().ok_or(DnsError::Malformed)?;
    let name = normalize(&question.qname.to_string());
    let qtype = u16::from(question.qtype);
    let mut message = bare(name, qtype, rcode);
    if response {
        read_answers(&packet, &mut message);
    }
    Ok(message)
}

/// The first question (an UPDATE's zone) read by hand: its name, which as the message's first
/// name cannot be compressed, and its type.
fn first_question(bytes: &[u8]) -> Option<(String, u16)> {
    let mut at = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = usize::from(*bytes.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 || labels.len() >= 127 {
            return None;
        }
        let label = bytes.get(at..at + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += len;
    }
    let qtype = u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]);
    Some((normalize(&labels.join(".")), qtype))
}

/// The upper eight bits of an EDNS extended RCODE (RFC 6891 6.1.3), shifted into place, read
/// from the OPT record when it is the last record of the message (as servers write it; a TSIG
/// after it hides them). simple-dns 0.13 shifts these bits the wrong way, so they are read here.
fn extended_rcode_bits(bytes: &[u8]) -> u16 {
    // OPT: root name (0), TYPE 41, CLASS (UDP size), TTL = ext-rcode|version|flags, RDLENGTH.
    for start in (12..bytes.len().saturating_sub(10)).rev() {
        let Some(rr) = bytes.get(start..start + 11) else {
            continue;
        };
        let rdlen = usize::from(u16::from_be_bytes([rr[9], rr[10]]));
        if rr[..3] == [0, 0, 41] && start + 11 + rdlen == bytes.len() {
            return u16::from(rr[5]) << 4;
        }
    }
    0
}

/// The answer records as a lookup needs them, then the CNAME chain followed through them.
fn read_answers(packet: &Packet<'_>, message: &mut Message) {
    let records: Vec<AnswerRecord> = packet
        .answers
        .iter()
        .map(|record| {
            let data = match &record.rdata {
                RData::A(a) => AnswerData::Address(IpAddr::V4(Ipv4Addr::from(a.address))),
                RData::AAAA(a) => AnswerData::Address(IpAddr::V6(Ipv6Addr::from(a.address))),
                RData::CNAME(target) => AnswerData::Cname(normalize(&target.0.to_string())),
                _ => AnswerData::Other,
            };
            let rtype = u16::from(record.rdata.type_code());
            (normalize(&record.name.to_string()), rtype, data)
        })
        .collect();
    follow_chain(&records, message);
}

/// What an answer record holds, as a lookup needs it.
#[derive(Debug)]
pub(super) enum AnswerData {
    Address(IpAddr),
    Cname(String),
    Other,
}

/// An answer record: its owner name (normalised), type and data.
pub(super) type AnswerRecord = (String, u16, AnswerData);

/// Follows the CNAME chain from the question's name through `records` and collects the
/// addresses of the asked type (whichever parser read the records).
pub(super) fn follow_chain(records: &[AnswerRecord], message: &mut Message) {
    let mut owner = message.name.clone();
    for _ in 0..MAX_CHAIN {
        let mut next = None;
        for (_, rtype, data) in records.iter().filter(|r| r.0 == owner) {
            if message.qtype == u16::from(QTYPE::ANY) || message.qtype == *rtype {
                message.has_asked_type = true;
            }
            match data {
                AnswerData::Address(a)
                    if message.has_asked_type
                        && message.addresses.len() < MAX_ADDRESSES
                        && !message.addresses.contains(a) =>
                {
                    message.addresses.push(*a)
                }
                AnswerData::Cname(target) if message.qtype != TYPE_CNAME => {
                    next = Some(target.clone())
                }
                _ => {}
            }
        }
        match next {
            Some(target) if !message.has_asked_type && target != owner => owner = target,
            _ => return,
        }
    }
}

/// Lowercase, without the trailing dot; the root stays `.`.
pub(super) fn normalize(name: &str) -> String {
    let trimmed = name.trim_end_matches('.');
    if trimmed.is_empty() {
        ".".into()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

/// The mnemonic of a record type, for people.
pub fn type_name(qtype: u16) -> String {
    match qtype {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        64 => "SVCB".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

/// The mnemonic of an RCODE (RFC 1035 4.1.1, RFC 2136, RFC 6895).
pub fn rcode_name(rcode: u16) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        _ => "RCODE?",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes `name` as labels.
    fn qname(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    /// A query for `name`/`qtype` with `id`.
    pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut out = id.to_be_bytes().to_vec();
        out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        out.extend(qname(name));
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&[0, 1]);
        out
    }

    /// A response with `rcode` and the given (owner, type, rdata) answers.
    pub fn response(
        id: u16,
        name: &str,
        qtype: u16,
        rcode: u8,
        answers: &[(&str, u16, Vec<u8>)],
    ) -> Vec<u8> {
        let mut out = query(id, name, qtype);
        out[2] = 0x81;
        out[3] = 0x80 | rcode;
        out[7] = answers.len() as u8;
        for (owner, rtype, rdata) in answers {
            out.extend(qname(owner));
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(rdata);
        }
        out
    }

    pub fn cname_rdata(target: &str) -> Vec<u8> {
        qname(target)
    }

    #[test]
    fn reads_a_query() {
        let m = parse(&query(0x1234, "Api.Example.test.", TYPE_A)).unwrap();
        assert_eq!((m.id, m.response, m.rcode), (0x1234, false, 0));
        assert_eq!((m.name.as_str(), m.qtype), ("api.example.test", TYPE_A));
    }

    #[test]
    fn follows_cname_chains_to_the_asked_type() {
        let bytes = response(
            7,
            "www.example.test",
            TYPE_A,
            0,
            &[
                ("www.example.test", TYPE_CNAME, cname_rdata("edge.cdn.test")),
                ("edge.cdn.test", TYPE_A, vec![198, 18, 1, 2]),
            ],
        );
        let m = parse(&bytes).unwrap();
        assert!(m.response && m.has_asked_type);
        assert_eq!(m.addresses, vec!["198.18.1.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(m.answer_count, 2);
    }

    #[test]
    fn a_cname_without_the_asked_type_is_no_answer() {
        let bytes = response(
            7,
            "www.example.test",
            TYPE_AAAA,
            0,
            &[("www.example.test", TYPE_CNAME, cname_rdata("edge.cdn.test"))],
        );
        let m = parse(&bytes).unwrap();
        assert!(!m.has_asked_type);
        assert!(m.addresses.is_empty());
    }

    #[test]
    fn reads_the_edns_extended_rcode() {
        let mut bytes = response(3, "x.test", TYPE_A, 0, &[]);
        bytes[11] = 1; // ARCOUNT
        bytes.extend_from_slice(&[0, 0, 41, 0x10, 0, 1, 0, 0, 0, 0, 0]); // ext rcode 1 -> 16
        let m = parse(&bytes).unwrap();
        assert_eq!((m.rcode, rcode_name(m.rcode)), (16, "BADVERS"));
    }

    #[test]
    fn reads_nxdomain() {
        let m = parse(&response(9, "nope.test", TYPE_A, 3, &[])).unwrap();
        assert_eq!((m.rcode, m.answer_count), (3, 0));
        assert_eq!(rcode_name(m.rcode), "NXDOMAIN");
    }

    #[test]
    fn cut_and_garbled_bytes_are_errors_not_panics() {
        let good = response(
            7,
            "www.example.test",
            TYPE_A,
            0,
            &[("www.example.test", TYPE_A, vec![198, 18, 1, 2])],
        );
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        assert_eq!(parse(&good[..5]), Err(DnsError::Short));
        assert!(parse(&good[..20]).is_err());
        // A compression pointer that points at itself.
        let mut looped = query(1, "a.test", TYPE_A);
        looped.truncate(12);
        looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse(&looped).is_err());
        // Every single-byte corruption.
        for i in 0..good.len() {
            for v in [0x00, 0x3f, 0xc0, 0xff] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = parse(&bad);
            }
        }
        let mut two = query(1, "a.test", TYPE_A);
        two[5] = 2;
        assert_eq!(parse(&two), Err(DnsError::NotOneQuestion));
    }
}
