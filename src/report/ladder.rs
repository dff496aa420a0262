//! Ladder (sequence) diagrams in SVG: one per failed call, an arrow per evidence frame.
//!
//! Lanes are the call's client and server (named "DNS server" for a lookup) and every other
//! address that sent or received an evidence frame (a router's ICMP error), placed between them
//! as hops on the path. Each arrow goes from the frame's real sender to its receiver, as the
//! evidence pass decoded them, labelled with the frame number, the time since the call's first
//! evidence frame and the note (shortened; the whole text is in the arrow's `<title>` tooltip).
//!
//! The fault is marked in red. For a call that met silence (an unanswered SYN, query or request,
//! a black-holed segment) every frame that never got an answer ends in a red X short of its
//! receiver; otherwise the deciding frame is the one a third party sent (an ICMP error), or
//! failing that the call's last evidence frame (the reset, alert, status line or error response
//! the rules ended on).

use std::io::{self, Write};
use std::net::IpAddr;

use super::html::escape;
use crate::diagnose::{Category, Finding};
use crate::evidence::Route;
use crate::flows::Endpoint;

/// Colour of an ordinary arrow.
pub const ARROW_COLOUR: &str = "#1f5fbf";
/// Colour of the fault: the deciding arrow, and the X of a frame that got no answer.
pub const FAULT_COLOUR: &str = "#d1242f";
const LANE_COLOUR: &str = "#8c959f";
const ELSEWHERE_COLOUR: &str = "#6e7781";

const MARGIN_X: i64 = 110;
const HEADER: i64 = 62;
const ROW: i64 = 44;
/// At most this many arrows are drawn; the evidence table lists every frame.
const MAX_ARROWS: usize = 60;
/// Average width of a label character at the font size used, in pixels.
const CHAR_PX: f64 = 7.0;

/// One vertical lane.
#[derive(Debug, Clone)]
struct Lane {
    role: &'static str,
    label: String,
    ip: IpAddr,
}

/// How an arrow is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Normal,
    /// The frame that decides the cause.
    Fault,
    /// A frame that never got an answer: drawn short of its receiver, ending in an X.
    Unanswered,
}

/// One arrow: the evidence entry it draws, its lanes and its mark.
#[derive(Debug, Clone, Copy)]
struct Arrow {
    evidence: usize,
    from: usize,
    to: usize,
    mark: Mark,
    /// A frame of another flow that the finding cites (e.g. a reference packet for a TTL):
    /// drawn dashed and grey, never as the fault.
    elsewhere: bool,
}

