//! DNS lookups that failed: the server said the name does not exist (NXDOMAIN), could not
//! answer (SERVFAIL), would not answer (REFUSED), had no record of the asked type (NOERROR with
//! an empty answer, CNAME chains followed), or never answered at all.
//!
//! Each lookup is one call. A lookup is judged [`JUDGE_AFTER_NS`] of capture time after its
//! first query, so the lookups the same client made next can tell a real failure from normal
//! resolver behaviour:
//!
//! - **Search-list walking** (resolv.conf `search`/`ndots`, RFC 1536 section 6): a stub
//!   resolver tries the name with each search suffix and plain, and stops at the first that
//!   resolves; the NXDOMAIN (or empty NOERROR) answers for the variants tried before are
//!   normal. Rule: a lookup that failed with NXDOMAIN or no answer is not a failed call when it
//!   is a step of a walk that ended in a resolved name: the same client's next lookup of the
//!   same type (for an address, either family: a resolver that found no AAAA under any suffix
//!   moves on to A) for another name with the same first label (the base name with the next suffix)
//!   started within [`WALK_STEP_NS`] of the failed answer, and either resolved (NOERROR with a
//!   record of the asked type) or failed the same way and is itself such a step. A stub moves
//!   to the next candidate as soon as an answer says this one does not exist, so a same-label
//!   name resolved seconds later is another lookup, and this one's failure stands.
//! - **Both address families** (getaddrinfo with AF_UNSPEC asks A and AAAA): an empty answer
//!   for one family is normal when the other family of the same name resolved for that client.
//! - **One failure, two queries**: when A and AAAA of the same name failed the same way, the
//!   first one carries the finding; the other is the same failed call.
//!
//! A lookup over UDP that was answered only after the client sent the query again went through
//! degraded ([`Cause::PacketLoss`]): the client's own timer fired (the retry came at least
//! [`MIN_WAIT_NS`] after the query before it) with no answer, so the query or its answer was
//! lost (RFC 1035 4.2.1: UDP gives no delivery; the resolver retransmits). The other reading is
//! a server that answered the earlier query later than the client waited; an answer carrying
//! only an earlier query's id is that, and is not called loss. When a fragmented datagram from
//! the server to the client that never reassembled arrived between the query and the retry
//! ([`IncompleteDatagrams`]), the answer was lost in fragments: cited, high confidence.

use std::collections::VecDeque;
use std::net::IpAddr;

use crate::app::dns::{
    DnsTransport, Lookup, OPCODE_QUERY, TYPE_A, TYPE_AAAA, opcode_name, rcode_name, type_name,
};
use crate::decode::{Decoder, IncompleteDatagram};
use crate::tcp::Mark;
use crate::timefmt::human_duration;

use super::draft::Draft;
use super::{CallNames, Cause, Confidence, Finding, Transport};

pub use retry::IncompleteDatagrams;
use retry::{lost_finding, lost_try};

/// How long (capture time) after a lookup's first query the lookups that follow it still count
/// as the same name resolution (search list, other family): resolvers walk their list within
/// their per-try timeout (glibc: 5 s, 2 tries).
pub const JUDGE_AFTER_NS: i64 = 10_000_000_000;

/// The longest pause between a search-list candidate's failed answer and the query for the next
/// candidate: a stub asks at once; this leaves room for the other address family's answer
/// (getaddrinfo waits for both) and a loaded host.
pub const WALK_STEP_NS: i64 = 2_000_000_000;

/// At most this many candidates are followed along one search-list walk.
const MAX_WALK_STEPS: usize = 16;

/// An unanswered lookup decided sooner than this after its last query (the capture ended) is
/// reported with low confidence: resolvers wait at least about a second before retrying.
const MIN_WAIT_NS: i64 = 1_000_000_000;

