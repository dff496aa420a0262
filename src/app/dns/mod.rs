//! DNS (RFC 1035) over UDP and TCP: queries matched with their responses into lookups.
//!
//! A [`LookupTable`] groups the queries one client sends one server for one name and type
//! (retries, with new ids or source ports, while no answer came) into one [`Lookup`], and closes
//! it with the response whose id, name, type, client and server match. A lookup with no answer
//! is decided [`UNANSWERED_AFTER_NS`] of capture time after its last query, or at the end of the
//! capture. The table is bounded ([`MAX_OPEN`]); malformed messages are counted, never trusted.
//!
//! Over UDP the analysis feeds datagrams to and from port 53 (5353 is mDNS: not a lookup). Over
//! TCP each message has a two-byte length prefix (RFC 1035 4.2.2); [`TcpDns`] reassembles them
//! from the TCP stage's chunks.
//!
//! Cost: other UDP costs a port check. A DNS message is parsed with simple-dns, which borrows
//! the datagram but collects its sections in vectors, and the asked name is kept as a string
//! (it is the lookup's key): DNS packets allocate a little, nothing else does.

mod message;
mod salvage;
mod tcp;

#[cfg(test)]
pub(crate) use message::tests as test_bytes;
pub use message::{
    DnsError, MAX_ADDRESSES, Message, TYPE_A, TYPE_AAAA, TYPE_CNAME, parse, peek_header,
    rcode_name, type_name,
};
pub use salvage::{BAD_RECORD, COMPRESSION_LOOP, COUNTS_EXCEED, CUT_SHORT, REFUSED};
pub use tcp::{TcpDns, looks_like_query as looks_like_tcp_query};

use std::net::IpAddr;

use hashbrown::HashMap;

use crate::flows::Endpoint;
use crate::tcp::Mark;

/// Messages on a DNS port that could not be read at all ([`DnsCounts::malformed`]).
pub const UNREADABLE: &str = "DNS messages unreadable (no header and question), skipped";

/// The DNS port (RFC 1035 4.2).
pub const DNS_PORT: u16 = 53;

/// A query unanswered this long (capture time) after its last retry has no answer: longer than
/// common resolver timeouts (glibc 5 s per try, Windows 1-2-4 s, dig 5 s).
pub const UNANSWERED_AFTER_NS: i64 = 10_000_000_000;

/// At most this many lookups wait for an answer (a 10 s timeout at 10,000 queries a second);
/// beyond it the oldest eighth is let go at once (amortised constant time per query): each is
/// decided with the time it really waited, marked [`Lookup::capture_ended`] (the analysis stopped
/// watching it), so a lookup let go early is unfinished, not failed, and counted in
/// [`DnsCounts::evicted`].
pub const MAX_OPEN: usize = 131_072;

/// At most this many query frames are kept per lookup (retries beyond are counted).
const MAX_QUERY_FRAMES: usize = 16;

/// The transport a lookup went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsTransport {
    Udp,
    Tcp,
}

/// The response that closed a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub mark: Mark,
    /// The message id: which of the lookup's queries it can answer ([`Lookup::query_ids`]).
    pub id: u16,
    pub rcode: u16,
    /// TC bit: too big for UDP; the client asks again over TCP.
    pub truncated: bool,
    pub answer_count: u16,
    /// Whether a record of the asked type was answered (CNAME chains followed).
    pub has_asked_type: bool,
    pub addresses: Vec<IpAddr>,
    /// The answer section was damaged before all its records were read: whether it held the
    /// asked type is unknown.
    pub damaged: bool,
}

/// DNS opcodes (RFC 1035 4.1.1, RFC 1996, RFC 2136).
pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_NOTIFY: u8 = 4;
pub const OPCODE_UPDATE: u8 = 5;

/// `QUERY`, `NOTIFY`, `UPDATE` or the number.
pub fn opcode_name(opcode: u8) -> String {
    match opcode {
        OPCODE_QUERY => "QUERY".into(),
        OPCODE_NOTIFY => "NOTIFY".into(),
        OPCODE_UPDATE => "UPDATE".into(),
        n => format!("opcode {n}"),
    }
}