/// Writes the ladder of `finding` as an inline `<svg>`; `routes` are its evidence frames'
/// senders and receivers, in the order of `finding.evidence` (`None`: not decoded).
pub fn write_ladder(
    out: &mut impl Write,
    finding: &Finding,
    routes: &[Option<Route>],
) -> io::Result<()> {
    let lanes = lanes(finding, routes);
    let mut arrows: Vec<Arrow> = routes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let r = r.as_ref()?;
            let (sport, dport) = r.ports.unzip();
            Some(Arrow {
                evidence: i,
                from: lane_of(finding, &lanes, r.src, sport),
                to: lane_of(finding, &lanes, r.dst, dport),
                mark: Mark::Normal,
                elsewhere: r.ports.is_some_and(|p| !on_the_call(finding, p)),
            })
        })
        .take(MAX_ARROWS)
        .collect();
    mark_fault(finding, &mut arrows, lanes.len() - 1);
    let gap: i64 = if lanes.len() <= 2 { 560 } else { 300 };
    let width = 2 * MARGIN_X + gap * (lanes.len() as i64 - 1);
    let x = |lane: usize| MARGIN_X + gap * lane as i64;
    let height = HEADER + ROW * (arrows.len() as i64 + 1);
    let id = svg_id(&finding.id);
    writeln!(
        out,
        r#"<svg class="ladder" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="t-{id}">"#
    )?;
    writeln!(
        out,
        r#"<title id="t-{id}">Ladder diagram of {}: {}</title>"#,
        escape(&finding.id),
        escape(&finding.code)
    )?;
    writeln!(out, "<defs>")?;
    let markers = [
        ("a", ARROW_COLOUR),
        ("f", FAULT_COLOUR),
        ("o", ELSEWHERE_COLOUR),
    ];
    for (name, colour) in markers {
        writeln!(
            out,
            r#"<marker id="{name}-{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="11" markerHeight="11" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>"#
        )?;
    }
    writeln!(out, "</defs>")?;
    for (i, lane) in lanes.iter().enumerate() {
        let lx = x(i);
        writeln!(
            out,
            r#"<g class="lane"><text x="{lx}" y="18" text-anchor="middle" font-weight="bold">{}</text><text x="{lx}" y="36" text-anchor="middle" class="addr">{}</text><line x1="{lx}" y1="46" x2="{lx}" y2="{}" stroke="{LANE_COLOUR}" stroke-width="2" stroke-dasharray="4 4"/></g>"#,
            lane.role,
            escape(&lane.label),
            height - 8
        )?;
    }
    let t0 = routes.iter().flatten().map(|r| r.ts_ns).min().unwrap_or(0);
    for (row, a) in arrows.iter().enumerate() {
        let Some(route) = routes.get(a.evidence).copied().flatten() else {
            continue;
        };
        let note = finding
            .evidence
            .get(a.evidence)
            .map_or("", |e| e.note.as_str());
        let y = HEADER + ROW * (row as i64 + 1);
        let (x1, mut x2) = (x(a.from), x(a.to));
        if a.from == a.to {
            x2 = x1 + 60;
        }
        let offset = time_offset(route.ts_ns.saturating_sub(t0));
        let colour = match (a.mark, a.elsewhere) {
            (Mark::Normal, true) => ELSEWHERE_COLOUR,
            (Mark::Normal, false) => ARROW_COLOUR,
            _ => FAULT_COLOUR,
        };
        writeln!(
            out,
            r#"<g class="arrow{}"><title>frame {} at {offset}: {} to {}: {}</title>"#,
            if a.mark == Mark::Normal { "" } else { " fault" },
            route.frame,
            escape(&route.src.to_string()),
            escape(&route.dst.to_string()),
            escape(note)
        )?;
        let span = (x2 - x1).abs();
        let head = match a.elsewhere {
            true => format!("#{} {offset} (another flow) ", route.frame),
            false => format!("#{} {offset} ", route.frame),
        };
        let room = ((span as f64 - 16.0) / CHAR_PX) as usize;
        let label = shorten(note, room.saturating_sub(head.len()).max(12));
        writeln!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle" fill="{}"><tspan font-weight="bold">{}</tspan>{}</text>"#,
            (x1 + x2) / 2,
            y - 8,
            if a.mark == Mark::Normal {
                "#1f2328"
            } else {
                FAULT_COLOUR
            },
            escape(&head),
            escape(&label)
        )?;
        if a.mark == Mark::Unanswered {
            // Lost on the way: the line stops three quarters across, at an X.
            let xe = x1 + (x2 - x1) * 3 / 4;
            writeln!(
                out,
                r#"<line x1="{x1}" y1="{y}" x2="{xe}" y2="{y}" stroke="{colour}" stroke-width="3"/><path d="M{},{} l14,14 M{},{} l-14,14" stroke="{colour}" stroke-width="4"/>"#,
                xe - 7,
                y - 7,
                xe + 7,
                y - 7
            )?;
        } else {
            let marker = match (a.mark, a.elsewhere) {
                (Mark::Fault, _) => "f",
                (_, true) => "o",
                _ => "a",
            };
            let stroke = if a.mark == Mark::Fault { 4 } else { 2 };
            let dash = if a.elsewhere {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            writeln!(
                out,
                r#"<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" stroke-width="{stroke}"{dash} marker-end="url(#{marker}-{id})"/>"#
            )?;
        }
        writeln!(out, "</g>")?;
    }
    writeln!(out, "</svg>")
}