/// A resolver's timeout for one try (glibc's and dig's default, 5 s; Windows gives up on its
/// first server after 1 + 1 + 2 s). A lookup the capture ended less than this after its first
/// query, with no answer, is unfinished: its answer may simply have come after the capture.
pub const RESOLVER_TIMEOUT_NS: i64 = 5_000_000_000;

/// DNS RCODEs a server uses to refuse an operation (RFC 1035 4.1.1, RFC 2136 2.2).
const RCODE_NOTIMP: u16 = 4;
const RCODE_REFUSED: u16 = 5;

/// At most this many recent lookups are kept to judge the next ones against.
const MAX_RECENT: usize = 4096;

/// How a lookup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    NxDomain,
    ServFail,
    Refused,
    NoAnswer,
    NoResponse,
    /// An UPDATE or NOTIFY answered REFUSED or NOTIMP.
    OperationRefused,
}

fn failure(l: &Lookup) -> Option<Failure> {
    if l.opcode != OPCODE_QUERY {
        // An UPDATE or NOTIFY: only a refusal is judged (other RCODEs of RFC 2136, such as
        // YXDOMAIN for a prerequisite, are the update's own logic).
        let rcode = l.answer.as_ref()?.rcode;
        return matches!(rcode, RCODE_NOTIMP | RCODE_REFUSED).then_some(Failure::OperationRefused);
    }
    let Some(answer) = &l.answer else {
        return Some(Failure::NoResponse);
    };
    if answer.truncated {
        return None; // the client asks again over TCP: that lookup tells
    }
    match answer.rcode {
        3 => Some(Failure::NxDomain),
        2 => Some(Failure::ServFail),
        5 => Some(Failure::Refused),
        // NODATA fails a call only when the client needed an address: for other types (TXT,
        // LOC, HTTPS, MX...) "no such record" is an answer the client acts on.
        // A damaged answer section may have held the address: not a NODATA.
        0 if !answer.has_asked_type && !answer.damaged && is_address_type(l.qtype) => {
            Some(Failure::NoAnswer)
        }
        _ => None,
    }
}

fn resolved(l: &Lookup) -> bool {
    l.opcode == OPCODE_QUERY
        && l.answer
            .as_ref()
            .is_some_and(|a| a.rcode == 0 && a.has_asked_type && !a.truncated)
}

fn is_address_type(qtype: u16) -> bool {
    qtype == TYPE_A || qtype == TYPE_AAAA
}

/// Lookups waiting to be judged, and the recent ones they are judged against.
#[derive(Debug, Default)]
pub struct DnsJudge {
    /// Lookups by first query frame, each with whether it was judged.
    recent: VecDeque<(Lookup, bool)>,
    /// Every lookup before this index is judged.
    judged_before: usize,
    /// How many of `recent` each client asked each name (by hash) in: a failure is normal
    /// resolver behaviour only beside a lookup of the same name from the same client, so a
    /// lookup alone with its name (every query of a DNS storm) skips the scan of `recent`.
    names: hashbrown::HashMap<(std::net::IpAddr, u64), u32, foldhash::fast::RandomState>,
}

/// The key [`DnsJudge::names`] counts a lookup under.
fn name_key(l: &Lookup) -> (std::net::IpAddr, u64) {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let hasher = BuildHasherDefault::<std::hash::DefaultHasher>::default();
    (l.client.ip, hasher.hash_one(l.name.as_str()))
}

/// The judgement of one lookup (one call).
#[derive(Debug)]
pub struct LookupVerdict {
    /// The failure, if the call failed.
    pub finding: Option<Finding>,
    /// No answer came to a single query, but the capture ended less than a resolver timeout
    /// ([`RESOLVER_TIMEOUT_NS`]) after it: the call is unfinished, not failed.
    pub unfinished: bool,
    /// The server asked, over which transport, and when the first query left.
    pub server: crate::flows::Endpoint,
    pub transport: crate::diagnose::Transport,
    pub start_ns: i64,
    /// The first query to the answer, when an answer came.
    pub answered_in_ns: Option<i64>,
}