/// One name/type asked by one client of one server, with every retry and the answer. For an
/// UPDATE the name and type are the zone's (its zone section), for a NOTIFY the zone's SOA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub name: String,
    pub qtype: u16,
    /// The operation: [`OPCODE_QUERY`] for a lookup, or NOTIFY / UPDATE.
    pub opcode: u8,
    /// The client of the first query.
    pub client: Endpoint,
    pub server: Endpoint,
    pub transport: DnsTransport,
    /// Frames of the queries (the first [`MAX_QUERY_FRAMES`]).
    pub queries: Vec<Mark>,
    /// How many queries were sent in all.
    pub query_count: u32,
    /// Ids the queries used (the response must carry one of them).
    ids: Vec<u16>,
    /// The id of each query in [`Self::queries`].
    pub query_ids: Vec<u16>,
    pub answer: Option<Answer>,
    /// For a lookup with no answer: how long after its last query it was decided (the timeout,
    /// or less when the capture, or the TCP connection, ended first).
    pub waited_ns: i64,
    /// Decided because the capture ended (not a timeout, not the end of its TCP connection).
    pub capture_ended: bool,
}

impl Lookup {
    /// The first query.
    pub fn first(&self) -> Mark {
        self.queries.first().copied().unwrap_or_default()
    }

    /// The last query kept.
    pub fn last_query(&self) -> Mark {
        self.queries.last().copied().unwrap_or_default()
    }

    /// Time from the first query to the answer.
    pub fn time_to_answer_ns(&self) -> Option<i64> {
        Some(self.answer.as_ref()?.mark.ts_ns - self.first().ts_ns)
    }

    fn new(
        name: String,
        qtype: u16,
        client: Endpoint,
        server: Endpoint,
        transport: DnsTransport,
    ) -> Self {
        Self {
            name,
            qtype,
            client,
            server,
            transport,
            queries: Vec::new(),
            query_count: 0,
            ids: Vec::new(),
            query_ids: Vec::new(),
            answer: None,
            waited_ns: 0,
            opcode: OPCODE_QUERY,
            capture_ended: false,
        }
    }

    fn add_query(&mut self, id: u16, mark: Mark) {
        self.query_count += 1;
        if self.queries.len() < MAX_QUERY_FRAMES {
            self.queries.push(mark);
            self.query_ids.push(id);
        }
        if !self.ids.contains(&id) && self.ids.len() < MAX_QUERY_FRAMES {
            self.ids.push(id);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    client: IpAddr,
    server: Endpoint,
    opcode: u8,
    qtype: u16,
    name: String,
}

/// Counts of what the table saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsCounts {
    pub queries: u64,
    pub responses: u64,
    /// Responses with no open lookup to match (its query before the capture, a late duplicate,
    /// or a forged answer).
    pub unmatched_responses: u64,
    /// Messages that could not be read at all (not even a header and one question; damaged
    /// messages read in part are in [`LookupTable::anomalies`]).
    pub malformed: u64,
    /// Lookups decided early because the table was full.
    pub evicted: u64,
}

/// Matches queries and responses into lookups; finished lookups wait in [`Self::drain`].
#[derive(Debug, Default)]
pub struct LookupTable {
    open: HashMap<Key, Lookup, foldhash::fast::RandomState>,
    done: Vec<Lookup>,
    next_expiry_check: i64,
    pub counts: DnsCounts,
    /// Damaged messages read as far as they go (their header, question and the answers before
    /// the damage), by reason ([`CUT_SHORT`], [`COMPRESSION_LOOP`], [`COUNTS_EXCEED`]...).
    pub anomalies: crate::app::Anomalies,
}

impl LookupTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// One DNS message between `client` and `server` (the server is the side on port 53).
    pub fn on_message(
        &mut self,
        bytes: &[u8],
        client: Endpoint,
        server: Endpoint,
        mark: Mark,
        transport: DnsTransport,
    ) {
        let msg = match parse(bytes) {
            // QUERY, NOTIFY (RFC 1996) and UPDATE (RFC 2136) are asked and answered alike: the
            // answer's RCODE says whether the server did it.
            Ok(m) if matches!(m.opcode, OPCODE_QUERY | OPCODE_NOTIFY | OPCODE_UPDATE) => m,
            Ok(_) => return, // IQUERY, STATUS, DSO...: nothing a client waits on here
            // A damaged message still says which lookup it answers and how (its RCODE): the
            // best reading closes the lookup, the damage is counted.
            Err(DnsError::Malformed) => match salvage::salvage(bytes) {
                Some((m, reason))
                    if matches!(m.opcode, OPCODE_QUERY | OPCODE_NOTIFY | OPCODE_UPDATE) =>
                {
                    self.anomalies.add(reason, 1);
                    m
                }
                Some(_) => return,
                None => {
                    self.counts.malformed += 1;
                    return;
                }
            },
            Err(_) => {
                self.counts.malformed += 1;
                return;
            }
        };
        let key = Key {
            client: client.ip,
            server,
            opcode: msg.opcode,
            qtype: msg.qtype,
            name: msg.name,
        };
        if msg.response {
            self.counts.responses += 1;
            let matches = self.open.get(&key).is_some_and(|l| l.ids.contains(&msg.id));
            let Some(mut lookup) = matches.then(|| self.open.remove(&key)).flatten() else {
                self.counts.unmatched_responses += 1;
                return;
            };
            lookup.answer = Some(Answer {
                mark,
                id: msg.id,
                rcode: msg.rcode,
                truncated: msg.truncated,
                answer_count: msg.answer_count,
                has_asked_type: msg.has_asked_type,
                addresses: msg.addresses,
                damaged: msg.damaged,
            });
            self.done.push(lookup);
            return;
        }
        self.counts.queries += 1;
        if !self.open.contains_key(&key) && self.open.len() >= MAX_OPEN {
            self.evict_oldest(mark.ts_ns);
        }
        let lookup = match self.open.entry(key) {
            hashbrown::hash_map::Entry::Occupied(e) => e.into_mut(),
            hashbrown::hash_map::Entry::Vacant(e) => {
                let (name, qtype) = (e.key().name.clone(), e.key().qtype);
                let mut lookup = Lookup::new(name, qtype, client, server, transport);
                lookup.opcode = e.key().opcode;
                e.insert(lookup)
            }
        };
        lookup.add_query(msg.id, mark);
    }