/// Client first, server last, any other address that sent or received an evidence frame in
/// between (in the order first seen).
fn lanes(finding: &Finding, routes: &[Option<Route>]) -> Vec<Lane> {
    let server_role = if finding.category == Category::Dns || finding.server.port == 53 {
        "DNS server"
    } else {
        "server"
    };
    let mut lanes = vec![Lane {
        role: "client",
        label: finding.client.to_string(),
        ip: finding.client.ip,
    }];
    for r in routes.iter().flatten() {
        for ip in [r.src, r.dst] {
            let known = ip == finding.client.ip
                || ip == finding.server.ip
                || lanes.iter().any(|l| l.ip == ip);
            if !known {
                lanes.push(Lane {
                    role: "other host",
                    label: ip.to_string(),
                    ip,
                });
            }
        }
    }
    lanes.push(Lane {
        role: server_role,
        label: finding.server.to_string(),
        ip: finding.server.ip,
    });
    lanes
}

/// The lane of an address (and port, which tells client from server on one host).
fn lane_of(finding: &Finding, lanes: &[Lane], ip: IpAddr, port: Option<u16>) -> usize {
    let server = lanes.len() - 1;
    let at = |e: Endpoint| port.is_some_and(|p| e == Endpoint::new(ip, p));
    if at(finding.client) {
        return 0;
    }
    if at(finding.server) {
        return server;
    }
    if ip == finding.server.ip {
        return server;
    }
    if ip == finding.client.ip {
        return 0;
    }
    lanes.iter().position(|l| l.ip == ip).unwrap_or(server)
}

/// True when ports `(src, dst)` are the call's own, in either direction.
fn on_the_call(finding: &Finding, (src, dst): (u16, u16)) -> bool {
    let (c, s) = (finding.client.port, finding.server.port);
    (src, dst) == (c, s) || (src, dst) == (s, c)
}

/// Codes whose cause is silence: what was sent and never answered is the fault.
fn is_silence(code: &str) -> bool {
    let name = code.rsplit('.').next().unwrap_or(code);
    name.ends_with("unanswered")
        || name == "no_response"
        || name == "peer_unresponsive_midstream"
        || name == "pmtu_blackhole"
}

fn mark_fault(finding: &Finding, arrows: &mut [Arrow], server_lane: usize) {
    if is_silence(&finding.code) {
        for i in 0..arrows.len() {
            let (from, to) = (arrows[i].from, arrows[i].to);
            if arrows[i].elsewhere {
                continue;
            }
            let answered = arrows[i + 1..]
                .iter()
                .any(|later| later.from == to && later.to == from);
            if !answered && from != to {
                arrows[i].mark = Mark::Unanswered;
            }
        }
        if arrows.iter().any(|a| a.mark == Mark::Unanswered) {
            return;
        }
    }
    let third_party = arrows
        .iter()
        .position(|a| a.from != 0 && a.from != server_lane);
    let last_on_the_call = arrows.iter().rposition(|a| !a.elsewhere);
    if let Some(i) = third_party.or(last_on_the_call) {
        arrows[i].mark = Mark::Fault;
    }
}

/// `+0.0 ms`, `+20.4 ms`, `+3.061 s`.
fn time_offset(ns: i64) -> String {
    if ns < 1_000_000_000 {
        format!("+{:.1} ms", ns as f64 / 1e6)
    } else {
        format!("+{:.3} s", ns as f64 / 1e9)
    }
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A finding id made safe for an SVG element id.
fn svg_id(id: &str) -> String {
    id.chars().filter(char::is_ascii_alphanumeric).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_codes_and_shortening() {
        assert!(is_silence("firewall.syn_unanswered"));
        assert!(is_silence("dns.no_response"));
        assert!(!is_silence("server.refused"));
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
        assert_eq!(time_offset(20_400_000), "+20.4 ms");
        assert_eq!(time_offset(3_061_000_000), "+3.061 s");
        assert_eq!(svg_id("F1\"><x"), "F1x");
    }
}