/// True when a lookup got no answer only because the capture ended first (see
/// [`LookupVerdict::unfinished`]): one query, and the capture ended less than a resolver's
/// timeout after it. A retry shows the client's own timer fired without an answer, so a lookup
/// the client retried is judged whenever the capture ends.
pub fn unfinished(l: &Lookup) -> bool {
    let ended_at = l.last_query().ts_ns.saturating_add(l.waited_ns);
    l.answer.is_none()
        && l.capture_ended
        && l.query_count < 2
        && ended_at.saturating_sub(l.first().ts_ns) < RESOLVER_TIMEOUT_NS
}

impl DnsJudge {
    pub fn new() -> Self {
        Self::default()
    }

    /// A finished lookup; verdicts of lookups now old enough go to `out`. `fragments` are the
    /// datagrams that never reassembled (see the module comment).
    pub fn push(
        &mut self,
        lookup: Lookup,
        now_ns: i64,
        fragments: &dyn IncompleteDatagrams,
        out: &mut impl FnMut(LookupVerdict),
    ) {
        let at = self
            .recent
            .iter()
            .rposition(|(l, _)| l.first().frame <= lookup.first().frame)
            .map_or(0, |i| i + 1);
        *self.names.entry(name_key(&lookup)).or_default() += 1;
        self.recent.insert(at, (lookup, false));
        self.judged_before = self.judged_before.min(at);
        while self.recent.len() > MAX_RECENT {
            self.judge_index(0, fragments, out);
            self.pop_front();
        }
        self.advance(now_ns, fragments, out);
    }