    /// Lets go of the oldest eighth of the open lookups at capture time `now_ns`.
    fn evict_oldest(&mut self, now_ns: i64) {
        let mut times: Vec<i64> = self.open.values().map(|l| l.last_query().ts_ns).collect();
        let nth = times.len() / 8;
        let (_, &mut threshold, _) = times.select_nth_unstable(nth);
        let mut left = nth + 1;
        let done = &mut self.done;
        let evicted = &mut self.counts.evicted;
        self.open.retain(|_, l| {
            if left == 0 || l.last_query().ts_ns > threshold {
                return true;
            }
            left -= 1;
            *evicted += 1;
            l.waited_ns = now_ns.saturating_sub(l.last_query().ts_ns);
            l.capture_ended = true;
            done.push(std::mem::replace(l, empty_lookup()));
            false
        });
    }

    /// Decides as unanswered every lookup whose last query is [`UNANSWERED_AFTER_NS`] older
    /// than capture time `now_ns` (checked at most once a second of capture time).
    pub fn expire(&mut self, now_ns: i64) {
        // Checked once a second, or at once when capture time went back (a clock set back).
        let due = self.next_expiry_check;
        if now_ns < due && due.saturating_sub(now_ns) <= 1_000_000_000 {
            return;
        }
        self.next_expiry_check = now_ns.saturating_add(1_000_000_000);
        let done = &mut self.done;
        self.open.retain(|_, l| {
            let waited_ns = now_ns.saturating_sub(l.last_query().ts_ns);
            let keep = waited_ns < UNANSWERED_AFTER_NS;
            if !keep {
                l.waited_ns = waited_ns;
                done.push(std::mem::replace(l, empty_lookup()));
            }
            keep
        });
    }

    /// Ends the capture at capture time `now_ns`: every open lookup is decided unanswered,
    /// marked [`Lookup::capture_ended`].
    pub fn finish(&mut self, now_ns: i64) {
        self.decide_open(now_ns, true);
    }

    /// Ends the TCP connection the lookups went over at capture time `now_ns`: every open
    /// lookup is decided unanswered (the connection, not the capture, ended).
    pub fn finish_connection(&mut self, now_ns: i64) {
        self.decide_open(now_ns, false);
    }

    fn decide_open(&mut self, now_ns: i64, capture_ended: bool) {
        self.done.extend(self.open.drain().map(|(_, mut l)| {
            l.waited_ns = now_ns.saturating_sub(l.last_query().ts_ns);
            l.capture_ended = capture_ended;
            l
        }));
    }

    /// Lookups finished since the last call, sorted by their first query.
    pub fn drain(&mut self) -> impl Iterator<Item = Lookup> + '_ {
        self.done.sort_by_key(|l| l.first().frame);
        self.done.drain(..)
    }

    /// Lookups waiting for an answer.
    pub fn open(&self) -> usize {
        self.open.len()
    }
}

fn empty_lookup() -> Lookup {
    let nowhere = Endpoint::new(IpAddr::from([0, 0, 0, 0]), 0);
    Lookup {
        name: String::new(),
        qtype: 0,
        client: nowhere,
        server: nowhere,
        transport: DnsTransport::Udp,
        queries: Vec::new(),
        query_count: 0,
        ids: Vec::new(),
        query_ids: Vec::new(),
        answer: None,
        waited_ns: 0,
        opcode: OPCODE_QUERY,
        capture_ended: false,
    }
}

