//! A lookup answered only after the client's own timer re-sent the query: the query or its
//! answer was lost (`network.packet_loss`, degraded); and the defrag stage's datagrams that never
//! reassembled, which show an answer lost in fragments.

use super::*;

/// IP protocol number of UDP.
const PROTOCOL_UDP: u8 = 17;

/// Fragmented datagrams that never reassembled, as the defrag stage knows them.
pub trait IncompleteDatagrams {
    /// The first frame of such a UDP datagram from `src` to `dst` whose first fragment came
    /// after frame `after` and before frame `before`.
    fn udp_between(&self, src: IpAddr, dst: IpAddr, after: u64, before: u64) -> Option<Mark>;
}

/// No fragment was lost (or none is known).
impl IncompleteDatagrams for () {
    fn udp_between(&self, _: IpAddr, _: IpAddr, _: u64, _: u64) -> Option<Mark> {
        None
    }
}

fn first_between(
    datagrams: impl Iterator<Item = IncompleteDatagram>,
    src: IpAddr,
    dst: IpAddr,
    after: u64,
    before: u64,
) -> Option<Mark> {
    datagrams
        .filter(|d| {
            d.protocol == PROTOCOL_UDP
                && d.src == src
                && d.dst == dst
                && d.frame > after
                && d.frame < before
        })
        .min_by_key(|d| d.frame)
        .map(|d| Mark {
            frame: d.frame,
            ts_ns: d.ts_ns,
        })
}

impl IncompleteDatagrams for Vec<IncompleteDatagram> {
    fn udp_between(&self, src: IpAddr, dst: IpAddr, after: u64, before: u64) -> Option<Mark> {
        first_between(self.iter().copied(), src, dst, after, before)
    }
}

impl IncompleteDatagrams for Decoder {
    fn udp_between(&self, src: IpAddr, dst: IpAddr, after: u64, before: u64) -> Option<Mark> {
        first_between(self.incomplete_datagrams(), src, dst, after, before)
    }
}

/// A UDP query answered only after the client's timer fired and it sent the query again: the
/// query it retried (index into `queries`), the retry, and a fragment of a lost answer.
pub(super) struct LostTry {
    /// Index of the first retry sent by the client's timer.
    retry: usize,
    fragment: Option<Mark>,
}

pub(super) fn lost_try(l: &Lookup, fragments: &dyn IncompleteDatagrams) -> Option<LostTry> {
    if l.opcode != OPCODE_QUERY || l.transport != DnsTransport::Udp || l.query_count < 2 {
        return None;
    }
    let answer = l.answer.as_ref()?;
    // The first retry the client's own timer sent: a second query moments after the first is a
    // copy or a parallel send, not a timeout.
    let retry = (1..l.queries.len())
        .find(|&i| l.queries[i].ts_ns.saturating_sub(l.queries[i - 1].ts_ns) >= MIN_WAIT_NS)?;
    // The answer must be one the retry (or a later query) can have asked for: an answer carrying
    // only an earlier query's id is the server answering that query late.
    if !l.query_ids[retry..].contains(&answer.id) {
        return None;
    }
    let fragment = fragments.udp_between(
        l.server.ip,
        l.client.ip,
        l.queries[retry - 1].frame,
        l.queries[retry].frame,
    );
    Some(LostTry { retry, fragment })
}

/// The degraded finding of a lookup answered only after a retry (see the module comment).
pub(super) fn lost_finding(l: &Lookup, lost: &LostTry) -> Option<Finding> {
    let asked = format!("{} {}", l.name, type_name(l.qtype));
    let (before, retry) = (l.queries[lost.retry - 1], l.queries[lost.retry]);
    let waited = retry.ts_ns - before.ts_ns;
    let answer = l.answer.as_ref().map_or(retry, |a| a.mark);
    let late = answer.ts_ns - l.first().ts_ns;
    let mut draft = match lost.fragment {
        Some(_) => Draft::new(Cause::PacketLoss, Confidence::High).explanation(format!(
            "The client's query got no answer for {}, so its resolver sent it again; the second \
             answer came. Between the two, a fragmented datagram came from the server that \
             never reassembled: part of the answer arrived, the rest of its fragments were lost \
             on the way, and a UDP datagram missing a fragment is dropped whole (RFC 8200 4.5, \
             RFC 791). Large answers (TXT, DNSSEC, many records over EDNS) are the ones that \
             fragment.",
            human_duration(waited)
        )),
        None => Draft::new(Cause::PacketLoss, Confidence::Medium)
            .explanation(format!(
                "The client's query got no answer for {}, so its resolver's timer fired and it \
                 sent the query again (UDP gives no delivery, RFC 1035 4.2.1); the retry was \
                 answered. The first query or its answer was lost on the way: the lookup went \
                 through, {} late.",
                human_duration(waited),
                human_duration(late)
            ))
            .alternative(format!(
                "server.slow_response: the server answered the first query later than the client waited \
                 ({}); a capture at the server shows whether the first query arrived and when it \
                 was answered",
                human_duration(waited)
            )),
    };
    draft = draft
        .check_wait(waited, false)
        .summary(format!(
            "DNS lookup of {asked} answered only after a retry: no answer to the query in {}, \
             the client asked again and got the answer {} after its first query ({} queries over \
             UDP){}",
            human_duration(waited),
            human_duration(late),
            l.query_count,
            if lost.fragment.is_some() {
                "; a fragment of the first answer arrived, the rest never did"
            } else {
                ""
            }
        ))
        .remedy(
            "Look for the lossy hop between the client and the resolver: interface error and \
             drop counters, a saturated link or queue, a shaper or policer on the path.",
        );
    if lost.fragment.is_some() {
        draft = draft.remedy(format!(
            "Fragments are dropped by firewalls and middleboxes that do not reassemble: allow IP \
             fragments from {} to {}, or keep answers below the path MTU (EDNS buffer size 1232, \
             DNS flag day 2020) so the resolver falls back to TCP instead of fragmenting.",
            l.server.ip, l.client.ip
        ));
    }
    draft.push_evidence(
        before,
        format!("query {asked} from {} to {}", l.client, l.server),
    );
    if let Some(fragment) = lost.fragment {
        draft.push_evidence(
            fragment,
            format!(
                "a fragment of the answer from {}; the rest never arrived",
                l.server.ip
            ),
        );
    }
    draft.push_evidence(
        retry,
        format!(
            "retry of the query, {} after the one before: no answer came",
            human_duration(waited)
        ),
    );
    if let Some(a) = &l.answer {
        draft.push_evidence(
            a.mark,
            format!(
                "response {} with {} answer records, to the retry",
                rcode_name(a.rcode),
                a.answer_count
            ),
        );
    }
    let (ip, fragment) = if l.server.ip.is_ipv6() {
        ("ipv6", "ipv6.fraghdr")
    } else {
        ("ip", "(ip.flags.mf == 1 || ip.frag_offset > 0)")
    };
    let filter = format!(
        "(dns.qry.name == \"{}\" && dns.qry.type == {}) || ({ip}.src == {} && {ip}.dst == {} && {fragment})",
        l.name, l.qtype, l.server.ip, l.client.ip
    );
    let names = CallNames {
        dns: Some(l.name.clone()),
        ..CallNames::default()
    };
    if draft.failed_check().is_some() {
        return None;
    }
    let mut finding = draft.into_finding_for(l.client, l.server, Transport::Udp, filter, names);
    finding.wire.dns_qtype = Some(l.qtype);
    Some(finding)
}