    fn pop_front(&mut self) {
        if let Some((lookup, _)) = self.recent.pop_front() {
            let key = name_key(&lookup);
            if let Some(n) = self.names.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.names.remove(&key);
                }
            }
        }
        self.judged_before = self.judged_before.saturating_sub(1);
    }

    /// Judges every lookup whose first query is [`JUDGE_AFTER_NS`] older than `now_ns`. Cheap
    /// when there is nothing to judge: lookups are in capture order, so it stops at the first
    /// one too young.
    pub fn advance(
        &mut self,
        now_ns: i64,
        fragments: &dyn IncompleteDatagrams,
        out: &mut impl FnMut(LookupVerdict),
    ) {
        let mut i = self.judged_before;
        while let Some((lookup, judged)) = self.recent.get(i) {
            if !*judged {
                if now_ns.saturating_sub(lookup.first().ts_ns) < JUDGE_AFTER_NS {
                    break;
                }
                self.judge_index(i, fragments, out);
            }
            i += 1;
        }
        self.judged_before = i;
        while self.judged_before > 0
            && self.recent.front().is_some_and(|(l, judged)| {
                *judged && now_ns.saturating_sub(l.first().ts_ns) >= 2 * JUDGE_AFTER_NS
            })
        {
            self.pop_front();
        }
    }

    /// The capture ended: every lookup left is judged.
    pub fn finish(
        &mut self,
        fragments: &dyn IncompleteDatagrams,
        out: &mut impl FnMut(LookupVerdict),
    ) {
        for i in 0..self.recent.len() {
            self.judge_index(i, fragments, out);
        }
        self.recent.clear();
        self.names.clear();
        self.judged_before = 0;
    }

    fn judge_index(
        &mut self,
        i: usize,
        fragments: &dyn IncompleteDatagrams,
        out: &mut impl FnMut(LookupVerdict),
    ) {
        let Some((lookup, judged)) = self.recent.get(i) else {
            return;
        };
        if *judged {
            return;
        }
        let unfinished = unfinished(lookup);
        let finding = match failure(lookup) {
            Some(f) => Some(f)
                .filter(|_| !unfinished)
                .filter(|&f| !self.is_normal(lookup, f))
                .map(|f| finding(lookup, f)),
            None => lost_try(lookup, fragments).and_then(|lost| lost_finding(lookup, &lost)),
        };
        let (server, start_ns) = (lookup.server, lookup.first().ts_ns);
        let answered_in_ns = lookup.time_to_answer_ns().filter(|&ns| ns >= 0);
        let transport = match lookup.transport {
            crate::app::dns::DnsTransport::Udp => crate::diagnose::Transport::Udp,
            crate::app::dns::DnsTransport::Tcp => crate::diagnose::Transport::Tcp,
        };
        if let Some(entry) = self.recent.get_mut(i) {
            entry.1 = true;
        }
        out(LookupVerdict {
            finding,
            unfinished,
            server,
            transport,
            start_ns,
            answered_in_ns,
        });
    }

    /// Whether the failure is normal resolver behaviour (see the module comment). The cheap
    /// tests (client, time) come first: this runs once per failed lookup over the recent ones.
    fn is_normal(&self, l: &Lookup, f: Failure) -> bool {
        if l.opcode != OPCODE_QUERY {
            return false;
        }
        let start = l.first();
        let label = first_label(&l.name);
        let may_walk = matches!(f, Failure::NxDomain | Failure::NoAnswer);
        let address = is_address_type(l.qtype);
        let siblings = self.names.get(&name_key(l)).is_some_and(|&n| n > 1);
        siblings
            && self.recent.iter().map(|(m, _)| m).any(|m| {
                let m_start = m.first();
                if m.opcode != OPCODE_QUERY
                    || m.client.ip != l.client.ip
                    || (m_start.ts_ns - start.ts_ns).abs() >= JUDGE_AFTER_NS
                {
                    return false;
                }
                let other_family =
                    address && m.qtype != l.qtype && is_address_type(m.qtype) && m.name == l.name;
                let family_resolved = f == Failure::NoAnswer && other_family && resolved(m);
                let reported_on_sibling =
                    other_family && m_start.frame < start.frame && failure(m) == Some(f);
                family_resolved || reported_on_sibling
            })
            || (may_walk && self.walk_resolves(l, label, address))
    }

    /// Whether `l` is a step of a search-list walk that ended in a resolved name (see the module
    /// comment): follows each candidate's next one while they fail.
    fn walk_resolves(&self, l: &Lookup, label: &str, address: bool) -> bool {
        let mut step = l;
        for _ in 0..MAX_WALK_STEPS {
            let Some(answered) = step.answer.as_ref().map(|a| a.mark) else {
                return false;
            };
            let next = self.recent.iter().map(|(m, _)| m).find(|m| {
                let m_start = m.first();
                m.client.ip == l.client.ip
                    && (m.qtype == l.qtype || (address && is_address_type(m.qtype)))
                    && m_start.frame > answered.frame
                    && m_start.ts_ns.saturating_sub(answered.ts_ns) <= WALK_STEP_NS
                    && first_label(&m.name) == label
                    && m.name != step.name
                    && m.name != l.name
            });
            match next {
                Some(m) if resolved(m) => return true,
                Some(m) if matches!(failure(m), Some(Failure::NxDomain | Failure::NoAnswer)) => {
                    step = m
                }
                _ => return false,
            }
        }
        false
    }
}

fn first_label(name: &str) -> &str {
    name.split_once('.').map_or(name, |(label, _)| label)
}

