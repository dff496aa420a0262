//! The connect: a SYN that got an ICMP error, a RST, or nothing at all.

use crate::tcp::{ConnectionSummary, Mark, RstMark, TtlMark};
use crate::timefmt::human_duration;

use super::draft::{Draft, after, call, ttl_text};
use super::{Cause, Confidence, Context, icmp};

/// RFC 6298's initial retransmission timeout: a SYN unanswered for this long would have been
/// sent again by any standard stack.
const INITIAL_RTO_NS: i64 = 1_000_000_000;

/// A connection whose SYN never got a SYN-ACK.
pub(super) fn failure(conn: &ConnectionSummary, ctx: &Context) -> Option<Draft> {
    let client = &conn.facts.client;
    let server = &conn.facts.server;
    let syn = client.first_syn?;
    if server.first_syn.is_some() {
        return None;
    }
    if let Some(draft) = icmp::at_connect(conn, syn) {
        return Some(draft);
    }
    if let Some(rst) = server.first_rst {
        return Some(reset(conn, syn, rst));
    }
    if server.reference.is_some() || server.data_segments > 0 {
        return None; // the server talked without a SYN-ACK we saw: not a silent drop
    }
    syn_unanswered(conn, ctx, syn)
}

/// The SYN was answered by a RST: the server's stack (nothing listens), or a device on the way
/// that forged it, told apart by the TTL / hop limit the server's own packets arrive with.
fn reset(conn: &ConnectionSummary, syn: Mark, rst: RstMark) -> Draft {
    let v6 = conn.server.ip.is_ipv6();
    let rst_mark = Mark {
        frame: rst.frame,
        ts_ns: rst.ts_ns,
    };
    let reference = conn.facts.host_reference;
    let syn_note = format!("client SYN to port {}", conn.server.port);
    let rst_note = format!(
        "RST/ACK from {} {} after the SYN, {}",
        conn.server.ip,
        after(syn, rst_mark),
        ttl_text(rst.ttl, v6)
    );
    match reference {
        Some(r) if r.ttl != rst.ttl => injected_at_connect(conn, rst, r)
            .evidence(syn, syn_note)
            .evidence(rst_mark, rst_note),
        _ => {
            let mut draft = Draft::new(Cause::ServerRefused,
                if reference.is_some() {
                    Confidence::High
                } else {
                    Confidence::Medium
                },
            )
            .summary(format!(
                "{}: connection refused: {} answered the SYN to port {} with RST/ACK ({} later): nothing listens there",
                call(conn),
                conn.server.ip,
                conn.server.port,
                after(syn, rst_mark)
            ))
            .explanation(
                "A TCP stack answers a SYN for a port with no listening socket with RST/ACK \
                 (RFC 9293 3.10.7.1); the client reports ECONNREFUSED, 'connection refused'.",
            )
            .evidence(syn, syn_note)
            .evidence(rst_mark, rst_note)
            .remedy(format!(
                "Check that the service is running and listening on port {} of {} (ss -ltnp on the server), \
                 and on that address family (IPv4/IPv6) and interface, not only on 127.0.0.1.",
                conn.server.port, conn.server.ip
            ))
            .remediation(&[
                "If it runs behind a load balancer or container port mapping, check the target/published port.",
                "If it was restarting, retry with backoff; a refused connect costs one round trip.",
            ]);
            match reference {
                Some(r) => {
                    draft = draft.evidence(
                        r.into(),
                        format!(
                            "earlier packet from {}: {}, the same as the RST",
                            conn.server.ip,
                            ttl_text(r.ttl, v6)
                        ),
                    );
                }
                None => {
                    draft = draft.alternative(
                        "firewall.injected_rst: a firewall rejecting with tcp-reset sends the same \
                         RST/ACK; no other packet from this address is in the capture to compare \
                         its TTL / hop limit with",
                    );
                }
            }
            draft
        }
    }
}

fn injected_at_connect(conn: &ConnectionSummary, rst: RstMark, reference: TtlMark) -> Draft {
    let v6 = conn.server.ip.is_ipv6();
    Draft::new(Cause::InjectedRst, Confidence::High)
        .summary(format!(
            "the SYN to {} was answered by a RST that did not come from the server: its {} differs from the server's own packets ({})",
            conn.server,
            ttl_text(rst.ttl, v6),
            ttl_text(reference.ttl, v6)
        ))
        .explanation(
            "Every packet a host sends starts with the same TTL / hop limit and loses one per \
             router, so packets from the same server arrive with the same value. This RST arrived \
             with a different one: it was made by a device at another distance, typically a \
             firewall rejecting the connection with a TCP reset (e.g. iptables REJECT \
             --reject-with tcp-reset), an IPS, or a proxy. The client sees 'connection refused'.",
        )
        .evidence(
            reference.into(),
            format!(
                "earlier packet from {}: {}",
                conn.server.ip,
                ttl_text(reference.ttl, v6)
            ),
        )
        .remedy(format!(
            "Look for a rule that rejects TCP to port {} with a reset on the path: host and network \
             firewalls, security groups/NACLs, IPS policies. The device sits {}.",
            conn.server.port,
            super::draft::distance(rst.ttl)
        ))
        .remedy(format!(
            "Confirm from the server side: a capture there shows no SYN from {} and no RST sent.",
            conn.client.ip
        ))
        .alternative(
            "server.refused: a server whose reply path differs (asymmetric routing, another \
             load-balancer node) could answer with another TTL",
        )
}

