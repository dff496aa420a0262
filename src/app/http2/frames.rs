//! What each whole frame other than DATA means: header blocks started and continued, settings,
//! resets, GOAWAY, PING, WINDOW_UPDATE.

use super::conn::{
    BAD_FRAME, BLOCK_TOO_BIG, Block, CONTINUATION_OUT_OF_PLACE, HPACK_ERROR, Http2Conn, MAX_BLOCK,
};
use super::fields::Fields;
use super::frame::{self, FrameHeader};
use super::{ErrorCode, GoAway, Http2Facts, MAX_GOAWAYS, StreamReset};
use crate::app::http::clip;
use crate::tcp::Origin;

/// GOAWAY debug data kept, in characters.
const MAX_DEBUG: usize = 200;
/// Unanswered PINGs remembered.
const MAX_PINGS: usize = 16;

/// Handles a whole frame (`whole`: its payload was kept entirely; a header fragment that was
/// not makes its block too big).
pub(super) fn on_frame(
    c: &mut Http2Conn,
    from_client: bool,
    at: Origin,
    h: FrameHeader,
    p: &[u8],
    whole: bool,
) {
    match h.kind {
        frame::HEADERS => {
            let Some(fragment) = unpad(c, h, p, whole) else {
                return c.lose(from_client);
            };
            let skip = if h.flags & frame::PRIORITY_FLAG != 0 {
                5
            } else {
                0
            };
            let Some(fragment) = fragment.get(skip..) else {
                c.facts_mut().anomalies.add(BAD_FRAME, 1);
                return;
            };
            let end_stream = h.flags & frame::END_STREAM != 0;
            let end_headers = h.flags & frame::END_HEADERS != 0;
            let start = Some((h.stream, None, end_stream));
            header_fragment(c, from_client, at, start, fragment, end_headers, !whole);
        }
        frame::PUSH_PROMISE => {
            let Some(fragment) = unpad(c, h, p, whole) else {
                return;
            };
            let (Some(id), Some(fragment)) = (fragment.get(..4), fragment.get(4..)) else {
                c.facts_mut().anomalies.add(BAD_FRAME, 1);
                return;
            };
            let promised = u32::from_be_bytes([id[0], id[1], id[2], id[3]]) & 0x7fff_ffff;
            let end_headers = h.flags & frame::END_HEADERS != 0;
            let start = Some((h.stream, Some(promised), false));
            header_fragment(c, from_client, at, start, fragment, end_headers, !whole);
        }
        frame::CONTINUATION => {
            let fits = c
                .block_mut(from_client)
                .as_ref()
                .is_some_and(|b| b.stream == h.stream);
            if !fits {
                c.facts_mut().anomalies.add(CONTINUATION_OUT_OF_PLACE, 1);
                // The block it belongs to (or the one it broke into) cannot be decoded.
                c.lose(from_client);
                c.hpack_mut(from_client).lose();
                return;
            }
            let end_headers = h.flags & frame::END_HEADERS != 0;
            header_fragment(c, from_client, at, None, p, end_headers, !whole);
        }
        frame::SETTINGS => settings(c, from_client, at, h, p),
        frame::RST_STREAM => reset(c, from_client, at, h, p),
        frame::PING => ping(c, from_client, at, h, p),
        frame::GOAWAY => goaway(c.facts_mut(), from_client, at, p),
        frame::WINDOW_UPDATE => {
            let Some(&[a, b, x, y]) = p.get(..4).and_then(|s| <&[u8; 4]>::try_from(s).ok()) else {
                c.facts_mut().anomalies.add(BAD_FRAME, 1);
                return;
            };
            let inc = u32::from_be_bytes([a, b, x, y]) & 0x7fff_ffff;
            let (_, _, flow) = c.parts();
            flow.on_update(from_client, h.stream, inc, at);
        }
        _ => {}
    }
}

/// The payload without its padding (`None`: the padding is longer than the frame).
fn unpad<'p>(c: &mut Http2Conn, h: FrameHeader, p: &'p [u8], whole: bool) -> Option<&'p [u8]> {
    if h.flags & frame::PADDED == 0 {
        return Some(p);
    }
    let (&pad, rest) = p.split_first()?;
    if !whole {
        // The tail (with its padding) was not kept; the block is too big anyway.
        return Some(rest);
    }
    match rest.len().checked_sub(usize::from(pad)) {
        Some(n) => rest.get(..n),
        None => {
            c.facts_mut().anomalies.add(BAD_FRAME, 1);
            None
        }
    }
}

/// A SETTINGS frame: what its sender announced, and what that changes for the other side.
fn settings(c: &mut Http2Conn, from_client: bool, at: Origin, h: FrameHeader, p: &[u8]) {
    if h.flags & frame::ACK != 0 {
        return;
    }
    if !p.len().is_multiple_of(6) {
        c.facts_mut().anomalies.add(BAD_FRAME, 1);
    }
    let side = usize::from(!from_client);
    for s in p.chunks_exact(6) {
        let (&[i0, i1], &[v0, v1, v2, v3]) = (
            <&[u8; 2]>::try_from(s.get(..2).unwrap_or_default()).unwrap_or(&[0, 0]),
            <&[u8; 4]>::try_from(s.get(2..).unwrap_or_default()).unwrap_or(&[0, 0, 0, 0]),
        );
        let value = u32::from_be_bytes([v0, v1, v2, v3]);
        let Some(set) = c.facts_mut().settings.get_mut(side) else {
            return;
        };
        set.first.get_or_insert(at);
        match u16::from_be_bytes([i0, i1]) {
            1 => {
                set.header_table_size = Some(value);
                // Bounds the table of the other side's encoder.
                c.hpack_mut(!from_client).set_limit(value);
            }
            3 => set.max_concurrent_streams = Some(value),
            4 => {
                set.initial_window_size = Some(value);
                let (_, _, flow) = c.parts();
                flow.on_initial(from_client, value);
            }
            5 => {
                set.max_frame_size = Some(value);
                c.set_max_frame(from_client, value.max(frame::DEFAULT_MAX_FRAME));
            }
            6 => set.max_header_list_size = Some(value),
            _ => {}
        }
    }
    if p.is_empty()
        && let Some(set) = c.facts_mut().settings.get_mut(side)
    {
        set.first.get_or_insert(at);
    }
}

