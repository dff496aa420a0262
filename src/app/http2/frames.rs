//! What each whole frame other than DATA means: header blocks started and continued, settings,
//! resets, GOAWAY, PING, WINDOW_UPDATE.

use super::conn::{self, BAD_FRAME, CONTINUATION_OUT_OF_PLACE, Http2Conn, header_fragment};
use super::frame::{self, FrameHeader};
use crate::tcp::Origin;

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
        frame::RST_STREAM => conn::reset(c, from_client, at, h, p),
        frame::PING => conn::ping(c, from_client, at, h, p),
        frame::GOAWAY => conn::goaway(c.facts_mut(), from_client, at, p),
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
    if p.len() % 6 != 0 {
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