/// No SYN-ACK, no RST, no ICMP: the SYN went into silence.
fn syn_unanswered(conn: &ConnectionSummary, ctx: &Context, syn: Mark) -> Option<Draft> {
    let client = &conn.facts.client;
    let waited = ctx.now_ns.saturating_sub(syn.ts_ns);
    if waited < INITIAL_RTO_NS {
        return None; // no standard stack would have retried yet: too early to call it a drop
    }
    let confidence = match client.syn_count {
        0 => return None,
        1 => Confidence::Low,
        _ => Confidence::Medium,
    };
    let last = client.last_sent.unwrap_or(syn);
    let mut draft = Draft::new(Cause::SynUnanswered, confidence)
        .summary(format!(
            "{}: {} SYN{} over {} got no answer (no SYN-ACK, RST or ICMP error): dropped on the way",
            call(conn),
            client.syn_count,
            if client.syn_count == 1 { "" } else { "s" },
            human_duration(last.ts_ns.saturating_sub(syn.ts_ns))
        ))
        .explanation(
            "The client retransmitted its SYN with growing timeouts (RFC 6298) and nothing came \
             back. A closed port would answer with RST and a reachable router with an ICMP error; \
             silence is what a firewall rule that DROPs produces, but also a host that is down \
             behind a router that does not report it.",
        )
        .alternative("network.host_down: the server is down or the address unused, and no router reports it")
        .alternative("network.routing: the SYN (or the SYN-ACK on its way back) is routed into a black hole")
        .alternative("server.syn_backlog_full: an overloaded listener drops SYNs silently")
        .remedy(format!(
            "Check the firewalls between {} and {} for a rule that drops TCP to port {}: security groups / inbound rules, network ACLs, host firewall (iptables/nftables DROP).",
            conn.client.ip, conn.server, conn.server.port
        ))
        .remedy(format!(
            "Check that {} is up and routed: a capture on the server shows whether the SYN arrives; `ip route get {}` on the client shows the route used.",
            conn.server.ip, conn.server.ip
        ));
    for (i, &mark) in client
        .syns
        .iter()
        .take(client.syn_count as usize)
        .enumerate()
    {
        let note = if i == 0 {
            format!("client SYN to port {}", conn.server.port)
        } else {
            format!("SYN retransmitted, {} after the first", after(syn, mark))
        };
        draft.push_evidence(mark, note);
    }
    if client.syn_count == 1 {
        draft = draft.alternative(format!(
            "capture.too_short: only one SYN, {} before the capture ended",
            human_duration(waited)
        ));
    }
    Some(draft)
}

impl From<TtlMark> for Mark {
    fn from(m: TtlMark) -> Mark {
        Mark {
            frame: m.frame,
            ts_ns: m.ts_ns,
        }
    }
}

/// Notes on a finding the RST its client discarded during the connect: in SYN-SENT a RST is
/// acceptable only if it acknowledges the SYN (RFC 9293 3.10.7.3), so one with another
/// acknowledgment number was ignored and the handshake went on. Not what ended the call, but
/// worth knowing: something on the path (or a blind attacker) forged it.
pub(super) fn with_ignored_rst(draft: Draft, conn: &ConnectionSummary) -> Draft {
    let Some(rst) = conn.facts.server.ignored_rst else {
        return draft;
    };
    let v6 = conn.server.ip.is_ipv6();
    let own = conn.facts.server.reference.map(|r| r.ttl);
    let note = format!(
        "RST from {} in SYN-SENT that does not acknowledge the SYN, {}{}: discarded by the client (RFC 9293 3.10.7.3)",
        conn.server.ip,
        ttl_text(rst.ttl, v6),
        match own {
            Some(t) if t != rst.ttl => format!(" (the server's own packets: {})", ttl_text(t, v6)),
            _ => String::new(),
        }
    );
    draft
        .evidence(
            Mark {
                frame: rst.frame,
                ts_ns: rst.ts_ns,
            },
            note,
        )
        .alternative(
            "firewall.injected_rst: a RST forged during the connect was ignored by the client; a device on the path may also be behind the later failure",
        )
}

#[cfg(test)]
mod tests {
    use crate::diagnose::script::{ACK, PSH_ACK, RST_ACK, SYN, SYN_ACK, c, run, s};
    use crate::diagnose::{Context, diagnose_connection};

    #[test]
    fn a_rst_that_does_not_ack_the_syn_is_ignored_and_the_later_reset_is_the_headline() {
        let steps = [
            c(0, SYN, 100, 0, 0).ttl(62),
            // Forged: acknowledges the ISN itself, not ISN + 1; another TTL.
            s(233, RST_ACK, 0, 100, 0).ttl(46),
            s(1266, SYN_ACK, 500, 101, 0).ttl(49),
            c(1267, ACK, 101, 501, 0).ttl(62),
            c(1268, PSH_ACK, 101, 501, 25).ttl(62),
            s(2851, ACK, 501, 126, 0).ttl(49),
            s(2853, RST_ACK, 501, 126, 0).ttl(49),
        ];
        let conn = run(&steps);
        assert_eq!(conn.facts.server.ignored_rst.map(|r| r.frame), Some(2));
        assert_eq!(conn.facts.server.first_rst.map(|r| r.frame), Some(7));
        let ctx = Context {
            now_ns: conn.last_ts_ns,
            trust: None,
        };
        let f = diagnose_connection(&conn, &Default::default(), &ctx).expect("a finding");
        assert_eq!(f.code, "server.reset_after_request");
        let frames: Vec<u64> = f.evidence.iter().map(|e| e.frame).collect();
        assert!(frames.contains(&2) && frames.contains(&5) && frames.contains(&7));
    }
}