#[cfg(test)]
mod tests {
    use super::message::tests::{query, response};
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        Endpoint::new(ip.parse().unwrap(), port.parse().unwrap())
    }

    fn mark(frame: u64, secs: i64) -> Mark {
        Mark {
            frame,
            ts_ns: secs * 1_000_000_000,
        }
    }

    #[test]
    fn retries_are_one_lookup_and_the_answer_closes_it() {
        let mut t = LookupTable::new();
        let (c1, c2, s) = (
            ep("198.18.0.2:4000"),
            ep("198.18.0.2:4001"),
            ep("198.18.2.2:53"),
        );
        t.on_message(
            &query(1, "a.test", TYPE_A),
            c1,
            s,
            mark(1, 0),
            DnsTransport::Udp,
        );
        t.on_message(
            &query(2, "a.test", TYPE_A),
            c2,
            s,
            mark(2, 5),
            DnsTransport::Udp,
        );
        let answer = response(
            2,
            "a.test",
            TYPE_A,
            0,
            &[("a.test", TYPE_A, vec![1, 2, 3, 4])],
        );
        t.on_message(&answer, c2, s, mark(3, 6), DnsTransport::Udp);
        let done: Vec<_> = t.drain().collect();
        assert_eq!(done.len(), 1);
        let l = &done[0];
        assert_eq!(
            l.queries.iter().map(|m| m.frame).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(l.answer.as_ref().unwrap().mark.frame, 3);
        assert_eq!(l.time_to_answer_ns(), Some(6_000_000_000));
        assert_eq!(l.answer.as_ref().unwrap().addresses.len(), 1);
    }

    #[test]
    fn a_response_with_a_foreign_id_matches_nothing() {
        let mut t = LookupTable::new();
        let (c, s) = (ep("198.18.0.2:4000"), ep("198.18.2.2:53"));
        t.on_message(
            &query(1, "a.test", TYPE_A),
            c,
            s,
            mark(1, 0),
            DnsTransport::Udp,
        );
        t.on_message(
            &response(9, "a.test", TYPE_A, 3, &[]),
            c,
            s,
            mark(2, 0),
            DnsTransport::Udp,
        );
        assert_eq!(t.counts.unmatched_responses, 1);
        assert_eq!(t.open(), 1);
    }

    #[test]
    fn unanswered_lookups_expire_on_capture_time() {
        let mut t = LookupTable::new();
        let (c, s) = (ep("198.18.0.2:4000"), ep("198.18.2.2:53"));
        t.on_message(
            &query(1, "a.test", TYPE_A),
            c,
            s,
            mark(1, 0),
            DnsTransport::Udp,
        );
        t.expire(5_000_000_000);
        assert_eq!(t.drain().count(), 0);
        t.expire(11_000_000_000);
        let done: Vec<_> = t.drain().collect();
        assert_eq!(done.len(), 1);
        assert!(done[0].answer.is_none());
    }

    #[test]
    fn the_table_is_bounded_and_malformed_is_counted() {
        let mut t = LookupTable::new();
        let s = ep("198.18.2.2:53");
        for i in 0..(MAX_OPEN as u32 + 10) {
            let c = Endpoint::new(std::net::Ipv4Addr::from(0xC612_0000 + i).into(), 4000);
            let name = format!("n{i}.test");
            t.on_message(
                &query(i as u16, &name, TYPE_A),
                c,
                s,
                mark(i.into(), i64::from(i) * 1000),
                DnsTransport::Udp,
            );
        }
        // The oldest eighth was let go at once when the table filled, marked as not watched to
        // its end and with the time it really waited.
        let evicted = MAX_OPEN as u64 / 8 + 1;
        assert_eq!(t.counts.evicted, evicted);
        assert_eq!(t.open() as u64, MAX_OPEN as u64 + 10 - evicted);
        let done: Vec<_> = t.drain().collect();
        assert_eq!(done.len() as u64, evicted);
        assert!(done.iter().all(|l| l.capture_ended && l.answer.is_none()));
        let filled = mark(0, MAX_OPEN as i64 * 1000).ts_ns;
        assert_eq!(done[0].waited_ns, filled - done[0].last_query().ts_ns);
        t.on_message(
            &[1, 2, 3],
            ep("198.18.0.2:1"),
            s,
            mark(1, 0),
            DnsTransport::Udp,
        );
        assert_eq!(t.counts.malformed, 1);
    }
}
