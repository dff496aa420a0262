//! Test support: connections built from a script of constructed segments, run through the real
//! tracker, so each rule is tested on the facts the tracker derives.

use std::net::IpAddr;

use crate::decode::{
    IcmpMessage, IpInfo, QuotedPacket, QuotedTcp, TcpFlags, TcpOptions, TcpSegment,
};
use crate::flows::Timeouts;
use crate::tcp::{ConnectionSummary, Delivery, TcpTracker};

pub(super) const SYN: u16 = TcpFlags::SYN;
pub(super) const ACK: u16 = TcpFlags::ACK;
pub(super) const SYN_ACK: u16 = TcpFlags::SYN | TcpFlags::ACK;
pub(super) const RST_ACK: u16 = TcpFlags::RST | TcpFlags::ACK;
pub(super) const PSH_ACK: u16 = TcpFlags::PSH | TcpFlags::ACK;

/// One segment of a script.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    pub ms: i64,
    pub from_client: bool,
    pub flags: u16,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
    pub window: u16,
    pub ip_id: Option<u16>,
    /// (TSval, TSecr)
    pub ts: Option<(u32, u32)>,
    pub ttl: u8,
    /// Instead of a segment: an ICMP fragmentation-needed from a router quoting this segment.
    pub too_big: Option<u32>,
    /// The MSS option (on a SYN).
    pub mss: Option<u16>,
}

/// A segment from the client (`c`) or the server (`s`).
pub(super) fn c(ms: i64, flags: u16, seq: u32, ack: u32, len: u32) -> Step {
    Step {
        ms,
        from_client: true,
        flags,
        seq,
        ack,
        len,
        window: 1000,
        ip_id: None,
        ts: None,
        ttl: 64,
        too_big: None,
        mss: None,
    }
}

pub(super) fn s(ms: i64, flags: u16, seq: u32, ack: u32, len: u32) -> Step {
    Step {
        from_client: false,
        ..c(ms, flags, seq, ack, len)
    }
}

impl Step {
    pub fn id(self, ip_id: u16) -> Self {
        Self {
            ip_id: Some(ip_id),
            ..self
        }
    }
    pub fn ts(self, val: u32, ecr: u32) -> Self {
        Self {
            ts: Some((val, ecr)),
            ..self
        }
    }
    pub fn window(self, window: u16) -> Self {
        Self { window, ..self }
    }
    pub fn ttl(self, ttl: u8) -> Self {
        Self { ttl, ..self }
    }
    /// The segment carries an MSS option.
    pub fn mss(self, mss: u16) -> Self {
        Self {
            mss: Some(mss),
            ..self
        }
    }
    /// An ICMP fragmentation-needed (next-hop `mtu`) quoting this segment, from a router.
    pub fn too_big(self, mtu: u32) -> Self {
        Self {
            too_big: Some(mtu),
            ..self
        }
    }
}

/// Runs the script between `client` and `server` (port 40000 to 443) and returns the
/// connections, in stream order. Frames are numbered from 1 in script order.
pub(super) fn run_between(client: &str, server: &str, steps: &[Step]) -> Vec<ConnectionSummary> {
    run_ports(
        client,
        server,
        &steps.iter().map(|s| (40000, *s)).collect::<Vec<_>>(),
    )
}

/// Like [`run_between`], each step with the client's port.
pub(super) fn run_ports(
    client: &str,
    server: &str,
    steps: &[(u16, Step)],
) -> Vec<ConnectionSummary> {
    let client: IpAddr = client.parse().expect("address");
    let server: IpAddr = server.parse().expect("address");
    let mut tracker = TcpTracker::new(Timeouts::default(), Delivery::StreamOrder);
    for (i, &(port, st)) in steps.iter().enumerate() {
        let frame = i as u64 + 1;
        let ts_ns = 1_000_000_000_000 + st.ms * 1_000_000;
        let (src, dst, sport, dport) = if st.from_client {
            (client, server, port, 443)
        } else {
            (server, client, 443, port)
        };
        if let Some(mtu) = st.too_big {
            let router: IpAddr = "192.0.2.254".parse().expect("address");
            let msg = IcmpMessage {
                v6: false,
                icmp_type: 3,
                code: 4,
                mtu: Some(mtu),
                quoted: Some(QuotedPacket {
                    src,
                    dst,
                    protocol: 6,
                    ports: Some((sport, dport)),
                    tcp: Some(QuotedTcp {
                        seq: st.seq,
                        ack: st.ack,
                        flags: TcpFlags(st.flags),
                        window: st.window,
                    }),
                }),
                body: &[],
            };
            let ip = IpInfo {
                src: router,
                dst: src,
                ttl: 63,
                ip_id: None,
            };
            tracker.on_icmp_error(frame, ts_ns, &ip, &msg, &mut ());
            continue;
        }
        let ip = IpInfo {
            src,
            dst,
            ttl: st.ttl,
            ip_id: st.ip_id,
        };
        let seg = TcpSegment {
            src_port: sport,
            dst_port: dport,
            seq: st.seq,
            ack: st.ack,
            flags: TcpFlags(st.flags),
            window: st.window,
            options: TcpOptions {
                timestamp: st.ts,
                mss: st.mss,
                ..TcpOptions::default()
            },
            seg_len: st.len,
            payload: &[],
            damaged: false,
        };
        tracker.on_segment(frame, ts_ns, 60 + st.len, &ip, &seg, &mut ());
    }
    let mut out = Vec::new();
    tracker.finish(&mut (), |c, _| out.push(c));
    out
}

/// The single connection of a script between two remote hosts.
pub(super) fn run(steps: &[Step]) -> ConnectionSummary {
    run_between("192.0.2.10", "198.51.100.5", steps)
        .into_iter()
        .next()
        .expect("a connection")
}

/// A connection that opened and carried data both ways (100 bytes each), still open.
pub(super) fn exchanged() -> ConnectionSummary {
    run(&[
        c(0, SYN, 0, 0, 0),
        s(1, SYN_ACK, 0, 1, 0),
        c(2, ACK, 1, 1, 0),
        c(3, PSH_ACK, 1, 1, 100),
        s(4, PSH_ACK, 1, 101, 100),
        c(5, ACK, 101, 101, 0),
    ])
}

/// The verdicts on the calls `app` carried over `conn`, judged 10 s into the capture.
pub(super) fn judge_app(
    conn: &ConnectionSummary,
    app: &crate::app::AppFacts,
) -> Vec<super::CallVerdict> {
    let calls = crate::calls::calls_of(conn, app);
    let ctx = super::Context {
        now_ns: 10_000_000_000,
        trust: None,
    };
    super::judge_calls(conn, app, &calls, &ctx)
}

/// Each verdict's finding code, `None` for a call that went through.
pub(super) fn codes(v: &[super::CallVerdict]) -> Vec<Option<String>> {
    v.iter()
        .map(|v| v.finding.as_ref().map(|f| f.code.clone()))
        .collect()
}