/// Starts or continues a header block; decodes it when END_HEADERS came.
fn header_fragment(
    conn: &mut Http2Conn,
    from_client: bool,
    at: Origin,
    start: Option<(u32, Option<u32>, bool)>,
    fragment: &[u8],
    end_headers: bool,
    cut: bool,
) {
    if let Some((stream, promised, end_stream)) = start {
        *conn.block_mut(from_client) = Some(Block {
            stream,
            promised,
            at,
            end_stream,
            buf: Vec::new(),
            too_big: false,
        });
    }
    let Some(block) = conn.block_mut(from_client).as_mut() else {
        return;
    };
    if cut || block.buf.len().saturating_add(fragment.len()) > MAX_BLOCK {
        block.too_big = true;
        block.buf = Vec::new();
    } else if !block.too_big {
        block.buf.extend_from_slice(fragment);
    }
    if !end_headers {
        return;
    }
    let Some(block) = conn.block_mut(from_client).take() else {
        return;
    };
    let mut fields = Fields::default();
    let decoded = if block.too_big {
        conn.facts_mut().anomalies.add(BLOCK_TOO_BIG, 1);
        conn.hpack_mut(from_client).lose();
        false
    } else {
        // A table restarted after a loss may lack entries: failing there is expected.
        let intact = !conn.hpack_mut(from_client).restarted();
        match conn
            .hpack_mut(from_client)
            .decode(&block.buf, |n, v| fields.add(n, v))
        {
            Ok(()) => true,
            Err(super::hpack::Undecodable) => {
                if intact {
                    conn.facts_mut().anomalies.add(HPACK_ERROR, 1);
                }
                false
            }
        }
    };
    let (facts, streams, _) = conn.parts();
    if !decoded {
        facts.undecodable_header_blocks += 1;
    }
    let fields = decoded.then_some(&fields);
    let an = &mut facts.anomalies;
    match block.promised {
        Some(promised) => streams.on_push_promise(promised, fields, at, an),
        None => streams.on_headers(from_client, block.stream, block.end_stream, fields, at, an),
    }
}

/// A GOAWAY's fields.
fn goaway(facts: &mut Http2Facts, from_client: bool, at: Origin, p: &[u8]) {
    let (Some(last), Some(code)) = (p.get(..4), p.get(4..8)) else {
        facts.anomalies.add(BAD_FRAME, 1);
        return;
    };
    let last = u32::from_be_bytes([last[0], last[1], last[2], last[3]]) & 0x7fff_ffff;
    let code = ErrorCode(u32::from_be_bytes([code[0], code[1], code[2], code[3]]));
    let debug = p
        .get(8..)
        .filter(|d| !d.is_empty())
        .map(|d| clip(d, MAX_DEBUG));
    if facts.goaways.len() < MAX_GOAWAYS {
        facts.goaways.push(GoAway {
            code,
            by_client: from_client,
            last_stream_id: last,
            debug,
            at,
        });
    }
}

/// An RST_STREAM.
fn reset(conn: &mut Http2Conn, from_client: bool, at: Origin, h: FrameHeader, p: &[u8]) {
    let Some(&[a, b, c, e]) = p.get(..4).and_then(|s| <&[u8; 4]>::try_from(s).ok()) else {
        conn.facts_mut().anomalies.add(BAD_FRAME, 1);
        return;
    };
    let code = ErrorCode(u32::from_be_bytes([a, b, c, e]));
    let (facts, streams, _) = conn.parts();
    let reset = StreamReset {
        code,
        by_client: from_client,
        at,
    };
    streams.on_reset(h.stream, reset, &mut facts.anomalies);
}

/// A PING or its ACK: a round trip when the ACK answers a PING seen.
fn ping(conn: &mut Http2Conn, from_client: bool, at: Origin, h: FrameHeader, p: &[u8]) {
    let Some(data) = p.get(..8).and_then(|s| <[u8; 8]>::try_from(s).ok()) else {
        conn.facts_mut().anomalies.add(BAD_FRAME, 1);
        return;
    };
    if h.flags & frame::ACK == 0 {
        conn.facts_mut().pings.sent += 1;
        let pings = conn.pings_mut();
        if pings.len() >= MAX_PINGS {
            pings.remove(0);
        }
        pings.push((data, from_client, at.ts_ns));
        return;
    }
    let pings = conn.pings_mut();
    let Some(i) = pings
        .iter()
        .position(|&(d, c, _)| d == data && c != from_client)
    else {
        return;
    };
    let (_, _, sent) = pings.remove(i);
    let rtt = at.ts_ns.saturating_sub(sent);
    let p = &mut conn.facts_mut().pings;
    p.acked += 1;
    p.min_rtt_ns = Some(p.min_rtt_ns.map_or(rtt, |m| m.min(rtt)));
    p.max_rtt_ns = Some(p.max_rtt_ns.map_or(rtt, |m| m.max(rtt)));
}