fn finding(l: &Lookup, f: Failure) -> Finding {
    let server_ip = l.server.ip;
    let asked = format!("{} {}", l.name, type_name(l.qtype));
    let op = opcode_name(l.opcode);
    let over = match l.transport {
        DnsTransport::Udp => "UDP",
        DnsTransport::Tcp => "TCP",
    };
    let (one, many) = if l.opcode == OPCODE_QUERY {
        ("query", "queries")
    } else {
        ("request", "requests")
    };
    let tries = if l.query_count == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", l.query_count)
    };
    let mut draft = match f {
        Failure::NxDomain => Draft::new(Cause::DnsNxDomain, Confidence::High)
            .explanation(
                "The server answered NXDOMAIN (RCODE 3, RFC 1035 4.1.1): as far as it knows, the \
                 name does not exist in any record type. The client gets 'Name or service not \
                 known' / ENOTFOUND and never connects.",
            )
            .remedy(format!(
                "Check the spelling of '{}' and the zone it belongs to: does the record exist on \
                 the authoritative servers (dig @authoritative {} {})?",
                l.name,
                l.name,
                type_name(l.qtype)
            ))
            .remediation(&[
                "If the client relies on a search domain (a short name), check resolv.conf \
                 'search' and 'ndots': the fully qualified name may be what resolves.",
                "Split-horizon DNS: the name may exist only in the internal (or only in the \
                 public) view; check which view this resolver serves to this client.",
            ]),
        Failure::ServFail => Draft::new(Cause::DnsServFail, Confidence::High)
            .explanation(
                "The server answered SERVFAIL (RCODE 2): it could not produce an answer. A \
                 recursive resolver says this when the authoritative servers for the zone do not \
                 answer, answer wrongly (lame delegation), or the answer fails DNSSEC validation.",
            )
            .remedy(format!(
                "Ask the authoritative servers directly (dig +trace {} {}): are they reachable \
                 from the resolver and do they answer for the zone?",
                l.name,
                type_name(l.qtype)
            ))
            .remediation(&[
                "Check DNSSEC: dig +cd (checking disabled) succeeding where the plain query \
                 fails means validation fails (expired signatures, a DS/DNSKEY mismatch).",
                "Check the resolver's forwarders and its logs for the upstream it failed on.",
            ]),
        Failure::Refused => Draft::new(Cause::DnsRefused, Confidence::High)
            .explanation(
                "The server answered REFUSED (RCODE 5): it will not answer this client by policy. \
                 Typically recursion is not offered to the client's address (an authoritative-only \
                 server, or an allow-recursion / allow-query ACL that does not include it).",
            )
            .remedy(format!(
                "Check the resolver's ACL for {} (allow-query / allow-recursion in BIND, \
                 access-control in Unbound, --local-service in dnsmasq), or point the client at a \
                 resolver that serves its network.",
                l.client.ip
            ))
            .remedy(format!(
                "If {server_ip} is an authoritative server, the client should ask a recursive \
                 resolver instead: check /etc/resolv.conf or the DHCP-provided DNS servers."
            )),
        Failure::NoAnswer => Draft::new(Cause::DnsNoAnswer, Confidence::High)
            .explanation(
                "The server answered NOERROR with no record of the asked type (NODATA, RFC 2308): \
                 the name exists but has no such record, CNAME chains followed. A client that \
                 needs this type (e.g. an IPv6-only client asking AAAA, or an IPv4 one asking A) \
                 has no address to connect to.",
            )
            .remedy(format!(
                "Add the {} record for {} (or the name its CNAME points to), or make the client \
                 use the address family the name has.",
                type_name(l.qtype),
                l.name
            )),
        Failure::OperationRefused => Draft::new(Cause::DnsOperationRefused, Confidence::High)
            .explanation(format!(
                "The server answered the {op} for {} with {}: it will not perform it. A \
                 server refuses an UPDATE it is not the primary for, or from a client its \
                 update policy (allow-update / update-policy, TSIG) does not name; NOTIMP means \
                 it does not implement {op} at all (RFC 2136 3, RFC 1996).",
                l.name,
                l.answer.as_ref().map_or("?".into(), |a| rcode_name(a.rcode).to_string())
            ))
            .remedy(format!(
                "Send the {op} to the zone's primary server (the SOA's MNAME of {}), and check its update policy for {} (allow-update / update-policy, the TSIG key).",
                l.name, l.client.ip
            )),
        Failure::NoResponse => Draft::new(Cause::DnsNoResponse, Confidence::Medium)
            .explanation(
                "No response came to any of the queries: the server is down or not listening on \
                 port 53, or the queries or the answers were dropped on the way. The client's \
                 resolver times out ('Temporary failure in name resolution', EAI_AGAIN).",
            )
            .alternative(
                "network.packet_loss: the queries or the answers were lost on the path; a \
                 capture at the server shows whether the queries arrived",
            )
            .alternative(
                "firewall: a firewall drops DNS to or from this server (UDP/TCP 53); packets \
                 dropped silently look the same from here",
            )
            .remedy(format!(
                "Check that {server_ip} runs a DNS server reachable on {over} port 53 from {} \
                 (dig @{server_ip} {}); a capture on the server shows whether the queries arrive.",
                l.client.ip, l.name
            ))
            .remedy(
                "Check firewalls and security groups for UDP and TCP port 53 in both directions, \
                 and configure a second resolver in resolv.conf.",
            ),
    };
    let summary = match (&l.answer, f) {
        (Some(a), Failure::OperationRefused) => format!(
            "DNS {op} of {} refused: {} answered {} {} after the request ({tries} over {over})",
            l.name,
            l.server,
            rcode_name(a.rcode),
            human_duration(a.mark.ts_ns - l.first().ts_ns)
        ),
        (Some(a), Failure::NoAnswer) => format!(
            "DNS lookup of {asked} failed: {} answered NOERROR without a {} record {} after the first query ({tries} over {over}, {} answer records)",
            l.server,
            type_name(l.qtype),
            human_duration(a.mark.ts_ns - l.first().ts_ns),
            a.answer_count
        ),
        (Some(a), _) => format!(
            "DNS lookup of {asked} failed: {} from {} {} after the first query ({tries} over {over}, {} answer records)",
            rcode_name(a.rcode),
            l.server,
            human_duration(a.mark.ts_ns - l.first().ts_ns),
            a.answer_count
        ),
        (None, _) => format!(
            "DNS lookup of {asked} got no response from {}: {tries} over {over} in {}, none answered",
            l.server,
            human_duration(l.last_query().ts_ns - l.first().ts_ns)
        ),
    };
    draft = draft.summary(summary);
    if l.answer.is_none() && l.waited_ns < MIN_WAIT_NS {
        // The capture (or the connection) ended before a resolver would even have retried: the
        // answer may simply not have been captured.
        draft = draft.confidence(Confidence::Low).alternative(format!(
            "capture.ended: only {} passed after the last query before the capture (or the \
                 connection) ended, less than a resolver waits before retrying; the answer may \
                 have come later",
            human_duration(l.waited_ns)
        ));
    }
    for (n, &mark) in l.queries.iter().enumerate() {
        let note = if n == 0 && l.opcode != OPCODE_QUERY {
            format!("{op} of zone {} from {} to {}", l.name, l.client, l.server)
        } else if n == 0 {
            format!("query {asked} from {} to {}", l.client, l.server)
        } else {
            format!(
                "retry {n} of the query, {} after the first",
                human_duration(mark.ts_ns - l.first().ts_ns)
            )
        };
        draft.push_evidence(mark, note);
    }
    if let Some(a) = &l.answer {
        let note = format!(
            "response {} with {} answer records",
            rcode_name(a.rcode),
            a.answer_count
        );
        draft.push_evidence(a.mark, note);
    }
    let ip = if server_ip.is_ipv6() { "ipv6" } else { "ip" };
    let filter = format!(
        "dns.qry.name == \"{}\" && dns.qry.type == {} && {ip}.addr == {server_ip}",
        l.name, l.qtype
    );
    let names = CallNames {
        dns: Some(l.name.clone()),
        ..CallNames::default()
    };
    let transport = match l.transport {
        DnsTransport::Udp => Transport::Udp,
        DnsTransport::Tcp => Transport::Tcp,
    };
    let mut finding = draft.into_finding_for(l.client, l.server, transport, filter, names);
    finding.wire.dns_qtype = Some(l.qtype);
    finding
}

mod retry;
#[cfg(test)]
mod tests;
